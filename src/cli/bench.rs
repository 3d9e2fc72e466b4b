//! `scc bench`: interpreted and compiled execution of the same optimised graph, timed.

use super::common::{ExecutionName, ModelArgs, TierArgs, WeightArgs, thousands};
use super::values::{MemoryArgs, ThreadArgs, parse_runs};
use anyhow::Result;
use clap::Args;
use scc::Tensor;
use scc::compiler::stats;
use std::collections::BTreeMap;

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    weights: WeightArgs,
    #[command(flatten)]
    threads: ThreadArgs,
    #[command(flatten)]
    memory: MemoryArgs,
    /// Timed runs of the compiled model (after warm-up; at least 1).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = parse_runs)]
    runs: usize,
    /// Timed runs of the interpreter (after one warm-up run; at least 1).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = parse_runs)]
    interp_runs: usize,
    /// Also print the time of every node under both engines (compiled: means over the middle
    /// 60 % of `--runs` runs, with the whole time of the same runs they add up to).
    #[arg(long)]
    per_layer: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Also measure the single-core FMA peak of the tier in use (its FMA loop) for reference.
    #[arg(long)]
    peak: bool,
    #[command(flatten)]
    tier: TierArgs,
    /// How structured conv layers execute: `auto` (the cost model's choice per layer),
    /// or every layer `decomposed`, `fused` (where available, else decomposed) or `composed`.
    #[arg(long, value_enum, value_name = "HOW", default_value = "auto")]
    execution: ExecutionName,
}

/// Median and spread of a list of durations, in milliseconds.
pub fn summarize(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    (median, samples[0], samples[samples.len() - 1])
}

pub fn time_runs(
    compiled: &scc::CompiledModel,
    inputs: &BTreeMap<String, Tensor>,
    warmup: usize,
    runs: usize,
) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        compiled.run(inputs)?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = std::time::Instant::now();
        compiled.run(inputs)?;
        samples.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(samples)
}

pub fn bench(args: BenchArgs) -> Result<()> {
    // Compile time is parse → lower → passes → code generation → ready to run; making or
    // loading the weights is not part of it.
    let started = std::time::Instant::now();
    let model = args.model.load()?;
    let parse_ms = started.elapsed().as_secs_f64() * 1e3;
    let max_memory = args.memory.max_memory;
    let weights = args.weights.load(&model, max_memory)?;
    let jit = scc::compile(
        &model,
        &weights,
        &scc::Options {
            threads: args.threads.threads(),
            max_memory,
            tier: args.tier.requested(),
            passes: scc::PassOptions {
                force_execution: args.execution.forced(),
                ..scc::PassOptions::default()
            },
            ..scc::Options::default()
        },
    )?;
    let compile_ms = parse_ms + jit.compile_time().as_secs_f64() * 1e3;
    let tier = args.tier.resolve()?;
    let interp = scc::compile(
        &model,
        &weights,
        &scc::Options {
            engine: scc::Engine::Interpreter,
            max_memory,
            tier: args.tier.requested(),
            passes: scc::PassOptions {
                force_execution: args.execution.forced(),
                ..scc::PassOptions::default()
            },
            ..scc::Options::default()
        },
    )?;
    let inputs = model.random_inputs(0)?;
    let (jit_ms, jit_min, jit_max) = summarize(time_runs(&jit, &inputs, 3, args.runs)?);
    let (interp_ms, interp_min, interp_max) =
        summarize(time_runs(&interp, &inputs, 1, args.interp_runs)?);
    let totals = stats::totals(&stats::costs(jit.graph()));
    let gflops = |macs: usize, ms: f64| 2.0 * macs as f64 / (ms * 1e-3) / 1e9;
    let peak = if args.peak {
        Some(scc::compiler::codegen::peak::fma_peak_gflops(tier)?)
    } else {
        None
    };
    let mut timed_whole_ms = 0.0;
    let per_layer = if args.per_layer {
        // Per-layer times are means over the middle 60 % of `--runs` timed runs (ranked by
        // their whole time; the slowest and fastest fifth dropped), and so is the whole time
        // they are compared with: means add up, so the layers' sum differs from the whole
        // only by what runs between the steps.
        let mut runs: Vec<(f64, scc::NodeTimes)> = Vec::new();
        for _ in 0..args.runs.max(1) {
            let started = std::time::Instant::now();
            let (_, times) = jit.run_timed(&inputs)?;
            runs.push((started.elapsed().as_secs_f64() * 1e3, times));
        }
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let drop = runs.len() / 5;
        let kept = &runs[drop..runs.len() - drop];
        let mut sums: std::collections::HashMap<scc::compiler::NodeId, f64> =
            std::collections::HashMap::new();
        for (_, times) in kept {
            for (id, t) in times {
                *sums.entry(*id).or_default() += t.as_secs_f64();
            }
        }
        let jit_times: std::collections::HashMap<_, _> = sums
            .into_iter()
            .map(|(id, total)| {
                (
                    id,
                    std::time::Duration::from_secs_f64(total / kept.len() as f64),
                )
            })
            .collect();
        timed_whole_ms = kept.iter().map(|r| r.0).sum::<f64>() / kept.len() as f64;
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
    let layers_ms: f64 = per_layer.iter().map(|l| l.3).sum();
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
            "tier": tier.name(),
            "layers": layers,
            "layers_sum_jit_ms": if args.per_layer { Some(layers_ms) } else { None },
            "layers_whole_jit_ms": if args.per_layer { Some(timed_whole_ms) } else { None },
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!(
        "model `{}`: {} threads, tier {}",
        model.name(),
        jit.threads(),
        tier
    );
    println!("compile (parse to ready-to-run): {compile_ms:.1} ms");
    println!(
        "interpreted: {interp_ms:.2} ms median ({interp_min:.2} to {interp_max:.2}, {} runs)",
        args.interp_runs
    );
    println!(
        "compiled:    {jit_ms:.3} ms median ({jit_min:.3} to {jit_max:.3}, {} runs)",
        args.runs
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
            "{}-bit FMA peak (tier {tier}): {peak:.2} GFLOP/s per core, {all:.2} on {} threads; compiled reaches {:.0}% of it (executed MACs)",
            tier.bits(),
            jit.threads(),
            100.0 * gflops(totals.structured_macs, jit_ms) / all
        );
    }
    if args.per_layer {
        println!(
            "per-layer times (compiled: means over the middle 60% of {} runs) add up to {layers_ms:.3} ms, {:.1}% of those runs' mean whole time ({timed_whole_ms:.3} ms)",
            args.runs.max(1),
            100.0 * layers_ms / timed_whole_ms
        );
        let width = scc::runtime::limits::column_width(per_layer.iter().map(|l| l.0.len()), 5);
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
