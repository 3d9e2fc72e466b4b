//! The graph IR: a directed acyclic graph of typed op nodes on petgraph.
//!
//! Every node computes exactly one f32 tensor whose concrete shape is known
//! ([`Node::shape`]). Edges go from an operand's producer to its consumer and carry
//! the operand position, so `inputs(id)` is ordered. Nodes are addressed by [`NodeId`],
//! a typed wrapper over petgraph's index, never by raw indices.
//!
//! Weights are not in the graph: a node with weights names them by its
//! [`Node::weight_path`] (`<path>.<suffix>`, the rule of LANGUAGE.md), and
//! [`crate::weights::WeightSpec`] lists what every node needs.

use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, NodeIndexable};
use scc_lang::Span;
use scc_runtime::kernels::Activation;
use std::fmt;

/// A concrete tensor shape (rank 2 `[N, F]` or rank 4 `[N, C, H, W]`).
pub type Shape = Vec<usize>;

/// A spatial size: (height, width).
pub type Pair = (usize, usize);

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
}

/// `maxpool`, `avgpool` and `sumpool` windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolAttrs {
    pub kernel: Pair,
    pub stride: Pair,
    pub pad: Pair,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsampleMode {
    Nearest,
    Bilinear,
}

impl UpsampleMode {
    pub fn name(self) -> &'static str {
        match self {
            UpsampleMode::Nearest => "nearest",
            UpsampleMode::Bilinear => "bilinear",
        }
    }
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
    Linear {
        out_features: usize,
        bias: bool,
    },
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
    Upsample {
        scale: usize,
        mode: UpsampleMode,
    },
    Add,
    Mul,
}

impl Op {
    /// The op's name in the language (`sconv2d`, `relu`, `+`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Conv2d(_) => "conv2d",
            Op::StructuredConv2d(_) => "sconv2d",
            Op::Linear { .. } => "linear",
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
            Op::Upsample { .. } => "upsample",
            Op::Add => "+",
            Op::Mul => "*",
        }
    }

    /// Whether the op reads weights (and so must be the whole right-hand side of a `let`).
    pub fn has_weights(&self) -> bool {
        match self {
            Op::Conv2d(_)
            | Op::StructuredConv2d(_)
            | Op::Linear { .. }
            | Op::StructuredLinear { .. }
            | Op::BatchNorm { .. } => true,
            Op::Input { .. }
            | Op::Activation(_)
            | Op::MaxPool(_)
            | Op::AvgPool(_)
            | Op::SumPool(_)
            | Op::GlobalAvgPool
            | Op::Flatten
            | Op::Softmax
            | Op::Concat
            | Op::Upsample { .. }
            | Op::Add
            | Op::Mul => false,
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
        match self {
            Op::Input { index } => format!("index={index}"),
            Op::Conv2d(a) => format!(
                "out={} kernel={} stride={} pad={} dilation={} groups={} bias={}",
                a.out_channels,
                pair(a.kernel),
                pair(a.stride),
                pair(a.pad),
                pair(a.dilation),
                a.groups,
                a.bias
            ),
            Op::StructuredConv2d(a) => format!(
                "out={} kernel={} c={} n={} stride={} pad={} groups={} bias={}",
                a.out_channels,
                pair(a.kernel),
                a.c,
                pair(a.n),
                pair(a.stride),
                pair(a.pad),
                a.groups,
                a.bias
            ),
            Op::Linear { out_features, bias } => format!("out={out_features} bias={bias}"),
            Op::StructuredLinear {
                out_features,
                c,
                bias,
            } => {
                format!("out={out_features} c={c} bias={bias}")
            }
            Op::BatchNorm { eps } => format!("eps={eps:e}"),
            Op::MaxPool(p) | Op::AvgPool(p) | Op::SumPool(p) => format!(
                "kernel={} stride={} pad={}",
                pair(p.kernel),
                pair(p.stride),
                pair(p.pad)
            ),
            Op::Upsample { scale, mode } => format!("scale={scale} mode={}", mode.name()),
            Op::Activation(_)
            | Op::GlobalAvgPool
            | Op::Flatten
            | Op::Softmax
            | Op::Concat
            | Op::Add
            | Op::Mul => String::new(),
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
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph {
            name: name.into(),
            graph: StableDiGraph::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
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
            span,
        };
        let id = self.add_node(node, &[]);
        self.inputs.push((name.to_string(), id));
        id
    }

    pub fn add_output(&mut self, name: &str, id: NodeId) {
        self.outputs.push((name.to_string(), id));
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
        let mut out = format!(
            "graph {}({}) -> ({})\n",
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
            if let Some(path) = &node.weight_path {
                write!(out, " weights={path}").unwrap();
            }
            out.push('\n');
        }
        out
    }
}
