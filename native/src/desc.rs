//! The program descriptor that `scc build` emits into object files, decoded and checked.
//!
//! Layout (little-endian `u64` words; see the crate README):
//!
//! ```text
//! [version = 2, num_inputs, num_outputs, arena_bytes, scratch_bytes, num_steps,
//!  num_kernels, num_consts, threads_hint, cpu_features,
//!  inputs:  num_inputs  × [rank, d0, d1, d2, d3],
//!  outputs: num_outputs × [rank, d0, d1, d2, d3, location_kind, location_value],
//!  steps:   num_steps   × [kernel_index, work_items, work_ns, num_args, (kind, value) × num_args]]
//! ```
//!
//! Output locations: kind 0 = arena byte offset, 1 = model input index. Argument kinds:
//! 0 = arena byte offset, 1 = model input index, 2 = scratch byte offset (the scratch region
//! starts at `arena_bytes` rounded up to 64), 3 = constant index. `cpu_features`: the
//! instruction-set features the code needs, bit `i` for `scc_kernels::cpu::KNOWN_FEATURES[i]`.
//! `work_ns`: the step's estimated single-core time, which decides how many tasks it is
//! split into (`scc_kernels::pool::tasks`).

use std::ffi::{CStr, c_char};

/// A kernel's entry point: runs work items `start..end` over the buffers `args`.
pub use scc_kernels::pool::KernelFn;

/// The descriptor version this crate reads.
pub const DESC_VERSION: u64 = 2;
/// Words before the first input record.
pub const HEADER_WORDS: usize = 10;
/// Largest tensor rank a descriptor can express.
pub const MAX_RANK: usize = 4;

// Sanity bounds: a descriptor beyond them is garbage (e.g. a wrong pointer), and reading on
// would run far past its end.
const MAX_TENSORS: u64 = 1 << 16;
const MAX_STEPS: u64 = 1 << 24;
const MAX_ARGS: u64 = 1 << 16;
const MAX_KERNELS: u64 = 1 << 24;
const MAX_NAME_BYTES: usize = 1 << 16;

/// Why a descriptor (or the pointers handed with it) cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescError {
    #[error("null pointer for `{0}`")]
    Null(&'static str),
    #[error(
        "descriptor version {found} is not supported (this runtime reads version {DESC_VERSION})"
    )]
    Version { found: u64 },
    #[error("malformed program descriptor: {0}")]
    Malformed(String),
}

/// A model input: its name and shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
}

impl TensorSpec {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Where an output's value is after the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// At this arena byte offset.
    Arena(usize),
    /// It is this model input.
    Input(usize),
}

/// A model output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub location: Location,
}

impl OutputSpec {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A kernel argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// Arena base + this byte offset.
    Arena(usize),
    /// The caller's buffer of this model input.
    Input(usize),
    /// Scratch base + this byte offset.
    Scratch(usize),
    /// This constant.
    Const(usize),
}

/// One kernel launch over `0..work_items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSpec {
    pub kernel: usize,
    pub work_items: u64,
    /// Estimated single-core work in nanoseconds (how many tasks the step is split into).
    pub work_ns: u64,
    pub args: Vec<Arg>,
}

/// A compiled model: the decoded descriptor plus its kernels and constants. Immutable; may
/// be run from many threads at once.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    /// Bytes of node values (the scratch region starts at this rounded up to 64).
    pub arena_bytes: usize,
    pub scratch_bytes: usize,
    /// Default thread count baked in at build time (0: all cores).
    pub threads_hint: usize,
    /// The CPU features the code needs (bits of `scc_kernels::cpu::KNOWN_FEATURES`).
    pub cpu_features: u64,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<OutputSpec>,
    pub steps: Vec<StepSpec>,
    pub(crate) kernels: Vec<KernelFn>,
    pub(crate) consts: Vec<*const f32>,
}

// SAFETY: kernels are plain functions and constants are read-only data that lives as long as
// the program (static data of the executable, or owned by the caller for as long as the model).
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

/// Reads words of a descriptor of unknown length, one at a time.
struct Words {
    ptr: *const u64,
    at: usize,
}

impl Words {
    /// # Safety
    /// The caller guarantees the descriptor is valid up to the word read.
    unsafe fn next(&mut self) -> u64 {
        // SAFETY: by the caller; `read_unaligned` because the data symbol's alignment is the
        // object writer's choice.
        let word = unsafe { self.ptr.add(self.at).read_unaligned() };
        self.at += 1;
        u64::from_le(word)
    }
}

fn malformed(message: impl Into<String>) -> DescError {
    DescError::Malformed(message.into())
}

fn to_usize(value: u64, what: &str) -> Result<usize, DescError> {
    usize::try_from(value).map_err(|_| malformed(format!("{what} {value} does not fit in memory")))
}

impl Model {
    /// Decodes and checks a descriptor and the tables that come with it.
    ///
    /// # Safety
    /// `desc` must point to a descriptor as laid out in the module docs, `kernels` to
    /// `num_kernels` function pointers of the kernel ABI, `consts` to `num_consts` pointers to
    /// f32 data that outlive the model, and `names` to `1 + num_inputs + num_outputs`
    /// NUL-terminated strings. `kernels` and `consts` may be null when their count is 0. The
    /// descriptor's header is read before anything else, so a wrong version is reported
    /// without reading further.
    pub unsafe fn from_raw(
        desc: *const u64,
        kernels: *const Option<KernelFn>,
        consts: *const *const f32,
        names: *const c_char,
    ) -> Result<Model, DescError> {
        if desc.is_null() {
            return Err(DescError::Null("desc"));
        }
        if names.is_null() {
            return Err(DescError::Null("names"));
        }
        let mut words = Words { ptr: desc, at: 0 };
        // SAFETY (all `next` calls): the caller guarantees a well-formed descriptor; the
        // counts are bounded before they steer further reads.
        let version = unsafe { words.next() };
        if version != DESC_VERSION {
            return Err(DescError::Version { found: version });
        }
        let mut header = [0u64; HEADER_WORDS - 1];
        for word in &mut header {
            *word = unsafe { words.next() };
        }
        let [
            num_inputs,
            num_outputs,
            arena_bytes,
            scratch_bytes,
            num_steps,
            num_kernels,
            num_consts,
            threads_hint,
            cpu_features,
        ] = header;
        for (count, what, max) in [
            (num_inputs, "inputs", MAX_TENSORS),
            (num_outputs, "outputs", MAX_TENSORS),
            (num_steps, "steps", MAX_STEPS),
            (num_kernels, "kernels", MAX_KERNELS),
            (num_consts, "constants", MAX_KERNELS),
        ] {
            if count > max {
                return Err(malformed(format!("{count} {what} (at most {max})")));
            }
        }
        let arena_bytes = to_usize(arena_bytes, "arena size")?;
        let scratch_bytes = to_usize(scratch_bytes, "scratch size")?;
        arena_bytes
            .next_multiple_of(64)
            .checked_add(scratch_bytes)
            .and_then(|n| n.checked_add(64))
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or_else(|| malformed("arena plus scratch size overflows"))?;
        let threads_hint = to_usize(threads_hint.min(1 << 16), "thread hint")?;
        let (num_inputs, num_outputs) = (num_inputs as usize, num_outputs as usize);

        /// # Safety
        /// As [`Model::from_raw`]: the record is within the descriptor.
        unsafe fn read_shape(words: &mut Words, what: &str) -> Result<Vec<usize>, DescError> {
            let rank = unsafe { words.next() };
            let mut dims = [0u64; MAX_RANK];
            for dim in &mut dims {
                *dim = unsafe { words.next() };
            }
            if rank as usize > MAX_RANK {
                return Err(malformed(format!(
                    "{what} has rank {rank} (at most {MAX_RANK})"
                )));
            }
            let shape: Vec<usize> = dims[..rank as usize]
                .iter()
                .map(|&d| to_usize(d, "dimension"))
                .collect::<Result<_, _>>()?;
            shape
                .iter()
                .try_fold(4usize, |n, &d| n.checked_mul(d))
                .filter(|&n| n <= isize::MAX as usize)
                .ok_or_else(|| malformed(format!("{what} has too many elements")))?;
            Ok(shape)
        }
        let mut input_shapes = Vec::with_capacity(num_inputs);
        for i in 0..num_inputs {
            input_shapes.push(unsafe { read_shape(&mut words, &format!("input {i}")) }?);
        }
        let mut output_records = Vec::with_capacity(num_outputs);
        for o in 0..num_outputs {
            let what = format!("output {o}");
            let shape = unsafe { read_shape(&mut words, &what) }?;
            let (kind, value) = unsafe { (words.next(), words.next()) };
            let numel: usize = shape.iter().product();
            let location = match kind {
                0 => {
                    let offset = to_usize(value, "offset")?;
                    if offset % 4 != 0
                        || offset
                            .checked_add(numel * 4)
                            .is_none_or(|end| end > arena_bytes)
                    {
                        return Err(malformed(format!(
                            "{what} at arena offset {offset} ({} bytes) is outside the {arena_bytes}-byte arena",
                            numel * 4
                        )));
                    }
                    Location::Arena(offset)
                }
                1 => {
                    let index = value as usize;
                    if value >= num_inputs as u64 {
                        return Err(malformed(format!(
                            "{what} is input {value} of {num_inputs}"
                        )));
                    }
                    if input_shapes[index].iter().product::<usize>() != numel {
                        return Err(malformed(format!(
                            "{what} and input {index} differ in size"
                        )));
                    }
                    Location::Input(index)
                }
                _ => return Err(malformed(format!("{what} has location kind {kind}"))),
            };
            output_records.push((shape, location));
        }
        let mut steps = Vec::with_capacity(num_steps.min(1 << 16) as usize);
        for s in 0..num_steps {
            let (kernel, work_items, work_ns, num_args) =
                unsafe { (words.next(), words.next(), words.next(), words.next()) };
            if kernel >= num_kernels {
                return Err(malformed(format!(
                    "step {s} runs kernel {kernel} of {num_kernels}"
                )));
            }
            if num_args > MAX_ARGS {
                return Err(malformed(format!("step {s} has {num_args} arguments")));
            }
            let mut args = Vec::with_capacity(num_args as usize);
            for a in 0..num_args {
                let (kind, value) = unsafe { (words.next(), words.next()) };
                let bad = |what: String| malformed(format!("step {s} argument {a}: {what}"));
                let arg = match kind {
                    0 if value <= arena_bytes as u64 && value % 4 == 0 => {
                        Arg::Arena(value as usize)
                    }
                    1 if value < num_inputs as u64 => Arg::Input(value as usize),
                    2 if value <= scratch_bytes as u64 && value % 4 == 0 => {
                        Arg::Scratch(value as usize)
                    }
                    3 if value < num_consts => Arg::Const(value as usize),
                    0..=3 => return Err(bad(format!("kind {kind} value {value} is out of range"))),
                    _ => return Err(bad(format!("unknown kind {kind}"))),
                };
                args.push(arg);
            }
            steps.push(StepSpec {
                kernel: kernel as usize,
                work_items,
                work_ns,
                args,
            });
        }

        let mut kernel_fns = Vec::with_capacity(num_kernels as usize);
        if num_kernels > 0 && kernels.is_null() {
            return Err(DescError::Null("kernels"));
        }
        for k in 0..num_kernels as usize {
            // SAFETY: the caller guarantees `num_kernels` entries.
            match unsafe { kernels.add(k).read() } {
                Some(f) => kernel_fns.push(f),
                None => return Err(malformed(format!("kernel {k} is a null pointer"))),
            }
        }
        let mut const_ptrs = Vec::with_capacity(num_consts as usize);
        if num_consts > 0 && consts.is_null() {
            return Err(DescError::Null("consts"));
        }
        for c in 0..num_consts as usize {
            // SAFETY: the caller guarantees `num_consts` entries.
            let ptr = unsafe { consts.add(c).read() };
            if ptr.is_null() {
                return Err(malformed(format!("constant {c} is a null pointer")));
            }
            const_ptrs.push(ptr);
        }

        let mut cursor = names;
        let mut next_name = || -> Result<String, DescError> {
            // SAFETY: the caller guarantees NUL-terminated strings back to back.
            let name = unsafe { CStr::from_ptr(cursor) };
            let bytes = name.to_bytes();
            if bytes.len() > MAX_NAME_BYTES {
                return Err(malformed("a name is too long"));
            }
            cursor = unsafe { cursor.add(bytes.len() + 1) };
            Ok(String::from_utf8_lossy(bytes).into_owned())
        };
        let name = next_name()?;
        let mut inputs = Vec::with_capacity(num_inputs);
        for shape in input_shapes {
            inputs.push(TensorSpec {
                name: next_name()?,
                shape,
            });
        }
        let mut outputs = Vec::with_capacity(num_outputs);
        for (shape, location) in output_records {
            outputs.push(OutputSpec {
                name: next_name()?,
                shape,
                location,
            });
        }
        Ok(Model {
            name,
            arena_bytes,
            scratch_bytes,
            threads_hint,
            cpu_features,
            inputs,
            outputs,
            steps,
            kernels: kernel_fns,
            consts: const_ptrs,
        })
    }

    /// The CPU features the code needs that this CPU lacks (empty: it can run here).
    pub fn missing_cpu_features(&self) -> Vec<String> {
        scc_kernels::cpu::missing_in_mask(self.cpu_features)
    }

    /// Bytes each run needs: the arena rounded up to 64, the scratch region and 64 bytes of
    /// slack (kernels may read a vector past the end of a buffer).
    pub fn run_bytes(&self) -> usize {
        self.arena_bytes.next_multiple_of(64) + self.scratch_bytes + 64
    }
}

/// `[1, 3, 224, 224]`.
pub fn format_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}
