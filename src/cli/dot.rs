//! `scc dot`: the graph in Graphviz DOT.

use super::common::{ModelArgs, PassArgs, print_dumps};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct DotArgs {
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

pub fn dot(args: DotArgs) -> Result<()> {
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
