//! The structure advisor: for every dense conv and linear layer of a graph with its weights,
//! the candidate structures `(c, n)` (see `scc_runtime::candidates`), each with the relative
//! residual of projecting the trained kernel onto it, its parameters and its executed MACs,
//! and the best candidate within a tolerance (fewest multiplications).
//!
//! Assumes a lowered graph and weights bound to it. Reads only `conv2d` (without dilation)
//! and `linear` nodes whose weight is an external parameter; changes nothing.

use crate::ir::{Graph, Op, ParamValue};
use crate::weights::Weights;
use scc_runtime::candidates::{self, Candidate};

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

/// The advice for one layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerAdvice {
    /// The layer's weight path (`layer1.conv1`), the name `--structure LAYER=...` takes for
    /// an imported model.
    pub layer: String,
    /// `conv2d` or `linear`.
    pub op: &'static str,
    pub weight_shape: Vec<usize>,
    /// Candidates, densest first.
    pub candidates: Vec<CandidateAdvice>,
    /// Index in `candidates` of the structured candidate with the fewest MACs within the
    /// tolerance, if any.
    pub best: Option<usize>,
}

/// The advice for a whole model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Advice {
    pub model: String,
    pub tolerance: f64,
    pub layers: Vec<LayerAdvice>,
    /// MACs of the dense layers advised on, and with every best candidate applied.
    pub dense_macs: usize,
    pub advised_macs: usize,
}

/// Scores every dense conv and linear layer of `graph` with `weights`.
pub fn advise(graph: &Graph, weights: &Weights, tolerance: f64) -> Advice {
    let mut layers = Vec::new();
    let (mut dense_macs, mut advised_macs) = (0, 0);
    for id in graph.topological_order() {
        let node = graph.node(id);
        let (op, bias, groups_ok) = match &node.op {
            Op::Conv2d(a) => ("conv2d", a.bias, a.dilation == (1, 1)),
            Op::Linear(a) => ("linear", a.bias, true),
            Op::Input { .. }
            | Op::StructuredConv2d(_)
            | Op::StructuredLinear { .. }
            | Op::BatchNorm { .. }
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
            | Op::Reorder { .. } => continue,
        };
        let Some(&param) = node.params.first() else {
            continue;
        };
        let param = graph.param(param);
        let (ParamValue::External, Some(weight), true) =
            (&param.value, weights.get(&param.name), groups_ok)
        else {
            continue;
        };
        let outputs: usize = node.shape.iter().product();
        let out_channels = node.shape[1];
        let scored: Vec<Candidate> = if op == "conv2d" {
            candidates::conv_candidates(weight)
        } else {
            candidates::linear_candidates(weight)
        };
        let bias_params = if bias { out_channels } else { 0 };
        let candidates: Vec<CandidateAdvice> = scored
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
        let best = candidates::best_within(&scored, tolerance)
            .and_then(|b| scored.iter().position(|c| std::ptr::eq(c, b)));
        let dense = candidates.iter().find(|c| c.dense).map_or(0, |c| c.macs);
        dense_macs += dense;
        advised_macs += best.map_or(dense, |b| candidates[b].macs);
        layers.push(LayerAdvice {
            layer: node
                .weight_path
                .clone()
                .unwrap_or_else(|| node.name.clone()),
            op,
            weight_shape: weight.shape().to_vec(),
            candidates,
            best,
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
