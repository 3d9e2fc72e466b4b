//! The conv kernels of resnet18 / resnet18s in GFLOP/s, next to the machine's f32x4 FMA
//! peak measured in the same run by a JIT-compiled FMA loop.
//!
//! `cargo bench --bench kernels` prints, per layer shape, the single-thread GFLOP/s and
//! its fraction of the peak (criterion reports the times; the throughput is set so that
//! criterion's "elements/s" reads as MACs/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scc::{Model, Options, PassOptions};
use std::time::{Duration, Instant};

/// `(name, source)`: the distinct conv shapes of ResNet-18 and its structured version
/// (after decomposition a structured 3×3 layer is a sum-pool + a 2×2 conv over c = C/2).
const LAYERS: &[(&str, &str)] = &[
    (
        "resnet18 3x3 64",
        "model l(x: [1, 64, 56, 56]) { let c = conv2d(x, 64, kernel=3, pad=1); return c; }",
    ),
    (
        "resnet18 3x3 128",
        "model l(x: [1, 128, 28, 28]) { let c = conv2d(x, 128, kernel=3, pad=1); return c; }",
    ),
    (
        "resnet18 3x3 256",
        "model l(x: [1, 256, 14, 14]) { let c = conv2d(x, 256, kernel=3, pad=1); return c; }",
    ),
    (
        "resnet18 3x3 512",
        "model l(x: [1, 512, 7, 7]) { let c = conv2d(x, 512, kernel=3, pad=1); return c; }",
    ),
    (
        "resnet18 stem 7x7",
        "model l(x: [1, 3, 224, 224]) { let c = conv2d(x, 64, kernel=7, stride=2, pad=3); return c; }",
    ),
    (
        "resnet18s small 2x2 64",
        "model l(x: [1, 32, 57, 57]) { let c = conv2d(x, 64, kernel=2); return c; }",
    ),
    (
        "resnet18s small 2x2 128",
        "model l(x: [1, 64, 29, 29]) { let c = conv2d(x, 128, kernel=2); return c; }",
    ),
    (
        "resnet18s small 2x2 256",
        "model l(x: [1, 128, 15, 15]) { let c = conv2d(x, 256, kernel=2); return c; }",
    ),
    (
        "resnet18s small 2x2 512",
        "model l(x: [1, 256, 8, 8]) { let c = conv2d(x, 512, kernel=2); return c; }",
    ),
];

fn kernels(c: &mut Criterion) {
    let peak = scc::compiler::codegen::peak::fma_peak_gflops(scc::Tier::V128).unwrap();
    println!("f32x4 FMA peak (one core, measured now): {peak:.2} GFLOP/s");
    let mut group = c.benchmark_group("conv kernels (1 thread)");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for (name, source) in LAYERS {
        let model = Model::from_source("layer.sc", source, None).unwrap();
        let weights = model.random_weights(1);
        let inputs = model.random_inputs(1);
        let options = Options {
            threads: 1,
            passes: PassOptions::default(),
            ..Options::default()
        };
        let jit = scc::compile(&model, &weights, &options).unwrap();
        let macs =
            scc::compiler::stats::totals(&scc::compiler::stats::costs(jit.graph())).structured_macs;
        group.throughput(Throughput::Elements(macs as u64));
        group.bench_function(*name, |b| b.iter(|| jit.run(&inputs).unwrap()));
        // A direct measurement for the printed summary.
        let runs = 20;
        let started = Instant::now();
        for _ in 0..runs {
            jit.run(&inputs).unwrap();
        }
        let seconds = started.elapsed().as_secs_f64() / runs as f64;
        let gflops = 2.0 * macs as f64 / seconds / 1e9;
        println!(
            "{name}: {gflops:.2} GFLOP/s = {:.0}% of the f32x4 FMA peak",
            100.0 * gflops / peak
        );
    }
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
