//! Float64 references of scc's activations, with the special values PyTorch gives
//! (`torch.nn.functional` in float32: checked against torch 2.x).
//!
//! Each is the mathematical function evaluated in f64 — accurate to far better than f32's
//! precision, so that [`crate::accuracy`] measures an f32 kernel's own error — written the way
//! PyTorch writes it, so that infinities and NaN come out as PyTorch's do: `silu(−∞) = −∞·0 =
//! NaN`, `hardswish(−∞) = NaN`, `tanh(±∞) = ±1`, `sigmoid(−∞) = 0`.

/// `max(x, 0)` (NaN stays NaN).
pub fn relu(x: f64) -> f64 {
    if x.is_nan() { x } else { x.max(0.0) }
}

/// `min(max(x, 0), 6)` (NaN stays NaN).
pub fn relu6(x: f64) -> f64 {
    if x.is_nan() { x } else { x.clamp(0.0, 6.0) }
}

/// `1 / (1 + e^−x)`, without overflow: `e^x / (1 + e^x)` for negative `x`.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `tanh(x)`.
pub fn tanh(x: f64) -> f64 {
    x.tanh()
}

/// `x · sigmoid(x)`: NaN at −∞ (−∞ · 0), as in PyTorch.
pub fn silu(x: f64) -> f64 {
    x * sigmoid(x)
}

/// `min(max(x + 3, 0), 6) / 6`.
pub fn hardsigmoid(x: f64) -> f64 {
    relu6(x + 3.0) / 6.0
}

/// `x · min(max(x + 3, 0), 6) / 6`: NaN at −∞, as in PyTorch.
pub fn hardswish(x: f64) -> f64 {
    x * relu6(x + 3.0) / 6.0
}

/// The reference of the activation named `name` in the `.sc` language, if any.
pub fn activation(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "relu" => relu,
        "relu6" => relu6,
        "sigmoid" => sigmoid,
        "tanh" => tanh,
        "silu" => silu,
        "hardsigmoid" => hardsigmoid,
        "hardswish" => hardswish,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyTorch 2.x (`torch.nn.functional`, float32) at −∞, −1e30, −100, −0, 0, 1e−8, 100, 1e30,
    /// +∞ and NaN, printed by `torch.tensor([...]).tolist()`.
    #[test]
    fn special_values_are_pytorchs() {
        let inputs = [
            f64::NEG_INFINITY,
            -1e30,
            -100.0,
            -0.0,
            0.0,
            1e-8,
            100.0,
            1e30,
            f64::INFINITY,
            f64::NAN,
        ];
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let expected: [(&str, [f64; 10]); 7] = [
            (
                "relu",
                [0.0, 0.0, 0.0, -0.0, 0.0, 1e-8, 100.0, 1e30, inf, nan],
            ),
            (
                "relu6",
                [0.0, 0.0, 0.0, -0.0, 0.0, 1e-8, 6.0, 6.0, 6.0, nan],
            ),
            (
                "sigmoid",
                [0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, nan],
            ),
            (
                "tanh",
                [-1.0, -1.0, -1.0, -0.0, 0.0, 1e-8, 1.0, 1.0, 1.0, nan],
            ),
            (
                "silu",
                [nan, -0.0, -0.0, -0.0, 0.0, 5e-9, 100.0, 1e30, inf, nan],
            ),
            (
                "hardswish",
                [nan, -0.0, -0.0, -0.0, 0.0, 5e-9, 100.0, 1e30, inf, nan],
            ),
            (
                "hardsigmoid",
                [0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, nan],
            ),
        ];
        for (name, want) in expected {
            let f = activation(name).unwrap();
            for (&x, &w) in inputs.iter().zip(&want) {
                // PyTorch's float32 results, compared as f32; below the normal range PyTorch
                // flushes what f64 still resolves (sigmoid(−100) is 0 there, 3.7e-44 here).
                let got = f(x) as f32;
                let w = w as f32;
                let close = (got - w).abs() <= 1e-7 * w.abs() + f32::MIN_POSITIVE;
                assert!(
                    (got.is_nan() && w.is_nan()) || got == w || close,
                    "{name}({x}) = {got}, PyTorch {w}"
                );
            }
        }
    }
}

/// A 3-D sum-pool in float64: for an input `[n, c, h, w]` (row-major `data`), `groups` channel
/// groups, window `(wc, wh, ww)`, zero padding `(ph, pw)` and stride `(sh, sw)`, the exact
/// window sums and, per output, `Σ|terms|` (the scale of [`crate::accuracy::scaled`]), both in
/// output order `[n, groups·(c/groups − wc + 1), ho, wo]`.
pub fn sumpool3d(
    data: &[f32],
    [n, c, h, w]: [usize; 4],
    groups: usize,
    (wc, wh, ww): (usize, usize, usize),
    (ph, pw): (usize, usize),
    (sh, sw): (usize, usize),
) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(
        data.len(),
        n * c * h * w,
        "sumpool3d reference: data length"
    );
    let cg = c / groups;
    let ca = cg - wc + 1;
    let ho = (h + 2 * ph - wh) / sh + 1;
    let wo = (w + 2 * pw - ww) / sw + 1;
    let mut sums = Vec::with_capacity(n * groups * ca * ho * wo);
    let mut magnitudes = Vec::with_capacity(sums.capacity());
    for b in 0..n {
        for g in 0..groups {
            for a in 0..ca {
                for y in 0..ho {
                    for x in 0..wo {
                        let (mut sum, mut magnitude) = (0.0f64, 0.0f64);
                        for j in 0..wc {
                            let channel = g * cg + a + j;
                            for dy in 0..wh {
                                let row = (y * sh + dy) as isize - ph as isize;
                                if row < 0 || row >= h as isize {
                                    continue;
                                }
                                for dx in 0..ww {
                                    let col = (x * sw + dx) as isize - pw as isize;
                                    if col < 0 || col >= w as isize {
                                        continue;
                                    }
                                    let v = f64::from(
                                        data[((b * c + channel) * h + row as usize) * w
                                            + col as usize],
                                    );
                                    sum += v;
                                    magnitude += v.abs();
                                }
                            }
                        }
                        sums.push(sum);
                        magnitudes.push(magnitude);
                    }
                }
            }
        }
    }
    (sums, magnitudes)
}

/// Inputs built to break summation algorithms, deterministic in `seed`.
pub mod adversarial {
    /// A small deterministic generator (SplitMix64).
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// Uniform in [-1, 1).
        fn signed(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    /// `len` values uniform in [-1, 1].
    pub fn uniform(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix(seed);
        (0..len).map(|_| rng.signed() as f32).collect()
    }

    /// Values uniform in [-1, 1] for a `[n, c, h, w]` tensor, except that channel `channel` is
    /// `huge` everywhere: a running sum along the channels carries that channel's rounding
    /// error into every later output channel, whose own terms are a million times smaller.
    pub fn one_huge_channel(
        [n, c, h, w]: [usize; 4],
        channel: usize,
        huge: f32,
        seed: u64,
    ) -> Vec<f32> {
        let mut data = uniform(n * c * h * w, seed);
        for b in 0..n {
            let plane = (b * c + channel) * h * w;
            data[plane..plane + h * w].fill(huge);
        }
        data
    }

    /// `len` values of random sign and magnitude `10^e`, `e` uniform in `[-decades/2, decades/2]`:
    /// neighbouring terms differ by many orders of magnitude.
    pub fn wide_range(len: usize, decades: f64, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix(seed);
        (0..len)
            .map(|_| {
                let sign = if rng.next() & 1 == 0 { 1.0 } else { -1.0 };
                (sign * 10f64.powf(rng.signed() * decades / 2.0)) as f32
            })
            .collect()
    }
}
