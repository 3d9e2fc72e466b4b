//! `scc-native`: the runtime that `scc build` links into standalone executables.
//!
//! An object file written by `scc build` holds a model's kernels and a descriptor of its
//! program (buffers, steps, constants, names; see [`desc`]); this crate, built as a static
//! library, runs it ([`scc_native_run`]) and provides the executable's whole command line
//! ([`scc_native_main`]). Rust callers use [`Model`] and [`cli::run_cli`] directly.
//!
//! Nothing here panics across the C boundary: both entry points catch unwinding and report
//! a status instead.

pub mod cli;
pub mod desc;
pub mod exec;
pub mod preprocess;

pub use desc::{DescError, KernelFn, Model};
pub use exec::RunError;

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    /// The message of the last failed [`scc_native_run`] on this thread (empty if none).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error.
fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

/// The message of the last [`scc_native_run`] that failed on the calling thread, as a
/// NUL-terminated string owned by the runtime (valid until the next run on this thread);
/// empty if none failed. A successful run clears it.
#[unsafe(no_mangle)]
pub extern "C" fn scc_native_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// `scc_native_run`: success.
pub const RUN_OK: c_int = 0;
/// `scc_native_run`: a null pointer, a descriptor of another version, or a malformed one.
pub const RUN_BAD_ARGUMENTS: c_int = 1;
/// `scc_native_run`: the arena could not be allocated.
pub const RUN_OUT_OF_MEMORY: c_int = 2;
/// `scc_native_run`: a panic inside the runtime (a bug).
pub const RUN_INTERNAL_ERROR: c_int = 3;
/// `scc_native_run`: this CPU lacks instruction-set features the code needs.
pub const RUN_UNSUPPORTED_CPU: c_int = 4;
/// `scc_native_main`: exit status of an internal error (a bad descriptor, a bug).
pub const EXIT_INTERNAL_ERROR: c_int = 2;

/// Runs the program once.
///
/// `inputs[i]` holds the elements of input `i` (row-major, f32), `outputs[i]` receives those
/// of output `i`. `threads`: 0 for the descriptor's hint or else all cores, at most
/// [`scc_runtime::limits::MAX_THREADS`]. Returns [`RUN_OK`], or [`RUN_BAD_ARGUMENTS`] /
/// [`RUN_OUT_OF_MEMORY`] / [`RUN_INTERNAL_ERROR`] / [`RUN_UNSUPPORTED_CPU`] without running,
/// with the reason in [`scc_native_last_error`]. May be called from several threads at once.
///
/// # Safety
/// The pointers must be as described in the crate README: `desc`, `kernels`, `consts`,
/// `names` as emitted by `scc build` (or laid out the same way), `inputs` and `outputs` one
/// valid buffer per model input and output of the descriptor's sizes (`inputs` may be null
/// for a model without inputs).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scc_native_run(
    desc: *const u64,
    kernels: *const Option<KernelFn>,
    consts: *const *const f32,
    names: *const c_char,
    inputs: *const *const f32,
    outputs: *const *mut f32,
    threads: u64,
) -> c_int {
    let run = || -> Result<(), (c_int, String)> {
        let bad = |message: String| (RUN_BAD_ARGUMENTS, message);
        // SAFETY: by the caller.
        let model = unsafe { Model::from_raw(desc, kernels, consts, names) }
            .map_err(|e| bad(e.to_string()))?;
        // SAFETY (pointer tables): by the caller, one entry per input and output.
        let table = |ptr: *const *const f32, count: usize| -> Option<Vec<*const f32>> {
            if count == 0 {
                return Some(Vec::new());
            }
            if ptr.is_null() {
                return None;
            }
            let list: Vec<*const f32> = (0..count).map(|i| unsafe { ptr.add(i).read() }).collect();
            (!list.iter().any(|p| p.is_null())).then_some(list)
        };
        let input_ptrs = table(inputs, model.inputs.len())
            .ok_or_else(|| bad("a null input pointer".to_string()))?;
        let output_ptrs = table(outputs.cast(), model.outputs.len())
            .ok_or_else(|| bad("a null output pointer".to_string()))?;
        let output_ptrs: Vec<*mut f32> = output_ptrs
            .into_iter()
            .map(<*const f32>::cast_mut)
            .collect();
        let threads = usize::try_from(threads).unwrap_or(usize::MAX);
        // SAFETY: by the caller, the buffers have the descriptor's sizes.
        unsafe { model.run_raw(&input_ptrs, &output_ptrs, threads) }.map_err(|e| {
            let code = match e {
                RunError::OutOfMemory(_) | RunError::Memory(_) => RUN_OUT_OF_MEMORY,
                RunError::UnsupportedCpu(_) => RUN_UNSUPPORTED_CPU,
                _ => RUN_BAD_ARGUMENTS,
            };
            (code, e.to_string())
        })
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(())) => {
            set_last_error("");
            RUN_OK
        }
        Ok(Err((code, message))) => {
            set_last_error(&message);
            code
        }
        Err(_) => {
            set_last_error("internal error in the scc runtime");
            RUN_INTERNAL_ERROR
        }
    }
}

/// The whole command line of a standalone executable (`main` calls this with its `argc`,
/// `argv`); returns the process exit status: 0, 1 for a usage or input error (one
/// `error: ...` line on stderr), [`EXIT_INTERNAL_ERROR`] for a bad descriptor or a bug.
///
/// # Safety
/// `desc`, `kernels`, `consts` and `names` as for [`scc_native_run`]; `argv` holds `argc`
/// NUL-terminated strings (or is null when `argc` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scc_native_main(
    desc: *const u64,
    kernels: *const Option<KernelFn>,
    consts: *const *const f32,
    names: *const c_char,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error: {message}{location}");
    }));
    let main = || -> c_int {
        let mut args = Vec::new();
        if !argv.is_null() {
            for i in 0..usize::try_from(argc).unwrap_or(0) {
                // SAFETY: by the caller, `argc` valid entries.
                let arg = unsafe { argv.add(i).read() };
                if arg.is_null() {
                    break;
                }
                args.push(
                    unsafe { CStr::from_ptr(arg) }
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
        // SAFETY: by the caller.
        let model = match unsafe { Model::from_raw(desc, kernels, consts, names) } {
            Ok(model) => model,
            Err(e) => {
                eprintln!("error: this executable is damaged: {e}");
                return EXIT_INTERNAL_ERROR;
            }
        };
        // Before anything runs: the kernels may use instructions this CPU does not have.
        let missing = model.missing_cpu_features();
        if !missing.is_empty() {
            eprintln!("error: {}", exec::cpu_message(&missing));
            return 1;
        }
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        cli::run_cli(&model, &args, &mut stdout.lock(), &mut stderr.lock())
    };
    catch_unwind(AssertUnwindSafe(main)).unwrap_or(EXIT_INTERNAL_ERROR)
}
