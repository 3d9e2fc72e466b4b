//! Bounded memory: what a model needs, the limit it must fit in, and fallible allocation.
//!
//! Every engine (interpreter, JIT, built binaries) adds up the bytes a run will allocate —
//! weights, intermediate tensors (the arena), scratch, inputs and outputs — into a
//! [`Requirement`] *before* allocating any of it, and checks it against a [`MemoryLimit`]
//! (by default the memory available on the machine, [`MemoryLimit::available`]). A model above
//! the limit is a [`MemoryError::OverLimit`] naming the largest tensors and their sizes.
//!
//! Every buffer whose size the user controls is then allocated through [`try_vec`] (or
//! [`try_with_capacity`]), which reports an allocator refusal as [`MemoryError::Allocation`]
//! instead of aborting the process.

use std::fmt;

/// Why a model's memory could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    /// The model needs more than the limit.
    #[error("{0}")]
    OverLimit(Box<OverLimit>),
    /// The allocator refused a buffer (within the limit, but the machine had less).
    #[error("cannot allocate {} for {what}: out of memory", format_bytes(*bytes))]
    Allocation {
        /// The buffer, e.g. "the arena of `m`".
        what: String,
        /// Its size.
        bytes: u64,
    },
}

/// A requirement above the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// What was needed.
    pub requirement: Requirement,
    /// The limit it exceeds.
    pub limit: MemoryLimit,
}

impl fmt::Display for OverLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.requirement;
        write!(
            f,
            "{} needs {} of memory, more than the limit of {} ({})",
            r.what,
            format_bytes(r.total()),
            format_bytes(self.limit.bytes),
            self.limit.source
        )?;
        let tensors: Vec<String> = r
            .largest_tensors()
            .iter()
            .map(|t| {
                format!(
                    "`{}` {} {} ({})",
                    t.name,
                    format_dims(&t.shape),
                    format_bytes(t.bytes),
                    t.role
                )
            })
            .collect();
        if !tensors.is_empty() {
            write!(f, "\n  largest tensors: {}", tensors.join(", "))?;
        }
        let parts: Vec<String> = r
            .parts
            .iter()
            .filter(|(_, bytes)| *bytes > 0)
            .map(|(name, bytes)| format!("{name} {}", format_bytes(*bytes)))
            .collect();
        if !parts.is_empty() {
            write!(f, "\n  in all: {}", parts.join(", "))?;
        }
        Ok(())
    }
}

/// Where a [`MemoryLimit`] comes from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitSource {
    /// The memory available on this machine when the limit was read.
    Available,
    /// The memory available could not be determined: no limit.
    Unknown,
    /// Given by the user (`--max-memory`, `Options::max_memory`).
    Given,
}

impl fmt::Display for LimitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitSource::Available => {
                "the memory available on this machine; --max-memory SIZE changes it"
            }
            LimitSource::Unknown => "no limit",
            LimitSource::Given => "set by --max-memory",
        })
    }
}

/// The most memory a model may use, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The limit.
    pub bytes: u64,
    /// Where it comes from.
    pub source: LimitSource,
}

impl MemoryLimit {
    /// The memory available on this machine now ([`available_memory`]), or no limit if it
    /// cannot be determined.
    pub fn available() -> MemoryLimit {
        match available_memory() {
            Some(bytes) => MemoryLimit {
                bytes,
                source: LimitSource::Available,
            },
            None => MemoryLimit::unlimited(),
        }
    }

    /// A limit the user chose.
    pub fn given(bytes: u64) -> MemoryLimit {
        MemoryLimit {
            bytes,
            source: LimitSource::Given,
        }
    }

    /// No limit (allocations stay fallible).
    pub fn unlimited() -> MemoryLimit {
        MemoryLimit {
            bytes: u64::MAX,
            source: LimitSource::Unknown,
        }
    }

    /// `Some(bytes)` → [`MemoryLimit::given`], `None` → [`MemoryLimit::available`].
    pub fn from_option(bytes: Option<u64>) -> MemoryLimit {
        bytes.map_or_else(MemoryLimit::available, MemoryLimit::given)
    }
}

/// One tensor of a [`Requirement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorNeed {
    /// The tensor's name (node, input or output name).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its size (f32 elements × 4).
    pub bytes: u64,
    /// What it is: "input", "output", "intermediate", "weight", "scratch", …
    pub role: &'static str,
}

/// How many tensors an [`OverLimit`] message names.
pub const LARGEST_TENSORS_SHOWN: usize = 4;

/// The bytes a run will allocate, by part, with the largest tensors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requirement {
    /// What needs it, for messages: "the model `m`", "running the model `m` (interpreter)".
    pub what: String,
    /// Bytes by part ("weights", "inputs", "intermediates", "scratch", "outputs"), in order.
    pub parts: Vec<(String, u64)>,
    /// Tensors, in any order ([`Requirement::largest_tensors`] sorts them).
    pub tensors: Vec<TensorNeed>,
}

impl Requirement {
    /// An empty requirement of `what` (e.g. "the model `m`").
    pub fn new(what: impl Into<String>) -> Requirement {
        Requirement {
            what: what.into(),
            ..Requirement::default()
        }
    }

    /// Adds `bytes` to the part `name` (created on first use).
    pub fn add(&mut self, name: &str, bytes: u64) {
        match self.parts.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total = total.saturating_add(bytes),
            None => self.parts.push((name.to_string(), bytes)),
        }
    }

    /// Records an f32 tensor of `shape` under `role` (not added to any part: see
    /// [`Requirement::add_tensor`]).
    pub fn note_tensor(&mut self, name: &str, shape: &[usize], role: &'static str) {
        self.tensors.push(TensorNeed {
            name: name.to_string(),
            shape: shape.to_vec(),
            bytes: f32_bytes(shape),
            role,
        });
        // Keep only the largest few, so huge graphs stay cheap to account.
        if self.tensors.len() > 8 * LARGEST_TENSORS_SHOWN {
            self.tensors.sort_by_key(|t| std::cmp::Reverse(t.bytes));
            self.tensors.truncate(LARGEST_TENSORS_SHOWN);
        }
    }

    /// Records an f32 tensor of `shape` under `role` and adds its bytes to the part `part`.
    pub fn add_tensor(&mut self, part: &str, name: &str, shape: &[usize], role: &'static str) {
        self.add(part, f32_bytes(shape));
        self.note_tensor(name, shape, role);
    }

    /// The sum of all parts (saturating).
    pub fn total(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |sum, (_, bytes)| sum.saturating_add(*bytes))
    }

    /// The [`LARGEST_TENSORS_SHOWN`] largest tensors, largest first (ties by name).
    pub fn largest_tensors(&self) -> Vec<TensorNeed> {
        let mut tensors = self.tensors.clone();
        tensors.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        tensors.truncate(LARGEST_TENSORS_SHOWN);
        tensors
    }

    /// `Ok` if the total fits the limit, else [`MemoryError::OverLimit`].
    pub fn check(&self, limit: &MemoryLimit) -> Result<(), MemoryError> {
        if self.total() <= limit.bytes {
            Ok(())
        } else {
            Err(MemoryError::OverLimit(Box::new(OverLimit {
                requirement: self.clone(),
                limit: limit.clone(),
            })))
        }
    }
}

/// Bytes of an f32 tensor of `shape` (saturating at `u64::MAX`).
pub fn f32_bytes(shape: &[usize]) -> u64 {
    shape
        .iter()
        .try_fold(4u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX)
}

/// A vector of `len` copies of `value`, or [`MemoryError::Allocation`] naming `what` if the
/// allocator refuses (never an abort).
pub fn try_vec<T: Clone>(
    len: usize,
    value: T,
    what: impl FnOnce() -> String,
) -> Result<Vec<T>, MemoryError> {
    let mut v = try_with_capacity(len, what)?;
    v.resize(len, value);
    Ok(v)
}

/// An empty vector with room for `len` elements, or [`MemoryError::Allocation`] naming `what`.
pub fn try_with_capacity<T>(
    len: usize,
    what: impl FnOnce() -> String,
) -> Result<Vec<T>, MemoryError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| MemoryError::Allocation {
            what: what(),
            bytes: (len as u64).saturating_mul(std::mem::size_of::<T>() as u64),
        })?;
    Ok(v)
}

/// A vector of the items of `iter` (of known length `len`), allocated fallibly.
pub fn try_collect<T>(
    len: usize,
    iter: impl IntoIterator<Item = T>,
    what: impl FnOnce() -> String,
) -> Result<Vec<T>, MemoryError> {
    let mut v = try_with_capacity(len, what)?;
    v.extend(iter);
    Ok(v)
}

/// The memory available to this process now, in bytes: on Linux the smaller of the kernel's
/// estimate (`MemAvailable` in `/proc/meminfo`) and what the process's cgroup still allows
/// (`memory.max − memory.current`, cgroup v2; `limit_in_bytes − usage_in_bytes`, v1). `None`
/// where this cannot be determined.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemAvailable:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .map(|kb| kb.saturating_mul(1024))
        });
    let read =
        |path: &str| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    let cgroup = match (
        read("/sys/fs/cgroup/memory.max"),
        read("/sys/fs/cgroup/memory.current"),
    ) {
        (Some(max), Some(current)) => Some(max.saturating_sub(current)),
        _ => match (
            read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
            read("/sys/fs/cgroup/memory/memory.usage_in_bytes"),
        ) {
            (Some(max), Some(usage)) => Some(max.saturating_sub(usage)),
            _ => None,
        },
    };
    match (meminfo, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `1536` → `1.5 KB`, `640000000000` → `640.0 GB` (decimal units, as `scc check` prints sizes).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn format_dims(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// Parses a memory size: a number of bytes with an optional unit — `K`/`KB`, `M`/`MB`, `G`/`GB`,
/// `T`/`TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024), case-insensitive,
/// e.g. `512M`, `1.5GB`, `8GiB`, `1000000` — or `unlimited`. Returns `None` for `unlimited`.
pub fn parse_size(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bad =
        || format!("`{text}` is not a memory size (e.g. 512M, 1.5GB, 8GiB, 1000000, or unlimited)");
    let value: f64 = number.parse().map_err(|_| bad())?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = value * scale;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(format!(
            "memory size `{text}` must be at least 1 byte and finite"
        ));
    }
    Ok(Some(bytes as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1000"), Ok(Some(1000)));
        assert_eq!(parse_size("512M"), Ok(Some(512_000_000)));
        assert_eq!(parse_size("1.5GB"), Ok(Some(1_500_000_000)));
        assert_eq!(parse_size("8GiB"), Ok(Some(8 << 30)));
        assert_eq!(parse_size(" 2 kib "), Ok(Some(2048)));
        assert_eq!(parse_size("unlimited"), Ok(None));
        for bad in ["", "G", "-1", "0", "1.5.5G", "12X", "nan", "inf", "1e400"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bytes_format_in_decimal_units() {
        assert_eq!(format_bytes(999), "999 bytes");
        assert_eq!(format_bytes(1536), "1.5 KB");
        assert_eq!(format_bytes(640_000_000_000), "640.0 GB");
        assert_eq!(format_bytes(u64::MAX), "18.4 EB");
    }

    #[test]
    fn over_limit_names_the_largest_tensors() {
        let mut r = Requirement::new("the model `m`");
        r.add_tensor("inputs", "x", &[1, 3, 100_000, 100_000], "input");
        r.add_tensor(
            "intermediates",
            "c",
            &[1, 16, 100_000, 100_000],
            "intermediate",
        );
        r.add("weights", 1792);
        let err = r.check(&MemoryLimit::given(16_000_000_000)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the model `m` needs 760.0 GB of memory, more than the limit of 16.0 GB (set by --max-memory)\n  \
             largest tensors: `c` [1, 16, 100000, 100000] 640.0 GB (intermediate), `x` [1, 3, 100000, 100000] 120.0 GB (input)\n  \
             in all: inputs 120.0 GB, intermediates 640.0 GB, weights 1.8 KB"
        );
        assert!(r.check(&MemoryLimit::given(r.total())).is_ok());
    }

    #[test]
    fn tensor_bytes_saturate() {
        assert_eq!(f32_bytes(&[2, 3]), 24);
        assert_eq!(f32_bytes(&[]), 4);
        assert_eq!(f32_bytes(&[usize::MAX, 4]), u64::MAX);
    }

    #[test]
    fn refused_allocations_are_errors() {
        let err = try_vec(usize::MAX / 4, 0f32, || "a test buffer".into()).unwrap_err();
        assert!(matches!(err, MemoryError::Allocation { .. }), "{err}");
        assert!(err.to_string().starts_with("cannot allocate"), "{err}");
        assert_eq!(try_vec(3, 1u8, || unreachable!()).unwrap(), vec![1, 1, 1]);
    }

    #[test]
    fn available_memory_is_known_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(available_memory().is_some_and(|b| b > 0));
        }
    }
}
