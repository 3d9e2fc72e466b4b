//! Activations on vectors, accurate over the whole f32 range: every function is within a few
//! ulp of the correctly rounded result (tested against float64), and ±inf and NaN give what
//! PyTorch gives (NaN in, NaN out; `sigmoid(-inf) = 0`, `silu(-inf) = NaN`, `tanh(±inf) = ±1`).

#![allow(clippy::excessive_precision)]

use crate::abi;
use crate::simd::Simd;

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 in two parts: `LN2_HI` has 9 significant bits, so `n · LN2_HI` is exact for |n| ≤ 150.
const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x` as `(p, n)` with `e^x = p · 2^n`: range reduction `x = n ln 2 + r`, |r| ≤ ln2 / 2, and
/// a degree-7 Taylor polynomial `p ≈ e^r` (truncation error below 6e-9). `x` is clamped to
/// [-112, 89] first (NaN stays NaN), so n is in [-162, 128].
#[inline(always)]
unsafe fn exp_parts<S: Simd>(x: S::V) -> (S::V, S::V) {
    unsafe {
        let x = S::min_keep_nan(S::max_keep_nan(x, S::splat(-112.0)), S::splat(89.0));
        let n = S::round(S::mul(x, S::splat(LOG2_E)));
        let r = S::fmadd(n, S::splat(-LN2_HI), x);
        let r = S::fmadd(n, S::splat(-LN2_LO), r);
        let mut p = S::splat(1.0 / 5040.0);
        for c in [
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ] {
            p = S::fmadd(p, r, S::splat(c));
        }
        (p, n)
    }
}

/// `e^x` with gradual underflow (results down to the smallest subnormal); `+inf` above 88.73,
/// `0` below -103.98 (the argument is clamped to [-112, 89]).
///
/// # Safety
/// The host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn exp<S: Simd>(x: S::V) -> S::V {
    unsafe {
        let (p, n) = exp_parts::<S>(x);
        S::scale_by_pow2(p, n)
    }
}

/// `x · sigmoid(x)`. For x < 0 the product `x · e^x / (1 + e^x)` is formed before the final
/// scaling by `2^n`, so it keeps full precision where `e^x` alone would be subnormal; below
/// -112 it is `x · 0` (NaN at -inf, as PyTorch).
#[inline(always)]
unsafe fn silu<S: Simd>(x: S::V) -> S::V {
    unsafe {
        let (p, n) = exp_parts::<S>(S::sub(S::zero(), S::abs(x)));
        let e = S::scale_by_pow2(p, n);
        let s = S::div(S::splat(1.0), S::add(S::splat(1.0), e));
        let negative = S::scale_by_pow2(S::mul(S::mul(x, p), s), n);
        let negative = S::select(S::lt(x, S::splat(-112.0)), S::mul(x, S::zero()), negative);
        S::select(S::lt(x, S::zero()), negative, S::mul(x, s))
    }
}

/// `1 / (1 + e^-x)`, as `e^-|x|` based forms that never overflow.
///
/// # Safety
/// The host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn sigmoid<S: Simd>(x: S::V) -> S::V {
    unsafe {
        let e = exp::<S>(S::sub(S::zero(), S::abs(x)));
        let s = S::div(S::splat(1.0), S::add(S::splat(1.0), e));
        // x < 0: e^x / (1 + e^x) = e · s.
        S::select(S::lt(x, S::zero()), S::mul(e, s), s)
    }
}

/// Odd Taylor coefficients of tanh, x^3 to x^19 (enough below |x| = 0.55: the next term is
/// below 4e-10 relative).
const TANH_TAYLOR: [f32; 9] = [
    -1.0 / 3.0,
    2.0 / 15.0,
    -17.0 / 315.0,
    62.0 / 2835.0,
    -1382.0 / 155925.0,
    21844.0 / 6081075.0,
    -929569.0 / 638512875.0,
    6404582.0 / 10854718875.0,
    -443861162.0 / 1856156927625.0,
];

/// `tanh(x)`: the Taylor series below |x| = 0.55 (≈ x near 0), else `1 − 2 / (1 + e^{2|x|})`
/// with the sign of x.
///
/// # Safety
/// The host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn tanh<S: Simd>(x: S::V) -> S::V {
    unsafe {
        let a = S::abs(x);
        let x2 = S::mul(x, x);
        let mut p = S::splat(TANH_TAYLOR[8]);
        for &c in TANH_TAYLOR[..8].iter().rev() {
            p = S::fmadd(p, x2, S::splat(c));
        }
        let small = S::fmadd(S::mul(x, x2), p, x);
        let e = exp::<S>(S::add(a, a));
        let large = S::sub(
            S::splat(1.0),
            S::div(S::splat(2.0), S::add(S::splat(1.0), e)),
        );
        S::select(S::lt(a, S::splat(0.55)), small, S::copysign(large, x))
    }
}

/// `min(max(x + 3, 0), 6) / 6`.
#[inline(always)]
unsafe fn hardsigmoid<S: Simd>(x: S::V) -> S::V {
    unsafe { S::div(relu6::<S>(S::add(x, S::splat(3.0))), S::splat(6.0)) }
}

#[inline(always)]
unsafe fn relu6<S: Simd>(x: S::V) -> S::V {
    unsafe { S::min_keep_nan(S::max_keep_nan(x, S::zero()), S::splat(6.0)) }
}

/// Applies activation `code` (one of [`abi`]'s `ACT_*`).
///
/// # Safety
/// The host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn activation<S: Simd>(code: i64, x: S::V) -> S::V {
    unsafe {
        match code {
            abi::ACT_RELU => S::max_keep_nan(x, S::zero()),
            abi::ACT_RELU6 => relu6::<S>(x),
            abi::ACT_SIGMOID => sigmoid::<S>(x),
            abi::ACT_TANH => tanh::<S>(x),
            abi::ACT_SILU => silu::<S>(x),
            // x · (relu6(x + 3) / 6): exact above 3, and no overflow at the top of the range.
            abi::ACT_HARDSWISH => S::mul(x, hardsigmoid::<S>(x)),
            abi::ACT_HARDSIGMOID => hardsigmoid::<S>(x),
            _ => x,
        }
    }
}
