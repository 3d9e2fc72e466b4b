//! Writes scc's deterministic random weights and input of a model, for loading into the
//! PyTorch reference: `examples/zoo/reference.py fixtures` runs it, and `tests/zoo.rs`
//! regenerates the same tensors (`examples/zoo/generate.rs`) and compares scc with the
//! outputs PyTorch computed from them.
//!
//! `cargo run --release --example zoo_weights -- MODEL.sc H W SEED OUT_DIR [BATCH]` writes
//! `OUT_DIR/weights.safetensors` (`Weights::random(SEED)`, batchnorm statistics calibrated
//! on a batch of `BATCH` (default `CALIBRATION_BATCH`, the committed outputs') random
//! `H x W` images), `OUT_DIR/inputs.safetensors`
//! (`Model::random_inputs(SEED)`, one `H x W` image) and `OUT_DIR/digest.json` (what
//! identifies those weights; stored with the outputs so the test can check it regenerated
//! the same ones).

#[path = "zoo/generate.rs"]
mod generate;

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, height, width, seed, out, batch) = match args.as_slice() {
        [path, height, width, seed, out] => (path, height, width, seed, out, None),
        [path, height, width, seed, out, batch] => (path, height, width, seed, out, Some(batch)),
        _ => return Err("usage: zoo_weights MODEL.sc H W SEED OUT_DIR [BATCH]".into()),
    };
    let (height, width, seed) = (height.parse()?, width.parse()?, seed.parse()?);
    let (model, weights, inputs) = match batch {
        Some(batch) => generate::zoo_case_calibrated_on(path, height, width, seed, batch.parse()?)?,
        None => generate::zoo_case(path, height, width, seed)?,
    };
    let digest = generate::digest(&weights);
    let out = Path::new(out);
    std::fs::create_dir_all(out)?;
    let tensors = weights.into_map();
    scc::runtime::write_safetensors(&out.join("weights.safetensors"), &tensors)?;
    scc::runtime::write_safetensors(&out.join("inputs.safetensors"), &inputs)?;
    std::fs::write(
        out.join("digest.json"),
        format!(
            "{{\"seeded_fnv1a\": \"{:016x}\", \"running_mean_sum\": \"{:e}\", \"running_var_sum\": \"{:e}\"}}\n",
            digest.seeded_fnv1a, digest.running_mean_sum, digest.running_var_sum
        ),
    )?;
    println!(
        "{}: {} weight tensors, inputs {:?} -> {}",
        model.name(),
        tensors.len(),
        model.inputs(),
        out.display()
    );
    Ok(())
}
