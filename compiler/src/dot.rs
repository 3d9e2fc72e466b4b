//! Graphviz DOT rendering of a graph.

use crate::ir::{Graph, Op, format_shape};
use std::fmt::Write;

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The graph as a DOT `digraph`: one box per node (name, op, attributes, shape), inputs
/// and outputs highlighted, edges labelled with the operand position when an op has several.
pub fn to_dot(graph: &Graph) -> String {
    let mut out = String::new();
    writeln!(out, "digraph \"{}\" {{", escape(&graph.name)).unwrap();
    writeln!(out, "  rankdir=TB;").unwrap();
    writeln!(
        out,
        "  node [shape=box, style=rounded, fontname=\"Helvetica\"];"
    )
    .unwrap();
    for id in graph.topological_order() {
        let node = graph.node(id);
        let attrs = node.op.attributes();
        let mut label = format!("{}\\n{}", escape(&node.name), escape(node.op.name()));
        if !attrs.is_empty() && !matches!(node.op, Op::Input { .. }) {
            label.push_str(&format!(" {}", escape(&attrs)));
        }
        label.push_str(&format!("\\n{}", format_shape(&node.shape)));
        let style = match node.op {
            Op::Input { .. } => ", style=\"rounded,filled\", fillcolor=\"#d0e8ff\"",
            Op::StructuredConv2d(_) | Op::StructuredLinear { .. } => {
                ", style=\"rounded,filled\", fillcolor=\"#ffe8c0\""
            }
            _ => "",
        };
        writeln!(out, "  n{} [label=\"{label}\"{style}];", id.index()).unwrap();
        let operands = graph.operands(id);
        for (port, operand) in operands.iter().enumerate() {
            if operands.len() > 1 {
                writeln!(
                    out,
                    "  n{} -> n{} [label=\"{port}\"];",
                    operand.index(),
                    id.index()
                )
                .unwrap();
            } else {
                writeln!(out, "  n{} -> n{};", operand.index(), id.index()).unwrap();
            }
        }
    }
    for (i, (name, id)) in graph.outputs().iter().enumerate() {
        writeln!(
            out,
            "  out{i} [label=\"{}\", shape=ellipse, style=filled, fillcolor=\"#d8f0d0\"];",
            escape(name)
        )
        .unwrap();
        writeln!(out, "  n{} -> out{i};", id.index()).unwrap();
    }
    out.push_str("}\n");
    out
}
