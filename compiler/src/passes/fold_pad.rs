//! Pad folding: an explicit zero `pad` that is symmetric along each axis becomes part of the
//! padding of the windowed op that reads it.
//!
//! Assumes a well-formed graph (it runs first, before structured layers are decomposed). A
//! `pad` with value `+0.0`, `top == bottom` and `left == right`, read as the first operand of a
//! `conv2d`, an `sconv2d`, a `sumpool`, or an `avgpool` that counts its padding and is not in
//! ceil mode, is bypassed: the user reads the pad's operand instead and its own zero padding
//! grows by `(top, left)` — when the user's shape rule accepts the larger padding (pools: at
//! most half the kernel); otherwise it is left alone. Zero padding twice is zero padding once,
//! so the outputs are unchanged (bit for bit: the padded zeros contribute exact zeros). The
//! `pad` node stays while other nodes read it; `dce` removes it otherwise. An asymmetric pad
//! (e.g. TensorFlow's "same" padding of a stride-2 layer) stays a node of its own.

use super::{Pass, PassContext};
use crate::ir::{Graph, NodeId, Op};
use crate::shape;

pub struct FoldPad;

impl Pass for FoldPad {
    fn name(&self) -> &'static str {
        "fold-pad"
    }

    fn run(&self, graph: &mut Graph, _: &PassContext) -> bool {
        let mut changed = false;
        for id in graph.topological_order() {
            if fold_into(graph, id) {
                changed = true;
            }
        }
        changed
    }
}

/// Makes `id` read through the symmetric zero pad feeding it, if it can.
fn fold_into(graph: &mut Graph, id: NodeId) -> bool {
    let operands = graph.operands(id);
    let Some(&first) = operands.first() else {
        return false;
    };
    let Op::Pad(p) = &graph.node(first).op else {
        return false;
    };
    if p.value.to_bits() != 0 || p.top != p.bottom || p.left != p.right {
        return false;
    }
    let extra = (p.top, p.left);
    let grow = |pad: &mut (usize, usize)| {
        pad.0 += extra.0;
        pad.1 += extra.1;
    };
    let mut op = graph.node(id).op.clone();
    match &mut op {
        Op::Conv2d(a) => grow(&mut a.pad),
        Op::StructuredConv2d(a) => grow(&mut a.pad),
        Op::SumPool(a) => grow(&mut a.pad),
        Op::AvgPool(a) if a.count_include_pad && !a.ceil_mode => grow(&mut a.pad),
        Op::AvgPool(_)
        | Op::Input { .. }
        | Op::Linear(_)
        | Op::StructuredLinear { .. }
        | Op::BatchNorm { .. }
        | Op::BatchNormTraining { .. }
        | Op::Affine { .. }
        | Op::Activation(_)
        | Op::Clamp { .. }
        | Op::LeakyRelu { .. }
        | Op::MaxPool(_)
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
        | Op::Reorder { .. } => return false,
    }
    let source = graph.operands(first)[0];
    let mut rewired = operands.clone();
    rewired[0] = source;
    let shapes: Vec<&Vec<usize>> = rewired.iter().map(|&o| &graph.node(o).shape).collect();
    match shape::infer(&op, &shapes) {
        Ok(shape) if shape == graph.node(id).shape => {}
        _ => return false,
    }
    graph.node_mut(id).op = op;
    graph.set_operands(id, &rewired);
    true
}
