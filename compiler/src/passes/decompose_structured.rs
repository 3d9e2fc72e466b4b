//! Structured decomposition: `sconv2d` → sum-pool + small conv (or one composed conv),
//! `slinear` → feature sum-pool + small linear.
//!
//! Assumes a well-formed graph. Guarantees that no `sconv2d`/`slinear` remains. A layer
//! whose execution (`choose-execution`; none chosen means decomposed) is decomposed or fused
//! becomes an explicit [`Op::SumPool3d`] (box: channels within each group × height × width,
//! stride 1, the layer's zero padding folded into the pool) followed by a dense `conv2d` over
//! `alpha` with the layer's stride and no padding; the conv records the execution (a fused
//! pool is placed inside the conv's tiles by `choose-layout`). Along an axis whose box is 1
//! wide the pool has nothing to sum, so that axis's padding stays with the conv; a degenerate
//! box (c = C/groups, n = kernel) produces no pooling node at all. A composed layer becomes
//! one `conv2d` with the layer's kernel, stride and padding over the dense kernel rebuilt from
//! `alpha` (a derived parameter, computed at compile time). Each conv records the dense
//! layer's taps (`dense_taps`) for cost reports.

use super::{Pass, PassContext};
use crate::ir::{
    ConvAttrs, Execution, Graph, LinearAttrs, Node, Op, Param, ParamExpr, ParamValue,
    SumPool3dAttrs, SumPoolAlgorithm, WeightRole,
};
use scc_runtime::structure::structure_box;

pub struct DecomposeStructured;

impl Pass for DecomposeStructured {
    fn name(&self) -> &'static str {
        "decompose-structured"
    }

    fn run(&self, graph: &mut Graph, _: &PassContext) -> bool {
        let mut changed = false;
        for id in graph.topological_order() {
            let node = graph.node(id).clone();
            let input = graph.operands(id);
            let input_shape = graph
                .node(input.first().copied().unwrap_or(id))
                .shape
                .clone();
            let replacement = match &node.op {
                Op::StructuredConv2d(a) if a.execution == Some(Execution::Composed) => {
                    let cg = input_shape[1] / a.groups;
                    let alpha = node.params[0];
                    let alpha_param = graph.param(alpha).clone();
                    let weight = graph.add_param(Param {
                        name: format!("compose({})", alpha_param.name),
                        shape: vec![a.out_channels, cg, a.kernel.0, a.kernel.1],
                        role: WeightRole::Derived,
                        value: ParamValue::Derived(ParamExpr::ComposeStructured {
                            alpha,
                            group_channels: cg,
                            kernel: a.kernel,
                        }),
                    });
                    let mut params = node.params.clone();
                    params[0] = weight;
                    let conv = Op::Conv2d(ConvAttrs {
                        out_channels: a.out_channels,
                        kernel: a.kernel,
                        stride: a.stride,
                        pad: a.pad,
                        dilation: (1, 1),
                        groups: a.groups,
                        bias: a.bias,
                        epilogue: Vec::new(),
                        dense_taps: Some(cg * a.kernel.0 * a.kernel.1),
                        execution: Some(Execution::Composed),
                    });
                    let composed = graph.add_node(
                        Node {
                            op: conv,
                            params,
                            ..node.clone()
                        },
                        &[input[0]],
                    );
                    graph.replace_all_uses(id, composed);
                    graph.remove_node(id);
                    changed = true;
                    None
                }
                Op::StructuredConv2d(a) => {
                    let cg = input_shape[1] / a.groups;
                    let window = structure_box(cg, a.c, a.kernel.0, a.n.0, a.kernel.1, a.n.1);
                    let pool_pad = (
                        if window.1 > 1 { a.pad.0 } else { 0 },
                        if window.2 > 1 { a.pad.1 } else { 0 },
                    );
                    let mut source = input[0];
                    if window != (1, 1, 1) {
                        let attrs = SumPool3dAttrs {
                            groups: a.groups,
                            window,
                            pad: pool_pad,
                            stride: (1, 1),
                            algorithm: SumPoolAlgorithm::Direct,
                        };
                        let op = Op::SumPool3d(attrs);
                        let shape = crate::shape::infer(&op, &[&input_shape])
                            .expect("the box fits the padded input");
                        let pool = Node {
                            op,
                            shape,
                            name: format!("{}.sumpool", node.name),
                            weight_path: None,
                            params: Vec::new(),
                            span: node.span,
                        };
                        source = graph.add_node(pool, &[source]);
                    }
                    let conv = Op::Conv2d(ConvAttrs {
                        out_channels: a.out_channels,
                        kernel: a.n,
                        stride: a.stride,
                        pad: (a.pad.0 - pool_pad.0, a.pad.1 - pool_pad.1),
                        dilation: (1, 1),
                        groups: a.groups,
                        bias: a.bias,
                        epilogue: Vec::new(),
                        dense_taps: Some(cg * a.kernel.0 * a.kernel.1),
                        execution: Some(a.execution.unwrap_or(Execution::Decomposed)),
                    });
                    Some((conv, source))
                }
                Op::StructuredLinear {
                    out_features,
                    c,
                    bias,
                } => {
                    let features = input_shape[1];
                    let window = features - c + 1;
                    let mut source = input[0];
                    if window > 1 {
                        let pool = Node {
                            op: Op::SumPoolFeatures { window },
                            shape: vec![input_shape[0], *c],
                            name: format!("{}.sumpool", node.name),
                            weight_path: None,
                            params: Vec::new(),
                            span: node.span,
                        };
                        source = graph.add_node(pool, &[source]);
                    }
                    let linear = Op::Linear(LinearAttrs {
                        out_features: *out_features,
                        bias: *bias,
                        epilogue: Vec::new(),
                        dense_taps: Some(features),
                    });
                    Some((linear, source))
                }
                _ => None,
            };
            if let Some((op, source)) = replacement {
                let small = graph.add_node(Node { op, ..node }, &[source]);
                graph.replace_all_uses(id, small);
                graph.remove_node(id);
                changed = true;
            }
        }
        changed
    }
}
