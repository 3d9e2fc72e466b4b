//! Code generation: the optimised graph compiled, node by node, into Cranelift kernels
//! specialised to the concrete shapes, and a schedule that runs them over one arena.
//!
//! Assumes a well-formed graph after `decompose-structured` (no structured layers) with
//! every parameter resolvable from the bound weights. Each node lowers to one or more
//! [`Step`]s; a step runs one kernel over `work_items` independent items, split across
//! the thread pool. Buffers are the planned arena slots of node values
//! ([`crate::memory::plan_graph`]), the caller's input tensors, per-node scratch space
//! (after the arena) and constants (weights re-packed at compile time into the layout
//! the kernel reads).
//!
//! Kernels by tier: on the 128-bit tier (and for every value `choose-layout` left plain)
//! the families of this folder (`conv.rs`, `sumpool.rs`, `pool.rs`, `linear.rs`,
//! `elementwise.rs`) emit whole kernels in Cranelift IR. On the wide tiers, nodes with a
//! channel-blocked layout, reorders and linear layers lower through [`wide`]: Cranelift
//! driver loops, specialised to the node's shapes, that call the `scc-kernels` micro-kernels
//! of the tier.

pub mod aot;
mod conv;
mod elementwise;
pub mod emit;
pub mod jit;
mod linear;
pub mod peak;
mod pool;
mod sumpool;
mod transpose;
pub mod wide;

use crate::ir::{Arith, Graph, Layout, NodeId, Op};
use crate::params::ParamCache;
use crate::target::{Target, TargetError, Tier};
use crate::weights::Weights;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{AbiParam, FuncRef, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{FuncId, Linkage, Module};
use emit::KernelBuilder;
use scc_runtime::Tensor;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error("this machine is not supported by the code generator: {0}")]
    UnsupportedHost(String),
    #[error("node `{node}` ({op}) must be decomposed before code generation")]
    NotLowered { node: String, op: &'static str },
    #[error("Cranelift rejected kernel `{kernel}`: {message}")]
    Cranelift { kernel: String, message: String },
    #[error("weight `{0}` is not bound")]
    MissingWeight(String),
    #[error(transparent)]
    Memory(#[from] scc_runtime::MemoryError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("node `{node}`: {problem}")]
    Layout { node: String, problem: String },
}

/// Where a kernel argument points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buf {
    /// The value of a node: its arena slot, or the caller's tensor for an input node.
    Node(NodeId),
    /// Scratch space of the current node, at this byte offset after the arena.
    Scratch(usize),
    /// A constant (packed weights), by index in [`Program::consts`].
    Const(usize),
}

/// One kernel launch.
#[derive(Debug, Clone)]
pub struct Step {
    /// Index into [`Program::kernels`].
    pub kernel: usize,
    pub args: Vec<Buf>,
    /// The kernel runs over work items `0..work_items`, in any split.
    pub work_items: u64,
    /// The node this step computes (for per-node timing).
    pub node: NodeId,
    /// Estimated single-core time in nanoseconds ([`estimate_ns`]): the executors split the
    /// step into one task per grain of it (`scc_kernels::pool::tasks`).
    pub work_ns: u64,
}

/// Everything but the machine code: the schedule and its data.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// Kernel names, in definition order.
    pub kernels: Vec<String>,
    pub steps: Vec<Step>,
    pub consts: Vec<Arc<Vec<f32>>>,
    /// Largest scratch space any node needs, in bytes.
    pub scratch_bytes: usize,
    /// Bytes of machine code of all kernels.
    pub code_bytes: usize,
    /// The tier of the wide kernels (the 128-bit tier when none is used).
    pub tier: Tier,
    /// The CPU features the code may use (what binaries check at start-up).
    pub features: Vec<String>,
}

/// What a node's lowering sees.
pub struct NodeInfo<'g> {
    pub graph: &'g Graph,
    pub id: NodeId,
    /// Parameter values in `Node::params` order.
    pub params: Vec<Arc<Tensor>>,
}

impl NodeInfo<'_> {
    pub fn shape(&self) -> &[usize] {
        &self.graph.node(self.id).shape
    }

    pub fn operands(&self) -> Vec<NodeId> {
        self.graph.operands(self.id)
    }

    pub fn operand_shape(&self, index: usize) -> Vec<usize> {
        self.graph.node(self.operands()[index]).shape.clone()
    }

    pub fn name(&self) -> &str {
        &self.graph.node(self.id).name
    }
}

/// Collects the steps and constants of the program while kernels are emitted.
pub struct ProgramBuilder {
    program: Program,
    node: Option<NodeId>,
    node_scratch: usize,
}

impl ProgramBuilder {
    /// Adds a step of the current node.
    pub fn step(&mut self, kernel: usize, args: Vec<Buf>, work_items: u64) {
        let node = self.node.expect("steps belong to a node");
        self.program.steps.push(Step {
            kernel,
            args,
            work_items,
            node,
            work_ns: 0,
        });
    }

    /// Adds a constant; returns its buffer.
    pub fn constant(&mut self, data: Vec<f32>) -> Buf {
        self.program.consts.push(Arc::new(data));
        Buf::Const(self.program.consts.len() - 1)
    }

    /// Adds a constant of 64-bit integers (a kernel geometry record), stored bit for bit.
    pub fn words(&mut self, words: &[i64]) -> Buf {
        let data = words
            .iter()
            .flat_map(|w| {
                let bits = *w as u64;
                [
                    f32::from_bits(bits as u32),
                    f32::from_bits((bits >> 32) as u32),
                ]
            })
            .collect();
        self.constant(data)
    }

    /// Reserves scratch space (f32 elements) for the current node.
    pub fn scratch(&mut self, elements: usize) -> Buf {
        let offset = self.node_scratch;
        self.node_scratch += (elements * 4).next_multiple_of(crate::memory::ARENA_ALIGNMENT);
        self.program.scratch_bytes = self.program.scratch_bytes.max(self.node_scratch);
        Buf::Scratch(offset)
    }
}

/// Defines kernel functions in a Cranelift module.
pub struct Emitter<'m, M: Module> {
    module: &'m mut M,
    context: cranelift_codegen::Context,
    builder_context: FunctionBuilderContext,
    has_fma: bool,
    /// The tier of the wide kernels.
    pub tier: Tier,
    prefix: String,
    /// Micro-kernels declared as imports, by symbol.
    imports: HashMap<&'static str, FuncId>,
    /// `(name, id)` of every kernel, in definition order.
    pub functions: Vec<(String, FuncId)>,
    /// Bytes of machine code defined so far.
    pub code_bytes: usize,
}

impl<'m, M: Module> Emitter<'m, M> {
    /// `prefix` makes symbol names unique (the model's name in object files).
    pub fn new(module: &'m mut M, target: &Target, prefix: &str) -> Emitter<'m, M> {
        let context = module.make_context();
        Emitter {
            module,
            context,
            builder_context: FunctionBuilderContext::new(),
            has_fma: target.has_fma(),
            tier: target.tier,
            prefix: prefix.to_string(),
            imports: HashMap::new(),
            functions: Vec::new(),
            code_bytes: 0,
        }
    }

    /// Defines a kernel whose body `body` writes; returns its index.
    pub fn kernel(
        &mut self,
        name: &str,
        body: impl FnOnce(&mut KernelBuilder),
    ) -> Result<usize, CodegenError> {
        self.kernel_calling(name, &[], |kb, _| body(kb))
    }

    /// Defines a kernel that calls micro-kernels: `calls` lists `(symbol, parameter count)`
    /// (every parameter an i64, no result), and `body` receives their references in order.
    pub fn kernel_calling(
        &mut self,
        name: &str,
        calls: &[(&'static str, usize)],
        body: impl FnOnce(&mut KernelBuilder, &[FuncRef]),
    ) -> Result<usize, CodegenError> {
        let index = self.functions.len();
        let symbol = format!("{}_k{index}_{}", self.prefix, sanitize(name));
        let call_conv = self.module.isa().default_call_conv();
        let signature = emit::kernel_signature(call_conv);
        let func = self
            .module
            .declare_function(&symbol, Linkage::Export, &signature)
            .map_err(|e| CodegenError::Cranelift {
                kernel: symbol.clone(),
                message: e.to_string(),
            })?;
        self.context.func.signature = signature;
        self.context.func.name = UserFuncName::user(0, func.as_u32());
        let mut refs = Vec::with_capacity(calls.len());
        for &(callee, params) in calls {
            let id = match self.imports.get(callee) {
                Some(&id) => id,
                None => {
                    let mut sig = cranelift_codegen::ir::Signature::new(call_conv);
                    sig.params.extend((0..params).map(|_| AbiParam::new(I64)));
                    let id = self
                        .module
                        .declare_function(callee, Linkage::Import, &sig)
                        .map_err(|e| CodegenError::Cranelift {
                            kernel: callee.to_string(),
                            message: e.to_string(),
                        })?;
                    self.imports.insert(callee, id);
                    id
                }
            };
            refs.push(self.module.declare_func_in_func(id, &mut self.context.func));
        }
        {
            let builder = FunctionBuilder::new(&mut self.context.func, &mut self.builder_context);
            let mut kb = KernelBuilder::new(builder, self.has_fma);
            body(&mut kb, &refs);
            kb.finish(self.module.isa().frontend_config());
        }
        self.module
            .define_function(func, &mut self.context)
            .map_err(|e| CodegenError::Cranelift {
                kernel: symbol.clone(),
                message: format!("{e:?}"),
            })?;
        if let Some(code) = self.context.compiled_code() {
            self.code_bytes += code.code_info().total_size as usize;
        }
        self.module.clear_context(&mut self.context);
        self.functions.push((symbol, func));
        Ok(index)
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Emits the kernels of every node of `graph` into `module` and builds the program.
pub fn generate<M: Module>(
    module: &mut M,
    target: &Target,
    prefix: &str,
    graph: &Graph,
    weights: &Weights,
) -> Result<(Program, Vec<FuncId>), CodegenError> {
    if let Some(tier) = graph.tier()
        && tier != target.tier
    {
        return Err(CodegenError::Layout {
            node: graph.name.clone(),
            problem: format!(
                "the graph's layouts were chosen for tier {tier}, the target's tier is {}",
                target.tier
            ),
        });
    }
    let mut emitter = Emitter::new(module, target, prefix);
    let mut builder = ProgramBuilder {
        program: Program::default(),
        node: None,
        node_scratch: 0,
    };
    let mut cache = ParamCache::new(graph, weights);
    for id in graph.topological_order() {
        let params = cache.node_params(graph, id).map_err(|e| match e {
            crate::params::ParamError::Missing { name } => CodegenError::MissingWeight(name),
            crate::params::ParamError::Memory(e) => CodegenError::Memory(e),
        })?;
        let info = NodeInfo { graph, id, params };
        builder.node = Some(id);
        builder.node_scratch = 0;
        let first_step = builder.program.steps.len();
        lower_node(&mut emitter, &info, &mut builder)?;
        let work_ns = estimate_ns(graph, id, target.tier);
        for step in &mut builder.program.steps[first_step..] {
            step.work_ns = work_ns;
        }
    }
    builder.program.kernels = emitter.functions.iter().map(|(n, _)| n.clone()).collect();
    builder.program.code_bytes = emitter.code_bytes;
    builder.program.tier = target.tier;
    builder.program.features = target.features();
    let ids = emitter.functions.iter().map(|(_, f)| *f).collect();
    Ok((builder.program, ids))
}

/// Estimated single-core time of node `id` in nanoseconds: its flops (2 per executed MAC, 1 per
/// sum-pool addition) at a sustained rate of the tier, plus the bytes it reads and writes
/// at a per-core memory rate. Coarse on purpose: it only decides how many tasks a step is
/// worth (every step of the node gets the node's estimate).
pub fn estimate_ns(graph: &Graph, id: NodeId, tier: Tier) -> u64 {
    // Sustained flops per nanosecond of one core.
    let flops_per_ns = match tier {
        Tier::V128 => 40.0,
        Tier::Avx2 | Tier::Avx512 => 90.0,
    };
    /// Bytes per nanosecond of one core from the caches shared by the layers.
    const BYTES_PER_NS: f64 = 10.0;
    let cost = crate::stats::node_cost(graph, id);
    let flops = 2.0 * cost.structured_macs as f64 + cost.sumpool_adds as f64;
    let elements: usize = graph
        .operands(id)
        .iter()
        .chain(std::iter::once(&id))
        .map(|&n| graph.layout(n).elements(&graph.node(n).shape))
        .sum();
    (flops / flops_per_ns + 4.0 * elements as f64 / BYTES_PER_NS) as u64
}

/// Lowers one node to kernels and steps (exhaustive over the ops).
fn lower_node<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let op = &node.graph.node(node.id).op;
    if em.tier.is_wide() && wide::lowers(node) {
        return wide::lower(em, node, program);
    }
    if node.graph.layout(node.id) != Layout::Plain {
        return Err(CodegenError::Layout {
            node: node.name().to_string(),
            problem: format!(
                "{} has no kernel for layout {}",
                op.name(),
                node.graph.layout(node.id).name()
            ),
        });
    }
    match op {
        Op::Input { .. } => Ok(()),
        Op::Conv2d(attrs) => conv::lower(em, node, attrs, program),
        Op::Linear(attrs) => linear::lower(em, node, attrs, program),
        Op::SumPool3d(attrs) => sumpool::lower(em, node, attrs, program),
        Op::SumPoolFeatures { window } => sumpool::lower_features(em, node, *window, program),
        Op::MaxPool(attrs) => pool::lower(em, node, pool::PoolKind::Max, attrs, program),
        Op::AvgPool(attrs) => pool::lower(em, node, pool::PoolKind::Average, attrs, program),
        Op::SumPool(attrs) => pool::lower(em, node, pool::PoolKind::Sum, attrs, program),
        Op::GlobalAvgPool => pool::lower_global_average(em, node, program),
        Op::BatchNorm { eps } => elementwise::lower_batchnorm(em, node, *eps, program),
        Op::Activation(act) => elementwise::lower_activation(em, node, *act, program),
        Op::BatchNormTraining { eps } => {
            elementwise::lower_batchnorm_training(em, node, *eps, program)
        }
        Op::Affine { bias } => elementwise::lower_affine(em, node, *bias, program),
        Op::Clamp { min, max } => elementwise::lower_clamp(em, node, *min, *max, program),
        Op::LeakyRelu { slope } => elementwise::lower_leaky_relu(em, node, *slope, program),
        Op::Scalar(attrs) => elementwise::lower_scalar(em, node, *attrs, program),
        Op::Pad(attrs) => elementwise::lower_pad(em, node, attrs, program),
        Op::Transpose { perm } => transpose::lower(em, node, perm, program),
        Op::Add => elementwise::lower_binary(em, node, Arith::Add, program),
        Op::Sub => elementwise::lower_binary(em, node, Arith::Sub, program),
        Op::Mul => elementwise::lower_binary(em, node, Arith::Mul, program),
        Op::Div => elementwise::lower_binary(em, node, Arith::Div, program),
        Op::Concat => elementwise::lower_concat(em, node, program),
        Op::Upsample(attrs) => elementwise::lower_upsample(em, node, attrs, program),
        Op::Softmax => elementwise::lower_softmax(em, node, program),
        Op::Flatten => elementwise::lower_copy(em, node, program),
        Op::Reorder { .. } => Err(CodegenError::Layout {
            node: node.name().to_string(),
            problem: "a reorder needs a wide tier".to_string(),
        }),
        Op::StructuredConv2d(_) | Op::StructuredLinear { .. } => Err(CodegenError::NotLowered {
            node: node.name().to_string(),
            op: op.name(),
        }),
    }
}
