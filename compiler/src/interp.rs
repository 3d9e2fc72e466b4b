//! The reference interpreter: the project's oracle.
//!
//! Assumes a graph produced by lowering (shapes inferred) and [`Weights`] bound to it.
//! Executes nodes in topological order with the plain kernels of `scc_runtime::kernels`.
//! Structured layers run as the literal 3-D sum-pool followed by the small conv over
//! `alpha` (never through a composed dense kernel). Every intermediate is freed after
//! its last use. Before it allocates anything, a run adds up the bytes it will need
//! ([`run_requirement`]) and checks them against the memory limit; every buffer is then
//! allocated fallibly, so a model too large for the machine is a [`RunError::Memory`].

use crate::ir::{
    EpilogueStep, Graph, NodeId, Op, ParamValue, SumPoolAlgorithm, UpsampleMode, format_shape,
};
use crate::params::{ParamCache, ParamError};
use crate::weights::Weights;
use scc_runtime::Tensor;
use scc_runtime::kernels::{self, Conv2dParams, KernelResult, Pool2dParams};
use scc_runtime::memory::{MemoryError, MemoryLimit, Requirement, f32_bytes, try_collect};
use scc_runtime::structure;
use scc_runtime::sumpool::{self, SumPoolSpec};
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
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

impl From<ParamError> for RunError {
    fn from(e: ParamError) -> RunError {
        match e {
            ParamError::Missing { name } => RunError::MissingWeight { name },
            ParamError::Memory(e) => RunError::Memory(e),
        }
    }
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

/// Bytes the kernels of node `id` allocate besides its output (upper bounds of their
/// temporaries: f64 accumulators, padded copies, the intermediate results of an epilogue).
fn node_scratch_bytes(graph: &Graph, id: NodeId) -> u64 {
    let node = graph.node(id);
    let out = f32_bytes(&node.shape);
    let input = graph
        .operands(id)
        .first()
        .map_or(0, |&o| f32_bytes(&graph.node(o).shape));
    let plane_f64 = |shape: &[usize]| 2 * f32_bytes(&shape[2..]);
    let epilogue = |steps: &[EpilogueStep]| if steps.is_empty() { 0 } else { out };
    match &node.op {
        Op::Input { .. } => 0,
        Op::Conv2d(a) => plane_f64(&node.shape) + epilogue(&a.epilogue),
        Op::Linear(a) => epilogue(&a.epilogue),
        // The literal sum-pool (two f64 passes over the padded input) and its f32 result.
        Op::StructuredConv2d(_) => 6 * input.saturating_add(out) + plane_f64(&node.shape),
        Op::StructuredLinear { .. } => input,
        // Padded copy, width and height passes, and the line buffers (all f32).
        Op::SumPool3d(a) => match a.algorithm {
            SumPoolAlgorithm::RunningSum => 4 * input.saturating_add(out),
            SumPoolAlgorithm::Direct => 6 * input.saturating_add(out),
        },
        Op::Softmax => 2 * out,
        Op::SumPool(_) | Op::AvgPool(_) | Op::MaxPool(_) => 2 * out,
        // Per-channel f64 sums, means and squares.
        Op::BatchNormTraining { .. } => 24 * node.shape.get(1).copied().unwrap_or(0) as u64,
        // Source indices and taps per output row and column.
        Op::Upsample(_) => {
            let axes: usize = node.shape.iter().skip(2).sum();
            16 * axes as u64
        }
        Op::BatchNorm { .. }
        | Op::Activation(_)
        | Op::GlobalAvgPool
        | Op::Flatten
        | Op::Concat
        | Op::Add
        | Op::Mul
        | Op::Sub
        | Op::Div
        | Op::Clamp { .. }
        | Op::LeakyRelu { .. }
        | Op::Pad(_)
        | Op::Transpose { .. }
        | Op::Scalar(_)
        | Op::Affine { .. }
        | Op::Reorder { .. }
        | Op::SumPoolFeatures { .. } => 0,
    }
}

/// The bytes a run of `graph` by the interpreter allocates, before it allocates any: every
/// intermediate tensor from the node that computes it to its last use (the interpreter frees
/// each after its last use), the temporaries of the node running, derived parameters
/// (folded batchnorms) and the returned outputs. The inputs and bound weights are the
/// caller's and not counted.
pub fn run_requirement(graph: &Graph) -> Requirement {
    let mut r = Requirement::new(format!("running the model `{}` (interpreter)", graph.name));
    let order = graph.topological_order();
    let mut remaining: HashMap<NodeId, usize> = HashMap::new();
    for &id in &order {
        for operand in graph.operands(id) {
            *remaining.entry(operand).or_default() += 1;
        }
    }
    for (_, id) in graph.outputs() {
        *remaining.entry(*id).or_default() += 1;
    }
    let (mut live, mut peak) = (0u64, 0u64);
    for &id in &order {
        let node = graph.node(id);
        if let Op::Input { .. } = node.op {
            continue;
        }
        let out = f32_bytes(&node.shape);
        peak = peak.max(
            live.saturating_add(out)
                .saturating_add(node_scratch_bytes(graph, id)),
        );
        r.note_tensor(&node.name, &node.shape, "intermediate");
        if remaining.get(&id).copied().unwrap_or(0) > 0 {
            live = live.saturating_add(out);
        }
        for operand in graph.operands(id) {
            if let Some(uses) = remaining.get_mut(&operand) {
                *uses -= 1;
                if *uses == 0 && !matches!(graph.node(operand).op, Op::Input { .. }) {
                    live = live.saturating_sub(f32_bytes(&graph.node(operand).shape));
                }
            }
        }
    }
    r.add("intermediates", peak);
    for p in graph.live_params() {
        if let ParamValue::Derived(_) = graph.param(p).value {
            r.add("derived weights", f32_bytes(&graph.param(p).shape));
        }
    }
    // The returned copies of the outputs (the tensors themselves are noted above).
    for (_, id) in graph.outputs() {
        r.add("outputs", f32_bytes(&graph.node(*id).shape));
    }
    r
}

/// Runs the graph on `inputs` (by input name); returns the outputs in `return` order. The run's
/// memory ([`run_requirement`]) is checked against the memory available on the machine first.
pub fn run(
    graph: &Graph,
    weights: &Weights,
    inputs: &BTreeMap<String, Tensor>,
) -> Result<Vec<(String, Tensor)>, RunError> {
    run_with(graph, weights, inputs, &MemoryLimit::available(), None)
}

/// [`run`] against `limit`, adding each node's wall time to `times` when given.
pub fn run_with(
    graph: &Graph,
    weights: &Weights,
    inputs: &BTreeMap<String, Tensor>,
    limit: &MemoryLimit,
    mut times: Option<&mut HashMap<NodeId, std::time::Duration>>,
) -> Result<Vec<(String, Tensor)>, RunError> {
    check_inputs(graph, inputs)?;
    run_requirement(graph).check(limit)?;
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
            eval_node(graph, id, &args, &param_refs, inputs)?
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
    graph
        .outputs()
        .iter()
        .map(|(name, id)| Ok((name.clone(), copy(&values[id], name)?)))
        .collect()
}

/// A fallibly allocated copy of `t`.
fn copy(t: &Tensor, name: &str) -> Result<Tensor, MemoryError> {
    let data = try_collect(t.len(), t.data().iter().copied(), || {
        format!("the output `{name}`")
    })?;
    Ok(Tensor::new(t.shape().to_vec(), data).expect("same shape"))
}

fn apply_epilogue(mut value: Tensor, steps: &[EpilogueStep], extra: &[&Tensor]) -> KernelResult {
    let mut residuals = extra.iter();
    for step in steps {
        value = match step {
            EpilogueStep::Activation(act) => kernels::activation(&value, *act)?,
            EpilogueStep::Residual => kernels::add(
                &value,
                residuals.next().expect("a residual operand per step"),
            )?,
        };
    }
    Ok(value)
}

/// Evaluates one node on its operand values and parameter values (in `Node::params` order).
pub fn eval_node(
    graph: &Graph,
    id: NodeId,
    args: &[&Tensor],
    params: &[&Tensor],
    inputs: &BTreeMap<String, Tensor>,
) -> KernelResult {
    let node = graph.node(id);
    let bias = |present: bool| if present { Some(params[1]) } else { None };
    match &node.op {
        Op::Input { index } => {
            let name = &graph.inputs()[*index].0;
            copy(&inputs[name], name)
        }
        Op::Conv2d(a) => {
            let conv = Conv2dParams {
                stride: a.stride,
                pad: a.pad,
                dilation: a.dilation,
                groups: a.groups,
            };
            let value = kernels::conv2d(args[0], params[0], bias(a.bias), &conv)?;
            apply_epilogue(value, &a.epilogue, &args[1..])
        }
        Op::StructuredConv2d(a) => {
            let cg = args[0].shape()[1] / a.groups;
            let window = structure::structure_box(cg, a.c, a.kernel.0, a.n.0, a.kernel.1, a.n.1);
            let pooled = kernels::sumpool3d(args[0], a.groups, window, a.pad)?;
            let conv = Conv2dParams {
                stride: a.stride,
                pad: (0, 0),
                dilation: (1, 1),
                groups: a.groups,
            };
            kernels::conv2d(&pooled, params[0], bias(a.bias), &conv)
        }
        Op::Linear(a) => apply_epilogue(
            kernels::linear(args[0], params[0], bias(a.bias))?,
            &a.epilogue,
            &args[1..],
        ),
        Op::StructuredLinear {
            c, bias: has_bias, ..
        } => {
            let pooled = kernels::sumpool_features(args[0], args[0].shape()[1] - c + 1)?;
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
        Op::Transpose { perm } => kernels::transpose(args[0], perm),
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
                    let full = kernels::sumpool3d(args[0], a.groups, a.window, a.pad)?;
                    subsample(full, a.stride)
                }
            }
        }
        Op::SumPoolFeatures { window } => kernels::sumpool_features(args[0], *window),
        // Layouts are physical: every value is logically NCHW.
        Op::Reorder { .. } => copy(args[0], &node.name),
    }
}

/// Keeps every `stride`-th row and column of a rank-4 tensor.
fn subsample(x: Tensor, stride: (usize, usize)) -> KernelResult {
    if stride == (1, 1) {
        return Ok(x);
    }
    let s = x.shape();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let (oh, ow) = ((h - 1) / stride.0 + 1, (w - 1) / stride.1 + 1);
    let kept = x.data().chunks(h * w).flat_map(|plane| {
        (0..oh).flat_map(move |y| (0..ow).map(move |xx| plane[y * stride.0 * w + xx * stride.1]))
    });
    let out = try_collect(n * c * oh * ow, kept, || "a strided sum-pool".to_string())?;
    Ok(Tensor::new(vec![n, c, oh, ow], out).expect("subsampled shape"))
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
