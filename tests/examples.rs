//! The example models at real scale: `scc check` accepts them and counts what the
//! reference architectures have (torchvision's parameter counts for the dense ones).

mod common;

use common::scc;

fn check_json(path: &str) -> serde_json::Value {
    let out = scc(&["check", path, "--json"]);
    assert!(
        out.status.success(),
        "{path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_counts(path: &str, params: u64, dense_macs: u64, structured_macs: u64) {
    let stats = check_json(path);
    assert_eq!(stats["params"], params, "{path}: params");
    assert_eq!(stats["dense_macs"], dense_macs, "{path}: dense_macs");
    assert_eq!(
        stats["structured_macs"], structured_macs,
        "{path}: structured_macs"
    );
}

#[test]
fn resnet18_matches_torchvision() {
    assert_counts(
        "examples/resnet18.sc",
        11_689_512,
        1_814_073_344,
        1_814_073_344,
    );
}

#[test]
fn resnet18s_is_the_structured_resnet18() {
    assert_counts(
        "examples/resnet18s.sc",
        3_059_240,
        1_814_073_344,
        500_666_368,
    );
}

#[test]
fn mobilenetv2_matches_torchvision() {
    assert_counts(
        "examples/mobilenetv2.sc",
        3_504_872,
        300_774_272,
        300_774_272,
    );
}

#[test]
fn mobilenetv2s_is_the_structured_mobilenetv2() {
    assert_counts(
        "examples/mobilenetv2s.sc",
        2_406_856,
        300_774_272,
        155_295_232,
    );
}

#[test]
fn resnet20_and_resnet20s_are_the_cifar_resnets() {
    assert_counts("examples/resnet20.sc", 272_474, 40_813_184, 40_813_184);
    assert_counts("examples/resnet20s.sc", 63_322, 40_813_184, 9_486_976);
}

#[test]
fn structured_examples_share_weight_names_with_their_dense_twins() {
    for (dense, structured) in [
        ("examples/resnet18.sc", "examples/resnet18s.sc"),
        ("examples/mobilenetv2.sc", "examples/mobilenetv2s.sc"),
        ("examples/resnet20.sc", "examples/resnet20s.sc"),
    ] {
        let names = |path: &str| -> Vec<String> {
            let model = scc::Model::from_file(common::repo_path(path), None).unwrap();
            scc::compiler::weights::weight_specs(model.graph())
                .into_iter()
                .map(|s| s.name.replace(".alpha", ".weight"))
                .collect()
        };
        assert_eq!(names(dense), names(structured), "{dense} vs {structured}");
    }
}

#[test]
fn a_structured_example_runs_on_random_weights() {
    let out = scc(&["run", "examples/resnet20s.sc", "--random-weights", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("top-5 classes"), "{stdout}");
}
