//! Snapshot tests of lowering: every `tests/in/*.sc` is lowered (each of its models) and
//! the graph dump — or the rendered diagnostic — is compared with `tests/out/<name>.graph`.
//! Run with `BLESS=1` to rewrite the expected files.

use scc_compiler::lower::{lower, model_names};
use scc_lang::{SourceFile, parse};
use std::path::Path;

fn lower_all(path: &Path) -> String {
    let name = format!("tests/in/{}", path.file_name().unwrap().to_string_lossy());
    let source = SourceFile::new(name, std::fs::read_to_string(path).unwrap());
    let file = match parse(&source) {
        Ok(file) => file,
        Err(diag) => return diag.render(Some(&source)),
    };
    let mut out = String::new();
    for model in model_names(&file) {
        match lower(&file, Some(&model)) {
            Ok(graph) => out.push_str(&graph.dump()),
            Err(err) => out.push_str(&err.0.render(Some(&source))),
        }
        out.push('\n');
    }
    out
}

#[test]
fn lowering_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut inputs: Vec<_> = std::fs::read_dir(root.join("in"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sc"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty());
    let bless = std::env::var_os("BLESS").is_some();
    let mut mismatches = Vec::new();
    for input in inputs {
        let got = lower_all(&input);
        let expected_path = root
            .join("out")
            .join(input.with_extension("graph").file_name().unwrap());
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            mismatches.push(format!(
                "{}:\n--- expected\n{expected}\n+++ got\n{got}",
                input.display()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "snapshots differ (BLESS=1 to update):\n{}",
        mismatches.join("\n")
    );
}
