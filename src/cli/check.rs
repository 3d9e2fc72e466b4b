//! `scc check`: parse, lower, shape-check and count a model.

use super::common::{ModelArgs, PassArgs, TierArgs, print_dumps, thousands};
use super::values::{MemoryArgs, parse_tolerance};
use anyhow::Result;
use clap::Args;
use scc::BindOptions;
use scc::compiler::ir::format_shape;
use scc::compiler::stats;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct CheckArgs {
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
    #[arg(long, value_name = "TOL", default_value_t = scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR, value_parser = parse_tolerance)]
    max_structure_error: f64,
    #[command(flatten)]
    memory: MemoryArgs,
    #[command(flatten)]
    tier: TierArgs,
}

pub fn check(args: CheckArgs) -> Result<()> {
    let model = args.model.load()?;
    let (weights, residuals) = match &args.weights {
        Some(path) => {
            let options = BindOptions {
                max_structure_error: args.max_structure_error,
                allow_structure_error: true,
            };
            let (weights, report) = model.load_weights(path, &options)?;
            if let Some(note) = report.skipped_note() {
                eprintln!("note: {note}");
            }
            (Some(weights), Some(report))
        }
        None => (None, None),
    };
    let mut passes = args.passes.options(true);
    passes.max_memory = args.memory.max_memory;
    passes.tier = args.tier.resolve()?;
    let optimized = model.optimize(weights.as_ref(), &passes)?;
    print_dumps(&optimized, args.json);
    let graph = &optimized.graph;
    let costs = stats::costs(graph);
    let totals = stats::totals(&costs);
    // Parameters and structured MACs are the model's (as written, the fixtures' definition),
    // whatever the passes folded or how the structured layers execute.
    let as_written = stats::totals(&stats::costs(model.graph()));
    let model_params = as_written.params;
    let memory = scc::compiler::memory::plan_graph(graph);
    let placement: BTreeMap<_, _> = memory
        .placements
        .iter()
        .map(|(id, offset, bytes)| (*id, (*offset, *bytes)))
        .collect();
    if args.json {
        let json = scc::report::check_json(&model, graph, residuals.as_deref());
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let inputs: Vec<String> = model
        .inputs()
        .iter()
        .map(|(n, s)| format!("{n}: {}", format_shape(s)))
        .collect();
    println!(
        "model `{}` ({}), compiled for tier {}",
        model.name(),
        inputs.join(", "),
        graph.tier().map_or("(layouts not chosen)", |t| t.name())
    );
    let name_width =
        scc::runtime::limits::column_width(costs.iter().map(|c| graph.node(c.node).name.len()), 5);
    let row = |name: &str, op: &str, shape: &str, cells: [String; 7]| {
        println!(
            "{name:<name_width$}  {op:<16}  {shape:<20}  {:>11}  {:>15}  {:>15}  {:>13}  {:>20}  {:<10}  {}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
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
            "execution".into(),
            "layout".into(),
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
                scc::report::execution(node).map_or(String::new(), |e| e.name().to_string()),
                graph.layout(c.node).name(),
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
            String::new(),
            String::new(),
        ],
    );
    if totals.structured_macs > 0 && totals.structured_macs < totals.dense_macs {
        println!(
            "structured layers execute {:.2}x fewer MACs than the dense-equivalent model; sum-pool additions are {:.2}% of the executed MACs",
            totals.dense_macs as f64 / totals.structured_macs as f64,
            100.0 * totals.sumpool_adds as f64 / totals.structured_macs as f64
        );
    }
    let unshared = if memory.naive_bytes > memory.arena_bytes {
        format!(
            "{:.1}x more",
            memory.naive_bytes as f64 / memory.arena_bytes.max(1) as f64
        )
    } else {
        "no buffer can be shared; the arena adds only alignment".to_string()
    };
    println!(
        "memory: arena {} bytes for all intermediates (each in its own buffer: {} bytes, {unshared})",
        thousands(memory.arena_bytes),
        thousands(memory.naive_bytes),
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
        for r in reports.iter() {
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
