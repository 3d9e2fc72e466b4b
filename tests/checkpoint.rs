//! PyTorch checkpoints bind as saved: a `state_dict` written by `safetensors.torch.save_file`
//! (PyTorch's key names, I64 `num_batches_tracked` counters) runs the `.sc` model written with
//! the examples' naming, with no renaming by hand (`tests/data/checkpoint/`, made by its
//! `make.py` with PyTorch).

mod common;

use common::{assert_close, repo_path, scc, scc_ok};
use scc::{BindOptions, Model, Tensor};
use std::collections::BTreeMap;

const DIR: &str = "tests/data/checkpoint";

fn model() -> Model {
    Model::from_file(repo_path(&format!("{DIR}/tiny.sc")), None).unwrap()
}

fn read(file: &str) -> BTreeMap<String, Tensor> {
    scc::runtime::read_safetensors(&repo_path(&format!("{DIR}/{file}"))).unwrap()
}

#[test]
fn state_dict_runs_the_model_and_matches_pytorch() {
    let model = model();
    let (weights, report) = model
        .load_weights(
            repo_path(&format!("{DIR}/state_dict.safetensors")),
            &BindOptions::default(),
        )
        .unwrap();
    let skipped: Vec<(&str, &str)> = report
        .skipped
        .iter()
        .map(|t| (t.name.as_str(), t.dtype.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("features.0.1.num_batches_tracked", "I64"),
            ("layer1.0.bn1.num_batches_tracked", "I64"),
            ("layer1.0.bn2.num_batches_tracked", "I64"),
            ("layer1.0.downsample.1.num_batches_tracked", "I64"),
        ]
    );
    assert!(report.renamed.contains(&(
        "layer1.0.downsample.0.weight".to_string(),
        "layer1_0.downsample_0.weight".to_string()
    )));
    // Every PyTorch key with a `.<digits>` part was renamed; `fc.weight` and `fc.bias` were not.
    assert_eq!(report.renamed.len(), weights.len() - 2);
    let outputs = scc::compile(&model, &weights, &scc::Options::default())
        .unwrap()
        .run(&read("inputs.safetensors"))
        .unwrap();
    assert_close("fc", &outputs[0].1, &read("outputs.safetensors")["fc"]);
}

#[test]
fn the_cli_notes_the_skipped_counters() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.safetensors");
    let out = scc(&[
        "run",
        &format!("{DIR}/tiny.sc"),
        "--weights",
        &format!("{DIR}/state_dict.safetensors"),
        "--inputs",
        &format!("{DIR}/inputs.safetensors"),
        "--save",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "note: skipped 4 tensors that are not weights: `num_batches_tracked` (I64) of \
         features.0.1, layer1.0.bn1, layer1.0.bn2, layer1.0.downsample.1\n"
    );
    let got = scc::runtime::read_safetensors(&out_path).unwrap();
    assert_close("fc", &got["fc"], &read("outputs.safetensors")["fc"]);
    // `scc check --weights` reads the same file.
    scc_ok(&[
        "check",
        &format!("{DIR}/tiny.sc"),
        "--weights",
        &format!("{DIR}/state_dict.safetensors"),
    ]);
}

/// Counters converted to f32 (as a state_dict converted tensor by tensor would be) are skipped
/// by name; two keys naming the same weight and unknown renamed keys are reported.
#[test]
fn in_memory_state_dicts_are_mapped_and_checked() {
    let model = model();
    let mut tensors =
        scc::runtime::read_checkpoint(&repo_path(&format!("{DIR}/state_dict.safetensors")))
            .unwrap()
            .tensors;
    tensors.insert("layer1.0.bn1.num_batches_tracked".into(), Tensor::zeros([]));
    let (_, report) = model
        .bind_weights(tensors.clone(), &BindOptions::default())
        .unwrap();
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].dtype, "F32");

    let weight = tensors["fc.weight"].clone();
    tensors.insert("layer1_0.conv1.weight".into(), Tensor::zeros([16, 8, 3, 3]));
    tensors.insert("layer2.0.fc.weight".into(), weight);
    let err = model
        .bind_weights(tensors, &BindOptions::default())
        .unwrap_err();
    assert_eq!(
        err.render(),
        "error: the weights file `<memory>` does not match the model:\n  \
         - keys `layer1.0.conv1.weight` and `layer1_0.conv1.weight` both name the weight \
         `layer1_0.conv1.weight` (a `.` before digits reads as `_`)\n  \
         - unexpected weight `layer2_0.fc.weight` [5, 16] (key `layer2.0.fc.weight`; the model \
         has no such weight)\n"
    );
}
