//! `scc run`: run a model on inputs and print or save its outputs.

use super::common::{Engine, ModelArgs, PassArgs, TierArgs, WeightArgs, print_dumps};
use super::values::{MemoryArgs, ThreadArgs};
use anyhow::Result;
use clap::Args;
use scc::Tensor;
use scc::compiler::ir::format_shape;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct RunArgs {
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
    #[command(flatten)]
    threads: ThreadArgs,
    #[command(flatten)]
    memory: MemoryArgs,
    #[command(flatten)]
    tier: TierArgs,
}

pub fn run(args: RunArgs) -> Result<()> {
    let model = args.model.load()?;
    let max_memory = args.memory.max_memory;
    let weights = args.weights.load(&model, max_memory)?;
    let mut passes = args.passes.options(true);
    passes.max_memory = max_memory;
    passes.tier = args.tier.resolve()?;
    if !passes.print_after.is_empty() {
        print_dumps(&model.optimize(Some(&weights), &passes)?, true);
    }
    let options = scc::Options {
        passes,
        threads: args.threads.threads(),
        engine: args.engine.engine(),
        max_memory,
        tier: args.tier.requested(),
    };
    // Compiling checks the memory the model needs (its inputs included) before anything of
    // that size is allocated.
    let compiled = scc::compile(&model, &weights, &options)?;
    let inputs: BTreeMap<String, Tensor> = match &args.inputs {
        Some(path) => scc::runtime::read_safetensors(path).map_err(scc::Error::from)?,
        None => model.random_inputs(args.input_seed)?,
    };
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

pub fn print_summary(name: &str, tensor: &Tensor) {
    let data = tensor.data();
    println!(
        "{name}: {} {}",
        format_shape(tensor.shape()),
        scc::runtime::tensor::summary(data)
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
