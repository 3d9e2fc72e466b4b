//! Machine-readable reports of the facade: the `scc check --json` object, shared by the
//! command line and the Python package (`scc.check`).

use crate::{Model, ProjectionReport};
use scc_compiler::Graph;
use scc_compiler::stats;
use std::collections::BTreeMap;

/// The `scc check --json` report of `model` as executed by `graph` (its optimised graph):
/// the model's inputs, outputs and parameter count (as written), the executed graph's MACs,
/// sum-pool additions and memory plan, one row per layer, and — when weights were checked —
/// the structure residual of every projected dense kernel.
pub fn check_json(
    model: &Model,
    graph: &Graph,
    residuals: Option<&[ProjectionReport]>,
) -> serde_json::Value {
    let costs = stats::costs(graph);
    let totals = stats::totals(&costs);
    // Parameters and structured MACs are the model's (as written, the fixtures' definition),
    // whatever the passes folded or how the structured layers execute.
    let as_written = stats::totals(&stats::costs(model.graph()));
    let memory = scc_compiler::memory::plan_graph(graph);
    let placement: BTreeMap<_, _> = memory
        .placements
        .iter()
        .map(|(id, offset, bytes)| (*id, (*offset, *bytes)))
        .collect();
    let layers: Vec<serde_json::Value> = costs
        .iter()
        .map(|c| {
            let node = graph.node(c.node);
            let (offset, bytes) = placement.get(&c.node).copied().unwrap_or((0, 0));
            serde_json::json!({
                "name": node.name,
                "op": node.op.name(),
                "attributes": node.op.attributes(),
                "shape": node.shape,
                "params": c.params,
                "dense_macs": c.dense_macs,
                "structured_macs": c.structured_macs,
                "sumpool_adds": c.sumpool_adds,
                "arena_offset": offset,
                "bytes": bytes,
                "execution": execution(node).map(|e| e.name()),
                "layout": graph.layout(c.node).name(),
            })
        })
        .collect();
    let named = |list: Vec<(String, Vec<usize>)>| {
        list.into_iter()
            .map(|(n, s)| serde_json::json!({"name": n, "shape": s}))
            .collect::<Vec<_>>()
    };
    let mut json = serde_json::json!({
        "model": model.name(),
        "inputs": named(model.inputs()),
        "outputs": named(model.outputs()),
        "params": as_written.params,
        "dense_macs": totals.dense_macs,
        "structured_macs": as_written.structured_macs,
        "executed_macs": totals.structured_macs,
        "sumpool_adds": totals.sumpool_adds,
        "arena_bytes": memory.arena_bytes,
        "naive_bytes": memory.naive_bytes,
        "tier": graph.tier().map(|t| t.name()),
        "layers": layers,
    });
    if let Some(reports) = residuals {
        json["structure_residuals"] = reports
            .iter()
            .map(
                |r| serde_json::json!({"layer": r.layer, "relative_residual": r.relative_residual}),
            )
            .collect();
    }
    json
}

/// How a node of a structured layer executes (`None` for other nodes).
pub fn execution(node: &scc_compiler::Node) -> Option<scc_compiler::ir::Execution> {
    match &node.op {
        scc_compiler::Op::Conv2d(a) => a.execution,
        scc_compiler::Op::StructuredConv2d(a) => Some(
            a.execution
                .unwrap_or(scc_compiler::ir::Execution::Decomposed),
        ),
        _ => None,
    }
}
