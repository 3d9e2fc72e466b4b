//! The `scc` command line.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use scc::compiler::ir::format_shape;
use scc::compiler::stats;
use scc::{BindOptions, Model, Optimized, PassOptions, ProjectionReport, Tensor, Weights};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "scc",
    version,
    about = "A compiler for structured-convolution networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, lower and shape-check a model; print per-layer params and MACs.
    Check(CheckArgs),
    /// Run a model on inputs and print or save its outputs.
    Run(RunArgs),
    /// Print the model's graph in Graphviz DOT.
    Dot(DotArgs),
    /// Time interpreted and compiled execution of the same optimised graph.
    Bench(BenchArgs),
    /// Compile a model ahead of time into a standalone executable, an object file or a
    /// static library with a C header.
    Build(BuildArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum EmitKind {
    /// A standalone executable.
    Exe,
    /// `NAME.o` + `NAME.h` (+ `libscc_native.a`, the runtime it links with).
    Obj,
    /// `libNAME.a` + `NAME.h`.
    Staticlib,
}

#[derive(Args)]
struct BuildArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    weights: WeightArgs,
    #[command(flatten)]
    passes: PassArgs,
    /// Output: the executable, or the stem of the object/library and header.
    #[arg(short, long, value_name = "NAME")]
    output: PathBuf,
    /// What to write.
    #[arg(long, value_enum, default_value = "exe")]
    emit: EmitKind,
}

#[derive(Args)]
struct ModelArgs {
    /// The `.sc` file.
    model: PathBuf,
    /// Which model of the file (required when it defines several).
    #[arg(long = "model", value_name = "NAME")]
    model_name: Option<String>,
}

impl ModelArgs {
    fn load(&self) -> Result<Model> {
        Ok(Model::from_file(&self.model, self.model_name.as_deref())?)
    }
}

/// Which optimisation passes run, and what is checked or printed after each.
#[derive(Args)]
struct PassArgs {
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
}

impl PassArgs {
    fn options(&self, optimize_by_default: bool) -> PassOptions {
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
        }
    }
}

fn print_dumps(optimized: &Optimized, to_stderr: bool) {
    for (pass, dump) in &optimized.dumps {
        let text = format!("// after pass `{pass}`\n{dump}");
        if to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    passes: PassArgs,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Also check a weights file against the model and report, per structured layer
    /// given a dense kernel, how far that kernel is from the structure.
    #[arg(long, value_name = "W.safetensors")]
    weights: Option<PathBuf>,
    /// Tolerance on the relative residual of projected dense kernels (reported, not enforced, by check).
    #[arg(long, value_name = "TOL", default_value_t = scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR)]
    max_structure_error: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    /// Cranelift kernels specialised to the model's shapes.
    Jit,
    /// The reference interpreter.
    Interp,
}

impl Engine {
    fn engine(self) -> scc::Engine {
        match self {
            Engine::Jit => scc::Engine::Jit,
            Engine::Interp => scc::Engine::Interpreter,
        }
    }
}

#[derive(Args)]
struct WeightArgs {
    /// Weights (safetensors; f32, f16 or bf16).
    #[arg(
        long,
        value_name = "W.safetensors",
        conflicts_with = "random_weights",
        required_unless_present = "random_weights"
    )]
    weights: Option<PathBuf>,
    /// Deterministic random weights from this seed, instead of a weights file.
    #[arg(long, value_name = "SEED")]
    random_weights: Option<u64>,
    /// Largest accepted relative residual when projecting a dense kernel onto a structured layer.
    #[arg(long, value_name = "TOL", default_value_t = scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR)]
    max_structure_error: f64,
}

impl WeightArgs {
    fn load(&self, model: &Model) -> Result<Weights> {
        match (&self.weights, self.random_weights) {
            (Some(path), _) => {
                let options = BindOptions {
                    max_structure_error: self.max_structure_error,
                    allow_structure_error: false,
                };
                let (weights, reports) = model.load_weights(path, &options)?;
                print_projections(&reports, self.max_structure_error);
                Ok(weights)
            }
            (None, Some(seed)) => Ok(model.random_weights(seed)),
            (None, None) => bail!("give --weights W.safetensors or --random-weights SEED"),
        }
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    passes: PassArgs,
    #[command(flatten)]
    weights: WeightArgs,
    /// Inputs by model input name (safetensors); random inputs when omitted.
    #[arg(long, value_name = "I.safetensors")]
    inputs: Option<PathBuf>,
    /// Seed of the random inputs used when --inputs is omitted.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    input_seed: u64,
    /// Save the outputs, by output name, to this safetensors file.
    #[arg(long, value_name = "OUT.safetensors")]
    save: Option<PathBuf>,
    /// Execution engine.
    #[arg(long, value_enum, default_value = "jit")]
    engine: Engine,
    /// Worker threads of the JIT (default: all cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    weights: WeightArgs,
    /// Worker threads of the JIT (default: all cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Timed runs of the compiled model (after warm-up).
    #[arg(long, value_name = "N", default_value_t = 20)]
    runs: usize,
    /// Timed runs of the interpreter (after one warm-up run).
    #[arg(long, value_name = "N", default_value_t = 3)]
    interp_runs: usize,
    /// Also print the time of every node under both engines.
    #[arg(long)]
    per_layer: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Also measure the single-core f32x4 FMA peak (a JIT-compiled FMA loop) for reference.
    #[arg(long)]
    peak: bool,
}

#[derive(Args)]
struct DotArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Print the graph after all optimisation passes (default: as lowered).
    #[arg(long)]
    optimized: bool,
    #[command(flatten)]
    passes: PassArgs,
    /// Write the DOT text to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::Run(args) => run(args),
        Command::Dot(args) => dot(args),
        Command::Bench(args) => bench(args),
        Command::Build(args) => build(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match err.downcast_ref::<scc::Error>() {
                Some(scc_err) => eprint!("{}", scc_err.render()),
                None => eprintln!("error: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn print_projections(reports: &[ProjectionReport], tolerance: f64) {
    for report in reports {
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
fn thousands(n: usize) -> String {
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

fn check(args: CheckArgs) -> Result<()> {
    let model = args.model.load()?;
    let (weights, residuals) = match &args.weights {
        Some(path) => {
            let options = BindOptions {
                max_structure_error: args.max_structure_error,
                allow_structure_error: true,
            };
            let (weights, reports) = model.load_weights(path, &options)?;
            (Some(weights), Some(reports))
        }
        None => (None, None),
    };
    let optimized = model.optimize(weights.as_ref(), &args.passes.options(true))?;
    print_dumps(&optimized, args.json);
    let graph = &optimized.graph;
    let costs = stats::costs(graph);
    let totals = stats::totals(&costs);
    // Parameters are the model's (as written), whatever the passes folded.
    let model_params = stats::totals(&stats::costs(model.graph())).params;
    let memory = scc::compiler::memory::plan_graph(graph);
    let placement: BTreeMap<_, _> = memory
        .placements
        .iter()
        .map(|(id, offset, bytes)| (*id, (*offset, *bytes)))
        .collect();
    if args.json {
        let layers: Vec<serde_json::Value> = costs
            .iter()
            .map(|c| {
                let node = graph.node(c.node);
                let (offset, bytes) = placement.get(&c.node).copied().unwrap_or((0, 0));
                serde_json::json!({
                    "name": node.name,
                    "op": node.op.name(),
                    "attributes": node.op.attributes(),
                    "shape": node.shape,
                    "params": c.params,
                    "dense_macs": c.dense_macs,
                    "structured_macs": c.structured_macs,
                    "sumpool_adds": c.sumpool_adds,
                    "arena_offset": offset,
                    "bytes": bytes,
                })
            })
            .collect();
        let mut json = serde_json::json!({
            "model": model.name(),
            "inputs": model.inputs().into_iter().map(|(n, s)| serde_json::json!({"name": n, "shape": s})).collect::<Vec<_>>(),
            "outputs": model.outputs().into_iter().map(|(n, s)| serde_json::json!({"name": n, "shape": s})).collect::<Vec<_>>(),
            "params": model_params,
            "dense_macs": totals.dense_macs,
            "structured_macs": totals.structured_macs,
            "sumpool_adds": totals.sumpool_adds,
            "arena_bytes": memory.arena_bytes,
            "naive_bytes": memory.naive_bytes,
            "layers": layers,
        });
        if let Some(reports) = &residuals {
            json["structure_residuals"] = reports
                .iter()
                .map(|r| serde_json::json!({"layer": r.layer, "relative_residual": r.relative_residual}))
                .collect();
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let inputs: Vec<String> = model
        .inputs()
        .iter()
        .map(|(n, s)| format!("{n}: {}", format_shape(s)))
        .collect();
    println!("model `{}` ({})", model.name(), inputs.join(", "));
    let name_width = costs
        .iter()
        .map(|c| graph.node(c.node).name.len())
        .max()
        .unwrap_or(4)
        .max(5);
    let row = |name: &str, op: &str, shape: &str, cells: [String; 5]| {
        println!(
            "{name:<name_width$}  {op:<16}  {shape:<20}  {:>11}  {:>15}  {:>15}  {:>13}  {:>20}",
            cells[0], cells[1], cells[2], cells[3], cells[4]
        );
    };
    row(
        "layer",
        "op",
        "output shape",
        [
            "params".into(),
            "dense MACs".into(),
            "executed MACs".into(),
            "sum-pool adds".into(),
            "arena bytes@offset".into(),
        ],
    );
    for c in &costs {
        let node = graph.node(c.node);
        let buffer = match placement.get(&c.node) {
            Some((offset, bytes)) => format!("{}@{}", thousands(*bytes), thousands(*offset)),
            None => "(input)".to_string(),
        };
        row(
            &node.name,
            node.op.name(),
            &format_shape(&node.shape),
            [
                thousands(c.params),
                thousands(c.dense_macs),
                thousands(c.structured_macs),
                thousands(c.sumpool_adds),
                buffer,
            ],
        );
    }
    row(
        "total",
        "",
        "",
        [
            thousands(model_params),
            thousands(totals.dense_macs),
            thousands(totals.structured_macs),
            thousands(totals.sumpool_adds),
            thousands(memory.arena_bytes),
        ],
    );
    if totals.structured_macs > 0 && totals.structured_macs < totals.dense_macs {
        println!(
            "structured layers execute {:.2}x fewer MACs than the dense-equivalent model; sum-pool additions are {:.2}% of the executed MACs",
            totals.dense_macs as f64 / totals.structured_macs as f64,
            100.0 * totals.sumpool_adds as f64 / totals.structured_macs as f64
        );
    }
    println!(
        "memory: arena {} bytes for all intermediates (their naive sum: {} bytes, {:.1}x more)",
        thousands(memory.arena_bytes),
        thousands(memory.naive_bytes),
        memory.naive_bytes as f64 / memory.arena_bytes.max(1) as f64
    );
    let outputs: Vec<String> = model
        .outputs()
        .iter()
        .map(|(n, s)| format!("{n}: {}", format_shape(s)))
        .collect();
    println!("outputs: {}", outputs.join(", "));
    if let Some(reports) = residuals {
        if reports.is_empty() {
            println!("weights: match the model (no dense kernel to project)");
        }
        for r in reports {
            let verdict = if r.relative_residual <= args.max_structure_error {
                "ok"
            } else {
                "ABOVE tolerance"
            };
            println!(
                "structure residual of `{}.weight`: {:.3e} ({verdict}; tolerance {:.1e})",
                r.layer, r.relative_residual, args.max_structure_error
            );
        }
    }
    Ok(())
}

fn run(args: RunArgs) -> Result<()> {
    let model = args.model.load()?;
    let weights = args.weights.load(&model)?;
    let inputs: BTreeMap<String, Tensor> = match &args.inputs {
        Some(path) => scc::runtime::read_safetensors(path).map_err(scc::Error::from)?,
        None => model.random_inputs(args.input_seed),
    };
    let passes = args.passes.options(true);
    if !passes.print_after.is_empty() {
        print_dumps(&model.optimize(Some(&weights), &passes)?, true);
    }
    let options = scc::Options {
        passes,
        threads: args.threads,
        engine: args.engine.engine(),
    };
    let compiled = scc::compile(&model, &weights, &options)?;
    let outputs = compiled.run(&inputs)?;
    if let Some(path) = &args.save {
        let map: BTreeMap<String, Tensor> = outputs.iter().cloned().collect();
        scc::runtime::write_safetensors(path, &map).map_err(scc::Error::from)?;
        println!("saved {} output(s) to {}", outputs.len(), path.display());
        return Ok(());
    }
    for (name, tensor) in &outputs {
        print_summary(name, tensor);
    }
    Ok(())
}

fn print_summary(name: &str, tensor: &Tensor) {
    let data = tensor.data();
    let n = data.len().max(1) as f64;
    let mean = data.iter().map(|&v| v as f64).sum::<f64>() / n;
    let min = data.iter().copied().fold(f32::INFINITY, f32::min);
    let max = data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    println!(
        "{name}: {} min {min:.6} max {max:.6} mean {mean:.6}",
        format_shape(tensor.shape())
    );
    if let [batch, classes] = *tensor.shape() {
        for b in 0..batch {
            let row = &data[b * classes..(b + 1) * classes];
            let mut ranked: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let top: Vec<String> = ranked
                .iter()
                .take(5)
                .map(|(k, v)| format!("{k} ({v:.4})"))
                .collect();
            println!("  [{b}] top-5 classes: {}", top.join(", "));
        }
    }
}

fn dot(args: DotArgs) -> Result<()> {
    let model = args.model.load()?;
    let optimized = model.optimize(None, &args.passes.options(args.optimized))?;
    print_dumps(&optimized, true);
    let text = scc::compiler::dot::to_dot(&optimized.graph);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}

/// Median and spread of a list of durations, in milliseconds.
fn summarize(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    (median, samples[0], samples[samples.len() - 1])
}

fn time_runs(
    compiled: &scc::CompiledModel,
    inputs: &BTreeMap<String, Tensor>,
    warmup: usize,
    runs: usize,
) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        compiled.run(inputs)?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = std::time::Instant::now();
        compiled.run(inputs)?;
        samples.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(samples)
}

fn bench(args: BenchArgs) -> Result<()> {
    // Compile time is parse → lower → passes → code generation → ready to run; making or
    // loading the weights is not part of it.
    let started = std::time::Instant::now();
    let model = args.model.load()?;
    let parse_ms = started.elapsed().as_secs_f64() * 1e3;
    let weights = args.weights.load(&model)?;
    let jit = scc::compile(
        &model,
        &weights,
        &scc::Options {
            threads: args.threads,
            ..scc::Options::default()
        },
    )?;
    let compile_ms = parse_ms + jit.compile_time().as_secs_f64() * 1e3;
    let interp = scc::compile(
        &model,
        &weights,
        &scc::Options {
            engine: scc::Engine::Interpreter,
            ..scc::Options::default()
        },
    )?;
    let inputs = model.random_inputs(0);
    let (jit_ms, jit_min, jit_max) = summarize(time_runs(&jit, &inputs, 3, args.runs)?);
    let (interp_ms, interp_min, interp_max) =
        summarize(time_runs(&interp, &inputs, 1, args.interp_runs)?);
    let totals = stats::totals(&stats::costs(jit.graph()));
    let gflops = |macs: usize, ms: f64| 2.0 * macs as f64 / (ms * 1e-3) / 1e9;
    let peak = if args.peak {
        Some(scc::compiler::codegen::peak::fma_peak_gflops()?)
    } else {
        None
    };
    let per_layer = if args.per_layer {
        let (_, jit_times) = jit.run_timed(&inputs)?;
        let (_, interp_times) = interp.run_timed(&inputs)?;
        let graph = jit.graph();
        graph
            .topological_order()
            .into_iter()
            .filter(|id| !matches!(graph.node(*id).op, scc::compiler::Op::Input { .. }))
            .map(|id| {
                let node = graph.node(id);
                let ms = |t: Option<&std::time::Duration>| t.map_or(0.0, |d| d.as_secs_f64() * 1e3);
                (
                    node.name.clone(),
                    node.op.name(),
                    ms(interp_times.get(&id)),
                    ms(jit_times.get(&id)),
                    stats::node_cost(graph, id),
                )
            })
            .collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    if args.json {
        let layers: Vec<serde_json::Value> = per_layer
            .iter()
            .map(|(name, op, interp_ms, jit_ms, cost)| {
                serde_json::json!({"name": name, "op": op, "interp_ms": interp_ms, "jit_ms": jit_ms,
                    "executed_macs": cost.structured_macs, "sumpool_adds": cost.sumpool_adds})
            })
            .collect();
        let json = serde_json::json!({
            "model": model.name(),
            "threads": jit.threads(),
            "compile_ms": compile_ms,
            "interp_ms": interp_ms,
            "interp_min_ms": interp_min,
            "interp_max_ms": interp_max,
            "jit_ms": jit_ms,
            "jit_min_ms": jit_min,
            "jit_max_ms": jit_max,
            "speedup": interp_ms / jit_ms,
            "executed_macs": totals.structured_macs,
            "dense_macs": totals.dense_macs,
            "jit_gflops_executed": gflops(totals.structured_macs, jit_ms),
            "jit_gflops_dense_equivalent": gflops(totals.dense_macs, jit_ms),
            "fma_peak_gflops_per_core": peak,
            "layers": layers,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!("model `{}`: {} threads", model.name(), jit.threads());
    println!("compile (parse to ready-to-run): {compile_ms:.1} ms");
    println!(
        "interpreted: {interp_ms:.2} ms median ({interp_min:.2} to {interp_max:.2}, {} runs)",
        args.interp_runs.max(1)
    );
    println!(
        "compiled:    {jit_ms:.3} ms median ({jit_min:.3} to {jit_max:.3}, {} runs)",
        args.runs.max(1)
    );
    println!("speedup:     {:.1}x", interp_ms / jit_ms);
    println!(
        "compiled GFLOP/s: {:.2} on executed MACs ({}), {:.2} dense-equivalent ({})",
        gflops(totals.structured_macs, jit_ms),
        thousands(totals.structured_macs),
        gflops(totals.dense_macs, jit_ms),
        thousands(totals.dense_macs)
    );
    if let Some(peak) = peak {
        let all = peak * jit.threads() as f64;
        println!(
            "f32x4 FMA peak: {peak:.2} GFLOP/s per core, {all:.2} on {} threads; compiled reaches {:.0}% of it (executed MACs)",
            jit.threads(),
            100.0 * gflops(totals.structured_macs, jit_ms) / all
        );
    }
    if args.per_layer {
        let width = per_layer
            .iter()
            .map(|l| l.0.len())
            .max()
            .unwrap_or(5)
            .max(5);
        println!(
            "{:<width$}  {:<16}  {:>12}  {:>12}  {:>8}  {:>10}",
            "layer", "op", "interp ms", "jit ms", "speedup", "GFLOP/s"
        );
        for (name, op, interp_ms, jit_ms, cost) in &per_layer {
            let speedup = if *jit_ms > 0.0 {
                interp_ms / jit_ms
            } else {
                0.0
            };
            let rate = if cost.structured_macs > 0 && *jit_ms > 0.0 {
                gflops(cost.structured_macs, *jit_ms)
            } else {
                0.0
            };
            println!(
                "{name:<width$}  {op:<16}  {interp_ms:>12.3}  {jit_ms:>12.4}  {speedup:>7.1}x  {rate:>10.2}"
            );
        }
    }
    Ok(())
}

fn megabytes(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn build(args: BuildArgs) -> Result<()> {
    let model = args.model.load()?;
    let weights = args.weights.load(&model)?;
    let emit = match args.emit {
        EmitKind::Exe => scc::Emit::Executable,
        EmitKind::Obj => scc::Emit::Object,
        EmitKind::Staticlib => scc::Emit::StaticLib,
    };
    let options = scc::BuildOptions {
        output: args.output.clone(),
        emit,
        passes: args.passes.options(true),
    };
    let report = scc::build(&model, &weights, &options)?;
    let other = report
        .bytes
        .saturating_sub((report.weight_bytes + report.code_bytes) as u64);
    println!(
        "built {} in {:.2} s: {} ({} weights, {} generated code, {} runtime and the rest)",
        report.files[0].display(),
        report.time.as_secs_f64(),
        megabytes(report.bytes),
        megabytes(report.weight_bytes as u64),
        megabytes(report.code_bytes as u64),
        megabytes(other)
    );
    for file in &report.files[1..] {
        println!("wrote {}", file.display());
    }
    Ok(())
}
