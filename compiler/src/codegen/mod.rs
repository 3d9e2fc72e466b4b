//! Code generation: the optimised graph compiled, node by node, into Cranelift kernels
//! specialised to the concrete shapes, and a schedule that runs them over one arena.
//!
//! Assumes a well-formed graph after `decompose-structured` (no structured layers) with
//! every parameter resolvable from the bound weights. Each node lowers to one or more
//! [`Step`]s; a step runs one kernel over `work_items` independent items, split across
//! the thread pool. Buffers are the planned arena slots of node values
//! ([`crate::memory::plan_graph`]), the caller's input tensors, per-node scratch space
//! (after the arena) and constants (weights re-packed at compile time into the layout
//! the kernel reads). Activations stay NCHW, as at the model's boundary.

pub mod aot;
mod conv;
mod elementwise;
pub mod emit;
pub mod jit;
mod linear;
pub mod peak;
mod pool;
mod sumpool;

use crate::ir::{Arith, Graph, NodeId, Op};
use crate::params::ParamCache;
use crate::weights::Weights;
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{FuncId, Linkage, Module};
use emit::KernelBuilder;
use scc_runtime::Tensor;
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
        });
    }

    /// Adds a constant; returns its buffer.
    pub fn constant(&mut self, data: Vec<f32>) -> Buf {
        self.program.consts.push(Arc::new(data));
        Buf::Const(self.program.consts.len() - 1)
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
    prefix: String,
    /// `(name, id)` of every kernel, in definition order.
    pub functions: Vec<(String, FuncId)>,
    /// Bytes of machine code defined so far.
    pub code_bytes: usize,
}

impl<'m, M: Module> Emitter<'m, M> {
    /// `prefix` makes symbol names unique (the model's name in object files).
    pub fn new(module: &'m mut M, has_fma: bool, prefix: &str) -> Emitter<'m, M> {
        let context = module.make_context();
        Emitter {
            module,
            context,
            builder_context: FunctionBuilderContext::new(),
            has_fma,
            prefix: prefix.to_string(),
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
        let index = self.functions.len();
        let symbol = format!("{}_k{index}_{}", self.prefix, sanitize(name));
        let signature = emit::kernel_signature(self.module.isa().default_call_conv());
        let func = self
            .module
            .declare_function(&symbol, Linkage::Export, &signature)
            .map_err(|e| CodegenError::Cranelift {
                kernel: symbol.clone(),
                message: e.to_string(),
            })?;
        self.context.func.signature = signature;
        self.context.func.name = UserFuncName::user(0, func.as_u32());
        {
            let builder = FunctionBuilder::new(&mut self.context.func, &mut self.builder_context);
            let mut kb = KernelBuilder::new(builder, self.has_fma);
            body(&mut kb);
            kb.finish(self.module.isa().frontend_config());
        }
        let disassemble = std::env::var_os("SCC_DUMP_ASM")
            .is_some_and(|v| symbol.contains(v.to_str().unwrap_or("")));
        self.context.set_disasm(disassemble);
        self.module
            .define_function(func, &mut self.context)
            .map_err(|e| CodegenError::Cranelift {
                kernel: symbol.clone(),
                message: format!("{e:?}"),
            })?;
        if let Some(code) = self.context.compiled_code() {
            self.code_bytes += code.code_info().total_size as usize;
        }
        if disassemble
            && let Some(code) = self.context.compiled_code()
            && let Some(vcode) = &code.vcode
        {
            eprintln!("; kernel {symbol}\n{vcode}");
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

/// The host's ISA with scc's settings (`opt_level=none`, see below; `is_pic` as asked), and whether
/// it has FMA (AVX + FMA).
pub fn host_isa(is_pic: bool) -> Result<(Arc<dyn TargetIsa>, bool), CodegenError> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags
            .set(k, v)
            .map_err(|e| CodegenError::UnsupportedHost(format!("{k}={v}: {e}")))
    };
    // The kernels are emitted in the order they should run (register tiles, loads next
    // to their uses); the e-graph optimiser of `speed` re-elaborates pure values at
    // their last use and spills the tiles, halving conv throughput. `SCC_OPT_LEVEL`
    // overrides for experiments.
    set(
        &mut flags,
        "opt_level",
        &std::env::var("SCC_OPT_LEVEL").unwrap_or("none".into()),
    )?;
    set(&mut flags, "is_pic", if is_pic { "true" } else { "false" })?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    let isa_builder =
        cranelift_native::builder().map_err(|e| CodegenError::UnsupportedHost(e.to_string()))?;
    let isa = isa_builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| CodegenError::UnsupportedHost(e.to_string()))?;
    let has_fma = isa
        .isa_flags()
        .iter()
        .any(|f| f.name == "has_fma" && f.as_bool() == Some(true))
        && isa
            .isa_flags()
            .iter()
            .any(|f| f.name == "has_avx" && f.as_bool() == Some(true));
    Ok((isa, has_fma))
}

/// Emits the kernels of every node of `graph` into `module` and builds the program.
pub fn generate<M: Module>(
    module: &mut M,
    has_fma: bool,
    prefix: &str,
    graph: &Graph,
    weights: &Weights,
) -> Result<(Program, Vec<FuncId>), CodegenError> {
    let mut emitter = Emitter::new(module, has_fma, prefix);
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
        lower_node(&mut emitter, &info, &mut builder)?;
    }
    builder.program.kernels = emitter.functions.iter().map(|(n, _)| n.clone()).collect();
    builder.program.code_bytes = emitter.code_bytes;
    let ids = emitter.functions.iter().map(|(_, f)| *f).collect();
    Ok((builder.program, ids))
}

/// Lowers one node to kernels and steps (exhaustive over the ops).
fn lower_node<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let op = &node.graph.node(node.id).op;
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
        Op::Add => elementwise::lower_binary(em, node, Arith::Add, program),
        Op::Sub => elementwise::lower_binary(em, node, Arith::Sub, program),
        Op::Mul => elementwise::lower_binary(em, node, Arith::Mul, program),
        Op::Div => elementwise::lower_binary(em, node, Arith::Div, program),
        Op::Concat => elementwise::lower_concat(em, node, program),
        Op::Upsample(attrs) => elementwise::lower_upsample(em, node, attrs, program),
        Op::Softmax => elementwise::lower_softmax(em, node, program),
        Op::Flatten => elementwise::lower_copy(em, node, program),
        Op::StructuredConv2d(_) | Op::StructuredLinear { .. } => Err(CodegenError::NotLowered {
            node: node.name().to_string(),
            op: op.name(),
        }),
    }
}
