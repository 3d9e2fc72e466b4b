//! The JIT against the interpreter: every fixture (and PyTorch's outputs), every example,
//! hundreds of randomly generated models, several thread counts, concurrent runs — each on
//! every vector tier this CPU has, forced in turn.

mod common;

use common::{assert_close, fixture_cases, generate::random_model, host_tiers, repo_path};
use proptest::prelude::*;
use scc::{BindOptions, Engine, Model, Options, Tensor};
use std::collections::BTreeMap;

fn jit(
    model: &Model,
    weights: &scc::Weights,
    threads: usize,
    tier: scc::Tier,
) -> scc::CompiledModel {
    scc::compile(
        model,
        weights,
        &Options {
            threads,
            tier: Some(tier),
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("tier {tier}: {}", e.render()))
}

fn interpreter(model: &Model, weights: &scc::Weights) -> scc::CompiledModel {
    scc::compile(
        model,
        weights,
        &Options {
            engine: Engine::Interpreter,
            ..Options::default()
        },
    )
    .unwrap()
}

fn assert_all_close(what: &str, got: &[(String, Tensor)], expected: &[(String, Tensor)]) {
    assert_eq!(got.len(), expected.len());
    for ((name, g), (_, e)) in got.iter().zip(expected) {
        assert_close(&format!("{what}/{name}"), g, e);
    }
}

#[test]
fn jit_reproduces_every_fixture() {
    for case in fixture_cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let model = Model::from_file(case.join("model.sc"), None).unwrap();
        let (weights, _) = model
            .load_weights(case.join("weights.safetensors"), &BindOptions::default())
            .unwrap();
        let inputs = scc::runtime::read_safetensors(&case.join("inputs.safetensors")).unwrap();
        let expected: BTreeMap<String, Tensor> =
            scc::runtime::read_safetensors(&case.join("expected.safetensors")).unwrap();
        let reference = interpreter(&model, &weights).run(&inputs).unwrap();
        for tier in host_tiers() {
            let got = jit(&model, &weights, 2, tier).run(&inputs).unwrap();
            for (output, tensor) in &got {
                assert_close(
                    &format!("{name}/{output} (jit {tier} vs PyTorch)"),
                    tensor,
                    &expected[output],
                );
            }
            assert_all_close(&format!("{name} ({tier})"), &got, &reference);
        }
    }
}

#[test]
fn jit_equals_the_interpreter_on_every_example() {
    for example in [
        "resnet20s",
        "resnet20",
        "resnet18s",
        "resnet18",
        "mobilenetv2s",
        "mobilenetv2",
    ] {
        let model = Model::from_file(repo_path(&format!("examples/{example}.sc")), None).unwrap();
        let weights = model.random_weights(11).unwrap();
        let inputs = model.random_inputs(3).unwrap();
        let reference = interpreter(&model, &weights).run(&inputs).unwrap();
        for tier in host_tiers() {
            let got = jit(&model, &weights, 0, tier).run(&inputs).unwrap();
            assert_all_close(&format!("{example} ({tier})"), &got, &reference);
        }
    }
}

#[test]
fn results_are_bit_identical_across_thread_counts_within_a_tier() {
    for example in ["resnet20s", "mobilenetv2s"] {
        let model = Model::from_file(repo_path(&format!("examples/{example}.sc")), None).unwrap();
        let weights = model.random_weights(2).unwrap();
        let inputs = model.random_inputs(5).unwrap();
        for tier in host_tiers() {
            let runs: Vec<Vec<(String, Tensor)>> = [1, 2, 3]
                .iter()
                .map(|&threads| {
                    let compiled = jit(&model, &weights, threads, tier);
                    let first = compiled.run(&inputs).unwrap();
                    assert_eq!(
                        first,
                        compiled.run(&inputs).unwrap(),
                        "{example}: repeatable with {threads} threads ({tier})"
                    );
                    first
                })
                .collect();
            for run in &runs[1..] {
                assert_eq!(run, &runs[0], "{example} ({tier}): thread counts differ");
            }
        }
    }
}

#[test]
fn a_compiled_model_runs_concurrently_from_many_threads() {
    let model = Model::from_file(repo_path("examples/resnet20s.sc"), None).unwrap();
    let weights = model.random_weights(4).unwrap();
    let jit = std::sync::Arc::new(scc::compile(&model, &weights, &Options::default()).unwrap());
    let inputs: Vec<BTreeMap<String, Tensor>> =
        (0..4).map(|i| model.random_inputs(i).unwrap()).collect();
    let expected: Vec<_> = inputs.iter().map(|x| jit.run(x).unwrap()).collect();
    std::thread::scope(|scope| {
        for _ in 0..3 {
            for (x, e) in inputs.iter().zip(&expected) {
                let jit = jit.clone();
                scope.spawn(move || assert_eq!(&jit.run(x).unwrap(), e));
            }
        }
    });
}

#[test]
fn a_value_returned_twice_is_two_outputs() {
    // As in PyTorch and ONNX: `return c, c` gives two outputs; the second, a name already
    // returned, is named by its position.
    let source = "model m(x: [2, 3, 4, 4]) {\n    let conv = conv2d(x, 3, kernel=3, pad=1);\n    let c = relu(conv);\n    return c, c, x, c + x;\n}\n";
    let model = Model::from_source("twice.sc", source, None).unwrap();
    let names: Vec<String> = model.outputs().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["c", "output1", "x", "output3"]);
    let weights = model.random_weights(4).unwrap();
    let inputs = model.random_inputs(4).unwrap();
    let expected = model.interpret(&weights, &inputs).unwrap();
    assert_all_close(
        "interp",
        &interpreter(&model, &weights).run(&inputs).unwrap(),
        &expected,
    );
    for tier in host_tiers() {
        for threads in [1, 2] {
            let got = jit(&model, &weights, threads, tier).run(&inputs).unwrap();
            assert_eq!(got[0].1, got[1].1);
            assert_eq!(got[2].1, inputs["x"]);
            assert_all_close(&format!("jit ({tier})"), &got, &expected);
        }
    }
}

#[test]
fn the_jit_rejects_wrong_inputs() {
    let model = Model::from_file(repo_path("examples/resnet20s.sc"), None).unwrap();
    let jit = scc::compile(
        &model,
        &model.random_weights(0).unwrap(),
        &Options::default(),
    )
    .unwrap();
    let mut inputs = model.random_inputs(0).unwrap();
    inputs.insert("image".into(), Tensor::zeros(vec![1, 3, 31, 32]));
    let err = jit.run(&inputs).unwrap_err();
    assert_eq!(
        err.to_string(),
        "input `image` has shape [1, 3, 31, 32], expected [1, 3, 32, 32]"
    );
}

proptest! {
    #![proptest_config(scc_testkit::config(scc_testkit::random_models(300)))]

    #[test]
    fn jit_equals_the_interpreter_on_random_models(seed in any::<u64>(), threads in 1usize..=3) {
        let source = random_model(seed);
        let model = Model::from_source("generated.sc", &source, None).unwrap();
        let weights = model.random_weights(seed).unwrap();
        let inputs = model.random_inputs(seed).unwrap();
        let expected = interpreter(&model, &weights).run(&inputs).unwrap();
        for tier in host_tiers() {
            let got = jit(&model, &weights, threads, tier).run(&inputs).unwrap();
            for ((name, g), (_, e)) in got.iter().zip(&expected) {
                let scale = e.data().iter().fold(1f32, |m, v| m.max(v.abs()));
                let diff = g.max_abs_diff(e);
                prop_assert!(diff <= 1e-4 * scale, "{name} ({tier}): diff {diff} > {}\n{source}", 1e-4 * scale);
            }
        }
    }
}
