//! The structure advisor: for every conv and linear layer of a graph with its weights, the
//! candidate structures `(c, n)` (see `scc_runtime::candidates`), each with the relative
//! residual of projecting the trained kernel onto it, its parameters and its executed MACs,
//! and the best candidate within a tolerance (fewest multiplications).
//!
//! Assumes a lowered graph and weights bound to it. Reads `conv2d` (without dilation) and
//! `linear` nodes whose weight is an external parameter, scoring their kernel, and `sconv2d`
//! and `slinear` nodes, scoring the dense kernel they were given (a dense `weight` in the
//! weights file, before the binding projected it) or else the one their `alpha` composes to;
//! for those, the layer's own structure is among the candidates. Changes nothing.

use crate::ir::{Graph, Op, ParamValue};
use crate::weights::Weights;
use scc_runtime::Tensor;
use scc_runtime::candidates::{self, Candidate};
use scc_runtime::structure;
use std::collections::BTreeMap;

/// One candidate structure of a layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CandidateAdvice {
    pub c: usize,
    /// `[nh, nw]` (`[1, 1]` for a linear layer).
    pub n: [usize; 2],
    /// `‖W − compose(project(W))‖ / ‖W‖`.
    pub relative_residual: f64,
    /// Parameters of the structured layer (`alpha`, plus the bias if any).
    pub params: usize,
    /// MACs the structured layer executes (`output elements · c · nh · nw`).
    pub macs: usize,
    /// The dense structure itself (`c = C/groups`, `n` = the kernel).
    pub dense: bool,
}

/// Which kernel of a layer was scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoredKernel {
    /// The `weight` of a dense `conv2d` or `linear`.
    Weight,
    /// The dense `weight` given for a structured layer, as in the weights file.
    DenseWeight,
    /// The dense kernel a structured layer's `alpha` composes to.
    ComposedAlpha,
}

/// The advice for one layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerAdvice {
    /// The layer's weight path (`layer1.conv1`), the name `--structure LAYER=...` takes for
    /// an imported model.
    pub layer: String,
    /// `conv2d`, `linear`, `sconv2d` or `slinear`.
    pub op: &'static str,
    /// The shape of the scored (dense) kernel.
    pub weight_shape: Vec<usize>,
    pub kernel: ScoredKernel,
    /// Candidates, densest first; for a structured layer, its own structure is listed too
    /// (last, when it is not one of the standard candidates).
    pub candidates: Vec<CandidateAdvice>,
    /// Index in `candidates` of the structured candidate with the fewest MACs within the
    /// tolerance, if any.
    pub best: Option<usize>,
    /// Index in `candidates` of a structured layer's own structure.
    pub declared: Option<usize>,
}

/// The advice for a whole model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Advice {
    pub model: String,
    pub tolerance: f64,
    pub layers: Vec<LayerAdvice>,
    /// MACs of the layers advised on as dense layers, and with every best candidate applied.
    pub dense_macs: usize,
    pub advised_macs: usize,
}

/// Scores every conv and linear layer of `graph` with `weights` (structured layers by the
/// kernel their `alpha` composes to).
pub fn advise(graph: &Graph, weights: &Weights, tolerance: f64) -> Advice {
    advise_with_kernels(graph, weights, &BTreeMap::new(), tolerance)
}

/// [`advise`], scoring a structured layer `p` by `dense_kernels["p.weight"]` when present: the
/// dense kernel the weights file gave it (keys are `.sc` weight names).
pub fn advise_with_kernels(
    graph: &Graph,
    weights: &Weights,
    dense_kernels: &BTreeMap<String, Tensor>,
    tolerance: f64,
) -> Advice {
    let mut layers = Vec::new();
    let (mut dense_macs, mut advised_macs) = (0, 0);
    for id in graph.topological_order() {
        let node = graph.node(id);
        let input = graph
            .operand_shapes(id)
            .first()
            .map(|s| (*s).clone())
            .unwrap_or_default();
        // (op, bias, conv?, declared (c, n), kernel to score)
        let (op, bias, conv, declared, kernel): (_, _, _, Option<(usize, (usize, usize))>, _) =
            match &node.op {
                Op::Conv2d(a) if a.dilation == (1, 1) => ("conv2d", a.bias, true, None, None),
                Op::Linear(a) => ("linear", a.bias, false, None, None),
                Op::StructuredConv2d(a) => {
                    let cg = input[1] / a.groups;
                    let compose = move |alpha: &Tensor| {
                        structure::compose_alpha(alpha, cg, a.kernel.0, a.kernel.1)
                    };
                    let kernel: Box<dyn Fn(&Tensor) -> Tensor> = Box::new(compose);
                    ("sconv2d", a.bias, true, Some((a.c, a.n)), Some(kernel))
                }
                Op::StructuredLinear { c, bias, .. } => {
                    let features = input[1];
                    let kernel: Box<dyn Fn(&Tensor) -> Tensor> = Box::new(move |alpha: &Tensor| {
                        structure::compose_alpha_linear(alpha, features)
                    });
                    ("slinear", *bias, false, Some((*c, (1, 1))), Some(kernel))
                }
                Op::Conv2d(_)
                | Op::Input { .. }
                | Op::BatchNorm { .. }
                | Op::BatchNormTraining { .. }
                | Op::Affine { .. }
                | Op::Activation(_)
                | Op::Clamp { .. }
                | Op::LeakyRelu { .. }
                | Op::MaxPool(_)
                | Op::AvgPool(_)
                | Op::SumPool(_)
                | Op::GlobalAvgPool
                | Op::Flatten
                | Op::Softmax
                | Op::Concat
                | Op::Upsample(_)
                | Op::Pad(_)
                | Op::Transpose { .. }
                | Op::Add
                | Op::Mul
                | Op::Sub
                | Op::Div
                | Op::Scalar(_)
                | Op::SumPool3d(_)
                | Op::SumPoolFeatures { .. }
                | Op::Reorder { .. } => continue,
            };
        let Some(&param) = node.params.first() else {
            continue;
        };
        let param = graph.param(param);
        let (ParamValue::External, Some(bound)) = (&param.value, weights.get(&param.name)) else {
            continue;
        };
        let path = node
            .weight_path
            .clone()
            .unwrap_or_else(|| node.name.clone());
        let (weight, scored) = match &kernel {
            None => (bound.clone(), ScoredKernel::Weight),
            Some(compose) => match dense_kernels.get(&format!("{path}.weight")) {
                Some(dense) => (dense.clone(), ScoredKernel::DenseWeight),
                None => (compose(bound), ScoredKernel::ComposedAlpha),
            },
        };
        let expected_rank = if conv { 4 } else { 2 };
        if weight.shape().len() != expected_rank || weight.is_empty() {
            continue;
        }
        let outputs: usize = node.shape.iter().product();
        let out_channels = node.shape[1];
        let mut scored_candidates: Vec<Candidate> = if conv {
            candidates::conv_candidates(&weight)
        } else {
            candidates::linear_candidates(&weight)
        };
        let declared = declared.map(|(c, n)| {
            match scored_candidates.iter().position(|k| k.c == c && k.n == n) {
                Some(i) => i,
                None => {
                    let (o, cg) = (weight.shape()[0], weight.shape()[1]);
                    let relative_residual = if conv {
                        structure::project_to_structure(&weight, c, n.0, n.1).relative_residual
                    } else {
                        structure::project_to_structure_linear(&weight, c).relative_residual
                    };
                    let full = if conv {
                        (weight.shape()[2], weight.shape()[3])
                    } else {
                        (1, 1)
                    };
                    scored_candidates.push(Candidate {
                        c,
                        n,
                        relative_residual,
                        taps: c * n.0 * n.1,
                        params: o * c * n.0 * n.1,
                        dense: c == cg && n == full,
                    });
                    scored_candidates.len() - 1
                }
            }
        });
        let bias_params = if bias { out_channels } else { 0 };
        let candidates: Vec<CandidateAdvice> = scored_candidates
            .iter()
            .map(|c| CandidateAdvice {
                c: c.c,
                n: [c.n.0, c.n.1],
                relative_residual: c.relative_residual,
                params: c.params + bias_params,
                macs: outputs * c.taps,
                dense: c.dense,
            })
            .collect();
        let best = candidates::best_within(&scored_candidates, tolerance)
            .and_then(|b| scored_candidates.iter().position(|c| std::ptr::eq(c, b)));
        let dense = candidates.iter().find(|c| c.dense).map_or(0, |c| c.macs);
        dense_macs += dense;
        advised_macs += best.map_or(dense, |b| candidates[b].macs);
        layers.push(LayerAdvice {
            layer: path,
            op,
            weight_shape: weight.shape().to_vec(),
            kernel: scored,
            candidates,
            best,
            declared,
        });
    }
    Advice {
        model: graph.name.clone(),
        tolerance,
        layers,
        dense_macs,
        advised_macs,
    }
}
