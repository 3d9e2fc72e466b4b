//! Epilogue fusion: activations and residual additions become part of the conv or
//! linear node that produces their operand.
//!
//! Assumes a well-formed graph (run after `fold-batchnorm`, so folded batchnorms are
//! already the layer's bias). A `conv2d`/`linear` read only by one activation, or only by
//! one `+` whose other operand has the same shape, absorbs that node: the activation is
//! appended to its epilogue, the `+` becomes a `residual` step with the other operand as
//! an extra operand. Repeats until nothing changes, so `relu(conv + bias + x)` becomes
//! one node. Guarantees the same outputs; the absorbed nodes are removed.

use super::{Pass, PassContext};
use crate::ir::{EpilogueStep, Graph, NodeId, Op};

pub struct FuseEpilogue;

impl Pass for FuseEpilogue {
    fn name(&self) -> &'static str {
        "fuse-epilogue"
    }

    fn run(&self, graph: &mut Graph, _: &PassContext) -> bool {
        let mut changed = false;
        loop {
            let mut fused = false;
            for id in graph.topological_order() {
                if graph.contains(id) && fuse_one(graph, id) {
                    fused = true;
                }
            }
            if !fused {
                return changed;
            }
            changed = true;
        }
    }
}

/// Fuses the single user of `id` into it, if possible.
fn fuse_one(graph: &mut Graph, id: NodeId) -> bool {
    if !matches!(graph.node(id).op, Op::Conv2d(_) | Op::Linear(_)) {
        return false;
    }
    let users = graph.users(id);
    if users.len() != 1 || graph.is_output(id) {
        return false;
    }
    let user = users[0];
    let operands = graph.operands(user);
    let (step, extra) = match graph.node(user).op {
        Op::Activation(act) => (EpilogueStep::Activation(act), None),
        Op::Add => {
            let other = if operands[0] == id {
                operands[1]
            } else {
                operands[0]
            };
            if other == id || graph.node(other).shape != graph.node(id).shape {
                return false;
            }
            (EpilogueStep::Residual, Some(other))
        }
        _ => return false,
    };
    match &mut graph.node_mut(id).op {
        Op::Conv2d(a) => a.epilogue.push(step),
        Op::Linear(a) => a.epilogue.push(step),
        _ => unreachable!("checked above"),
    }
    if let Some(other) = extra {
        let mut new_operands = graph.operands(id);
        new_operands.push(other);
        graph.set_operands(id, &new_operands);
    }
    graph.replace_all_uses(user, id);
    graph.remove_node(user);
    true
}
