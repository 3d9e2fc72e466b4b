//! Option values that need checking beyond their type, each refused at parse time with the
//! option named (clap prefixes the message with the option): memory sizes, thread counts,
//! run counts and tolerances.

use clap::Args;

/// `--max-memory SIZE`.
#[derive(Args)]
pub struct MemoryArgs {
    /// The most memory the model may need (weights, intermediate tensors, scratch, inputs and
    /// outputs), checked before anything is allocated: e.g. 512M, 1.5GB, 8GiB, or unlimited
    /// (default: the memory available on this machine).
    #[arg(long = "max-memory", value_name = "SIZE", value_parser = parse_memory)]
    pub max_memory: Option<u64>,
}

/// A memory size ([`scc::runtime::memory::parse_size`]); `unlimited` is `u64::MAX`.
fn parse_memory(text: &str) -> Result<u64, String> {
    Ok(scc::runtime::memory::parse_size(text)?.unwrap_or(u64::MAX))
}

/// `--threads N`.
#[derive(Args)]
pub struct ThreadArgs {
    /// Worker threads of the JIT (0: all cores; at most 1024).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = scc::runtime::limits::parse_threads)]
    pub threads: usize,
}

impl ThreadArgs {
    /// The thread count, after a note on standard error if it exceeds the machine's cores.
    pub fn threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if self.threads > cores {
            eprintln!(
                "note: --threads {} is more than the {cores} core(s) of this machine; the threads will share them",
                self.threads
            );
        }
        self.threads
    }
}

/// A count of runs: at least 1.
pub fn parse_runs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("at least 1 run is needed".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a number of runs (1 or more)")),
    }
}

/// A tolerance: a finite number, at least 0.
pub fn parse_tolerance(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!(
            "the tolerance must be a finite number at least 0, found `{text}`"
        ));
    }
    Ok(value)
}
