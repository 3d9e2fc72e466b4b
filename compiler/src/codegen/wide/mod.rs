//! Wide tiers (AVX2 + FMA, AVX-512F): Cranelift driver kernels that call the micro-kernels of
//! `scc-kernels`, one family per file.
//!
//! A driver is an ordinary step kernel (`fn(args, start, end)`), so the JIT and `scc build`
//! schedule it like any other; it calls the tier's entry points (imported symbols: registered
//! with the JIT, linked into binaries from `scc-native`). Per-layer constants go into geometry
//! records ([`ProgramBuilder::words`], the layouts of `scc_kernels::abi`). The conv and
//! depthwise drivers ([`conv`]) are specialised to the layer: work items, pointer arithmetic,
//! the valid kernel rows of every output row (a constant table) and the column runs of a row
//! (immediate constants; which border pixels a run's edge tiles clip) are all decided here,
//! and the micro-kernel runs one column run. The memory-bound ops ([`ops`]) forward their range
//! to a range kernel reading its geometry from the argument table.
//!
//! Which nodes lower here: every node whose value `choose-layout` made channel-blocked, every
//! reorder, and linear layers (plain `[N, F]`, packed GEMV/GEMM micro-kernel).

mod conv;
mod ops;

use super::{CodegenError, Emitter, NodeInfo, ProgramBuilder};
use crate::ir::{Layout, Op};
use crate::target::Tier;
use cranelift_codegen::ir::{FuncRef, InstBuilder};
use cranelift_module::Module;

/// Whether `node` lowers through this module (on a wide tier).
pub fn lowers(node: &NodeInfo) -> bool {
    let op = &node.graph.node(node.id).op;
    node.graph.layout(node.id) != Layout::Plain || matches!(op, Op::Reorder { .. } | Op::Linear(_))
}

/// The `scc-kernels` entry point `scc_<tier>_<kernel>`.
fn symbol(tier: Tier, kernel: &str) -> &'static str {
    let name = format!("scc_{}_{kernel}", tier.name());
    scc_kernels::symbols()
        .into_iter()
        .map(|(n, _)| n)
        .find(|n| *n == name)
        .unwrap_or_else(|| panic!("scc-kernels has no entry point `{name}`"))
}

/// Lowers a node to wide kernels (exhaustive over the ops).
pub fn lower<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let op = &node.graph.node(node.id).op;
    match op {
        Op::Conv2d(attrs) => conv::lower(em, node, attrs, program),
        Op::Linear(attrs) => ops::lower_linear(em, node, attrs, program),
        Op::Reorder { to } => ops::lower_reorder(em, node, *to, program),
        Op::BatchNorm { eps } => ops::lower_batchnorm(em, node, *eps, program),
        Op::Activation(act) => ops::lower_activation(em, node, *act, program),
        Op::Add => ops::lower_binary(em, node, scc_kernels::abi::MAP_ADD, program),
        Op::Mul => ops::lower_binary(em, node, scc_kernels::abi::MAP_MUL, program),
        Op::MaxPool(attrs) => ops::lower_pool(em, node, scc_kernels::abi::POOL_MAX, attrs, program),
        Op::AvgPool(attrs) => ops::lower_pool(em, node, scc_kernels::abi::POOL_AVG, attrs, program),
        Op::SumPool(attrs) => ops::lower_pool(em, node, scc_kernels::abi::POOL_SUM, attrs, program),
        Op::GlobalAvgPool => ops::lower_global_average(em, node, program),
        Op::SumPool3d(attrs) => ops::lower_sumpool3d(em, node, attrs, program),
        Op::Input { .. }
        | Op::StructuredConv2d(_)
        | Op::StructuredLinear { .. }
        | Op::Flatten
        | Op::Softmax
        | Op::Concat
        | Op::Upsample(_)
        | Op::Sub
        | Op::Div
        | Op::Clamp { .. }
        | Op::LeakyRelu { .. }
        | Op::Pad(_)
        | Op::Transpose { .. }
        | Op::Scalar(_)
        | Op::Affine { .. }
        | Op::BatchNormTraining { .. }
        | Op::SumPoolFeatures { .. } => Err(CodegenError::Layout {
            node: node.name().to_string(),
            problem: format!(
                "{} has no channel-blocked kernel (layout {})",
                op.name(),
                node.graph.layout(node.id).name()
            ),
        }),
    }
}

/// A kernel that forwards its range to the range kernel `callee` (`fn(args, start, end)`).
fn trampoline<M: Module>(
    em: &mut Emitter<M>,
    name: &str,
    callee: &'static str,
) -> Result<usize, CodegenError> {
    em.kernel_calling(name, &[(callee, 3)], |kb, calls: &[FuncRef]| {
        // The body starts in the entry block, whose first parameter is the argument table.
        let entry = kb.b.current_block().expect("positioned in the entry block");
        let args = kb.b.block_params(entry)[0];
        let (start, end) = (kb.start, kb.end);
        kb.b.ins().call(calls[0], &[args, start, end]);
    })
}

/// The lanes of the node's blocked layout (its own, else its operand's).
fn lanes(node: &NodeInfo, tier: Tier) -> usize {
    match node.graph.layout(node.id) {
        Layout::Blocked(lanes) => lanes,
        Layout::Plain | Layout::Fused => tier.lanes(),
    }
}
