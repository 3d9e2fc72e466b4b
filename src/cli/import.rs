//! `scc import`: an ONNX model as readable `.sc` and a weights file.

use anyhow::{Result, bail};
use clap::Args;
use scc::scc_onnx::{LayerStructure, StructureOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct ImportArgs {
    /// The ONNX model (`.onnx`; external data files are read relative to it).
    model: PathBuf,
    /// The `.sc` file to write; the weights go beside it as `NAME.safetensors`.
    #[arg(short = 'o', long = "output", value_name = "NAME.sc")]
    output: PathBuf,
    /// Fix an input's shape (repeatable), by ONNX input name: `--input-shape x=1,3,224,224`
    /// gives symbolic dimensions (`batch`) a size.
    #[arg(long = "input-shape", value_name = "NAME=D,D,...", value_parser = super::common::parse_input_shape)]
    input_shapes: Vec<(String, Vec<usize>)>,
    /// Make conv and linear layers structured (repeatable): `auto[:TOL]` turns every layer
    /// whose best candidate structure (fewest multiplications, see `scc advise`) has a relative
    /// residual within TOL (default 1e-3) into `sconv2d`/`slinear` over its projected alpha;
    /// `LAYER=C,N` (or `LAYER=C,NH,NW`; `LAYER=C` for a linear layer) chooses one layer's
    /// structure by its `.sc` name.
    #[arg(long, value_name = "auto[:TOL]|LAYER=C,N")]
    structure: Vec<String>,
}

/// `auto`, `auto:1e-4`, `layer1_0_conv1=32,2`.
fn parse_structure(specs: &[String]) -> Result<StructureOptions> {
    let mut options = StructureOptions::default();
    for spec in specs {
        if let Some(rest) = spec.strip_prefix("auto") {
            let tolerance = match rest.strip_prefix(':') {
                Some(tol) => match tol.parse::<f64>() {
                    Ok(t) if t >= 0.0 && t.is_finite() => t,
                    _ => bail!(
                        "--structure {spec}: `{tol}` is not a tolerance (a number, e.g. 1e-3)"
                    ),
                },
                None if rest.is_empty() => scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR,
                None => bail!("--structure {spec}: expected auto, auto:TOL or LAYER=C,N"),
            };
            options.auto = Some(tolerance);
            continue;
        }
        let Some((layer, sizes)) = spec.split_once('=') else {
            bail!("--structure {spec}: expected auto, auto:TOL or LAYER=C,N");
        };
        let numbers: Vec<usize> = sizes
            .split(',')
            .map(|n| n.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                anyhow::anyhow!("--structure {spec}: `{sizes}` is not C,N (positive integers)")
            })?;
        let structure = match numbers.as_slice() {
            [c] => LayerStructure { c: *c, n: (1, 1) },
            [c, n] => LayerStructure { c: *c, n: (*n, *n) },
            [c, nh, nw] => LayerStructure {
                c: *c,
                n: (*nh, *nw),
            },
            _ => bail!("--structure {spec}: expected C, C,N or C,NH,NW"),
        };
        options.layers.insert(layer.to_string(), structure);
    }
    Ok(options)
}

pub fn import(args: ImportArgs) -> Result<()> {
    let options = scc::OnnxOptions {
        input_shapes: args.input_shapes.into_iter().collect(),
        structure: parse_structure(&args.structure)?,
    };
    let report = scc::import_onnx(&args.model, &args.output, &options)?;
    println!(
        "wrote {} (model `{}`, {} layers) and {} ({} tensors)",
        report.sc_path.display(),
        report.model_name,
        report.layers,
        report.weights_path.display(),
        report.weights
    );
    for (onnx, sc) in report.names.inputs.iter().chain(&report.names.outputs) {
        if onnx != sc {
            println!("ONNX name `{onnx}` is `{sc}`");
        }
    }
    for layer in &report.structured {
        println!(
            "structured `{}`: c={}, n=({}, {}), relative residual {:.3e}{}",
            layer.layer,
            layer.structure.c,
            layer.structure.n.0,
            layer.structure.n.1,
            layer.relative_residual,
            if layer.automatic { " (auto)" } else { "" }
        );
    }
    Ok(())
}
