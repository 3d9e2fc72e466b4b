//! The `scc` command line.

mod cli;

use clap::{Parser, Subcommand};
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
    Check(cli::check::CheckArgs),
    /// Run a model on inputs and print or save its outputs.
    Run(cli::run::RunArgs),
    /// Print the model's graph in Graphviz DOT.
    Dot(cli::dot::DotArgs),
    /// Time interpreted and compiled execution of the same optimised graph.
    Bench(cli::bench::BenchArgs),
    /// Compile a model ahead of time into a standalone executable, an object file or a
    /// static library with a C header.
    Build(cli::build::BuildArgs),
    /// Import an ONNX model: write it as readable `.sc` and its weights as safetensors.
    Import(cli::import::ImportArgs),
    /// Candidate structures (c, n) for every conv and linear layer of a trained model,
    /// with the residual of each projection, its params and MACs.
    Advise(cli::advise::AdviseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => cli::check::check(args),
        Command::Run(args) => cli::run::run(args),
        Command::Dot(args) => cli::dot::dot(args),
        Command::Bench(args) => cli::bench::bench(args),
        Command::Build(args) => cli::build::build(args),
        Command::Import(args) => cli::import::import(args),
        Command::Advise(args) => cli::advise::advise(args),
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
