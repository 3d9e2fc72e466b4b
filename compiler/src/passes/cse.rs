//! Common-subexpression elimination.
//!
//! Assumes a well-formed graph. Two nodes with the same op (attributes included), the
//! same operands in the same order and the same parameters compute the same tensor; the
//! later one (in topological order) is replaced by the earlier. Input nodes are never
//! merged. Guarantees the same outputs with no two such nodes left.

use super::{Pass, PassContext};
use crate::ir::{Graph, NodeId, Op};
use std::collections::HashMap;

pub struct CommonSubexpressions;

impl Pass for CommonSubexpressions {
    fn name(&self) -> &'static str {
        "cse"
    }

    fn run(&self, graph: &mut Graph, _: &PassContext) -> bool {
        let mut seen: HashMap<String, NodeId> = HashMap::new();
        let mut changed = false;
        for id in graph.topological_order() {
            let node = graph.node(id);
            if let Op::Input { .. } = node.op {
                continue;
            }
            let key = format!("{:?}|{:?}|{:?}", node.op, graph.operands(id), node.params);
            match seen.get(&key) {
                Some(&earlier) => {
                    graph.replace_all_uses(id, earlier);
                    graph.remove_node(id);
                    changed = true;
                }
                None => {
                    seen.insert(key, id);
                }
            }
        }
        changed
    }
}
