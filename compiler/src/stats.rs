//! Cost accounting: parameters and multiply-accumulates per node, as defined by the
//! fixtures' `stats.json`.
//!
//! Params: conv/linear weights or alphas, biases, batchnorm weight and bias (not running
//! statistics). MACs: output elements × taps, with taps = `Cg·kh·kw` (dense) and
//! `c·nh·nw` (structured) for convolutions, `F` or `c` for linear layers; other ops
//! count no MACs.

use crate::ir::{Graph, NodeId, Op};
use crate::weights::{WeightRole, node_weights};

/// The cost of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCost {
    pub node: NodeId,
    pub params: usize,
    /// MACs of the dense-equivalent layer.
    pub dense_macs: usize,
    /// MACs actually executed (the small conv over `alpha` for structured layers).
    pub structured_macs: usize,
}

/// Whole-model totals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    pub params: usize,
    pub dense_macs: usize,
    pub structured_macs: usize,
}

pub fn node_cost(graph: &Graph, id: NodeId) -> NodeCost {
    let node = graph.node(id);
    let out_elems: usize = node.shape.iter().product();
    let params = node_weights(graph, id)
        .iter()
        .filter(|(_, _, role)| !matches!(role, WeightRole::RunningMean | WeightRole::RunningVar))
        .map(|(_, shape, _)| shape.iter().product::<usize>())
        .sum();
    let input = graph
        .operand_shapes(id)
        .first()
        .map(|s| (*s).clone())
        .unwrap_or_default();
    let (dense_taps, structured_taps) = match &node.op {
        Op::Conv2d(a) => {
            let taps = input[1] / a.groups * a.kernel.0 * a.kernel.1;
            (taps, taps)
        }
        Op::StructuredConv2d(a) => (
            input[1] / a.groups * a.kernel.0 * a.kernel.1,
            a.c * a.n.0 * a.n.1,
        ),
        Op::Linear { .. } => (input[1], input[1]),
        Op::StructuredLinear { c, .. } => (input[1], *c),
        Op::Input { .. }
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
        | Op::Mul => (0, 0),
    };
    NodeCost {
        node: id,
        params,
        dense_macs: out_elems * dense_taps,
        structured_macs: out_elems * structured_taps,
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
    })
}
