//! The C ABI and the command line, on hand-built descriptors with kernels written in Rust.

use scc_native::cli::{parse_args, run_cli};
use scc_native::preprocess::{IMAGENET_MEAN, IMAGENET_STD, normalise};
use scc_native::{KernelFn, Model, scc_native_run};
use scc_runtime::{Tensor, read_safetensors, write_safetensors};
use std::collections::BTreeMap;
use std::ffi::c_char;
use std::path::Path;

/// `args[0][i] = args[1][i] * args[2][0]` (scratch ← input × const).
unsafe extern "C" fn scale(args: *const *mut f32, start: u64, end: u64) {
    unsafe {
        let (dst, src, factor) = (*args, *args.add(1), *args.add(2));
        for i in start as usize..end as usize {
            *dst.add(i) = *src.add(i) * *factor;
        }
    }
}

/// `args[0][i] = args[1][i]`.
unsafe extern "C" fn copy(args: *const *mut f32, start: u64, end: u64) {
    unsafe {
        let (dst, src) = (*args, *args.add(1));
        for i in start as usize..end as usize {
            *dst.add(i) = *src.add(i);
        }
    }
}

/// Everything an object file would define, owned.
struct Program {
    desc: Vec<u64>,
    kernels: Vec<Option<KernelFn>>,
    consts: Vec<*const f32>,
    names: Vec<u8>,
    _const_data: Vec<Vec<f32>>,
}

// SAFETY: the pointers are into `_const_data`, owned and never mutated.
unsafe impl Sync for Program {}

fn dims(shape: &[u64]) -> Vec<u64> {
    let mut record = vec![shape.len() as u64];
    record.extend(shape);
    record.resize(5, 0);
    record
}

fn names(list: &[&str]) -> Vec<u8> {
    list.iter()
        .flat_map(|n| n.bytes().chain(std::iter::once(0)))
        .collect()
}

/// Input `x [1, 1, 2, 3]`; outputs `y = 2x` (computed into scratch, then copied into the
/// arena) and `same = x` (an output that is the input). Uses every argument kind.
fn doubler() -> Program {
    let const_data = vec![vec![2.0f32]];
    let mut desc = vec![2, 1, 2, 24, 64, 2, 2, 1, 0, 0];
    desc.extend(dims(&[1, 1, 2, 3]));
    desc.extend(dims(&[1, 1, 2, 3]));
    desc.extend([0, 0]); // y: arena offset 0
    desc.extend(dims(&[1, 1, 2, 3]));
    desc.extend([1, 0]); // same: input 0
    // scratch+8 ← x × c0 (kernel, items, work, args, ...)
    desc.extend([0, 6, 100, 3, 2, 8, 1, 0, 3, 0]);
    // arena+0 ← scratch+8
    desc.extend([1, 6, 100, 2, 0, 0, 2, 8]);
    Program {
        desc,
        kernels: vec![Some(scale), Some(copy)],
        consts: const_data.iter().map(|c| c.as_ptr()).collect(),
        names: names(&["doubler", "x", "y", "same"]),
        _const_data: const_data,
    }
}

/// One input of `shape`, copied to an output `[1, numel]` named `logits`.
fn identity(shape: &[u64]) -> Program {
    let numel: u64 = shape.iter().product();
    let mut desc = vec![2, 1, 1, numel * 4, 0, 1, 1, 0, 0, 0];
    desc.extend(dims(shape));
    desc.extend(dims(&[1, numel]));
    desc.extend([0, 0]);
    desc.extend([0, numel, 100, 2, 0, 0, 1, 0]);
    Program {
        desc,
        kernels: vec![Some(copy)],
        consts: Vec::new(),
        names: names(&["identity", "image", "logits"]),
        _const_data: Vec::new(),
    }
}

impl Program {
    fn run(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]], threads: u64) -> i32 {
        let inputs: Vec<*const f32> = inputs.iter().map(|i| i.as_ptr()).collect();
        let outputs: Vec<*mut f32> = outputs.iter_mut().map(|o| o.as_mut_ptr()).collect();
        unsafe {
            scc_native_run(
                self.desc.as_ptr(),
                self.kernels.as_ptr(),
                self.consts.as_ptr(),
                self.names.as_ptr().cast::<c_char>(),
                inputs.as_ptr(),
                outputs.as_ptr(),
                threads,
            )
        }
    }

    fn model(&self) -> Model {
        unsafe {
            Model::from_raw(
                self.desc.as_ptr(),
                self.kernels.as_ptr(),
                self.consts.as_ptr(),
                self.names.as_ptr().cast::<c_char>(),
            )
        }
        .expect("valid descriptor")
    }
}

/// Runs the command line; returns (status, stdout, stderr).
fn cli(model: &Model, args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = std::iter::once("prog")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = run_cli(model, &args, &mut out, &mut err);
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn run_doubles_through_the_c_abi() {
    let program = doubler();
    let x = [1.0f32, -2.0, 3.5, 0.0, 10.0, -0.25];
    for threads in [0, 1, 2, 3, 8] {
        let (mut y, mut same) = ([f32::NAN; 6], [f32::NAN; 6]);
        let status = program.run(&[&x], &mut [&mut y, &mut same], threads);
        assert_eq!(status, 0);
        assert_eq!(y, [2.0, -4.0, 7.0, 0.0, 20.0, -0.5]);
        assert_eq!(same, x);
    }
}

#[test]
fn concurrent_runs_agree() {
    let program = doubler();
    std::thread::scope(|s| {
        for t in 0..4 {
            let program = &program;
            s.spawn(move || {
                for i in 0..300 {
                    let x: Vec<f32> = (0..6).map(|k| (t * 1000 + i * 10 + k) as f32).collect();
                    let (mut y, mut same) = ([0f32; 6], [0f32; 6]);
                    assert_eq!(program.run(&[&x], &mut [&mut y, &mut same], 2), 0);
                    let expected: Vec<f32> = x.iter().map(|v| v * 2.0).collect();
                    assert_eq!(y.as_slice(), expected.as_slice());
                }
            });
        }
    });
}

#[test]
fn bad_arguments_are_reported_not_run() {
    let program = doubler();
    let x = [0f32; 6];
    let (mut y, mut same) = ([0f32; 6], [0f32; 6]);
    let outputs = [y.as_mut_ptr(), same.as_mut_ptr()];
    let inputs = [x.as_ptr()];
    let names = program.names.as_ptr().cast::<c_char>();
    let call = |desc: *const u64, inputs: *const *const f32, outputs: *const *mut f32| unsafe {
        scc_native_run(
            desc,
            program.kernels.as_ptr(),
            program.consts.as_ptr(),
            names,
            inputs,
            outputs,
            1,
        )
    };
    assert_ne!(call(std::ptr::null(), inputs.as_ptr(), outputs.as_ptr()), 0);
    assert_ne!(
        call(program.desc.as_ptr(), std::ptr::null(), outputs.as_ptr()),
        0
    );
    assert_ne!(
        call(program.desc.as_ptr(), inputs.as_ptr(), std::ptr::null()),
        0
    );
    let null_output = [y.as_mut_ptr(), std::ptr::null_mut()];
    assert_ne!(
        call(program.desc.as_ptr(), inputs.as_ptr(), null_output.as_ptr()),
        0
    );
    // Another version: rejected after reading one word.
    let version1 = [1u64];
    assert_ne!(
        call(version1.as_ptr(), inputs.as_ptr(), outputs.as_ptr()),
        0
    );
    // A step reading a constant that does not exist.
    let mut bad = program.desc.clone();
    let at = bad.len() - 7 - 1; // first step's const argument value
    bad[at] = 5;
    assert_ne!(call(bad.as_ptr(), inputs.as_ptr(), outputs.as_ptr()), 0);
    // An output outside the arena.
    let mut bad = program.desc.clone();
    bad[10 + 5 + 6] = 64;
    assert_ne!(call(bad.as_ptr(), inputs.as_ptr(), outputs.as_ptr()), 0);
    let mut null_kernel = doubler();
    null_kernel.kernels[1] = None;
    assert_ne!(null_kernel.run(&[&x], &mut [&mut y, &mut same], 1), 0);
}

#[test]
fn model_decodes_names_and_shapes() {
    let program = doubler();
    let model = program.model();
    assert_eq!(model.name, "doubler");
    assert_eq!(model.inputs[0].name, "x");
    assert_eq!(model.inputs[0].shape, [1, 1, 2, 3]);
    assert_eq!(
        model
            .outputs
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        ["y", "same"]
    );
    assert_eq!(model.run_bytes(), 64 + 64 + 64);
}

#[test]
fn argument_parsing() {
    let parse = |args: &[&str]| parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let options = parse(&[
        "cat.png",
        "--threads=2",
        "--mean",
        "0.5,0.5,0.5",
        "--bench",
        "4",
    ])
    .unwrap();
    assert_eq!(options.image.as_deref(), Some(Path::new("cat.png")));
    assert_eq!(options.threads, 2);
    assert_eq!(options.mean, Some([0.5; 3]));
    assert_eq!(options.bench, Some(4));
    assert!(parse(&["--help"]).unwrap().help);
    assert!(parse(&["-h", "--bogus"]).is_err());
    for (args, message) in [
        (&["--bogus"][..], "unknown option `--bogus`"),
        (&["--threads"], "--threads needs a value"),
        (
            &["--threads", "many"],
            "--threads: `many` is not a thread count",
        ),
        (
            &["--threads", "100000"],
            "--threads: 100000 threads is more than the 1024 a model may run with",
        ),
        (
            &["--max-memory", "lots"],
            "--max-memory: `lots` is not a memory size",
        ),
        (
            &["--max-memory", "0"],
            "--max-memory: memory size `0` must be at least 1 byte",
        ),
        (&["--bench", "0"], "at least 1 run"),
        (&["a.png", "b.png"], "one IMAGE at most"),
        (&["a.png", "--inputs", "i.safetensors"], "not both"),
        (&["--mean", "1,2"], "three comma-separated numbers"),
        (&["a.png", "--std", "1,0,1"], "finite and positive"),
        (&["--mean", "1,2,3"], "IMAGE input only"),
        (&["--save", "a", "--save", "b"], "given twice"),
        (
            &["--inputs", "i", "--input-seed", "3"],
            "cannot be combined",
        ),
    ] {
        let error = parse(args).unwrap_err();
        assert!(error.contains(message), "{args:?}: {error}");
    }
}

#[test]
fn cli_help_lists_the_model() {
    let program = doubler();
    let model = program.model();
    let (status, out, err) = cli(&model, &["--help"]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("`doubler` model"), "{out}");
    assert!(out.contains("x     [1, 1, 2, 3]"), "{out}");
    assert!(out.contains("same  [1, 1, 2, 3]"), "{out}");
    assert!(out.contains("round(max(H, W) / 0.875)"), "{out}");
}

#[test]
fn cli_safetensors_inputs_run_and_save() {
    let dir = tempfile::tempdir().unwrap();
    let program = doubler();
    let model = program.model();
    let x = Tensor::from_vec([1, 1, 2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let inputs = dir.path().join("in.safetensors");
    write_safetensors(&inputs, &BTreeMap::from([("x".to_string(), x.clone())])).unwrap();
    // A tensor that is not an input is an error, as for `scc run --inputs`.
    let with_extra = dir.path().join("extra.safetensors");
    let extra = BTreeMap::from([
        ("x".to_string(), x.clone()),
        ("unused".to_string(), Tensor::zeros([2])),
    ]);
    write_safetensors(&with_extra, &extra).unwrap();
    let (status, _, err) = cli(&model, &["--inputs", arg(&with_extra)]);
    assert_eq!(status, 1);
    assert_eq!(
        err,
        format!(
            "error: `{}` holds tensor `unused` [2], which is not an input of the model; its inputs are input(s) `x` [1, 1, 2, 3]\n",
            with_extra.display()
        )
    );

    let (status, out, err) = cli(&model, &["--inputs", arg(&inputs), "--threads", "2"]);
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("y: [1, 1, 2, 3] min 2.000000 max 12.000000 mean 7.000000"),
        "{out}"
    );
    assert!(out.contains("same: [1, 1, 2, 3] min 1.000000"), "{out}");

    let saved = dir.path().join("out.safetensors");
    let (status, out, err) = cli(&model, &["--inputs", arg(&inputs), "--save", arg(&saved)]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("saved 2 output(s)"), "{out}");
    let outputs = read_safetensors(&saved).unwrap();
    assert_eq!(outputs["y"].data(), [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
    assert_eq!(outputs["same"], x);

    let (status, out, _) = cli(&model, &["--inputs", arg(&inputs), "--bench", "3"]);
    assert_eq!(status, 0);
    assert!(out.contains("s median ("), "{out}");
    assert!(out.contains("3 runs after 3 warm-ups"), "{out}");
}

#[test]
fn cli_random_inputs_match_the_seeded_generator() {
    let dir = tempfile::tempdir().unwrap();
    let program = doubler();
    let model = program.model();
    let saved = dir.path().join("out.safetensors");
    let (status, _, err) = cli(&model, &["--input-seed", "7", "--save", arg(&saved)]);
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("random inputs, seed 7"), "{err}");
    let expected = scc_runtime::random::WeightRng::new(7).uniform([1, 1, 2, 3], 1.0);
    assert_eq!(read_safetensors(&saved).unwrap()["same"], expected);
}

#[test]
fn cli_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let program = doubler();
    let model = program.model();
    let wrong_name = dir.path().join("wrong_name.safetensors");
    write_safetensors(
        &wrong_name,
        &BTreeMap::from([("z".to_string(), Tensor::zeros([1, 1, 2, 3]))]),
    )
    .unwrap();
    let wrong_shape = dir.path().join("wrong_shape.safetensors");
    write_safetensors(
        &wrong_shape,
        &BTreeMap::from([("x".to_string(), Tensor::zeros([1, 6]))]),
    )
    .unwrap();
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a tensor file").unwrap();
    let missing = dir.path().join("missing.safetensors");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--inputs", arg(&wrong_name)],
            "has no tensor `x` (the model's input `x` [1, 1, 2, 3]); the file holds `z` [1, 1, 2, 3]",
        ),
        (&["--inputs", arg(&wrong_shape)], "tensor `x` in"),
        (
            &["--inputs", arg(&garbage)],
            "is not a valid safetensors file",
        ),
        (&["--inputs", arg(&missing)], "cannot read tensor file"),
        (&["--frobnicate"], "unknown option `--frobnicate`"),
        (
            &["pic.png"],
            "IMAGE needs a model with exactly one [1, 3, H, W] input; this model has input(s) `x` [1, 1, 2, 3]",
        ),
    ];
    for (args, message) in cases {
        let (status, out, err) = cli(&model, args);
        assert_eq!(status, 1, "{args:?}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let (_, _, err) = cli(&model, &["--inputs", arg(&wrong_shape)]);
    assert!(
        err.contains("has shape [1, 6], but the model's input `x` expects [1, 1, 2, 3]"),
        "{err}"
    );
}

#[test]
fn cli_image_preprocessing_is_exact_for_a_uniform_colour() {
    let dir = tempfile::tempdir().unwrap();
    let program = identity(&[1, 3, 4, 5]);
    let model = program.model();
    let colour = [200u8, 100, 37];
    let png = dir.path().join("uniform.png");
    // Portrait, larger than needed: resized (short side 6 = round(5 / 0.875)) and cropped.
    image::RgbImage::from_pixel(9, 13, image::Rgb(colour))
        .save(&png)
        .unwrap();
    let saved = dir.path().join("out.safetensors");
    let expect = |mean: [f32; 3], std: [f32; 3]| -> Vec<f32> {
        (0..3)
            .flat_map(|c| std::iter::repeat_n(normalise(colour[c], mean[c], std[c]), 20))
            .collect()
    };
    for c in 0..3 {
        assert_eq!(
            normalise(colour[c], IMAGENET_MEAN[c], IMAGENET_STD[c]),
            (colour[c] as f32 / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        );
    }

    let (status, _, err) = cli(&model, &[arg(&png), "--save", arg(&saved)]);
    assert_eq!(status, 0, "{err}");
    let logits = read_safetensors(&saved).unwrap().remove("logits").unwrap();
    assert_eq!(logits.shape(), [1, 60]);
    assert_eq!(
        logits.data(),
        expect(IMAGENET_MEAN, IMAGENET_STD).as_slice()
    );

    let (status, _, err) = cli(
        &model,
        &[
            arg(&png),
            "--mean=0.5,0.25,0",
            "--std",
            "0.5,1,2",
            "--save",
            arg(&saved),
        ],
    );
    assert_eq!(status, 0, "{err}");
    let logits = read_safetensors(&saved).unwrap().remove("logits").unwrap();
    assert_eq!(
        logits.data(),
        expect([0.5, 0.25, 0.0], [0.5, 1.0, 2.0]).as_slice()
    );

    // Printed: the summary and the top-5 with raw scores and softmax probabilities.
    let (status, out, err) = cli(&model, &[arg(&png)]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("logits: [1, 60] min"), "{out}");
    assert!(out.contains("[0] top-5 classes:"), "{out}");
    assert_eq!(out.matches("softmax 0.0").count(), 5, "{out}");
    assert!(out.contains("1. class 0 "), "{out}");
}

#[test]
fn cli_image_crop_takes_the_centre() {
    // Exactly the resize size (short side 6 for a 5 × 5 crop): no resampling, only the crop;
    // each pixel's red channel is its column, green its row.
    let dir = tempfile::tempdir().unwrap();
    let program = identity(&[1, 3, 5, 5]);
    let model = program.model();
    let png = dir.path().join("ramp.png");
    image::RgbImage::from_fn(8, 6, |x, y| image::Rgb([x as u8 * 10, y as u8 * 10, 0]))
        .save(&png)
        .unwrap();
    let saved = dir.path().join("out.safetensors");
    let (status, _, err) = cli(
        &model,
        &[
            arg(&png),
            "--mean",
            "0,0,0",
            "--std",
            "1,1,1",
            "--save",
            arg(&saved),
        ],
    );
    assert_eq!(status, 0, "{err}");
    let data = read_safetensors(&saved).unwrap().remove("logits").unwrap();
    let data = data.data();
    // left = (8 − 5) / 2 = 1, top = (6 − 5) / 2 = 0.
    for y in 0..5 {
        for x in 0..5 {
            assert_eq!(data[y * 5 + x], ((x + 1) * 10) as f32 / 255.0);
            assert_eq!(data[25 + y * 5 + x], (y * 10) as f32 / 255.0);
        }
    }
}

#[test]
fn cli_image_jpeg_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let program = identity(&[1, 3, 8, 8]);
    let model = program.model();
    let jpeg = dir.path().join("photo.jpg");
    image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 128]))
        .save(&jpeg)
        .unwrap();
    let (status, out, err) = cli(&model, &[arg(&jpeg), "--threads", "1"]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("top-5 classes:"), "{out}");

    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let text = dir.path().join("text.jpg");
    std::fs::write(&text, b"hello").unwrap();
    let missing = dir.path().join("missing.png");
    for (path, message) in [
        (&broken, "cannot decode image"),
        (&text, "cannot decode image"),
        (&missing, "cannot read image"),
    ] {
        let (status, out, err) = cli(&model, &[arg(path)]);
        assert_eq!(status, 1);
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(message), "{err}");
    }
}

/// The header word of the CPU features the code needs.
const FEATURES_WORD: usize = 9;

#[test]
fn a_program_needing_features_this_cpu_lacks_does_not_run() {
    let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let (mut y, mut same) = ([0f32; 6], [0f32; 6]);
    // Features every x86-64 CPU has run.
    let mut program = doubler();
    program.desc[FEATURES_WORD] = scc_kernels::cpu::feature_mask(["sse3", "ssse3"]).unwrap();
    assert_eq!(program.run(&[&x], &mut [&mut y, &mut same], 1), 0);
    assert_eq!(y, [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
    // A bit this runtime does not know (a newer scc) is a feature it cannot check: refused.
    program.desc[FEATURES_WORD] = 1 << 63;
    assert_eq!(
        program.run(&[&x], &mut [&mut y, &mut same], 1),
        scc_native::RUN_UNSUPPORTED_CPU
    );
    assert_eq!(
        program.model().missing_cpu_features(),
        ["unknown feature #63 (recorded by a newer scc)"]
    );
    // A real feature this CPU lacks, if there is one among those scc can record.
    if let Some(lacking) = scc_kernels::cpu::KNOWN_FEATURES
        .iter()
        .find(|f| scc_kernels::cpu::has_feature(f) == Some(false))
    {
        program.desc[FEATURES_WORD] = scc_kernels::cpu::feature_mask([*lacking]).unwrap();
        assert_eq!(
            program.run(&[&x], &mut [&mut y, &mut same], 1),
            scc_native::RUN_UNSUPPORTED_CPU
        );
        assert_eq!(
            program.model().missing_cpu_features(),
            [lacking.to_string()]
        );
    }
}
