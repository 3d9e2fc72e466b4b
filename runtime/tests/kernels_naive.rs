//! Kernels against naive, loop-per-index transcriptions of their definitions.

use proptest::prelude::*;
use scc_runtime::Tensor;
use scc_runtime::kernels::{Conv2dParams, Pool2dParams, conv2d, maxpool2d, sumpool2d, sumpool3d};
use scc_runtime::random::WeightRng;

fn at4(t: &Tensor, i: [usize; 4]) -> f32 {
    let s = t.shape();
    t.data()[((i[0] * s[1] + i[1]) * s[2] + i[2]) * s[3] + i[3]]
}

/// `x[n, c, y, x]` of the zero-padded input, with signed coordinates.
fn padded(t: &Tensor, n: usize, c: usize, y: isize, x: isize) -> f32 {
    let s = t.shape();
    if y < 0 || x < 0 || y >= s[2] as isize || x >= s[3] as isize {
        0.0
    } else {
        at4(t, [n, c, y as usize, x as usize])
    }
}

fn tolerance(want: &Tensor) -> f32 {
    1e-4 * want.max_abs().max(1.0)
}

/// F.conv2d written as the seven nested loops of its definition.
fn naive_conv2d(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, p: &Conv2dParams) -> Tensor {
    let [n, _, h, wd] = <[usize; 4]>::try_from(x.shape()).unwrap();
    let [o, cg, kh, kw] = <[usize; 4]>::try_from(w.shape()).unwrap();
    let ho = (h + 2 * p.pad.0 - p.dilation.0 * (kh - 1) - 1) / p.stride.0 + 1;
    let wo = (wd + 2 * p.pad.1 - p.dilation.1 * (kw - 1) - 1) / p.stride.1 + 1;
    let og = o / p.groups;
    let mut out = Tensor::zeros([n, o, ho, wo]);
    let mut k = 0;
    for b in 0..n {
        for oc in 0..o {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut s = bias.map_or(0.0, |t| f64::from(t.data()[oc]));
                    for ic in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let y = (oy * p.stride.0 + ky * p.dilation.0) as isize
                                    - p.pad.0 as isize;
                                let xx = (ox * p.stride.1 + kx * p.dilation.1) as isize
                                    - p.pad.1 as isize;
                                let xv = padded(x, b, (oc / og) * cg + ic, y, xx);
                                s += f64::from(xv) * f64::from(at4(w, [oc, ic, ky, kx]));
                            }
                        }
                    }
                    out.data_mut()[k] = s as f32;
                    k += 1;
                }
            }
        }
    }
    out
}

#[derive(Clone, Debug)]
struct ConvCase {
    n: usize,
    groups: usize,
    cg: usize,
    og: usize,
    k: (usize, usize),
    stride: (usize, usize),
    pad: (usize, usize),
    dilation: (usize, usize),
    hw: (usize, usize),
    bias: bool,
    seed: u64,
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        (1usize..3, 1usize..4, 1usize..4, 1usize..3),
        (1usize..4, 1usize..4, 1usize..4, 1usize..4),
        (0usize..3, 0usize..3, 1usize..3, 1usize..3),
        (0usize..5, 0usize..5, any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |((n, groups, cg, og), (kh, kw, sh, sw), (ph, pw, dh, dw), (eh, ew, bias, seed))| {
                // Smallest input with a non-empty output, plus some slack.
                let min_h = (dh * (kh - 1) + 1).saturating_sub(2 * ph).max(1);
                let min_w = (dw * (kw - 1) + 1).saturating_sub(2 * pw).max(1);
                ConvCase {
                    n,
                    groups,
                    cg,
                    og,
                    k: (kh, kw),
                    stride: (sh, sw),
                    pad: (ph, pw),
                    dilation: (dh, dw),
                    hw: (min_h + eh, min_w + ew),
                    bias,
                    seed,
                }
            },
        )
}

proptest! {
    #![proptest_config(scc_testkit::config(500))]

    #[test]
    fn conv2d_matches_naive_loops(case in conv_case()) {
        let mut rng = WeightRng::new(case.seed);
        let c = case.groups * case.cg;
        let o = case.groups * case.og;
        let x = rng.uniform([case.n, c, case.hw.0, case.hw.1], 1.0);
        let w = rng.uniform([o, case.cg, case.k.0, case.k.1], 1.0);
        let b = rng.uniform([o], 1.0);
        let p = Conv2dParams {
            stride: case.stride,
            pad: case.pad,
            dilation: case.dilation,
            groups: case.groups,
        };
        let bias = case.bias.then_some(&b);
        let want = naive_conv2d(&x, &w, bias, &p);
        let got = conv2d(&x, &w, bias, &p);
        prop_assert_eq!(got.shape(), want.shape());
        prop_assert!(got.max_abs_diff(&want) <= tolerance(&want));
    }

    #[test]
    fn sumpool3d_matches_naive_loops(
        (n, groups, cg, h, w) in (1usize..3, 1usize..4, 1usize..5, 1usize..6, 1usize..6),
        (wc_raw, wh_raw, ww_raw, ph, pw) in (0usize..5, 0usize..5, 0usize..5, 0usize..3, 0usize..3),
        seed in any::<u64>(),
    ) {
        let wc = wc_raw % cg + 1;
        let wh = wh_raw % (h + 2 * ph) + 1;
        let ww = ww_raw % (w + 2 * pw) + 1;
        let c = groups * cg;
        let x = WeightRng::new(seed).uniform([n, c, h, w], 1.0);
        let got = sumpool3d(&x, groups, (wc, wh, ww), (ph, pw));
        let (ca, ho, wo) = (cg - wc + 1, h + 2 * ph - wh + 1, w + 2 * pw - ww + 1);
        let mut want = Tensor::zeros([n, groups * ca, ho, wo]);
        let mut k = 0;
        for b in 0..n {
            for g in 0..groups {
                for a in 0..ca {
                    for y in 0..ho {
                        for xx in 0..wo {
                            let mut s = 0.0f64;
                            for j in 0..wc {
                                for dy in 0..wh {
                                    for dx in 0..ww {
                                        let yy = (y + dy) as isize - ph as isize;
                                        let xi = (xx + dx) as isize - pw as isize;
                                        s += f64::from(padded(&x, b, g * cg + a + j, yy, xi));
                                    }
                                }
                            }
                            want.data_mut()[k] = s as f32;
                            k += 1;
                        }
                    }
                }
            }
        }
        prop_assert_eq!(got.shape(), want.shape());
        prop_assert!(got.max_abs_diff(&want) <= tolerance(&want));
    }

    /// Sum pooling is a depthwise convolution with an all-ones kernel; max pooling is bounded by
    /// the window's values.
    #[test]
    fn pools_match_definitions(
        (n, c, eh, ew) in (1usize..3, 1usize..3, 0usize..5, 0usize..5),
        (kh, kw, sh, sw) in (1usize..4, 1usize..4, 1usize..3, 1usize..3),
        (ph_raw, pw_raw, seed) in (0usize..2, 0usize..2, any::<u64>()),
    ) {
        let (ph, pw) = (ph_raw.min(kh / 2), pw_raw.min(kw / 2));
        // The smallest input with a non-empty output, plus some slack.
        let h = kh.saturating_sub(2 * ph).max(1) + eh;
        let w = kw.saturating_sub(2 * pw).max(1) + ew;
        let x = WeightRng::new(seed).uniform([n, c, h, w], 1.0);
        let p = Pool2dParams::new((kh, kw), (sh, sw), (ph, pw));
        let ones = Tensor::full([c, 1, kh, kw], 1.0);
        let cp = Conv2dParams { stride: (sh, sw), pad: (ph, pw), dilation: (1, 1), groups: c };
        let want = conv2d(&x, &ones, None, &cp);
        prop_assert!(sumpool2d(&x, &p).max_abs_diff(&want) <= tolerance(&want));

        let got = maxpool2d(&x, &p);
        let [_, _, ho, wo] = <[usize; 4]>::try_from(got.shape()).unwrap();
        for b in 0..n {
            for ch in 0..c {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut m = f32::NEG_INFINITY;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let y = (oy * sh + ky) as isize - ph as isize;
                                let xx = (ox * sw + kx) as isize - pw as isize;
                                if y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < w {
                                    m = m.max(at4(&x, [b, ch, y as usize, xx as usize]));
                                }
                            }
                        }
                        prop_assert_eq!(at4(&got, [b, ch, oy, ox]), m);
                    }
                }
            }
        }
    }
}
