//! Snapshot tests of the front end.
//!
//! - `tests/in/<name>.sc` parses, and its dump (`scc_lang::dump_with_source`) equals
//!   `tests/out/<name>.ast`;
//! - `tests/errors/<name>.sc` fails to parse, and the rendered diagnostic equals
//!   `tests/errors/<name>.stderr`.
//!
//! Run with `BLESS=1` to rewrite the expected files from the current output.

use scc_lang::{SourceFile, dump_with_source, parse};
use std::fs;
use std::path::{Path, PathBuf};

/// The `.sc` files of a directory under `tests/`, sorted, as (stem, path).
fn sources(dir: &str) -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sc"))
        .map(|path| {
            (
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                path,
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .sc file in {}", dir.display());
    files
}

/// Compares `actual` with the file at `expected`, or rewrites it when `BLESS=1`.
/// Returns a description of the mismatch, if any.
fn check(expected: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        fs::write(expected, actual).expect("write snapshot");
        return None;
    }
    let wanted = fs::read_to_string(expected).unwrap_or_default();
    (wanted != actual).then(|| {
        format!(
            "{} differs (run with BLESS=1 to update)\n--- expected\n{wanted}\n--- actual\n{actual}",
            expected.display()
        )
    })
}

fn read(path: &Path, name: String) -> SourceFile {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    SourceFile::new(name, text)
}

#[test]
fn ast_snapshots() {
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/out");
    let mut failures = Vec::new();
    for (name, path) in sources("in") {
        let source = read(&path, format!("tests/in/{name}.sc"));
        let actual = match parse(&source) {
            Ok(file) => dump_with_source(&file, &source),
            Err(diagnostic) => {
                failures.push(format!("{name}: {}", diagnostic.render(Some(&source))));
                continue;
            }
        };
        failures.extend(check(&out_dir.join(format!("{name}.ast")), &actual));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn error_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors");
    let mut failures = Vec::new();
    for (name, path) in sources("errors") {
        let source = read(&path, format!("tests/errors/{name}.sc"));
        let actual = match parse(&source) {
            Ok(_) => {
                failures.push(format!("{name}: parsed without error"));
                continue;
            }
            Err(diagnostic) => diagnostic.render(Some(&source)),
        };
        failures.extend(check(&dir.join(format!("{name}.stderr")), &actual));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
