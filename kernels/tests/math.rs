//! The kernels' activations against float64 over the whole f32 range: relative error at most
//! 1e-6 (absolute 1e-6 of the smallest normal for results below it), and PyTorch's values at
//! ±inf and NaN.

use scc_kernels::abi;
use scc_kernels::simd::{Avx2, Avx512, Simd};

/// A tier's activation applied in place to a slice.
type ApplyActivation = unsafe fn(i64, &mut [f32]);

#[target_feature(enable = "avx2,fma")]
unsafe fn apply_avx2(code: i64, x: &mut [f32]) {
    for chunk in x.chunks_exact_mut(8) {
        unsafe {
            let v = scc_kernels::math::activation::<Avx2>(code, Avx2::load(chunk.as_ptr()));
            Avx2::store(chunk.as_mut_ptr(), v);
        }
    }
}

#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn apply_avx512(code: i64, x: &mut [f32]) {
    for chunk in x.chunks_exact_mut(16) {
        unsafe {
            let v = scc_kernels::math::activation::<Avx512>(code, Avx512::load(chunk.as_ptr()));
            Avx512::store(chunk.as_mut_ptr(), v);
        }
    }
}

fn reference(code: i64, x: f64) -> f64 {
    let sigmoid = |x: f64| {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            x.exp() / (1.0 + x.exp())
        }
    };
    let relu6 = |x: f64| if x.is_nan() { x } else { x.clamp(0.0, 6.0) };
    match code {
        abi::ACT_RELU => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        abi::ACT_RELU6 => relu6(x),
        abi::ACT_SIGMOID => sigmoid(x),
        abi::ACT_TANH => x.tanh(),
        abi::ACT_SILU => x * sigmoid(x),
        abi::ACT_HARDSWISH => x * relu6(x + 3.0) / 6.0,
        abi::ACT_HARDSIGMOID => relu6(x + 3.0) / 6.0,
        _ => unreachable!(),
    }
}

/// Inputs: a log-spaced sweep of both signs over the whole range, subnormals, specials.
fn inputs() -> Vec<f32> {
    let mut xs = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        f32::MAX,
        f32::MIN,
    ];
    let mut bits = 1u32;
    while bits < 0x7f80_0000 {
        let v = f32::from_bits(bits);
        xs.push(v);
        xs.push(-v);
        bits += 0x3fff; // ~130k values per sign
    }
    for i in -20000..20000 {
        xs.push(i as f32 * 0.005); // dense around the interesting region
    }
    while xs.len() % 16 != 0 {
        xs.push(1.0);
    }
    xs
}

#[test]
fn activations_are_accurate_over_the_whole_range() {
    let xs = inputs();
    let codes = [
        abi::ACT_RELU,
        abi::ACT_RELU6,
        abi::ACT_SIGMOID,
        abi::ACT_TANH,
        abi::ACT_SILU,
        abi::ACT_HARDSWISH,
        abi::ACT_HARDSIGMOID,
    ];
    let mut tiers: Vec<(&str, ApplyActivation)> = Vec::new();
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        tiers.push(("avx2", apply_avx2));
    }
    if std::arch::is_x86_feature_detected!("avx512f") {
        tiers.push(("avx512", apply_avx512));
    }
    for (tier, apply) in tiers {
        for code in codes {
            let mut got = xs.clone();
            unsafe { apply(code, &mut got) };
            for (&x, &g) in xs.iter().zip(&got) {
                let e = reference(code, f64::from(x));
                let ef = e as f32;
                let ok = if e.is_nan() {
                    g.is_nan()
                } else if ef.is_infinite() {
                    g == ef
                } else {
                    let err = (f64::from(g) - e).abs();
                    err <= 1e-6 * e.abs() || err <= 1e-6 * f64::from(f32::MIN_POSITIVE)
                };
                assert!(
                    ok,
                    "{tier} activation {code} at {x:e}: got {g:e}, expected {e:e}"
                );
            }
        }
    }
}
