//! The digits demo (`examples/digits/`, trained by its `train.py`): scc runs the committed
//! PyTorch-trained structured models exactly as PyTorch does. No PyTorch needed.

use scc::runtime::read_safetensors;
use scc::{BindOptions, BuildOptions, Emit, Engine, Model, Options, Tensor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The deployable variants: results.json key, alpha weights, PyTorch's logits.
const VARIANTS: [(&str, &str, &str); 2] = [
    (
        "regularized",
        "weights_regularized_alpha.safetensors",
        "test_logits_regularized.safetensors",
    ),
    (
        "alpha",
        "weights_alpha.safetensors",
        "test_logits_alpha.safetensors",
    ),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits")
}

fn tensor(file: &str, key: &str) -> Tensor {
    read_safetensors(&dir().join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .remove(key)
        .unwrap_or_else(|| panic!("{file} has no `{key}`"))
}

fn model() -> Model {
    Model::from_file(dir().join("digits.sc"), None).unwrap_or_else(|e| panic!("{}", e.render()))
}

fn results() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("results.json")).unwrap()).unwrap()
}

fn argmax_rows(t: &Tensor) -> Vec<usize> {
    let k = t.shape()[1];
    t.data()
        .chunks(k)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0
        })
        .collect()
}

fn labels() -> Vec<usize> {
    tensor("test_labels.safetensors", "labels")
        .data()
        .iter()
        .map(|&v| v as usize)
        .collect()
}

/// Same argmax as PyTorch on every image, logits within the contract's tolerance, and the
/// accuracy train.py recorded.
fn check(what: &str, got: &Tensor, expected: &Tensor, labels: &[usize], results_key: &str) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shape");
    let ours = argmax_rows(got);
    assert_eq!(
        ours,
        argmax_rows(expected),
        "{what}: argmax differs from PyTorch"
    );
    let scale = expected.max_abs().max(1.0);
    let diff = got.max_abs_diff(expected);
    assert!(
        diff <= 1e-4 * scale,
        "{what}: max |got - PyTorch| = {diff:e} > {:e}",
        1e-4 * scale
    );
    let correct = ours.iter().zip(labels).filter(|(a, b)| a == b).count();
    let entry = &results()["variants"][results_key];
    assert_eq!(
        correct as u64,
        entry["deployed_correct"].as_u64().unwrap(),
        "{what}: correct count"
    );
    let accuracy = correct as f64 / labels.len() as f64;
    assert!((accuracy - entry["deployed_test_accuracy"].as_f64().unwrap()).abs() < 1e-12);
    assert!(accuracy > 0.95, "{what}: accuracy {accuracy}");
}

#[test]
fn interpreter_jit_and_binary_match_pytorch() {
    let model = model();
    let labels = labels();
    let inputs = BTreeMap::from([(
        "images".to_string(),
        tensor("test_images.safetensors", "images"),
    )]);
    assert_eq!(model.inputs()[0].1, vec![labels.len(), 1, 8, 8]);
    let output = model.outputs()[0].0.clone();
    let temp = tempfile::tempdir().unwrap();
    for (key, weights_file, logits_file) in VARIANTS {
        let (weights, reports) = model
            .load_weights(dir().join(weights_file), &BindOptions::default())
            .unwrap_or_else(|e| panic!("{}", e.render()));
        assert!(
            reports.is_empty(),
            "{weights_file} holds alphas, nothing to project"
        );
        let expected = tensor(logits_file, "logits");
        for engine in [Engine::Interpreter, Engine::Jit] {
            let options = Options {
                engine,
                ..Options::default()
            };
            let logits = scc::compile(&model, &weights, &options)
                .unwrap_or_else(|e| panic!("{}", e.render()))
                .run(&inputs)
                .unwrap()
                .remove(0)
                .1;
            check(
                &format!("{key} {engine:?}"),
                &logits,
                &expected,
                &labels,
                key,
            );
        }
        let binary = temp.path().join(format!("digits_{key}"));
        scc::build(
            &model,
            &weights,
            &BuildOptions {
                output: binary.clone(),
                emit: Emit::Executable,
                passes: Default::default(),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
        let saved = temp.path().join(format!("{key}.safetensors"));
        let run = Command::new(&binary)
            .arg("--inputs")
            .arg(dir().join("test_images.safetensors"))
            .arg("--save")
            .arg(&saved)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}: {}",
            binary.display(),
            String::from_utf8_lossy(&run.stderr)
        );
        let logits = read_safetensors(&saved).unwrap().remove(&output).unwrap();
        check(&format!("{key} binary"), &logits, &expected, &labels, key);
    }
}

/// `scc check --weights` on the plain dense weights succeeds and reports one residual per
/// structured layer; the regulariser made the residuals of (b) tiny in comparison.
#[test]
fn regularizer_shrinks_structure_residuals() {
    let out = Command::new(env!("CARGO_BIN_EXE_scc"))
        .args([
            "check",
            "examples/digits/digits.sc",
            "--weights",
            "examples/digits/weights_dense.safetensors",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scc check failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for layer in ["conv2", "conv3"] {
        assert_eq!(
            stdout
                .lines()
                .filter(|l| l.contains("residual") && l.contains(&format!("`{layer}.weight`")))
                .count(),
            1,
            "one residual line for {layer} in:\n{stdout}"
        );
    }

    let model = model();
    let lenient = BindOptions {
        allow_structure_error: true,
        ..Default::default()
    };
    let residuals = |file: &str| -> BTreeMap<String, f64> {
        let (_, reports) = model
            .load_weights(dir().join(file), &lenient)
            .unwrap_or_else(|e| panic!("{}", e.render()));
        reports
            .into_iter()
            .map(|r| (r.layer, r.relative_residual))
            .collect()
    };
    let dense = residuals("weights_dense.safetensors");
    let regularized = residuals("weights_regularized.safetensors");
    assert_eq!(dense.keys().collect::<Vec<_>>(), ["conv2", "conv3"]);
    assert_eq!(regularized.keys().collect::<Vec<_>>(), ["conv2", "conv3"]);
    let recorded = results();
    for (layer, &r) in &regularized {
        assert!(
            r * 100.0 < dense[layer],
            "{layer}: regularized residual {r:e} is not much below the dense one {:e}",
            dense[layer]
        );
        // What train.py measured (in f64, before the f32 export) agrees with scc.
        let trained = recorded["variants"]["dense"]["structure_residual"][layer]
            .as_f64()
            .unwrap();
        assert!((trained - dense[layer]).abs() < 1e-4 * trained, "{layer}");
    }
}

/// results.json's params and MACs are those of `scc check --json`.
#[test]
fn recorded_costs_match_scc_check() {
    let out = Command::new(env!("CARGO_BIN_EXE_scc"))
        .args(["check", "examples/digits/digits.sc", "--json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recorded = results();
    assert_eq!(stats["params"], recorded["structured"]["params"]);
    assert_eq!(stats["structured_macs"], recorded["structured"]["macs"]);
    assert_eq!(stats["dense_macs"], recorded["dense_equivalent"]["macs"]);
}

/// `train.py` also exports variant (b) — dense kernels trained with Structural
/// Regularization — to ONNX as PyTorch deploys it (batchnorms folded into the convolutions).
/// `scc import --structure auto` finds the trained structure of both layers (c = C/2, n = 2)
/// and compiles the structured model, which reproduces variant (b)'s logits and accuracy.
#[test]
fn onnx_import_with_structure_auto_recovers_the_structured_model() {
    let out = tempfile::tempdir().unwrap();
    let sc = out.path().join("digits_imported.sc");
    let options = scc::OnnxOptions {
        structure: scc::scc_onnx::StructureOptions {
            auto: Some(scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR),
            ..Default::default()
        },
        ..Default::default()
    };
    let report = scc::import_onnx(dir().join("digits_regularized.onnx"), &sc, &options)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let chosen: Vec<(&str, usize, (usize, usize))> = report
        .structured
        .iter()
        .map(|l| (l.layer.as_str(), l.structure.c, l.structure.n))
        .collect();
    assert_eq!(chosen, [("conv2", 8, (2, 2)), ("conv3", 16, (2, 2))]);
    assert!(report.structured.iter().all(|l| l.relative_residual < 1e-5));
    let model = Model::from_file(&sc, None).unwrap_or_else(|e| panic!("{}", e.render()));
    let stats = scc::compiler::stats::totals(&scc::compiler::stats::costs(model.graph()));
    let recorded = &results()["structured"];
    assert_eq!(
        stats.structured_macs as u64,
        recorded["macs"].as_u64().unwrap()
    );
    let (weights, _) = model
        .load_weights(sc.with_extension("safetensors"), &BindOptions::default())
        .unwrap();
    let inputs: BTreeMap<String, Tensor> = [(
        "images".to_string(),
        tensor("test_images.safetensors", "images"),
    )]
    .into();
    let logits = scc::compile(&model, &weights, &Options::default())
        .unwrap()
        .run(&inputs)
        .unwrap();
    let expected = tensor("test_logits_regularized.safetensors", "logits");
    check(
        "imported ONNX, --structure auto",
        &logits[0].1,
        &expected,
        &labels(),
        "regularized",
    );
}

/// `scc advise` finds the trained structure in variant (b)'s ONNX export, and none in the
/// plain dense variant (a); `--json` is one object.
#[test]
fn advise_recommends_the_trained_structures() {
    let bin = env!("CARGO_BIN_EXE_scc");
    let advise = |args: &[&str]| -> serde_json::Value {
        let out = Command::new(bin).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let best = |advice: &serde_json::Value| -> Vec<(String, Option<(u64, u64)>)> {
        advice["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let pick = l["best"].as_u64().map(|b| {
                    let c = &l["candidates"][b as usize];
                    (c["c"].as_u64().unwrap(), c["n"][0].as_u64().unwrap())
                });
                (l["layer"].as_str().unwrap().to_string(), pick)
            })
            .collect()
    };
    let onnx = dir().join("digits_regularized.onnx");
    let advice = advise(&["advise", onnx.to_str().unwrap(), "--json"]);
    assert_eq!(
        best(&advice),
        [
            ("conv1".to_string(), None),
            ("conv2".to_string(), Some((8, 2))),
            ("conv3".to_string(), Some((16, 2))),
            ("fc".to_string(), None)
        ]
    );
    assert!(advice["advised_macs"].as_u64() < advice["dense_macs"].as_u64());
    // Variant (a) as a dense .sc model: no layer is near a structure.
    let dense_sc = "model digits(images: [360, 1, 8, 8]) {
        let conv1 = conv2d(images, 16, kernel=3, pad=1);
        let bn1 = batchnorm(conv1);
        let conv2 = conv2d(relu(bn1), 32, kernel=3, pad=1);
        let bn2 = batchnorm(conv2);
        let pool = maxpool(relu(bn2), 2);
        let conv3 = conv2d(pool, 32, kernel=3, pad=1);
        let bn3 = batchnorm(conv3);
        let fc = linear(flatten(global_avgpool(relu(bn3))), 10);
        return fc;
    }";
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dense.sc");
    std::fs::write(&path, dense_sc).unwrap();
    let weights = dir().join("weights_dense.safetensors");
    let advice = advise(&[
        "advise",
        path.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--json",
    ]);
    assert!(best(&advice).iter().all(|(_, b)| b.is_none()), "{advice}");
}

/// `scc advise` on the `.sc` model whose `sconv2d` layers are given dense kernels (variant
/// (b)'s trained `weight`s, which binding projects): those kernels are scored as trained, the
/// declared structure is marked and is the best; given `alpha`s, the composed kernel is scored.
#[test]
fn advise_scores_dense_weights_given_to_structured_layers() {
    let bin = env!("CARGO_BIN_EXE_scc");
    let sc = dir().join("digits.sc");
    let advise = |weights: &str| -> serde_json::Value {
        let out = Command::new(bin)
            .args(["advise", sc.to_str().unwrap(), "--weights"])
            .arg(dir().join(weights))
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let mut declared_residuals = Vec::new();
    for (weights, kernel) in [
        ("weights_regularized.safetensors", "dense_weight"),
        ("weights_regularized_alpha.safetensors", "composed_alpha"),
    ] {
        let advice = advise(weights);
        let layers = advice["layers"].as_array().unwrap();
        let summary: Vec<(&str, &str, Vec<u64>)> = layers
            .iter()
            .map(|l| {
                (
                    l["layer"].as_str().unwrap(),
                    l["op"].as_str().unwrap(),
                    l["weight_shape"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_u64().unwrap())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("conv1", "conv2d", vec![16, 1, 3, 3]),
                ("conv2", "sconv2d", vec![32, 16, 3, 3]),
                ("conv3", "sconv2d", vec![32, 32, 3, 3]),
                ("fc", "linear", vec![10, 32]),
            ],
            "{weights}"
        );
        for (layer, (c, n)) in [(&layers[1], (8, 2)), (&layers[2], (16, 2))] {
            assert_eq!(layer["kernel"], kernel, "{weights}: {layer}");
            let declared = layer["declared"].as_u64().expect("declared structure") as usize;
            assert_eq!(layer["best"].as_u64(), Some(declared as u64), "{weights}");
            let candidate = &layer["candidates"][declared];
            assert_eq!(
                (candidate["c"].as_u64(), candidate["n"][0].as_u64()),
                (Some(c), Some(n))
            );
            let residual = candidate["relative_residual"].as_f64().unwrap();
            assert!(residual < 1e-5, "{weights}: {residual}");
            declared_residuals.push(residual);
        }
        assert_eq!(layers[0]["kernel"], "weight");
        assert!(layers[0]["declared"].is_null() && layers[0]["best"].is_null());
    }
    // Trained with the regularizer, the dense kernels are near the structure but not on it;
    // their projections (the alpha file) are on it up to rounding: the dense kernels, not
    // their projections, were scored.
    let (dense, composed) = declared_residuals.split_at(2);
    for (d, a) in dense.iter().zip(composed) {
        assert!(d > &(2.0 * a), "dense {d} vs composed alpha {a}");
    }
}
