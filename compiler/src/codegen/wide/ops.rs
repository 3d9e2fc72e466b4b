//! Drivers of the memory-bound wide kernels — reorders, elementwise maps, pooling, global
//! average pooling, 3-D sum-pools — and of linear layers. Each is a trampoline to a range
//! kernel of `scc-kernels` (`scc_kernels::ops`) with its geometry as the first argument.

use super::{lanes, symbol, trampoline};
use crate::codegen::elementwise::batchnorm_constants;
use crate::codegen::{Buf, CodegenError, Emitter, NodeInfo, ProgramBuilder};
use crate::ir::{EpilogueStep, Layout, LinearAttrs, PoolAttrs, SumPool3dAttrs};
use cranelift_module::Module;
use scc_kernels::abi::{self, Record};
use scc_runtime::kernels::Activation;

/// The epilogue codes of `steps`.
pub fn epilogue_codes(steps: &[EpilogueStep]) -> Vec<i64> {
    steps
        .iter()
        .map(|s| match s {
            EpilogueStep::Residual => abi::EPI_RESIDUAL,
            EpilogueStep::Activation(act) => activation_code(*act),
        })
        .collect()
}

pub fn activation_code(act: Activation) -> i64 {
    match act {
        Activation::Relu => abi::ACT_RELU,
        Activation::Relu6 => abi::ACT_RELU6,
        Activation::Sigmoid => abi::ACT_SIGMOID,
        Activation::Tanh => abi::ACT_TANH,
        Activation::Silu => abi::ACT_SILU,
        Activation::Hardswish => abi::ACT_HARDSWISH,
        Activation::Hardsigmoid => abi::ACT_HARDSIGMOID,
    }
}

/// `(n, channels, h·w)` of a rank-4 (or rank-2) shape.
fn dims(shape: &[usize]) -> (usize, usize, usize) {
    (shape[0], shape[1], shape[2..].iter().product())
}

pub fn lower_reorder<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    to: Layout,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let source = node.operands()[0];
    let (n, c, plane) = dims(node.shape());
    let (kernel, lanes) = match (node.graph.layout(source), to) {
        (Layout::Plain, Layout::Blocked(lanes)) => ("to_blocked", lanes),
        (Layout::Blocked(lanes), Layout::Plain) => ("to_plain", lanes),
        (from, to) => {
            return Err(CodegenError::Layout {
                node: node.name().to_string(),
                problem: format!("no reorder from {} to {}", from.name(), to.name()),
            });
        }
    };
    let blocks = c.div_ceil(lanes);
    let geometry = program.words(
        &abi::ReorderGeometry {
            channels: c as i64,
            plane: plane as i64,
            blocks: blocks as i64,
        }
        .words(),
    );
    let k = trampoline(
        em,
        &format!("{}_{kernel}", node.name()),
        symbol(em.tier, kernel),
    )?;
    program.step(
        k,
        vec![geometry, Buf::Node(node.id), Buf::Node(source)],
        (n * blocks) as u64,
    );
    Ok(())
}

fn map_step<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    geometry: abi::MapGeometry,
    operands: Vec<Buf>,
    what: &str,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let (n, _, _) = dims(node.shape());
    let items = n * geometry.blocks as usize;
    let record = program.words(&geometry.words());
    let mut args = vec![record, Buf::Node(node.id)];
    args.extend(operands);
    let k = trampoline(
        em,
        &format!("{}_{what}", node.name()),
        symbol(em.tier, "map"),
    )?;
    program.step(k, args, items as u64);
    Ok(())
}

fn map_geometry(node: &NodeInfo, lanes: usize, kind: i64) -> abi::MapGeometry {
    let (_, c, plane) = dims(node.shape());
    abi::MapGeometry {
        kind,
        channels: c as i64,
        plane: plane as i64,
        blocks: c.div_ceil(lanes) as i64,
        broadcast: 0,
        code: 0,
    }
}

pub fn lower_activation<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    act: Activation,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let lanes = lanes(node, em.tier);
    let geometry = abi::MapGeometry {
        code: activation_code(act),
        ..map_geometry(node, lanes, abi::MAP_ACTIVATION)
    };
    let input = Buf::Node(node.operands()[0]);
    map_step(em, node, geometry, vec![input], act.name(), program)
}

pub fn lower_batchnorm<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    eps: f32,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let lanes = lanes(node, em.tier);
    let geometry = map_geometry(node, lanes, abi::MAP_AFFINE);
    let c = geometry.channels as usize;
    let padded = geometry.blocks as usize * lanes;
    // [scale c][shift c] → [scale, padded][shift, padded] (zeros in the padding lanes).
    let table = batchnorm_constants(&node.params, eps);
    let mut params = vec![0.0f32; 2 * padded];
    params[..c].copy_from_slice(&table[..c]);
    params[padded..padded + c].copy_from_slice(&table[c..]);
    let params = program.constant(params);
    let input = Buf::Node(node.operands()[0]);
    map_step(
        em,
        node,
        geometry,
        vec![input, params],
        "batchnorm",
        program,
    )
}

pub fn lower_binary<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    kind: i64,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let lanes = lanes(node, em.tier);
    let operands = node.operands();
    let broadcast = node.operand_shape(1) != node.shape();
    let geometry = abi::MapGeometry {
        broadcast: i64::from(broadcast),
        ..map_geometry(node, lanes, kind)
    };
    let what = if kind == abi::MAP_ADD { "add" } else { "mul" };
    map_step(
        em,
        node,
        geometry,
        vec![Buf::Node(operands[0]), Buf::Node(operands[1])],
        what,
        program,
    )
}

fn pool_geometry(
    input: &[usize],
    output: &[usize],
    kind: i64,
    kernel: (usize, usize),
    stride: (usize, usize),
    pad: (usize, usize),
    lanes: usize,
) -> abi::PoolGeometry {
    abi::PoolGeometry {
        kind,
        h: input[2] as i64,
        w: input[3] as i64,
        oh: output[2] as i64,
        ow: output[3] as i64,
        kh: kernel.0 as i64,
        kw: kernel.1 as i64,
        sh: stride.0 as i64,
        sw: stride.1 as i64,
        ph: pad.0 as i64,
        pw: pad.1 as i64,
        blocks: input[1].div_ceil(lanes) as i64,
    }
}

pub fn lower_pool<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    kind: i64,
    attrs: &PoolAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let lanes = lanes(node, em.tier);
    let input = node.operand_shape(0);
    let output = node.shape().to_vec();
    let geometry = pool_geometry(
        &input,
        &output,
        kind,
        attrs.kernel,
        attrs.stride,
        attrs.pad,
        lanes,
    );
    let items = output[0] * geometry.blocks as usize * output[2];
    let record = program.words(&geometry.words());
    let k = trampoline(
        em,
        &format!("{}_pool", node.name()),
        symbol(em.tier, "pool"),
    )?;
    program.step(
        k,
        vec![record, Buf::Node(node.id), Buf::Node(node.operands()[0])],
        items as u64,
    );
    Ok(())
}

pub fn lower_global_average<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let lanes = lanes(node, em.tier);
    let (n, c, plane) = dims(&node.operand_shape(0));
    let blocks = c.div_ceil(lanes);
    let record = program.words(
        &abi::GlobalPoolGeometry {
            plane: plane as i64,
            blocks: blocks as i64,
        }
        .words(),
    );
    let k = trampoline(
        em,
        &format!("{}_global_average", node.name()),
        symbol(em.tier, "global_average"),
    )?;
    program.step(
        k,
        vec![record, Buf::Node(node.id), Buf::Node(node.operands()[0])],
        (n * blocks) as u64,
    );
    Ok(())
}

/// A 3-D sum-pool: the channel pass (sums of `window.0` channels per pixel, into scratch or
/// straight into the output), then the spatial pass (the 2-D window sum with padding and
/// stride, the sum-pool kernel). A pass with a window of one is skipped.
pub fn lower_sumpool3d<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: &SumPool3dAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    if node.graph.layout(node.id) == Layout::Fused {
        // Computed inside the tiles of its only user (a fused structured conv).
        return Ok(());
    }
    let lanes = lanes(node, em.tier);
    let input = node.operand_shape(0);
    let output = node.shape().to_vec();
    let (n, c, h, w) = (input[0], input[1], input[2], input[3]);
    let (wc, wh, ww) = attrs.window;
    let spatial = (wh, ww) != (1, 1) || attrs.pad != (0, 0) || attrs.stride != (1, 1);
    let mut source = Buf::Node(node.operands()[0]);
    let mut channels = c;
    if wc > 1 {
        let cg = c / attrs.groups;
        channels = attrs.groups * (cg - wc + 1);
        let out_blocks = channels.div_ceil(lanes);
        let target = if spatial {
            program.scratch(n * out_blocks * lanes * h * w)
        } else {
            Buf::Node(node.id)
        };
        let record = program.words(
            &abi::ChannelPoolGeometry {
                channels: c as i64,
                groups: attrs.groups as i64,
                group_channels: cg as i64,
                window: wc as i64,
                h: h as i64,
                w: w as i64,
                in_blocks: c.div_ceil(lanes) as i64,
                out_blocks: out_blocks as i64,
            }
            .words(),
        );
        let k = trampoline(
            em,
            &format!("{}_channels", node.name()),
            symbol(em.tier, "channel_pool"),
        )?;
        program.step(k, vec![record, target, source], (n * h) as u64);
        source = target;
    }
    if spatial || wc == 1 {
        let mid = [n, channels, h, w];
        let geometry = pool_geometry(
            &mid,
            &output,
            abi::POOL_SUM,
            (wh, ww),
            attrs.stride,
            attrs.pad,
            lanes,
        );
        let items = n * geometry.blocks as usize * output[2];
        let record = program.words(&geometry.words());
        let k = trampoline(
            em,
            &format!("{}_spatial", node.name()),
            symbol(em.tier, "pool"),
        )?;
        program.step(k, vec![record, Buf::Node(node.id), source], items as u64);
    }
    Ok(())
}

pub fn lower_linear<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: &LinearAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let lanes = em.tier.lanes();
    let x = node.operand_shape(0);
    let (n, f) = (x[0], x[1]);
    let o = attrs.out_features;
    let blocks = o.div_ceil(lanes);
    let weight = node.params[0].data();
    let mut packed = vec![0.0f32; blocks * f * lanes + blocks * lanes];
    for out in 0..o {
        let (b, l) = (out / lanes, out % lanes);
        for i in 0..f {
            packed[(b * f + i) * lanes + l] = weight[out * f + i];
        }
    }
    if attrs.bias {
        packed[blocks * f * lanes..][..o].copy_from_slice(node.params[1].data());
    }
    let codes = epilogue_codes(&attrs.epilogue);
    let record = program.words(
        &abi::LinearGeometry {
            n: n as i64,
            features: f as i64,
            outputs: o as i64,
            blocks: blocks as i64,
            epilogue: abi::epilogue(&codes),
        }
        .words(),
    );
    let weights = program.constant(packed);
    let mut args = vec![
        record,
        Buf::Node(node.id),
        Buf::Node(node.operands()[0]),
        weights,
    ];
    args.extend(node.operands()[1..].iter().map(|&id| Buf::Node(id)));
    let k = trampoline(
        em,
        &format!("{}_linear", node.name()),
        symbol(em.tier, "linear"),
    )?;
    program.step(k, args, blocks as u64);
    Ok(())
}
