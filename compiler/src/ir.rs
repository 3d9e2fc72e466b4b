//! The graph IR: a directed acyclic graph of typed op nodes on petgraph.
//!
//! Every node computes exactly one f32 tensor whose concrete shape is known
//! ([`Node::shape`]). Edges go from an operand's producer to its consumer and carry
//! the operand position, so `inputs(id)` is ordered. Nodes are addressed by [`NodeId`],
//! a typed wrapper over petgraph's index, never by raw indices.
//!
//! Weights are entries of the graph's parameter table ([`Param`], addressed by
//! [`ParamId`]) that nodes list in [`Node::params`]. A parameter is external (read from
//! the weights file under its name, `<path>.<suffix>` by LANGUAGE.md's rule), derived by
//! compile-time weight arithmetic from other parameters, or a constant.

use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, NodeIndexable};
use scc_lang::Span;
use scc_runtime::Tensor;
use scc_runtime::kernels::Activation;
pub use scc_runtime::kernels::Arith;
use std::fmt;
use std::sync::Arc;

pub use crate::target::Tier;

/// A concrete tensor shape (rank 2 `[N, F]` or rank 4 `[N, C, H, W]`).
pub type Shape = Vec<usize>;

/// A spatial size: (height, width).
pub type Pair = (usize, usize);

/// What a weight tensor is for; decides its random initialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightRole {
    /// A conv or linear kernel; `fan_in` inputs contribute to each output.
    Kernel {
        fan_in: usize,
    },
    /// The `alpha` of a structured layer: `fan_in` = c·nh·nw taps over boxes of
    /// `box_volume`; `dense_shape` is the shape of the dense kernel it stands for.
    Alpha {
        fan_in: usize,
        box_volume: usize,
        dense_shape: Vec<usize>,
    },
    Bias {
        fan_in: usize,
    },
    BatchNormWeight,
    BatchNormBias,
    /// The per-channel factor of `affine`.
    Scale,
    /// The per-channel offset of `affine`.
    Shift,
    RunningMean,
    RunningVar,
    /// Computed by the compiler from other parameters.
    Derived,
}

impl WeightRole {
    /// Counted in parameters (running statistics are not; derived parameters are stored by the compiled layer).
    pub fn is_learnable(&self) -> bool {
        !matches!(self, WeightRole::RunningMean | WeightRole::RunningVar)
    }
}

/// Typed handle of a node in a [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(NodeIndex);

impl NodeId {
    /// A stable small integer for display (dumps, DOT).
    pub fn index(self) -> usize {
        self.0.index()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0.index())
    }
}

/// Typed handle of a parameter (weight tensor) in a [`Graph`]'s parameter table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(usize);

impl ParamId {
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for ParamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$%{}", self.0)
    }
}

/// A weight tensor a graph reads.
#[derive(Debug, Clone)]
pub struct Param {
    /// The weight name (`layer1.conv1.alpha`) for external params; a descriptive name otherwise.
    pub name: String,
    pub shape: Shape,
    pub role: WeightRole,
    pub value: ParamValue,
}

/// Where a parameter's value comes from.
#[derive(Debug, Clone)]
pub enum ParamValue {
    /// Read from the bound weights under [`Param::name`].
    External,
    /// Computed from other parameters at compile time (see `passes::fold_constants`).
    Derived(ParamExpr),
    /// Known at compile time.
    Constant(Arc<Tensor>),
}

/// The statistics and affine parameters of a batchnorm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormParams {
    pub weight: ParamId,
    pub bias: ParamId,
    pub mean: ParamId,
    pub var: ParamId,
    pub eps: f32,
}

/// Weight arithmetic done at compile time.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamExpr {
    /// `weight` with every row `o` (first axis) scaled by `bn.weight[o] / sqrt(bn.var[o] + eps)`.
    BatchNormScale {
        weight: ParamId,
        bn: BatchNormParams,
    },
    /// `(bias[o] − bn.mean[o]) · bn.weight[o] / sqrt(bn.var[o] + eps) + bn.bias[o]`, with
    /// `bias = 0` when absent.
    BatchNormShift {
        bias: Option<ParamId>,
        bn: BatchNormParams,
    },
    /// The dense kernel `[O, group_channels, kh, kw]` of a structured conv, rebuilt from its
    /// `alpha` (`scc_runtime::structure::compose_alpha`).
    ComposeStructured {
        alpha: ParamId,
        group_channels: usize,
        kernel: Pair,
    },
}

impl ParamExpr {
    /// The parameters this expression reads.
    pub fn operands(&self) -> Vec<ParamId> {
        match self {
            ParamExpr::BatchNormScale { weight, bn } => vec![*weight, bn.weight, bn.var],
            ParamExpr::BatchNormShift { bias, bn } => bias
                .iter()
                .copied()
                .chain([bn.weight, bn.bias, bn.mean, bn.var])
                .collect(),
            ParamExpr::ComposeStructured { alpha, .. } => vec![*alpha],
        }
    }
}

/// A step applied to a conv or linear output, in order, before it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpilogueStep {
    Activation(Activation),
    /// Adds the node's next extra operand (operands after the first), same shape.
    Residual,
}

/// How a structured layer executes (chosen by `choose-execution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Execution {
    /// A sum-pool pass into memory, then the small conv over `alpha`.
    Decomposed,
    /// The small conv computes the sum-pool inside its register tiles (the pooled tensor is
    /// never stored): 1×1 structured layers on the wide tiers.
    Fused,
    /// One dense conv with the kernel rebuilt from `alpha` at compile time.
    Composed,
}

impl Execution {
    pub const ALL: [Execution; 3] = [Execution::Decomposed, Execution::Fused, Execution::Composed];

    pub fn name(self) -> &'static str {
        match self {
            Execution::Decomposed => "decomposed",
            Execution::Fused => "fused",
            Execution::Composed => "composed",
        }
    }

    pub fn from_name(name: &str) -> Option<Execution> {
        Execution::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// A dense convolution (`conv2d`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvAttrs {
    pub out_channels: usize,
    pub kernel: Pair,
    pub stride: Pair,
    pub pad: Pair,
    pub dilation: Pair,
    pub groups: usize,
    pub bias: bool,
    /// Fused steps after the bias (empty as lowered).
    pub epilogue: Vec<EpilogueStep>,
    /// Taps of the dense layer this conv stands for when it is the small conv of a
    /// decomposed structured layer (for cost reports); `None` for an ordinary conv.
    pub dense_taps: Option<usize>,
    /// How the structured layer this conv executes runs (`None`: an ordinary conv, or the
    /// small conv of a decomposed layer, the default).
    pub execution: Option<Execution>,
}

/// A structured convolution (`sconv2d`): kernel `kernel` composed from
/// `alpha [out, c, n.0, n.1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructuredConvAttrs {
    pub out_channels: usize,
    pub kernel: Pair,
    pub c: usize,
    pub n: Pair,
    pub stride: Pair,
    pub pad: Pair,
    pub groups: usize,
    pub bias: bool,
    /// The execution `choose-execution` picked (`None` before it runs: decomposed).
    pub execution: Option<Execution>,
}

/// `maxpool`, `avgpool` and `sumpool` windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolAttrs {
    pub kernel: Pair,
    pub stride: Pair,
    pub pad: Pair,
    /// PyTorch's `ceil_mode` (`maxpool`, `avgpool`): the output size rounds up and the last
    /// windows may overhang the padded input.
    pub ceil_mode: bool,
    /// PyTorch's `count_include_pad` (`avgpool`): the divisor counts the padding.
    pub count_include_pad: bool,
}

impl PoolAttrs {
    /// A window with PyTorch's defaults: `ceil_mode=False`, `count_include_pad=True`.
    pub fn new(kernel: Pair, stride: Pair, pad: Pair) -> PoolAttrs {
        PoolAttrs {
            kernel,
            stride,
            pad,
            ceil_mode: false,
            count_include_pad: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsampleMode {
    Nearest,
    /// PyTorch's `"nearest-exact"`: source index `floor((dst + 0.5) · in / out)`.
    NearestExact,
    Bilinear,
}

impl UpsampleMode {
    /// The `mode` string of the language (and of `F.interpolate`).
    pub fn name(self) -> &'static str {
        match self {
            UpsampleMode::Nearest => "nearest",
            UpsampleMode::NearestExact => "nearest-exact",
            UpsampleMode::Bilinear => "bilinear",
        }
    }
}

/// The physical layout of a node's value in memory. Values are always logically NCHW (the
/// interpreter ignores layouts); codegen reads and writes them as laid out here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// Row-major `[N, C, H, W]` (or `[N, F]`), as at the model boundary.
    #[default]
    Plain,
    /// Channel-blocked `[N, ceil(C/lanes), H, W, lanes]` (NCHW{lanes}c); the lanes of the
    /// last block beyond `C` hold +0.0.
    Blocked(usize),
    /// Not stored at all: the value's only user (a fused structured conv) computes it inside
    /// its register tiles from the value's own operand.
    Fused,
}

impl Layout {
    /// `nchw` or `nchw16c`.
    pub fn name(self) -> String {
        match self {
            Layout::Plain => "nchw".to_string(),
            Layout::Blocked(lanes) => format!("nchw{lanes}c"),
            Layout::Fused => "fused".to_string(),
        }
    }

    /// Elements a value of logical shape `shape` occupies in this layout.
    pub fn elements(self, shape: &[usize]) -> usize {
        match self {
            Layout::Plain => shape.iter().product(),
            Layout::Blocked(lanes) => {
                shape[0] * shape[1].div_ceil(lanes) * lanes * shape[2..].iter().product::<usize>()
            }
            Layout::Fused => 0,
        }
    }
}

/// `upsample`: resampling to an output size.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsampleAttrs {
    /// The output (height, width).
    pub size: Pair,
    /// The factor when the size was given as `scale=` (PyTorch's `scale_factor`: the size is
    /// `floor(H·scale)` and the coordinate ratio `1 / scale`); `None` for `size=` (ratio
    /// `in / out`).
    pub scale: Option<f64>,
    pub mode: UpsampleMode,
    /// PyTorch's `align_corners` (bilinear only).
    pub align_corners: bool,
}

/// `pad`: explicit spatial padding with a constant.
#[derive(Debug, Clone, PartialEq)]
pub struct PadAttrs {
    pub top: usize,
    pub left: usize,
    pub bottom: usize,
    pub right: usize,
    pub value: f32,
}

impl PadAttrs {
    /// `[top, left, bottom, right]`.
    pub fn sides(&self) -> [usize; 4] {
        [self.top, self.left, self.bottom, self.right]
    }
}

/// `x ∘ value` or `value ∘ x` with a compile-time float `value` (`x * 0.5`, `1.0 - x`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalarAttrs {
    pub op: Arith,
    pub value: f32,
    /// The constant is the left operand (`1.0 - x`).
    pub value_first: bool,
}

/// The operation of a node. Every `match` on it is exhaustive (no `_ =>`), so adding
/// a variant shows every place to extend: see ARCHITECTURE.md.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The model input with this position in [`Graph::inputs`].
    Input {
        index: usize,
    },
    Conv2d(ConvAttrs),
    StructuredConv2d(StructuredConvAttrs),
    Linear(LinearAttrs),
    StructuredLinear {
        out_features: usize,
        c: usize,
        bias: bool,
    },
    BatchNorm {
        eps: f32,
    },
    Activation(Activation),
    MaxPool(PoolAttrs),
    AvgPool(PoolAttrs),
    SumPool(PoolAttrs),
    GlobalAvgPool,
    Flatten,
    Softmax,
    Concat,
    Upsample(UpsampleAttrs),
    Add,
    Mul,
    Sub,
    Div,
    /// `clamp(x, min, max)`: `min(max(x, min), max)`; an absent bound is infinite.
    Clamp {
        min: f32,
        max: f32,
    },
    /// `leaky_relu(x, slope)`.
    LeakyRelu {
        slope: f32,
    },
    /// `pad(x, top, left, bottom, right, value)`.
    Pad(PadAttrs),
    /// `transpose(x, perm)`: output axis `k` is input axis `perm[k]` (ONNX `Transpose`,
    /// `x.permute(perm)`); `perm` is a permutation of the operand's axes.
    Transpose {
        perm: Vec<usize>,
    },
    /// A tensor and a float constant (`x * 0.5`).
    Scalar(ScalarAttrs),
    /// `affine(x)`: `x · weight[c] + bias[c]` per channel.
    Affine {
        bias: bool,
    },
    /// `batchnorm(x, eps, training=true)`: normalised with the batch's own mean and variance.
    BatchNormTraining {
        eps: f32,
    },
    /// A 3-D sum-pool (introduced by decomposition; never written in source).
    SumPool3d(SumPool3dAttrs),
    /// `[N, F] → [N, F − window + 1]`, sums of `window` consecutive features.
    SumPoolFeatures {
        window: usize,
    },
    /// The identity on values, converting the operand's physical layout to `to` (inserted by
    /// `choose-layout`; never written in source).
    Reorder {
        to: Layout,
    },
}

/// A dense linear layer, possibly with a fused epilogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinearAttrs {
    pub out_features: usize,
    pub bias: bool,
    pub epilogue: Vec<EpilogueStep>,
    /// Taps of the dense layer this one stands for after decomposition (`None`: its own).
    pub dense_taps: Option<usize>,
}

/// How a sum-pool node is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SumPoolAlgorithm {
    /// Every output sums its whole window.
    Direct,
    /// Separable sliding-window sums, width then height then channels; the channel sums
    /// are one running sum per group shared by every output channel.
    RunningSum,
}

/// A sum-pool over (channels within each group, height, width) with zero padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumPool3dAttrs {
    pub groups: usize,
    /// Window (channels, height, width).
    pub window: (usize, usize, usize),
    pub pad: Pair,
    pub stride: Pair,
    pub algorithm: SumPoolAlgorithm,
}

impl Op {
    /// The op's name in the language (`sconv2d`, `relu`, `+`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Conv2d(_) => "conv2d",
            Op::StructuredConv2d(_) => "sconv2d",
            Op::Linear(_) => "linear",
            Op::StructuredLinear { .. } => "slinear",
            Op::BatchNorm { .. } => "batchnorm",
            Op::Activation(act) => act.name(),
            Op::MaxPool(_) => "maxpool",
            Op::AvgPool(_) => "avgpool",
            Op::SumPool(_) => "sumpool",
            Op::GlobalAvgPool => "global_avgpool",
            Op::Flatten => "flatten",
            Op::Softmax => "softmax",
            Op::Concat => "concat",
            Op::Upsample(_) => "upsample",
            Op::Add => "+",
            Op::Mul => "*",
            Op::Sub => "-",
            Op::Div => "/",
            Op::Clamp { .. } => "clamp",
            Op::LeakyRelu { .. } => "leaky_relu",
            Op::Pad(_) => "pad",
            Op::Transpose { .. } => "transpose",
            Op::Scalar(a) => a.op.symbol(),
            Op::Affine { .. } => "affine",
            Op::BatchNormTraining { .. } => "batchnorm",
            Op::SumPool3d(_) => "sumpool3d",
            Op::SumPoolFeatures { .. } => "sumpool_features",
            Op::Reorder { .. } => "reorder",
        }
    }

    /// Whether the op reads weights (and so must be the whole right-hand side of a `let`).
    pub fn has_weights(&self) -> bool {
        match self {
            Op::Conv2d(_)
            | Op::StructuredConv2d(_)
            | Op::Linear(_)
            | Op::StructuredLinear { .. }
            | Op::BatchNorm { .. }
            | Op::BatchNormTraining { .. }
            | Op::Affine { .. } => true,
            Op::Input { .. }
            | Op::Activation(_)
            | Op::MaxPool(_)
            | Op::AvgPool(_)
            | Op::SumPool(_)
            | Op::GlobalAvgPool
            | Op::Flatten
            | Op::Softmax
            | Op::Concat
            | Op::Upsample(_)
            | Op::Add
            | Op::Mul
            | Op::Sub
            | Op::Div
            | Op::Clamp { .. }
            | Op::LeakyRelu { .. }
            | Op::Pad(_)
            | Op::Transpose { .. }
            | Op::Scalar(_)
            | Op::SumPool3d(_)
            | Op::SumPoolFeatures { .. }
            | Op::Reorder { .. } => false,
        }
    }

    /// The op's attributes in `key=value` form, for dumps and DOT labels.
    pub fn attributes(&self) -> String {
        fn pair(p: Pair) -> String {
            if p.0 == p.1 {
                p.0.to_string()
            } else {
                format!("({}, {})", p.0, p.1)
            }
        }
        fn execution(e: Option<Execution>) -> String {
            e.map(|e| format!(" execution={}", e.name()))
                .unwrap_or_default()
        }
        fn pair_always(p: Pair) -> String {
            format!("({}, {})", p.0, p.1)
        }
        fn epilogue(steps: &[EpilogueStep], dense_taps: Option<usize>) -> String {
            let mut out = String::new();
            if !steps.is_empty() {
                let names: Vec<&str> = steps
                    .iter()
                    .map(|s| match s {
                        EpilogueStep::Activation(act) => act.name(),
                        EpilogueStep::Residual => "residual",
                    })
                    .collect();
                out.push_str(&format!(" epilogue=[{}]", names.join(", ")));
            }
            if let Some(taps) = dense_taps {
                out.push_str(&format!(" dense_taps={taps}"));
            }
            out
        }
        match self {
            Op::Input { index } => format!("index={index}"),
            Op::Conv2d(a) => format!(
                "out={} kernel={} stride={} pad={} dilation={} groups={} bias={}{}{}",
                a.out_channels,
                pair(a.kernel),
                pair(a.stride),
                pair(a.pad),
                pair(a.dilation),
                a.groups,
                a.bias,
                epilogue(&a.epilogue, a.dense_taps),
                // The default (decomposed) is not printed.
                execution(a.execution.filter(|e| *e != Execution::Decomposed))
            ),
            Op::StructuredConv2d(a) => format!(
                "out={} kernel={} c={} n={} stride={} pad={} groups={} bias={}{}",
                a.out_channels,
                pair(a.kernel),
                a.c,
                pair(a.n),
                pair(a.stride),
                pair(a.pad),
                a.groups,
                a.bias,
                execution(a.execution)
            ),
            Op::Linear(a) => {
                format!(
                    "out={} bias={}{}",
                    a.out_features,
                    a.bias,
                    epilogue(&a.epilogue, a.dense_taps)
                )
            }
            Op::StructuredLinear {
                out_features,
                c,
                bias,
            } => {
                format!("out={out_features} c={c} bias={bias}")
            }
            Op::BatchNorm { eps } => format!("eps={eps:e}"),
            Op::BatchNormTraining { eps } => format!("eps={eps:e} training=true"),
            Op::MaxPool(p) | Op::AvgPool(p) | Op::SumPool(p) => {
                let mut text = format!(
                    "kernel={} stride={} pad={}",
                    pair(p.kernel),
                    pair(p.stride),
                    pair(p.pad)
                );
                if p.ceil_mode {
                    text.push_str(" ceil_mode=true");
                }
                if !p.count_include_pad {
                    text.push_str(" count_include_pad=false");
                }
                text
            }
            Op::Upsample(a) => {
                let mut text = match a.scale {
                    Some(scale) => format!("scale={scale}"),
                    None => format!("size={}", pair_always(a.size)),
                };
                text.push_str(&format!(" mode={}", a.mode.name()));
                if a.align_corners {
                    text.push_str(" align_corners=true");
                }
                text
            }
            Op::Clamp { min, max } => format!("min={min:?} max={max:?}"),
            Op::LeakyRelu { slope } => format!("slope={slope:?}"),
            Op::Pad(p) => format!(
                "top={} left={} bottom={} right={} value={:?}",
                p.top, p.left, p.bottom, p.right, p.value
            ),
            Op::Transpose { perm } => format!("perm={perm:?}"),
            Op::Scalar(a) => {
                if a.value_first {
                    format!("lhs={:?}", a.value)
                } else {
                    format!("rhs={:?}", a.value)
                }
            }
            Op::Affine { bias } => format!("bias={bias}"),
            Op::SumPool3d(a) => format!(
                "groups={} window=({}, {}, {}) pad={} stride={} algorithm={}",
                a.groups,
                a.window.0,
                a.window.1,
                a.window.2,
                pair(a.pad),
                pair(a.stride),
                match a.algorithm {
                    SumPoolAlgorithm::Direct => "direct",
                    SumPoolAlgorithm::RunningSum =>
                        "running_sum(width, height, channels; channel-shared)",
                }
            ),
            Op::SumPoolFeatures { window } => format!("window={window}"),
            Op::Reorder { to } => format!("to={}", to.name()),
            Op::Activation(_)
            | Op::GlobalAvgPool
            | Op::Flatten
            | Op::Softmax
            | Op::Concat
            | Op::Add
            | Op::Mul
            | Op::Sub
            | Op::Div => String::new(),
        }
    }
}

/// One node: an op, its inferred output shape and where it came from.
#[derive(Debug, Clone)]
pub struct Node {
    pub op: Op,
    pub shape: Shape,
    /// Human-readable unique name: the `let` path (`layer1.conv1`) or a generated one.
    pub name: String,
    /// `<path>` of the node's weights (`<path>.weight`, ...) for ops with weights.
    pub weight_path: Option<String>,
    /// The parameters the node reads: `[weight, bias?]` for conv2d, linear and affine,
    /// `[alpha, bias?]` for sconv2d and slinear, `[weight, bias, running_mean, running_var]`
    /// for batchnorm, none for other ops.
    pub params: Vec<ParamId>,
    /// The source text the node was lowered from.
    pub span: Span,
}

/// A lowered model: the graph, its named inputs and outputs.
#[derive(Debug, Clone)]
pub struct Graph {
    pub name: String,
    graph: StableDiGraph<Node, usize>,
    inputs: Vec<(String, NodeId)>,
    outputs: Vec<(String, NodeId)>,
    params: Vec<Param>,
    /// Physical layouts of node values other than [`Layout::Plain`] (set by `choose-layout`).
    layouts: std::collections::BTreeMap<NodeId, Layout>,
    /// The vector tier the graph's layouts were chosen for (`None` before `choose-layout`).
    tier: Option<Tier>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph {
            name: name.into(),
            graph: StableDiGraph::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            params: Vec::new(),
            layouts: std::collections::BTreeMap::new(),
            tier: None,
        }
    }

    /// The physical layout of `id`'s value.
    pub fn layout(&self, id: NodeId) -> Layout {
        self.layouts.get(&id).copied().unwrap_or_default()
    }

    pub fn set_layout(&mut self, id: NodeId, layout: Layout) {
        match layout {
            Layout::Plain => self.layouts.remove(&id),
            blocked => self.layouts.insert(id, blocked),
        };
    }

    /// The tier the layouts were chosen for.
    pub fn tier(&self) -> Option<Tier> {
        self.tier
    }

    pub fn set_tier(&mut self, tier: Option<Tier>) {
        self.tier = tier;
    }

    /// Adds a node computing `node.op` over `operands` (in operand order).
    pub fn add_node(&mut self, node: Node, operands: &[NodeId]) -> NodeId {
        let id = NodeId(self.graph.add_node(node));
        for (port, operand) in operands.iter().enumerate() {
            self.graph.add_edge(operand.0, id.0, port);
        }
        id
    }

    /// Adds an input node and registers it under `name`.
    pub fn add_input(&mut self, name: &str, shape: Shape, span: Span) -> NodeId {
        let index = self.inputs.len();
        let node = Node {
            op: Op::Input { index },
            shape,
            name: name.to_string(),
            weight_path: None,
            params: Vec::new(),
            span,
        };
        let id = self.add_node(node, &[]);
        self.inputs.push((name.to_string(), id));
        id
    }

    pub fn add_output(&mut self, name: &str, id: NodeId) {
        self.outputs.push((name.to_string(), id));
    }

    /// Renames the input at `index` (e.g. to the name in the ONNX graph it was imported from;
    /// such names need not be identifiers).
    pub fn rename_input(&mut self, index: usize, name: &str) {
        self.inputs[index].0 = name.to_string();
    }

    /// Renames the output at `index`, as [`Graph::rename_input`].
    pub fn rename_output(&mut self, index: usize, name: &str) {
        self.outputs[index].0 = name.to_string();
    }

    /// Adds a parameter to the table.
    pub fn add_param(&mut self, param: Param) -> ParamId {
        self.params.push(param);
        ParamId(self.params.len() - 1)
    }

    pub fn param(&self, id: ParamId) -> &Param {
        &self.params[id.0]
    }

    pub fn param_mut(&mut self, id: ParamId) -> &mut Param {
        &mut self.params[id.0]
    }

    /// Every parameter id of the table (including ones no node reads any more).
    pub fn param_ids(&self) -> impl Iterator<Item = ParamId> + use<> {
        (0..self.params.len()).map(ParamId)
    }

    /// The parameters read by live nodes, directly or through derived parameters,
    /// sorted by id.
    pub fn live_params(&self) -> Vec<ParamId> {
        let mut live = vec![false; self.params.len()];
        let mut stack: Vec<ParamId> = self
            .node_ids()
            .iter()
            .flat_map(|&id| self.node(id).params.clone())
            .collect();
        while let Some(p) = stack.pop() {
            if std::mem::replace(&mut live[p.0], true) {
                continue;
            }
            if let ParamValue::Derived(expr) = &self.params[p.0].value {
                stack.extend(expr.operands());
            }
        }
        (0..self.params.len())
            .filter(|&i| live[i])
            .map(ParamId)
            .collect()
    }

    /// Removes a node and its edges. Its users must have been redirected first.
    pub fn remove_node(&mut self, id: NodeId) {
        self.graph.remove_node(id.0);
        self.layouts.remove(&id);
    }

    /// Makes every user of `old` (and every output naming it) read `new` instead.
    pub fn replace_all_uses(&mut self, old: NodeId, new: NodeId) {
        let uses: Vec<(NodeIndex, usize)> = self
            .graph
            .edges_directed(old.0, Direction::Outgoing)
            .map(|e| (e.target(), *e.weight()))
            .collect();
        for edge in self
            .graph
            .edges_directed(old.0, Direction::Outgoing)
            .map(|e| e.id())
            .collect::<Vec<_>>()
        {
            self.graph.remove_edge(edge);
        }
        for (user, port) in uses {
            self.graph.add_edge(new.0, user, port);
        }
        for (_, output) in &mut self.outputs {
            if *output == old {
                *output = new;
            }
        }
    }

    /// Makes every model output naming `old` name `new` (users of `old` are unchanged).
    pub fn redirect_output(&mut self, old: NodeId, new: NodeId) {
        for (_, output) in &mut self.outputs {
            if *output == old {
                *output = new;
            }
        }
    }

    /// Replaces the operands of `id`.
    pub fn set_operands(&mut self, id: NodeId, operands: &[NodeId]) {
        for edge in self
            .graph
            .edges_directed(id.0, Direction::Incoming)
            .map(|e| e.id())
            .collect::<Vec<_>>()
        {
            self.graph.remove_edge(edge);
        }
        for (port, operand) in operands.iter().enumerate() {
            self.graph.add_edge(operand.0, id.0, port);
        }
    }

    /// Whether `id` is one of the model outputs.
    pub fn is_output(&self, id: NodeId) -> bool {
        self.outputs.iter().any(|(_, o)| *o == id)
    }

    /// Whether the graph still contains `id`.
    pub fn contains(&self, id: NodeId) -> bool {
        self.graph.contains_node(id.0)
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.graph[id.0]
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.graph[id.0]
    }

    /// The model inputs, in declaration order.
    pub fn inputs(&self) -> &[(String, NodeId)] {
        &self.inputs
    }

    /// The model outputs, in `return` order.
    pub fn outputs(&self) -> &[(String, NodeId)] {
        &self.outputs
    }

    /// The operands of `id`, in operand order.
    pub fn operands(&self, id: NodeId) -> Vec<NodeId> {
        let mut edges: Vec<(usize, NodeId)> = self
            .graph
            .edges_directed(id.0, Direction::Incoming)
            .map(|e| (*e.weight(), NodeId(e.source())))
            .collect();
        edges.sort_unstable();
        edges.into_iter().map(|(_, n)| n).collect()
    }

    /// The distinct nodes that read `id`.
    pub fn users(&self, id: NodeId) -> Vec<NodeId> {
        let mut users: Vec<NodeId> = self
            .graph
            .neighbors_directed(id.0, Direction::Outgoing)
            .map(NodeId)
            .collect();
        users.sort_unstable();
        users.dedup();
        users
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// All node ids in insertion order.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.graph.node_indices().map(NodeId).collect()
    }

    /// Nodes in a topological order (operands before users); ties keep insertion order.
    pub fn topological_order(&self) -> Vec<NodeId> {
        let mut pending: Vec<usize> = vec![0; self.graph.node_bound()];
        for id in self.graph.node_indices() {
            pending[id.index()] = self.operands(NodeId(id)).len();
        }
        let mut ready: std::collections::BTreeSet<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|id| pending[id.index()] == 0)
            .collect();
        let mut order = Vec::with_capacity(self.graph.node_count());
        while let Some(id) = ready.pop_first() {
            order.push(NodeId(id));
            for edge in self.graph.edges_directed(id, Direction::Outgoing) {
                let user = edge.target();
                pending[user.index()] -= 1;
                if pending[user.index()] == 0 {
                    ready.insert(user);
                }
            }
        }
        order
    }

    /// The shapes of the operands of `id`, in operand order.
    pub fn operand_shapes(&self, id: NodeId) -> Vec<&Shape> {
        self.operands(id)
            .into_iter()
            .map(|n| &self.node(n).shape)
            .collect()
    }
}

/// Formats a shape as `[1, 3, 224, 224]`.
pub fn format_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

impl Graph {
    /// A textual dump, one node per line in topological order, for snapshots and
    /// `--print-after`: `%id name = op(operands) attributes : shape [weights path]`.
    pub fn dump(&self) -> String {
        use std::fmt::Write;
        let inputs: Vec<String> = self
            .inputs
            .iter()
            .map(|(name, id)| format!("{name}: {}", format_shape(&self.node(*id).shape)))
            .collect();
        let outputs: Vec<String> = self
            .outputs
            .iter()
            .map(|(name, id)| format!("{name}={id}"))
            .collect();
        let tier = self
            .tier
            .map(|t| format!(" tier={}", t.name()))
            .unwrap_or_default();
        let mut out = format!(
            "graph {}({}) -> ({}){tier}\n",
            self.name,
            inputs.join(", "),
            outputs.join(", ")
        );
        for id in self.topological_order() {
            let node = self.node(id);
            let operands: Vec<String> = self.operands(id).iter().map(|o| o.to_string()).collect();
            write!(
                out,
                "  {id} {} = {}({})",
                node.name,
                node.op.name(),
                operands.join(", ")
            )
            .unwrap();
            let attrs = node.op.attributes();
            if !attrs.is_empty() {
                write!(out, " {attrs}").unwrap();
            }
            write!(out, " : {}", format_shape(&node.shape)).unwrap();
            if self.layout(id) != Layout::Plain {
                write!(out, " layout={}", self.layout(id).name()).unwrap();
            }
            if !node.params.is_empty() {
                let params: Vec<String> = node
                    .params
                    .iter()
                    .map(|p| self.describe_param(*p))
                    .collect();
                write!(out, " params=[{}]", params.join(", ")).unwrap();
            }
            out.push('\n');
        }
        out
    }

    /// `name`, `bn_scale(w, bn)` or `const[shape]`: how a parameter is obtained.
    pub fn describe_param(&self, id: ParamId) -> String {
        let param = self.param(id);
        match &param.value {
            ParamValue::External => param.name.clone(),
            ParamValue::Constant(_) => {
                format!("const {}{}", param.name, format_shape(&param.shape))
            }
            ParamValue::Derived(ParamExpr::BatchNormScale { weight, bn }) => {
                format!(
                    "bn_scale({}, {})",
                    self.describe_param(*weight),
                    self.bn_name(bn)
                )
            }
            ParamValue::Derived(ParamExpr::ComposeStructured { alpha, .. }) => {
                format!("compose({})", self.describe_param(*alpha))
            }
            ParamValue::Derived(ParamExpr::BatchNormShift { bias, bn }) => match bias {
                Some(bias) => format!(
                    "bn_shift({}, {})",
                    self.describe_param(*bias),
                    self.bn_name(bn)
                ),
                None => format!("bn_shift(0, {})", self.bn_name(bn)),
            },
        }
    }

    fn bn_name(&self, bn: &BatchNormParams) -> String {
        let name = &self.param(bn.weight).name;
        name.strip_suffix(".weight").unwrap_or(name).to_string()
    }
}
