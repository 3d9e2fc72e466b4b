//! The JIT's elementwise, data-movement and linear kernels against the reference
//! interpreter: every model is lowered, optimised with the default pipeline and random
//! weights, compiled, and run on seeded random inputs with 1 and 3 threads. Outputs must
//! match the interpreter within 1e-4 · max(1, max |expected|) (standalone batchnorm within
//! 1e-5; copies, `+`, `*`, relu and upsampling bit for bit), and the two thread counts must
//! agree bit for bit.
//!
//! Models avoid `conv2d` and the pools (other kernels): their inputs feed the ops directly.

use scc_compiler::codegen::jit::CompiledModel;
use scc_compiler::interp;
use scc_compiler::ir::{EpilogueStep, Graph, Op};
use scc_compiler::passes::{PassManager, PassOptions};
use scc_compiler::target::{Target, Tier};
use scc_compiler::weights;
use scc_runtime::Tensor;
use scc_runtime::random::WeightRng;
use std::collections::BTreeMap;

/// Lowers and optimises the only model of `src`; returns the optimised graph and weights.
fn build(src: &str) -> (Graph, weights::Weights) {
    let file = scc_lang::parse(&scc_lang::SourceFile::new("t.sc", src)).expect("parses");
    let graph = scc_compiler::lower::lower(&file, None).expect("lowers");
    let weights = weights::Weights::random(&graph, 11).unwrap();
    let optimized = PassManager::new(PassOptions::default())
        .expect("pass options")
        .run(&graph, Some(&weights))
        .expect("passes");
    (optimized.graph, weights)
}

/// Seeded inputs, uniform in [-bound, bound] with `bound` from `bounds` by input name (1
/// when not listed).
fn inputs(graph: &Graph, bounds: &[(&str, f32)], seed: u64) -> BTreeMap<String, Tensor> {
    graph
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, (name, id))| {
            let bound = bounds
                .iter()
                .find(|(n, _)| n == name)
                .map_or(1.0, |(_, b)| *b);
            let shape = graph.node(*id).shape.clone();
            (
                name.clone(),
                WeightRng::new(seed * 1000 + i as u64).uniform(shape, bound),
            )
        })
        .collect()
}

/// Compiles and runs `graph` with 1 and 3 threads on two seeded input sets and compares
/// with the interpreter within `relative` · max(1, max |expected|) (0: bit-exact); the
/// two thread counts must agree bit for bit.
fn compare_within(
    graph: &Graph,
    weights: &weights::Weights,
    bounds: &[(&str, f32)],
    relative: f32,
) {
    for seed in [1, 2] {
        let inputs = inputs(graph, bounds, seed);
        let expected = interp::run(graph, weights, &inputs).expect("interpreter runs");
        let mut previous: Option<Vec<(String, Tensor)>> = None;
        for threads in [1, 3] {
            let model = CompiledModel::compile(
                graph,
                weights,
                &Target::host_with(Some(Tier::V128)).unwrap(),
                threads,
            )
            .expect("compiles");
            let got = model.run(&inputs).expect("runs");
            assert_eq!(got.len(), expected.len());
            for ((name, got), (want_name, want)) in got.iter().zip(&expected) {
                assert_eq!(name, want_name);
                assert_eq!(got.shape(), want.shape(), "output `{name}`");
                let tolerance = relative * want.max_abs().max(1.0);
                let (index, diff) = got
                    .data()
                    .iter()
                    .zip(want.data())
                    .map(|(g, w)| {
                        if g.is_nan() && w.is_nan() {
                            0.0
                        } else {
                            (g - w).abs()
                        }
                    })
                    .enumerate()
                    .fold((0, 0.0f32), |best, (i, d)| {
                        if d > best.1 || d.is_nan() {
                            (i, d)
                        } else {
                            best
                        }
                    });
                assert!(
                    diff <= tolerance,
                    "output `{name}` ({threads} threads, seed {seed}): element {index} is {}, expected {} \
                     (|diff| {diff} > {tolerance})",
                    got.data()[index],
                    want.data()[index]
                );
            }
            if let Some(previous) = &previous {
                for ((name, a), (_, b)) in previous.iter().zip(&got) {
                    let same = a
                        .data()
                        .iter()
                        .zip(b.data())
                        .all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(
                        same,
                        "output `{name}` differs between 1 and {threads} threads"
                    );
                }
            }
            previous = Some(got);
        }
    }
}

fn check(src: &str, bounds: &[(&str, f32)]) -> Graph {
    check_within(src, bounds, 1e-4)
}

fn check_within(src: &str, bounds: &[(&str, f32)], relative: f32) -> Graph {
    let (graph, weights) = build(src);
    compare_within(&graph, &weights, bounds, relative);
    graph
}

/// Copies and single f32 operations, computed as the reference does: bit-exact.
fn check_exact(src: &str) -> Graph {
    check_within(src, &[], 0.0)
}

/// The ops of the graph's nodes (inputs excluded), in topological order.
fn ops(graph: &Graph) -> Vec<Op> {
    graph
        .topological_order()
        .into_iter()
        .map(|id| graph.node(id).op.clone())
        .filter(|op| !matches!(op, Op::Input { .. }))
        .collect()
}

#[test]
fn activations_rank4_and_rank2() {
    let names = [
        "relu",
        "relu6",
        "sigmoid",
        "tanh",
        "silu",
        "hardswish",
        "hardsigmoid",
    ];
    let calls: Vec<String> = names
        .iter()
        .map(|a| format!("{a}(x), {a}(v), {a}(big)"))
        .collect();
    let src = format!(
        "model m(x: [2, 3, 5, 7], v: [3, 37], big: [1, 3, 50, 50]) {{ return {}; }}",
        calls.join(", ")
    );
    let graph = check(&src, &[("x", 8.0), ("v", 8.0), ("big", 8.0)]);
    assert_eq!(ops(&graph).len(), 21);
    // Extreme values: exp clamping, saturation of sigmoid and tanh.
    check(&src, &[("x", 120.0), ("v", 30.0), ("big", 1.0)]);
}

#[test]
fn linear_with_bias_residual_and_relu() {
    let src = "model m(x: [3, 37], y: [3, 10]) { let fc = linear(x, 10); let r = relu(fc + y); return r; }";
    let graph = check(src, &[]);
    let ops = ops(&graph);
    assert_eq!(ops.len(), 1, "{ops:?}");
    let Op::Linear(attrs) = &ops[0] else {
        panic!("{ops:?}")
    };
    assert!(attrs.bias);
    assert_eq!(attrs.epilogue.len(), 2);
    assert!(matches!(attrs.epilogue[0], EpilogueStep::Residual));
}

#[test]
fn linear_without_bias_and_activations() {
    let src = "model m(x: [4, 20]) { let fc = linear(x, 13, bias=false); return relu(fc); }";
    let graph = check(src, &[]);
    assert!(matches!(&ops(&graph)[..], [Op::Linear(a)] if !a.bias && a.epilogue.len() == 1));
    let src = "model m(x: [2, 9]) { let fc = linear(x, 5); return silu(fc); }";
    check(src, &[("x", 4.0)]);
}

#[test]
fn linear_shapes() {
    // GEMV (N = 1) with a block remainder and an odd F; exact blocks; tiny; F = 1.
    for (n, f, o) in [
        (1, 515, 1000),
        (1, 512, 64),
        (5, 64, 16),
        (2, 3, 1),
        (3, 1, 9),
        (1, 4, 7),
        (7, 33, 17),
    ] {
        let src = format!("model m(x: [{n}, {f}]) {{ let fc = linear(x, {o}); return fc; }}");
        check(&src, &[]);
    }
}

#[test]
fn linear_with_residual_before_and_after_activation() {
    let src = "model m(x: [2, 30], y: [2, 12], z: [2, 12]) {
        let fc = linear(x, 12);
        let h = relu6(fc + y);
        return tanh(h + z);
    }";
    let graph = check(src, &[("x", 3.0)]);
    assert!(
        matches!(&ops(&graph)[..], [Op::Linear(a)] if a.epilogue.len() == 4),
        "{:?}",
        ops(&graph)
    );
}

#[test]
fn linear_with_folded_batchnorm() {
    let src =
        "model m(x: [3, 24]) { let fc = linear(x, 12); let bn = batchnorm(fc); return relu(bn); }";
    let graph = check(src, &[]);
    assert!(
        matches!(&ops(&graph)[..], [Op::Linear(_)]),
        "{:?}",
        ops(&graph)
    );
}

#[test]
fn standalone_batchnorm() {
    let src = "model m(x: [2, 5, 3, 7], v: [3, 11], g: [2, 6, 1, 1]) {
        let bn4 = batchnorm(x);
        let bn2 = batchnorm(v, eps=0.001);
        let bn1 = batchnorm(g);
        return bn4, bn2, bn1;
    }";
    // Within 1e-5 of the f64 reference (scale and shift folded at compile time).
    let graph = check_within(src, &[("x", 3.0)], 1e-5);
    assert_eq!(
        ops(&graph)
            .iter()
            .filter(|op| matches!(op, Op::BatchNorm { .. }))
            .count(),
        3
    );
    // Channels read from a plane index over several images, with a vector body.
    check_within(
        "model m(x: [3, 4, 6, 6]) { let bn = batchnorm(x); return bn; }",
        &[],
        1e-5,
    );
}

#[test]
fn slinear() {
    // Decomposed into the feature sum-pool and a linear layer with the fused relu.
    let src = "model m(x: [2, 40]) { let fc = slinear(x, 10, c=6); return relu(fc); }";
    let graph = check(src, &[]);
    assert!(
        matches!(&ops(&graph)[..], [Op::SumPoolFeatures { .. }, Op::Linear(a)] if a.epilogue.len() == 1),
        "{:?}",
        ops(&graph)
    );
    check(
        "model m(x: [1, 19]) { let fc = slinear(x, 5, c=19, bias=false); return fc; }",
        &[],
    );
}

#[test]
fn add_and_mul() {
    let src = "model m(a: [2, 6, 5, 7], b: [2, 6, 5, 7], g: [2, 6, 1, 1], h: [2, 6, 1, 1], p: [3, 10], q: [3, 10]) {
        return a + b, a * b, a * g, a + g, g * h, p + q, p * q, a * a;
    }";
    check_exact(src);
    // SE gate over large planes (vector body and tail) and over 4-aligned planes.
    let src = "model m(a: [1, 3, 45, 45], g: [1, 3, 1, 1], c: [2, 4, 4, 2], d: [2, 4, 1, 1]) {
        return a * sigmoid(g), c + d;
    }";
    check(src, &[]);
    // A same-shape op larger than one chunk.
    check_exact("model m(a: [2, 3, 40, 40], b: [2, 3, 40, 40]) { return a * b, a + b; }");
}

#[test]
fn concat() {
    let src = "model m(a: [2, 3, 5, 7], b: [2, 1, 5, 7], c: [2, 4, 5, 7], p: [3, 5], q: [3, 2], r: [3, 9]) {
        return concat(a, b, c), concat(p, q, r), concat(c, a);
    }";
    let graph = check_exact(src);
    assert_eq!(
        ops(&graph)
            .iter()
            .filter(|op| matches!(op, Op::Concat))
            .count(),
        3
    );
    // Per-image blocks of several chunks.
    check_exact(
        "model m(a: [2, 3, 40, 40], b: [2, 2, 40, 40], c: [2, 1, 40, 40]) { return concat(a, b, c); }",
    );
}

#[test]
fn upsample_nearest() {
    for (shape, scale) in [
        ("[2, 3, 5, 7]", 2),
        ("[1, 2, 3, 9]", 3),
        ("[1, 2, 4, 8]", 1),
        ("[2, 1, 3, 5]", 5),
        ("[1, 2, 2, 3]", 4),
    ] {
        let src = format!("model m(x: {shape}) {{ return upsample(x, {scale}); }}");
        check_exact(&src);
    }
    // Scale 41 on width 2: PyTorch's f32 index formula differs from integer division
    // (the table-driven path).
    check_exact("model m(x: [1, 2, 2, 2]) { return upsample(x, 41, mode=\"nearest\"); }");
}

#[test]
fn upsample_bilinear() {
    for (shape, scale) in [
        ("[2, 3, 5, 7]", 2),
        ("[1, 2, 3, 9]", 3),
        ("[1, 1, 1, 1]", 4),
        ("[2, 2, 4, 1]", 2),
        ("[1, 2, 6, 6]", 1),
    ] {
        let src =
            format!("model m(x: {shape}) {{ return upsample(x, {scale}, mode=\"bilinear\"); }}");
        // The same taps, weights and operation order as the reference: bit-exact.
        check_exact(&src);
    }
}

#[test]
fn softmax() {
    let src = "model m(a: [3, 10], b: [2, 3], c: [2, 37], d: [2, 5, 3, 7], e: [1, 3, 4, 4], f: [2, 1, 3, 3]) {
        return softmax(a), softmax(b), softmax(c), softmax(d), softmax(e), softmax(f);
    }";
    let bounds = [
        ("a", 8.0),
        ("b", 8.0),
        ("c", 8.0),
        ("d", 8.0),
        ("e", 8.0),
        ("f", 8.0),
    ];
    check(src, &bounds);
    // Large logits: stability needs the subtracted maximum.
    let bounds = [
        ("a", 80.0),
        ("b", 200.0),
        ("c", 50.0),
        ("d", 100.0),
        ("e", 30.0),
        ("f", 1.0),
    ];
    check(src, &bounds);
}

#[test]
fn flatten() {
    let graph = check_exact("model m(x: [2, 3, 5, 7]) { let f = flatten(x); return relu(f); }");
    assert!(ops(&graph).iter().any(|op| matches!(op, Op::Flatten)));
    // A classifier head on a flattened input: flatten → linear with fused activation.
    check(
        "model m(x: [2, 4, 3, 3], y: [2, 10]) { let fc = linear(flatten(x), 10); return softmax(fc + y); }",
        &[],
    );
}

/// Every activation, JIT-compiled and interpreted, within 1e-6 relative of float64 over the
/// whole f32 range — every binade of both signs, subnormals included (relative to the value
/// itself, or to the smallest normal f32 below it: see `scc_testkit::accuracy`) — with
/// PyTorch's ±∞ and NaN (`silu(-∞)` and `hardswish(-∞)` are NaN, `tanh(±∞) = ±1`). The input
/// length is odd, so both the f32x4 loop and the scalar tail run.
#[test]
fn activations_are_accurate_over_the_whole_f32_range() {
    let sweep = scc_testkit::accuracy::f32_sweep(1 << 18);
    let len = sweep.len() | 1;
    let mut values = sweep;
    values.resize(len, 1e-8);
    for name in [
        "relu",
        "relu6",
        "sigmoid",
        "tanh",
        "silu",
        "hardswish",
        "hardsigmoid",
    ] {
        let src = format!("model m(v: [1, {len}]) {{ return {name}(v); }}");
        let (graph, weights) = build(&src);
        let inputs: BTreeMap<String, Tensor> =
            [("v".to_string(), Tensor::from_vec([1, len], values.clone()))].into();
        let reference = scc_testkit::reference::activation(name).unwrap();
        let want: Vec<f64> = values.iter().map(|&v| reference(f64::from(v))).collect();
        let model = CompiledModel::compile(
            &graph,
            &weights,
            &Target::host_with(Some(Tier::V128)).unwrap(),
            2,
        )
        .expect("compiles");
        let jit = model.run(&inputs).expect("runs");
        let jit = scc_testkit::relative(jit[0].1.data(), &want);
        let interpreted = interp::run(&graph, &weights, &inputs).expect("interpreter runs");
        let interpreted = scc_testkit::relative(interpreted[0].1.data(), &want);
        eprintln!("{name}: JIT {jit}; interpreter {interpreted}");
        jit.assert_within(1e-6, &format!("JIT {name}"));
        interpreted.assert_within(1e-6, &format!("interpreter {name}"));
    }
}

/// `clamp` with both bounds, one bound, and bounds that cross; `leaky_relu`; NaN and infinities
/// pass through as the reference's (single f32 operations: bit-exact up to the sign of zero).
#[test]
fn clamp_and_leaky_relu() {
    let src = "model m(x: [2, 3, 5, 7], v: [3, 37]) {
        return clamp(x, min=-0.5, max=0.25), clamp(v, min=0.1), clamp(x, max=-0.2),
               clamp(v, min=1.0, max=-1.0), leaky_relu(x), leaky_relu(v, slope=0.2),
               leaky_relu(x, slope=-3.0);
    }";
    let graph = check_exact(src);
    assert_eq!(ops(&graph).len(), 7);
    // Special values through the vector body and the scalar tail.
    let (graph, weights) = build(
        "model m(v: [1, 11]) { return clamp(v, min=-1.0, max=2.0), leaky_relu(v, slope=0.5); }",
    );
    let special = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        0.0,
        3.0,
        -3.0,
        f32::MIN_POSITIVE,
        -1e-40,
        f32::NAN,
        f32::NEG_INFINITY,
    ];
    let inputs: BTreeMap<String, Tensor> =
        [("v".to_string(), Tensor::from_vec([1, 11], special.to_vec()))].into();
    let want = interp::run(&graph, &weights, &inputs).unwrap();
    let got = CompiledModel::compile(
        &graph,
        &weights,
        &Target::host_with(Some(Tier::V128)).unwrap(),
        1,
    )
    .unwrap()
    .run(&inputs)
    .unwrap();
    for ((_, g), (_, w)) in got.iter().zip(&want) {
        for (a, b) in g.data().iter().zip(w.data()) {
            assert!(a == b || (a.is_nan() && b.is_nan()), "{a} vs {b}");
        }
    }
}

/// Arithmetic with a constant on either side (`+ - * /`), and `-` and `/` of two tensors
/// (same shape and the `[N, C, 1, 1]` broadcast): one f32 operation each, bit-exact.
#[test]
fn scalar_arithmetic_sub_and_div() {
    let src = "model m(a: [2, 6, 5, 7], b: [2, 6, 5, 7], g: [2, 6, 1, 1], p: [3, 10], q: [3, 10]) {
        return a * 0.5, 2.0 - a, a / 3.0, 1.0 / (p + 4.0), a - b, a / (b + 2.0),
               a - g, a / (g + 3.0), p - q, q / 7, 3 * p - 1;
    }";
    let graph = check_exact(src);
    assert!(ops(&graph).iter().any(|op| matches!(op, Op::Sub)));
    assert!(ops(&graph).iter().any(|op| matches!(op, Op::Div)));
    assert!(ops(&graph).iter().any(|op| matches!(op, Op::Scalar(_))));
    check_exact("model m(a: [2, 3, 40, 40], b: [2, 3, 40, 40]) { return a - b, a / b, a - 0.25; }");
}

/// `affine` (with and without bias) on planes and on `[N, F]` rows, and batchnorm with the
/// batch's own statistics (f64 sums: within 1e-5 of the f64 reference).
#[test]
fn affine_and_batch_statistics() {
    let src = "model m(x: [2, 5, 3, 7], v: [3, 11], g: [2, 6, 1, 1]) {
        let a4 = affine(x);
        let a2 = affine(v, bias=false);
        let a1 = affine(g);
        return a4, a2, a1;
    }";
    check_within(src, &[("x", 3.0)], 1e-6);
    let src = "model m(x: [3, 4, 6, 6], v: [5, 9], big: [2, 3, 40, 40]) {
        let bn4 = batchnorm(x, training=true);
        let bn2 = batchnorm(v, eps=0.001, training=true);
        let bnb = batchnorm(big, training=true);
        return bn4, bn2, bnb;
    }";
    let graph = check_within(src, &[("x", 3.0), ("big", 10.0)], 1e-5);
    // Never folded into a producer: its statistics are those of the input.
    assert_eq!(
        ops(&graph)
            .iter()
            .filter(|op| matches!(op, Op::BatchNormTraining { .. }))
            .count(),
        3
    );
}

/// Explicit padding: every side alone, all sides, a fill value, rows wider than a vector, and
/// a pad the optimiser keeps (asymmetric) in front of a conv. Copies: bit-exact.
#[test]
fn pad() {
    let src = "model m(x: [2, 3, 5, 7], y: [1, 2, 1, 1], z: [1, 2, 9, 21]) {
        return pad(x, top=1), pad(x, left=2), pad(x, bottom=3), pad(x, right=1),
               pad(x, top=1, left=2, bottom=3, right=4, value=-1.5), pad(y, left=5, right=6),
               pad(z, top=2, left=3, bottom=1, right=5), pad(x);
    }";
    let graph = check_exact(src);
    assert_eq!(
        ops(&graph)
            .iter()
            .filter(|op| matches!(op, Op::Pad(_)))
            .count(),
        8
    );
    let src = "model m(x: [1, 3, 8, 8]) {
        let p = pad(x, bottom=1, right=1);
        let conv = conv2d(p, 4, kernel=3, stride=2);
        return conv;
    }";
    check(src, &[]);
}

/// Upsampling to a size (up and down, odd ratios), by a fractional factor, nearest-exact and
/// bilinear with align_corners: the reference's taps and order, bit-exact.
#[test]
fn upsample_to_sizes_and_modes() {
    for (shape, args) in [
        ("[2, 3, 5, 7]", "size=(9, 11)"),
        ("[1, 2, 16, 16]", "size=(31, 31)"),
        ("[1, 2, 7, 9]", "size=(3, 4)"),
        ("[1, 1, 1, 1]", "size=(3, 2)"),
        ("[1, 2, 5, 6]", "scale=1.5"),
        ("[1, 2, 4, 4]", "size=(8, 12)"),
    ] {
        for mode in [
            "mode=\"nearest\"",
            "mode=\"nearest-exact\"",
            "mode=\"bilinear\"",
            "mode=\"bilinear\", align_corners=true",
        ] {
            let src = format!("model m(x: {shape}) {{ return upsample(x, {args}, {mode}); }}");
            check_exact(&src);
        }
    }
    check_exact(
        "model m(x: [1, 2, 3, 3]) { return upsample(x, 2, mode=\"bilinear\", align_corners=true); }",
    );
}

/// `transpose`: every permutation of a rank-4 tensor (rows with a vector body and a tail,
/// the last axis kept or moved), the default (axes reversed), rank 2 both ways, a batch
/// moved inwards, and a transpose between other ops. Copies: bit-exact.
#[test]
fn transpose() {
    let mut perms = Vec::new();
    for a in 0..4 {
        for b in 0..4 {
            for c in 0..4 {
                for d in 0..4 {
                    let p = [a, b, c, d];
                    if (0..4).all(|axis| p.contains(&axis)) {
                        perms.push(format!("transpose(x, perm=[{a}, {b}, {c}, {d}])"));
                    }
                }
            }
        }
    }
    assert_eq!(perms.len(), 24);
    let src = format!(
        "model m(x: [2, 3, 5, 7], f: [3, 10]) {{ return {}, transpose(x), transpose(f), transpose(f, perm=[0, 1]); }}",
        perms.join(", ")
    );
    let graph = check_exact(&src);
    let transposes = ops(&graph)
        .into_iter()
        .filter(|op| matches!(op, Op::Transpose { .. }))
        .count();
    // The default is `perm=[3, 2, 1, 0]`, merged with it by CSE.
    assert_eq!(transposes, 26);
    let src = "model m(x: [2, 4, 6, 9]) {
        let t = transpose(relu(x), perm=[2, 0, 3, 1]);
        let s = sigmoid(t);
        return transpose(s, perm=[1, 3, 0, 2]) + x;
    }";
    check(src, &[]);
}
