//! Every case of `../shared/fixtures` through the library API and through the CLI.

mod common;

use common::{assert_close, fixture_cases, scc};
use scc::{BindOptions, Model};
use std::collections::BTreeMap;

#[test]
fn fixtures_pass_through_the_library_interpreter() {
    for case in fixture_cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let model = Model::from_file(case.join("model.sc"), None)
            .unwrap_or_else(|e| panic!("{name}: {}", e.render()));
        let (weights, _) = model
            .load_weights(case.join("weights.safetensors"), &BindOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {}", e.render()));
        let inputs = scc::runtime::read_safetensors(&case.join("inputs.safetensors")).unwrap();
        let expected = scc::runtime::read_safetensors(&case.join("expected.safetensors")).unwrap();
        let outputs = model
            .interpret(&weights, &inputs)
            .unwrap_or_else(|e| panic!("{name}: {}", e.render()));
        let outputs: BTreeMap<_, _> = outputs.into_iter().collect();
        assert_eq!(
            outputs.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{name}: output names"
        );
        for (output, tensor) in &outputs {
            assert_close(&format!("{name}/{output}"), tensor, &expected[output]);
        }
    }
}

/// Runs every fixture through `scc run ... --save` with `extra` arguments and compares.
fn run_fixtures_through_cli(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    for case in fixture_cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let saved = dir.path().join(format!("{name}.safetensors"));
        let mut args = vec![
            "run".to_string(),
            case.join("model.sc").to_str().unwrap().to_string(),
            "--weights".to_string(),
            case.join("weights.safetensors")
                .to_str()
                .unwrap()
                .to_string(),
            "--inputs".to_string(),
            case.join("inputs.safetensors")
                .to_str()
                .unwrap()
                .to_string(),
            "--save".to_string(),
            saved.to_str().unwrap().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = scc(&args);
        assert!(
            out.status.success(),
            "{name} {extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = scc::runtime::read_safetensors(&saved).unwrap();
        let expected = scc::runtime::read_safetensors(&case.join("expected.safetensors")).unwrap();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{name}: output names"
        );
        for (output, tensor) in &expected {
            assert_close(&format!("{name}/{output} {extra:?}"), &got[output], tensor);
        }
    }
}

#[test]
fn fixtures_pass_through_scc_run_interpreted_on_the_optimised_graph() {
    run_fixtures_through_cli(&["--engine", "interp"]);
}

#[test]
fn fixtures_pass_through_scc_run_interpreted_without_optimisation() {
    run_fixtures_through_cli(&["--engine", "interp", "--no-opt"]);
}

#[test]
fn check_json_agrees_with_every_fixture_stats() {
    for case in fixture_cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let out = scc(&["check", case.join("model.sc").to_str().unwrap(), "--json"]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let stats: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("stats.json")).unwrap())
                .unwrap();
        for key in stats.as_object().unwrap().keys() {
            assert_eq!(got[key], stats[key], "{name}: {key}");
        }
    }
}

#[test]
fn projected_fixture_reports_a_tiny_residual() {
    for case in fixture_cases() {
        if !case.ends_with("sconv_projected") {
            continue;
        }
        let model = Model::from_file(case.join("model.sc"), None).unwrap();
        let (_, reports) = model
            .load_weights(case.join("weights.safetensors"), &BindOptions::default())
            .unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].layer, "sconv");
        assert!(reports[0].relative_residual < 1e-5, "{reports:?}");
        let out = scc(&[
            "check",
            case.join("model.sc").to_str().unwrap(),
            "--weights",
            case.join("weights.safetensors").to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("structure residual of `sconv.weight`"),
            "{stdout}"
        );
    }
}
