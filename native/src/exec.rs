//! Running a [`Model`]: a 64-byte-aligned arena per run (reused across runs), each step's
//! pointer table, each kernel split into as many contiguous ranges of work items as its work
//! warrants (`scc_kernels::pool::launch`), and
//! the outputs copied out.

use crate::desc::{Arg, Location, Model, format_shape};
use scc_kernels::pool::launch;
use scc_runtime::memory::{MemoryError, MemoryLimit, Requirement};
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ptr::NonNull;
use std::sync::Mutex;

/// Arena alignment (a cache line; enough for any vector load).
pub const ARENA_ALIGNMENT: usize = 64;
/// Arenas kept for reuse.
const MAX_CACHED_ARENAS: usize = 8;

/// Why a run did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("the model has {expected} input(s), {found} given")]
    InputCount { expected: usize, found: usize },
    #[error("the model has {expected} output(s), {found} buffers given")]
    OutputCount { expected: usize, found: usize },
    #[error("input `{name}` {shape} needs {expected} values, {found} given")]
    InputLength {
        name: String,
        shape: String,
        expected: usize,
        found: usize,
    },
    #[error("output `{name}` {shape} needs {expected} values, the buffer holds {found}")]
    OutputLength {
        name: String,
        shape: String,
        expected: usize,
        found: usize,
    },
    #[error("cannot allocate a {0}-byte arena")]
    OutOfMemory(usize),
    /// The run needs more memory than the limit.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    #[error("{found} threads is more than the {max} a model may run with")]
    Threads { found: usize, max: usize },
    #[error("{}", cpu_message(.0))]
    UnsupportedCpu(Vec<String>),
}

/// The one line a binary prints when this CPU lacks features its code needs.
pub fn cpu_message(missing: &[String]) -> String {
    format!(
        "this program needs CPU features this CPU does not have: {} (rebuild it with `scc build --target-cpu x86-64-v2`, or `native` on this machine)",
        missing.join(", ")
    )
}

/// A zeroed, 64-byte-aligned allocation.
struct Arena {
    ptr: NonNull<u8>,
    bytes: usize,
}

// SAFETY: an owned allocation.
unsafe impl Send for Arena {}

impl Arena {
    fn new(bytes: usize) -> Option<Arena> {
        let bytes = bytes.max(ARENA_ALIGNMENT).next_multiple_of(ARENA_ALIGNMENT);
        let layout = Layout::from_size_align(bytes, ARENA_ALIGNMENT).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        Some(Arena { ptr, bytes })
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe {
            dealloc(
                self.ptr.as_ptr(),
                Layout::from_size_align_unchecked(self.bytes, ARENA_ALIGNMENT),
            )
        };
    }
}

/// Arenas of finished runs, so that steady-state runs allocate (and fault in) nothing;
/// concurrent runs each take their own.
static ARENAS: Mutex<Vec<Arena>> = Mutex::new(Vec::new());

/// A cached arena of at least `bytes`, or a new one after `check` (the memory limit) passes.
fn take_arena(
    bytes: usize,
    check: impl FnOnce() -> Result<(), MemoryError>,
) -> Result<Arena, RunError> {
    let mut cache = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
    match cache.iter().position(|a| a.bytes >= bytes) {
        Some(i) => Ok(cache.swap_remove(i)),
        None => {
            drop(cache);
            check()?;
            Arena::new(bytes).ok_or(RunError::OutOfMemory(bytes))
        }
    }
}

fn return_arena(arena: Arena) {
    let mut cache = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() < MAX_CACHED_ARENAS {
        cache.push(arena);
    } else if let Some(smallest) = cache.iter_mut().min_by_key(|a| a.bytes)
        && smallest.bytes < arena.bytes
    {
        *smallest = arena;
    }
}

/// The thread count a run uses: `requested`, else the model's hint, else all cores (never
/// more than [`scc_runtime::limits::MAX_THREADS`]).
pub fn effective_threads(model: &Model, requested: usize) -> usize {
    let threads = match (requested, model.threads_hint) {
        (0, 0) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        (0, hint) => hint,
        (n, _) => n,
    };
    threads.min(scc_runtime::limits::MAX_THREADS)
}

impl Model {
    /// The memory this model needs to run from its command line: the arena (intermediate
    /// tensors), the scratch space, its inputs and its outputs (the weights are part of the
    /// executable).
    pub fn requirement(&self) -> Requirement {
        let mut r = Requirement::new(format!("the model `{}`", self.name));
        r.add(
            "intermediates (arena)",
            self.arena_bytes.next_multiple_of(ARENA_ALIGNMENT) as u64,
        );
        r.add("scratch", self.scratch_bytes as u64);
        for spec in &self.inputs {
            r.add_tensor("inputs", &spec.name, &spec.shape, "input");
        }
        for spec in &self.outputs {
            r.add_tensor("outputs", &spec.name, &spec.shape, "output");
        }
        r
    }

    /// Runs the model once: `inputs` in the model's input order, each holding exactly its
    /// elements; `outputs` likewise receive the outputs. `threads`: 0 for the model's hint or
    /// all cores.
    pub fn run(
        &self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        threads: usize,
    ) -> Result<(), RunError> {
        if inputs.len() != self.inputs.len() {
            return Err(RunError::InputCount {
                expected: self.inputs.len(),
                found: inputs.len(),
            });
        }
        if outputs.len() != self.outputs.len() {
            return Err(RunError::OutputCount {
                expected: self.outputs.len(),
                found: outputs.len(),
            });
        }
        for (spec, data) in self.inputs.iter().zip(inputs) {
            if data.len() != spec.numel() {
                return Err(RunError::InputLength {
                    name: spec.name.clone(),
                    shape: format_shape(&spec.shape),
                    expected: spec.numel(),
                    found: data.len(),
                });
            }
        }
        for (spec, data) in self.outputs.iter().zip(outputs.iter()) {
            if data.len() != spec.numel() {
                return Err(RunError::OutputLength {
                    name: spec.name.clone(),
                    shape: format_shape(&spec.shape),
                    expected: spec.numel(),
                    found: data.len(),
                });
            }
        }
        let input_ptrs: Vec<*const f32> = inputs.iter().map(|d| d.as_ptr()).collect();
        let output_ptrs: Vec<*mut f32> = outputs.iter_mut().map(|d| d.as_mut_ptr()).collect();
        // SAFETY: the lengths were checked against the shapes.
        unsafe { self.run_raw(&input_ptrs, &output_ptrs, threads) }
    }

    /// As [`Model::run`], on raw buffers.
    ///
    /// # Safety
    /// `inputs[i]` must hold `self.inputs[i].numel()` floats and `outputs[i]` room for
    /// `self.outputs[i].numel()`; the slices must have one entry per input and output.
    pub unsafe fn run_raw(
        &self,
        inputs: &[*const f32],
        outputs: &[*mut f32],
        threads: usize,
    ) -> Result<(), RunError> {
        let missing = self.missing_cpu_features();
        if !missing.is_empty() {
            return Err(RunError::UnsupportedCpu(missing));
        }
        if threads > scc_runtime::limits::MAX_THREADS {
            return Err(RunError::Threads {
                found: threads,
                max: scc_runtime::limits::MAX_THREADS,
            });
        }
        let threads = effective_threads(self, threads);
        let bytes = self.run_bytes();
        let arena = take_arena(bytes, || {
            let mut r = Requirement::new(format!("running the model `{}`", self.name));
            r.add("arena (intermediates and scratch)", bytes as u64);
            r.check(&MemoryLimit::available())
        })?;
        let base = arena.ptr.as_ptr();
        // SAFETY (pointer arithmetic below): every offset was checked against the arena or
        // scratch size when the descriptor was decoded, and the allocation holds both.
        let scratch = unsafe { base.add(self.arena_bytes.next_multiple_of(ARENA_ALIGNMENT)) };
        let mut table: Vec<*mut f32> = Vec::new();
        for step in &self.steps {
            table.clear();
            table.extend(step.args.iter().map(|arg| match *arg {
                Arg::Arena(offset) => unsafe { base.add(offset) }.cast::<f32>(),
                Arg::Input(index) => inputs[index].cast_mut(),
                Arg::Scratch(offset) => unsafe { scratch.add(offset) }.cast::<f32>(),
                Arg::Const(index) => self.consts[index].cast_mut(),
            }));
            // SAFETY: the table points into the arena, inputs and constants as the compiler
            // laid them out for this kernel.
            unsafe {
                launch(
                    self.kernels[step.kernel],
                    table.as_ptr(),
                    step.work_items,
                    step.work_ns,
                    threads,
                )
            };
        }
        for (spec, &dest) in self.outputs.iter().zip(outputs) {
            let source = match spec.location {
                Location::Arena(offset) => unsafe { base.add(offset) }.cast::<f32>().cast_const(),
                Location::Input(index) => inputs[index],
            };
            // SAFETY: both hold `numel` floats; `copy` tolerates an output buffer that is
            // also the input it copies.
            unsafe { std::ptr::copy(source, dest, spec.numel()) };
        }
        return_arena(arena);
        Ok(())
    }
}
