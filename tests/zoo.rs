//! The examples compute what PyTorch computes, checked without PyTorch: every example
//! of `examples/`, at the small input of its committed outputs, on scc's seeded random weights
//! (regenerated here exactly as when PyTorch ran them: the digest stored with the outputs
//! says so), through the JIT, against the reference's outputs (torchvision, timm or
//! `examples/zoo/models.py`, computed in float64 by `examples/zoo/reference.py fixtures`)
//! within the contract's tolerance; and the same weights under the reference's state_dict
//! keys bind to the example with no renaming by hand.

mod common;

use common::zoo::{SEED, generate, small_size};
use common::{assert_close, repo_path};
use scc::compiler::weights::sc_weight_name;
use scc::{BindOptions, Model, Options, Tensor, Weights};
use std::collections::{BTreeMap, HashMap};

/// The metadata `reference.py` stored with an example's outputs.
fn metadata(bytes: &[u8]) -> HashMap<String, String> {
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    metadata.metadata().clone().unwrap_or_default()
}

fn assert_relatively_close(what: &str, got: f64, stored: &str) {
    let stored: f64 = stored.parse().unwrap();
    assert!(
        (got - stored).abs() <= 1e-6 * stored.abs().max(1.0),
        "{what}: {got:e} regenerated, {stored:e} when the outputs were computed"
    );
}

fn matches_pytorch(example: &str) {
    let (height, width) = small_size(example).unwrap();
    let expected_path = repo_path(&format!("examples/zoo/expected/{example}.safetensors"));
    let meta = metadata(&std::fs::read(&expected_path).unwrap());
    assert_eq!(
        meta["input_shape"],
        format!("1,3,{height},{width}"),
        "{example}"
    );
    assert_eq!(meta["seed"], SEED.to_string(), "{example}");
    let path = repo_path(&format!("examples/{example}.sc"));
    let (model, weights, inputs) =
        generate::zoo_case(path.to_str().unwrap(), height, width, SEED).unwrap();

    // The same weights as PyTorch ran: the seeded tensors bit for bit, the statistics the
    // interpreter calibrated up to rounding.
    let digest = generate::digest(&weights);
    assert_eq!(
        format!("{:016x}", digest.seeded_fnv1a),
        meta["seeded_fnv1a"],
        "{example}: seeded weights differ from those PyTorch ran"
    );
    assert_relatively_close(
        &format!("{example}: sum of running means"),
        digest.running_mean_sum,
        &meta["running_mean_sum"],
    );
    assert_relatively_close(
        &format!("{example}: sum of running variances"),
        digest.running_var_sum,
        &meta["running_var_sum"],
    );

    binds_the_reference_checkpoint(example, &model, &weights, &meta);

    let expected = scc::runtime::read_safetensors(&expected_path).unwrap();
    let compiled = scc::compile(
        &model,
        &weights,
        &Options {
            threads: 1,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{example}: {}", e.render()));
    let outputs = compiled.run(&inputs).unwrap();
    assert_eq!(outputs.len(), expected.len(), "{example}: outputs");
    for (name, tensor) in &outputs {
        assert_close(
            &format!("{example}/{name} (JIT vs PyTorch)"),
            tensor,
            &expected[name],
        );
    }
}

/// `weights` as the reference's state_dict holds them, under its `keys` (the
/// `num_batches_tracked` counters, which scc skips, are left out: tests/checkpoint.rs reads
/// them from a file PyTorch saved). A structured layer's `alpha` takes the place of the
/// reference's dense `weight` under the same PyTorch-style key (`layer1.0.conv1.alpha`),
/// as a structured PyTorch model names it; projecting dense kernels is tested elsewhere
/// (tests/properties.rs) and costs O(out · C · c) per layer.
fn as_reference_state_dict(weights: &Weights, keys: &str) -> BTreeMap<String, Tensor> {
    keys.lines()
        .filter(|key| !key.ends_with("num_batches_tracked"))
        .map(|key| {
            let name = sc_weight_name(key);
            match weights.get(&name) {
                Some(tensor) => (key.to_string(), tensor.clone()),
                None => {
                    let layer = key
                        .strip_suffix(".weight")
                        .unwrap_or_else(|| panic!("{key}"));
                    let alpha = format!("{}.alpha", sc_weight_name(layer));
                    let tensor = weights.get(&alpha).unwrap_or_else(|| panic!("no {alpha}"));
                    (format!("{layer}.alpha"), tensor.clone())
                }
            }
        })
        .collect()
}

fn binds_the_reference_checkpoint(
    example: &str,
    model: &Model,
    weights: &Weights,
    meta: &HashMap<String, String>,
) {
    let checkpoint = as_reference_state_dict(weights, &meta["state_dict_keys"]);
    let (bound, _) = model
        .bind_weights(checkpoint, &BindOptions::default())
        .unwrap_or_else(|e| panic!("{example}: {}", e.render()));
    assert_eq!(bound.len(), weights.len(), "{example}: bound weights");
    for (name, tensor) in weights.iter() {
        assert_eq!(bound.get(name), Some(tensor), "{example}: {name}");
    }
}

macro_rules! zoo_cases {
    ($($example:ident),* $(,)?) => {
        $(#[test] fn $example() { matches_pytorch(stringify!($example)); })*

        /// Every case, every committed output file and every example has a test above.
        #[test]
        fn every_case_is_tested() {
            let tested = [$(stringify!($example)),*];
            for (example, _, _) in common::zoo::CASES {
                assert!(tested.contains(example), "{example} has no test");
            }
            for entry in std::fs::read_dir(repo_path("examples/zoo/expected")).unwrap() {
                let path = entry.unwrap().path();
                let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
                assert!(tested.contains(&stem.as_str()), "{} has no test", path.display());
            }
            // Every example model has committed PyTorch outputs.
            for entry in std::fs::read_dir(repo_path("examples")).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "sc") {
                    let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
                    assert!(tested.contains(&stem.as_str()), "{} has no test", path.display());
                }
            }
        }
    };
}

zoo_cases!(
    resnet18,
    resnet18s,
    resnet20,
    resnet20s,
    mobilenetv2,
    mobilenetv2s,
    resnet34,
    resnet34s,
    resnet50,
    resnet50s,
    resnet18s_a,
    resnet56,
    resnet56s,
    efficientnet_b0,
    efficientnet_b0s,
    hrnet_w18_small,
    hrnet_w18_small_s,
    hrnet_w18_small_seg,
    hrnet_w18_small_seg_s,
    hrnet_w18_small_v2_seg,
    hrnet_w18_small_v2_seg_s,
);
