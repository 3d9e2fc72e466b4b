//! Layout choice: the physical layout of every value, for the tier being compiled for.
//!
//! Assumes a well-formed graph whose structured layers are decomposed (it runs last, after
//! every rewriting pass). Guarantees:
//! - `graph.tier()` is the context's tier; on the 128-bit tier no layout changes (all plain);
//! - on a wide tier with `B` lanes, every node whose op has a channel-blocked kernel
//!   ([`blocked_kernel`]) produces NCHW{B}c: convolutions always (a dense conv reads a plain
//!   input directly, e.g. the model's image), pools, sum-pools, batchnorms, activations and
//!   `+`/`*` when an operand is blocked;
//! - every operand is in the layout its user's kernel reads ([`operand_layout`]): `reorder`
//!   nodes are inserted where it is not, one per value and layout, named `<value>.<layout>`;
//! - model inputs and outputs are plain;
//! - a conv whose structured layer chose the fused execution reads its sum-pool inside its
//!   tiles: the pool's value is [`Layout::Fused`] (never stored) and its operand blocked.
//!   Where that is not possible (the pool has another user, a shape the fused kernel does not
//!   cover, the 128-bit tier) the conv's execution becomes decomposed.
//!
//! Values are unchanged (a reorder is the identity on values), so the interpreter and
//! translation validation are unaffected.

use super::{Pass, PassContext};
use crate::ir::{Execution, Graph, Layout, Node, NodeId, Op};
use crate::target::Tier;
use std::collections::HashMap;

pub struct ChooseLayout;

/// Whether `op` over operands of `shapes` has a channel-blocked kernel of `lanes` lanes.
pub fn blocked_kernel(op: &Op, shapes: &[&Vec<usize>], lanes: usize) -> bool {
    let rank4 = shapes.first().is_some_and(|s| s.len() == 4);
    match op {
        Op::Conv2d(a) => {
            let c = shapes[0][1];
            let cg = c / a.groups;
            let opg = a.out_channels / a.groups;
            let codes = a.epilogue.len();
            let grouping = a.groups == 1
                || (cg.is_multiple_of(lanes) && opg.is_multiple_of(lanes))
                || (cg == 1 && opg == 1);
            grouping && codes <= scc_kernels::abi::MAX_EPILOGUE
        }
        // The blocked average divides by the whole window (PyTorch's defaults).
        Op::AvgPool(a) => rank4 && a.count_include_pad && !a.ceil_mode,
        Op::BatchNorm { .. }
        | Op::Activation(_)
        | Op::MaxPool(_)
        | Op::SumPool(_)
        | Op::GlobalAvgPool
        | Op::SumPool3d(_)
        | Op::Add
        | Op::Mul => rank4,
        Op::Input { .. }
        | Op::StructuredConv2d(_)
        | Op::Linear(_)
        | Op::StructuredLinear { .. }
        | Op::Flatten
        | Op::Softmax
        | Op::Concat
        | Op::Upsample(_)
        // The ONNX front end's ops run on plain values (the 128-bit kernels), reordered to.
        | Op::Sub
        | Op::Div
        | Op::Clamp { .. }
        | Op::LeakyRelu { .. }
        | Op::Pad(_)
        | Op::Transpose { .. }
        | Op::Scalar(_)
        | Op::Affine { .. }
        | Op::BatchNormTraining { .. }
        | Op::SumPoolFeatures { .. }
        | Op::Reorder { .. } => false,
    }
}

/// The layout node `id`'s kernel reads operand `position` in, when its own layout is
/// `layout` and the operand is currently `current`.
pub fn operand_layout(
    graph: &Graph,
    id: NodeId,
    position: usize,
    layout: Layout,
    current: Layout,
) -> Layout {
    match (&graph.node(id).op, layout) {
        // The conv kernels read a plain or a blocked input (dense convs); residuals are
        // in the output's layout.
        (Op::Conv2d(a), Layout::Blocked(_)) if position == 0 && a.groups == 1 => current,
        (Op::Reorder { .. }, _) => current,
        (_, layout) => layout,
    }
}

/// The layout `id` produces given its operands' layouts.
fn node_layout(
    graph: &Graph,
    id: NodeId,
    layouts: &HashMap<NodeId, Layout>,
    lanes: usize,
) -> Layout {
    let node = graph.node(id);
    let operands = graph.operands(id);
    let shapes = graph.operand_shapes(id);
    if !blocked_kernel(&node.op, &shapes, lanes) {
        return Layout::Plain;
    }
    let any_blocked = operands
        .iter()
        .any(|o| matches!(layouts.get(o), Some(Layout::Blocked(_))));
    match node.op {
        // A blocked conv pays for itself; so the first conv of the model starts the blocked region.
        Op::Conv2d(_) => Layout::Blocked(lanes),
        _ if any_blocked => Layout::Blocked(lanes),
        _ => Layout::Plain,
    }
}

/// Whether conv `id` (execution fused) can read its operand sum-pool inside its tiles.
fn fusable(graph: &Graph, id: NodeId, lanes: usize) -> bool {
    let Op::Conv2d(conv) = &graph.node(id).op else {
        return false;
    };
    let pool = graph.operands(id)[0];
    let Op::SumPool3d(p) = &graph.node(pool).op else {
        return false;
    };
    let input = &graph.node(graph.operands(pool)[0]).shape;
    let shapes = graph.operand_shapes(id);
    conv.kernel == (1, 1)
        && conv.pad == (0, 0)
        && conv.groups == 1
        && blocked_kernel(&graph.node(id).op, &shapes, lanes)
        && p.groups == 1
        && (p.window.1, p.window.2) == (1, 1)
        && p.pad == (0, 0)
        && p.stride == (1, 1)
        && input[1] <= scc_kernels::abi::MAX_POOL_CHANNELS
        && graph.users(pool) == [id]
        && !graph.is_output(pool)
}

/// Marks the fused pools and makes every other fused execution decomposed.
fn place_fused_pools(graph: &mut Graph, tier: Tier) -> Vec<NodeId> {
    let mut pools = Vec::new();
    for id in graph.node_ids() {
        let Op::Conv2d(a) = &graph.node(id).op else {
            continue;
        };
        if a.execution != Some(Execution::Fused) {
            continue;
        }
        if tier.is_wide() && fusable(graph, id, tier.lanes()) {
            pools.push(graph.operands(id)[0]);
        } else if let Op::Conv2d(a) = &mut graph.node_mut(id).op {
            a.execution = Some(Execution::Decomposed);
        }
    }
    pools
}

impl Pass for ChooseLayout {
    fn name(&self) -> &'static str {
        "choose-layout"
    }

    fn run(&self, graph: &mut Graph, context: &PassContext) -> bool {
        graph.set_tier(Some(context.tier));
        let fused = place_fused_pools(graph, context.tier);
        if context.tier == Tier::V128 {
            return false;
        }
        let lanes = context.tier.lanes();
        let mut layouts: HashMap<NodeId, Layout> = HashMap::new();
        let mut reorders: HashMap<(NodeId, Layout), NodeId> = HashMap::new();
        let mut changed = false;
        for id in graph.topological_order() {
            if matches!(graph.node(id).op, Op::Input { .. }) {
                layouts.insert(id, Layout::Plain);
                continue;
            }
            let layout = if fused.contains(&id) {
                Layout::Fused
            } else {
                node_layout(graph, id, &layouts, lanes)
            };
            let operands = graph.operands(id);
            let mut rewired = operands.clone();
            for (position, operand) in operands.iter().enumerate() {
                let current = layouts[operand];
                let wanted = if layout == Layout::Fused {
                    Layout::Blocked(lanes)
                } else {
                    operand_layout(graph, id, position, layout, current)
                };
                if wanted != current {
                    rewired[position] =
                        reorder(graph, &mut reorders, &mut layouts, *operand, wanted);
                }
            }
            if rewired != operands {
                graph.set_operands(id, &rewired);
            }
            layouts.insert(id, layout);
            if layout != Layout::Plain {
                graph.set_layout(id, layout);
                changed = true;
            }
        }
        for (_, output) in graph.outputs().to_vec() {
            if layouts[&output] != Layout::Plain {
                let plain = reorder(graph, &mut reorders, &mut layouts, output, Layout::Plain);
                graph.redirect_output(output, plain);
            }
        }
        changed
    }
}

/// The value `source` in `layout`: an existing reorder of it, or a new one.
fn reorder(
    graph: &mut Graph,
    reorders: &mut HashMap<(NodeId, Layout), NodeId>,
    layouts: &mut HashMap<NodeId, Layout>,
    source: NodeId,
    layout: Layout,
) -> NodeId {
    if let Some(&existing) = reorders.get(&(source, layout)) {
        return existing;
    }
    let node = graph.node(source);
    let reordered = Node {
        op: Op::Reorder { to: layout },
        shape: node.shape.clone(),
        name: format!("{}.{}", node.name, layout.name()),
        weight_path: None,
        params: Vec::new(),
        span: node.span,
    };
    let id = graph.add_node(reordered, &[source]);
    graph.set_layout(id, layout);
    layouts.insert(id, layout);
    reorders.insert((source, layout), id);
    id
}
