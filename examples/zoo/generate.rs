//! How the zoo's committed PyTorch outputs were made, shared by the program that made them
//! (`examples/zoo_weights.rs`) and the test that checks scc against them (`tests/zoo.rs`,
//! through `tests/common/zoo.rs`): the same seeded weights and inputs, and a digest that
//! shows both sides generated the same tensors.

use scc::{LowerOptions, Model, Tensor, Weights};
use std::collections::BTreeMap;

/// Images the batchnorm statistics are calibrated on. One image of a small size leaves
/// the deep layers a handful of positions to estimate each channel's variance from, and
/// the network's outputs on another image are then ill-conditioned.
pub const CALIBRATION_BATCH: usize = 16;

/// The model of `path` with its `[N, C, H, W]` input at `batch x C x height x width`.
pub fn at_size(path: &str, batch: usize, height: usize, width: usize) -> Result<Model, String> {
    let declared = Model::from_file(path, None).map_err(|e| e.render())?;
    let (input, shape) = declared.inputs().remove(0);
    let options = LowerOptions {
        input_shapes: BTreeMap::from([(input, vec![batch, shape[1], height, width])]),
        ..LowerOptions::default()
    };
    Model::from_file_with(path, None, &options).map_err(|e| e.render())
}

/// The model at batch 1 and `height x width`, `Weights::random(seed)` of the model at batch
/// [`CALIBRATION_BATCH`] (the same tensors but for the calibrated batchnorm statistics),
/// and `Model::random_inputs(seed)`: the committed outputs' case.
pub fn zoo_case(
    path: &str,
    height: usize,
    width: usize,
    seed: u64,
) -> Result<(Model, Weights, BTreeMap<String, Tensor>), String> {
    zoo_case_calibrated_on(path, height, width, seed, CALIBRATION_BATCH)
}

/// [`zoo_case`] with the batchnorm statistics calibrated on `batch` images (at full size,
/// where a few images already give every channel thousands of positions).
pub fn zoo_case_calibrated_on(
    path: &str,
    height: usize,
    width: usize,
    seed: u64,
    batch: usize,
) -> Result<(Model, Weights, BTreeMap<String, Tensor>), String> {
    let weights = at_size(path, batch, height, width)?
        .random_weights(seed)
        .map_err(|e| e.render())?;
    let model = at_size(path, 1, height, width)?;
    let inputs = model.random_inputs(seed).map_err(|e| e.render())?;
    Ok((model, weights, inputs))
}

/// What identifies a set of random weights: the seeded tensors bit for bit, the calibrated
/// statistics (computed by the interpreter, so equal up to rounding across platforms) by
/// their sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// 64-bit FNV-1a of every tensor but the running statistics, in name order: the name's
    /// bytes, then each value's IEEE-754 bits (as a little-endian u32).
    pub seeded_fnv1a: u64,
    /// Sum of every `running_mean` value, in f64.
    pub running_mean_sum: f64,
    /// Sum of every `running_var` value, in f64.
    pub running_var_sum: f64,
}

pub fn digest(weights: &Weights) -> Digest {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let (mut mean, mut var) = (0.0f64, 0.0f64);
    for (name, tensor) in weights.iter() {
        let sum = || tensor.data().iter().map(|&v| f64::from(v)).sum::<f64>();
        if name.ends_with(".running_mean") {
            mean += sum();
        } else if name.ends_with(".running_var") {
            var += sum();
        } else {
            for &byte in name.as_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
            }
            for &value in tensor.data() {
                for byte in value.to_bits().to_le_bytes() {
                    hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
                }
            }
        }
    }
    Digest {
        seeded_fnv1a: hash,
        running_mean_sum: mean,
        running_var_sum: var,
    }
}
