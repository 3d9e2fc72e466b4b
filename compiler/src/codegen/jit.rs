//! Just-in-time compilation and execution: all kernels of a model in one `JITModule`,
//! finalised at once, run over a per-call arena by a thread pool.

use super::{Buf, CodegenError, Program, generate};
use crate::interp::{RunError, check_inputs};
use crate::ir::{Graph, NodeId, Op};
use crate::memory::{GraphMemoryPlan, plan_graph};
use crate::target::Target;
use crate::weights::Weights;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::default_libcall_names;
use scc_runtime::Tensor;
use scc_runtime::memory::{MemoryLimit, Requirement, f32_bytes, try_collect, try_vec};
use std::collections::{BTreeMap, HashMap};
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

/// A kernel's entry point.
type KernelFn = unsafe extern "C" fn(*const *mut f32, u64, u64);

/// A model compiled to native code. `run` may be called from many threads at once: each
/// call has its own arena.
pub struct CompiledModel {
    graph: Graph,
    program: Program,
    kernels: Vec<KernelFn>,
    memory: GraphMemoryPlan,
    /// Arena byte offset of every planned node value.
    offsets: HashMap<NodeId, usize>,
    threads: usize,
    /// Arenas of finished runs, reused so that steady-state runs allocate (and fault in)
    /// no memory; concurrent runs each take their own.
    arenas: std::sync::Mutex<Vec<Vec<f32>>>,
    /// The memory a run needs (checked against the limit when compiling).
    requirement: Requirement,
    module: ManuallyDrop<JITModule>,
}

// SAFETY: the JIT code and the constant buffers are immutable after `compile`; every `run`
// writes only to its own arena and outputs. The module is only touched again on drop.
unsafe impl Send for CompiledModel {}
unsafe impl Sync for CompiledModel {}

impl Drop for CompiledModel {
    fn drop(&mut self) {
        // SAFETY: no function pointer of this module outlives `self`.
        unsafe { ManuallyDrop::take(&mut self.module).free_memory() };
    }
}

impl CompiledModel {
    /// Compiles `graph` (after `decompose-structured`, and `choose-layout` for `target`'s tier)
    /// with `weights` for `target` (a host target), for `threads` worker threads (0: all
    /// cores), within the memory available on the machine.
    pub fn compile(
        graph: &Graph,
        weights: &Weights,
        target: &Target,
        threads: usize,
    ) -> Result<CompiledModel, CodegenError> {
        CompiledModel::compile_within(graph, weights, target, threads, &MemoryLimit::available())
    }

    /// [`CompiledModel::compile`], checking first that the model fits in `limit`: its
    /// re-packed weights, the arena of its intermediate tensors, its scratch space, inputs and
    /// outputs ([`requirement`]; scratch is known once the kernels are generated, and checked
    /// then, before any run allocates it).
    pub fn compile_within(
        graph: &Graph,
        weights: &Weights,
        target: &Target,
        threads: usize,
        limit: &MemoryLimit,
    ) -> Result<CompiledModel, CodegenError> {
        let memory = plan_graph(graph);
        let mut need = requirement(graph, &memory, 0);
        need.check(limit)?;
        let isa = target.isa(false)?;
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        builder.symbols(scc_kernels::symbols());
        let mut module = JITModule::new(builder);
        let (program, ids) = generate(&mut module, target, "scc", graph, weights)?;
        module
            .finalize_definitions()
            .map_err(|e| CodegenError::Cranelift {
                kernel: "(finalize)".into(),
                message: e.to_string(),
            })?;
        let kernels = ids
            .iter()
            .map(|&id| {
                let code = module.get_finalized_function(id);
                // SAFETY: every kernel was defined with `emit::kernel_signature`.
                unsafe { std::mem::transmute::<*const u8, KernelFn>(code) }
            })
            .collect();
        need = requirement(graph, &memory, program.scratch_bytes);
        need.check(limit)?;
        let offsets = memory
            .placements
            .iter()
            .map(|(id, offset, _)| (*id, *offset))
            .collect();
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        Ok(CompiledModel {
            graph: graph.clone(),
            program,
            kernels,
            memory,
            offsets,
            threads,
            arenas: std::sync::Mutex::new(Vec::new()),
            requirement: need,
            module: ManuallyDrop::new(module),
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Arena bytes per run (node values plus the largest scratch).
    pub fn arena_bytes(&self) -> usize {
        self.memory.arena_bytes.next_multiple_of(64) + self.program.scratch_bytes
    }

    /// The memory the model needs: weights, arena, scratch, inputs and outputs.
    pub fn requirement(&self) -> &Requirement {
        &self.requirement
    }

    /// Runs the model; outputs in `return` order.
    pub fn run(
        &self,
        inputs: &BTreeMap<String, Tensor>,
    ) -> Result<Vec<(String, Tensor)>, RunError> {
        self.run_timed(inputs, None)
    }

    /// Runs the model, adding each node's wall time to `times` when given.
    pub fn run_timed(
        &self,
        inputs: &BTreeMap<String, Tensor>,
        mut times: Option<&mut HashMap<NodeId, Duration>>,
    ) -> Result<Vec<(String, Tensor)>, RunError> {
        check_inputs(&self.graph, inputs)?;
        let arena_floats = self.arena_bytes().div_ceil(4) + 16;
        let reused = self
            .arenas
            .lock()
            .map(|mut arenas| arenas.pop())
            .unwrap_or(None);
        let mut arena = match reused {
            Some(arena) => arena,
            None => try_vec(arena_floats, 0f32, || {
                format!("the arena of the model `{}`", self.graph.name)
            })?,
        };
        // Align the arena base to 64 bytes.
        let misalignment = (arena.as_ptr() as usize % 64) / 4;
        let base_index = (16 - misalignment) % 16;
        let base = unsafe { arena.as_mut_ptr().add(base_index) };
        let scratch_base = unsafe { base.add(self.memory.arena_bytes.next_multiple_of(64) / 4) };
        let input_ptrs: HashMap<NodeId, *mut f32> = self
            .graph
            .inputs()
            .iter()
            .map(|(name, id)| (*id, inputs[name].data().as_ptr() as *mut f32))
            .collect();
        for step in &self.program.steps {
            let args: Vec<*mut f32> = step
                .args
                .iter()
                .map(|arg| match arg {
                    Buf::Node(id) => match input_ptrs.get(id) {
                        Some(ptr) => *ptr,
                        None => unsafe { base.add(self.offsets[id] / 4) },
                    },
                    Buf::Scratch(offset) => unsafe { scratch_base.add(offset / 4) },
                    Buf::Const(index) => self.program.consts[*index].as_ptr() as *mut f32,
                })
                .collect();
            let started = times.as_ref().map(|_| Instant::now());
            self.launch(self.kernels[step.kernel], &args, step);
            if let (Some(times), Some(started)) = (times.as_deref_mut(), started) {
                *times.entry(step.node).or_default() += started.elapsed();
            }
        }
        let mut outputs = Vec::with_capacity(self.graph.outputs().len());
        for (name, id) in self.graph.outputs() {
            let node = self.graph.node(*id);
            let len: usize = node.shape.iter().product();
            let source = match node.op {
                Op::Input { .. } => {
                    inputs[&self.graph.inputs().iter().find(|(_, i)| i == id).unwrap().0].data()
                }
                // SAFETY: the output's arena slot holds `len` floats written by the steps.
                _ => unsafe { std::slice::from_raw_parts(base.add(self.offsets[id] / 4), len) },
            };
            let data = try_collect(len, source.iter().copied(), || {
                format!("the output `{name}`")
            })?;
            outputs.push((
                name.clone(),
                Tensor::new(node.shape.clone(), data).expect("output shape"),
            ));
        }
        if let Ok(mut arenas) = self.arenas.lock() {
            arenas.push(arena);
        }
        Ok(outputs)
    }

    /// Runs one step's kernel over its work items, split into as many tasks as its work
    /// warrants ([`scc_kernels::pool::launch`]).
    fn launch(&self, kernel: KernelFn, args: &[*mut f32], step: &super::Step) {
        // SAFETY: the arguments point to buffers sized by the plan for this kernel; work
        // items write disjoint elements.
        unsafe {
            scc_kernels::pool::launch(
                kernel,
                args.as_ptr(),
                step.work_items,
                step.work_ns,
                self.threads,
            )
        };
    }
}

/// The memory a JIT-compiled `graph` needs: its re-packed weights (every parameter its nodes
/// read), the arena of its intermediate tensors (`memory`), `scratch_bytes` of kernel scratch,
/// its inputs (the caller's) and the outputs a run returns.
pub fn requirement(graph: &Graph, memory: &GraphMemoryPlan, scratch_bytes: usize) -> Requirement {
    let mut r = Requirement::new(format!("the model `{}` (JIT)", graph.name));
    for p in graph.live_params() {
        let param = graph.param(p);
        r.add_tensor("weights", &param.name, &param.shape, "weight");
    }
    for (name, id) in graph.inputs() {
        r.add_tensor("inputs", name, &graph.node(*id).shape, "input");
    }
    r.add("intermediates (arena)", memory.arena_bytes as u64);
    for (id, _, _) in &memory.placements {
        let node = graph.node(*id);
        r.note_tensor(&node.name, &node.shape, "intermediate");
    }
    r.add("scratch", scratch_bytes as u64);
    for (_, id) in graph.outputs() {
        r.add("outputs", f32_bytes(&graph.node(*id).shape));
    }
    r
}
