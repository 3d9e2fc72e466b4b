//! The command line: help, model selection, the check table, DOT output, run summaries.

mod common;

use common::{scc, scc_ok};

#[test]
fn every_command_has_help() {
    for command in ["check", "run", "dot"] {
        let help = scc_ok(&[command, "--help"]);
        assert!(help.contains("Usage: scc"), "{command}: {help}");
        assert!(help.contains("MODEL"), "{command}: {help}");
    }
    let top = scc_ok(&["--help"]);
    for command in ["check", "run", "dot"] {
        assert!(top.contains(command), "{top}");
    }
}

#[test]
fn check_prints_a_table_with_totals() {
    // Decomposed everywhere, the executed MACs are the alpha taps the example documents (by
    // default the cost model runs its two small shortcut convs composed).
    let table = scc_ok(&[
        "check",
        "examples/resnet20s.sc",
        "--execution",
        "decomposed",
    ]);
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
    let lowered = scc_ok(&["check", "examples/resnet20s.sc", "--no-opt"]);
    assert!(
        lowered.contains("sconv2d") && !lowered.contains("sumpool3d"),
        "{lowered}"
    );
}

#[test]
fn a_file_with_several_models_needs_and_accepts_model() {
    let out = scc(&["check", "compiler/tests/in/multi_model.sc"]);
    assert_eq!(out.status.code(), Some(1));
    let json = scc_ok(&[
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
    let dot = scc_ok(&["dot", "examples/resnet20s.sc"]);
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
    let first = scc_ok(&args);
    assert_eq!(first, scc_ok(&args));
    assert!(first.starts_with("fc: [1, 10]"), "{first}");
    assert!(first.contains("[0] top-5 classes:"), "{first}");
    assert_ne!(
        first,
        scc_ok(&[
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
    assert_eq!(out.status.code(), Some(1));
    // (An ONNX model brings its own weights, so clap no longer requires either option.)
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: the model needs weights: give --weights W.safetensors or --random-weights SEED\n"
    );
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

#[test]
fn print_after_all_shows_the_papers_work_on_resnet18s() {
    let text = scc_ok(&["check", "examples/resnet18s.sc", "--print-after", "all"]);
    for pass in scc::compiler::passes::pass_names() {
        assert!(
            text.contains(&format!("// after pass `{pass}`")),
            "no dump after {pass}"
        );
    }
    let last_dump = text.rsplit("// after pass `").next().unwrap();
    let final_graph = &last_dump[..last_dump.find("\nmodel `").unwrap()];
    assert!(!final_graph.contains("batchnorm("), "{final_graph}");
    assert!(
        final_graph.contains("algorithm=running_sum"),
        "{final_graph}"
    );
    // The downsample blocks' 3x3 pools read their shortcut's pool.
    assert!(
        final_graph.contains("layer2_0.conv1.sumpool = sumpool3d(%"),
        "{final_graph}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&scc_ok(&["check", "examples/resnet18s.sc", "--json"])).unwrap();
    let adds = json["sumpool_adds"].as_u64().unwrap();
    let macs = json["structured_macs"].as_u64().unwrap();
    assert!(
        adds * 20 <= macs,
        "sum-pool adds {adds} exceed 5% of {macs}"
    );
    assert!(json["arena_bytes"].as_u64().unwrap() < json["naive_bytes"].as_u64().unwrap());
}

#[test]
fn passes_can_be_chosen_and_verified() {
    let only = scc_ok(&[
        "check",
        "examples/resnet20s.sc",
        "--passes",
        "decompose-structured",
        "--print-after",
        "all",
    ]);
    assert!(
        only.contains("// after pass `decompose-structured`")
            && !only.contains("// after pass `fold-batchnorm`")
    );
    assert!(
        only.contains("batchnorm"),
        "batchnorm is only folded by its own pass"
    );
    let verified = scc(&[
        "run",
        "examples/resnet20s.sc",
        "--random-weights",
        "1",
        "--verify",
    ]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let unknown = scc(&["check", "examples/resnet20s.sc", "--passes", "fold-bn"]);
    assert_eq!(unknown.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown pass `fold-bn`") && stderr.contains("fold-batchnorm"),
        "{stderr}"
    );
    let same = |extra: &[&str]| {
        let mut args = vec!["run", "examples/resnet20s.sc", "--random-weights", "4"];
        args.extend_from_slice(extra);
        scc_ok(&args)
    };
    // The optimised and unoptimised graphs print the same top-5 classes.
    let top = |text: String| {
        text.lines()
            .find(|l| l.contains("top-5"))
            .unwrap()
            .to_string()
    };
    let optimized = top(same(&[]));
    let unoptimized = top(same(&["--no-opt"]));
    let classes = |line: &str| {
        line.split(", ")
            .map(|p| p.split(' ').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        classes(&optimized),
        classes(&unoptimized),
        "{optimized} vs {unoptimized}"
    );
}

#[test]
fn dot_optimized_draws_the_optimised_graph() {
    let lowered = scc_ok(&["dot", "examples/resnet20s.sc"]);
    let optimized = scc_ok(&["dot", "examples/resnet20s.sc", "--optimized"]);
    assert!(lowered.contains("sconv2d") && !lowered.contains("sumpool3d"));
    assert!(optimized.contains("sumpool3d") && !optimized.contains("batchnorm"));
}

#[test]
fn input_shape_replaces_a_declared_shape() {
    let json = scc_ok(&[
        "check",
        "examples/resnet20s.sc",
        "--input-shape",
        "image=4,3,64,64",
        "--json",
    ]);
    let stats: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        stats["inputs"][0]["shape"],
        serde_json::json!([4, 3, 64, 64])
    );
    assert_eq!(stats["outputs"][0]["shape"], serde_json::json!([4, 10]));
    // Parameters do not depend on the input size; conv MACs grow with the pixels (4x) and
    // the batch (4x), the classifier's (64 x 10) with the batch only.
    assert_eq!(stats["params"], 63_322);
    let fc_macs = 64 * 10;
    assert_eq!(
        stats["dense_macs"],
        (40_813_184u64 - fc_macs) * 16 + fc_macs * 4
    );
}

#[test]
fn max_nodes_sets_the_node_limit() {
    let out = scc(&[
        "check",
        "tests/errors/block_expansion_limit.sc",
        "--max-nodes",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: the model has more than 100 nodes\n"),
        "{stderr}"
    );
    // A model within the limit is checked as usual.
    scc_ok(&["check", "examples/resnet20s.sc", "--max-nodes", "1000"]);
    let out = scc(&["check", "examples/resnet20s.sc", "--max-nodes", "ten"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// `scc ARGS | head -1`, with the reader gone before scc writes anything: scc ends quietly
/// (killed by SIGPIPE, as `cat` would be), with nothing on standard error.
#[cfg(unix)]
fn assert_quiet_on_a_closed_pipe(args: &[&str]) {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, "", "scc {args:?} on a closed pipe");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "scc {args:?}: {:?}",
        out.status
    );
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_every_printing_command_quietly() {
    assert_quiet_on_a_closed_pipe(&["check", "examples/resnet18s.sc"]);
    assert_quiet_on_a_closed_pipe(&["check", "examples/resnet18s.sc", "--json"]);
    assert_quiet_on_a_closed_pipe(&["check", "examples/resnet20s.sc", "--print-after", "all"]);
    assert_quiet_on_a_closed_pipe(&["dot", "examples/resnet20s.sc"]);
    assert_quiet_on_a_closed_pipe(&["run", "examples/resnet20s.sc", "--random-weights", "1"]);
    assert_quiet_on_a_closed_pipe(&[
        "bench",
        "examples/resnet20s.sc",
        "--random-weights",
        "1",
        "--runs",
        "1",
        "--interp-runs",
        "1",
        "--per-layer",
    ]);
}

#[test]
fn identifiers_of_any_length_are_printed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let name = "a".repeat(70_000);
    let path = dir.path().join("long.sc");
    std::fs::write(
        &path,
        format!("model m(x: [1, 4]) {{ let {name} = relu(x); return {name}; }}\n"),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let table = scc_ok(&["check", path]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("{name}  relu "))),
        "the long name's row"
    );
    assert!(
        scc_ok(&["run", path, "--random-weights", "1"]).starts_with(&format!("{name}: [1, 4]"))
    );
    let bench = scc_ok(&[
        "bench",
        path,
        "--random-weights",
        "1",
        "--runs",
        "1",
        "--interp-runs",
        "1",
        "--per-layer",
    ]);
    assert!(
        bench.contains(&format!("{name}  relu")),
        "{}",
        &bench[..200]
    );
}

#[test]
fn usage_errors_exit_with_status_1() {
    for args in [
        &["check"][..],
        &["check", "examples/resnet20s.sc", "--no-such-option"],
        &["frobnicate"],
        &[
            "run",
            "examples/resnet20s.sc",
            "--random-weights",
            "1",
            "--threads",
            "100000",
        ],
    ] {
        let out = scc(args);
        assert_eq!(out.status.code(), Some(1), "scc {args:?}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    }
    // Help and the version are not errors.
    assert!(scc_ok(&["--help"]).contains("Usage: scc"));
    assert!(scc_ok(&["--version"]).starts_with("scc "));
}

#[test]
fn bench_takes_the_execution_choice_and_reports_layers_that_add_up() {
    for execution in ["composed", "fused", "decomposed"] {
        let json = scc_ok(&[
            "bench",
            "examples/resnet20s.sc",
            "--random-weights",
            "1",
            "--threads",
            "1",
            "--runs",
            "5",
            "--interp-runs",
            "1",
            "--per-layer",
            "--execution",
            execution,
            "--json",
        ]);
        let report: serde_json::Value = serde_json::from_str(&json).unwrap();
        let layers = report["layers"].as_array().expect("per-layer rows");
        // A composed layer is one dense conv: no sum-pool node is left.
        let pools = layers.iter().filter(|l| l["op"] == "sumpool3d").count();
        assert_eq!(pools == 0, execution == "composed", "{execution}: {json}");
        assert!(
            report["layers_sum_jit_ms"].as_f64().unwrap() > 0.0,
            "{json}"
        );
        assert!(
            report["layers_whole_jit_ms"].as_f64().unwrap() > 0.0,
            "{json}"
        );
    }
    let out = scc(&[
        "bench",
        "examples/resnet20s.sc",
        "--random-weights",
        "1",
        "--execution",
        "sideways",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--execution"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `transpose` is drawn with its permutation, and `--print-after` shows the reorders
/// `choose-layout` puts around it between channel-blocked convs.
#[test]
fn dot_and_print_after_show_transpose() {
    let dot = scc_ok(&["dot", "compiler/tests/in/transpose.sc"]);
    assert!(
        dot.contains("nhwc\\ntranspose perm=[0, 2, 3, 1]\\n[2, 4, 5, 3]"),
        "{dot}"
    );
    let printed = scc_ok(&[
        "check",
        "compiler/tests/passes/choose_layout_transpose.sc",
        "--tier",
        "avx2",
        "--print-after",
        "all",
    ]);
    let after = printed
        .split("// after pass `choose-layout`")
        .nth(1)
        .unwrap_or_else(|| panic!("{printed}"));
    assert!(after.contains("a.nchw = reorder(%1) to=nchw"), "{after}");
    assert!(
        after.contains("t = transpose(%5) perm=[0, 1, 3, 2]"),
        "{after}"
    );
    assert!(
        after.contains("t.nchw8c = reorder(%2) to=nchw8c"),
        "{after}"
    );
}
