//! The vector operations the micro-kernels are written in, once, generically: [`Simd`] has
//! one implementation per wide tier ([`Avx2`]: 8 lanes of `__m256`, [`Avx512`]: 16 lanes of
//! `__m512`). Every method is `#[inline(always)]` and uses the tier's intrinsics, so a generic
//! kernel instantiated inside a `#[target_feature]` entry point compiles to straight-line code
//! of that tier (the entry points in [`crate::entry`] are the only places that enable features).
//!
//! # Safety
//! Every method is `unsafe`: it may only run on a CPU with the tier's features, and the memory
//! methods read or write `LANES` floats (or the first `n`) at the given pointer.

#![allow(clippy::missing_safety_doc)]

use std::arch::x86_64::*;

/// One vector tier.
pub trait Simd: Copy + 'static {
    /// f32 lanes per vector.
    const LANES: usize;
    /// A vector of `LANES` f32.
    type V: Copy;
    /// A lane mask.
    type M: Copy;

    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    /// Loads `LANES` floats (no alignment needed).
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Loads the first `n` lanes (the others are zero), reading only those.
    unsafe fn load_first(p: *const f32, n: usize) -> Self::V;
    /// Stores the first `n` lanes, writing only those.
    unsafe fn store_first(p: *mut f32, v: Self::V, n: usize);
    /// One float broadcast to every lane.
    unsafe fn broadcast(p: *const f32) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c`, one rounding.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `max(x, floor)` where a NaN `x` stays NaN (`floor` is never NaN).
    unsafe fn max_keep_nan(x: Self::V, floor: Self::V) -> Self::V;
    /// `min(x, ceiling)` where a NaN `x` stays NaN.
    unsafe fn min_keep_nan(x: Self::V, ceiling: Self::V) -> Self::V;
    /// Lanes where `a < b` (false where either is NaN).
    unsafe fn lt(a: Self::V, b: Self::V) -> Self::M;
    /// Lanes where `a` is NaN.
    unsafe fn is_nan(a: Self::V) -> Self::M;
    unsafe fn or_mask(a: Self::M, b: Self::M) -> Self::M;
    /// A mask with no lane set.
    unsafe fn no_lanes() -> Self::M;
    /// The first `n` lanes.
    unsafe fn first_lanes(n: usize) -> Self::M;
    /// `m ? a : b` per lane.
    unsafe fn select(m: Self::M, a: Self::V, b: Self::V) -> Self::V;
    /// `|a|`.
    unsafe fn abs(a: Self::V) -> Self::V;
    /// `a` with the sign of `sign`.
    unsafe fn copysign(a: Self::V, sign: Self::V) -> Self::V;
    /// Rounds to the nearest integer (ties to even).
    unsafe fn round(a: Self::V) -> Self::V;
    /// `a · 2^n` for integral `n` in [-252, 252] (with gradual underflow; in the subnormal range the AVX2 form rounds twice).
    unsafe fn scale_by_pow2(a: Self::V, n: Self::V) -> Self::V;
    /// The sum of the lanes.
    unsafe fn sum_lanes(a: Self::V) -> f32;
    /// Lanes shifted down by `k` (lane `i` receives lane `i + k`), zeros shifted in.
    unsafe fn shift_down(a: Self::V, k: usize) -> Self::V;
    /// Lanes shifted up by `k` (lane `i` receives lane `i - k`), zeros shifted in.
    unsafe fn shift_up(a: Self::V, k: usize) -> Self::V;
    /// Lane `i` of `a` broadcast to every lane.
    unsafe fn lane(a: Self::V, i: usize) -> Self::V;
    /// Inclusive suffix sums within the vector: lane `i` receives `a[i] + … + a[LANES − 1]`.
    unsafe fn scan_suffix(a: Self::V) -> Self::V;
    /// Inclusive prefix sums within the vector: lane `i` receives `a[0] + … + a[i]`.
    unsafe fn scan_prefix(a: Self::V) -> Self::V;
    /// The `LANES` lanes starting at lane `r` (`0 ≤ r < LANES`) of the concatenation `lo, hi`.
    unsafe fn align(lo: Self::V, hi: Self::V, r: usize) -> Self::V;
}

/// AVX2 + FMA: 8 lanes.
#[derive(Clone, Copy, Debug)]
pub struct Avx2;

/// AVX-512F: 16 lanes.
#[derive(Clone, Copy, Debug)]
pub struct Avx512;

const AVX2_LANE_INDEX: [i32; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

impl Simd for Avx2 {
    const LANES: usize = 8;
    type V = __m256;
    type M = __m256;

    #[inline(always)]
    unsafe fn zero() -> __m256 {
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> __m256 {
        unsafe { _mm256_maskload_ps(p, avx2_mask(n)) }
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: __m256, n: usize) {
        unsafe { _mm256_maskstore_ps(p, avx2_mask(n), v) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m256 {
        unsafe { _mm256_broadcast_ss(&*p) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn max_keep_nan(x: __m256, floor: __m256) -> __m256 {
        // MAXPS returns its second operand when either is NaN.
        unsafe { _mm256_max_ps(floor, x) }
    }
    #[inline(always)]
    unsafe fn min_keep_nan(x: __m256, ceiling: __m256) -> __m256 {
        unsafe { _mm256_min_ps(ceiling, x) }
    }
    #[inline(always)]
    unsafe fn lt(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    unsafe fn is_nan(a: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_UNORD_Q>(a, a) }
    }
    #[inline(always)]
    unsafe fn or_mask(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_or_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn no_lanes() -> __m256 {
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn first_lanes(n: usize) -> __m256 {
        unsafe { _mm256_castsi256_ps(avx2_mask(n)) }
    }
    #[inline(always)]
    unsafe fn select(m: __m256, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_blendv_ps(b, a, m) }
    }
    #[inline(always)]
    unsafe fn abs(a: __m256) -> __m256 {
        unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), a) }
    }
    #[inline(always)]
    unsafe fn copysign(a: __m256, sign: __m256) -> __m256 {
        unsafe {
            let mask = _mm256_set1_ps(-0.0);
            _mm256_or_ps(_mm256_andnot_ps(mask, a), _mm256_and_ps(mask, sign))
        }
    }
    #[inline(always)]
    unsafe fn round(a: __m256) -> __m256 {
        unsafe { _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    unsafe fn scale_by_pow2(a: __m256, n: __m256) -> __m256 {
        // Two factors 2^(n/2) and 2^(n - n/2), each a normal float for n in [-252, 252].
        unsafe {
            let n = _mm256_cvtps_epi32(n);
            let half = _mm256_srai_epi32::<1>(n);
            let rest = _mm256_sub_epi32(n, half);
            let bias = _mm256_set1_epi32(127);
            let f1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(half, bias)));
            let f2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(rest, bias)));
            _mm256_mul_ps(_mm256_mul_ps(a, f1), f2)
        }
    }
    #[inline(always)]
    unsafe fn sum_lanes(a: __m256) -> f32 {
        unsafe {
            let lo = _mm256_castps256_ps128(a);
            let hi = _mm256_extractf128_ps::<1>(a);
            let s = _mm_add_ps(lo, hi);
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
            _mm_cvtss_f32(s)
        }
    }
    #[inline(always)]
    unsafe fn shift_down(a: __m256, k: usize) -> __m256 {
        unsafe {
            let idx = _mm256_loadu_si256(AVX2_LANE_INDEX.as_ptr().add(k).cast());
            let moved = _mm256_permutevar8x32_ps(a, idx);
            // Lanes i with i + k >= 8 receive zero.
            _mm256_and_ps(moved, _mm256_castsi256_ps(avx2_mask(8 - k)))
        }
    }
    #[inline(always)]
    unsafe fn shift_up(a: __m256, k: usize) -> __m256 {
        unsafe {
            let mut idx = [0i32; 8];
            for (i, v) in idx.iter_mut().enumerate() {
                *v = (i as i32 - k as i32).max(0);
            }
            let moved = _mm256_permutevar8x32_ps(a, _mm256_loadu_si256(idx.as_ptr().cast()));
            _mm256_andnot_ps(_mm256_castsi256_ps(avx2_mask(k)), moved)
        }
    }
    #[inline(always)]
    unsafe fn lane(a: __m256, i: usize) -> __m256 {
        unsafe { _mm256_permutevar8x32_ps(a, _mm256_set1_epi32(i as i32)) }
    }
    #[inline(always)]
    unsafe fn scan_suffix(a: __m256) -> __m256 {
        unsafe {
            let a = _mm256_add_ps(a, Self::shift_down(a, 1));
            let a = _mm256_add_ps(a, Self::shift_down(a, 2));
            _mm256_add_ps(a, Self::shift_down(a, 4))
        }
    }
    #[inline(always)]
    unsafe fn scan_prefix(a: __m256) -> __m256 {
        unsafe {
            let a = _mm256_add_ps(a, Self::shift_up(a, 1));
            let a = _mm256_add_ps(a, Self::shift_up(a, 2));
            _mm256_add_ps(a, Self::shift_up(a, 4))
        }
    }
    #[inline(always)]
    unsafe fn align(lo: __m256, hi: __m256, r: usize) -> __m256 {
        unsafe {
            let idx = _mm256_loadu_si256(AVX2_LANE_INDEX.as_ptr().add(r).cast());
            let from_lo = _mm256_permutevar8x32_ps(lo, idx);
            let from_hi = _mm256_permutevar8x32_ps(hi, idx);
            // Lanes i with i + r < 8 come from `lo`.
            _mm256_blendv_ps(from_hi, from_lo, _mm256_castsi256_ps(avx2_mask(8 - r)))
        }
    }
}

/// All-ones in the first `n` (0..=8) lanes.
#[inline(always)]
unsafe fn avx2_mask(n: usize) -> __m256i {
    const ONES: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    unsafe { _mm256_loadu_si256(ONES.as_ptr().add(8 - n.min(8)).cast()) }
}

impl Simd for Avx512 {
    const LANES: usize = 16;
    type V = __m512;
    type M = __mmask16;

    #[inline(always)]
    unsafe fn zero() -> __m512 {
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> __m512 {
        unsafe { _mm512_maskz_loadu_ps(Self::first_lanes(n), p) }
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: __m512, n: usize) {
        unsafe { _mm512_mask_storeu_ps(p, Self::first_lanes(n), v) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m512 {
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn max_keep_nan(x: __m512, floor: __m512) -> __m512 {
        unsafe { _mm512_max_ps(floor, x) }
    }
    #[inline(always)]
    unsafe fn min_keep_nan(x: __m512, ceiling: __m512) -> __m512 {
        unsafe { _mm512_min_ps(ceiling, x) }
    }
    #[inline(always)]
    unsafe fn lt(a: __m512, b: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    unsafe fn is_nan(a: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a) }
    }
    #[inline(always)]
    unsafe fn or_mask(a: __mmask16, b: __mmask16) -> __mmask16 {
        a | b
    }
    #[inline(always)]
    unsafe fn no_lanes() -> __mmask16 {
        0
    }
    #[inline(always)]
    unsafe fn first_lanes(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            ((1u32 << n) - 1) as u16
        }
    }
    #[inline(always)]
    unsafe fn select(m: __mmask16, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mask_blend_ps(m, b, a) }
    }
    #[inline(always)]
    unsafe fn abs(a: __m512) -> __m512 {
        unsafe { _mm512_abs_ps(a) }
    }
    #[inline(always)]
    unsafe fn copysign(a: __m512, sign: __m512) -> __m512 {
        unsafe {
            let mask = _mm512_set1_epi32(i32::MIN);
            let a = _mm512_castps_si512(a);
            let s = _mm512_castps_si512(sign);
            _mm512_castsi512_ps(_mm512_or_si512(
                _mm512_andnot_si512(mask, a),
                _mm512_and_si512(mask, s),
            ))
        }
    }
    #[inline(always)]
    unsafe fn round(a: __m512) -> __m512 {
        unsafe { _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    unsafe fn scale_by_pow2(a: __m512, n: __m512) -> __m512 {
        unsafe { _mm512_scalef_ps(a, n) }
    }
    #[inline(always)]
    unsafe fn sum_lanes(a: __m512) -> f32 {
        unsafe { _mm512_reduce_add_ps(a) }
    }
    #[inline(always)]
    unsafe fn shift_down(a: __m512, k: usize) -> __m512 {
        unsafe {
            let idx = _mm512_add_epi32(
                _mm512_loadu_si512(AVX2_LANE_INDEX.as_ptr().cast()),
                _mm512_set1_epi32(k as i32),
            );
            let keep = Self::first_lanes(16 - k);
            _mm512_maskz_permutexvar_ps(keep, _mm512_and_si512(idx, _mm512_set1_epi32(15)), a)
        }
    }
    #[inline(always)]
    unsafe fn shift_up(a: __m512, k: usize) -> __m512 {
        unsafe {
            let idx = _mm512_sub_epi32(
                _mm512_loadu_si512(AVX2_LANE_INDEX.as_ptr().cast()),
                _mm512_set1_epi32(k as i32),
            );
            let keep = !Self::first_lanes(k);
            _mm512_maskz_permutexvar_ps(keep, _mm512_and_si512(idx, _mm512_set1_epi32(15)), a)
        }
    }
    #[inline(always)]
    unsafe fn lane(a: __m512, i: usize) -> __m512 {
        unsafe { _mm512_permutexvar_ps(_mm512_set1_epi32(i as i32), a) }
    }
    #[inline(always)]
    unsafe fn scan_suffix(a: __m512) -> __m512 {
        unsafe {
            let z = _mm512_setzero_si512();
            let down = |v: __m512, k: i32| -> __m512 {
                let v = _mm512_castps_si512(v);
                _mm512_castsi512_ps(match k {
                    1 => _mm512_alignr_epi32::<1>(z, v),
                    2 => _mm512_alignr_epi32::<2>(z, v),
                    4 => _mm512_alignr_epi32::<4>(z, v),
                    _ => _mm512_alignr_epi32::<8>(z, v),
                })
            };
            let a = _mm512_add_ps(a, down(a, 1));
            let a = _mm512_add_ps(a, down(a, 2));
            let a = _mm512_add_ps(a, down(a, 4));
            _mm512_add_ps(a, down(a, 8))
        }
    }
    #[inline(always)]
    unsafe fn scan_prefix(a: __m512) -> __m512 {
        unsafe {
            let z = _mm512_setzero_si512();
            let up = |v: __m512, k: i32| -> __m512 {
                let v = _mm512_castps_si512(v);
                _mm512_castsi512_ps(match k {
                    1 => _mm512_alignr_epi32::<15>(v, z),
                    2 => _mm512_alignr_epi32::<14>(v, z),
                    4 => _mm512_alignr_epi32::<12>(v, z),
                    _ => _mm512_alignr_epi32::<8>(v, z),
                })
            };
            let a = _mm512_add_ps(a, up(a, 1));
            let a = _mm512_add_ps(a, up(a, 2));
            let a = _mm512_add_ps(a, up(a, 4));
            _mm512_add_ps(a, up(a, 8))
        }
    }
    #[inline(always)]
    unsafe fn align(lo: __m512, hi: __m512, r: usize) -> __m512 {
        unsafe {
            let idx = _mm512_add_epi32(
                _mm512_loadu_si512(AVX2_LANE_INDEX.as_ptr().cast()),
                _mm512_set1_epi32(r as i32),
            );
            // Indices 0..15 pick from `lo`, 16..31 from `hi`.
            _mm512_permutex2var_ps(lo, idx, hi)
        }
    }
}
