//! The reference interpreter: the project's oracle.
//!
//! Assumes a graph produced by lowering (shapes inferred) and [`Weights`] bound to it.
//! Executes nodes in topological order with the plain kernels of `scc_runtime::kernels`.
//! Structured layers run as the literal 3-D sum-pool followed by the small conv over
//! `alpha` (never through a composed dense kernel). Every intermediate is freed after
//! its last use.

use crate::ir::{
    EpilogueStep, Graph, NodeId, Op, ParamId, ParamValue, SumPoolAlgorithm, UpsampleMode,
    format_shape,
};
use crate::weights::{self, Weights};
use scc_runtime::Tensor;
use scc_runtime::kernels::{self, Conv2dParams, Pool2dParams};
use scc_runtime::structure;
use scc_runtime::sumpool::{self, SumPoolSpec};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

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

/// Parameter values of one graph, resolved from bound weights on first use: external
/// parameters by name, derived ones by evaluating their weight arithmetic.
pub struct ParamCache<'w> {
    weights: &'w Weights,
    values: Vec<Option<Arc<Tensor>>>,
}

impl<'w> ParamCache<'w> {
    pub fn new(graph: &Graph, weights: &'w Weights) -> ParamCache<'w> {
        ParamCache {
            weights,
            values: vec![None; graph.param_ids().count()],
        }
    }

    /// The value of `id`.
    pub fn get(&mut self, graph: &Graph, id: ParamId) -> Result<Arc<Tensor>, RunError> {
        if let Some(value) = &self.values[id.index()] {
            return Ok(value.clone());
        }
        let param = graph.param(id);
        let value = match &param.value {
            ParamValue::External => Arc::new(
                self.weights
                    .get(&param.name)
                    .ok_or_else(|| RunError::MissingWeight {
                        name: param.name.clone(),
                    })?
                    .clone(),
            ),
            ParamValue::Constant(t) => t.clone(),
            ParamValue::Derived(expr) => {
                let mut operands = HashMap::new();
                for operand in expr.operands() {
                    operands.insert(operand, self.get(graph, operand)?);
                }
                Arc::new(weights::derive(expr, &|p| operands[&p].as_ref()))
            }
        };
        self.values[id.index()] = Some(value.clone());
        Ok(value)
    }

    /// The values of a node's parameters, in order.
    pub fn node_params(&mut self, graph: &Graph, id: NodeId) -> Result<Vec<Arc<Tensor>>, RunError> {
        graph
            .node(id)
            .params
            .clone()
            .into_iter()
            .map(|p| self.get(graph, p))
            .collect()
    }
}

/// Runs the graph on `inputs` (by input name); returns the outputs in `return` order.
pub fn run(
    graph: &Graph,
    weights: &Weights,
    inputs: &BTreeMap<String, Tensor>,
) -> Result<Vec<(String, Tensor)>, RunError> {
    run_timed(graph, weights, inputs, None)
}

/// [`run`], adding each node's wall time to `times` when given.
pub fn run_timed(
    graph: &Graph,
    weights: &Weights,
    inputs: &BTreeMap<String, Tensor>,
    mut times: Option<&mut HashMap<NodeId, std::time::Duration>>,
) -> Result<Vec<(String, Tensor)>, RunError> {
    check_inputs(graph, inputs)?;
    let mut params = ParamCache::new(graph, weights);
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
        let started = times.as_ref().map(|_| std::time::Instant::now());
        let node_params = params.node_params(graph, id)?;
        let result = {
            let args: Vec<&Tensor> = operands.iter().map(|o| &values[o]).collect();
            let param_refs: Vec<&Tensor> = node_params.iter().map(|p| p.as_ref()).collect();
            eval_node(graph, id, &args, &param_refs, inputs)
        };
        debug_assert_eq!(
            result.shape(),
            graph.node(id).shape.as_slice(),
            "node {}",
            graph.node(id).name
        );
        if let (Some(times), Some(started)) = (times.as_deref_mut(), started) {
            *times.entry(id).or_default() += started.elapsed();
        }
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

fn apply_epilogue(mut value: Tensor, steps: &[EpilogueStep], extra: &[&Tensor]) -> Tensor {
    let mut residuals = extra.iter();
    for step in steps {
        value = match step {
            EpilogueStep::Activation(act) => kernels::activation(&value, *act),
            EpilogueStep::Residual => kernels::add(
                &value,
                residuals.next().expect("a residual operand per step"),
            ),
        };
    }
    value
}

/// Evaluates one node on its operand values and parameter values (in `Node::params` order).
pub fn eval_node(
    graph: &Graph,
    id: NodeId,
    args: &[&Tensor],
    params: &[&Tensor],
    inputs: &BTreeMap<String, Tensor>,
) -> Tensor {
    let node = graph.node(id);
    let bias = |present: bool| if present { Some(params[1]) } else { None };
    match &node.op {
        Op::Input { index } => inputs[&graph.inputs()[*index].0].clone(),
        Op::Conv2d(a) => {
            let conv = Conv2dParams {
                stride: a.stride,
                pad: a.pad,
                dilation: a.dilation,
                groups: a.groups,
            };
            let value = kernels::conv2d(args[0], params[0], bias(a.bias), &conv);
            apply_epilogue(value, &a.epilogue, &args[1..])
        }
        Op::StructuredConv2d(a) => {
            let cg = args[0].shape()[1] / a.groups;
            let window = structure::structure_box(cg, a.c, a.kernel.0, a.n.0, a.kernel.1, a.n.1);
            let pooled = kernels::sumpool3d(args[0], a.groups, window, a.pad);
            let conv = Conv2dParams {
                stride: a.stride,
                pad: (0, 0),
                dilation: (1, 1),
                groups: a.groups,
            };
            kernels::conv2d(&pooled, params[0], bias(a.bias), &conv)
        }
        Op::Linear(a) => apply_epilogue(
            kernels::linear(args[0], params[0], bias(a.bias)),
            &a.epilogue,
            &args[1..],
        ),
        Op::StructuredLinear {
            c, bias: has_bias, ..
        } => {
            let pooled = kernels::sumpool_features(args[0], args[0].shape()[1] - c + 1);
            kernels::linear(&pooled, params[0], bias(*has_bias))
        }
        Op::BatchNorm { eps } => {
            kernels::batchnorm(args[0], params[0], params[1], params[2], params[3], *eps)
        }
        Op::Activation(act) => kernels::activation(args[0], *act),
        Op::MaxPool(p) => kernels::maxpool2d(args[0], &pool_params(p)),
        Op::AvgPool(p) => kernels::avgpool2d(args[0], &pool_params(p)),
        Op::SumPool(p) => kernels::sumpool2d(args[0], &pool_params(p)),
        Op::GlobalAvgPool => kernels::global_avgpool(args[0]),
        Op::Flatten => kernels::flatten(args[0]),
        Op::Softmax => kernels::softmax_dim1(args[0]),
        Op::Concat => kernels::concat_dim1(args),
        Op::Upsample(a) => kernels::resize(args[0], a.size, a.scale, resample(a)),
        Op::Add => kernels::add(args[0], args[1]),
        Op::Mul => kernels::mul(args[0], args[1]),
        Op::Sub => kernels::sub(args[0], args[1]),
        Op::Div => kernels::div(args[0], args[1]),
        Op::Clamp { min, max } => kernels::clamp(args[0], *min, *max),
        Op::LeakyRelu { slope } => kernels::leaky_relu(args[0], *slope),
        Op::Pad(p) => kernels::pad2d(args[0], p.sides(), p.value),
        Op::Scalar(a) => kernels::scalar(args[0], a.op, a.value, a.value_first),
        Op::Affine { bias: has_bias } => kernels::affine(args[0], params[0], bias(*has_bias)),
        Op::BatchNormTraining { eps } => {
            kernels::batchnorm_batch_statistics(args[0], params[0], params[1], *eps)
        }
        Op::SumPool3d(a) => {
            let spec = SumPoolSpec {
                groups: a.groups,
                window: a.window,
                pad: a.pad,
                stride: a.stride,
            };
            match a.algorithm {
                SumPoolAlgorithm::RunningSum => sumpool::sumpool_running(args[0], &spec),
                SumPoolAlgorithm::Direct => {
                    let full = kernels::sumpool3d(args[0], a.groups, a.window, a.pad);
                    subsample(&full, a.stride)
                }
            }
        }
        Op::SumPoolFeatures { window } => kernels::sumpool_features(args[0], *window),
        // Layouts are physical: every value is logically NCHW.
        Op::Reorder { .. } => args[0].clone(),
    }
}

/// Keeps every `stride`-th row and column of a rank-4 tensor.
fn subsample(x: &Tensor, stride: (usize, usize)) -> Tensor {
    if stride == (1, 1) {
        return x.clone();
    }
    let s = x.shape();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let (oh, ow) = ((h - 1) / stride.0 + 1, (w - 1) / stride.1 + 1);
    let mut out = Vec::with_capacity(n * c * oh * ow);
    for plane in x.data().chunks(h * w) {
        for y in 0..oh {
            for xx in 0..ow {
                out.push(plane[y * stride.0 * w + xx * stride.1]);
            }
        }
    }
    Tensor::new(vec![n, c, oh, ow], out).expect("subsampled shape")
}

fn pool_params(p: &crate::ir::PoolAttrs) -> Pool2dParams {
    Pool2dParams {
        kernel: p.kernel,
        stride: p.stride,
        pad: p.pad,
        ceil_mode: p.ceil_mode,
        count_include_pad: p.count_include_pad,
    }
}

/// The reference kernel's resampling mode of an `upsample`.
pub fn resample(a: &crate::ir::UpsampleAttrs) -> kernels::Resample {
    match a.mode {
        UpsampleMode::Nearest => kernels::Resample::Nearest,
        UpsampleMode::NearestExact => kernels::Resample::NearestExact,
        UpsampleMode::Bilinear => kernels::Resample::Bilinear {
            align_corners: a.align_corners,
        },
    }
}
