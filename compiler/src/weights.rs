//! Weights: what a graph needs, checking a weights file against it, and random weights.
//!
//! [`weight_specs`] lists every tensor a graph reads (name, shape, role). [`bind`] checks a
//! loaded safetensors map against that list, reporting *all* problems at once, projects
//! dense `weight`s of structured layers onto their structure, and returns [`Weights`]
//! holding exactly the specified tensors. Deterministic random weights are
//! [`Weights::random`](crate::random_weights).
//!
//! A PyTorch `state_dict` binds as it is: its keys are mapped to `.sc` weight names by
//! [`sc_weight_name`] (`layer1.0.conv1.weight` → `layer1_0.conv1.weight`), and its integer
//! tensors and `num_batches_tracked` counters are passed over, listed in [`BindReport::skipped`].

use crate::ir::{Graph, Op, ParamId, ParamValue, format_shape};
use scc_runtime::structure;
use scc_runtime::{Checkpoint, SkippedTensor, Tensor};
use std::collections::BTreeMap;
use std::fmt;

pub use crate::ir::WeightRole;

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
        Op::Affine { bias } => {
            let c = vec![input[1]];
            out.push(("weight", c.clone(), WeightRole::Scale));
            if *bias {
                out.push(("bias", c, WeightRole::Shift));
            }
        }
        Op::BatchNorm { .. } | Op::BatchNormTraining { .. } => {
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
        | Op::Upsample(_)
        | Op::Add
        | Op::Mul
        | Op::Sub
        | Op::Div
        | Op::Clamp { .. }
        | Op::LeakyRelu { .. }
        | Op::Pad(_)
        | Op::Transpose { .. }
        | Op::Scalar(_)
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
    pub(crate) tensors: BTreeMap<String, Tensor>,
}

impl Weights {
    /// Loads a safetensors file and binds it to `graph` (see [`bind`]).
    pub fn load(
        graph: &Graph,
        path: &std::path::Path,
        options: &BindOptions,
    ) -> Result<(Weights, BindReport), WeightError> {
        let checkpoint = scc_runtime::read_checkpoint(path)?;
        bind_checkpoint(graph, checkpoint, &path.display().to_string(), options)
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

/// What binding a weights file did besides checking it: the dense kernels it projected onto
/// their structure, the tensors it passed over and the keys it renamed. Dereferences to the
/// projections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BindReport {
    /// One report per structured layer given a dense `weight`.
    pub projections: Vec<ProjectionReport>,
    /// Integer and boolean tensors, and `num_batches_tracked` counters of any dtype: not
    /// weights, so not bound (in name order).
    pub skipped: Vec<SkippedTensor>,
    /// Keys written in PyTorch's naming, with the `.sc` name each was bound as (see
    /// [`sc_weight_name`]), in key order.
    pub renamed: Vec<(String, String)>,
}

impl std::ops::Deref for BindReport {
    type Target = [ProjectionReport];

    fn deref(&self) -> &[ProjectionReport] {
        &self.projections
    }
}

impl IntoIterator for BindReport {
    type Item = ProjectionReport;
    type IntoIter = std::vec::IntoIter<ProjectionReport>;

    /// The projections.
    fn into_iter(self) -> Self::IntoIter {
        self.projections.into_iter()
    }
}

impl<'a> IntoIterator for &'a BindReport {
    type Item = &'a ProjectionReport;
    type IntoIter = std::slice::Iter<'a, ProjectionReport>;

    fn into_iter(self) -> Self::IntoIter {
        self.projections.iter()
    }
}

impl BindReport {
    /// The one-line note a user sees about skipped tensors (`None` when nothing was skipped):
    /// every skipped key, grouped by last name part and dtype, e.g. ``skipped 2 tensors that
    /// are not weights: `num_batches_tracked` (I64) of bn1, layer1.0.bn1``.
    pub fn skipped_note(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let mut groups: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
        for t in &self.skipped {
            let (owner, last) = t.name.rsplit_once('.').unwrap_or(("", t.name.as_str()));
            groups
                .entry((last, t.dtype.as_str()))
                .or_default()
                .push(owner);
        }
        let parts: Vec<String> = groups
            .into_iter()
            .map(|((last, dtype), owners)| {
                let owners: Vec<&str> = owners.into_iter().filter(|o| !o.is_empty()).collect();
                if owners.is_empty() {
                    format!("`{last}` ({dtype})")
                } else {
                    format!("`{last}` ({dtype}) of {}", owners.join(", "))
                }
            })
            .collect();
        let count = self.skipped.len();
        let plural = if count == 1 { "tensor" } else { "tensors" };
        Some(format!(
            "skipped {count} {plural} that are not weights: {}",
            parts.join("; ")
        ))
    }
}

/// The `.sc` weight name of a weights-file key: every `.` followed by digits becomes `_`
/// (`s/\.([0-9]+)/_\1/g`), so PyTorch's `state_dict` keys bind to the examples' names:
/// `layer1.0.conv1.weight` → `layer1_0.conv1.weight`, `features.2.conv.1.0.weight` →
/// `features_2.conv_1_0.weight`. A `.sc` weight name never has a digit after a dot (its
/// parts are identifiers), so it maps to itself.
pub fn sc_weight_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '.' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a key names one of PyTorch's batchnorm step counters, which are never weights.
fn is_counter(key: &str) -> bool {
    key == "num_batches_tracked" || key.ends_with(".num_batches_tracked")
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
        /// The key in the file, when it differs from `name` (PyTorch's naming).
        key: Option<String>,
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
    /// Two keys of the file that name the same weight once mapped by [`sc_weight_name`].
    SameName {
        name: String,
        first: String,
        second: String,
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
            WeightProblem::Unexpected { name, shape, key } => match key {
                Some(key) => write!(
                    f,
                    "unexpected weight `{name}` {} (key `{key}`; the model has no such weight)",
                    format_shape(shape)
                ),
                None => write!(
                    f,
                    "unexpected weight `{name}` {} (the model has no such weight)",
                    format_shape(shape)
                ),
            },
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
            WeightProblem::SameName {
                name,
                first,
                second,
            } => write!(
                f,
                "keys `{first}` and `{second}` both name the weight `{name}` (a `.` before digits reads as `_`)"
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    #[error(transparent)]
    Io(#[from] scc_runtime::TensorIoError),
    /// Random weights (and their batchnorm calibration) would not fit in memory.
    #[error(transparent)]
    Memory(#[from] scc_runtime::MemoryError),
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
/// structured kernels; keys are mapped by [`sc_weight_name`] and counters skipped, as
/// [`bind_checkpoint`] does.
pub fn bind(
    graph: &Graph,
    tensors: BTreeMap<String, Tensor>,
    origin: &str,
    options: &BindOptions,
) -> Result<(Weights, BindReport), WeightError> {
    let checkpoint = Checkpoint {
        tensors,
        skipped: Vec::new(),
    };
    bind_checkpoint(graph, checkpoint, origin, options)
}

/// Checks a weights file's float tensors against the graph (every problem at once) and
/// projects dense structured kernels. Keys are mapped to `.sc` names by [`sc_weight_name`];
/// `num_batches_tracked` counters are skipped like the file's integer tensors, and both are
/// listed in the report.
pub fn bind_checkpoint(
    graph: &Graph,
    checkpoint: Checkpoint,
    origin: &str,
    options: &BindOptions,
) -> Result<(Weights, BindReport), WeightError> {
    let mut skipped = checkpoint.skipped;
    let mut renamed = Vec::new();
    let mut problems = Vec::new();
    let mut tensors: BTreeMap<String, Tensor> = BTreeMap::new();
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    for (key, tensor) in checkpoint.tensors {
        if is_counter(&key) {
            skipped.push(SkippedTensor {
                name: key,
                dtype: "F32".to_string(),
                shape: tensor.shape().to_vec(),
            });
            continue;
        }
        let name = sc_weight_name(&key);
        if let Some(first) = keys.get(&name) {
            problems.push(WeightProblem::SameName {
                name,
                first: first.clone(),
                second: key,
            });
            continue;
        }
        if name != key {
            renamed.push((key.clone(), name.clone()));
        }
        keys.insert(name.clone(), key);
        tensors.insert(name, tensor);
    }
    skipped.sort_by(|a, b| a.name.cmp(&b.name));
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
        let key = keys.remove(&name).filter(|key| *key != name);
        problems.push(WeightProblem::Unexpected {
            name,
            shape: t.shape().to_vec(),
            key,
        });
    }
    if problems.is_empty() {
        let report = BindReport {
            projections: reports,
            skipped,
            renamed,
        };
        Ok((Weights { tensors: bound }, report))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytorch_keys_map_to_sc_names() {
        let cases = [
            ("layer1.0.conv1.weight", "layer1_0.conv1.weight"),
            ("features.2.conv.1.0.weight", "features_2.conv_1_0.weight"),
            ("layer4.1.bn2.running_var", "layer4_1.bn2.running_var"),
            ("blocks.12.se.fc1.bias", "blocks_12.se.fc1.bias"),
            ("fc.bias", "fc.bias"),
            ("layer1_0.conv1.weight", "layer1_0.conv1.weight"),
            ("v2.weight", "v2.weight"),
            ("trailing.", "trailing."),
        ];
        for (key, name) in cases {
            assert_eq!(sc_weight_name(key), name, "{key}");
        }
        assert!(is_counter("bn1.num_batches_tracked"));
        assert!(!is_counter("bn1.running_mean"));
    }
}
