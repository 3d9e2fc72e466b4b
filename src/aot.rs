//! `scc build`: native executables, object files and static libraries of a model.
//!
//! The kernels come from the same code generator as the JIT (so a binary computes the same
//! numbers as the JIT), emitted by cranelift-object with the program and the re-packed
//! weights as read-only data, and linked by the system C compiler with `scc-native`, the
//! runtime binaries need (its static library is embedded in the `scc` executable, so
//! `scc build` works wherever `scc` was installed). A binary depends on nothing but the C
//! library.

use crate::{Error, Model, PassOptions, Target, TargetCpu, Tier, Weights};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The static library of `scc-native`, built by the package's build script.
const NATIVE_LIB: &[u8] = include_bytes!(env!("SCC_NATIVE_LIB"));

/// Libraries a Rust static library needs from the system when linked by `cc`.
const SYSTEM_LIBS: &[&str] = &[
    "-static-libgcc",
    "-lpthread",
    "-ldl",
    "-lm",
    "-lrt",
    "-lutil",
    "-lc",
];

/// What `scc build` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Emit {
    /// A standalone executable `NAME`.
    #[default]
    Executable,
    /// `NAME.o` (kernels, program, weights) plus `NAME.h` and `libscc_native.a`.
    Object,
    /// `libNAME.a` (the object and the runtime in one archive) plus `NAME.h`.
    StaticLib,
}

/// Options of [`build`].
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The output path: the executable, or the stem of `NAME.o`/`libNAME.a` and `NAME.h`.
    pub output: PathBuf,
    pub emit: Emit,
    pub passes: PassOptions,
    /// The most memory the built model may need to run (arena, scratch, inputs, outputs and
    /// its weights), in bytes; `None`: the memory available on this machine. A model above it
    /// is not built ([`crate::Error::Memory`]); the binary checks again, against its own
    /// machine, when it runs.
    pub max_memory: Option<u64>,
    /// The prefix of every C symbol (`P_run`, `P_desc`, the kernels) and header macro
    /// (`P_NUM_INPUTS` uppercased): a C identifier. `None`: the output's file name made an
    /// identifier (`-o build/resnet20s` gives `resnet20s`), so two builds of one model with
    /// different outputs link into one program without clashing.
    pub symbol_prefix: Option<String>,
    /// The CPU the code is for: its features are recorded in the output, and an executable
    /// refuses to start on a CPU without them.
    pub target_cpu: TargetCpu,
    /// The vector tier (`None`: the best `target_cpu` has).
    pub tier: Option<Tier>,
}

impl Default for BuildOptions {
    /// An executable named by `output` (empty: set it), all passes, for this CPU at its best tier.
    fn default() -> Self {
        BuildOptions {
            output: PathBuf::new(),
            emit: Emit::Executable,
            passes: PassOptions::default(),
            max_memory: None,
            symbol_prefix: None,
            target_cpu: TargetCpu::Native,
            tier: None,
        }
    }
}

/// What [`build`] produced.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// Every file written.
    pub files: Vec<PathBuf>,
    /// Size of the main artefact (executable, object or archive).
    pub bytes: u64,
    /// Bytes of re-packed weights in it.
    pub weight_bytes: usize,
    /// Bytes of generated machine code in it.
    pub code_bytes: usize,
    pub time: Duration,
    /// The target CPU and tier the code is for.
    pub target: Target,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "no C compiler found (tried `{tried}`): scc links native binaries with the system C compiler; install one (e.g. `apt-get install gcc` or `clang`) or set CC to its path"
    )]
    NoCompiler { tried: String },
    #[error("linking failed (`{command}`):\n{stderr}")]
    Link { command: String, stderr: String },
    #[error("cannot write `{path}`: {error}")]
    Write { path: String, error: std::io::Error },
    #[error("the output name `{0}` has no file name")]
    BadOutput(String),
    #[error("the output `{0}` is a folder: give the path of a file to write, e.g. `-o {0}/NAME`")]
    OutputIsFolder(String),
    #[error(
        "the symbol prefix `{0}` is not a C identifier (letters, digits and `_`, not starting with a digit)"
    )]
    BadPrefix(String),
    #[error("`CC` is `{0}`, which is not a command line (unbalanced quotes?)")]
    BadCompilerVariable(String),
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    std::fs::write(path, bytes).map_err(|error| BuildError::Write {
        path: path.display().to_string(),
        error,
    })
}

/// The C compiler to link with and its own arguments: `$CC` split as a shell splits words
/// (`CC="cc -O2"` is `cc` with `-O2`), else `cc`; checked to run.
fn c_compiler() -> Result<Vec<String>, BuildError> {
    let variable = std::env::var("CC").unwrap_or_default();
    let words = if variable.trim().is_empty() {
        vec!["cc".to_string()]
    } else {
        shlex::split(&variable)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| BuildError::BadCompilerVariable(variable.clone()))?
    };
    match Command::new(&words[0])
        .args(&words[1..])
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => Ok(words),
        _ => Err(BuildError::NoCompiler {
            tried: words.join(" "),
        }),
    }
}

/// A C identifier made of `name`: every other character becomes `_`, and a leading digit
/// (or an empty name) gets a `_` in front.
pub fn c_identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert(0, '_');
    }
    id
}

fn is_c_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The C header of a model with symbol prefix `prefix`: sizes, shapes and names as macros,
/// `P_run`, `P_run_threads` and `P_last_error`.
pub fn header(model: &Model, prefix: &str) -> String {
    let name = model.name();
    let upper = prefix.to_uppercase();
    let mut h = format!(
        "/* Generated by scc for model `{name}`. Link with the object or archive scc built. */\n\
         #ifndef {upper}_SCC_H\n#define {upper}_SCC_H\n\n#ifdef __cplusplus\nextern \"C\" {{\n#endif\n\n"
    );
    let inputs = model.inputs();
    let outputs = model.outputs();
    h.push_str(&format!(
        "#define {upper}_NUM_INPUTS {}\n#define {upper}_NUM_OUTPUTS {}\n\n",
        inputs.len(),
        outputs.len()
    ));
    for (kind, tensors) in [("INPUT", &inputs), ("OUTPUT", &outputs)] {
        for (i, (tensor, shape)) in tensors.iter().enumerate() {
            let size: usize = shape.iter().product();
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            h.push_str(&format!(
                "#define {upper}_{kind}{i}_SIZE {size}\n#define {upper}_{kind}{i}_NAME \"{tensor}\"\n#define {upper}_{kind}{i}_RANK {}\n#define {upper}_{kind}{i}_SHAPE {{{}}}\n",
                shape.len(),
                dims.join(", ")
            ));
        }
        h.push('\n');
    }
    h.push_str(&format!(
        "/* Runs the model once. inputs[i] points to {upper}_INPUT<i>_SIZE floats (NCHW, f32);\n   outputs[i] to room for {upper}_OUTPUT<i>_SIZE floats. Returns 0 on success, 1 for bad\n   arguments, 2 when the memory a run needs is not available, 3 for an internal error;\n   {prefix}_last_error() then says why. Uses all cores; may be called from several threads\n   at once. */\nint {prefix}_run(const float *const *inputs, float *const *outputs);\n\n/* {prefix}_run on `threads` worker threads (0: all cores; at most 1024, more is an error). */\nint {prefix}_run_threads(const float *const *inputs, float *const *outputs, unsigned threads);\n\n/* Why the last {prefix}_run or {prefix}_run_threads that failed on this thread failed\n   (\"\" after a success); owned by the runtime, valid until the next run on this thread. */\nconst char *{prefix}_last_error(void);\n\n#ifdef __cplusplus\n}}\n#endif\n\n#endif\n"
    ));
    h
}

/// Compiles `model` with `weights` ahead of time.
pub fn build(
    model: &Model,
    weights: &Weights,
    options: &BuildOptions,
) -> Result<BuildReport, Error> {
    let started = Instant::now();
    let output = &options.output;
    if output.is_dir() {
        return Err(BuildError::OutputIsFolder(output.display().to_string()).into());
    }
    let stem = output
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| BuildError::BadOutput(output.display().to_string()))?
        .to_string();
    let prefix = match &options.symbol_prefix {
        Some(prefix) if is_c_identifier(prefix) => prefix.clone(),
        Some(prefix) => return Err(BuildError::BadPrefix(prefix.clone()).into()),
        None => c_identifier(&stem),
    };
    let target = Target::new(options.target_cpu, options.tier)?;
    let mut passes = crate::codegen_passes(&options.passes);
    passes.tier = target.tier;
    if passes.max_memory.is_none() {
        passes.max_memory = options.max_memory;
    }
    let limit = crate::MemoryLimit::from_option(options.max_memory);
    let optimized = model.optimize(Some(weights), &passes)?;
    let plan = scc_compiler::memory::plan_graph(&optimized.graph);
    // The weights are re-packed while the kernels are generated: check them, and the arena,
    // before; the scratch space is known after.
    let mut need = scc_compiler::codegen::jit::requirement(&optimized.graph, &plan, 0);
    need.what = format!("the model `{}` (built)", model.name());
    need.check(&limit)?;
    let with_main = options.emit == Emit::Executable;
    let object = scc_compiler::codegen::aot::emit_object(
        &optimized.graph,
        weights,
        &target,
        &prefix,
        with_main,
    )?;
    let mut need = scc_compiler::codegen::jit::requirement(
        &optimized.graph,
        &plan,
        object.program.scratch_bytes,
    );
    need.what = format!("the model `{}` (built)", model.name());
    need.check(&limit)?;
    let dir = output.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let mut files = Vec::new();
    let main_file = match options.emit {
        Emit::Executable => {
            let compiler = c_compiler()?;
            let temp = tempfile::tempdir().map_err(|error| BuildError::Write {
                path: "a temporary folder".into(),
                error,
            })?;
            let object_path = temp.path().join(format!("{stem}.o"));
            let library = temp.path().join("libscc_native.a");
            write(&object_path, &object.bytes)?;
            write(&library, NATIVE_LIB)?;
            let mut command = Command::new(&compiler[0]);
            command
                .args(&compiler[1..])
                .arg("-o")
                .arg(output)
                .arg(&object_path)
                .arg(&library)
                .args(SYSTEM_LIBS)
                // Drops the runtime's unreferenced sections: the other tiers' kernels.
                .arg("-Wl,--gc-sections");
            let rendered = format!("{command:?}");
            let out = command.output().map_err(|_| BuildError::NoCompiler {
                tried: compiler.join(" "),
            })?;
            if !out.status.success() {
                return Err(BuildError::Link {
                    command: rendered,
                    stderr: String::from_utf8_lossy(&out.stderr).into(),
                }
                .into());
            }
            output.clone()
        }
        Emit::Object => {
            let object_path = dir.join(format!("{stem}.o"));
            write(&object_path, &object.bytes)?;
            let library = dir.join("libscc_native.a");
            write(&library, NATIVE_LIB)?;
            files.push(library);
            object_path
        }
        Emit::StaticLib => {
            // The runtime's archive with the model's object appended: one file to link.
            let archive = dir.join(format!("lib{stem}.a"));
            let temp = tempfile::tempdir().map_err(|error| BuildError::Write {
                path: "a temporary folder".into(),
                error,
            })?;
            let object_path = temp.path().join(format!("{stem}_model.o"));
            write(&object_path, &object.bytes)?;
            write(&archive, NATIVE_LIB)?;
            let out = Command::new("ar")
                .arg("rs")
                .arg(&archive)
                .arg(&object_path)
                .output();
            match out {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return Err(BuildError::Link {
                        command: format!("ar rs {} {}", archive.display(), object_path.display()),
                        stderr: String::from_utf8_lossy(&out.stderr).into(),
                    }
                    .into());
                }
                Err(_) => return Err(BuildError::NoCompiler { tried: "ar".into() }.into()),
            }
            archive
        }
    };
    if options.emit != Emit::Executable {
        let header_path = dir.join(format!("{stem}.h"));
        write(&header_path, header(model, &prefix).as_bytes())?;
        files.push(header_path);
    }
    let bytes = std::fs::metadata(&main_file).map(|m| m.len()).unwrap_or(0);
    files.insert(0, main_file);
    Ok(BuildReport {
        files,
        bytes,
        weight_bytes: object.weight_bytes,
        code_bytes: object.code_bytes,
        time: started.elapsed(),
        target,
    })
}
