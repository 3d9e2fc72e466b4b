//! The command line of a standalone executable: read inputs (safetensors, an image, or seeded
//! random values), run, print or save the outputs, optionally benchmark.
//!
//! Every user error is one `error: ...` line on the error stream and exit status 1.

use crate::desc::{Model, format_shape};
use crate::exec::effective_threads;
use crate::preprocess::{self, IMAGENET_MEAN, IMAGENET_STD};
use scc_runtime::Tensor;
use scc_runtime::memory::{MemoryLimit, try_collect, try_vec};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Exit status of a user error.
pub const EXIT_ERROR: i32 = 1;
/// Warm-up runs before `--bench` timing.
pub const BENCH_WARMUP: usize = 3;

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    pub help: bool,
    pub image: Option<PathBuf>,
    pub inputs: Option<PathBuf>,
    pub input_seed: Option<u64>,
    pub save: Option<PathBuf>,
    /// 0: the model's default (all cores unless the build said otherwise).
    pub threads: usize,
    pub bench: Option<usize>,
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
    /// `--max-memory`: bytes (`u64::MAX` for `unlimited`); `None`: the memory available.
    pub max_memory: Option<u64>,
}

fn parse_number<T: std::str::FromStr>(flag: &str, value: &str, what: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} expects {what}, found `{value}`"))
}

fn parse_triple(flag: &str, value: &str, positive: bool) -> Result<[f32; 3], String> {
    let bad = || format!("{flag} expects three comma-separated numbers, found `{value}`");
    let parts: Vec<f32> = value
        .split(',')
        .map(|p| p.trim().parse::<f32>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let triple: [f32; 3] = parts.try_into().map_err(|_| bad())?;
    if triple
        .iter()
        .any(|v| !v.is_finite() || (positive && *v <= 0.0))
    {
        return Err(if positive {
            format!("{flag} values must be finite and positive, found `{value}`")
        } else {
            format!("{flag} values must be finite, found `{value}`")
        });
    }
    Ok(triple)
}

/// Parses the arguments after the program name.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut positional: Vec<String> = Vec::new();
    let mut iter = args.iter();
    let mut only_positional = false;
    while let Some(arg) = iter.next() {
        if only_positional || !arg.starts_with('-') || arg == "-" {
            positional.push(arg.clone());
            continue;
        }
        if arg == "--" {
            only_positional = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        if matches!(flag, "-h" | "--help") {
            if inline.is_some() {
                return Err(format!("{flag} takes no value"));
            }
            options.help = true;
            continue;
        }
        let known = [
            "--inputs",
            "--input-seed",
            "--save",
            "--threads",
            "--bench",
            "--mean",
            "--std",
            "--max-memory",
        ];
        if !known.contains(&flag) {
            return Err(format!("unknown option `{flag}` (see --help)"));
        }
        let value = match inline {
            Some(value) => value,
            None => iter
                .next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value (see --help)"))?,
        };
        let duplicate = match flag {
            "--inputs" => options.inputs.replace(PathBuf::from(&value)).is_some(),
            "--save" => options.save.replace(PathBuf::from(&value)).is_some(),
            "--input-seed" => options
                .input_seed
                .replace(parse_number(flag, &value, "an unsigned integer")?)
                .is_some(),
            "--threads" => {
                options.threads = scc_runtime::limits::parse_threads(&value)
                    .map_err(|e| format!("{flag}: {e}"))?;
                false
            }
            "--max-memory" => {
                let bytes = scc_runtime::memory::parse_size(&value)
                    .map_err(|e| format!("{flag}: {e}"))?
                    .unwrap_or(u64::MAX);
                options.max_memory.replace(bytes).is_some()
            }
            "--bench" => {
                let runs: usize = parse_number(flag, &value, "a number of runs")?;
                if runs == 0 {
                    return Err("--bench expects at least 1 run".into());
                }
                options.bench.replace(runs).is_some()
            }
            "--mean" => options
                .mean
                .replace(parse_triple(flag, &value, false)?)
                .is_some(),
            _ => options
                .std
                .replace(parse_triple(flag, &value, true)?)
                .is_some(),
        };
        if duplicate {
            return Err(format!("{flag} is given twice"));
        }
    }
    match positional.len() {
        0 => {}
        1 => options.image = Some(PathBuf::from(&positional[0])),
        _ => {
            return Err(format!(
                "one IMAGE at most, found {} arguments: {} (see --help)",
                positional.len(),
                positional.join(" ")
            ));
        }
    }
    if options.help {
        return Ok(options);
    }
    if options.image.is_some() && options.inputs.is_some() {
        return Err("give either IMAGE or --inputs, not both".into());
    }
    if options.input_seed.is_some() && (options.image.is_some() || options.inputs.is_some()) {
        return Err(
            "--input-seed makes random inputs; it cannot be combined with IMAGE or --inputs".into(),
        );
    }
    if options.image.is_none() {
        for (flag, given) in [
            ("--mean", options.mean.is_some()),
            ("--std", options.std.is_some()),
        ] {
            if given {
                return Err(format!("{flag} applies to an IMAGE input only"));
            }
        }
    }
    Ok(options)
}

/// The help text.
pub fn help(model: &Model, program: &str) -> String {
    let column = scc_runtime::limits::column_width(
        model
            .inputs
            .iter()
            .map(|t| t.name.len())
            .chain(model.outputs.iter().map(|t| t.name.len())),
        0,
    );
    let list = |items: Vec<(&str, &[usize])>| -> String {
        if items.is_empty() {
            return "  (none)\n".into();
        }
        items
            .iter()
            .map(|(name, shape)| format!("  {name:column$}  {}\n", format_shape(shape)))
            .collect()
    };
    let inputs = list(
        model
            .inputs
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice()))
            .collect(),
    );
    let outputs = list(
        model
            .outputs
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice()))
            .collect(),
    );
    let [m0, m1, m2] = IMAGENET_MEAN;
    let [s0, s1, s2] = IMAGENET_STD;
    format!(
        "\
{program}: the `{name}` model, compiled ahead of time by scc.

Usage:
  {program} IMAGE [--mean M1,M2,M3] [--std S1,S2,S3] [OPTIONS]
  {program} --inputs INPUTS.safetensors [OPTIONS]
  {program} [--input-seed SEED] [OPTIONS]

Inputs:
{inputs}Outputs:
{outputs}
Without --save, each output's shape, min, max and mean (of its finite values, with the
count of NaN and infinite ones) are printed, and for an [N, K] output the top-5 classes of
each row (with IMAGE: raw score and softmax probability).

Arguments and options:
  IMAGE                 a PNG or JPEG file, for a model with one [1, 3, H, W] input. It is
                        decoded to RGB; its short side is resized to round(max(H, W) / 0.875)
                        (256 for 224; aspect ratio kept, bilinear/triangle filter), the
                        centre H x W is cropped, scaled to [0, 1] and normalised per channel
                        as (x - mean) / std, in NCHW order
  --mean M1,M2,M3       channel means for IMAGE (default {m0},{m1},{m2})
  --std S1,S2,S3        channel standard deviations for IMAGE (default {s0},{s1},{s2})
  --inputs FILE         read every input from a safetensors file by input name
                        (F32, F16 or BF16; a tensor that is not an input is an error,
                        as in `scc run --inputs`)
  --input-seed SEED     without IMAGE or --inputs the inputs are random, uniform in [-1, 1],
                        from this seed (default 0; the same values as `scc run --input-seed`)
  --save FILE           write the outputs to a safetensors file by output name (F32)
  --threads N           worker threads (default 0: {default_threads}; at most {max_threads})
  --max-memory SIZE     the most memory a run may need (arena, inputs, outputs), checked
                        before anything is allocated: e.g. 512M, 1.5GB, 8GiB, unlimited
                        (default: the memory available on this machine)
  --bench N             after {BENCH_WARMUP} warm-up runs, time N runs and print the median,
                        min and max latency
  -h, --help            print this help

Exit status: 0 on success, 1 on a usage or input error, 2 on an internal error.
",
        name = model.name,
        max_threads = scc_runtime::limits::MAX_THREADS,
        default_threads = match model.threads_hint {
            0 => "all cores".to_string(),
            n => format!("{n}, as built"),
        },
    )
}

/// Runs the command line `args` (program name first) against `model`, writing to `out` and
/// `err`; returns the exit status.
pub fn run_cli(model: &Model, args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let program = args
        .first()
        .map(|p| {
            std::path::Path::new(p)
                .file_name()
                .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| model.name.clone());
    let rest = args.get(1..).unwrap_or_default();
    let result = parse_args(rest).and_then(|options| {
        if options.help {
            let _ = out.write_all(help(model, &program).as_bytes());
            Ok(())
        } else {
            execute(model, &options, out, err)
        }
    });
    match result {
        Ok(()) => {
            let _ = out.flush();
            0
        }
        Err(message) => {
            let _ = out.flush();
            let _ = writeln!(err, "error: {message}");
            EXIT_ERROR
        }
    }
}

/// Reads the inputs the options ask for, in the model's input order.
fn gather_inputs(model: &Model, options: &Options) -> Result<Vec<Vec<f32>>, String> {
    if let Some(path) = &options.image {
        let [spec] = model.inputs.as_slice() else {
            return Err(format!(
                "IMAGE needs a model with exactly one [1, 3, H, W] input; this model has {}",
                describe_inputs(model)
            ));
        };
        let [1, 3, height, width] = *spec.shape.as_slice() else {
            return Err(format!(
                "IMAGE needs a model with exactly one [1, 3, H, W] input; this model has {}",
                describe_inputs(model)
            ));
        };
        let image = preprocess::load_rgb(path)?;
        let data = preprocess::preprocess(
            &image,
            height,
            width,
            options.mean.unwrap_or(IMAGENET_MEAN),
            options.std.unwrap_or(IMAGENET_STD),
        )
        .map_err(|e| format!("image `{}`: {e}", path.display()))?;
        return Ok(vec![data]);
    }
    if let Some(path) = &options.inputs {
        let tensors = scc_runtime::read_safetensors(path).map_err(|e| e.to_string())?;
        let mut inputs = Vec::with_capacity(model.inputs.len());
        for spec in &model.inputs {
            let Some(tensor) = tensors.get(&spec.name) else {
                let found: Vec<String> = tensors
                    .iter()
                    .map(|(n, t)| format!("`{n}` {}", format_shape(t.shape())))
                    .collect();
                return Err(format!(
                    "`{}` has no tensor `{}` (the model's input `{}` {}); the file holds {}",
                    path.display(),
                    spec.name,
                    spec.name,
                    format_shape(&spec.shape),
                    if found.is_empty() {
                        "no tensors".to_string()
                    } else {
                        found.join(", ")
                    }
                ));
            };
            if tensor.shape() != spec.shape.as_slice() {
                return Err(format!(
                    "tensor `{}` in `{}` has shape {}, but the model's input `{}` expects {}",
                    spec.name,
                    path.display(),
                    format_shape(tensor.shape()),
                    spec.name,
                    format_shape(&spec.shape)
                ));
            }
            let data = try_collect(tensor.len(), tensor.data().iter().copied(), || {
                format!("the input `{}`", spec.name)
            })
            .map_err(|e| e.to_string())?;
            inputs.push(data);
        }
        // One rule with `scc run --inputs`: every tensor of the file must be an input.
        if let Some((extra, tensor)) = tensors
            .iter()
            .find(|(name, _)| !model.inputs.iter().any(|spec| &spec.name == *name))
        {
            return Err(format!(
                "`{}` holds tensor `{extra}` {}, which is not an input of the model; its inputs are {}",
                path.display(),
                format_shape(tensor.shape()),
                describe_inputs(model)
            ));
        }
        return Ok(inputs);
    }
    let seed = options.input_seed.unwrap_or(0);
    let mut inputs = Vec::with_capacity(model.inputs.len());
    for (i, spec) in model.inputs.iter().enumerate() {
        let mut rng = scc_runtime::random::WeightRng::new(seed.wrapping_add(i as u64));
        let tensor = rng
            .try_uniform(spec.shape.clone(), 1.0)
            .map_err(|e| e.to_string())?;
        inputs.push(tensor.into_data());
    }
    Ok(inputs)
}

fn describe_inputs(model: &Model) -> String {
    if model.inputs.is_empty() {
        return "no inputs".into();
    }
    let list: Vec<String> = model
        .inputs
        .iter()
        .map(|t| format!("`{}` {}", t.name, format_shape(&t.shape)))
        .collect();
    format!("input(s) {}", list.join(", "))
}

fn run_once(
    model: &Model,
    inputs: &[&[f32]],
    outputs: &mut [Vec<f32>],
    threads: usize,
) -> Result<(), String> {
    let mut buffers: Vec<&mut [f32]> = outputs.iter_mut().map(|o| o.as_mut_slice()).collect();
    model
        .run(inputs, &mut buffers, threads)
        .map_err(|e| e.to_string())
}

fn execute(
    model: &Model,
    options: &Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), String> {
    if options.image.is_none() && options.inputs.is_none() && !model.inputs.is_empty() {
        let _ = writeln!(
            err,
            "note: no IMAGE or --inputs given: random inputs, seed {} (see --help)",
            options.input_seed.unwrap_or(0)
        );
    }
    // Everything a run needs, checked before any of it is allocated.
    let limit = match options.max_memory {
        Some(bytes) => MemoryLimit::given(bytes),
        None => MemoryLimit::available(),
    };
    model
        .requirement()
        .check(&limit)
        .map_err(|e| e.to_string())?;
    let inputs = gather_inputs(model, options)?;
    let input_slices: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    let mut outputs: Vec<Vec<f32>> = Vec::with_capacity(model.outputs.len());
    for spec in &model.outputs {
        let buffer = try_vec(spec.numel(), 0.0f32, || {
            format!("the output `{}`", spec.name)
        })
        .map_err(|e| e.to_string())?;
        outputs.push(buffer);
    }
    let threads = options.threads;
    run_once(model, &input_slices, &mut outputs, threads)?;
    if let Some(runs) = options.bench {
        for _ in 1..BENCH_WARMUP {
            run_once(model, &input_slices, &mut outputs, threads)?;
        }
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            run_once(model, &input_slices, &mut outputs, threads)?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let median = if runs % 2 == 1 {
            times[runs / 2]
        } else {
            (times[runs / 2 - 1] + times[runs / 2]) / 2.0
        };
        let threads = effective_threads(model, threads);
        let _ = writeln!(
            out,
            "latency: {} median ({} to {}, {runs} runs after {BENCH_WARMUP} warm-ups, {threads} thread{})",
            format_ms(median),
            format_ms(times[0]),
            format_ms(times[runs - 1]),
            if threads == 1 { "" } else { "s" }
        );
    }
    if let Some(path) = &options.save {
        let mut map = BTreeMap::new();
        for (spec, data) in model.outputs.iter().zip(outputs) {
            let tensor = Tensor::new(spec.shape.clone(), data).map_err(|e| e.to_string())?;
            map.insert(spec.name.clone(), tensor);
        }
        scc_runtime::write_safetensors(path, &map).map_err(|e| e.to_string())?;
        let _ = writeln!(
            out,
            "saved {} output(s) to {}",
            model.outputs.len(),
            path.display()
        );
        return Ok(());
    }
    for (spec, data) in model.outputs.iter().zip(&outputs) {
        print_summary(out, &spec.name, &spec.shape, data, options.image.is_some());
    }
    Ok(())
}

/// A latency: milliseconds with three decimals, microseconds (`us`) below 1 ms.
fn format_ms(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{:.1} us", ms * 1e3)
    }
}

/// `(class, score)` of the `k` highest scores, best first (ties: lower class first).
pub fn top_k(row: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked
}

/// Softmax of a row, in f64.
pub fn softmax(row: &[f32]) -> Vec<f64> {
    let max = row
        .iter()
        .map(|&v| f64::from(v))
        .fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = row.iter().map(|&v| (f64::from(v) - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

fn print_summary(out: &mut dyn Write, name: &str, shape: &[usize], data: &[f32], probs: bool) {
    let _ = writeln!(
        out,
        "{name}: {} {}",
        format_shape(shape),
        scc_runtime::tensor::summary(data)
    );
    let [batch, classes] = *shape else { return };
    if classes == 0 {
        return;
    }
    for b in 0..batch {
        let row = &data[b * classes..(b + 1) * classes];
        let top = top_k(row, 5);
        if probs {
            let softmax = softmax(row);
            let _ = writeln!(out, "  [{b}] top-5 classes:");
            for (rank, (class, score)) in top.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    {}. class {class:<6} score {score:>12.6}  softmax {:.6}",
                    rank + 1,
                    softmax[*class]
                );
            }
        } else {
            let list: Vec<String> = top.iter().map(|(k, v)| format!("{k} ({v:.4})")).collect();
            let _ = writeln!(out, "  [{b}] top-5 classes: {}", list.join(", "));
        }
    }
}
