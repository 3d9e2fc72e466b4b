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

#[test]
fn fixtures_pass_through_scc_run() {
    let dir = tempfile::tempdir().unwrap();
    for case in fixture_cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let saved = dir.path().join(format!("{name}.safetensors"));
        let out = scc(&[
            "run",
            case.join("model.sc").to_str().unwrap(),
            "--engine",
            "interp",
            "--weights",
            case.join("weights.safetensors").to_str().unwrap(),
            "--inputs",
            case.join("inputs.safetensors").to_str().unwrap(),
            "--save",
            saved.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
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
            assert_close(&format!("{name}/{output}"), &got[output], tensor);
        }
    }
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
