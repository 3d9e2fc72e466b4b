//! Weights: what a graph needs, checking a weights file against it, and random weights.
//!
//! [`weight_specs`] lists every tensor a graph reads (name, shape, role). [`bind`] checks a
//! loaded safetensors map against that list, reporting *all* problems at once, projects
//! dense `weight`s of structured layers onto their structure, and returns [`Weights`]
//! holding exactly the specified tensors. [`random`] makes deterministic weights.

use crate::ir::{Graph, NodeId, Op, ParamExpr, ParamId, ParamValue, format_shape};
use scc_runtime::Tensor;
use scc_runtime::random::WeightRng;
use scc_runtime::structure;
use std::collections::BTreeMap;
use std::fmt;

/// What a weight tensor is for; decides its random initialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightRole {
    /// A conv or linear kernel; `fan_in` inputs contribute to each output.
    Kernel {
        fan_in: usize,
    },
    /// The `alpha` of a structured layer: `fan_in` = c·nh·nw taps over boxes of
    /// `box_volume`; `dense_shape` is the shape of the dense kernel it stands for.
    Alpha {
        fan_in: usize,
        box_volume: usize,
        dense_shape: Vec<usize>,
    },
    Bias {
        fan_in: usize,
    },
    BatchNormWeight,
    BatchNormBias,
    RunningMean,
    RunningVar,
    /// Computed by the compiler from other parameters.
    Derived,
}

impl WeightRole {
    /// Counted in parameters (running statistics are not; derived parameters are stored by the compiled layer).
    pub fn is_learnable(&self) -> bool {
        !matches!(self, WeightRole::RunningMean | WeightRole::RunningVar)
    }
}

/// One tensor the graph reads from the weights file.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub role: WeightRole,
    pub param: ParamId,
}

/// The weights an op reads, as `(suffix, shape, role)`, given its first operand's shape.
pub fn op_weights(op: &Op, input: &[usize]) -> Vec<(&'static str, Vec<usize>, WeightRole)> {
    let mut out = Vec::new();
    match op {
        Op::Conv2d(a) => {
            let cg = input[1] / a.groups;
            let fan_in = cg * a.kernel.0 * a.kernel.1;
            out.push((
                "weight",
                vec![a.out_channels, cg, a.kernel.0, a.kernel.1],
                WeightRole::Kernel { fan_in },
            ));
            if a.bias {
                out.push(("bias", vec![a.out_channels], WeightRole::Bias { fan_in }));
            }
        }
        Op::StructuredConv2d(a) => {
            let cg = input[1] / a.groups;
            let fan_in = cg * a.kernel.0 * a.kernel.1;
            let (bc, bh, bw) =
                structure::structure_box(cg, a.c, a.kernel.0, a.n.0, a.kernel.1, a.n.1);
            out.push((
                "alpha",
                vec![a.out_channels, a.c, a.n.0, a.n.1],
                WeightRole::Alpha {
                    fan_in: a.c * a.n.0 * a.n.1,
                    box_volume: bc * bh * bw,
                    dense_shape: vec![a.out_channels, cg, a.kernel.0, a.kernel.1],
                },
            ));
            if a.bias {
                out.push(("bias", vec![a.out_channels], WeightRole::Bias { fan_in }));
            }
        }
        Op::Linear(a) => {
            let fan_in = input[1];
            out.push((
                "weight",
                vec![a.out_features, fan_in],
                WeightRole::Kernel { fan_in },
            ));
            if a.bias {
                out.push(("bias", vec![a.out_features], WeightRole::Bias { fan_in }));
            }
        }
        Op::StructuredLinear {
            out_features,
            c,
            bias,
        } => {
            let fan_in = input[1];
            out.push((
                "alpha",
                vec![*out_features, *c],
                WeightRole::Alpha {
                    fan_in: *c,
                    box_volume: fan_in - c + 1,
                    dense_shape: vec![*out_features, fan_in],
                },
            ));
            if *bias {
                out.push(("bias", vec![*out_features], WeightRole::Bias { fan_in }));
            }
        }
        Op::BatchNorm { .. } => {
            let c = vec![input[1]];
            out.push(("weight", c.clone(), WeightRole::BatchNormWeight));
            out.push(("bias", c.clone(), WeightRole::BatchNormBias));
            out.push(("running_mean", c.clone(), WeightRole::RunningMean));
            out.push(("running_var", c, WeightRole::RunningVar));
        }
        Op::Input { .. }
        | Op::Activation(_)
        | Op::MaxPool(_)
        | Op::AvgPool(_)
        | Op::SumPool(_)
        | Op::GlobalAvgPool
        | Op::Flatten
        | Op::Softmax
        | Op::Concat
        | Op::Upsample { .. }
        | Op::Add
        | Op::Mul
        | Op::SumPool3d(_)
        | Op::SumPoolFeatures { .. }
        | Op::Reorder { .. } => {}
    }
    out
}

/// Every tensor the graph reads from the weights file, in parameter-table order.
pub fn weight_specs(graph: &Graph) -> Vec<WeightSpec> {
    graph
        .live_params()
        .into_iter()
        .filter_map(|id| {
            let param = graph.param(id);
            matches!(param.value, ParamValue::External).then(|| WeightSpec {
                name: param.name.clone(),
                shape: param.shape.clone(),
                role: param.role.clone(),
                param: id,
            })
        })
        .collect()
}

/// The tensors a graph reads, by weight name, exactly as [`weight_specs`] lists them.
#[derive(Debug, Clone, Default)]
pub struct Weights {
    tensors: BTreeMap<String, Tensor>,
}

impl Weights {
    /// Loads a safetensors file and binds it to `graph` (see [`bind`]).
    pub fn load(
        graph: &Graph,
        path: &std::path::Path,
        options: &BindOptions,
    ) -> Result<(Weights, Vec<ProjectionReport>), WeightError> {
        let tensors = scc_runtime::read_safetensors(path)?;
        bind(graph, tensors, &path.display().to_string(), options)
    }

    /// Deterministic random weights for `graph` (see [`random`]).
    pub fn random(graph: &Graph, seed: u64) -> Weights {
        random(graph, seed)
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Tensor)> {
        self.tensors.iter()
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    pub fn into_map(self) -> BTreeMap<String, Tensor> {
        self.tensors
    }
}

/// How a structured layer's dense `weight` was projected onto its structure.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionReport {
    /// The layer's weight path (`layer1.conv1`).
    pub layer: String,
    /// `‖W − compose(alpha)‖ / ‖W‖`.
    pub relative_residual: f64,
}

/// The default largest accepted relative residual when projecting a dense kernel.
pub const DEFAULT_MAX_STRUCTURE_ERROR: f64 = 1e-3;

#[derive(Debug, Clone)]
pub struct BindOptions {
    /// Largest accepted relative residual of a projected dense kernel.
    pub max_structure_error: f64,
    /// Report residuals above the tolerance instead of failing (for `scc check`).
    pub allow_structure_error: bool,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            max_structure_error: DEFAULT_MAX_STRUCTURE_ERROR,
            allow_structure_error: false,
        }
    }
}

/// One way a weights file disagrees with the model.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightProblem {
    Missing {
        name: String,
        expected: Vec<usize>,
    },
    Unexpected {
        name: String,
        shape: Vec<usize>,
    },
    WrongShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A structured layer given both `alpha` and a dense `weight`.
    AlphaAndWeight {
        layer: String,
    },
    /// A projected dense kernel that is too far from the structure.
    NotStructured {
        layer: String,
        relative_residual: f64,
        tolerance: f64,
    },
    NonFinite {
        name: String,
    },
}

impl fmt::Display for WeightProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightProblem::Missing { name, expected } => {
                write!(
                    f,
                    "missing weight `{name}` (expected shape {})",
                    format_shape(expected)
                )
            }
            WeightProblem::Unexpected { name, shape } => {
                write!(
                    f,
                    "unexpected weight `{name}` {} (the model has no such weight)",
                    format_shape(shape)
                )
            }
            WeightProblem::WrongShape {
                name,
                expected,
                found,
            } => write!(
                f,
                "weight `{name}` has shape {}, expected {}",
                format_shape(found),
                format_shape(expected)
            ),
            WeightProblem::AlphaAndWeight { layer } => write!(
                f,
                "structured layer `{layer}` has both `{layer}.alpha` and a dense `{layer}.weight`; give only one"
            ),
            WeightProblem::NotStructured {
                layer,
                relative_residual,
                tolerance,
            } => write!(
                f,
                "dense `{layer}.weight` is not structured: projecting it onto the structure leaves a relative residual of {relative_residual:.3e}, above the tolerance {tolerance:.1e} (see --max-structure-error)"
            ),
            WeightProblem::NonFinite { name } => {
                write!(f, "weight `{name}` holds NaN or infinite values")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    #[error(transparent)]
    Io(#[from] scc_runtime::TensorIoError),
    #[error("the weights file `{origin}` does not match the model:\n{}", list(.problems))]
    Mismatch {
        origin: String,
        problems: Vec<WeightProblem>,
    },
}

fn list(problems: &[WeightProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    lines.join("\n")
}

/// Checks `tensors` (from the file `origin`) against the graph and projects dense
/// structured kernels. Returns the weights and one report per projected layer.
pub fn bind(
    graph: &Graph,
    mut tensors: BTreeMap<String, Tensor>,
    origin: &str,
    options: &BindOptions,
) -> Result<(Weights, Vec<ProjectionReport>), WeightError> {
    let mut problems = Vec::new();
    let mut reports = Vec::new();
    let mut bound = BTreeMap::new();
    for spec in weight_specs(graph) {
        if let WeightRole::Alpha { dense_shape, .. } = &spec.role {
            let layer = spec.name.trim_end_matches(".alpha").to_string();
            let dense_name = format!("{layer}.weight");
            if let Some(dense) = tensors.remove(&dense_name) {
                if tensors.contains_key(&spec.name) {
                    tensors.remove(&spec.name);
                    problems.push(WeightProblem::AlphaAndWeight { layer });
                    continue;
                }
                if dense.shape() != dense_shape.as_slice() {
                    problems.push(WeightProblem::WrongShape {
                        name: dense_name,
                        expected: dense_shape.clone(),
                        found: dense.shape().to_vec(),
                    });
                    continue;
                }
                if dense.data().iter().any(|v| !v.is_finite()) {
                    problems.push(WeightProblem::NonFinite { name: dense_name });
                    continue;
                }
                let projection = project(&dense, &spec.shape);
                let residual = projection.relative_residual;
                if residual > options.max_structure_error && !options.allow_structure_error {
                    problems.push(WeightProblem::NotStructured {
                        layer: layer.clone(),
                        relative_residual: residual,
                        tolerance: options.max_structure_error,
                    });
                }
                reports.push(ProjectionReport {
                    layer,
                    relative_residual: residual,
                });
                bound.insert(spec.name, projection.alpha);
                continue;
            }
        }
        match tensors.remove(&spec.name) {
            None => problems.push(WeightProblem::Missing {
                name: spec.name,
                expected: spec.shape,
            }),
            Some(t) if t.shape() != spec.shape.as_slice() => {
                problems.push(WeightProblem::WrongShape {
                    name: spec.name,
                    expected: spec.shape,
                    found: t.shape().to_vec(),
                })
            }
            Some(t) if t.data().iter().any(|v| !v.is_finite()) => {
                problems.push(WeightProblem::NonFinite { name: spec.name })
            }
            Some(t) => {
                bound.insert(spec.name, t);
            }
        }
    }
    for (name, t) in tensors {
        problems.push(WeightProblem::Unexpected {
            name,
            shape: t.shape().to_vec(),
        });
    }
    if problems.is_empty() {
        Ok((Weights { tensors: bound }, reports))
    } else {
        Err(WeightError::Mismatch {
            origin: origin.to_string(),
            problems,
        })
    }
}

fn project(dense: &Tensor, alpha_shape: &[usize]) -> structure::Projection {
    match alpha_shape {
        [_, c, nh, nw] => structure::project_to_structure(dense, *c, *nh, *nw),
        [_, c] => structure::project_to_structure_linear(dense, *c),
        _ => unreachable!("alpha is rank 2 or 4"),
    }
}

/// Deterministic, sensibly scaled weights: He-uniform kernels (variance 2/fan-in, with
/// alpha scaled by its box volume so the composed kernel has the same variance), small
/// biases, and batchnorm statistics calibrated as training would leave them: each
/// batchnorm's running mean and variance are those of its input when the model runs on
/// seeded random inputs, so activations keep a unit scale through any depth. Same seed,
/// same weights.
pub fn random(graph: &Graph, seed: u64) -> Weights {
    let mut weights = random_uncalibrated(graph, seed);
    calibrate_batchnorm(graph, &mut weights, seed);
    weights
}

/// Sets every batchnorm's running statistics to the per-channel mean and variance of its
/// input, for the graph run on inputs uniform in [-1, 1] drawn from `seed`.
fn calibrate_batchnorm(graph: &Graph, weights: &mut Weights, seed: u64) {
    if !graph
        .node_ids()
        .iter()
        .any(|&id| matches!(graph.node(id).op, Op::BatchNorm { .. }))
    {
        return;
    }
    let inputs: BTreeMap<String, Tensor> = graph
        .inputs()
        .iter()
        .map(|(name, id)| {
            let mut rng = WeightRng::new(seed ^ fnv1a(name));
            (
                name.clone(),
                rng.uniform(graph.node(*id).shape.as_slice(), 1.0),
            )
        })
        .collect();
    let mut values: std::collections::HashMap<NodeId, Tensor> = std::collections::HashMap::new();
    for id in graph.topological_order() {
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
        let value = crate::interp::eval_node(graph, id, &args, &params, &inputs);
        values.insert(id, value);
    }
}

/// Per-channel (dimension 1) mean and biased variance of a rank-2 or rank-4 tensor.
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
        .map(|(s, sq)| ((sq / count - (s / count).powi(2)).max(0.0) + 1e-3) as f32)
        .collect();
    (
        Tensor::new(vec![c], mean).expect("shape matches"),
        Tensor::new(vec![c], var).expect("shape matches"),
    )
}

fn random_uncalibrated(graph: &Graph, seed: u64) -> Weights {
    let tensors = weight_specs(graph)
        .into_iter()
        .map(|spec| {
            let mut rng = WeightRng::new(seed ^ fnv1a(&spec.name));
            let shape = spec.shape.clone();
            let t = match spec.role {
                WeightRole::Kernel { fan_in } => {
                    rng.uniform(shape.as_slice(), (6.0 / fan_in as f32).sqrt())
                }
                WeightRole::Alpha {
                    fan_in, box_volume, ..
                } => rng.uniform(
                    shape.as_slice(),
                    (6.0 / (fan_in * box_volume) as f32).sqrt(),
                ),
                WeightRole::Bias { fan_in } => {
                    rng.uniform(shape.as_slice(), 1.0 / (fan_in as f32).sqrt())
                }
                WeightRole::BatchNormWeight => rng.uniform_range(shape.as_slice(), 0.8, 1.2),
                WeightRole::BatchNormBias => rng.uniform(shape.as_slice(), 0.1),
                WeightRole::RunningMean => rng.uniform(shape.as_slice(), 0.1),
                WeightRole::RunningVar => rng.uniform_range(shape.as_slice(), 0.8, 1.2),
                WeightRole::Derived => unreachable!("weight_specs lists only external parameters"),
            };
            (spec.name, t)
        })
        .collect();
    Weights { tensors }
}

/// Evaluates compile-time weight arithmetic; `operand` gives the value of each parameter
/// the expression reads.
pub fn derive<'a>(expr: &ParamExpr, operand: &dyn Fn(ParamId) -> &'a Tensor) -> Tensor {
    let factors = |bn: &crate::ir::BatchNormParams| -> Vec<f32> {
        let gamma = operand(bn.weight).data();
        let var = operand(bn.var).data();
        gamma
            .iter()
            .zip(var)
            .map(|(g, v)| g / (v + bn.eps).sqrt())
            .collect()
    };
    match expr {
        ParamExpr::BatchNormScale { weight, bn } => {
            let scale = factors(bn);
            let weight = operand(*weight);
            let row = weight.len() / scale.len();
            let data = weight
                .data()
                .iter()
                .enumerate()
                .map(|(i, w)| w * scale[i / row])
                .collect();
            Tensor::new(weight.shape().to_vec(), data).expect("same shape")
        }
        ParamExpr::ComposeStructured {
            alpha,
            group_channels,
            kernel,
        } => scc_runtime::structure::compose_alpha(
            operand(*alpha),
            *group_channels,
            kernel.0,
            kernel.1,
        ),
        ParamExpr::BatchNormShift { bias, bn } => {
            let scale = factors(bn);
            let beta = operand(bn.bias).data();
            let mean = operand(bn.mean).data();
            let data = (0..scale.len())
                .map(|o| {
                    let b = bias.map_or(0.0, |b| operand(b).data()[o]);
                    (b - mean[o]) * scale[o] + beta[o]
                })
                .collect();
            Tensor::new(vec![scale.len()], data).expect("one value per channel")
        }
    }
}

/// 64-bit FNV-1a, a stable hash for per-tensor seeds.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
