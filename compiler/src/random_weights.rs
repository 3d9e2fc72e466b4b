//! Deterministic random weights, with batchnorm statistics calibrated on seeded inputs.
//!
//! He-uniform kernels (variance 2/fan-in, with alpha scaled by its box volume so the
//! composed kernel has the same variance), small biases, and batchnorm statistics calibrated
//! as training would leave them: each batchnorm's running mean and variance are those of its
//! input when the model runs on seeded random inputs, so activations keep a unit scale through
//! any depth. Same seed, same weights, on every machine.
//!
//! The weights and the calibration run are accounted for ([`Weights::random_within`]) before
//! anything is allocated, and allocated fallibly.

use crate::interp::{self, eval_node};
use crate::ir::{Graph, NodeId, Op};
use crate::weights::{WeightError, WeightRole, Weights, weight_specs};
use scc_runtime::memory::{MemoryLimit, Requirement};
use scc_runtime::random::WeightRng;
use scc_runtime::{MemoryError, Tensor};
use std::collections::{BTreeMap, HashMap};

impl Weights {
    /// Deterministic random weights for `graph` (see the [module docs](self)), within the
    /// memory available on this machine.
    pub fn random(graph: &Graph, seed: u64) -> Result<Weights, WeightError> {
        Weights::random_within(graph, seed, &MemoryLimit::available())
    }

    /// [`Weights::random`], checking first that the weights and the calibration run fit in
    /// `limit`.
    pub fn random_within(
        graph: &Graph,
        seed: u64,
        limit: &MemoryLimit,
    ) -> Result<Weights, WeightError> {
        requirement(graph).check(limit)?;
        let mut weights = random_uncalibrated(graph, seed)?;
        calibrate_batchnorm(graph, &mut weights, seed)?;
        Ok(weights)
    }
}

/// The bytes [`Weights::random`] allocates: the weights, and for a graph with batchnorms the
/// calibration run (its inputs and what the interpreter needs).
pub fn requirement(graph: &Graph) -> Requirement {
    let mut r = Requirement::new(format!("random weights for the model `{}`", graph.name));
    for spec in weight_specs(graph) {
        r.add_tensor("weights", &spec.name, &spec.shape, "weight");
    }
    if has_batchnorm(graph) {
        for (name, id) in graph.inputs() {
            r.add_tensor(
                "calibration inputs",
                name,
                &graph.node(*id).shape,
                "calibration input",
            );
        }
        let run = interp::run_requirement(graph);
        for (part, bytes) in &run.parts {
            r.add(&format!("calibration {part}"), *bytes);
        }
        r.tensors.extend(run.tensors);
    }
    r
}

fn has_batchnorm(graph: &Graph) -> bool {
    graph
        .node_ids()
        .iter()
        .any(|&id| matches!(graph.node(id).op, Op::BatchNorm { .. }))
}

/// Sets every batchnorm's running statistics to the per-channel mean and variance of its
/// input, for the graph run on inputs uniform in [-1, 1] drawn from `seed`.
fn calibrate_batchnorm(graph: &Graph, weights: &mut Weights, seed: u64) -> Result<(), MemoryError> {
    if !has_batchnorm(graph) {
        return Ok(());
    }
    let mut inputs: BTreeMap<String, Tensor> = BTreeMap::new();
    for (name, id) in graph.inputs() {
        let mut rng = WeightRng::new(seed ^ fnv1a(name));
        inputs.insert(
            name.clone(),
            rng.try_uniform(graph.node(*id).shape.as_slice(), 1.0)?,
        );
    }
    let order = graph.topological_order();
    let mut remaining: HashMap<NodeId, usize> = HashMap::new();
    for &id in &order {
        for operand in graph.operands(id) {
            *remaining.entry(operand).or_default() += 1;
        }
    }
    let mut values: HashMap<NodeId, Tensor> = HashMap::new();
    for id in order {
        let operands = graph.operands(id);
        let node = graph.node(id);
        if let Op::BatchNorm { .. } = node.op {
            let (mean, var) = channel_statistics(&values[&operands[0]]);
            weights
                .tensors
                .insert(graph.param(node.params[2]).name.clone(), mean);
            weights
                .tensors
                .insert(graph.param(node.params[3]).name.clone(), var);
        }
        let params: Vec<&Tensor> = node
            .params
            .iter()
            .map(|&p| {
                weights
                    .tensors
                    .get(&graph.param(p).name)
                    .expect("random weights are complete")
            })
            .collect();
        let args: Vec<&Tensor> = operands.iter().map(|o| &values[o]).collect();
        let value = eval_node(graph, id, &args, &params, &inputs)?;
        for operand in operands {
            let uses = remaining.get_mut(&operand).expect("operand use counted");
            *uses -= 1;
            if *uses == 0 {
                values.remove(&operand);
            }
        }
        if remaining.get(&id).copied().unwrap_or(0) > 0 {
            values.insert(id, value);
        }
    }
    Ok(())
}

/// Below this relative spread (standard deviation over root mean square) a batchnorm's
/// calibration input counts as constant: see [`channel_statistics`].
const CONSTANT_CHANNEL: f64 = 1e-2;

/// Per-channel (dimension 1) mean and calibrated variance of a rank-2 or rank-4 tensor: the
/// biased variance plus 1e-3 — except for a channel that is constant on the calibration
/// inputs (standard deviation below [`CONSTANT_CHANNEL`] of its root mean square; e.g. a
/// sum of softmax probabilities, always 1), whose variance is set to 1. Such a channel
/// carries no signal to normalise; calibrating its variance to (nearly) 0 would make the
/// batchnorm multiply the rounding error of its input by up to `1/√1e-3 ≈ 32` — by
/// `32²` for two in a row — and the random model ill-conditioned: its outputs would then
/// depend on the order of f32 roundings (a folded batchnorm, a fused kernel) beyond the
/// tolerance every compiled form is checked to. With the rule, no batchnorm amplifies its
/// input's relative rounding error by more than `1/CONSTANT_CHANNEL`.
fn channel_statistics(x: &Tensor) -> (Tensor, Tensor) {
    let shape = x.shape();
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    let mut sum = vec![0f64; c];
    let mut sum_sq = vec![0f64; c];
    for (i, &v) in x.data().iter().enumerate() {
        let ch = (i / inner) % c;
        sum[ch] += v as f64;
        sum_sq[ch] += (v as f64) * (v as f64);
    }
    let count = (n * inner) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let var: Vec<f32> = sum
        .iter()
        .zip(&sum_sq)
        .map(|(s, sq)| {
            let mean_square = sq / count;
            let variance = (mean_square - (s / count).powi(2)).max(0.0);
            if variance <= CONSTANT_CHANNEL.powi(2) * mean_square {
                1.0
            } else {
                (variance + 1e-3) as f32
            }
        })
        .collect();
    (
        Tensor::new(vec![c], mean).expect("shape matches"),
        Tensor::new(vec![c], var).expect("shape matches"),
    )
}

fn random_uncalibrated(graph: &Graph, seed: u64) -> Result<Weights, MemoryError> {
    let mut tensors = BTreeMap::new();
    for spec in weight_specs(graph) {
        let mut rng = WeightRng::new(seed ^ fnv1a(&spec.name));
        let shape = spec.shape.clone();
        let t = match spec.role {
            WeightRole::Kernel { fan_in } => {
                rng.try_uniform(shape.as_slice(), (6.0 / fan_in as f32).sqrt())?
            }
            WeightRole::Alpha {
                fan_in, box_volume, ..
            } => rng.try_uniform(
                shape.as_slice(),
                (6.0 / (fan_in * box_volume) as f32).sqrt(),
            )?,
            WeightRole::Bias { fan_in } => {
                rng.try_uniform(shape.as_slice(), 1.0 / (fan_in as f32).sqrt())?
            }
            WeightRole::BatchNormWeight => rng.try_uniform_range(shape.as_slice(), 0.8, 1.2)?,
            WeightRole::BatchNormBias => rng.try_uniform(shape.as_slice(), 0.1)?,
            WeightRole::RunningMean => rng.try_uniform(shape.as_slice(), 0.1)?,
            WeightRole::RunningVar => rng.try_uniform_range(shape.as_slice(), 0.8, 1.2)?,
            WeightRole::Derived => unreachable!("weight_specs lists only external parameters"),
        };
        tensors.insert(spec.name, t);
    }
    Ok(Weights { tensors })
}

/// 64-bit FNV-1a, a stable hash for per-tensor seeds.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_channels_are_calibrated_to_unit_variance() {
        // Channel 0 varies, channel 1 is constant 3, channel 2 is all zeros, channel 3
        // varies by 0.1 % of its size.
        let x = Tensor::from_vec(
            [4, 4],
            vec![
                -1.0, 3.0, 0.0, 5.000, //
                1.0, 3.0, 0.0, 5.005, //
                -2.0, 3.0, 0.0, 4.995, //
                2.0, 3.0, 0.0, 5.000,
            ],
        );
        let (mean, var) = channel_statistics(&x);
        assert_eq!(mean.data()[..3], [0.0, 3.0, 0.0]);
        assert!((var.data()[0] - (2.5 + 1e-3)).abs() < 1e-6);
        assert_eq!(var.data()[1..], [1.0, 1.0, 1.0]);
    }
}
