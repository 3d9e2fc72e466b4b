//! The structured-convolution training path on real data, end to end, from committed files.
//!
//! `cargo run --release --example digits`
//!
//! `examples/digits/` holds a small CNN for scikit-learn's 8×8 digits (`digits.sc`, two
//! structured layers) and its weights, trained by `examples/digits/train.py` three ways:
//! (a) dense, (b) dense with the Structural Regularization loss then projected to alpha,
//! (c) directly in alpha. For the two deployable variants, (b) and (c), this runs the
//! held-out test split through the interpreter, the JIT and a native binary built by
//! `scc::build`, and compares each with the labels and with PyTorch's logits. Then it loads
//! the dense weights of (a) and (b) and prints how far each structured layer's kernel is
//! from its structure (what the regulariser achieved). No PyTorch needed.

use scc::runtime::read_safetensors;
use scc::{BindOptions, BuildOptions, Emit, Engine, Model, Options, Tensor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The deployable variants: name, alpha weights, PyTorch's logits.
const VARIANTS: [(&str, &str, &str); 2] = [
    (
        "(b) regularized → projected",
        "weights_regularized_alpha.safetensors",
        "test_logits_regularized.safetensors",
    ),
    (
        "(c) trained in alpha",
        "weights_alpha.safetensors",
        "test_logits_alpha.safetensors",
    ),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits")
}

fn tensor(file: &str, key: &str) -> Result<Tensor> {
    let mut tensors = read_safetensors(&dir().join(file))?;
    tensors
        .remove(key)
        .ok_or_else(|| format!("{file} has no tensor `{key}`").into())
}

/// Index of the largest value of each row of an `[N, K]` tensor (the first, on ties).
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

struct Row {
    variant: &'static str,
    engine: &'static str,
    correct: usize,
    n: usize,
    agreement: f64,
    relative_diff: f32,
    millis: f64,
}

fn score(
    variant: &'static str,
    engine: &'static str,
    logits: &Tensor,
    expected: &Tensor,
    labels: &[usize],
    millis: f64,
) -> Row {
    let got = argmax_rows(logits);
    let want = argmax_rows(expected);
    let correct = got.iter().zip(labels).filter(|(a, b)| a == b).count();
    let agree = got.iter().zip(&want).filter(|(a, b)| a == b).count();
    Row {
        variant,
        engine,
        correct,
        n: labels.len(),
        agreement: 100.0 * agree as f64 / labels.len() as f64,
        relative_diff: logits.max_abs_diff(expected) / expected.max_abs().max(1.0),
        millis,
    }
}

fn main() -> Result<()> {
    let model = Model::from_file(dir().join("digits.sc"), None).map_err(|e| e.render())?;
    let images = tensor("test_images.safetensors", "images")?;
    let labels: Vec<usize> = tensor("test_labels.safetensors", "labels")?
        .data()
        .iter()
        .map(|&v| v as usize)
        .collect();
    let inputs = BTreeMap::from([("images".to_string(), images)]);
    let output = model.outputs()[0].0.clone();
    println!(
        "model `{}`: {} test images {:?} → `{output}` {:?}",
        model.name(),
        labels.len(),
        model.inputs()[0].1,
        model.outputs()[0].1
    );

    let temp = tempfile::tempdir()?;
    let mut rows = Vec::new();
    for (i, (variant, weights_file, logits_file)) in VARIANTS.into_iter().enumerate() {
        let (weights, _) = model
            .load_weights(dir().join(weights_file), &BindOptions::default())
            .map_err(|e| e.render())?;
        let expected = tensor(logits_file, "logits")?;

        for (engine, name) in [(Engine::Interpreter, "interpreter"), (Engine::Jit, "JIT")] {
            let options = Options {
                engine,
                ..Options::default()
            };
            let compiled = scc::compile(&model, &weights, &options).map_err(|e| e.render())?;
            let started = Instant::now();
            let mut outputs = compiled.run(&inputs).map_err(|e| e.render())?;
            let millis = started.elapsed().as_secs_f64() * 1e3;
            let logits = outputs.remove(0).1;
            rows.push(score(variant, name, &logits, &expected, &labels, millis));
        }

        let binary = temp.path().join(["digits_regularized", "digits_alpha"][i]);
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
        .map_err(|e| e.render())?;
        let saved = temp.path().join(format!("out_{i}.safetensors"));
        let started = Instant::now();
        let run = std::process::Command::new(&binary)
            .arg("--inputs")
            .arg(dir().join("test_images.safetensors"))
            .arg("--save")
            .arg(&saved)
            .output()?;
        let millis = started.elapsed().as_secs_f64() * 1e3;
        if !run.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                binary.display(),
                run.status,
                String::from_utf8_lossy(&run.stderr)
            )
            .into());
        }
        let logits = read_safetensors(&saved)?
            .remove(&output)
            .ok_or("the binary saved no logits")?;
        rows.push(score(
            variant,
            "built binary",
            &logits,
            &expected,
            &labels,
            millis,
        ));
    }

    println!();
    println!(
        "{:<28} {:<13} {:>16} {:>20} {:>24} {:>10}",
        "variant", "engine", "test accuracy", "argmax = PyTorch", "max|Δ| / max|PyTorch|", "time"
    );
    for r in &rows {
        println!(
            "{:<28} {:<13} {:>7.2} % ({:>3}/{}) {:>19.1}% {:>24.2e} {:>7.1} ms",
            r.variant,
            r.engine,
            100.0 * r.correct as f64 / r.n as f64,
            r.correct,
            r.n,
            r.agreement,
            r.relative_diff,
            r.millis
        );
    }
    println!("(the built binary's time includes starting the process and reading/writing files)");

    // What training reported (PyTorch, results.json): accuracy before and after projection.
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("results.json"))?)?;
    println!();
    println!(
        "PyTorch test accuracy (results.json): dense kernels → after projecting them to alpha"
    );
    for (variant, key) in [
        ("(a) dense", "dense"),
        ("(b) regularized", "regularized"),
        ("(c) alpha", "alpha"),
    ] {
        let entry = &results["variants"][key];
        let before = entry["test_accuracy"].as_f64().unwrap_or(f64::NAN) * 100.0;
        match entry["test_accuracy_projected"].as_f64() {
            Some(after) => println!("  {variant:<16} {before:6.2} % → {:6.2} %", after * 100.0),
            None => {
                println!("  {variant:<16} {before:6.2} % (trained in alpha: nothing to project)")
            }
        }
    }

    println!();
    println!("structure residual ‖W − compose(project(W))‖ / ‖W‖ of the dense kernels:");
    let lenient = BindOptions {
        allow_structure_error: true,
        ..Default::default()
    };
    for (variant, file) in [
        ("(a) dense", "weights_dense.safetensors"),
        ("(b) regularized", "weights_regularized.safetensors"),
    ] {
        let (_, reports) = model
            .load_weights(dir().join(file), &lenient)
            .map_err(|e| e.render())?;
        for report in reports {
            println!(
                "  {variant:<16} {:<6} {:.3e}",
                report.layer, report.relative_residual
            );
        }
    }
    Ok(())
}
