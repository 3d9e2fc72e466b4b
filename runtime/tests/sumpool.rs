//! The sliding-window sum-pool against the direct reference kernels, its accuracy against a
//! float64 reference on adversarial data, and its addition counts.

use proptest::prelude::*;
use scc_runtime::Tensor;
use scc_runtime::kernels::{sumpool_features, sumpool3d};
use scc_runtime::random::WeightRng;
use scc_runtime::sumpool::{
    Axis, LineScheme, MAX_DIRECT_WINDOW, SumPoolSpec, line_scheme, line_sum_adds,
    sumpool_direct_adds, sumpool_features_adds, sumpool_features_running, sumpool_running,
    sumpool_running_adds, sumpool_running_adds_along,
};

/// `t[:, :, ::sh, ::sw]`.
fn subsample(t: &Tensor, (sh, sw): (usize, usize)) -> Tensor {
    let [n, c, h, w] = *t.shape() else {
        panic!("rank 4 expected")
    };
    let (ho, wo) = ((h - 1) / sh + 1, (w - 1) / sw + 1);
    let mut out = Vec::with_capacity(n * c * ho * wo);
    for plane in t.data().chunks_exact(h * w) {
        for y in (0..h).step_by(sh) {
            out.extend(plane[y * w..][..w].iter().step_by(sw));
        }
    }
    Tensor::from_vec([n, c, ho, wo], out)
}

/// `sumpool3d` followed by subsampling: the expected result of `sumpool_running`.
fn reference(x: &Tensor, spec: &SumPoolSpec) -> Tensor {
    subsample(
        &sumpool3d(x, spec.groups, spec.window, spec.pad),
        spec.stride,
    )
}

#[derive(Clone, Debug)]
struct Case {
    shape: [usize; 4],
    spec: SumPoolSpec,
    scale: f32,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=2, 1usize..=3, 1usize..=8),
        (1usize..=4, 1usize..=4, 0usize..=2, 0usize..=2),
        (1usize..=3, 1usize..=3, 0usize..=20, 0usize..=20),
        (
            prop_oneof![Just(1.0f32), Just(1e-3), Just(1e3)],
            any::<u64>(),
        ),
    )
        .prop_flat_map(
            |((n, groups, cg), (wh, ww, ph, pw), (sh, sw, h, w), (scale, seed))| {
                (1..=cg).prop_map(move |wc| Case {
                    // The smallest sizes with a non-empty output: `wh <= h + 2*ph`, same for w.
                    shape: [
                        n,
                        groups * cg,
                        h.clamp(wh.saturating_sub(2 * ph).max(1), 20),
                        w.clamp(ww.saturating_sub(2 * pw).max(1), 20),
                    ],
                    spec: SumPoolSpec {
                        groups,
                        window: (wc, wh, ww),
                        pad: (ph, pw),
                        stride: (sh, sw),
                    },
                    scale,
                    seed,
                })
            },
        )
}

fn tolerance(want: &Tensor, spec: &SumPoolSpec) -> f32 {
    let (wc, wh, ww) = spec.window;
    1e-5 * want.max_abs().max(1.0) * (wc * wh * ww) as f32
}

proptest! {
    #![proptest_config(scc_testkit::config(256))]

    #[test]
    fn stride_one_matches_sumpool3d(case in case()) {
        let spec = SumPoolSpec { stride: (1, 1), ..case.spec };
        let x = WeightRng::new(case.seed).uniform(case.shape, case.scale);
        let got = sumpool_running(&x, &spec);
        let want = sumpool3d(&x, spec.groups, spec.window, spec.pad);
        let out_shape = spec.output_shape(&case.shape);
        prop_assert_eq!(got.shape(), out_shape.as_slice());
        let d = got.max_abs_diff(&want);
        prop_assert!(d <= tolerance(&want, &spec), "diff {} for {:?}", d, case);
    }

    #[test]
    fn strided_matches_subsampled_sumpool3d(case in case()) {
        let x = WeightRng::new(case.seed).uniform(case.shape, case.scale);
        let got = sumpool_running(&x, &case.spec);
        let want = reference(&x, &case.spec);
        prop_assert_eq!(got.shape(), want.shape());
        let out_shape = case.spec.output_shape(&case.shape);
        prop_assert_eq!(got.shape(), out_shape.as_slice());
        let d = got.max_abs_diff(&want);
        prop_assert!(d <= tolerance(&want, &case.spec), "diff {} for {:?}", d, case);
    }

    /// The total is the sum of the three passes, and a 1x1x1 window costs nothing.
    #[test]
    fn counts_are_consistent(case in case()) {
        let total = sumpool_running_adds(&case.shape, &case.spec);
        let by_axis: u64 = Axis::PASS_ORDER
            .iter()
            .map(|&a| sumpool_running_adds_along(&case.shape, &case.spec, a))
            .sum();
        prop_assert_eq!(total, by_axis);
        if case.spec.window == (1, 1, 1) {
            prop_assert_eq!(total, 0);
            prop_assert_eq!(sumpool_direct_adds(&case.shape, &case.spec), 0);
        }
    }

    #[test]
    fn features_match_sumpool_features(
        n in 1usize..=3,
        f in 1usize..=300,
        window in 1usize..=12,
        seed in any::<u64>(),
    ) {
        let window = window.min(f);
        let x = WeightRng::new(seed).uniform([n, f], 1.0);
        let got = sumpool_features_running(&x, window);
        let want = sumpool_features(&x, window);
        prop_assert_eq!(got.shape(), want.shape());
        let tol = 1e-5 * want.max_abs().max(1.0) * window as f32;
        prop_assert!(got.max_abs_diff(&want) <= tol);
    }
}

/// Largest `|got - want| / |want|`.
fn max_relative_error(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.shape(), want.shape());
    got.data()
        .iter()
        .zip(want.data())
        .map(|(&a, &b)| (a - b).abs() / b.abs())
        .fold(0.0, f32::max)
}

/// Running sums of `window` over values in [99, 101] of `shape` stay within 1e-4 relative.
fn assert_accurate(window: (usize, usize, usize), shape: [usize; 4], seed: u64) {
    let spec = SumPoolSpec {
        groups: 1,
        window,
        pad: (0, 0),
        stride: (1, 1),
    };
    let x = WeightRng::new(seed).uniform_range(shape, 99.0, 101.0);
    let got = sumpool_running(&x, &spec);
    let want = sumpool3d(&x, 1, spec.window, spec.pad);
    let rel = max_relative_error(&got, &want);
    assert!(rel <= 1e-4, "window {window:?}: relative error {rel}");
}

#[test]
fn long_lines_stay_accurate() {
    // W = 512 with a large common offset: the worst case for add-then-subtract drift.
    assert_accurate((1, 1, 3), [2, 3, 4, 512], 42);
    // The same along height and channels (the channel line is 512 channels long).
    assert_accurate((3, 3, 1), [1, 512, 512, 1], 43);
    // Blocks (window above MAX_DIRECT_WINDOW) on every axis.
    assert_accurate((5, 5, 5), [1, 130, 130, 130], 45);

    let x = WeightRng::new(44).uniform_range([2, 512], 99.0, 101.0);
    for window in [3, 5] {
        let got = sumpool_features_running(&x, window);
        let rel = max_relative_error(&got, &sumpool_features(&x, window));
        assert!(rel <= 1e-4, "relative error {rel}");
    }
}

#[test]
fn hand_computed_values() {
    // One 3x3 plane, window 1 x 2 x 2 with padding 1: neighbourhood sums of 2x2 blocks.
    let x = Tensor::from_vec([1, 1, 3, 3], vec![1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    let spec = SumPoolSpec {
        groups: 1,
        window: (1, 2, 2),
        pad: (1, 1),
        stride: (1, 1),
    };
    #[rustfmt::skip]
    let want = [
        1., 3., 5., 3.,
        5., 12., 16., 9.,
        11., 24., 28., 15.,
        7., 15., 17., 9.,
    ];
    let y = sumpool_running(&x, &spec);
    assert_eq!(y.shape(), &[1, 1, 4, 4]);
    assert_eq!(y.data(), &want);
    // Stride 2 keeps rows and columns 0 and 2.
    let y = sumpool_running(
        &x,
        &SumPoolSpec {
            stride: (2, 2),
            ..spec
        },
    );
    assert_eq!(y.data(), &[1., 5., 11., 28.]);
    // Two groups of two channels, window 2 channels: one output channel per group.
    let x = Tensor::from_vec([1, 4, 1, 1], vec![1., 2., 3., 4.]);
    let spec = SumPoolSpec {
        groups: 2,
        window: (2, 1, 1),
        pad: (0, 0),
        stride: (1, 1),
    };
    assert_eq!(sumpool_running(&x, &spec).data(), &[3., 7.]);
    assert_eq!(
        sumpool_features_running(&Tensor::from_vec([1, 4], vec![1., 2., 3., 4.]), 2).data(),
        &[3., 5., 7.]
    );
}

#[test]
fn output_shape() {
    let spec = SumPoolSpec {
        groups: 2,
        window: (3, 3, 2),
        pad: (1, 0),
        stride: (2, 3),
    };
    // Cg = 4 -> 2 channels per group; Hp = 9 -> (9-3)/2+1 = 4; Wp = 10 -> (10-2)/3+1 = 3.
    assert_eq!(spec.output_shape(&[5, 8, 7, 10]), vec![5, 4, 4, 3]);
}

#[test]
fn hand_computed_counts() {
    assert_eq!(MAX_DIRECT_WINDOW, 3);
    // [1, 4, 5, 6], 2 groups (Cg = 2), window (2, 3, 3), pad (1, 1), stride 1:
    // Hp = 7, Wp = 8, Wo = 6, Ho = 5. Every window is at most 3: direct sums throughout.
    let shape = [1, 4, 5, 6];
    let spec = SumPoolSpec {
        groups: 2,
        window: (2, 3, 3),
        pad: (1, 1),
        stride: (1, 1),
    };
    // Width: 4 channels x 7 padded rows, each 6 outputs of 2 adds.
    assert_eq!(
        sumpool_running_adds_along(&shape, &spec, Axis::Width),
        28 * 12
    );
    // Height: 4 channels x 6 columns, each 5 outputs of 2 adds.
    assert_eq!(
        sumpool_running_adds_along(&shape, &spec, Axis::Height),
        24 * 10
    );
    // Channels: 2 groups x 5 x 6 positions, each one output: 1 add.
    assert_eq!(sumpool_running_adds_along(&shape, &spec, Axis::Channel), 60);
    assert_eq!(sumpool_running_adds(&shape, &spec), 336 + 240 + 60);
    // Direct: 2 x 5 x 6 outputs of 18 terms each.
    assert_eq!(sumpool_direct_adds(&shape, &spec), 60 * 17);

    // Window 2: one add per output, where a running sum would need two.
    let spec = SumPoolSpec {
        groups: 1,
        window: (1, 1, 2),
        pad: (0, 0),
        stride: (1, 1),
    };
    assert_eq!(sumpool_running_adds(&[1, 1, 1, 10], &spec), 9);
    assert_eq!(sumpool_direct_adds(&[1, 1, 1, 10], &spec), 9);

    // A direct pass sums only the kept outputs: columns 0, 2, 4, 6 of 10, window 3.
    let spec = SumPoolSpec {
        groups: 1,
        window: (1, 1, 3),
        pad: (0, 0),
        stride: (1, 2),
    };
    assert_eq!(spec.output_shape(&[1, 1, 1, 10]), vec![1, 1, 1, 4]);
    assert_eq!(sumpool_running_adds(&[1, 1, 1, 10], &spec), 4 * 2);
    assert_eq!(sumpool_direct_adds(&[1, 1, 1, 10], &spec), 4 * 2);

    // Blocks compute every stride-1 sum: window 4, stride 2 on 10 columns keeps 4 of the 7
    // sums, so direct sums of the 4 kept ones (12 adds) beat blocks of all 7 (16).
    let spec = SumPoolSpec {
        groups: 1,
        window: (1, 1, 4),
        pad: (0, 0),
        stride: (1, 2),
    };
    assert_eq!(spec.output_shape(&[1, 1, 1, 10]), vec![1, 1, 1, 4]);
    assert_eq!(line_scheme(10, 4, 2), LineScheme::Direct);
    assert_eq!(sumpool_running_adds(&[1, 1, 1, 10], &spec), 4 * 3);
    assert_eq!(sumpool_direct_adds(&[1, 1, 1, 10], &spec), 4 * 3);

    // Blocks of 5 over 196 outputs: the first output (4 adds), then 39 blocks of 3·5 − 4.
    assert_eq!(line_scheme(200, 5, 1), LineScheme::Blocks);
    assert_eq!(line_sum_adds(200, 5, 1), 4 + 39 * 11);
    assert_eq!(sumpool_features_adds(2, 200, 5), 2 * (4 + 39 * 11));
    assert_eq!(sumpool_features_adds(2, 200, 3), 2 * 198 * 2);
    assert_eq!(sumpool_features_adds(2, 200, 2), 2 * 199);
    assert_eq!(sumpool_features_adds(2, 200, 1), 0);

    // Large windows are where blocks pay off: 7x7 on a 56x56 plane.
    let spec = SumPoolSpec {
        groups: 1,
        window: (1, 7, 7),
        pad: (3, 3),
        stride: (1, 1),
    };
    let shape = [1, 1, 56, 56];
    // 62 padded rows of 56 outputs (first output 6, 7 blocks of 17, a last block of 6 outputs:
    // 7 + 2·6 − 3 = 16, so 141), then 56 columns of the same.
    assert_eq!(line_sum_adds(62, 7, 1), 6 + 7 * 17 + 16);
    assert_eq!(sumpool_running_adds(&shape, &spec), 62 * 141 + 56 * 141);
    assert_eq!(sumpool_direct_adds(&shape, &spec), 56 * 56 * 48);
}

#[test]
#[should_panic(expected = "does not fit")]
fn rejects_oversized_window() {
    let spec = SumPoolSpec {
        groups: 1,
        window: (1, 4, 1),
        pad: (1, 0),
        stride: (1, 1),
    };
    let _ = sumpool_running(&Tensor::zeros([1, 1, 1, 1]), &spec);
}

#[test]
#[should_panic(expected = "stride")]
fn rejects_zero_stride() {
    let spec = SumPoolSpec {
        groups: 1,
        window: (1, 1, 1),
        pad: (0, 0),
        stride: (0, 1),
    };
    let _ = sumpool_running_adds(&[1, 1, 1, 1], &spec);
}

/// The f32 unit roundoff, 2⁻²⁴.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// The sliding-window sum-pool against float64 on `data`, per output relative to `Σ|terms|`:
/// within the bound of the module documentation, `(wc + wh + ww − 3)·u` — no more than the
/// worst case of summing each output's `wc·wh·ww` terms directly, whatever the other values of
/// the line are.
fn assert_meets_bound(what: &str, data: Vec<f32>, shape: [usize; 4], spec: &SumPoolSpec) {
    let x = Tensor::from_vec(shape, data);
    let got = sumpool_running(&x, spec);
    let (want, magnitude) = scc_testkit::reference::sumpool3d(
        x.data(),
        shape,
        spec.groups,
        spec.window,
        spec.pad,
        spec.stride,
    );
    let (wc, wh, ww) = spec.window;
    let bound = (wc + wh + ww - 3).max(1) as f64 * U * 1.01;
    scc_testkit::scaled(got.data(), &want, &magnitude).assert_within(bound, what);
}

#[test]
fn one_huge_channel_does_not_spoil_the_others() {
    // The case: 64 channels, a channel window of 33 (sconv2d c=32, kernel 1), channel 0
    // at 3e4. A running sum over the channels was off by 1e-3 of the output's magnitude.
    let shape = [1, 64, 4, 4];
    let spec = SumPoolSpec {
        groups: 1,
        window: (33, 1, 1),
        pad: (0, 0),
        stride: (1, 1),
    };
    let data = scc_testkit::reference::adversarial::one_huge_channel(shape, 0, 3e4, 1);
    assert_meets_bound("one huge channel", data, shape, &spec);
    // Every axis at once, with padding, a stride and groups, the huge channel in the middle.
    let shape = [2, 48, 19, 23];
    for (window, stride) in [
        ((9, 5, 7), (1, 1)),
        ((17, 4, 4), (2, 1)),
        ((5, 6, 9), (1, 3)),
    ] {
        let spec = SumPoolSpec {
            groups: 2,
            window,
            pad: (2, 3),
            stride,
        };
        let data = scc_testkit::reference::adversarial::one_huge_channel(shape, 11, 1e6, 2);
        assert_meets_bound("one huge channel, every axis", data, shape, &spec);
    }
}

#[test]
fn values_over_many_orders_of_magnitude_stay_accurate() {
    let shape = [1, 40, 17, 33];
    let len = shape.iter().product();
    for (window, pad, stride) in [
        ((1, 1, 8), (0, 0), (1, 1)),
        ((1, 8, 1), (3, 0), (1, 1)),
        ((21, 1, 1), (0, 0), (1, 1)),
        ((6, 5, 4), (2, 2), (2, 2)),
    ] {
        let spec = SumPoolSpec {
            groups: 1,
            window,
            pad,
            stride,
        };
        let data = scc_testkit::reference::adversarial::wide_range(len, 12.0, 3);
        assert_meets_bound("wide dynamic range", data, shape, &spec);
    }
}
