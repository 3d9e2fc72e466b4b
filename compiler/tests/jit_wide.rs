//! Every wide-tier kernel against the interpreter, each tier this CPU has forced in turn:
//! convs (dense, grouped, depthwise, plain and blocked inputs, strides, dilation, padding,
//! tails, epilogues), pools, 3-D sum-pools, elementwise ops, linear layers and reorders, as
//! single nodes and in small models. Results are bit-identical for 1 and 3 threads.

use scc_compiler::codegen::jit::CompiledModel;
use scc_compiler::ir::{
    ConvAttrs, EpilogueStep, Graph, Node, Op, PoolAttrs, SumPool3dAttrs, SumPoolAlgorithm,
};
use scc_compiler::passes::{PassManager, PassOptions, with_layouts};
use scc_compiler::target::{Target, Tier};
use scc_compiler::weights::Weights;
use scc_runtime::Tensor;
use scc_runtime::kernels::Activation;
use scc_runtime::random::WeightRng;
use std::collections::BTreeMap;

/// The wide tiers this CPU has.
fn wide_tiers() -> Vec<Tier> {
    [Tier::Avx2, Tier::Avx512]
        .into_iter()
        .filter(|t| Target::host_with(Some(*t)).is_ok())
        .collect()
}

fn random_inputs(graph: &Graph, seed: u64) -> BTreeMap<String, Tensor> {
    graph
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, (name, id))| {
            let shape = graph.node(*id).shape.clone();
            (
                name.clone(),
                WeightRng::new(seed + i as u64).uniform(shape, 1.0),
            )
        })
        .collect()
}

/// Compiles `graph` for `tier` (layouts chosen) at 1 and 3 threads, checks they agree bit
/// for bit and that the outputs are within `1e-5 · scale` of the interpreter's.
fn check_tier(graph: &Graph, weights: &Weights, tier: Tier, what: &str) {
    let laid_out = with_layouts(graph, tier).unwrap_or_else(|e| panic!("{what}: {e}"));
    let target = Target::host_with(Some(tier)).unwrap();
    let inputs = random_inputs(graph, 7);
    let expected = scc_compiler::interp::run(graph, weights, &inputs).unwrap();
    let mut first: Option<Vec<(String, Tensor)>> = None;
    for threads in [1, 3] {
        let compiled = CompiledModel::compile(&laid_out, weights, &target, threads)
            .unwrap_or_else(|e| panic!("{what} ({tier}): {e}"));
        let got = compiled.run(&inputs).unwrap();
        if let Some(first) = &first {
            assert_eq!(first, &got, "{what} ({tier}): 1 and 3 threads differ");
        }
        for ((name, g), (_, e)) in got.iter().zip(&expected) {
            let scale = e.data().iter().fold(1f32, |m, v| m.max(v.abs()));
            let diff = g.max_abs_diff(e);
            assert!(
                diff <= 1e-5 * scale,
                "{what} ({tier}): output {name} differs by {diff} (scale {scale})\n{}",
                laid_out.dump()
            );
        }
        first = Some(got);
    }
}

fn check(graph: &Graph, what: &str) {
    let weights = scc_compiler::weights::Weights::random(graph, 3).unwrap();
    for tier in wide_tiers() {
        check_tier(graph, &weights, tier, what);
    }
}

/// One node over the input `x` (and more inputs for extra operands).
fn single_node(inputs: &[Vec<usize>], op: Op, weight_path: Option<&str>) -> Graph {
    let mut graph = Graph::new("t");
    let ids: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| graph.add_input(&format!("x{i}"), s.clone(), Default::default()))
        .collect();
    let refs: Vec<&Vec<usize>> = inputs.iter().collect();
    let shape = scc_compiler::shape::infer(&op, &refs).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    let params = match weight_path {
        Some(path) => scc_compiler::weights::op_weights(&op, &inputs[0])
            .into_iter()
            .map(|(suffix, shape, role)| {
                graph.add_param(scc_compiler::ir::Param {
                    name: format!("{path}.{suffix}"),
                    shape,
                    role,
                    value: scc_compiler::ir::ParamValue::External,
                })
            })
            .collect(),
        None => vec![],
    };
    let node = Node {
        op,
        shape,
        name: "y".into(),
        weight_path: weight_path.map(str::to_string),
        params,
        span: Default::default(),
    };
    let id = graph.add_node(node, &ids);
    graph.add_output("y", id);
    graph
}

#[allow(clippy::too_many_arguments)]
fn conv(
    input: [usize; 4],
    out: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    pad: (usize, usize),
    dilation: (usize, usize),
    groups: usize,
    epilogue: Vec<EpilogueStep>,
) -> Graph {
    let residuals = epilogue
        .iter()
        .filter(|s| matches!(s, EpilogueStep::Residual))
        .count();
    let op = Op::Conv2d(ConvAttrs {
        out_channels: out,
        kernel,
        stride,
        pad,
        dilation,
        groups,
        bias: true,
        epilogue,
        dense_taps: None,
        execution: None,
    });
    let x = input.to_vec();
    let out_shape = scc_compiler::shape::infer(
        &Op::Conv2d(ConvAttrs {
            out_channels: out,
            kernel,
            stride,
            pad,
            dilation,
            groups,
            bias: true,
            epilogue: vec![],
            dense_taps: None,
            execution: None,
        }),
        &[&x],
    )
    .unwrap();
    let mut inputs = vec![x];
    inputs.extend((0..residuals).map(|_| out_shape.clone()));
    single_node(&inputs, op, Some("conv"))
}

#[test]
fn convolutions() {
    let relu = || vec![EpilogueStep::Activation(Activation::Relu)];
    let res_relu = || {
        vec![
            EpilogueStep::Residual,
            EpilogueStep::Activation(Activation::Relu),
        ]
    };
    let cases = [
        (
            "stem",
            conv(
                [1, 3, 23, 21],
                20,
                (7, 7),
                (2, 2),
                (3, 3),
                (1, 1),
                1,
                relu(),
            ),
        ),
        (
            "3x3 residual",
            conv(
                [2, 24, 9, 11],
                40,
                (3, 3),
                (1, 1),
                (1, 1),
                (1, 1),
                1,
                res_relu(),
            ),
        ),
        (
            "2x2 structured small conv",
            conv(
                [1, 32, 15, 15],
                64,
                (2, 2),
                (1, 1),
                (0, 0),
                (1, 1),
                1,
                relu(),
            ),
        ),
        (
            "2x2 stride 2",
            conv(
                [1, 33, 13, 13],
                70,
                (2, 2),
                (2, 2),
                (0, 0),
                (1, 1),
                1,
                relu(),
            ),
        ),
        (
            "1x1",
            conv([1, 96, 7, 7], 24, (1, 1), (1, 1), (0, 0), (1, 1), 1, vec![]),
        ),
        (
            "1x1 stride 2",
            conv(
                [1, 64, 14, 14],
                128,
                (1, 1),
                (2, 2),
                (0, 0),
                (1, 1),
                1,
                vec![],
            ),
        ),
        (
            "dilated",
            conv(
                [1, 16, 12, 12],
                16,
                (3, 3),
                (1, 1),
                (2, 2),
                (2, 2),
                1,
                relu(),
            ),
        ),
        (
            "wide kernel on a narrow input",
            conv([1, 8, 3, 4], 9, (5, 5), (1, 1), (2, 2), (1, 1), 1, relu()),
        ),
        (
            "grouped",
            conv([1, 64, 8, 8], 64, (3, 3), (1, 1), (1, 1), (1, 1), 4, relu()),
        ),
        (
            "grouped, not block-aligned",
            conv([1, 12, 8, 8], 18, (3, 3), (1, 1), (1, 1), (1, 1), 3, relu()),
        ),
        (
            "depthwise",
            conv(
                [1, 40, 11, 11],
                40,
                (3, 3),
                (1, 1),
                (1, 1),
                (1, 1),
                40,
                vec![EpilogueStep::Activation(Activation::Relu6)],
            ),
        ),
        (
            "depthwise stride 2",
            conv(
                [1, 144, 14, 14],
                144,
                (3, 3),
                (2, 2),
                (1, 1),
                (1, 1),
                144,
                vec![EpilogueStep::Activation(Activation::Relu6)],
            ),
        ),
        (
            "depthwise residual",
            conv(
                [1, 20, 5, 9],
                20,
                (3, 3),
                (1, 1),
                (1, 1),
                (1, 1),
                20,
                res_relu(),
            ),
        ),
        (
            "every activation",
            conv(
                [1, 5, 6, 6],
                17,
                (3, 3),
                (1, 1),
                (1, 1),
                (1, 1),
                1,
                Activation::ALL
                    .iter()
                    .map(|a| EpilogueStep::Activation(*a))
                    .collect(),
            ),
        ),
    ];
    for (what, graph) in cases {
        check(&graph, what);
    }
}

fn pool(kind: &str, input: [usize; 4], kernel: usize, stride: usize, pad: usize) -> Graph {
    let attrs = PoolAttrs::new((kernel, kernel), (stride, stride), (pad, pad));
    let op = match kind {
        "max" => Op::MaxPool(attrs),
        "avg" => Op::AvgPool(attrs),
        _ => Op::SumPool(attrs),
    };
    single_node(&[input.to_vec()], op, None)
}

/// A conv producing a blocked value, then `op` on it, so that `op` runs blocked.
fn after_conv(input: [usize; 4], op: Op, extra: &[Vec<usize>]) -> Graph {
    let mut graph = Graph::new("t");
    let x = graph.add_input("x", input.to_vec(), Default::default());
    let attrs = ConvAttrs {
        out_channels: input[1],
        kernel: (1, 1),
        stride: (1, 1),
        pad: (0, 0),
        dilation: (1, 1),
        groups: 1,
        bias: true,
        epilogue: vec![],
        dense_taps: None,
        execution: None,
    };
    let conv_op = Op::Conv2d(attrs);
    let params = scc_compiler::weights::op_weights(&conv_op, &input)
        .into_iter()
        .map(|(suffix, shape, role)| {
            graph.add_param(scc_compiler::ir::Param {
                name: format!("c.{suffix}"),
                shape,
                role,
                value: scc_compiler::ir::ParamValue::External,
            })
        })
        .collect();
    let c = graph.add_node(
        Node {
            op: conv_op,
            shape: input.to_vec(),
            name: "c".into(),
            weight_path: Some("c".into()),
            params,
            span: Default::default(),
        },
        &[x],
    );
    let mut operands = vec![c];
    for (i, s) in extra.iter().enumerate() {
        operands.push(graph.add_input(&format!("e{i}"), s.clone(), Default::default()));
    }
    let shapes: Vec<Vec<usize>> = operands
        .iter()
        .map(|&o| graph.node(o).shape.clone())
        .collect();
    let refs: Vec<&Vec<usize>> = shapes.iter().collect();
    let shape = scc_compiler::shape::infer(&op, &refs).unwrap();
    let params = match &op {
        Op::BatchNorm { .. } => scc_compiler::weights::op_weights(&op, &input)
            .into_iter()
            .map(|(suffix, shape, role)| {
                graph.add_param(scc_compiler::ir::Param {
                    name: format!("bn.{suffix}"),
                    shape,
                    role,
                    value: scc_compiler::ir::ParamValue::External,
                })
            })
            .collect(),
        _ => vec![],
    };
    let weight_path = matches!(op, Op::BatchNorm { .. }).then(|| "bn".to_string());
    let y = graph.add_node(
        Node {
            op,
            shape,
            name: "y".into(),
            weight_path,
            params,
            span: Default::default(),
        },
        &operands,
    );
    graph.add_output("y", y);
    graph
}

#[test]
fn pools_and_elementwise_ops_on_blocked_values() {
    for (kind, input, k, s, p) in [
        ("max", [1, 20, 11, 11], 3, 2, 1),
        ("avg", [2, 33, 7, 9], 2, 2, 0),
        ("sum", [1, 16, 6, 5], 3, 1, 1),
        ("max", [1, 64, 112, 112], 3, 2, 1),
    ] {
        let attrs = PoolAttrs::new((k, k), (s, s), (p, p));
        let op = match kind {
            "max" => Op::MaxPool(attrs),
            "avg" => Op::AvgPool(attrs),
            _ => Op::SumPool(attrs),
        };
        check(
            &after_conv(input, op, &[]),
            &format!("{kind} pool {input:?}"),
        );
        check(
            &pool(kind, input, k, s, p),
            &format!("{kind} pool {input:?} (plain)"),
        );
    }
    check(
        &after_conv([2, 19, 5, 6], Op::GlobalAvgPool, &[]),
        "global average",
    );
    for act in Activation::ALL {
        check(
            &after_conv([1, 21, 4, 7], Op::Activation(act), &[]),
            act.name(),
        );
    }
    check(
        &after_conv([1, 21, 4, 7], Op::BatchNorm { eps: 1e-5 }, &[]),
        "batchnorm",
    );
    check(
        &after_conv([1, 21, 4, 7], Op::Add, &[vec![1, 21, 4, 7]]),
        "add",
    );
    check(
        &after_conv([2, 21, 4, 7], Op::Mul, &[vec![2, 21, 1, 1]]),
        "broadcast mul",
    );
}

fn sumpool3d(
    input: [usize; 4],
    groups: usize,
    window: (usize, usize, usize),
    pad: usize,
    stride: usize,
) -> Graph {
    after_conv(
        input,
        Op::SumPool3d(SumPool3dAttrs {
            groups,
            window,
            pad: (pad, pad),
            stride: (stride, stride),
            algorithm: SumPoolAlgorithm::Direct,
        }),
        &[],
    )
}

#[test]
fn sum_pools_3d() {
    for (input, groups, window, pad, stride) in [
        ([1, 64, 9, 9], 1, (33, 2, 2), 1, 1),
        ([1, 128, 5, 5], 1, (65, 1, 1), 0, 1),
        ([1, 24, 6, 6], 1, (13, 1, 1), 0, 1),
        ([1, 144, 5, 5], 1, (73, 1, 1), 0, 1),
        ([1, 40, 7, 7], 40, (1, 2, 2), 1, 1),
        ([1, 30, 6, 6], 3, (4, 3, 3), 1, 1),
        ([2, 64, 6, 6], 1, (9, 2, 2), 1, 2),
        ([1, 17, 5, 5], 1, (17, 1, 1), 0, 1),
        ([1, 40, 5, 5], 1, (5, 1, 1), 0, 1),
        ([1, 37, 4, 4], 1, (19, 1, 1), 0, 1),
    ] {
        check(
            &sumpool3d(input, groups, window, pad, stride),
            &format!("sumpool3d {input:?} groups {groups} window {window:?}"),
        );
    }
}

#[test]
fn linear_layers() {
    use scc_compiler::ir::LinearAttrs;
    for (n, f, o) in [(1, 512, 1000), (3, 17, 9), (8, 64, 40)] {
        let op = Op::Linear(LinearAttrs {
            out_features: o,
            bias: true,
            epilogue: vec![EpilogueStep::Activation(Activation::Relu)],
            dense_taps: None,
        });
        check(
            &single_node(&[vec![n, f]], op, Some("fc")),
            &format!("linear {n}x{f} -> {o}"),
        );
    }
}

/// `graph` through every pass for `tier`, every structured layer's execution forced to
/// `execution` where the tier has it.
fn optimize_forced(
    graph: &Graph,
    weights: &Weights,
    tier: Tier,
    execution: scc_compiler::ir::Execution,
) -> Graph {
    let options = PassOptions {
        tier,
        verify: true,
        force_execution: Some(execution),
        ..PassOptions::default()
    };
    PassManager::new(options)
        .unwrap()
        .run(graph, Some(weights))
        .unwrap()
        .graph
}

/// Runs the optimised graph `optimized` on `tier` at 1 and 2 threads: the two bit-identical,
/// and within `1e-4 · scale` of `expected` (the interpreter on the graph as lowered).
fn check_optimized(
    optimized: &Graph,
    weights: &Weights,
    inputs: &BTreeMap<String, Tensor>,
    expected: &[(String, Tensor)],
    tier: Tier,
    what: &str,
) {
    let target = Target::host_with(Some(tier)).unwrap();
    let mut first: Option<Vec<(String, Tensor)>> = None;
    for threads in [1, 2] {
        let got = CompiledModel::compile(optimized, weights, &target, threads)
            .unwrap()
            .run(inputs)
            .unwrap();
        if let Some(first) = &first {
            assert_eq!(first, &got, "{what} ({tier}): 1 and 2 threads differ");
        }
        for ((name, g), (_, e)) in got.iter().zip(expected) {
            let scale = e.data().iter().fold(1f32, |m, v| m.max(v.abs()));
            assert!(
                g.max_abs_diff(e) <= 1e-4 * scale,
                "{what} ({tier}, {threads} threads): {name} differs by {}\n{}",
                g.max_abs_diff(e),
                optimized.dump()
            );
        }
        first = Some(got);
    }
}

/// Structured layers in every execution, forced, on every tier (and the 128-bit tier):
/// within the tolerance of the interpreter running them as lowered, bit-identical for 1 and
/// 2 threads.
#[test]
fn every_execution_of_structured_layers() {
    use scc_compiler::ir::Execution;
    let source = "model m(x: [2, 40, 9, 9]) {
        let e = sconv2d(x, 96, kernel=1, c=20, n=1);
        let d = sconv2d(relu6(e), 96, kernel=3, pad=1, groups=96, c=1, n=2);
        let p = sconv2d(relu6(d), 40, kernel=1, c=48, n=1);
        let s = sconv2d(p + x, 48, kernel=3, stride=2, pad=1, c=20, n=2);
        let q = sconv2d(s, 64, kernel=1, stride=2, c=16, n=1);
        return q;
    }";
    let file = scc_lang::parse(&scc_lang::SourceFile::new("t.sc", source)).unwrap();
    let graph = scc_compiler::lower::lower(&file, None).unwrap();
    let weights = scc_compiler::weights::Weights::random(&graph, 5).unwrap();
    let inputs = random_inputs(&graph, 2);
    let expected = scc_compiler::interp::run(&graph, &weights, &inputs).unwrap();
    let mut tiers = vec![Tier::V128];
    tiers.extend(wide_tiers());
    for tier in tiers {
        for execution in Execution::ALL {
            let optimized = optimize_forced(&graph, &weights, tier, execution);
            let dump = optimized.dump();
            let fused_layers = dump.matches("execution=fused").count();
            if execution == Execution::Fused && tier.is_wide() {
                // The three 1×1 layers without padding and one group fuse.
                assert_eq!(fused_layers, 3, "{dump}");
            } else {
                assert_eq!(fused_layers, 0, "{dump}");
            }
            check_optimized(
                &optimized,
                &weights,
                &inputs,
                &expected,
                tier,
                execution.name(),
            );
        }
    }
}

/// A fused structured 1×1 layer over many pooled channels and long pixel runs: each work
/// item's run is pooled in several tiles (`scc_kernels::conv::pool_tile_pixels`), with a
/// residual and an activation in the epilogue; within the interpreter's tolerance and
/// bit-identical for 1 and 2 threads.
#[test]
fn fused_layer_pooled_in_several_tiles_per_run() {
    use scc_compiler::ir::Execution;
    let source = "model m(x: [1, 1040, 40, 40], r: [1, 24, 40, 40]) {
        let p = sconv2d(x, 24, kernel=1, c=520, n=1);
        return relu(p + r);
    }";
    let file = scc_lang::parse(&scc_lang::SourceFile::new("t.sc", source)).unwrap();
    let graph = scc_compiler::lower::lower(&file, None).unwrap();
    let weights = scc_compiler::weights::Weights::random(&graph, 7).unwrap();
    let inputs = random_inputs(&graph, 3);
    let expected = scc_compiler::interp::run(&graph, &weights, &inputs).unwrap();
    for tier in wide_tiers() {
        // 520 pooled channels are 2,080 (AVX2) or 2,112 bytes (AVX-512) per pixel, and the
        // driver cuts the 1,600 pixels into runs of 5 tiles of 10 (AVX2) or 4 of 12 (AVX-512):
        // a run is pooled as two tiles.
        let lanes = tier.lanes();
        let pooled_blocks = 520usize.div_ceil(lanes);
        let run = if lanes == 16 { 48 } else { 50 };
        assert!(scc_kernels::conv::pool_tile_pixels(lanes, pooled_blocks, run) < run);
        let optimized = optimize_forced(&graph, &weights, tier, Execution::Fused);
        let dump = optimized.dump();
        assert_eq!(dump.matches("execution=fused").count(), 1, "{dump}");
        check_optimized(&optimized, &weights, &inputs, &expected, tier, "fused");
    }
}

#[test]
fn small_models_through_every_pass() {
    for source in [
        "model m(x: [1, 3, 16, 16]) { let c = conv2d(x, 24, kernel=3, stride=2, pad=1); let r = relu(c); let s = sconv2d(r, 24, kernel=3, pad=1, c=12, n=2); let p = maxpool(s + r, kernel=2, stride=2); let f = flatten(global_avgpool(p)); let fc = linear(f, 10); return fc; }",
        "model m(x: [2, 8, 9, 9]) { let e = sconv2d(x, 48, kernel=1, c=4, n=1); let d = sconv2d(relu6(e), 48, kernel=3, pad=1, groups=48, c=1, n=2); let p = sconv2d(relu6(d), 8, kernel=1, c=24, n=1); return p + x; }",
        "model m(x: [1, 5, 8, 8]) { let c = conv2d(x, 20, kernel=3, pad=1); let u = upsample(c, scale=2); let s = softmax(flatten(global_avgpool(u))); return s; }",
        "model m(x: [2, 8, 6, 10]) { let c = conv2d(x, 16, kernel=3, pad=1); let t = transpose(relu(c), perm=[0, 1, 3, 2]); let d = conv2d(t, 16, kernel=1); let f = flatten(global_avgpool(d)); let g = linear(f, 6); return transpose(g), g; }",
    ] {
        let file = scc_lang::parse(&scc_lang::SourceFile::new("t.sc", source)).unwrap();
        let graph = scc_compiler::lower::lower(&file, None).unwrap();
        let weights = scc_compiler::weights::Weights::random(&graph, 5).unwrap();
        for tier in wide_tiers() {
            let options = PassOptions {
                tier,
                verify: true,
                ..PassOptions::default()
            };
            let optimized = PassManager::new(options)
                .unwrap()
                .run(&graph, Some(&weights))
                .unwrap()
                .graph;
            let target = Target::host_with(Some(tier)).unwrap();
            let inputs = random_inputs(&graph, 2);
            let expected = scc_compiler::interp::run(&graph, &weights, &inputs).unwrap();
            let got = CompiledModel::compile(&optimized, &weights, &target, 2)
                .unwrap()
                .run(&inputs)
                .unwrap();
            for ((name, g), (_, e)) in got.iter().zip(&expected) {
                let scale = e.data().iter().fold(1f32, |m, v| m.max(v.abs()));
                assert!(
                    g.max_abs_diff(e) <= 1e-4 * scale,
                    "{source} ({tier}): {name}\n{}",
                    optimized.dump()
                );
            }
        }
    }
}

/// `transpose` between channel-blocked convs: `choose-layout` gives it the plain layout,
/// with one reorder from the blocked conv before it and one back to blocked after it (the
/// dump shows them), and the result is the interpreter's on every wide tier.
#[test]
fn transpose_between_blocked_layers() {
    let source = "model m(x: [1, 16, 6, 10]) {
        let a = conv2d(x, 16, kernel=3, pad=1);
        let t = transpose(a, perm=[0, 1, 3, 2]);
        let b = conv2d(t, 16, kernel=3, pad=1);
        return relu(b) + t;
    }";
    let file = scc_lang::parse(&scc_lang::SourceFile::new("t.sc", source)).unwrap();
    let graph = scc_compiler::lower::lower(&file, None).unwrap();
    let weights = scc_compiler::weights::Weights::random(&graph, 9).unwrap();
    for tier in wide_tiers() {
        let laid_out = with_layouts(&graph, tier).unwrap();
        let dump = laid_out.dump();
        let lanes = tier.lanes();
        let transpose = laid_out
            .topological_order()
            .into_iter()
            .find(|&id| matches!(laid_out.node(id).op, Op::Transpose { .. }))
            .expect("the transpose is kept");
        assert_eq!(laid_out.layout(transpose).name(), "nchw", "{dump}");
        let operand = laid_out.operands(transpose)[0];
        assert!(
            matches!(laid_out.node(operand).op, Op::Reorder { .. }),
            "the blocked conv is reordered to plain for the transpose:\n{dump}"
        );
        let reorders_of_t = laid_out
            .users(transpose)
            .iter()
            .filter(|&&u| matches!(laid_out.node(u).op, Op::Reorder { .. }))
            .count();
        assert_eq!(
            reorders_of_t, 1,
            "one reorder to nchw{lanes}c after it:\n{dump}"
        );
        check_tier(&graph, &weights, tier, "transpose between blocked convs");
    }
}
