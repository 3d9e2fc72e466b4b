//! JIT-compile a model and run it from Rust.
//!
//! `cargo run --release --example jit_run [MODEL.sc]` (default: examples/resnet20s.sc).

use scc::{Model, Options, Weights};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/resnet20s.sc".to_string());
    let model = Model::from_file(&path, None).map_err(|e| e.render())?;
    // Real weights would come from `Weights::load(model.graph(), path, &BindOptions::default())`.
    let weights = Weights::random(model.graph(), 42)?;
    let compiled = scc::compile(&model, &weights, &Options::default()).map_err(|e| e.render())?;
    println!(
        "compiled `{}` in {:.1} ms for {} threads",
        model.name(),
        compiled.compile_time().as_secs_f64() * 1e3,
        compiled.threads()
    );
    let inputs = model.random_inputs(7).map_err(|e| e.render())?;
    let started = std::time::Instant::now();
    let outputs = compiled.run(&inputs)?;
    println!("ran in {:.2} ms", started.elapsed().as_secs_f64() * 1e3);
    for (name, tensor) in outputs {
        let best = tensor
            .data()
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, v)| format!("{i} ({v:.4})"))
            .unwrap_or_default();
        println!(
            "{name}: shape {:?}, largest value at {best}",
            tensor.shape()
        );
    }
    Ok(())
}
