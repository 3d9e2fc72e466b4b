//! `scc build`: standalone binaries reproduce PyTorch and the JIT bit for bit on every tier
//! this CPU has; portable targets run; a binary refuses to start on a CPU without the
//! features it records; object files and static libraries embed in C; bad input gets a clear
//! error.

mod common;

use common::{assert_close, fixture_cases, host_tiers, output_of, repo_path, scc_ok};
use scc::{BindOptions, Model, Options, Tensor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Builds `model` into `dir/name` and returns the path of the binary copied alone into a
/// fresh empty folder (so it cannot depend on anything next to it).
fn build_alone(model: &Path, weights: &[&str], dir: &Path, name: &str) -> PathBuf {
    let built = dir.join(name);
    let mut args = vec!["build", model.to_str().unwrap()];
    args.extend_from_slice(weights);
    args.extend_from_slice(&["-o", built.to_str().unwrap()]);
    scc_ok(&args);
    let alone = dir.join(format!("{name}-alone"));
    std::fs::create_dir_all(&alone).unwrap();
    let copy = alone.join(name);
    std::fs::copy(&built, &copy).unwrap();
    copy
}

fn run_in(binary: &Path, args: &[&str]) -> Output {
    output_of(
        Command::new(binary)
            .args(args)
            .current_dir(binary.parent().unwrap())
            .env_clear(),
    )
}

/// Runs a built binary on a safetensors inputs file and returns its saved outputs.
fn run_saved(binary: &Path, inputs: &Path, what: &str) -> BTreeMap<String, Tensor> {
    let saved = binary.parent().unwrap().join("out.safetensors");
    let out = run_in(
        binary,
        &[
            "--inputs",
            inputs.to_str().unwrap(),
            "--save",
            saved.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    scc::runtime::read_safetensors(&saved).unwrap()
}

/// The binary's outputs equal the JIT's (at `tier`) bit for bit.
fn assert_equals_jit(
    got: &BTreeMap<String, Tensor>,
    model: &Model,
    weights: &scc::Weights,
    inputs: &BTreeMap<String, Tensor>,
    tier: scc::Tier,
    what: &str,
) {
    let options = Options {
        tier: Some(tier),
        ..Options::default()
    };
    let jit = scc::compile(model, weights, &options)
        .unwrap()
        .run(inputs)
        .unwrap();
    for (output, tensor) in jit {
        assert_eq!(
            got[&output], tensor,
            "{what}/{output}: binary and JIT differ (tier {tier})"
        );
    }
}

#[test]
fn built_binaries_reproduce_every_fixture_and_the_jit() {
    let dir = tempfile::tempdir().unwrap();
    for case in fixture_cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let weights = case.join("weights.safetensors");
        let model = Model::from_file(case.join("model.sc"), None).unwrap();
        let (bound, _) = model
            .load_weights(&weights, &BindOptions::default())
            .unwrap();
        let inputs = scc::runtime::read_safetensors(&case.join("inputs.safetensors")).unwrap();
        let expected = scc::runtime::read_safetensors(&case.join("expected.safetensors")).unwrap();
        for tier in host_tiers() {
            let binary = build_alone(
                &case.join("model.sc"),
                &[
                    "--weights",
                    weights.to_str().unwrap(),
                    "--tier",
                    tier.name(),
                ],
                dir.path(),
                &format!("{name}-{tier}"),
            );
            let got = run_saved(&binary, &case.join("inputs.safetensors"), &name);
            for (output, tensor) in &expected {
                assert_close(
                    &format!("{name}/{output} (binary {tier} vs PyTorch)"),
                    &got[output],
                    tensor,
                );
            }
            assert_equals_jit(&got, &model, &bound, &inputs, tier, &name);
        }
    }
}

#[test]
fn built_examples_equal_the_jit_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    for example in [
        "resnet20s",
        "resnet20",
        "resnet18s",
        "resnet18",
        "mobilenetv2s",
        "mobilenetv2",
    ] {
        let path = repo_path(&format!("examples/{example}.sc"));
        let model = Model::from_file(&path, None).unwrap();
        let inputs = model.random_inputs(9).unwrap();
        for tier in host_tiers() {
            let binary = build_alone(
                &path,
                &["--random-weights", "3", "--tier", tier.name()],
                dir.path(),
                &format!("{example}-{tier}"),
            );
            let inputs_path = binary.parent().unwrap().join("inputs.safetensors");
            scc::runtime::write_safetensors(&inputs_path, &inputs).unwrap();
            let got = run_saved(&binary, &inputs_path, example);
            let weights = model.random_weights(3).unwrap();
            assert_equals_jit(&got, &model, &weights, &inputs, tier, example);
        }
    }
}

#[test]
fn resnet18s_builds_fast_into_a_small_binary() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("resnet18s");
    let report = scc_ok(&[
        "build",
        "examples/resnet18s.sc",
        "--random-weights",
        "1",
        "-o",
        output.to_str().unwrap(),
    ]);
    assert!(
        report.contains("weights") && report.contains("generated code"),
        "{report}"
    );
    let model = Model::from_file(repo_path("examples/resnet18s.sc"), None).unwrap();
    let weights = model.random_weights(1).unwrap();
    let build = scc::build(
        &model,
        &weights,
        &scc::BuildOptions {
            output: dir.path().join("again"),
            emit: scc::Emit::Executable,
            passes: Default::default(),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        build.bytes <= build.weight_bytes as u64 + 3_000_000,
        "{build:?}"
    );
    let bench = run_in(&output, &["--bench", "3", "--threads", "1"]);
    assert!(
        bench.status.success(),
        "{}",
        String::from_utf8_lossy(&bench.stderr)
    );
    assert!(String::from_utf8_lossy(&bench.stdout).contains("median"));
}

#[test]
fn a_binary_classifies_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build_alone(
        &repo_path("examples/resnet20s.sc"),
        &["--random-weights", "1"],
        dir.path(),
        "classify",
    );
    let image = binary.parent().unwrap().join("cat.png");
    let mut png = image::RgbImage::new(48, 40);
    for (x, y, pixel) in png.enumerate_pixels_mut() {
        *pixel = image::Rgb([(x * 5) as u8, (y * 6) as u8, 128]);
    }
    png.save(&image).unwrap();
    let out = run_in(&binary, &[image.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.to_lowercase().contains("top-5") || stdout.to_lowercase().contains("top 5"),
        "{stdout}"
    );
    let help = run_in(&binary, &["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--inputs"));
}

#[test]
fn a_binary_rejects_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build_alone(
        &repo_path("examples/resnet20s.sc"),
        &["--random-weights", "1"],
        dir.path(),
        "strict",
    );
    let folder = binary.parent().unwrap();
    let wrong_shape = folder.join("wrong_shape.safetensors");
    let mut tensors: BTreeMap<String, Tensor> = BTreeMap::new();
    tensors.insert("image".into(), Tensor::zeros(vec![1, 3, 32, 31]));
    scc::runtime::write_safetensors(&wrong_shape, &tensors).unwrap();
    let wrong_name = folder.join("wrong_name.safetensors");
    let mut tensors: BTreeMap<String, Tensor> = BTreeMap::new();
    tensors.insert("pixels".into(), Tensor::zeros(vec![1, 3, 32, 32]));
    scc::runtime::write_safetensors(&wrong_name, &tensors).unwrap();
    let not_image = folder.join("broken.png");
    std::fs::write(&not_image, b"not a png at all").unwrap();
    for (args, needle) in [
        (
            vec!["--inputs", "missing.safetensors"],
            "missing.safetensors",
        ),
        (vec!["--inputs", wrong_shape.to_str().unwrap()], "image"),
        (vec!["--inputs", wrong_name.to_str().unwrap()], "image"),
        (vec![not_image.to_str().unwrap()], "broken.png"),
        (vec!["--threads", "x"], "threads"),
    ] {
        let out = run_in(&binary, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error") && stderr.contains(needle) && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn the_c_embedding_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("resnet20s");
    scc_ok(&[
        "build",
        "examples/resnet20s.sc",
        "--random-weights",
        "1",
        "--emit",
        "staticlib",
        "-o",
        stem.to_str().unwrap(),
    ]);
    let header = std::fs::read_to_string(dir.path().join("resnet20s.h")).unwrap();
    for needle in [
        "#define RESNET20S_NUM_INPUTS 1",
        "#define RESNET20S_INPUT0_SIZE 3072",
        "#define RESNET20S_OUTPUT0_SIZE 10",
        "int resnet20s_run(",
    ] {
        assert!(header.contains(needle), "{needle}\n{header}");
    }
    let program = dir.path().join("embed");
    let compiled = Command::new("cc")
        .arg("-O2")
        .arg("-I")
        .arg(dir.path())
        .arg(repo_path("examples/embed_c/main.c"))
        .arg(dir.path().join("libresnet20s.a"))
        .args([
            "-static-libgcc",
            "-lpthread",
            "-ldl",
            "-lm",
            "-lrt",
            "-lutil",
            "-o",
        ])
        .arg(&program)
        .output()
        .unwrap();
    assert!(
        compiled.status.success(),
        "{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let out = output_of(&mut Command::new(&program));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let values: Vec<f32> = stdout
        .lines()
        .skip(1)
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let model = Model::from_file(repo_path("examples/resnet20s.sc"), None).unwrap();
    let input: Vec<f32> = (0..3072).map(|i| (0.01 * i as f64).sin() as f32).collect();
    let mut inputs = BTreeMap::new();
    inputs.insert(
        "image".to_string(),
        Tensor::new(vec![1, 3, 32, 32], input).unwrap(),
    );
    let jit = scc::compile(
        &model,
        &model.random_weights(1).unwrap(),
        &Options::default(),
    )
    .unwrap()
    .run(&inputs)
    .unwrap();
    assert_eq!(values, jit[0].1.data(), "C program and JIT differ");
    // An object file plus the runtime archive also links.
    scc_ok(&[
        "build",
        "examples/resnet20s.sc",
        "--random-weights",
        "1",
        "--emit",
        "obj",
        "-o",
        stem.to_str().unwrap(),
    ]);
    assert!(
        dir.path().join("resnet20s.o").is_file() && dir.path().join("libscc_native.a").is_file()
    );
}

#[test]
fn building_without_a_c_compiler_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("nope");
    let out = Command::new(env!("CARGO_BIN_EXE_scc"))
        .args([
            "build",
            "examples/resnet20s.sc",
            "--random-weights",
            "1",
            "-o",
            output.to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CC", "/nonexistent/cc")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no C compiler found") && stderr.contains("apt-get install gcc"),
        "{stderr}"
    );
}

#[test]
fn a_value_returned_twice_is_two_outputs_of_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let model_path = dir.path().join("twice.sc");
    let source =
        "model twice(x: [1, 4]) {\n    let c = relu(x);\n    return c, c, sigmoid(c);\n}\n";
    std::fs::write(&model_path, source).unwrap();
    let binary = build_alone(&model_path, &["--random-weights", "1"], dir.path(), "twice");
    let model = Model::from_source("twice.sc", source, None).unwrap();
    let weights = model.random_weights(1).unwrap();
    let inputs = model.random_inputs(3).unwrap();
    let inputs_path = dir.path().join("inputs.safetensors");
    scc::runtime::write_safetensors(&inputs_path, &inputs).unwrap();
    let got = run_saved(&binary, &inputs_path, "twice");
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(names, ["c", "output1", "output2"]);
    assert_eq!(got["c"], got["output1"]);
    assert_equals_jit(
        &got,
        &model,
        &weights,
        &inputs,
        scc::Target::host().unwrap().tier,
        "twice",
    );
}

/// Builds for an x86-64 level (`--target-cpu`) and checks the binary against the JIT: bit for
/// bit when the level's tier runs the same kernels as the JIT's, else within the tolerance
/// (the x86-64-v2 baseline has no FMA, the JIT here does).
#[test]
fn portable_targets_run_and_agree_with_the_jit() {
    let dir = tempfile::tempdir().unwrap();
    let path = repo_path("examples/resnet20s.sc");
    let model = Model::from_file(&path, None).unwrap();
    let weights = model.random_weights(4).unwrap();
    let inputs = model.random_inputs(2).unwrap();
    for (cpu, tier) in [
        ("x86-64-v2", scc::Tier::V128),
        ("x86-64-v3", scc::Tier::Avx2),
        ("x86-64-v4", scc::Tier::Avx512),
    ] {
        if scc::host_tier(Some(tier)).is_err() {
            continue;
        }
        let binary = build_alone(
            &path,
            &["--random-weights", "4", "--target-cpu", cpu],
            dir.path(),
            cpu,
        );
        let inputs_path = binary.parent().unwrap().join("inputs.safetensors");
        scc::runtime::write_safetensors(&inputs_path, &inputs).unwrap();
        let got = run_saved(&binary, &inputs_path, cpu);
        let options = Options {
            tier: Some(tier),
            ..Options::default()
        };
        let jit = scc::compile(&model, &weights, &options)
            .unwrap()
            .run(&inputs)
            .unwrap();
        for (output, tensor) in jit {
            if cpu == "x86-64-v2" {
                assert_close(&format!("{cpu}/{output}"), &got[&output], &tensor);
            } else {
                assert_eq!(
                    got[&output], tensor,
                    "{cpu}/{output}: binary and JIT differ"
                );
            }
        }
    }
    // A tier above the target CPU's is refused before anything is built.
    let out = common::scc(&[
        "build",
        "examples/resnet20s.sc",
        "--random-weights",
        "1",
        "--target-cpu",
        "x86-64-v2",
        "--tier",
        "avx2",
        "-o",
        dir.path().join("never").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: tier avx2 needs avx, avx2, fma, which x86-64-v2 does not have; the tiers of x86-64-v2 are: 128\n"
    );
}

/// A binary whose recorded CPU features this CPU lacks prints one line and exits 1 before
/// running anything. (The features word of the descriptor is patched in the built file: to a
/// feature this CPU lacks when there is one, else to a bit this runtime does not know.)
#[test]
fn a_binary_refuses_to_start_on_a_cpu_without_its_features() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build_alone(
        &repo_path("examples/resnet20s.sc"),
        &["--random-weights", "1"],
        dir.path(),
        "picky",
    );
    let target = scc::Target::host().unwrap();
    let features: Vec<String> = target.features();
    let mask = scc_kernels::cpu::feature_mask(features.iter().map(String::as_str)).unwrap();
    let mut bytes = std::fs::read(&binary).unwrap();
    // The descriptor header: version 2, one input, one output, ..., then the feature mask.
    let at = (0..bytes.len() - 80)
        .find(|&i| {
            let word =
                |k: usize| u64::from_le_bytes(bytes[i + 8 * k..i + 8 * k + 8].try_into().unwrap());
            word(0) == 2 && word(1) == 1 && word(2) == 1 && word(9) == mask
        })
        .expect("the descriptor is in the binary");
    let lacking = scc_kernels::cpu::KNOWN_FEATURES
        .iter()
        .find(|f| scc_kernels::cpu::has_feature(f) == Some(false));
    let (patched, named) = match lacking {
        Some(f) => (scc_kernels::cpu::feature_mask([*f]).unwrap(), f.to_string()),
        None => (
            1u64 << 63,
            "unknown feature #63 (recorded by a newer scc)".to_string(),
        ),
    };
    bytes[at + 72..at + 80].copy_from_slice(&(mask | patched).to_le_bytes());
    std::fs::write(&binary, &bytes).unwrap();
    let out = run_in(&binary, &["--bench", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: this program needs CPU features this CPU does not have: {named} (rebuild it with `scc build --target-cpu x86-64-v2`, or `native` on this machine)\n"
        )
    );
}

/// `transpose` (rank 4 between convolutions, rank 2 before a linear layer: the legacy
/// exporter's `Gemm` with `transA=1`) in a built binary: ONNX Runtime's outputs, and the
/// JIT's bit for bit, on every tier this CPU has.
#[test]
fn built_binaries_transpose_as_onnx_runtime_does() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = repo_path("tests/data/onnx/permute_legacy.onnx");
    let inputs_path = repo_path("tests/data/onnx/permute_legacy.onnx.inputs.safetensors");
    let expected = scc::runtime::read_safetensors(&repo_path(
        "tests/data/onnx/permute_legacy.onnx.ort.safetensors",
    ))
    .unwrap();
    let model = Model::from_onnx(&onnx, &scc::OnnxOptions::default()).unwrap();
    let (weights, _) = model
        .bind_embedded_weights(&BindOptions::default())
        .unwrap()
        .unwrap();
    let inputs = scc::runtime::read_safetensors(&inputs_path).unwrap();
    for tier in host_tiers() {
        let name = format!("permute-{tier}");
        let binary = build_alone(&onnx, &["--tier", tier.name()], dir.path(), &name);
        let got = run_saved(&binary, &inputs_path, &name);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (key, want) in &expected {
            assert_close(&format!("{name} {key}"), &got[key], want);
        }
        assert_equals_jit(&got, &model, &weights, &inputs, tier, &name);
    }
}
