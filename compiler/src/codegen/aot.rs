//! Ahead-of-time compilation: the same kernels as the JIT, emitted into a relocatable
//! object file (cranelift-object, position independent), with the program as data.
//!
//! For a model with symbol prefix `P` the object defines (ABI version 1, shared with the
//! `scc-native` runtime that executables link):
//! - `P_desc`: u64 words `[2, inputs, outputs, arena_bytes, scratch_bytes, steps,
//!   kernels, consts, 0, cpu features]`, then per input `[rank, d0..d3]`, per output
//!   `[rank, d0..d3, location kind (0 arena offset, 1 input index), location]`, per step
//!   `[kernel, work_items, work_ns, args, (kind, value) × args]` with arg kinds 0 arena
//!   offset, 1 input index, 2 scratch offset, 3 const index; the cpu features are bits of
//!   `scc_kernels::cpu::KNOWN_FEATURES` (what the code may use, checked at start-up);
//! - `P_kernels` (function pointers), `P_consts` (pointers to the re-packed weights, each
//!   a read-only data object), `P_names` (model, input and output names, NUL-terminated);
//! - `int P_run(const float *const *inputs, float *const *outputs)` and
//!   `int P_run_threads(const float *const *inputs, float *const *outputs, unsigned threads)`,
//!   which call `scc_native_run` (with 0 threads — the default — or `threads`),
//!   `const char *P_last_error(void)`, which calls `scc_native_last_error`, and, for
//!   executables, `int main(int argc, char **argv)`, which calls `scc_native_main`.

use super::{Buf, CodegenError, Program, generate};
use crate::ir::{Graph, Op};
use crate::memory::plan_graph;
use crate::target::Target;
use crate::weights::Weights;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{AbiParam, InstBuilder, Signature, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module, default_libcall_names};
use cranelift_object::{ObjectBuilder, ObjectModule};
use std::collections::HashMap;

/// An object file and what it holds.
pub struct ObjectFile {
    pub bytes: Vec<u8>,
    pub program: Program,
    /// Bytes of machine code (all kernels and trampolines).
    pub code_bytes: usize,
    /// Bytes of constant data (re-packed weights).
    pub weight_bytes: usize,
}

fn err(what: &str, e: impl std::fmt::Display) -> CodegenError {
    CodegenError::Cranelift {
        kernel: what.to_string(),
        message: e.to_string(),
    }
}

/// The `P_desc` words of a program over `graph`.
pub fn descriptor(graph: &Graph, program: &Program) -> Result<Vec<u64>, CodegenError> {
    let features = scc_kernels::cpu::feature_mask(program.features.iter().map(String::as_str))
        .map_err(|f| CodegenError::UnsupportedHost(format!("cannot record CPU feature `{f}`")))?;
    let memory = plan_graph(graph);
    let offsets: HashMap<_, _> = memory
        .placements
        .iter()
        .map(|(id, offset, _)| (*id, *offset as u64))
        .collect();
    let input_index: HashMap<_, _> = graph
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, (_, id))| (*id, i as u64))
        .collect();
    let dims = |shape: &[usize]| -> [u64; 5] {
        let mut words = [shape.len() as u64, 0, 0, 0, 0];
        for (i, d) in shape.iter().enumerate() {
            words[i + 1] = *d as u64;
        }
        words
    };
    let mut words = vec![
        2,
        graph.inputs().len() as u64,
        graph.outputs().len() as u64,
        memory.arena_bytes.next_multiple_of(64) as u64,
        program.scratch_bytes as u64,
        program.steps.len() as u64,
        program.kernels.len() as u64,
        program.consts.len() as u64,
        0,
        features,
    ];
    for (_, id) in graph.inputs() {
        words.extend(dims(&graph.node(*id).shape));
    }
    for (_, id) in graph.outputs() {
        words.extend(dims(&graph.node(*id).shape));
        match graph.node(*id).op {
            Op::Input { .. } => words.extend([1, input_index[id]]),
            _ => words.extend([0, offsets[id]]),
        }
    }
    for step in &program.steps {
        words.extend([
            step.kernel as u64,
            step.work_items,
            step.work_ns,
            step.args.len() as u64,
        ]);
        for arg in &step.args {
            words.extend(match arg {
                Buf::Node(id) => match input_index.get(id) {
                    Some(index) => [1, *index],
                    None => [0, offsets[id]],
                },
                Buf::Scratch(offset) => [2, *offset as u64],
                Buf::Const(index) => [3, *index as u64],
            });
        }
    }
    Ok(words)
}

/// Emits the object file of `graph` (after `decompose-structured`) with `weights`.
/// `prefix` must be a C identifier; `with_main` adds `main` for executables.
pub fn emit_object(
    graph: &Graph,
    weights: &Weights,
    target: &Target,
    prefix: &str,
    with_main: bool,
) -> Result<ObjectFile, CodegenError> {
    let isa = target.isa(true)?;
    let builder =
        ObjectBuilder::new(isa, prefix, default_libcall_names()).map_err(|e| err("object", e))?;
    let mut module = ObjectModule::new(builder);
    let (program, kernels) = generate(&mut module, target, prefix, graph, weights)?;
    let mut weight_bytes = 0;
    let mut consts: Vec<DataId> = Vec::new();
    for (i, data) in program.consts.iter().enumerate() {
        let id = module
            .declare_data(&format!("{prefix}_const{i}"), Linkage::Local, false, false)
            .map_err(|e| err("const", e))?;
        let mut description = DataDescription::new();
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        weight_bytes += bytes.len();
        description.define(bytes.into_boxed_slice());
        description.set_align(64);
        module
            .define_data(id, &description)
            .map_err(|e| err("const", e))?;
        consts.push(id);
    }
    let define = |module: &mut ObjectModule,
                  name: &str,
                  description: DataDescription|
     -> Result<DataId, CodegenError> {
        let id = module
            .declare_data(name, Linkage::Export, false, false)
            .map_err(|e| err(name, e))?;
        module
            .define_data(id, &description)
            .map_err(|e| err(name, e))?;
        Ok(id)
    };
    // P_desc
    let mut description = DataDescription::new();
    let words: Vec<u8> = descriptor(graph, &program)?
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    description.define(words.into_boxed_slice());
    description.set_align(8);
    let desc = define(&mut module, &format!("{prefix}_desc"), description)?;
    // P_kernels
    let mut description = DataDescription::new();
    // Zero-filled contents (not `define_zeroinit`: a .bss table would lose its relocations).
    description.define(vec![0u8; kernels.len().max(1) * 8].into_boxed_slice());
    description.set_align(8);
    for (i, &func) in kernels.iter().enumerate() {
        let reference = module.declare_func_in_data(func, &mut description);
        description.write_function_addr((i * 8) as u32, reference);
    }
    let kernel_table = define(&mut module, &format!("{prefix}_kernels"), description)?;
    // P_consts
    let mut description = DataDescription::new();
    description.define(vec![0u8; consts.len().max(1) * 8].into_boxed_slice());
    description.set_align(8);
    for (i, &data) in consts.iter().enumerate() {
        let reference = module.declare_data_in_data(data, &mut description);
        description.write_data_addr((i * 8) as u32, reference, 0);
    }
    let const_table = define(&mut module, &format!("{prefix}_consts"), description)?;
    // P_names
    let mut names = Vec::new();
    for name in std::iter::once(&graph.name)
        .chain(graph.inputs().iter().map(|(n, _)| n))
        .chain(graph.outputs().iter().map(|(n, _)| n))
    {
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    let mut description = DataDescription::new();
    description.define(names.into_boxed_slice());
    let name_table = define(&mut module, &format!("{prefix}_names"), description)?;
    let tables = [desc, kernel_table, const_table, name_table];
    // int P_run(const float *const *inputs, float *const *outputs)
    emit_trampoline(
        &mut module,
        &format!("{prefix}_run"),
        "scc_native_run",
        &tables,
        &[I64, I64],
        Threads::Default,
    )?;
    // int P_run_threads(const float *const *inputs, float *const *outputs, unsigned threads)
    emit_trampoline(
        &mut module,
        &format!("{prefix}_run_threads"),
        "scc_native_run",
        &tables,
        &[I64, I64, I32],
        Threads::Given,
    )?;
    // const char *P_last_error(void)
    emit_last_error(&mut module, &format!("{prefix}_last_error"))?;
    if with_main {
        emit_trampoline(
            &mut module,
            "main",
            "scc_native_main",
            &tables,
            &[I32, I64],
            Threads::None,
        )?;
    }
    let code_bytes = program.code_bytes;
    let bytes = module.finish().emit().map_err(|e| err("object", e))?;
    Ok(ObjectFile {
        bytes,
        program,
        code_bytes,
        weight_bytes,
    })
}

/// The thread-count argument a trampoline passes on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Threads {
    /// None (`scc_native_main`).
    None,
    /// 0: the default.
    Default,
    /// The trampoline's last parameter (an `unsigned`), widened to 64 bits.
    Given,
}

/// Defines `name(params...) -> i32` as a call of `target(desc, kernels, consts, names,
/// params..., [threads])`.
fn emit_trampoline(
    module: &mut ObjectModule,
    name: &str,
    target: &str,
    tables: &[DataId; 4],
    params: &[cranelift_codegen::ir::Type],
    threads: Threads,
) -> Result<FuncId, CodegenError> {
    let forwarded = if threads == Threads::Given {
        &params[..params.len() - 1]
    } else {
        params
    };
    let call_conv = module.isa().default_call_conv();
    let mut signature = Signature::new(call_conv);
    for &ty in params {
        signature.params.push(AbiParam::new(ty));
    }
    signature.returns.push(AbiParam::new(I32));
    let mut callee_signature = Signature::new(call_conv);
    for _ in 0..4 {
        callee_signature.params.push(AbiParam::new(I64));
    }
    for &ty in forwarded {
        callee_signature.params.push(AbiParam::new(ty));
    }
    if threads != Threads::None {
        callee_signature.params.push(AbiParam::new(I64));
    }
    callee_signature.returns.push(AbiParam::new(I32));
    let func = module
        .declare_function(name, Linkage::Export, &signature)
        .map_err(|e| err(name, e))?;
    let callee = module
        .declare_function(target, Linkage::Import, &callee_signature)
        .map_err(|e| err(target, e))?;
    let mut context = module.make_context();
    context.func.signature = signature;
    context.func.name = UserFuncName::user(0, func.as_u32());
    let mut builder_context = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut context.func, &mut builder_context);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let mut args = Vec::new();
        for table in tables {
            let global = module.declare_data_in_func(*table, b.func);
            args.push(b.ins().symbol_value(I64, global));
        }
        let own = b.block_params(entry).to_vec();
        args.extend_from_slice(&own[..forwarded.len()]);
        match threads {
            Threads::None => {}
            Threads::Default => args.push(b.ins().iconst(I64, 0)),
            Threads::Given => {
                let widened = b.ins().uextend(I64, own[forwarded.len()]);
                args.push(widened);
            }
        }
        let callee_ref = module.declare_func_in_func(callee, b.func);
        let call = b.ins().call(callee_ref, &args);
        let result = b.inst_results(call)[0];
        b.ins().return_(&[result]);
        b.seal_all_blocks();
        b.finalize(module.isa().frontend_config());
    }
    module
        .define_function(func, &mut context)
        .map_err(|e| err(name, format!("{e:?}")))?;
    Ok(func)
}

/// Defines `const char *name(void)` as a call of `scc_native_last_error()`.
fn emit_last_error(module: &mut ObjectModule, name: &str) -> Result<FuncId, CodegenError> {
    let call_conv = module.isa().default_call_conv();
    let mut signature = Signature::new(call_conv);
    signature.returns.push(AbiParam::new(I64));
    let func = module
        .declare_function(name, Linkage::Export, &signature)
        .map_err(|e| err(name, e))?;
    let callee = module
        .declare_function("scc_native_last_error", Linkage::Import, &signature)
        .map_err(|e| err("scc_native_last_error", e))?;
    let mut context = module.make_context();
    context.func.signature = signature;
    context.func.name = UserFuncName::user(0, func.as_u32());
    let mut builder_context = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut context.func, &mut builder_context);
        let entry = b.create_block();
        b.switch_to_block(entry);
        let callee_ref = module.declare_func_in_func(callee, b.func);
        let call = b.ins().call(callee_ref, &[]);
        let result = b.inst_results(call)[0];
        b.ins().return_(&[result]);
        b.seal_all_blocks();
        b.finalize(module.isa().frontend_config());
    }
    module
        .define_function(func, &mut context)
        .map_err(|e| err(name, format!("{e:?}")))?;
    Ok(func)
}
