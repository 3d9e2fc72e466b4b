//! Fuzz targets for scc's untrusted inputs, and a mutation engine that runs on stable Rust.
//!
//! No nightly toolchain can be fetched here, so cargo-fuzz (libFuzzer with sanitizer
//! coverage) is not an option; this crate has the same shape instead: one function per
//! target taking arbitrary bytes ([`TARGETS`]), seed corpora committed under
//! `fuzz/corpus/<target>/`, and a driver (`cargo run --release -p scc-fuzz -- TARGET`) that
//! mutates corpus entries (bit and byte flips, insertions and deletions, repeated ranges,
//! splices of two entries, tokens of the target's dictionary) and runs the target on each,
//! catching panics. Every target must return normally on every input: errors are values,
//! never panics or aborts. A failing input is written to `fuzz/crashes/`.
//!
//! The same targets run in `cargo test` (`fuzz/tests/targets.rs`): every corpus entry and a
//! fixed-seed batch of mutations of each.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// A fuzz target: its name (the corpus folder), the function, and its mutation dictionary.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    pub dictionary: &'static [&'static str],
}

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "source",
        run: source,
        dictionary: SOURCE_TOKENS,
    },
    Target {
        name: "safetensors",
        run: safetensors,
        dictionary: SAFETENSORS_TOKENS,
    },
    Target {
        name: "binary_args",
        run: binary_args,
        dictionary: ARG_TOKENS,
    },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Model text: parse, lower, shape-check, run every pass (without weights) and plan memory,
/// as `scc check` does. The text is the bytes, invalid UTF-8 replaced.
pub fn source(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let options = scc::LowerOptions {
        // Small enough that no input spends the fuzzer's time building a huge graph; the
        // limit itself is what `tests/limits.rs` checks.
        max_nodes: 20_000,
        ..scc::LowerOptions::default()
    };
    let Ok(model) = scc::Model::from_source_with("fuzz.sc", &text, None, &options) else {
        return;
    };
    let _ = scc::compiler::stats::costs(model.graph());
    if let Ok(optimized) = model.optimize(None, &scc::PassOptions::default()) {
        let costs = scc::compiler::stats::costs(&optimized.graph);
        let _ = scc::compiler::stats::totals(&costs);
        let _ = scc::compiler::memory::plan_graph(&optimized.graph);
    }
}

/// A weights or inputs file: the safetensors reader (F32/F16/BF16 tensors) and the
/// checkpoint reader (any dtype, as PyTorch's state_dict files hold).
pub fn safetensors(data: &[u8]) {
    let _ = scc::runtime::parse_safetensors(data, "fuzz.safetensors");
    let _ = scc::runtime::parse_checkpoint(data, "fuzz.safetensors");
}

/// A built binary's command line: the bytes split at NUL and newline into arguments.
pub fn binary_args(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = text
        .split(['\0', '\n'])
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    let _ = scc_native::cli::parse_args(&args);
}

const SOURCE_TOKENS: &[&str] = &[
    "model ",
    "block ",
    "let ",
    "return ",
    "int",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    "=",
    ":",
    "+",
    "*",
    "-",
    "/",
    "x",
    "y",
    "conv2d(",
    "sconv2d(",
    "linear(",
    "slinear(",
    "batchnorm(",
    "relu(",
    "sigmoid(",
    "softmax(",
    "concat(",
    "upsample(",
    "maxpool(",
    "avgpool(",
    "sumpool(",
    "global_avgpool(",
    "flatten(",
    "transpose(",
    "perm=[0, 2, 3, 1]",
    "perm=[",
    "kernel=",
    "stride=",
    "pad=",
    "groups=",
    "dilation=",
    "c=",
    "n=",
    "bias=true",
    "scale=",
    "mode=\"nearest\"",
    "0",
    "1",
    "2",
    "3",
    "7",
    "64",
    "65536",
    "2147483647",
    "9223372036854775807",
    "-1",
    "1.5",
    "1e309",
    "[1, 3, 8, 8]",
    "[2, 4]",
    "(1, 2)",
    "//",
    "\n",
    "\"",
    "é",
    "\u{0}",
];

const SAFETENSORS_TOKENS: &[&str] = &[
    "{",
    "}",
    "\"dtype\"",
    "\"shape\"",
    "\"data_offsets\"",
    "\"F32\"",
    "\"F16\"",
    "\"BF16\"",
    "\"I64\"",
    "\"U8\"",
    "\"BOOL\"",
    "\"F64\"",
    "\"__metadata__\"",
    "[0, 4]",
    "[0]",
    "[]",
    "[1, 2]",
    "[4294967295, 4294967295]",
    "18446744073709551615",
    ":",
    ",",
    "\"w\"",
    "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}",
    "\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{7f}",
];

const ARG_TOKENS: &[&str] = &[
    "\0",
    "--inputs",
    "--save",
    "--bench",
    "--threads",
    "--max-memory",
    "--input-seed",
    "--help",
    "-h",
    "0",
    "1",
    "1024",
    "100000",
    "-1",
    "nan",
    "1.5GB",
    "512M",
    "unlimited",
    "18446744073709551616",
    "x.safetensors",
    "image.png",
    "=",
    "--threads=2",
    "--",
];

/// A mutation engine over a corpus, deterministic for a seed.
pub struct Mutator {
    rng: ChaCha8Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A new input: a corpus entry with 1 to 8 mutations applied.
    pub fn mutate(&mut self, corpus: &[Vec<u8>], dictionary: &[&str]) -> Vec<u8> {
        let mut data = if corpus.is_empty() {
            Vec::new()
        } else {
            corpus[self.rng.random_range(0..corpus.len())].clone()
        };
        for _ in 0..self.rng.random_range(1..=8) {
            self.mutate_once(&mut data, corpus, dictionary);
        }
        data
    }

    fn position(&mut self, len: usize) -> usize {
        self.rng.random_range(0..=len)
    }

    fn mutate_once(&mut self, data: &mut Vec<u8>, corpus: &[Vec<u8>], dictionary: &[&str]) {
        match self.rng.random_range(0..9) {
            // Flip one bit.
            0 if !data.is_empty() => {
                let i = self.rng.random_range(0..data.len());
                data[i] ^= 1 << self.rng.random_range(0..8);
            }
            // Replace a byte with an interesting or random one.
            1 if !data.is_empty() => {
                let i = self.rng.random_range(0..data.len());
                const BYTES: [u8; 8] = [0, 0x7f, 0x80, 0xff, b'0', b'9', b' ', b'\n'];
                data[i] = if self.rng.random_bool(0.5) {
                    BYTES[self.rng.random_range(0..BYTES.len())]
                } else {
                    self.rng.random()
                };
            }
            // Delete a range.
            2 if !data.is_empty() => {
                let start = self.rng.random_range(0..data.len());
                let end = (start + self.rng.random_range(1..=16)).min(data.len());
                data.drain(start..end);
            }
            // Insert a dictionary token.
            3 | 4 if !dictionary.is_empty() => {
                let token = dictionary[self.rng.random_range(0..dictionary.len())];
                let at = self.position(data.len());
                data.splice(at..at, token.bytes());
            }
            // Repeat a range (deep nesting, long names, many statements).
            5 if !data.is_empty() => {
                let start = self.rng.random_range(0..data.len());
                let end = (start + self.rng.random_range(1..=32)).min(data.len());
                let piece = data[start..end].to_vec();
                let times = self.rng.random_range(1..=64);
                let at = self.position(data.len());
                data.splice(
                    at..at,
                    piece.iter().copied().cycle().take(piece.len() * times),
                );
            }
            // Splice in a range of another corpus entry.
            6 if !corpus.is_empty() => {
                let other = &corpus[self.rng.random_range(0..corpus.len())];
                if !other.is_empty() {
                    let start = self.rng.random_range(0..other.len());
                    let end = (start + self.rng.random_range(1..=64)).min(other.len());
                    let at = self.position(data.len());
                    data.splice(at..at, other[start..end].iter().copied());
                }
            }
            // Overwrite a little-endian integer (safetensors' header length, offsets).
            7 if data.len() >= 8 => {
                let i = self.rng.random_range(0..=data.len() - 8);
                let value: u64 = match self.rng.random_range(0..4) {
                    0 => 0,
                    1 => u64::MAX,
                    2 => self.rng.random_range(0..4096),
                    _ => self.rng.random(),
                };
                data[i..i + 8].copy_from_slice(&value.to_le_bytes());
            }
            // Truncate.
            _ => {
                let keep = self.position(data.len());
                data.truncate(keep);
            }
        }
    }
}

/// Runs `target` on `data`, returning the panic message if it panicked.
pub fn run_catching(target: &Target, data: &[u8]) -> Result<(), String> {
    std::panic::catch_unwind(|| (target.run)(data)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string())
    })
}

/// The corpus of `target`: every file of `fuzz/corpus/<name>/`, by file name.
pub fn load_corpus(target: &Target) -> BTreeMap<String, Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target.name);
    let mut corpus = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                corpus.insert(entry.file_name().to_string_lossy().into_owned(), bytes);
            }
        }
    }
    corpus
}
