//! The machine's FMA peak per tier, the yardstick the kernel benchmarks report against: for
//! the 128-bit tier a JIT-compiled Cranelift loop of f32x4 FMAs, for the wide tiers the
//! `scc-kernels` FMA loop of the tier (the same instructions as its conv tiles).

use super::emit::KernelBuilder;
use super::{CodegenError, Emitter};
use crate::target::{Target, Tier};
use cranelift_codegen::ir::InstBuilder;
use cranelift_codegen::ir::types::F32X4;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::default_libcall_names;
use std::time::Instant;

/// Independent accumulators: enough to cover FMA latency × throughput on current cores.
const CHAINS: usize = 12;

/// Single-core FMA peak of `tier` on this machine in GFLOP/s (2 flops per lane per FMA), best
/// of a few timed runs. Without FMA hardware the 128-bit loop uses `fmul` + `fadd`, the best
/// its kernels can do there.
pub fn fma_peak_gflops(tier: Tier) -> Result<f64, CodegenError> {
    let target = Target::host_with(Some(tier))?;
    if tier.is_wide() {
        let entry: unsafe extern "C" fn(u64) -> f64 = match tier {
            Tier::Avx512 => scc_kernels::entry::scc_avx512_fma_peak_loop,
            _ => scc_kernels::entry::scc_avx2_fma_peak_loop,
        };
        let iterations: u64 = 20_000_000;
        let mut best = f64::MAX;
        let mut flops = 0.0;
        for _ in 0..5 {
            let started = Instant::now();
            // SAFETY: `Target::host_with` checked that this CPU has the tier's features.
            flops = unsafe { entry(iterations) };
            best = best.min(started.elapsed().as_secs_f64());
        }
        return Ok(flops / best / 1e9);
    }
    let isa = target.isa(false)?;
    let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
    let func = {
        let mut emitter = Emitter::new(&mut module, &target, "peak");
        emitter.kernel("fma_loop", |kb: &mut KernelBuilder| {
            let factor = kb.vconst(0.999_999);
            let addend = kb.vconst(1e-7);
            let init = kb.vconst(1.0);
            let accumulators: Vec<_> = (0..CHAINS).map(|_| kb.var(F32X4, init)).collect();
            let (start, end) = (kb.start, kb.end);
            kb.for_range(start, end, 1, |kb, _| {
                for acc in &accumulators {
                    let value = kb.get(*acc);
                    let updated = kb.fmadd(value, factor, addend);
                    kb.set(*acc, updated);
                }
            });
            // Keep the results observable: sum them into args[0].
            let mut total = kb.get(accumulators[0]);
            for acc in &accumulators[1..] {
                let value = kb.get(*acc);
                total = kb.b.ins().fadd(total, value);
            }
            let out = kb.arg(0);
            kb.store(total, out, 0);
        })?;
        emitter.functions[0].1
    };
    module
        .finalize_definitions()
        .map_err(|e| CodegenError::Cranelift {
            kernel: "fma_loop".into(),
            message: e.to_string(),
        })?;
    let code = module.get_finalized_function(func);
    // SAFETY: defined with the kernel signature above.
    let kernel: unsafe extern "C" fn(*const *mut f32, u64, u64) =
        unsafe { std::mem::transmute(code) };
    let mut sink = [0f32; 4];
    let args = [sink.as_mut_ptr()];
    let iterations: u64 = 20_000_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        // SAFETY: args[0] points to 4 floats.
        unsafe { kernel(args.as_ptr(), 0, iterations) };
        best = best.min(started.elapsed().as_secs_f64());
    }
    std::hint::black_box(sink);
    // SAFETY: no pointer into the module outlives this call.
    unsafe { module.free_memory() };
    let flops = iterations as f64 * CHAINS as f64 * 4.0 * 2.0;
    Ok(flops / best / 1e9)
}
