//! JIT pooling kernels equal the interpreter: max/avg/sum pools and global average pooling
//! (from `.sc` models and random configurations), 3-D sum-pools on their own (both
//! algorithms, random and edge-case configurations: depthwise, channel-only, wide windows,
//! padding wider than the window, strides; and their accuracy against float64 on adversarial
//! data), feature sum-pools, and structured layers end to end. Thread counts 1 and 3 give
//! bit-identical results.

use scc_compiler::codegen::jit::CompiledModel;
use scc_compiler::ir::{Graph, Node, Op, PoolAttrs, SumPool3dAttrs, SumPoolAlgorithm};
use scc_compiler::passes::{PassManager, PassOptions};
use scc_compiler::target::{Target, Tier};
use scc_compiler::weights::Weights;
use scc_runtime::Tensor;
use scc_runtime::random::WeightRng;
use scc_runtime::sumpool::{SumPoolSpec, sumpool_running};
use std::collections::BTreeMap;

/// Random inputs keyed by input name, uniform in `[-bound, bound]`.
fn random_inputs(graph: &Graph, seed: u64, bound: f32) -> BTreeMap<String, Tensor> {
    graph
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, (name, id))| {
            let shape = graph.node(*id).shape.clone();
            (
                name.clone(),
                WeightRng::new(seed + i as u64).uniform(shape, bound),
            )
        })
        .collect()
}

/// Runs `graph` compiled for 1 and 3 threads; asserts the two agree bit for bit and returns
/// the outputs.
fn run_jit(
    graph: &Graph,
    weights: &Weights,
    inputs: &BTreeMap<String, Tensor>,
    what: &str,
) -> Vec<(String, Tensor)> {
    let mut first: Option<Vec<(String, Tensor)>> = None;
    for threads in [1, 3] {
        let compiled = CompiledModel::compile(
            graph,
            weights,
            &Target::host_with(Some(Tier::V128)).unwrap(),
            threads,
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = compiled.run(inputs).unwrap();
        if let Some(first) = &first {
            for ((name, a), (_, b)) in first.iter().zip(&got) {
                let same = a.shape() == b.shape()
                    && a.data()
                        .iter()
                        .zip(b.data())
                        .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(
                    same,
                    "{what}: output {name} differs between 1 and 3 threads"
                );
            }
        }
        first = Some(got);
    }
    first.unwrap()
}

/// Compiles and runs `graph`, comparing with the interpreter within
/// `1e-5 · max(1, max|x|) · volume` (or exactly).
fn check_graph(graph: &Graph, weights: &Weights, volume: usize, exact: bool, what: &str) {
    let inputs = random_inputs(graph, 1, 1.0);
    let expected = scc_compiler::interp::run(graph, weights, &inputs).unwrap();
    let got = run_jit(graph, weights, &inputs, what);
    let max_input = inputs
        .values()
        .flat_map(|t| t.data().iter())
        .fold(1f32, |m, v| m.max(v.abs()));
    for ((name, g), (_, e)) in got.iter().zip(&expected) {
        assert_eq!(g.shape(), e.shape(), "{what}: {name}");
        let diff = g.max_abs_diff(e);
        let tol = if exact {
            0.0
        } else {
            1e-5 * max_input * volume as f32
        };
        assert!(
            diff <= tol,
            "{what}: output {name} differs by {diff} (tolerance {tol})"
        );
    }
}

/// Parses, lowers and checks a model as lowered and after all passes.
fn check_source(source: &str, volume: usize) {
    let file = scc_lang::parse(&scc_lang::SourceFile::new("t.sc", source)).unwrap();
    let graph =
        scc_compiler::lower::lower(&file, None).unwrap_or_else(|e| panic!("{}", e.0.message));
    let weights = scc_compiler::weights::Weights::random(&graph, 5).unwrap();
    let optimized = PassManager::new(PassOptions::default())
        .unwrap()
        .run(&graph, Some(&weights))
        .unwrap()
        .graph;
    check_graph(
        &graph,
        &weights,
        volume,
        false,
        &format!("as lowered: {source}"),
    );
    check_graph(
        &optimized,
        &weights,
        volume,
        false,
        &format!("optimised: {source}"),
    );
}

/// A graph of one node over one input `x`.
fn single_node(input: &[usize], op: Op) -> Graph {
    let mut graph = Graph::new("t");
    let x = graph.add_input("x", input.to_vec(), Default::default());
    let shape = scc_compiler::shape::infer(&op, &[&input.to_vec()])
        .unwrap_or_else(|e| panic!("{op:?} on {input:?}: {e}"));
    let node = Node {
        op,
        shape,
        name: "y".into(),
        weight_path: None,
        params: vec![],
        span: Default::default(),
    };
    let id = graph.add_node(node, &[x]);
    graph.add_output("y", id);
    graph
}

/// A 3-D sum-pool on its own, with both algorithms: the sliding-window sums equal the
/// runtime's `sumpool_running` exactly (same operations; skipped padding zeros change no
/// value), the direct sum the f64 reference within tolerance.
fn check_sumpool3d(
    input: [usize; 4],
    groups: usize,
    window: (usize, usize, usize),
    pad: (usize, usize),
    stride: (usize, usize),
) {
    let volume = window.0 * window.1 * window.2;
    for algorithm in [SumPoolAlgorithm::RunningSum, SumPoolAlgorithm::Direct] {
        let attrs = SumPool3dAttrs {
            groups,
            window,
            pad,
            stride,
            algorithm,
        };
        let graph = single_node(&input, Op::SumPool3d(attrs));
        let what = format!(
            "sumpool3d {input:?} groups={groups} window={window:?} pad={pad:?} stride={stride:?} {algorithm:?}"
        );
        let weights = scc_compiler::weights::Weights::random(&graph, 0).unwrap();
        check_graph(
            &graph,
            &weights,
            volume,
            algorithm == SumPoolAlgorithm::RunningSum,
            &what,
        );
        if algorithm == SumPoolAlgorithm::RunningSum {
            // Also with a large common offset, where any difference in rounding shows.
            let inputs: BTreeMap<String, Tensor> = [(
                "x".to_string(),
                WeightRng::new(9).uniform_range(input.to_vec(), 99.0, 101.0),
            )]
            .into();
            let got = run_jit(&graph, &weights, &inputs, &what);
            let spec = SumPoolSpec {
                groups,
                window,
                pad,
                stride,
            };
            let want = sumpool_running(&inputs["x"], &spec).unwrap();
            assert_eq!(got[0].1.max_abs_diff(&want), 0.0, "{what}: offset inputs");
        }
    }
}

#[test]
fn max_avg_and_sum_pools_from_source() {
    check_source(
        "model m(x: [2, 5, 9, 11]) { let p = maxpool(x, kernel=3, stride=2, pad=1); return p; }",
        9,
    );
    check_source(
        "model m(x: [1, 3, 16, 16]) { let p = maxpool(x, kernel=2); return p; }",
        4,
    );
    check_source(
        "model m(x: [1, 4, 17, 23]) { let p = maxpool(x, kernel=3, stride=1, pad=1); return p; }",
        9,
    );
    check_source(
        "model m(x: [1, 2, 12, 30]) { let p = maxpool(x, kernel=(3, 5), stride=(1, 3), pad=(1, 2)); return p; }",
        15,
    );
    check_source(
        "model m(x: [2, 5, 9, 11]) { let p = avgpool(x, kernel=3, stride=2, pad=1); return p; }",
        9,
    );
    check_source(
        "model m(x: [1, 3, 8, 8]) { let p = avgpool(x, kernel=2); return p; }",
        4,
    );
    check_source(
        "model m(x: [1, 6, 14, 21]) { let p = avgpool(x, kernel=5, stride=1, pad=2); return p; }",
        25,
    );
    check_source(
        "model m(x: [2, 5, 9, 11]) { let p = sumpool(x, kernel=3, stride=2, pad=1); return p; }",
        9,
    );
    check_source(
        "model m(x: [1, 4, 10, 13]) { let p = sumpool(x, kernel=3); return p; }",
        9,
    );
    check_source(
        "model m(x: [1, 2, 7, 80]) { let p = sumpool(x, kernel=(2, 6), pad=(1, 3)); return p; }",
        12,
    );
    check_source(
        "model m(x: [1, 3, 9, 9]) { let p = sumpool(x, kernel=4, stride=4); return p; }",
        16,
    );
    check_source(
        "model m(x: [1, 2, 5, 5]) { let p = sumpool(x, kernel=5); return p; }",
        25,
    );
    // Long windows: taps and rows in loops rather than unrolled.
    check_source(
        "model m(x: [1, 2, 8, 45]) { let p = sumpool(x, kernel=(3, 20), pad=(1, 10)); return p; }",
        60,
    );
    check_source(
        "model m(x: [1, 2, 20, 30]) { let p = avgpool(x, kernel=9, stride=(1, 2), pad=4); return p; }",
        81,
    );
    check_source(
        "model m(x: [1, 2, 20, 30]) { let p = maxpool(x, kernel=(9, 17), stride=2, pad=(4, 8)); return p; }",
        1,
    );
    // Chained pools (fuse-sumpools may merge the sum-pools).
    check_source(
        "model m(x: [1, 4, 20, 20]) { let a = sumpool(x, kernel=2); let b = sumpool(a, kernel=3, pad=1); let c = maxpool(b, kernel=2); return c; }",
        36,
    );
}

#[test]
fn global_average_pool() {
    for shape in [
        "[2, 5, 9, 11]",
        "[1, 3, 1, 1]",
        "[1, 2, 4, 4]",
        "[1, 7, 56, 56]",
        "[3, 1, 5, 3]",
    ] {
        check_source(
            &format!("model m(x: {shape}) {{ let p = global_avgpool(x); return p; }}"),
            1,
        );
    }
}

/// A tiny deterministic generator for random configurations.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
}

#[test]
fn random_windowed_pools() {
    let mut rng = Lcg(17);
    for case in 0..120 {
        let (kh, kw) = (rng.range(1, 6), rng.range(1, 6));
        let (ph, pw) = (rng.range(0, kh / 2), rng.range(0, kw / 2));
        let (sh, sw) = (rng.range(1, 3), rng.range(1, 3));
        let h = rng.range(kh.saturating_sub(2 * ph).max(1), 14);
        let w = rng.range(kw.saturating_sub(2 * pw).max(1), 30);
        let input = [rng.range(1, 2), rng.range(1, 4), h, w];
        let mut attrs = PoolAttrs::new((kh, kw), (sh, sw), (ph, pw));
        // Max and average pools also in ceil mode (the last windows overhanging the padded
        // input) and averages without the padding counted.
        let op = match case % 3 {
            0 => {
                attrs.ceil_mode = rng.range(0, 1) == 1;
                Op::MaxPool(attrs)
            }
            1 => {
                attrs.ceil_mode = rng.range(0, 1) == 1;
                attrs.count_include_pad = rng.range(0, 1) == 1;
                Op::AvgPool(attrs)
            }
            _ => Op::SumPool(attrs),
        };
        let what = format!("{op:?} on {input:?}");
        let graph = single_node(&input, op);
        let weights = scc_compiler::weights::Weights::random(&graph, 0).unwrap();
        check_graph(&graph, &weights, kh * kw, false, &what);
    }
}

#[test]
fn maxpool_propagates_nan_and_handles_infinities() {
    let shape = [1, 2, 7, 40];
    for (kernel, stride, pad) in [(3, 2, 1), (3, 1, 1), (2, 2, 0), (3, 3, 0), (5, 1, 2)] {
        let attrs = PoolAttrs::new((kernel, kernel), (stride, stride), (pad, pad));
        let graph = single_node(&shape, Op::MaxPool(attrs));
        let weights = scc_compiler::weights::Weights::random(&graph, 0).unwrap();
        let mut x = WeightRng::new(3).uniform(shape, 1.0);
        // NaNs at borders and in the vectorised interior (first, middle and last taps of
        // windows), infinities elsewhere.
        for (i, v) in [
            (0, f32::NAN),
            (45, f32::NAN),
            (97, f32::NAN),
            (130, f32::NAN),
            (279, f32::NAN),
            (300, f32::NAN),
        ] {
            x.data_mut()[i] = v;
        }
        for (i, v) in [
            (20, f32::NEG_INFINITY),
            (61, f32::INFINITY),
            (333, f32::INFINITY),
            (402, f32::NEG_INFINITY),
        ] {
            x.data_mut()[i] = v;
        }
        let inputs: BTreeMap<String, Tensor> = [("x".to_string(), x)].into();
        let expected = scc_compiler::interp::run(&graph, &weights, &inputs).unwrap();
        let got = run_jit(&graph, &weights, &inputs, "maxpool nan");
        let nans = expected[0].1.data().iter().filter(|v| v.is_nan()).count();
        assert!(nans > 0);
        for (i, (g, e)) in got[0].1.data().iter().zip(expected[0].1.data()).enumerate() {
            assert!(
                g == e || (g.is_nan() && e.is_nan()),
                "kernel {kernel} stride {stride}: output {i}: {g} vs {e}"
            );
        }
    }
}

#[test]
fn sumpool3d_edge_cases() {
    // Depthwise-like spatial box only (groups = C, c = 1 → channel window 1).
    check_sumpool3d([2, 5, 9, 11], 5, (1, 2, 2), (1, 1), (1, 1));
    check_sumpool3d([1, 8, 12, 12], 8, (1, 3, 3), (1, 1), (2, 2));
    // 1×1 structured layer: channel window only.
    check_sumpool3d([1, 16, 7, 9], 1, (9, 1, 1), (0, 0), (1, 1));
    check_sumpool3d([2, 12, 5, 6], 3, (2, 1, 1), (0, 0), (1, 1));
    // No channel window, height only, width only.
    check_sumpool3d([1, 4, 10, 7], 2, (1, 5, 1), (2, 0), (1, 1));
    check_sumpool3d([1, 4, 7, 10], 4, (1, 1, 5), (0, 2), (1, 1));
    // Wide channel window: C = 64, c = 8 → 57: one anchor of 57 terms (a loop), 7 updates.
    check_sumpool3d([1, 64, 5, 7], 1, (57, 2, 2), (1, 1), (1, 1));
    // Long channel lines: Cg = 150 with window 5 → 146 running outputs, restarts at 64, 128.
    check_sumpool3d([1, 150, 3, 5], 1, (5, 1, 1), (0, 0), (1, 1));
    check_sumpool3d([2, 300, 2, 3], 2, (10, 2, 1), (0, 1), (1, 1));
    // Long rows and columns: restarts in the width and height passes, with strides.
    check_sumpool3d([1, 2, 3, 150], 1, (1, 1, 6), (0, 2), (1, 1));
    check_sumpool3d([1, 2, 3, 150], 1, (2, 3, 6), (1, 2), (2, 3));
    check_sumpool3d([1, 2, 140, 5], 2, (1, 7, 2), (3, 1), (1, 2));
    check_sumpool3d([1, 3, 140, 9], 1, (2, 4, 4), (2, 0), (3, 1));
    // Padding wider than the window: outputs entirely in the padding.
    check_sumpool3d([1, 2, 4, 5], 1, (1, 2, 2), (3, 3), (1, 1));
    check_sumpool3d([1, 2, 4, 5], 2, (1, 5, 4), (6, 5), (2, 3));
    check_sumpool3d([1, 3, 2, 2], 1, (2, 1, 1), (2, 3), (1, 1));
    // Window 1 with padding / stride only (a strided, padded copy), and the identity.
    check_sumpool3d([1, 3, 6, 7], 3, (1, 1, 1), (1, 2), (2, 3));
    check_sumpool3d([1, 3, 6, 7], 1, (2, 1, 1), (1, 0), (2, 1));
    check_sumpool3d([2, 3, 6, 7], 3, (1, 1, 1), (0, 0), (1, 1));
    // Tiny planes, widths around the vector width.
    check_sumpool3d([1, 4, 1, 1], 1, (4, 1, 1), (0, 0), (1, 1));
    for w in 1..=9 {
        check_sumpool3d([1, 6, 3, w], 2, (2, 2, w.min(3)), (1, 0), (1, 1));
        check_sumpool3d([1, 3, 5, w], 1, (3, 5, w), (0, 1), (1, 1));
    }
    // Channel blocks: planes larger than one block of positions, with a tail.
    check_sumpool3d([1, 6, 23, 29], 2, (2, 2, 3), (1, 1), (1, 1));
    // Long lines with wide windows: loops over interior blocks, with loops inside each block.
    check_sumpool3d([1, 2, 3, 150], 1, (1, 1, 20), (0, 9), (1, 1));
    check_sumpool3d([1, 2, 131, 3], 2, (1, 13, 1), (4, 0), (1, 1));
    check_sumpool3d([1, 300, 2, 5], 1, (33, 1, 1), (0, 0), (1, 1));
    check_sumpool3d([1, 1, 2, 200], 1, (1, 1, 9), (3, 3), (1, 2));
}

/// The f32 unit roundoff, 2⁻²⁴.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// The JIT's sum-pools against float64 on adversarial data, per output relative to the size
/// of its terms (`Σ|terms|`): the sliding-window algorithm within its bound
/// `(wc + wh + ww − 3)·u`, the direct one within `(wc·wh·ww − 1)·u` — both at most the worst
/// case of summing every output's terms one by one, and independent of the other values of
/// the line (a running sum `+x − x` let one huge channel spoil every later one).
#[test]
fn sumpools_are_accurate_on_adversarial_data() {
    use scc_testkit::reference::adversarial;
    // (what, input shape, groups, window, pad, stride, data)
    let one_huge =
        |input: [usize; 4], channel, seed| adversarial::one_huge_channel(input, channel, 1e6, seed);
    let cases = [
        // The case: sconv2d(x: [1, 64, 4, 4], 8, kernel=1, c=32, n=1), channel 0 at 3e4.
        (
            "one huge channel",
            [1, 64, 4, 4],
            SumPoolSpec {
                groups: 1,
                window: (33, 1, 1),
                pad: (0, 0),
                stride: (1, 1),
            },
            adversarial::one_huge_channel([1, 64, 4, 4], 0, 3e4, 1),
        ),
        (
            "one huge channel, every axis",
            [2, 48, 19, 23],
            SumPoolSpec {
                groups: 2,
                window: (9, 5, 7),
                pad: (2, 3),
                stride: (1, 1),
            },
            one_huge([2, 48, 19, 23], 11, 2),
        ),
        (
            "one huge channel, strided",
            [1, 40, 21, 21],
            SumPoolSpec {
                groups: 1,
                window: (17, 4, 6),
                pad: (1, 2),
                stride: (2, 3),
            },
            one_huge([1, 40, 21, 21], 3, 3),
        ),
        (
            "wide dynamic range",
            [1, 40, 17, 33],
            SumPoolSpec {
                groups: 1,
                window: (21, 8, 8),
                pad: (3, 3),
                stride: (1, 1),
            },
            adversarial::wide_range(40 * 17 * 33, 12.0, 4),
        ),
    ];
    for (what, input, spec, data) in cases {
        let SumPoolSpec {
            groups,
            window,
            pad,
            stride,
        } = spec;
        let (want, magnitude) =
            scc_testkit::reference::sumpool3d(&data, input, groups, window, pad, stride);
        let inputs: BTreeMap<String, Tensor> =
            [("x".to_string(), Tensor::from_vec(input, data))].into();
        for algorithm in [SumPoolAlgorithm::RunningSum, SumPoolAlgorithm::Direct] {
            let attrs = SumPool3dAttrs {
                groups,
                window,
                pad,
                stride,
                algorithm,
            };
            let graph = single_node(&input, Op::SumPool3d(attrs));
            let weights = scc_compiler::weights::Weights::random(&graph, 0).unwrap();
            let got = run_jit(&graph, &weights, &inputs, what);
            let (wc, wh, ww) = window;
            let roundings = match algorithm {
                SumPoolAlgorithm::RunningSum => wc + wh + ww - 3,
                SumPoolAlgorithm::Direct => wc * wh * ww - 1,
            };
            scc_testkit::scaled(got[0].1.data(), &want, &magnitude).assert_within(
                roundings as f64 * U * 1.01,
                &format!("{what} ({algorithm:?})"),
            );
        }
    }
}

#[test]
fn random_sumpool3d() {
    let mut rng = Lcg(5);
    for _ in 0..250 {
        let groups = rng.range(1, 3);
        let cg = rng.range(1, 10);
        let (wh, ww) = (rng.range(1, 7), rng.range(1, 7));
        let (ph, pw) = (rng.range(0, 3), rng.range(0, 3));
        let h = rng.range(wh.saturating_sub(2 * ph).max(1), 20);
        let w = rng.range(ww.saturating_sub(2 * pw).max(1), 80);
        let input = [rng.range(1, 2), groups * cg, h, w];
        let window = (rng.range(1, cg), wh, ww);
        let stride = (rng.range(1, 3), rng.range(1, 3));
        check_sumpool3d(input, groups, window, (ph, pw), stride);
    }
}

#[test]
fn feature_sumpools() {
    for (features, window) in [
        (1, 1),
        (7, 1),
        (7, 2),
        (7, 3),
        (9, 4),
        (10, 7),
        (70, 5),
        (300, 12),
        (300, 200),
        (33, 33),
        (5, 3),
    ] {
        let graph = single_node(&[3, features], Op::SumPoolFeatures { window });
        let weights = scc_compiler::weights::Weights::random(&graph, 0).unwrap();
        check_graph(
            &graph,
            &weights,
            window,
            false,
            &format!("features {features} window {window}"),
        );
    }
}

/// Every sum-pool of the optimised graph of `source` (structured layers decomposed), run on
/// its own; then the whole model (needs the convolution kernels).
fn check_structured(source: &str) {
    let file = scc_lang::parse(&scc_lang::SourceFile::new("t.sc", source)).unwrap();
    let graph =
        scc_compiler::lower::lower(&file, None).unwrap_or_else(|e| panic!("{}", e.0.message));
    let weights = scc_compiler::weights::Weights::random(&graph, 5).unwrap();
    let options = PassOptions {
        force_execution: Some(scc_compiler::ir::Execution::Decomposed),
        ..PassOptions::default()
    };
    let optimized = PassManager::new(options)
        .unwrap()
        .run(&graph, Some(&weights))
        .unwrap()
        .graph;
    let mut pools = 0;
    for id in optimized.node_ids() {
        let input = optimized
            .operands(id)
            .first()
            .map(|&x| optimized.node(x).shape.clone());
        match &optimized.node(id).op {
            Op::SumPool3d(a) => {
                pools += 1;
                let input = input.unwrap();
                check_sumpool3d(
                    [input[0], input[1], input[2], input[3]],
                    a.groups,
                    a.window,
                    a.pad,
                    a.stride,
                );
                // And with the algorithm the pass chose.
                let single = single_node(&input, optimized.node(id).op.clone());
                let w = scc_compiler::weights::Weights::random(&single, 0).unwrap();
                let volume = a.window.0 * a.window.1 * a.window.2;
                check_graph(
                    &single,
                    &w,
                    volume,
                    a.algorithm == SumPoolAlgorithm::RunningSum,
                    source,
                );
            }
            Op::SumPoolFeatures { window } => {
                pools += 1;
                let single = single_node(&input.unwrap(), Op::SumPoolFeatures { window: *window });
                let w = scc_compiler::weights::Weights::random(&single, 0).unwrap();
                check_graph(&single, &w, *window, false, source);
            }
            _ => {}
        }
    }
    assert!(
        pools > 0 || !source.contains("c="),
        "no sum-pool in {source}"
    );
    // The whole model against the interpreter (sum-pool volumes stay below 64·9).
    let inputs = random_inputs(&optimized, 1, 1.0);
    let expected = scc_compiler::interp::run(&optimized, &weights, &inputs).unwrap();
    let got = run_jit(&optimized, &weights, &inputs, source);
    for ((name, g), (_, e)) in got.iter().zip(&expected) {
        let scale = e.data().iter().fold(1f32, |m, v| m.max(v.abs()));
        let diff = g.max_abs_diff(e);
        assert!(diff <= 1e-4 * scale, "{name}: diff {diff}\n{source}");
    }
}

#[test]
fn structured_layers() {
    let layers = [
        // Depthwise (groups = C, c = 1): spatial box only.
        "sconv2d(x, 8, kernel=3, pad=1, c=1, n=2, groups=8)",
        "sconv2d(x, 8, kernel=5, pad=2, stride=2, c=1, n=3, groups=8)",
        // 1×1 (kernel = n = 1): channel window only.
        "sconv2d(x, 12, kernel=1, c=3, n=1)",
        "sconv2d(x, 16, kernel=1, c=2, n=1, groups=2)",
        // c = C/groups: no channel window.
        "sconv2d(x, 8, kernel=3, pad=1, c=8, n=2)",
        "sconv2d(x, 8, kernel=3, pad=1, c=4, n=1, groups=2)",
        // Mixed.
        "sconv2d(x, 16, kernel=3, pad=1, c=4, n=2)",
        "sconv2d(x, 16, kernel=3, stride=2, pad=1, c=5, n=2, bias=true)",
        "sconv2d(x, 12, kernel=(3, 5), pad=(1, 2), c=2, n=(2, 3), groups=2)",
        "sconv2d(x, 8, kernel=7, pad=3, c=6, n=3)",
        "sconv2d(x, 8, kernel=3, pad=0, stride=3, c=1, n=2, groups=4)",
    ];
    for layer in layers {
        check_structured(&format!(
            "model m(x: [2, 8, 11, 13]) {{ let s = {layer}; return s; }}"
        ));
    }
    // Wide channel windows: C = 64, c = 8 → 57 (a looped anchor); C = 160, c = 100 → 61
    // over 100 outputs (a restart at 64).
    check_structured(
        "model m(x: [1, 64, 6, 7]) { let s = sconv2d(x, 16, kernel=3, pad=1, c=8, n=2); return s; }",
    );
    check_structured(
        "model m(x: [1, 64, 6, 7]) { let s = sconv2d(x, 32, kernel=1, c=8, n=1); return s; }",
    );
    check_structured(
        "model m(x: [1, 160, 4, 5]) { let s = sconv2d(x, 8, kernel=1, c=100, n=1); return s; }",
    );
    // Long rows: restarts in the width pass.
    check_structured(
        "model m(x: [1, 4, 6, 150]) { let s = sconv2d(x, 4, kernel=(1, 9), pad=(0, 4), c=2, n=(1, 2)); return s; }",
    );
    // Structured linear layers: feature sum-pools.
    check_structured("model m(x: [2, 40]) { let s = slinear(x, 10, c=8); return s; }");
    check_structured("model m(x: [3, 300]) { let s = slinear(x, 7, c=100); return s; }");
}
