//! Compiled (JIT) against interpreted execution of the same optimised graph.
//!
//! `cargo bench --bench models`; the fixture case needs `../shared/fixtures`.

use criterion::{Criterion, criterion_group, criterion_main};
use scc::{Engine, Model, Options};
use std::path::Path;
use std::time::Duration;

fn bench_model(c: &mut Criterion, name: &str, path: &Path) {
    let Ok(model) = Model::from_file(path, None) else {
        eprintln!("skipping {name}: {} is absent", path.display());
        return;
    };
    let weights = model.random_weights(1).unwrap();
    let inputs = model.random_inputs(1).unwrap();
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    let jit = scc::compile(&model, &weights, &Options::default()).unwrap();
    group.bench_function("compiled", |b| b.iter(|| jit.run(&inputs).unwrap()));
    let interp = scc::compile(
        &model,
        &weights,
        &Options {
            engine: Engine::Interpreter,
            ..Options::default()
        },
    )
    .unwrap();
    group.bench_function("interpreted", |b| b.iter(|| interp.run(&inputs).unwrap()));
    group.finish();
}

fn models(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench_model(
        c,
        "tiny_resnet",
        &root.join("../shared/fixtures/tiny_resnet/model.sc"),
    );
    bench_model(c, "resnet18s", &root.join("examples/resnet18s.sc"));
    bench_model(c, "mobilenetv2s", &root.join("examples/mobilenetv2s.sc"));
}

criterion_group!(benches, models);
criterion_main!(benches);
