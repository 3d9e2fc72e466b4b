//! `scc-fuzz TARGET [--seconds N] [--seed S]`: mutation fuzzing of one target of
//! [`scc_fuzz::TARGETS`] on stable Rust (see the crate docs). Prints the executions run;
//! a panicking input is written to `fuzz/crashes/TARGET-<n>` and the run exits 1.

use scc_fuzz::{Mutator, load_corpus, run_catching, target};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: scc-fuzz TARGET [--seconds N] [--seed S]   (targets: source, safetensors, binary_args)";
    let Some(name) = args.first() else {
        eprintln!("{usage}");
        return ExitCode::FAILURE;
    };
    let Some(target) = target(name) else {
        eprintln!("error: no fuzz target `{name}`\n{usage}");
        return ExitCode::FAILURE;
    };
    let (mut seconds, mut seed) = (60u64, 0u64);
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--seconds", Some(v)) => seconds = v,
            ("--seed", Some(v)) => seed = v,
            _ => {
                eprintln!("error: bad argument `{flag}`\n{usage}");
                return ExitCode::FAILURE;
            }
        }
    }
    let corpus: Vec<Vec<u8>> = load_corpus(target).into_values().collect();
    // Panics are caught and reported below; the default hook would print each one.
    std::panic::set_hook(Box::new(|_| {}));
    let crashes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crashes");
    for (i, entry) in corpus.iter().enumerate() {
        if let Err(message) = run_catching(target, entry) {
            eprintln!("corpus entry {i} of `{name}` panics: {message}");
            return ExitCode::FAILURE;
        }
    }
    let mut mutator = Mutator::new(seed);
    let start = Instant::now();
    let deadline = Duration::from_secs(seconds);
    let mut executions = 0u64;
    let mut found = 0u32;
    while start.elapsed() < deadline {
        let data = mutator.mutate(&corpus, target.dictionary);
        executions += 1;
        if let Err(message) = run_catching(target, &data) {
            found += 1;
            let _ = std::fs::create_dir_all(&crashes);
            let path = crashes.join(format!("{name}-{seed}-{executions}"));
            let _ = std::fs::write(&path, &data);
            eprintln!("panic on input {} : {message}", path.display());
        }
    }
    println!(
        "{name}: {executions} executions in {:.0} s (seed {seed}, {} corpus entries), {found} panics",
        start.elapsed().as_secs_f64(),
        corpus.len()
    );
    if found > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
