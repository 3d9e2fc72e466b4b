//! The structured-convolution identities (Bhalgat et al. 2020) and the least-squares projection.

use proptest::prelude::*;
use scc_runtime::Tensor;
use scc_runtime::kernels::{Conv2dParams, conv2d, linear, sumpool_features, sumpool3d};
use scc_runtime::random::WeightRng;
use scc_runtime::structure::{
    compose_alpha, compose_alpha_linear, project_to_structure, project_to_structure_linear,
    structure_box,
};

fn tolerance(want: &Tensor) -> f32 {
    1e-4 * want.max_abs().max(1.0)
}

#[derive(Clone, Debug)]
struct SconvCase {
    n: usize,
    groups: usize,
    cg: usize,
    og: usize,
    c: usize,
    k: (usize, usize),
    nk: (usize, usize),
    stride: (usize, usize),
    pad: (usize, usize),
    hw: (usize, usize),
    bias: bool,
    seed: u64,
}

fn sconv_case() -> impl Strategy<Value = SconvCase> {
    (
        (1usize..=2, 1usize..=3, 1usize..=5, 1usize..=3),
        (1usize..=4, 1usize..=4, 1usize..=3, 1usize..=3),
        (0usize..=2, 0usize..=2, 0usize..4, 0usize..4),
        (any::<bool>(), any::<u64>()),
    )
        .prop_flat_map(
            |((n, groups, cg, og), (kh, kw, sh, sw), (ph, pw, eh, ew), (bias, seed))| {
                (1..=cg, 1..=kh, 1..=kw).prop_map(move |(c, nh, nw)| SconvCase {
                    n,
                    groups,
                    cg,
                    og,
                    c,
                    k: (kh, kw),
                    nk: (nh, nw),
                    stride: (sh, sw),
                    pad: (ph, pw),
                    // The smallest size with a non-empty output, plus some slack.
                    hw: (
                        kh.saturating_sub(2 * ph).max(1) + eh,
                        kw.saturating_sub(2 * pw).max(1) + ew,
                    ),
                    bias,
                    seed,
                })
            },
        )
}

fn relative_residual(w: &Tensor, approx: &Tensor) -> f64 {
    let norm = |it: &mut dyn Iterator<Item = f64>| it.map(|v| v * v).sum::<f64>().sqrt();
    let nw = norm(&mut w.data().iter().map(|&v| f64::from(v)));
    let nr = norm(
        &mut w
            .data()
            .iter()
            .zip(approx.data())
            .map(|(&a, &b)| f64::from(a) - f64::from(b)),
    );
    if nw == 0.0 { 0.0 } else { nr / nw }
}

proptest! {
    #![proptest_config(scc_testkit::config(1000))]

    /// conv2d(x, compose(alpha)) == conv2d(sumpool3d(pad(x), box), alpha) at the layer's stride
    /// and no padding.
    #[test]
    fn sconv2d_identity(case in sconv_case()) {
        let mut rng = WeightRng::new(case.seed);
        let c_in = case.groups * case.cg;
        let out = case.groups * case.og;
        let (kh, kw) = case.k;
        let (nh, nw) = case.nk;
        let x = rng.uniform([case.n, c_in, case.hw.0, case.hw.1], 1.0);
        let alpha = rng.uniform([out, case.c, nh, nw], 1.0);
        let b = rng.uniform([out], 1.0);
        let bias = case.bias.then_some(&b);

        let dense = compose_alpha(&alpha, case.cg, kh, kw);
        prop_assert_eq!(dense.shape(), &[out, case.cg, kh, kw]);
        let p = Conv2dParams {
            stride: case.stride,
            pad: case.pad,
            dilation: (1, 1),
            groups: case.groups,
        };
        let want = conv2d(&x, &dense, bias, &p);

        let window = structure_box(case.cg, case.c, kh, nh, kw, nw);
        let pooled = sumpool3d(&x, case.groups, window, case.pad);
        prop_assert_eq!(pooled.shape()[1], case.groups * case.c);
        let got = conv2d(&pooled, &alpha, bias, &Conv2dParams { pad: (0, 0), ..p });
        prop_assert_eq!(got.shape(), want.shape());
        let diff = got.max_abs_diff(&want);
        prop_assert!(diff <= tolerance(&want), "diff {} for {:?}", diff, case);
    }

    /// linear(x, compose(alpha)) == linear(sumpool_features(x, F - c + 1), alpha).
    #[test]
    fn slinear_identity(
        (n, f, out, bias_on, seed) in (1usize..=3, 1usize..=12, 1usize..=5, any::<bool>(), any::<u64>()),
        c_raw in 0usize..12,
    ) {
        let c = c_raw % f + 1;
        let mut rng = WeightRng::new(seed);
        let x = rng.uniform([n, f], 1.0);
        let alpha = rng.uniform([out, c], 1.0);
        let b = rng.uniform([out], 1.0);
        let bias = bias_on.then_some(&b);
        let want = linear(&x, &compose_alpha_linear(&alpha, f), bias);
        let got = linear(&sumpool_features(&x, f - c + 1), &alpha, bias);
        prop_assert!(got.max_abs_diff(&want) <= tolerance(&want));
    }

    /// Projecting a structured kernel recovers its alpha exactly (up to rounding).
    #[test]
    fn projection_recovers_alpha(case in sconv_case()) {
        let (kh, kw) = case.k;
        let (nh, nw) = case.nk;
        let o = case.groups * case.og;
        let alpha = WeightRng::new(case.seed).uniform([o, case.c, nh, nw], 1.0);
        let w = compose_alpha(&alpha, case.cg, kh, kw);
        let p = project_to_structure(&w, case.c, nh, nw);
        prop_assert!(p.relative_residual < 1e-5, "residual {}", p.relative_residual);
        prop_assert!(p.alpha.max_abs_diff(&alpha) < 1e-4, "{:?} vs {:?}", p.alpha, alpha);
    }

    /// Projecting a dense kernel: the reported residual is the true one, the residual is
    /// orthogonal to every box (least squares), and projecting again changes nothing.
    #[test]
    fn projection_of_dense_kernel(case in sconv_case()) {
        let (kh, kw) = case.k;
        let (nh, nw) = case.nk;
        let o = case.groups * case.og;
        let w = WeightRng::new(case.seed).uniform([o, case.cg, kh, kw], 1.0);
        let p = project_to_structure(&w, case.c, nh, nw);
        prop_assert_eq!(p.alpha.shape(), &[o, case.c, nh, nw]);
        let composed = compose_alpha(&p.alpha, case.cg, kh, kw);
        prop_assert!((p.relative_residual - relative_residual(&w, &composed)).abs() < 1e-5);
        prop_assert!((0.0..=1.0 + 1e-6).contains(&p.relative_residual));

        // Normal equations: Aᵀ(W − A·alpha) = 0, i.e. the residual sums to 0 over every box.
        // Aᵀ is sum-pooling with the box window (treating O as the batch axis).
        let residual = Tensor::from_vec(
            w.shape(),
            w.data().iter().zip(composed.data()).map(|(a, b)| a - b).collect(),
        );
        let window = structure_box(case.cg, case.c, kh, nh, kw, nw);
        let normal = sumpool3d(&residual, 1, window, (0, 0));
        prop_assert_eq!(normal.shape(), p.alpha.shape());
        prop_assert!(normal.max_abs() < 1e-4, "{:?}", normal);

        let again = project_to_structure(&composed, case.c, nh, nw);
        prop_assert!(again.alpha.max_abs_diff(&p.alpha) < 1e-4);
        prop_assert!(again.relative_residual < 1e-5);
    }

    #[test]
    fn linear_projection(
        (o, f, seed) in (1usize..=4, 1usize..=12, any::<u64>()),
        c_raw in 0usize..12,
    ) {
        let c = c_raw % f + 1;
        let mut rng = WeightRng::new(seed);
        let alpha = rng.uniform([o, c], 1.0);
        let p = project_to_structure_linear(&compose_alpha_linear(&alpha, f), c);
        prop_assert!(p.relative_residual < 1e-5);
        prop_assert!(p.alpha.max_abs_diff(&alpha) < 1e-4);

        let w = rng.uniform([o, f], 1.0);
        let p = project_to_structure_linear(&w, c);
        prop_assert_eq!(p.alpha.shape(), &[o, c]);
        let composed = compose_alpha_linear(&p.alpha, f);
        prop_assert!((p.relative_residual - relative_residual(&w, &composed)).abs() < 1e-5);
        let again = project_to_structure_linear(&composed, c);
        prop_assert!(again.alpha.max_abs_diff(&p.alpha) < 1e-4);
    }
}
