//! The optimising passes preserve every model's outputs: translation validation (the
//! graph interpreted before and after every pass) over every fixture, every example and
//! randomly generated models; and the optimised graph still reproduces PyTorch's outputs.

mod common;

use common::{assert_close, fixture_cases, generate::random_model, repo_path};
use proptest::prelude::*;
use scc::{BindOptions, Model, PassOptions};

fn validating() -> PassOptions {
    PassOptions {
        verify: true,
        validate: true,
        ..PassOptions::default()
    }
}

#[test]
fn translation_validation_passes_on_every_fixture() {
    for case in fixture_cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let model = Model::from_file(case.join("model.sc"), None).unwrap();
        let (weights, _) = model
            .load_weights(case.join("weights.safetensors"), &BindOptions::default())
            .unwrap();
        let optimized = model
            .optimize(Some(&weights), &validating())
            .unwrap_or_else(|e| panic!("{name}: {}", e.render()));
        let inputs = scc::runtime::read_safetensors(&case.join("inputs.safetensors")).unwrap();
        let expected = scc::runtime::read_safetensors(&case.join("expected.safetensors")).unwrap();
        for (output, tensor) in scc::interpret_graph(&optimized.graph, &weights, &inputs).unwrap() {
            assert_close(
                &format!("{name}/{output} (optimised)"),
                &tensor,
                &expected[&output],
            );
        }
    }
}

#[test]
fn translation_validation_passes_on_every_example() {
    let mut examples: Vec<_> = std::fs::read_dir(repo_path("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sc"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 6);
    for path in examples {
        // The zoo's larger models are validated at the small input of their committed
        // PyTorch outputs (every op and pass is the same at any size).
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let model = match common::zoo::small_size(stem) {
            Some((height, width)) => {
                common::zoo::generate::at_size(path.to_str().unwrap(), 1, height, width).unwrap()
            }
            None => Model::from_file(&path, None).unwrap(),
        };
        model
            .optimize(None, &validating())
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.render()));
    }
}

#[test]
fn optimised_resnet18s_does_the_papers_work() {
    let model = Model::from_file(repo_path("examples/resnet18s.sc"), None).unwrap();
    let optimized = model.optimize(None, &PassOptions::default()).unwrap();
    let graph = &optimized.graph;
    let ops: Vec<&scc::compiler::Op> = graph
        .node_ids()
        .into_iter()
        .map(|id| &graph.node(id).op)
        .collect();
    assert!(
        !ops.iter()
            .any(|op| matches!(op, scc::compiler::Op::BatchNorm { .. })),
        "no batchnorm left"
    );
    assert!(
        !ops.iter()
            .any(|op| matches!(op, scc::compiler::Op::StructuredConv2d(_))),
        "all decomposed"
    );
    let pools: Vec<_> = ops
        .iter()
        .filter_map(|op| match op {
            scc::compiler::Op::SumPool3d(a) => Some(a),
            _ => None,
        })
        .collect();
    assert!(
        pools
            .iter()
            .any(|a| a.algorithm == scc::compiler::ir::SumPoolAlgorithm::RunningSum)
    );
    // Each of the three downsampling blocks computes its 3x3 pool from its shortcut's pool.
    let shared = graph
        .node_ids()
        .into_iter()
        .filter(|&id| {
            matches!(graph.node(id).op, scc::compiler::Op::SumPool3d(_))
                && matches!(
                    graph.node(graph.operands(id)[0]).op,
                    scc::compiler::Op::SumPool3d(_)
                )
        })
        .count();
    assert_eq!(shared, 3);
    let costs = scc::compiler::stats::costs(graph);
    let totals = scc::compiler::stats::totals(&costs);
    assert!(
        totals.sumpool_adds * 20 <= totals.structured_macs,
        "{totals:?}"
    );
    let memory = scc::compiler::memory::plan_graph(graph);
    assert!(memory.arena_bytes < memory.naive_bytes);
}

proptest! {
    #![proptest_config(scc_testkit::config(scc_testkit::random_models(200)))]

    #[test]
    fn translation_validation_passes_on_random_models(seed in any::<u64>()) {
        let source = random_model(seed);
        let model = Model::from_source("generated.sc", &source, None)
            .unwrap_or_else(|e| panic!("generator produced an invalid model:\n{source}\n{}", e.render()));
        let weights = model.random_weights(seed).unwrap();
        if let Err(e) = model.optimize(Some(&weights), &validating()) {
            panic!("{}\n{source}", e.render());
        }
    }
}

#[test]
fn generated_models_cover_every_op() {
    let sources: Vec<String> = (0..300).map(random_model).collect();
    for op in [
        "conv2d(",
        "sconv2d(",
        "linear(",
        "slinear(",
        "batchnorm(",
        "relu(",
        "relu6(",
        "sigmoid(",
        "tanh(",
        "silu(",
        "hardswish(",
        "hardsigmoid(",
        "maxpool(",
        "avgpool(",
        "sumpool(",
        "global_avgpool(",
        "flatten(",
        "softmax(",
        "concat(",
        "upsample(",
        " + ",
        " * ",
        " - ",
        " / ",
        "clamp(",
        "leaky_relu(",
        "pad(",
        "affine(",
        "transpose(",
        "perm=[1, 0]",
        "perm=[0, 2, 3, 1]",
        "training=true",
        "ceil_mode=true",
        "count_include_pad=false",
        "size=(",
        "nearest-exact",
        "align_corners=true",
        "groups=2",
        "stride=2",
        "dilation=2",
        "[2, ",
    ] {
        assert!(
            sources.iter().any(|s| s.contains(op)),
            "no generated model uses `{op}`"
        );
    }
    if std::env::var_os("SCC_PRINT_MODELS").is_some() {
        for s in sources.iter().take(3) {
            println!("{s}");
        }
    }
}

/// Generated models fresh-seed soaks found failing before batchnorm calibration floored each
/// variance by the rounding noise it would amplify: a sum of softmax probabilities (always 1,
/// or nearly), or features derived from one scalar that hardly varies, into two batchnorms
/// whose calibrated variance of ~0 amplified f32 rounding by ~10³. They now pass translation
/// validation and the JIT agrees with the interpreter to 1e-5 (ten times inside the
/// tolerance; they were at 1.4e-4 to 1.8e-4).
#[test]
fn generated_models_with_constant_channels_are_well_conditioned() {
    for seed in [
        2029074085429394820u64,
        2078719699896756512,
        2002747591349253585,
    ] {
        let source = random_model(seed);
        let model = Model::from_source("generated.sc", &source, None).unwrap();
        let weights = model.random_weights(seed).unwrap();
        model
            .optimize(Some(&weights), &validating())
            .unwrap_or_else(|e| panic!("{}\n{source}", e.render()));
        let inputs = model.random_inputs(seed).unwrap();
        let jit = scc::compile(&model, &weights, &scc::Options::default()).unwrap();
        let interp = scc::compile(
            &model,
            &weights,
            &scc::Options {
                engine: scc::Engine::Interpreter,
                ..scc::Options::default()
            },
        )
        .unwrap();
        for ((name, got), (_, want)) in jit
            .run(&inputs)
            .unwrap()
            .iter()
            .zip(&interp.run(&inputs).unwrap())
        {
            let diff = got.max_abs_diff(want);
            assert!(
                diff <= 1e-5 * want.max_abs().max(1.0),
                "{name}: {diff}\n{source}"
            );
        }
    }
}
