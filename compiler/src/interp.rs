//! The reference interpreter: the project's oracle.
//!
//! Assumes a graph produced by lowering (shapes inferred) and [`Weights`] bound to it.
//! Executes nodes in topological order with the plain kernels of `scc_runtime::kernels`.
//! Structured layers run as the literal 3-D sum-pool followed by the small conv over
//! `alpha` (never through a composed dense kernel). Every intermediate is freed after
//! its last use.

use crate::ir::{Graph, NodeId, Op, format_shape};
use crate::weights::Weights;
use scc_runtime::Tensor;
use scc_runtime::kernels::{self, Conv2dParams, Pool2dParams};
use scc_runtime::structure;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error("missing input `{name}` (expected shape {})", format_shape(.expected))]
    MissingInput { name: String, expected: Vec<usize> },
    #[error("unexpected input `{name}`: the model's inputs are {}", .known.join(", "))]
    /// `known` lists the inputs as `` `name` [shape] ``.
    UnexpectedInput { name: String, known: Vec<String> },
    #[error("input `{name}` has shape {}, expected {}", format_shape(.found), format_shape(.expected))]
    InputShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("weight `{name}` is not bound")]
    MissingWeight { name: String },
}

/// Checks that `inputs` holds exactly the graph's inputs with their declared shapes.
pub fn check_inputs(graph: &Graph, inputs: &BTreeMap<String, Tensor>) -> Result<(), RunError> {
    let known: Vec<String> = graph
        .inputs()
        .iter()
        .map(|(n, id)| format!("`{n}` {}", format_shape(&graph.node(*id).shape)))
        .collect();
    for name in inputs.keys() {
        if !graph.inputs().iter().any(|(n, _)| n == name) {
            return Err(RunError::UnexpectedInput {
                name: name.clone(),
                known,
            });
        }
    }
    for (name, id) in graph.inputs() {
        let expected = graph.node(*id).shape.clone();
        match inputs.get(name) {
            None => {
                return Err(RunError::MissingInput {
                    name: name.clone(),
                    expected,
                });
            }
            Some(t) if t.shape() != expected.as_slice() => {
                return Err(RunError::InputShape {
                    name: name.clone(),
                    expected,
                    found: t.shape().to_vec(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Runs the graph on `inputs` (by input name); returns the outputs in `return` order.
pub fn run(
    graph: &Graph,
    weights: &Weights,
    inputs: &BTreeMap<String, Tensor>,
) -> Result<Vec<(String, Tensor)>, RunError> {
    check_inputs(graph, inputs)?;
    let order = graph.topological_order();
    let mut remaining_uses: HashMap<NodeId, usize> = HashMap::new();
    for &id in &order {
        for operand in graph.operands(id) {
            *remaining_uses.entry(operand).or_default() += 1;
        }
    }
    for (_, id) in graph.outputs() {
        *remaining_uses.entry(*id).or_default() += 1;
    }
    let mut values: HashMap<NodeId, Tensor> = HashMap::new();
    for id in order {
        let operands = graph.operands(id);
        let result = {
            let args: Vec<&Tensor> = operands.iter().map(|o| &values[o]).collect();
            eval_node(graph, id, &args, weights, inputs)?
        };
        debug_assert_eq!(
            result.shape(),
            graph.node(id).shape.as_slice(),
            "node {}",
            graph.node(id).name
        );
        for operand in operands {
            let uses = remaining_uses
                .get_mut(&operand)
                .expect("operand use counted");
            *uses -= 1;
            if *uses == 0 {
                values.remove(&operand);
            }
        }
        if remaining_uses.get(&id).copied().unwrap_or(0) > 0 {
            values.insert(id, result);
        }
    }
    Ok(graph
        .outputs()
        .iter()
        .map(|(name, id)| (name.clone(), values[id].clone()))
        .collect())
}

fn weight<'w>(
    weights: &'w Weights,
    graph: &Graph,
    id: NodeId,
    suffix: &str,
) -> Result<&'w Tensor, RunError> {
    let path = graph.node(id).weight_path.as_deref().unwrap_or_default();
    let name = format!("{path}.{suffix}");
    weights.get(&name).ok_or(RunError::MissingWeight { name })
}

/// Evaluates one node on its operand values.
pub fn eval_node(
    graph: &Graph,
    id: NodeId,
    args: &[&Tensor],
    weights: &Weights,
    inputs: &BTreeMap<String, Tensor>,
) -> Result<Tensor, RunError> {
    let node = graph.node(id);
    let w = |suffix: &str| weight(weights, graph, id, suffix);
    Ok(match &node.op {
        Op::Input { index } => inputs[&graph.inputs()[*index].0].clone(),
        Op::Conv2d(a) => {
            let bias = if a.bias { Some(w("bias")?) } else { None };
            let params = Conv2dParams {
                stride: a.stride,
                pad: a.pad,
                dilation: a.dilation,
                groups: a.groups,
            };
            kernels::conv2d(args[0], w("weight")?, bias, &params)
        }
        Op::StructuredConv2d(a) => {
            let cg = args[0].shape()[1] / a.groups;
            let window = structure::structure_box(cg, a.c, a.kernel.0, a.n.0, a.kernel.1, a.n.1);
            let pooled = kernels::sumpool3d(args[0], a.groups, window, a.pad);
            let bias = if a.bias { Some(w("bias")?) } else { None };
            let params = Conv2dParams {
                stride: a.stride,
                pad: (0, 0),
                dilation: (1, 1),
                groups: a.groups,
            };
            kernels::conv2d(&pooled, w("alpha")?, bias, &params)
        }
        Op::Linear { bias, .. } => {
            let bias = if *bias { Some(w("bias")?) } else { None };
            kernels::linear(args[0], w("weight")?, bias)
        }
        Op::StructuredLinear { c, bias, .. } => {
            let pooled = kernels::sumpool_features(args[0], args[0].shape()[1] - c + 1);
            let bias = if *bias { Some(w("bias")?) } else { None };
            kernels::linear(&pooled, w("alpha")?, bias)
        }
        Op::BatchNorm { eps } => kernels::batchnorm(
            args[0],
            w("weight")?,
            w("bias")?,
            w("running_mean")?,
            w("running_var")?,
            *eps,
        ),
        Op::Activation(act) => kernels::activation(args[0], *act),
        Op::MaxPool(p) => kernels::maxpool2d(args[0], &pool_params(p)),
        Op::AvgPool(p) => kernels::avgpool2d(args[0], &pool_params(p)),
        Op::SumPool(p) => kernels::sumpool2d(args[0], &pool_params(p)),
        Op::GlobalAvgPool => kernels::global_avgpool(args[0]),
        Op::Flatten => kernels::flatten(args[0]),
        Op::Softmax => kernels::softmax_dim1(args[0]),
        Op::Concat => kernels::concat_dim1(args),
        Op::Upsample { scale, mode } => match mode {
            crate::ir::UpsampleMode::Nearest => kernels::upsample_nearest(args[0], *scale),
            crate::ir::UpsampleMode::Bilinear => kernels::upsample_bilinear(args[0], *scale),
        },
        Op::Add => kernels::add(args[0], args[1]),
        Op::Mul => kernels::mul(args[0], args[1]),
    })
}

fn pool_params(p: &crate::ir::PoolAttrs) -> Pool2dParams {
    Pool2dParams {
        kernel: p.kernel,
        stride: p.stride,
        pad: p.pad,
    }
}
