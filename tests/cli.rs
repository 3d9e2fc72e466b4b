//! The command line: help, model selection, the check table, DOT output, run summaries.

mod common;

use common::scc;

fn stdout_of(args: &[&str]) -> String {
    let out = scc(args);
    assert!(
        out.status.success(),
        "scc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_command_has_help() {
    for command in ["check", "run", "dot"] {
        let help = stdout_of(&[command, "--help"]);
        assert!(help.contains("Usage: scc"), "{command}: {help}");
        assert!(help.contains("MODEL"), "{command}: {help}");
    }
    let top = stdout_of(&["--help"]);
    for command in ["check", "run", "dot"] {
        assert!(top.contains(command), "{top}");
    }
}

#[test]
fn check_prints_a_table_with_totals() {
    let table = stdout_of(&["check", "examples/resnet20s.sc"]);
    let total = table
        .lines()
        .find(|l| l.starts_with("total"))
        .expect("a total row");
    assert!(
        total.contains("63,322") && total.contains("40,813,184") && total.contains("9,486,976"),
        "{total}"
    );
    // Optimised by default: structured layers appear as sum-pool + small conv.
    assert!(
        table.contains("layer1_0.conv1.sumpool") && table.contains("sumpool3d"),
        "{table}"
    );
    assert!(table.contains("memory: arena"), "{table}");
    let lowered = stdout_of(&["check", "examples/resnet20s.sc", "--no-opt"]);
    assert!(
        lowered.contains("sconv2d") && !lowered.contains("sumpool3d"),
        "{lowered}"
    );
}

#[test]
fn a_file_with_several_models_needs_and_accepts_model() {
    let out = scc(&["check", "compiler/tests/in/multi_model.sc"]);
    assert_eq!(out.status.code(), Some(1));
    let json = stdout_of(&[
        "check",
        "compiler/tests/in/multi_model.sc",
        "--model",
        "features",
        "--json",
    ]);
    let stats: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(stats["model"], "features");
    assert_eq!(stats["params"], 8 * 3 * 9);
    assert_eq!(stats["outputs"][0]["name"], "pooled");
    let out = scc(&[
        "check",
        "compiler/tests/in/multi_model.sc",
        "--model",
        "nope",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no model named `nope`") && stderr.contains("`features`"),
        "{stderr}"
    );
}

#[test]
fn dot_prints_every_node_and_edge() {
    let dot = stdout_of(&["dot", "examples/resnet20s.sc"]);
    assert!(dot.starts_with("digraph \"resnet20s\" {"), "{dot}");
    assert!(dot.trim_end().ends_with('}'));
    let model = scc::Model::from_file(common::repo_path("examples/resnet20s.sc"), None).unwrap();
    let graph = model.graph();
    let nodes = dot
        .lines()
        .filter(|l| {
            l.trim_start().starts_with('n') && l.contains(" [label=") && !l.contains(" -> ")
        })
        .count();
    assert_eq!(nodes, graph.node_count());
    let edges = dot.lines().filter(|l| l.contains(" -> n")).count();
    let operands: usize = graph
        .node_ids()
        .iter()
        .map(|&id| graph.operands(id).len())
        .sum();
    assert_eq!(edges, operands);
}

#[test]
fn run_prints_top5_and_is_deterministic() {
    let args = [
        "run",
        "examples/resnet20s.sc",
        "--random-weights",
        "5",
        "--input-seed",
        "2",
    ];
    let first = stdout_of(&args);
    assert_eq!(first, stdout_of(&args));
    assert!(first.starts_with("fc: [1, 10]"), "{first}");
    assert!(first.contains("[0] top-5 classes:"), "{first}");
    assert_ne!(
        first,
        stdout_of(&[
            "run",
            "examples/resnet20s.sc",
            "--random-weights",
            "6",
            "--input-seed",
            "2"
        ])
    );
}

#[test]
fn run_needs_weights_or_a_seed() {
    let out = scc(&["run", "examples/resnet20s.sc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--weights"));
}

#[test]
fn half_precision_weights_are_widened() {
    use safetensors::tensor::{Dtype, TensorView};
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let case = fixtures.join("conv_basic");
    let weights = scc::runtime::read_safetensors(&case.join("weights.safetensors")).unwrap();
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = weights
        .iter()
        .map(|(name, t)| {
            let raw = t
                .data()
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect();
            (name.clone(), raw, t.shape().to_vec())
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(name, raw, shape)| {
            (
                name.clone(),
                TensorView::new(Dtype::F16, shape.clone(), raw).unwrap(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w16.safetensors");
    safetensors::serialize_to_file(views, None, &path).unwrap();
    let model = scc::Model::from_file(case.join("model.sc"), None).unwrap();
    let (half_weights, _) = model
        .load_weights(&path, &scc::BindOptions::default())
        .unwrap();
    for (name, t) in half_weights.iter() {
        let original = &weights[name];
        assert!(
            t.max_abs_diff(original) <= 1e-3 * original.max_abs().max(1.0),
            "{name}"
        );
    }
}
