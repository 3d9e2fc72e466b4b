//! Convolutions (dense, grouped, depthwise, and the small convs of decomposed structured
//! layers) with fused epilogue: bias, activations, residual additions.
//!
//! Layout and algorithm (NCHW throughout):
//! 1. *Pad and split* (a separate step, skipped when there is no padding and the width
//!    stride is 1): the input is copied into scratch with its zero border and, for a
//!    width stride `s`, its columns split into `s` phases, `xp[n][c][y][phase][q] =
//!    xpad[n][c][y][q·s + phase]`. Every tap of every output row then reads consecutive
//!    memory, so the main loop has no border branches and no gathers.
//! 2. *Main loop*: one work item per (image, block of `ob` output channels, output row).
//!    A register tile of `ob` channels × `pv` vectors of 4 output pixels is accumulated
//!    over input channels (a loop) and kernel taps (unrolled): per tap, `pv` input vector
//!    loads, `ob` weight broadcasts and `ob·pv` FMAs. Weights are re-packed at compile
//!    time as `[block][input channel][ky][kx][ob]` so the broadcasts read consecutive
//!    floats. Row tails use single-vector and then scalar tiles. The epilogue (bias, then
//!    the fused steps in order) is applied to the tile before it is stored.

use super::emit::{F, KernelBuilder, LANES};
use super::{Buf, CodegenError, Emitter, NodeInfo, ProgramBuilder};
use crate::ir::{ConvAttrs, EpilogueStep};
use cranelift_codegen::ir::types::{F32, F32X4};
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::Variable;
use cranelift_module::Module;

/// Output channels of a full register tile (`ob`).
const OUTPUT_CHANNELS_PER_TILE: usize = 6;
/// f32x4 accumulators of a register tile (`ob · pv`): 12 of the 16 xmm registers, leaving
/// room for the input vectors and the weight broadcast.
const ACCUMULATORS: usize = 12;

/// Geometry of one convolution, all in elements.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    n: usize,
    c: usize,
    out: usize,
    groups: usize,
    cg: usize,
    opg: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    dh: usize,
    dw: usize,
    oh: usize,
    ow: usize,
    /// Rows of the (padded) input the main loop reads.
    rows: usize,
    /// Width phases (the width stride when split, else 1).
    phases: usize,
    /// Elements per phase row.
    row_len: usize,
}

impl Geometry {
    /// Elements per channel plane of the main loop's input.
    fn plane(&self) -> usize {
        self.rows * self.phases * self.row_len
    }
}

pub fn lower<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: &ConvAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let input = node.operand_shape(0);
    let out_shape = node.shape().to_vec();
    let (n, c, h, w) = (input[0], input[1], input[2], input[3]);
    let ow = out_shape[3];
    // A row whose width is not a multiple of the vector ends in a partial vector, which
    // reads past the row: that needs the scratch copy with its zero margin.
    let split = attrs.pad != (0, 0) || attrs.stride.1 != 1 || !ow.is_multiple_of(LANES);
    let (hp, wp) = (h + 2 * attrs.pad.0, w + 2 * attrs.pad.1);
    let phases = if split { attrs.stride.1 } else { 1 };
    let reach = ow.next_multiple_of(LANES) + (attrs.kernel.1 - 1) * attrs.dilation.1 / phases;
    let g = Geometry {
        n,
        c,
        out: attrs.out_channels,
        groups: attrs.groups,
        cg: c / attrs.groups,
        opg: attrs.out_channels / attrs.groups,
        kh: attrs.kernel.0,
        kw: attrs.kernel.1,
        sh: attrs.stride.0,
        dh: attrs.dilation.0,
        dw: attrs.dilation.1,
        oh: out_shape[2],
        ow: out_shape[3],
        rows: if split { hp } else { h },
        phases,
        row_len: if split {
            wp.div_ceil(phases).max(reach)
        } else {
            w
        },
    };
    let source = if split {
        let scratch = program.scratch(n * c * g.plane());
        let pad = attrs.pad;
        let kernel = em.kernel(&format!("{}_pad", node.name()), |kb| {
            emit_pad_split(kb, &g, h, w, pad)
        })?;
        program.step(
            kernel,
            vec![scratch, Buf::Node(node.operands()[0])],
            (n * c * g.rows) as u64,
        );
        scratch
    } else {
        Buf::Node(node.operands()[0])
    };
    let weight = &node.params[0];
    let bias = node.params.get(1).filter(|_| attrs.bias);
    let residuals: Vec<Buf> = node.operands()[1..]
        .iter()
        .map(|&id| Buf::Node(id))
        .collect();
    let ob_full = g.opg.min(OUTPUT_CHANNELS_PER_TILE);
    let blocks_per_group = g.opg / ob_full;
    let remainder = g.opg % ob_full;
    // Full blocks, then (if the channels per group are not a multiple) the partial blocks.
    let mut variants = vec![(ob_full, blocks_per_group, 0usize)];
    if remainder > 0 {
        variants.push((remainder, 1, blocks_per_group * ob_full));
    }
    for (ob, blocks, first_channel) in variants {
        let packed = pack_weights(weight.data(), &g, ob, blocks, first_channel);
        let bias_values: Vec<f32> = match bias {
            Some(b) => b.data().to_vec(),
            None => vec![0.0; g.out],
        };
        let mut args = vec![
            Buf::Node(node.id),
            source,
            program.constant(packed),
            program.constant(bias_values),
        ];
        args.extend(residuals.iter().copied());
        let epilogue = attrs.epilogue.clone();
        let name = format!("{}_conv{ob}", node.name());
        let kernel = em.kernel(&name, |kb| {
            emit_main(kb, &g, ob, blocks, first_channel, &epilogue)
        })?;
        program.step(kernel, args, (g.n * g.groups * blocks * g.oh) as u64);
    }
    Ok(())
}

/// `[block][ic][ky][kx][j]` for the blocks of one variant (`blocks` per group, each of
/// `ob` channels starting at `first_channel` within its group).
fn pack_weights(
    weight: &[f32],
    g: &Geometry,
    ob: usize,
    blocks: usize,
    first_channel: usize,
) -> Vec<f32> {
    let taps = g.kh * g.kw;
    let mut packed = Vec::with_capacity(g.groups * blocks * g.cg * taps * ob);
    for group in 0..g.groups {
        for block in 0..blocks {
            for ic in 0..g.cg {
                for tap in 0..taps {
                    for j in 0..ob {
                        let oc = group * g.opg + first_channel + block * ob + j;
                        packed.push(weight[(oc * g.cg + ic) * taps + tap]);
                    }
                }
            }
        }
    }
    packed
}

/// Pad-and-split: one work item per (image, channel, padded row).
fn emit_pad_split(kb: &mut KernelBuilder, g: &Geometry, h: usize, w: usize, pad: (usize, usize)) {
    let out = kb.arg(0);
    let input = kb.arg(1);
    let (start, end) = (kb.start, kb.end);
    let zero = kb.fconst(0.0);
    let zero_v = kb.vconst(0.0);
    let g = *g;
    kb.for_range(start, end, 1, |kb, item| {
        // item = (n·C + c)·rows + y
        let (plane_index, y) = kb.divmod(item, g.rows);
        let row_bytes = (g.phases * g.row_len) as i64 * F;
        let dst_row = kb.b.ins().imul_imm_s(item, row_bytes);
        let dst_row = kb.b.ins().iadd(out, dst_row);
        // Source row y − pad.0, if inside the image.
        let src_y = kb.b.ins().iadd_imm_s(y, -(pad.0 as i64));
        let h_value = kb.iconst(h as i64);
        let inside = kb.b.ins().icmp(
            cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan,
            src_y,
            h_value,
        );
        let plane_bytes = kb.b.ins().imul_imm_s(plane_index, (h * w) as i64 * F);
        let row_offset = kb.b.ins().imul_imm_s(src_y, w as i64 * F);
        let src_row = kb.b.ins().iadd(plane_bytes, row_offset);
        let src_row = kb.b.ins().iadd(input, src_row);
        let whole = g.phases * g.row_len;
        // Zero the whole destination row, then copy the image part when inside.
        let vectors = whole / LANES;
        kb.for_const(0, vectors as i64, 1, |kb, i| {
            let offset = kb.b.ins().imul_imm_s(i, LANES as i64 * F);
            let dst = kb.b.ins().iadd(dst_row, offset);
            kb.store(zero_v, dst, 0);
        });
        for k in vectors * LANES..whole {
            kb.store(zero, dst_row, k as i64 * F);
        }
        kb.if_then(inside, |kb| {
            for phase in 0..g.phases {
                // Destination q holds padded column q·s + phase, i.e. source column
                // q·s + phase − pad.1; valid q form the range [q_lo, q_hi).
                let first_col = |q: usize| (q * g.phases + phase) as i64 - pad.1 as i64;
                let q_lo = (0..g.row_len)
                    .find(|&q| first_col(q) >= 0)
                    .unwrap_or(g.row_len);
                let q_hi = (0..g.row_len)
                    .rev()
                    .find(|&q| first_col(q) < w as i64)
                    .map_or(0, |q| q + 1);
                if q_lo >= q_hi {
                    continue;
                }
                let dst_phase = (phase * g.row_len) as i64 * F;
                if g.phases == 1 {
                    let count = q_hi - q_lo;
                    let src0 = first_col(q_lo) * F;
                    let vectors = count / LANES;
                    kb.for_const(0, vectors as i64, 1, |kb, i| {
                        let offset = kb.b.ins().imul_imm_s(i, LANES as i64 * F);
                        let src = kb.b.ins().iadd(src_row, offset);
                        let v = kb.load(F32X4, src, src0);
                        let dst = kb.b.ins().iadd(dst_row, offset);
                        kb.store(v, dst, dst_phase + q_lo as i64 * F);
                    });
                    for k in vectors * LANES..count {
                        let v = kb.load(F32, src_row, src0 + k as i64 * F);
                        kb.store(v, dst_row, dst_phase + (q_lo + k) as i64 * F);
                    }
                } else {
                    let stride = g.phases as i64 * F;
                    let src0 = first_col(q_lo) * F;
                    kb.for_const(0, (q_hi - q_lo) as i64, 1, |kb, i| {
                        let src_offset = kb.b.ins().imul_imm_s(i, stride);
                        let src = kb.b.ins().iadd(src_row, src_offset);
                        let v = kb.load(F32, src, src0);
                        let dst_offset = kb.b.ins().imul_imm_s(i, F);
                        let dst = kb.b.ins().iadd(dst_row, dst_offset);
                        kb.store(v, dst, dst_phase + q_lo as i64 * F);
                    });
                }
            }
        });
    });
}

/// The main loop for blocks of `ob` output channels.
fn emit_main(
    kb: &mut KernelBuilder,
    g: &Geometry,
    ob: usize,
    blocks: usize,
    first_channel: usize,
    epilogue: &[EpilogueStep],
) {
    let out = kb.arg(0);
    let input = kb.arg(1);
    let weights = kb.arg(2);
    let bias = kb.arg(3);
    let residuals: Vec<Value> = (0..epilogue
        .iter()
        .filter(|s| matches!(s, EpilogueStep::Residual))
        .count())
        .map(|i| kb.arg(4 + i))
        .collect();
    let pv = (ACCUMULATORS / ob).clamp(1, 4);
    let g = *g;
    let (start, end) = (kb.start, kb.end);
    kb.for_range(start, end, 1, |kb, item| {
        // item = ((n·groups + group)·blocks + block)·oh + oy
        let (rest, oy) = kb.divmod(item, g.oh);
        let (rest, block) = kb.divmod(rest, blocks);
        let (image, group) = kb.divmod(rest, g.groups);
        // First output channel of the tile.
        let oc0 = kb.b.ins().imul_imm_s(group, g.opg as i64);
        let block_channel = kb.b.ins().imul_imm_s(block, ob as i64);
        let oc0 = kb.b.ins().iadd(oc0, block_channel);
        let oc0 = kb.b.ins().iadd_imm_s(oc0, first_channel as i64);
        // Packed weights of this (group, block).
        let gb = kb.imad(group, blocks as i64, block);
        let block_weights = (g.cg * g.kh * g.kw * ob) as i64 * F;
        let w_base = kb.b.ins().imul_imm_s(gb, block_weights);
        let w_base = kb.b.ins().iadd(weights, w_base);
        // Input of this image and group, at output row oy (tap row 0).
        let first_ic = kb.b.ins().imul_imm_s(group, g.cg as i64);
        let plane0 = kb.imad(image, g.c as i64, first_ic);
        let in_base = kb.b.ins().imul_imm_s(plane0, (g.plane() as i64) * F);
        let row =
            kb.b.ins()
                .imul_imm_s(oy, (g.sh * g.phases * g.row_len) as i64 * F);
        let in_base = kb.b.ins().iadd(in_base, row);
        let in_base = kb.b.ins().iadd(input, in_base);
        // Byte offset of output row oy of channel oc0: ((n·out + oc0)·oh + oy)·ow.
        let out_plane = kb.imad(image, g.out as i64, oc0);
        let out_row = kb.imad(out_plane, g.oh as i64, oy);
        let out_row = kb.b.ins().imul_imm_s(out_row, g.ow as i64 * F);
        let tile = Tile {
            ob,
            in_base,
            w_base,
            out_row,
            bias,
            oc0,
            residuals: &residuals,
            out,
        };
        // Tiles of `pv` vectors along the row; the row's remaining vectors (at most `pv`,
        // the last possibly partial) form one more tile, so narrow rows keep wide tiles.
        let step = pv * LANES;
        let complete = g.ow / step;
        if complete > 0 {
            kb.for_const(0, (complete * step) as i64, step as i64, |kb, ox| {
                emit_tile(kb, &g, &tile, ox, pv, LANES, epilogue)
            });
        }
        let rest = g.ow - complete * step;
        if rest > 0 {
            let vectors = rest.div_ceil(LANES);
            let valid = rest - (vectors - 1) * LANES;
            let at = kb.iconst((complete * step) as i64);
            emit_tile(kb, &g, &tile, at, vectors, valid, epilogue);
        }
    });
}

/// Values shared by the tiles of one work item.
struct Tile<'r> {
    ob: usize,
    in_base: Value,
    w_base: Value,
    out_row: Value,
    bias: Value,
    oc0: Value,
    residuals: &'r [Value],
    out: Value,
}

/// One register tile at output column `ox`: `pv` vectors of 4 pixels × `ob` output
/// channels. Of the last vector only the first `valid` lanes are inside the row: those
/// are finished and stored one by one.
#[allow(clippy::needless_range_loop)] // `j` and `v` also index the packed weights and outputs
fn emit_tile(
    kb: &mut KernelBuilder,
    g: &Geometry,
    tile: &Tile,
    ox: Value,
    pv: usize,
    valid: usize,
    epilogue: &[EpilogueStep],
) {
    let zero = kb.vconst(0.0);
    let accumulators: Vec<Vec<Variable>> = (0..tile.ob)
        .map(|_| (0..pv).map(|_| kb.var(F32X4, zero)).collect())
        .collect();
    let ox_bytes = kb.b.ins().imul_imm_s(ox, F);
    let pixel_base = kb.b.ins().iadd(tile.in_base, ox_bytes);
    let plane_bytes = g.plane() as i64 * F;
    let taps_bytes = (g.kh * g.kw * tile.ob) as i64 * F;
    kb.for_const(0, g.cg as i64, 1, |kb, ic| {
        let in_offset = kb.b.ins().imul_imm_s(ic, plane_bytes);
        let in_ptr = kb.b.ins().iadd(pixel_base, in_offset);
        let w_offset = kb.b.ins().imul_imm_s(ic, taps_bytes);
        let w_ptr = kb.b.ins().iadd(tile.w_base, w_offset);
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let col = kx * g.dw;
                let phase = col % g.phases;
                let q = col / g.phases;
                let offset = (((ky * g.dh * g.phases + phase) * g.row_len + q) as i64) * F;
                let inputs: Vec<Value> = (0..pv)
                    .map(|v| kb.load(F32X4, in_ptr, offset + (v * LANES) as i64 * F))
                    .collect();
                let tap = ky * g.kw + kx;
                for j in 0..tile.ob {
                    let weight = kb.load_splat(w_ptr, ((tap * tile.ob + j) as i64) * F);
                    for v in 0..pv {
                        let acc = kb.get(accumulators[j][v]);
                        let updated = kb.fmadd(weight, inputs[v], acc);
                        kb.set(accumulators[j][v], updated);
                    }
                }
            }
        }
    });
    // Epilogue and store.
    let plane_out = (g.oh * g.ow) as i64 * F;
    let offset = kb.b.ins().iadd(tile.out_row, ox_bytes);
    for j in 0..tile.ob {
        let bias_index = kb.b.ins().iadd_imm_s(tile.oc0, j as i64);
        let bias_addr = kb.b.ins().imul_imm_s(bias_index, F);
        let bias_addr = kb.b.ins().iadd(tile.bias, bias_addr);
        for v in 0..pv {
            let sum = kb.get(accumulators[j][v]);
            let at = j as i64 * plane_out + (v * LANES) as i64 * F;
            if v + 1 < pv || valid == LANES {
                let bias = kb.load_splat(bias_addr, 0);
                let value = kb.b.ins().fadd(sum, bias);
                let value = finish(kb, value, F32X4, tile, offset, at, epilogue);
                let addr = kb.b.ins().iadd(tile.out, offset);
                kb.store(value, addr, at);
            } else {
                let bias = kb.load(F32, bias_addr, 0);
                for lane in 0..valid {
                    let lane_value = kb.b.ins().extractlane(sum, lane as u8);
                    let value = kb.b.ins().fadd(lane_value, bias);
                    let lane_at = at + lane as i64 * F;
                    let value = finish(kb, value, F32, tile, offset, lane_at, epilogue);
                    let addr = kb.b.ins().iadd(tile.out, offset);
                    kb.store(value, addr, lane_at);
                }
            }
        }
    }
}

/// Applies the fused epilogue steps to a biased value (f32 or f32x4) stored at
/// `offset + at` bytes in the output (residuals are read at the same place).
fn finish(
    kb: &mut KernelBuilder,
    mut value: Value,
    ty: cranelift_codegen::ir::Type,
    tile: &Tile,
    offset: Value,
    at: i64,
    epilogue: &[EpilogueStep],
) -> Value {
    let mut residual = tile.residuals.iter();
    for step in epilogue {
        value = match step {
            EpilogueStep::Activation(act) => kb.activation(value, *act),
            EpilogueStep::Residual => {
                let base = *residual.next().expect("one operand per residual step");
                let addr = kb.b.ins().iadd(base, offset);
                let r = kb.load(ty, addr, at);
                kb.b.ins().fadd(value, r)
            }
        };
    }
    value
}
