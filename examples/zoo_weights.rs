//! Writes scc's deterministic random weights and inputs of a model, for loading into the
//! PyTorch reference (`examples/zoo/reference.py fixtures` runs it; `tests/zoo.rs`
//! regenerates the same tensors and compares scc with the outputs PyTorch computed).
//!
//! `cargo run --release --example zoo_weights -- MODEL.sc H W WEIGHT_SEED INPUT_SEED OUT_DIR`
//! lowers the model with its `[N, C, H, W]` input at `H x W` and writes
//! `OUT_DIR/weights.safetensors` (`Weights::random(WEIGHT_SEED)`: He-uniform kernels,
//! batchnorm statistics calibrated on that input size) and `OUT_DIR/inputs.safetensors`
//! (`Model::random_inputs(INPUT_SEED)`).

use scc::{LowerOptions, Model};
use std::collections::BTreeMap;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, height, width, weight_seed, input_seed, out] = args.as_slice() else {
        return Err("usage: zoo_weights MODEL.sc H W WEIGHT_SEED INPUT_SEED OUT_DIR".into());
    };
    let declared = Model::from_file(path, None).map_err(|e| e.render())?;
    let (input, shape) = declared.inputs().remove(0);
    let options = LowerOptions {
        input_shapes: BTreeMap::from([(
            input,
            vec![shape[0], shape[1], height.parse()?, width.parse()?],
        )]),
    };
    let model = Model::from_file_with(path, None, &options).map_err(|e| e.render())?;
    let out = Path::new(out);
    std::fs::create_dir_all(out)?;
    let weights = model.random_weights(weight_seed.parse()?).into_map();
    scc::runtime::write_safetensors(&out.join("weights.safetensors"), &weights)?;
    let inputs = model.random_inputs(input_seed.parse()?);
    scc::runtime::write_safetensors(&out.join("inputs.safetensors"), &inputs)?;
    println!(
        "{}: {} weight tensors, inputs {:?} -> {}",
        model.name(),
        weights.len(),
        model.inputs(),
        out.display()
    );
    Ok(())
}
