//! Dead-node elimination.
//!
//! Assumes a well-formed graph. Removes every node no output depends on (inputs stay:
//! they are the model's interface). Guarantees the same outputs.

use super::{Pass, PassContext};
use crate::ir::{Graph, Op};
use std::collections::HashSet;

pub struct DeadNodes;

impl Pass for DeadNodes {
    fn name(&self) -> &'static str {
        "dce"
    }

    fn run(&self, graph: &mut Graph, _: &PassContext) -> bool {
        let mut live = HashSet::new();
        let mut stack: Vec<_> = graph.outputs().iter().map(|(_, id)| *id).collect();
        while let Some(id) = stack.pop() {
            if live.insert(id) {
                stack.extend(graph.operands(id));
            }
        }
        let mut changed = false;
        for id in graph.node_ids() {
            if !live.contains(&id) && !matches!(graph.node(id).op, Op::Input { .. }) {
                graph.remove_node(id);
                changed = true;
            }
        }
        changed
    }
}
