//! The FMA peak of a tier: independent accumulator chains, enough to cover FMA latency ×
//! throughput (4 cycles × 2 pipes on current cores), in registers.

use crate::simd::Simd;

/// Independent FMA chains per round.
pub const CHAINS: usize = 12;

/// `iterations` rounds of `CHAINS` vector FMAs; returns the flops (2 per lane per FMA).
///
/// # Safety
/// The host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn fma_loop<S: Simd>(iterations: u64) -> f64 {
    unsafe {
        let factor = S::splat(0.999_999);
        let addend = S::splat(1e-7);
        let mut acc = [S::splat(1.0); CHAINS];
        for _ in 0..iterations {
            for a in acc.iter_mut() {
                *a = S::fmadd(*a, factor, addend);
            }
        }
        let mut total = S::zero();
        for a in acc {
            total = S::add(total, a);
        }
        std::hint::black_box(S::sum_lanes(total));
        iterations as f64 * (CHAINS * S::LANES * 2) as f64
    }
}
