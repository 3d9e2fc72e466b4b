//! Snapshot tests of the optimisation passes: every `tests/passes/<name>.sc` is lowered,
//! run through the passes its header names, and the graph dumps before and after are
//! compared with `tests/passes/<name>.graph`. Run with `BLESS=1` to rewrite the expected
//! files (and then review them: a snapshot proves only what was checked by reading it).
//!
//! Header (leading `//` comment lines of the input):
//! - `// passes: a,b,c` (first line, required): the passes to run; they always run in
//!   pipeline order, so a pass that relies on an earlier one must list it too;
//! - `// weights: random` (optional): bind `weights::Weights::random(&graph, 3).unwrap()`, so that
//!   `fold-constants` has values to fold; otherwise no weights are bound (translation
//!   validation then draws random weights itself);
//! - `// tier: avx2|avx512` (optional): the vector tier the passes compile for (default
//!   `128`), which `choose-execution` and `choose-layout` follow.
//!
//! Every run has the verifier and translation validation on: the pass manager must
//! return `Ok`, and the final graph must verify.

use scc_compiler::passes::{PassManager, PassOptions, pass_names};
use scc_compiler::target::Tier;
use scc_compiler::{verify, weights};
use scc_lang::{SourceFile, parse};
use std::path::{Path, PathBuf};

/// What the header of an input asks for.
struct Header {
    passes: Vec<String>,
    random_weights: bool,
    tier: Tier,
}

fn header(path: &Path, text: &str) -> Result<Header, String> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().trim();
    let list = first
        .strip_prefix("//")
        .map(str::trim)
        .and_then(|l| l.strip_prefix("passes:"))
        .ok_or_else(|| {
            format!(
                "{}: the first line must be `// passes: a,b,c`, found `{first}`",
                path.display()
            )
        })?;
    let passes: Vec<String> = list
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if passes.is_empty() {
        return Err(format!("{}: `// passes:` names no pass", path.display()));
    }
    let mut random_weights = false;
    let mut tier = Tier::V128;
    for line in text.lines().skip(1) {
        let Some(comment) = line.trim().strip_prefix("//") else {
            break;
        };
        if let Some(name) = comment.trim().strip_prefix("tier:").map(str::trim) {
            tier = Tier::from_name(name)
                .ok_or_else(|| format!("{}: unknown `// tier: {name}`", path.display()))?;
        }
        match comment.trim().strip_prefix("weights:").map(str::trim) {
            Some("random") => random_weights = true,
            Some(other) => {
                return Err(format!(
                    "{}: unknown `// weights: {other}` (only `random`)",
                    path.display()
                ));
            }
            None => {}
        }
    }
    Ok(Header {
        passes,
        random_weights,
        tier,
    })
}

/// The snapshot text of one input, or why it could not be produced.
fn snapshot(path: &Path) -> Result<(Header, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header = header(path, &text)?;
    let name = format!(
        "tests/passes/{}",
        path.file_name().unwrap().to_string_lossy()
    );
    let source = SourceFile::new(name, text);
    let file = parse(&source).map_err(|d| d.render(Some(&source)))?;
    let graph = scc_compiler::lower::lower(&file, None).map_err(|e| e.0.render(Some(&source)))?;
    verify::verify(&graph)
        .map_err(|p| format!("{}: the lowered graph does not verify: {p}", path.display()))?;
    let manager = PassManager::new(PassOptions {
        only: Some(header.passes.clone()),
        verify: true,
        validate: true,
        validation_seed: 1,
        print_after: vec![],
        tier: header.tier,
        ..PassOptions::default()
    })
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let bound = header
        .random_weights
        .then(|| weights::Weights::random(&graph, 3).unwrap());
    let optimized = manager
        .run(&graph, bound.as_ref())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    verify::verify(&optimized.graph).map_err(|p| {
        format!(
            "{}: the optimised graph does not verify: {p}",
            path.display()
        )
    })?;
    let dump = format!(
        "// before\n{}\n// after\n{}",
        graph.dump(),
        optimized.graph.dump()
    );
    Ok((header, dump))
}

fn inputs() -> (PathBuf, Vec<PathBuf>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("passes");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sc"))
        .collect();
    inputs.sort();
    (dir, inputs)
}

#[test]
fn pass_snapshots() {
    let (_, inputs) = inputs();
    assert!(!inputs.is_empty(), "no tests/passes/*.sc inputs");
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    for input in &inputs {
        let (header, got) = match snapshot(input) {
            Ok(result) => result,
            Err(problem) => {
                failures.push(problem);
                continue;
            }
        };
        covered.extend(header.passes);
        let expected_path = input.with_extension("graph");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{} differs from {} (BLESS=1 to update):\n--- expected\n{expected}\n+++ got\n{got}",
                input.display(),
                expected_path.display()
            ));
        }
    }
    for name in pass_names() {
        if !covered.iter().any(|c| c == name) {
            failures.push(format!("no tests/passes/*.sc input runs pass `{name}`"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every expected `.graph` file has its input (no stale snapshots after a rename).
#[test]
fn no_orphan_snapshots() {
    let (dir, _) = inputs();
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "graph") && !path.with_extension("sc").exists() {
            orphans.push(path.display().to_string());
        }
    }
    assert!(
        orphans.is_empty(),
        "snapshots without an input: {orphans:?}"
    );
}
