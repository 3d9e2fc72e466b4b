//! The conv kernels of resnet18 / resnet18s in GFLOP/s on every tier this CPU has, next to
//! that tier's FMA peak measured in the same run (`peak::fma_peak_gflops`).
//!
//! `cargo bench --bench kernels` prints, per tier and layer shape, the single-thread GFLOP/s
//! of the measured conv step itself (the layer in front of it and the reorders excluded) and
//! its fraction of the tier's peak. Criterion reports the whole one-layer model's times; its
//! throughput is the measured conv's MACs, so its "elements/s" are those MACs over the whole
//! model's time (a lower bound of the conv's own rate).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scc::{Model, Options, PassOptions};
use std::time::Duration;

/// `(name, source)`: the distinct conv shapes of ResNet-18 and its structured version
/// (after decomposition a structured 3×3 layer is a sum-pool + a 2×2 conv over c = C/2).
/// The measured conv is node `c`. Inside the networks every conv but the stem reads a
/// channel-blocked activation written by the layer before it, so each such layer has a 1×1
/// conv `a` in front of it (not measured) and `c` reads `a`'s blocked output; the stem reads
/// the model's NCHW input, as in ResNet-18.
const LAYERS: &[(&str, &str)] = &[
    (
        "resnet18 3x3 64",
        "model l(x: [1, 64, 56, 56]) { let a = conv2d(x, 64, kernel=1); let c = conv2d(a, 64, kernel=3, pad=1); return c; }",
    ),
    (
        "resnet18 3x3 128",
        "model l(x: [1, 128, 28, 28]) { let a = conv2d(x, 128, kernel=1); let c = conv2d(a, 128, kernel=3, pad=1); return c; }",
    ),
    (
        "resnet18 3x3 256",
        "model l(x: [1, 256, 14, 14]) { let a = conv2d(x, 256, kernel=1); let c = conv2d(a, 256, kernel=3, pad=1); return c; }",
    ),
    (
        "resnet18 3x3 512",
        "model l(x: [1, 512, 7, 7]) { let a = conv2d(x, 512, kernel=1); let c = conv2d(a, 512, kernel=3, pad=1); return c; }",
    ),
    (
        "resnet18 stem 7x7",
        "model l(x: [1, 3, 224, 224]) { let c = conv2d(x, 64, kernel=7, stride=2, pad=3); return c; }",
    ),
    (
        "resnet18s small 2x2 64",
        "model l(x: [1, 32, 57, 57]) { let a = conv2d(x, 32, kernel=1); let c = conv2d(a, 64, kernel=2); return c; }",
    ),
    (
        "resnet18s small 2x2 128",
        "model l(x: [1, 64, 29, 29]) { let a = conv2d(x, 64, kernel=1); let c = conv2d(a, 128, kernel=2); return c; }",
    ),
    (
        "resnet18s small 2x2 256",
        "model l(x: [1, 128, 15, 15]) { let a = conv2d(x, 128, kernel=1); let c = conv2d(a, 256, kernel=2); return c; }",
    ),
    (
        "resnet18s small 2x2 512",
        "model l(x: [1, 256, 8, 8]) { let a = conv2d(x, 256, kernel=1); let c = conv2d(a, 512, kernel=2); return c; }",
    ),
];

/// The measured conv: the node named `c`.
fn measured_conv(graph: &scc::compiler::Graph) -> scc::compiler::NodeId {
    graph
        .node_ids()
        .into_iter()
        .find(|&id| graph.node(id).name == "c")
        .expect("the layer has a node `c`")
}

/// Mean time of node `conv` alone (not the conv in front of it nor the reorders) over `runs`
/// runs, in seconds.
fn conv_seconds(
    jit: &scc::CompiledModel,
    conv: scc::compiler::NodeId,
    inputs: &std::collections::BTreeMap<String, scc::Tensor>,
    runs: usize,
) -> f64 {
    let mut total = 0.0;
    for _ in 0..runs {
        let (_, times) = jit.run_timed(inputs).unwrap();
        total += times[&conv].as_secs_f64();
    }
    total / runs as f64
}

fn kernels(c: &mut Criterion) {
    let tiers: Vec<scc::Tier> = scc::Tier::ALL
        .into_iter()
        .filter(|t| scc::host_tier(Some(*t)).is_ok())
        .collect();
    let mut summary = Vec::new();
    for tier in tiers {
        let peak = scc::compiler::codegen::peak::fma_peak_gflops(tier).unwrap();
        println!(
            "tier {tier}: {}-bit FMA peak (one core, measured now): {peak:.2} GFLOP/s",
            tier.bits()
        );
        let mut group = c.benchmark_group(format!("conv kernels, tier {tier} (1 thread)"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(2))
            .warm_up_time(Duration::from_millis(500));
        for (name, source) in LAYERS {
            let model = Model::from_source("layer.sc", source, None).unwrap();
            let weights = model.random_weights(1).unwrap();
            let inputs = model.random_inputs(1).unwrap();
            let options = Options {
                threads: 1,
                passes: PassOptions::default(),
                tier: Some(tier),
                ..Options::default()
            };
            let jit = scc::compile(&model, &weights, &options).unwrap();
            let conv = measured_conv(jit.graph());
            let macs = scc::compiler::stats::node_cost(jit.graph(), conv).structured_macs;
            group.throughput(Throughput::Elements(macs as u64));
            group.bench_function(*name, |b| b.iter(|| jit.run(&inputs).unwrap()));
            // The conv step alone, for the printed summary.
            conv_seconds(&jit, conv, &inputs, 3);
            let seconds = conv_seconds(&jit, conv, &inputs, 20);
            let gflops = 2.0 * macs as f64 / seconds / 1e9;
            summary.push(format!(
                "tier {tier:>6}  {name:<26} {gflops:>7.2} GFLOP/s = {:>3.0}% of the tier's peak ({peak:.1})",
                100.0 * gflops / peak
            ));
        }
        group.finish();
    }
    println!("conv kernels, one thread (the conv step's own time):");
    for line in summary {
        println!("{line}");
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
