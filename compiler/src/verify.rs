//! The graph verifier: checks the invariants every pass must preserve.
//!
//! A graph is well formed when it is acyclic; every input node is registered at its
//! index; every output names a live node; every node's shape equals
//! [`crate::shape::infer`] of its operands; every node lists the parameters its op reads,
//! with the shapes the op expects; and every derived parameter reads existing parameters.

use crate::ir::{Graph, Op, ParamValue, format_shape};
use crate::shape;
use crate::weights::op_weights;

/// Checks `graph`; the error says which node or parameter is malformed and how.
pub fn verify(graph: &Graph) -> Result<(), String> {
    let order = graph.topological_order();
    if order.len() != graph.node_count() {
        return Err("the graph has a cycle".to_string());
    }
    for (index, (name, id)) in graph.inputs().iter().enumerate() {
        if !graph.contains(*id) {
            return Err(format!("input `{name}` names a removed node {id}"));
        }
        if graph.node(*id).op != (Op::Input { index }) {
            return Err(format!(
                "input `{name}` is not an input node at index {index}"
            ));
        }
    }
    for (name, id) in graph.outputs() {
        if !graph.contains(*id) {
            return Err(format!("output `{name}` names a removed node {id}"));
        }
    }
    for id in order {
        let node = graph.node(id);
        if let Op::Input { .. } = node.op {
            if !graph.operands(id).is_empty() {
                return Err(format!("input node {id} `{}` has operands", node.name));
            }
            continue;
        }
        let operands = graph.operand_shapes(id);
        let inferred = shape::infer(&node.op, &operands)
            .map_err(|e| format!("node {id} `{}` ({}): {e}", node.name, node.op.name()))?;
        if inferred != node.shape {
            return Err(format!(
                "node {id} `{}` ({}) records shape {} but its operands give {}",
                node.name,
                node.op.name(),
                format_shape(&node.shape),
                format_shape(&inferred)
            ));
        }
        let expected = op_weights(&node.op, operands[0]);
        if expected.len() != node.params.len() {
            return Err(format!(
                "node {id} `{}` ({}) reads {} parameter(s), its op needs {}",
                node.name,
                node.op.name(),
                node.params.len(),
                expected.len()
            ));
        }
        for ((suffix, shape, _), param) in expected.iter().zip(&node.params) {
            if param.index() >= graph.param_ids().count() {
                return Err(format!(
                    "node {id} `{}` reads a missing parameter {param}",
                    node.name
                ));
            }
            let actual = &graph.param(*param).shape;
            if actual != shape {
                return Err(format!(
                    "node {id} `{}`: parameter `{suffix}` ({}) has shape {}, expected {}",
                    node.name,
                    graph.param(*param).name,
                    format_shape(actual),
                    format_shape(shape)
                ));
            }
        }
    }
    let count = graph.param_ids().count();
    for id in graph.param_ids() {
        if let ParamValue::Derived(expr) = &graph.param(id).value
            && let Some(missing) = expr.operands().into_iter().find(|p| p.index() >= count)
        {
            return Err(format!(
                "parameter {id} reads a missing parameter {missing}"
            ));
        }
    }
    Ok(())
}
