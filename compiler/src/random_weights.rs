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
            // The exact run and every shadow run hold their own intermediates.
            let runs = if part == "intermediates" {
                1 + SHADOW_RUNS as u64
            } else {
                1
            };
            r.add(&format!("calibration {part}"), bytes.saturating_mul(runs));
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

/// Relative size of the simulated rounding error added to every value of the shadow runs of
/// the calibration (about 16 f32 roundings).
const SIMULATED_ROUNDING: f32 = 1e-6;

/// Shadow runs of the calibration, each with its own random signs: the noise of a channel is
/// their mean, so that it is not underestimated when the signs of one run happen to cancel
/// (a channel with few elements, a batch of 2, has too few values to average that away).
const SHADOW_RUNS: usize = 4;

/// A calibrated batchnorm amplifies the simulated rounding noise of its input to at most
/// `1 / NOISE_HEADROOM` of a unit-scale output.
const NOISE_HEADROOM: f64 = 1e5;

/// Sets every batchnorm's running statistics from its input when the graph runs on inputs
/// uniform in [-1, 1] drawn from `seed`: the per-channel mean, and the variance (plus 1e-3),
/// but never less than `(NOISE_HEADROOM · noise)²`, where `noise` is how far the channel
/// moves (root mean square) when every value computed before it carries a rounding error of
/// ±[`SIMULATED_ROUNDING`] of itself, with independent random signs ([`SHADOW_RUNS`]
/// "shadow" runs of the graph, each perturbed after every node, with the same statistics).
///
/// The floor is what keeps random models well-conditioned. A channel that is constant on
/// the calibration inputs (a sum of softmax probabilities is always 1), or nearly so (a
/// feature derived from one scalar that hardly varies), has a variance of (almost) 0, and a
/// batchnorm calibrated to it would multiply the rounding error of its input by up to
/// `1/√1e-3 ≈ 32` — by `32²` for two in a row — so that the model's outputs would depend on
/// the order of its f32 roundings (a folded batchnorm, a fused kernel) beyond the tolerance
/// every compiled form is checked to. With the floor no batchnorm makes rounding noise larger
/// than `1e-5` of its output's unit scale, however many are stacked: a healthy channel
/// (spread far above its noise) is calibrated exactly as before.
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
    // The exact value of every live node, and its perturbed value in each shadow run.
    let mut values: HashMap<NodeId, (Tensor, Vec<Tensor>)> = HashMap::new();
    for id in order {
        let operands = graph.operands(id);
        let node = graph.node(id);
        if let Op::BatchNorm { .. } = node.op {
            let (exact, shadows) = &values[&operands[0]];
            let (mean, var) = channel_statistics(exact, shadows);
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
        // The exact run and the shadow runs of the node are independent: evaluated on
        // threads of their own (each result is what a sequential evaluation computes).
        let evaluate = |run: Option<usize>| -> Result<Tensor, MemoryError> {
            let args: Vec<&Tensor> = operands
                .iter()
                .map(|o| match run {
                    None => &values[o].0,
                    Some(run) => &values[o].1[run],
                })
                .collect();
            let mut value = eval_node(graph, id, &args, &params, &inputs)?;
            if let Some(run) = run {
                let signs =
                    WeightRng::new(seed ^ fnv1a(&node.name) ^ 0x005e_ad0f_f5e7 ^ run as u64)
                        .try_uniform(node.shape.as_slice(), 1.0)?;
                // Every value moves by exactly SIMULATED_ROUNDING of itself, up or down at
                // random.
                for (v, sign) in value.data_mut().iter_mut().zip(signs.data()) {
                    *v += (*v * SIMULATED_ROUNDING).copysign(*sign);
                }
            }
            Ok(value)
        };
        let (exact, shadows) = std::thread::scope(|scope| {
            let shadow_threads: Vec<_> = (0..SHADOW_RUNS)
                .map(|run| scope.spawn(move || evaluate(Some(run))))
                .collect();
            let exact = evaluate(None);
            let shadows: Vec<Result<Tensor, MemoryError>> = shadow_threads
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect();
            (exact, shadows)
        });
        let exact = exact?;
        let shadows = shadows
            .into_iter()
            .collect::<Result<Vec<Tensor>, MemoryError>>()?;
        for operand in operands {
            let uses = remaining.get_mut(&operand).expect("operand use counted");
            *uses -= 1;
            if *uses == 0 {
                values.remove(&operand);
            }
        }
        if remaining.get(&id).copied().unwrap_or(0) > 0 {
            values.insert(id, (exact, shadows));
        }
    }
    Ok(())
}

/// Per-channel (dimension 1) mean and calibrated variance of a rank-2 or rank-4 tensor
/// `exact`, given its perturbed `shadows` (see [`calibrate_batchnorm`]): the biased variance
/// plus 1e-3, at least `NOISE_HEADROOM² · mean((shadow − exact)²)` over every element and
/// shadow.
fn channel_statistics(exact: &Tensor, shadows: &[Tensor]) -> (Tensor, Tensor) {
    let shape = exact.shape();
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    let mut sum = vec![0f64; c];
    let mut sum_sq = vec![0f64; c];
    let mut noise_sq = vec![0f64; c];
    for (i, &v) in exact.data().iter().enumerate() {
        let ch = (i / inner) % c;
        let v = f64::from(v);
        sum[ch] += v;
        sum_sq[ch] += v * v;
        for shadow in shadows {
            noise_sq[ch] += (f64::from(shadow.data()[i]) - v).powi(2);
        }
    }
    let count = (n * inner) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let var: Vec<f32> = (0..c)
        .map(|ch| {
            let variance = (sum_sq[ch] / count - (sum[ch] / count).powi(2)).max(0.0);
            let floor = NOISE_HEADROOM.powi(2) * noise_sq[ch] / (count * shadows.len() as f64);
            (variance + 1e-3).max(floor) as f32
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
            WeightRole::BatchNormWeight | WeightRole::Scale => {
                rng.try_uniform_range(shape.as_slice(), 0.8, 1.2)?
            }
            WeightRole::BatchNormBias | WeightRole::Shift => {
                rng.try_uniform(shape.as_slice(), 0.1)?
            }
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
    fn variances_are_floored_by_the_noise_they_would_amplify() {
        // Channel 0 varies (its noise is negligible); channel 1 is constant 3 with simulated
        // noise 1e-6·3; channel 2 is all zeros.
        let exact = Tensor::from_vec(
            [4, 3],
            vec![-1.0, 3.0, 0.0, 1.0, 3.0, 0.0, -2.0, 3.0, 0.0, 2.0, 3.0, 0.0],
        );
        let mut shadow = exact.clone();
        for (i, v) in shadow.data_mut().iter_mut().enumerate() {
            *v *= 1.0 + if i % 2 == 0 { 1e-6 } else { -1e-6 };
        }
        let (mean, var) = channel_statistics(&exact, std::slice::from_ref(&shadow));
        assert_eq!(mean.data(), &[0.0, 3.0, 0.0]);
        assert!(
            (var.data()[0] - (2.5 + 1e-3)).abs() < 1e-6,
            "{:?}",
            var.data()
        );
        // rms noise 3e-6 → floor (1e5 · 3e-6)² = 0.09: a gain of 1/0.3, not 1/√1e-3.
        assert!((var.data()[1] - 0.09).abs() < 2e-3, "{:?}", var.data());
        assert!((var.data()[2] - 1e-3).abs() < 1e-9, "{:?}", var.data());
    }
}
