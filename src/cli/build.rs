//! `scc build`: ahead-of-time compilation to an executable, an object file or a static library.

use super::common::{ModelArgs, PassArgs, TierArgs, WeightArgs};
use super::values::MemoryArgs;
use anyhow::Result;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum EmitKind {
    /// A standalone executable.
    Exe,
    /// `NAME.o` + `NAME.h` (+ `libscc_native.a`, the runtime it links with).
    Obj,
    /// `libNAME.a` + `NAME.h`.
    Staticlib,
}

#[derive(Args)]
pub struct BuildArgs {
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
    #[command(flatten)]
    memory: MemoryArgs,
    /// Prefix of the C symbols and header macros (`PREFIX_run`, `PREFIX_NUM_INPUTS`), a C
    /// identifier (default: the file name of -o).
    #[arg(long, value_name = "PREFIX")]
    symbol_prefix: Option<String>,
    /// The CPU to compile for: `native` (this CPU, every feature it has), or an x86-64 level:
    /// `x86-64-v2` (SSE4.2: the portable baseline, 128-bit tier), `x86-64-v3` (AVX2+FMA),
    /// `x86-64-v4` (AVX-512). The binary records the features it needs and refuses to start
    /// on a CPU without them.
    #[arg(long, value_enum, value_name = "CPU", default_value = "native")]
    target_cpu: CpuName,
    #[command(flatten)]
    tier: TierArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CpuName {
    Native,
    #[value(name = "x86-64-v2")]
    X86_64V2,
    #[value(name = "x86-64-v3")]
    X86_64V3,
    #[value(name = "x86-64-v4")]
    X86_64V4,
}

pub fn megabytes(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

pub fn build(args: BuildArgs) -> Result<()> {
    let model = args.model.load()?;
    let weights = args.weights.load(&model, args.memory.max_memory)?;
    let emit = match args.emit {
        EmitKind::Exe => scc::Emit::Executable,
        EmitKind::Obj => scc::Emit::Object,
        EmitKind::Staticlib => scc::Emit::StaticLib,
    };
    let options = scc::BuildOptions {
        output: args.output.clone(),
        emit,
        passes: args.passes.options(true),
        max_memory: args.memory.max_memory,
        symbol_prefix: args.symbol_prefix.clone(),
        target_cpu: match args.target_cpu {
            CpuName::Native => scc::TargetCpu::Native,
            CpuName::X86_64V2 => scc::TargetCpu::X86_64V2,
            CpuName::X86_64V3 => scc::TargetCpu::X86_64V3,
            CpuName::X86_64V4 => scc::TargetCpu::X86_64V4,
        },
        tier: args.tier.requested(),
    };
    let report = scc::build(&model, &weights, &options)?;
    let other = report
        .bytes
        .saturating_sub((report.weight_bytes + report.code_bytes) as u64);
    println!(
        "built {} for {} in {:.2} s: {} ({} weights, {} generated code, {} runtime and the rest)",
        report.files[0].display(),
        report.target,
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
