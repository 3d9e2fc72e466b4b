//! `scc advise`: candidate structures for every conv and linear layer of a trained model.

use super::common::{ModelArgs, is_onnx, thousands};
use anyhow::{Result, bail};
use clap::Args;
use scc::compiler::advise::ScoredKernel;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct AdviseArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Trained weights (required for a `.sc` model; an ONNX model brings its own).
    #[arg(long, value_name = "W.safetensors")]
    weights: Option<PathBuf>,
    /// Largest relative residual of a recommended structure.
    #[arg(long, value_name = "TOL", default_value_t = scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR)]
    tolerance: f64,
    /// Print the advice as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn advise(args: AdviseArgs) -> Result<()> {
    if !(args.tolerance >= 0.0 && args.tolerance.is_finite()) {
        bail!(
            "--tolerance must be a non-negative number, found {}",
            args.tolerance
        );
    }
    let model = args.model.load()?;
    let lenient = scc::BindOptions {
        allow_structure_error: true,
        ..scc::BindOptions::default()
    };
    let (weights, given) = match &args.weights {
        Some(path) => {
            let weights = model.load_weights(path, &lenient)?.0;
            // The file's tensors as given: a structured layer's dense `weight` is scored as
            // trained, not as projected.
            let given = scc::kernels_by_sc_name(scc::runtime::read_checkpoint(path)?.tensors);
            (weights, given)
        }
        None => match model.bind_embedded_weights(&lenient)? {
            Some((weights, _)) => (weights, BTreeMap::new()),
            None => bail!("advice needs trained weights: give --weights W.safetensors"),
        },
    };
    let advice = scc::advise_with_kernels(&model, &weights, &given, args.tolerance);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&advice)?);
        return Ok(());
    }
    println!(
        "model `{}`: {} conv/linear layers; a structure is recommended when its relative residual is at most {:.1e}",
        advice.model,
        advice.layers.len(),
        advice.tolerance
    );
    for layer in &advice.layers {
        let scored = match layer.kernel {
            ScoredKernel::Weight => "",
            ScoredKernel::DenseWeight => ", scoring the dense weight given",
            ScoredKernel::ComposedAlpha => ", scoring the kernel its alpha composes to",
        };
        println!(
            "\n{} ({} {:?}{scored})",
            layer.layer, layer.op, layer.weight_shape
        );
        println!(
            "  {:>5} {:>7} {:>12} {:>12} {:>15}",
            "c", "n", "residual", "params", "MACs"
        );
        for (i, c) in layer.candidates.iter().enumerate() {
            let mark = match (Some(i) == layer.best, Some(i) == layer.declared) {
                (true, true) => "  <- best (declared)",
                (true, false) => "  <- best",
                (false, true) => "  (declared)",
                (false, false) if c.dense => "  (dense)",
                (false, false) => "",
            };
            println!(
                "  {:>5} {:>7} {:>12.3e} {:>12} {:>15}{mark}",
                c.c,
                format!("{}x{}", c.n[0], c.n[1]),
                c.relative_residual,
                thousands(c.params),
                thousands(c.macs)
            );
        }
    }
    let ratio = advice.dense_macs as f64 / advice.advised_macs.max(1) as f64;
    println!(
        "\nthese layers: {} MACs dense, {} with every recommendation ({ratio:.2}x fewer)",
        thousands(advice.dense_macs),
        thousands(advice.advised_macs)
    );
    if is_onnx(args.model.path()) && advice.layers.iter().any(|l| l.best.is_some()) {
        println!(
            "apply them: scc import {} -o NAME.sc --structure auto:{:e}",
            args.model.path().display(),
            advice.tolerance
        );
    }
    Ok(())
}
