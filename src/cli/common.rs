//! Arguments and helpers shared by the commands: the model, its weights and the pass options.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use scc::{BindOptions, BindReport, Model, Optimized, PassOptions, Weights};
use std::path::PathBuf;

#[derive(Args)]
pub struct ModelArgs {
    /// The model: a `.sc` file, or an ONNX file (`.onnx`, with its weights).
    model: PathBuf,
    /// Which model of the file (required when it defines several).
    #[arg(long = "model", value_name = "NAME")]
    model_name: Option<String>,
    /// Replace an input's declared shape (repeatable), e.g. `--input-shape image=8,3,224,224`.
    #[arg(long = "input-shape", value_name = "NAME=D,D,...", value_parser = parse_input_shape)]
    input_shapes: Vec<(String, Vec<usize>)>,
    /// The most nodes the model's graph may have once its blocks are instantiated.
    #[arg(long, value_name = "N", default_value_t = scc::DEFAULT_MAX_NODES,
          value_parser = clap::value_parser!(usize))]
    max_nodes: usize,
}

/// `NAME=1,3,224,224` → (`NAME`, `[1, 3, 224, 224]`).
pub fn parse_input_shape(text: &str) -> std::result::Result<(String, Vec<usize>), String> {
    let (name, dims) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=D,D,... (e.g. image=1,3,224,224), found `{text}`"))?;
    if name.is_empty() {
        return Err(format!("the input name is missing in `{text}`"));
    }
    dims.split(',')
        .map(|d| {
            d.trim()
                .parse::<usize>()
                .ok()
                .filter(|&d| d > 0)
                .ok_or_else(|| format!("`{d}` is not a positive dimension (in `{text}`)"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(|dims| (name.to_string(), dims))
}

/// Whether a model path names an ONNX file (by its extension).
pub fn is_onnx(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

impl ModelArgs {
    /// The model's path as given.
    pub fn path(&self) -> &std::path::Path {
        &self.model
    }

    /// The model: a `.sc` file, or an ONNX file imported with its weights (`--input-shape`
    /// then names ONNX inputs).
    pub fn load(&self) -> Result<Model> {
        if is_onnx(&self.model) {
            if self.model_name.is_some() {
                bail!("--model chooses among the models of a .sc file; an ONNX file holds one");
            }
            let options = scc::OnnxOptions {
                input_shapes: self.input_shapes.iter().cloned().collect(),
                ..scc::OnnxOptions::default()
            };
            return Ok(Model::from_onnx(&self.model, &options)?);
        }
        let options = scc::LowerOptions {
            input_shapes: self.input_shapes.iter().cloned().collect(),
            max_nodes: self.max_nodes,
        };
        Ok(Model::from_file_with(
            &self.model,
            self.model_name.as_deref(),
            &options,
        )?)
    }
}

/// Which optimisation passes run, and what is checked or printed after each.
#[derive(Args)]
pub struct PassArgs {
    /// Run only these passes (comma-separated; they run in pipeline order).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        conflicts_with = "no_opt"
    )]
    passes: Option<Vec<String>>,
    /// Run no optimisation pass: use the graph as lowered.
    #[arg(long)]
    no_opt: bool,
    /// Translation validation: interpret the graph before and after every pass on seeded
    /// random inputs and fail, naming the pass, if the outputs differ.
    #[arg(long)]
    verify: bool,
    /// Print the graph after this pass (repeatable; `all` for every pass).
    #[arg(long, value_name = "PASS|all")]
    print_after: Vec<String>,
    /// How structured conv layers execute: `auto` (the cost model's choice per layer),
    /// or every layer `decomposed`, `fused` (where available, else decomposed) or `composed`.
    #[arg(long, value_enum, value_name = "HOW", default_value = "auto")]
    execution: ExecutionName,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ExecutionName {
    Auto,
    Decomposed,
    Fused,
    Composed,
}

impl ExecutionName {
    /// The execution forced on every structured layer (`None`: the cost model's choice).
    pub fn forced(self) -> Option<scc::compiler::ir::Execution> {
        match self {
            ExecutionName::Auto => None,
            ExecutionName::Decomposed => Some(scc::compiler::ir::Execution::Decomposed),
            ExecutionName::Fused => Some(scc::compiler::ir::Execution::Fused),
            ExecutionName::Composed => Some(scc::compiler::ir::Execution::Composed),
        }
    }
}

impl PassArgs {
    pub fn options(&self, optimize_by_default: bool) -> PassOptions {
        let only = if self.no_opt {
            Some(Vec::new())
        } else if self.passes.is_some() {
            self.passes.clone()
        } else if optimize_by_default {
            None
        } else {
            Some(Vec::new())
        };
        PassOptions {
            only,
            verify: cfg!(debug_assertions) || self.verify,
            validate: self.verify,
            validation_seed: 0,
            print_after: self.print_after.clone(),
            force_execution: self.execution.forced(),
            ..PassOptions::default()
        }
    }
}

pub fn print_dumps(optimized: &Optimized, to_stderr: bool) {
    for (pass, dump) in &optimized.dumps {
        let text = format!("// after pass `{pass}`\n{dump}");
        if to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

/// `--tier`: the vector tier of the kernels.
#[derive(Args)]
pub struct TierArgs {
    /// Vector tier of the kernels: `128` (Cranelift's 128-bit kernels), `avx2` (256-bit
    /// AVX2+FMA micro-kernels, NCHW8c activations) or `avx512` (512-bit AVX-512F, NCHW16c).
    /// Default: the best this CPU has.
    #[arg(long, value_enum, value_name = "TIER")]
    tier: Option<TierName>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TierName {
    #[value(name = "128")]
    V128,
    Avx2,
    Avx512,
}

impl TierName {
    pub fn tier(self) -> scc::Tier {
        match self {
            TierName::V128 => scc::Tier::V128,
            TierName::Avx2 => scc::Tier::Avx2,
            TierName::Avx512 => scc::Tier::Avx512,
        }
    }
}

impl TierArgs {
    /// The tier asked for (`None`: the host's best).
    pub fn requested(&self) -> Option<scc::Tier> {
        self.tier.map(TierName::tier)
    }

    /// The tier on this machine (an error when the CPU lacks it).
    pub fn resolve(&self) -> Result<scc::Tier> {
        Ok(scc::host_tier(self.requested())?)
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Engine {
    /// Cranelift kernels specialised to the model's shapes.
    Jit,
    /// The reference interpreter.
    Interp,
}

impl Engine {
    pub fn engine(self) -> scc::Engine {
        match self {
            Engine::Jit => scc::Engine::Jit,
            Engine::Interp => scc::Engine::Interpreter,
        }
    }
}

#[derive(Args)]
pub struct WeightArgs {
    /// Weights (safetensors; f32, f16 or bf16; a PyTorch state_dict loads as saved). An ONNX
    /// model's own weights are used when neither this nor --random-weights is given.
    #[arg(long, value_name = "W.safetensors", conflicts_with = "random_weights")]
    weights: Option<PathBuf>,
    /// Deterministic random weights from this seed, instead of a weights file.
    #[arg(long, value_name = "SEED")]
    random_weights: Option<u64>,
    /// Largest accepted relative residual when projecting a dense kernel onto a structured layer.
    #[arg(long, value_name = "TOL", default_value_t = scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR, value_parser = super::values::parse_tolerance)]
    max_structure_error: f64,
}

impl WeightArgs {
    /// The weights: from the file, random within `max_memory` bytes (`None`: the memory
    /// available), or those the model file brings.
    pub fn load(&self, model: &Model, max_memory: Option<u64>) -> Result<Weights> {
        let options = BindOptions {
            max_structure_error: self.max_structure_error,
            allow_structure_error: false,
        };
        match (&self.weights, self.random_weights) {
            (Some(path), _) => {
                let (weights, report) = model.load_weights(path, &options)?;
                print_bind_report(&report, self.max_structure_error);
                Ok(weights)
            }
            (None, Some(seed)) => Ok(model.random_weights_within(seed, max_memory)?),
            (None, None) => match model.bind_embedded_weights(&options)? {
                Some((weights, _)) => Ok(weights),
                None => bail!(
                    "the model needs weights: give --weights W.safetensors or --random-weights SEED"
                ),
            },
        }
    }
}

/// The notes of binding a weights file: tensors skipped, projections and their residuals.
pub fn print_bind_report(report: &BindReport, tolerance: f64) {
    if let Some(note) = report.skipped_note() {
        eprintln!("note: {note}");
    }
    for report in &report.projections {
        let verdict = if report.relative_residual <= tolerance {
            "ok"
        } else {
            "above tolerance"
        };
        eprintln!(
            "projected dense `{}.weight` onto its structure: relative residual {:.3e} ({verdict}, tolerance {tolerance:.1e})",
            report.layer, report.relative_residual
        );
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
