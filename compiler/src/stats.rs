//! Cost accounting: parameters and multiply-accumulates per node, as defined by the
//! fixtures' `stats.json`.
//!
//! Params: conv/linear weights or alphas, biases, batchnorm and affine weight and bias (not
//! running statistics). MACs: output elements × taps, with taps = `Cg·kh·kw` (dense) and
//! `c·nh·nw` (structured) for convolutions, `F` or `c` for linear layers; other ops
//! count no MACs.

use crate::ir::{Graph, NodeId, Op, SumPoolAlgorithm};
use scc_runtime::sumpool::{self, SumPoolSpec};

/// The cost of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCost {
    pub node: NodeId,
    pub params: usize,
    /// MACs of the dense-equivalent layer.
    pub dense_macs: usize,
    /// MACs actually executed (the small conv over `alpha` for structured layers).
    pub structured_macs: usize,
    /// Additions of the node's sum-pooling, as its algorithm executes them.
    pub sumpool_adds: usize,
}

/// Whole-model totals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    pub params: usize,
    pub dense_macs: usize,
    pub structured_macs: usize,
    pub sumpool_adds: usize,
}

pub fn node_cost(graph: &Graph, id: NodeId) -> NodeCost {
    let node = graph.node(id);
    let out_elems: usize = node.shape.iter().product();
    let params = node
        .params
        .iter()
        .map(|&p| graph.param(p))
        .filter(|p| p.role.is_learnable())
        .map(|p| p.shape.iter().product::<usize>())
        .sum();
    let input = graph
        .operand_shapes(id)
        .first()
        .map(|s| (*s).clone())
        .unwrap_or_default();
    let (dense_taps, structured_taps) = match &node.op {
        Op::Conv2d(a) => {
            let taps = input[1] / a.groups * a.kernel.0 * a.kernel.1;
            (a.dense_taps.unwrap_or(taps), taps)
        }
        Op::StructuredConv2d(a) => (
            input[1] / a.groups * a.kernel.0 * a.kernel.1,
            a.c * a.n.0 * a.n.1,
        ),
        Op::Linear(a) => (a.dense_taps.unwrap_or(input[1]), input[1]),
        Op::StructuredLinear { c, .. } => (input[1], *c),
        Op::Input { .. }
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
        | Op::Reorder { .. } => (0, 0),
    };
    let sumpool_adds = match &node.op {
        Op::SumPool3d(a) => {
            let spec = SumPoolSpec {
                groups: a.groups,
                window: a.window,
                pad: a.pad,
                stride: a.stride,
            };
            match a.algorithm {
                SumPoolAlgorithm::RunningSum => sumpool::sumpool_running_adds(&input, &spec),
                SumPoolAlgorithm::Direct => sumpool::sumpool_direct_adds(&input, &spec),
            }
        }
        Op::SumPoolFeatures { window } => {
            sumpool::sumpool_features_adds(input[0], input[1], *window)
        }
        Op::SumPool(p) => {
            // The language's 2-D sum-pool, executed directly as lowered.
            let spec = SumPoolSpec {
                groups: input[1],
                window: (1, p.kernel.0, p.kernel.1),
                pad: p.pad,
                stride: p.stride,
            };
            sumpool::sumpool_direct_adds(&input, &spec)
        }
        Op::StructuredConv2d(a) => {
            // Executed as lowered: the literal direct 3-D sum-pool.
            let cg = input[1] / a.groups;
            let window = scc_runtime::structure::structure_box(
                cg, a.c, a.kernel.0, a.n.0, a.kernel.1, a.n.1,
            );
            let spec = SumPoolSpec {
                groups: a.groups,
                window,
                pad: a.pad,
                stride: (1, 1),
            };
            sumpool::sumpool_direct_adds(&input, &spec)
        }
        Op::StructuredLinear { c, .. } => (input[1] - c + 1 - 1) as u64 * (input[0] * c) as u64,
        Op::Input { .. }
        | Op::Conv2d(_)
        | Op::Linear(_)
        | Op::BatchNorm { .. }
        | Op::BatchNormTraining { .. }
        | Op::Affine { .. }
        | Op::Activation(_)
        | Op::Clamp { .. }
        | Op::LeakyRelu { .. }
        | Op::MaxPool(_)
        | Op::AvgPool(_)
        | Op::GlobalAvgPool
        | Op::Flatten
        | Op::Softmax
        | Op::Concat
        | Op::Upsample(_)
        | Op::Pad(_)
        | Op::Transpose { .. }
        | Op::Add
        | Op::Mul
        | Op::Reorder { .. }
        | Op::Sub
        | Op::Div
        | Op::Scalar(_) => 0,
    } as usize;
    NodeCost {
        node: id,
        params,
        dense_macs: out_elems * dense_taps,
        structured_macs: out_elems * structured_taps,
        sumpool_adds,
    }
}

/// The cost of every node, in topological order.
pub fn costs(graph: &Graph) -> Vec<NodeCost> {
    graph
        .topological_order()
        .into_iter()
        .map(|id| node_cost(graph, id))
        .collect()
}

pub fn totals(costs: &[NodeCost]) -> Totals {
    costs.iter().fold(Totals::default(), |t, c| Totals {
        params: t.params + c.params,
        dense_macs: t.dense_macs + c.dense_macs,
        structured_macs: t.structured_macs + c.structured_macs,
        sumpool_adds: t.sumpool_adds + c.sumpool_adds,
    })
}
