//! Helpers shared by the integration tests.
#![allow(dead_code)]

use scc::Tensor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared/fixtures` relative to the repository, if present.
pub fn fixtures_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: ../shared/fixtures is absent, so the fixture tests have nothing to check"
        );
        None
    }
}

/// Every fixture case folder, sorted by name.
pub fn fixture_cases() -> Vec<PathBuf> {
    let Some(dir) = fixtures_dir() else {
        return Vec::new();
    };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixtures folder is readable")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.join("model.sc").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "../shared/fixtures holds no case");
    cases
}

/// The contract's tolerance: max |got − expected| ≤ 1e-4 · max(1, max |expected|).
pub fn assert_close(name: &str, got: &Tensor, expected: &Tensor) {
    assert_eq!(got.shape(), expected.shape(), "{name}: shape");
    let scale = expected.data().iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let diff = got
        .data()
        .iter()
        .zip(expected.data())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff <= 1e-4 * scale,
        "{name}: max |got - expected| = {diff:e} > {:e}",
        1e-4 * scale
    );
}

/// Runs the `scc` binary with `args` from the repository root.
pub fn scc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the scc binary runs")
}

/// Runs `command` to completion, retrying while its program is "text file busy": an
/// executable this test process has just written can be held open for writing, for a moment,
/// by a child that another test thread is forking (the descriptor is closed only at that
/// child's `exec`), and `exec` of a file open for writing fails with `ETXTBSY`.
pub fn output_of(command: &mut Command) -> Output {
    for _ in 0..200 {
        match command.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            result => return result.expect("the program runs"),
        }
    }
    panic!("{command:?}: the program stayed busy for 2 s");
}

/// Runs `scc` with `args`, asserting it succeeds; returns its standard output.
pub fn scc_ok(args: &[&str]) -> String {
    let out = scc(args);
    assert!(
        out.status.success(),
        "scc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every vector tier this CPU can run, narrowest first: tests force each in turn.
pub fn host_tiers() -> Vec<scc::Tier> {
    scc::Tier::ALL
        .into_iter()
        .filter(|t| scc::host_tier(Some(*t)).is_ok())
        .collect()
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub mod generate;
pub mod zoo;
