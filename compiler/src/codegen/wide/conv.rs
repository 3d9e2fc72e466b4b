//! Drivers of the wide conv micro-kernels: dense and grouped convs over a blocked or plain
//! input (`scc_<tier>_conv`, `scc_<tier>_conv_plain_input`) and depthwise convs
//! (`scc_<tier>_depthwise`), all writing a blocked output with the fused epilogue.
//!
//! Work items: `(image, group, output-block chunk, output row)` (dense and grouped: a chunk is
//! up to 3 blocks of 16 channels on AVX-512, 3 or 2 of 8 on AVX2, the register tile's width,
//! [`chunk_plan`]) or
//! `(image, block, output row)` (depthwise). Per item the driver looks up the row's valid
//! kernel rows and input offset in a constant table, then calls the micro-kernel once per
//! column run (`scc_kernels::abi::joined_column_runs`): a dense conv's row is one run when
//! only its first and last pixels have windows clipped by the padding (the micro-kernel skips
//! their padded taps inside its first and last register tiles), else border runs with their
//! own kernel-column ranges and the interior run; a depthwise row is always split so (its
//! weights are one vector per tap). Weights are packed at compile time as the micro-kernels
//! read them (`scc_kernels::abi::ConvGeometry`), zero for padding channels.

use super::ops::epilogue_codes;
use super::symbol;
use crate::codegen::emit::{F, KernelBuilder};
use crate::codegen::{Buf, CodegenError, Emitter, NodeInfo, ProgramBuilder};
use crate::ir::{ConvAttrs, EpilogueStep, Layout};
use crate::target::Tier;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{
    FuncRef, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value,
};
use cranelift_module::Module;
use scc_kernels::abi::{self, ColumnRun, Record};

/// How a conv's `blocks` output blocks (per group) are cut into register-tile chunks: the
/// variants `(blocks per chunk, chunks, first block)`. AVX-512 chunks are 3 blocks wide
/// (8-pixel tiles, 24 accumulators; the rest one narrower chunk, and 4 blocks as 2 + 2): on
/// a two-FMA-unit AVX-512 CPU, one thread, against 4-block chunks (6-pixel tiles), ResNet-18's
/// 3×3 convs took 0.72× the time at 512 channels (a 7-pixel row is one tile instead of a 6-
/// and a 1-pixel tile, each reading all the chunk's weights), 0.86× at 256, 0.87× at 64 (as
/// 2 + 2; 3 + 1 0.93×), and the whole `resnet18` 0.92×. AVX2 tiles are 2 blocks × 5
/// pixels (10 accumulators, 7 loads per 10 FMAs); an odd count ends in one chunk of 3 blocks
/// × 3 pixels (9 accumulators, 6 loads per 9 FMAs; as the only width, measured slower on
/// ResNet's 3×3 convs) rather than a 1-block chunk, whose 12-pixel tile loads a broadcast per
/// FMA and which reads the input once more.
fn chunk_plan(tier: Tier, blocks: usize) -> Vec<(usize, usize, usize)> {
    let mut plan = match tier {
        Tier::Avx512 if blocks == 4 => vec![(2, 2, 0)],
        Tier::Avx512 => vec![(3, blocks / 3, 0), (blocks % 3, 1, blocks / 3 * 3)],
        Tier::Avx2 | Tier::V128 if blocks < 3 => vec![(blocks, 1, 0)],
        Tier::Avx2 | Tier::V128 if blocks.is_multiple_of(2) => vec![(2, blocks / 2, 0)],
        Tier::Avx2 | Tier::V128 => vec![(2, (blocks - 3) / 2, 0), (3, 1, blocks - 3)],
    };
    plan.retain(|&(width, count, _)| width > 0 && count > 0);
    plan
}

/// The uniform chunk width of a fused structured 1×1 conv of `blocks` output blocks (its
/// kernel walks chunks of one width, the last one possibly narrower): the widest tile; on
/// AVX2 2 blocks, or 3 for a conv of 3 (one pass instead of 2 + 1).
fn pooled_chunk_width(tier: Tier, blocks: usize) -> usize {
    match tier {
        Tier::Avx512 => 4,
        Tier::Avx2 | Tier::V128 if blocks == 3 => 3,
        Tier::Avx2 | Tier::V128 => 2,
    }
}

/// Work items a dense conv step should have at least: a few per thread of a 2-core machine,
/// so that the pool's dynamic hand-out can even them out.
const MIN_CONV_ITEMS: usize = 8;

/// How many output rows of a conv make one row of its driver: a pointwise conv (1×1, stride
/// 1, no padding) reads input pixel `p` for output pixel `p`, so consecutive rows are one
/// longer run with fewer register-tile tails (on AVX2 a 7-pixel row is a 5-pixel tile and a
/// 2-pixel one, each reading all the weights); the most rows (a divisor of `oh`) that leave each of
/// the conv's steps [`MIN_CONV_ITEMS`] items, given `items_per_row` items per driver row.
/// Other convs: 1.
fn merged_rows(attrs: &ConvAttrs, oh: usize, items_per_row: usize) -> usize {
    let pointwise = attrs.kernel == (1, 1) && attrs.stride == (1, 1) && attrs.pad == (0, 0);
    if !pointwise {
        return 1;
    }
    (1..=oh)
        .rev()
        .find(|&r| oh.is_multiple_of(r) && items_per_row * (oh / r) >= MIN_CONV_ITEMS)
        .unwrap_or(1)
}

/// Per output row: `[input row offset (elements), packed-weight row offset (elements), rows]`.
fn row_table(
    oh: usize,
    attrs: &ConvAttrs,
    h: usize,
    row_elements: usize,
    w_row: usize,
) -> Vec<i64> {
    let mut table = Vec::with_capacity(oh * 3);
    for oy in 0..oh {
        let (k0, k1, iy) = abi::kernel_taps(
            oy,
            attrs.stride.0,
            attrs.pad.0,
            attrs.dilation.0,
            attrs.kernel.0,
            h,
        );
        table.extend([
            (iy * row_elements) as i64,
            (k0 * w_row) as i64,
            (k1 - k0) as i64,
        ]);
    }
    table
}

fn residual_count(steps: &[EpilogueStep]) -> usize {
    steps
        .iter()
        .filter(|s| matches!(s, EpilogueStep::Residual))
        .count()
}

pub fn lower<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: &ConvAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let x = node.operand_shape(0);
    let (c, groups) = (x[1], attrs.groups);
    if node.graph.layout(node.operands()[0]) == Layout::Fused {
        return lower_pooled(em, node, attrs, program);
    }
    if groups > 1 && c / groups == 1 && attrs.out_channels == c {
        return lower_depthwise(em, node, attrs, program);
    }
    let lanes = em.tier.lanes();
    let source = node.operands()[0];
    let plain_input = node.graph.layout(source) == Layout::Plain;
    if plain_input && groups != 1 {
        return Err(CodegenError::Layout {
            node: node.name().to_string(),
            problem: "a grouped conv reads a blocked input".into(),
        });
    }
    let (n, h, w) = (x[0], x[2], x[3]);
    let out = node.shape().to_vec();
    let (oc, oh, ow) = (out[1], out[2], out[3]);
    let (kh, kw) = attrs.kernel;
    let (cg, opg) = (c / groups, oc / groups);
    let opg_blocks = opg.div_ceil(lanes);
    let variants = chunk_plan(em.tier, opg_blocks);
    let fewest_chunks = variants.iter().map(|v| v.1).min().unwrap_or(1);
    let merged = merged_rows(attrs, oh, n * groups * fewest_chunks);
    // Merged rows: `merged` output rows of a pointwise conv are one row of the driver.
    let (h, w, oh, ow) = (h / merged, w * merged, oh / merged, ow * merged);
    let in_lanes = if plain_input { 1 } else { lanes };
    let in_blocks_group = if plain_input { cg } else { cg.div_ceil(lanes) };
    let in_blocks_total = if plain_input { c } else { c.div_ceil(lanes) };
    let out_blocks_total = oc.div_ceil(lanes);
    let weight = node.params[0].data();
    let mut bias = vec![0.0f32; out_blocks_total * lanes];
    if attrs.bias {
        bias[..oc].copy_from_slice(node.params[1].data());
    }
    let bias = program.constant(bias);
    let codes = epilogue_codes(&attrs.epilogue);
    let residuals = residual_count(&attrs.epilogue);
    let plane_in = h * w * in_lanes;
    let runs = abi::joined_column_runs(ow, attrs.stride.1, attrs.pad.1, attrs.dilation.1, kw, w);
    let entry = symbol(
        em.tier,
        if plain_input {
            "conv_plain_input"
        } else {
            "conv"
        },
    );
    for (nb, count, first_block) in variants {
        let chunk = in_blocks_group * kh * kw * in_lanes * nb * lanes;
        let mut packed = vec![0.0f32; groups * count * chunk];
        for g in 0..groups {
            for j in 0..count {
                let base = (g * count + j) * chunk;
                for o_block in 0..nb {
                    for l in 0..lanes {
                        let oc_in_group = (first_block + j * nb + o_block) * lanes + l;
                        if oc_in_group >= opg {
                            continue;
                        }
                        let o = g * opg + oc_in_group;
                        for ic in 0..cg {
                            let (ib, il) = (ic / in_lanes, ic % in_lanes);
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let at = ((((ib * kh + ky) * kw + kx) * in_lanes + il) * nb
                                        + o_block)
                                        * lanes
                                        + l;
                                    packed[base + at] = weight[((o * cg + ic) * kh + ky) * kw + kx];
                                }
                            }
                        }
                    }
                }
            }
        }
        let w_row = kw * in_lanes * nb * lanes;
        let geometry = |last_lanes: usize| abi::ConvGeometry {
            in_pixel: (attrs.stride.1 * in_lanes) as i64,
            in_block: plane_in as i64,
            in_blocks: in_blocks_group as i64,
            in_row: (attrs.dilation.0 * w * in_lanes) as i64,
            in_col: (attrs.dilation.1 * in_lanes) as i64,
            w_row: w_row as i64,
            w_block: (kh * w_row) as i64,
            out_block: (oh * ow * lanes) as i64,
            out_blocks: nb as i64,
            last_lanes: last_lanes as i64,
            in_last_lanes: (cg - (in_blocks_group - 1) * in_lanes) as i64,
            epilogue: abi::epilogue(&codes),
        };
        // The chunk holding the last output block (groups = 1 only) zeroes its padding lanes.
        let last_valid = oc - (out_blocks_total - 1) * lanes;
        let full = program.words(&geometry(lanes).words());
        let last = program.words(&geometry(last_valid).words());
        let rows = program.words(&row_table(oh, attrs, h, w * in_lanes, w_row));
        let weights = program.constant(packed);
        let mut args = vec![
            Buf::Node(node.id),
            Buf::Node(source),
            weights,
            bias,
            full,
            last,
            rows,
        ];
        args.extend(node.operands()[1..].iter().map(|&id| Buf::Node(id)));
        let last_chunk_item =
            if first_block + count * nb == opg_blocks && groups == 1 && last_valid < lanes {
                Some(count - 1)
            } else {
                None
            };
        let shape = DriverShape {
            oh: oh as i64,
            ow: ow as i64,
            groups: groups as i64,
            count: count as i64,
            nb: nb as i64,
            first_block: first_block as i64,
            lanes: lanes as i64,
            in_image: (in_blocks_total * plane_in) as i64,
            in_group: (in_blocks_group * plane_in) as i64,
            out_image: (out_blocks_total * oh * ow * lanes) as i64,
            opg_blocks: opg_blocks as i64,
            chunk: chunk as i64,
            in_lanes: in_lanes as i64,
            stride: attrs.stride.1 as i64,
            w_col: (in_lanes * nb * lanes) as i64,
            residuals,
            last_chunk_item: last_chunk_item.map(|i| i as i64),
        };
        let name = format!("{}_conv{}x{}", node.name(), nb, lanes);
        let kernel = em.kernel_calling(&name, &[(entry, 11)], |kb, calls| {
            emit_driver(kb, calls[0], &shape, &runs)
        })?;
        program.step(kernel, args, (n * groups * count * oh) as u64);
    }
    Ok(())
}

/// The constants of one conv driver.
struct DriverShape {
    oh: i64,
    ow: i64,
    groups: i64,
    count: i64,
    nb: i64,
    first_block: i64,
    lanes: i64,
    /// Input elements per image and per group.
    in_image: i64,
    in_group: i64,
    out_image: i64,
    opg_blocks: i64,
    /// Packed-weight elements per chunk.
    chunk: i64,
    in_lanes: i64,
    stride: i64,
    /// Packed-weight elements per kernel column.
    w_col: i64,
    residuals: usize,
    /// The chunk index whose geometry zeroes padding lanes (the conv's last block).
    last_chunk_item: Option<i64>,
}

/// Loads the i64 at `base + index · 8`.
fn load_word(kb: &mut KernelBuilder, base: Value, offset: i64) -> Value {
    kb.b.ins()
        .load(I64, MemFlagsData::trusted(), base, offset as i32)
}

fn emit_driver(kb: &mut KernelBuilder, conv: FuncRef, s: &DriverShape, runs: &[ColumnRun]) {
    let out = kb.arg(0);
    let input = kb.arg(1);
    let weights = kb.arg(2);
    let bias = kb.arg(3);
    let geometry_full = kb.arg(4);
    let geometry_last = kb.arg(5);
    let rows = kb.arg(6);
    let residuals: Vec<Value> = (0..s.residuals).map(|i| kb.arg(7 + i)).collect();
    let slot = kb.b.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        (8 * s.residuals.max(1)) as u32,
        3,
    ));
    let (start, end) = (kb.start, kb.end);
    kb.for_range(start, end, 1, |kb, item| {
        let (rest, oy) = kb.divmod(item, s.oh as usize);
        let (rest, j) = kb.divmod(rest, s.count as usize);
        let (image, group) = kb.divmod(rest, s.groups as usize);
        let row = kb.b.ins().imul_imm_s(oy, 24);
        let row = kb.b.ins().iadd(rows, row);
        let in_row = load_word(kb, row, 0);
        let w_row = load_word(kb, row, 8);
        let nky = load_word(kb, row, 16);
        // Input of this image and group at the row's first valid input row.
        let in_elems = kb.b.ins().imul_imm_s(image, s.in_image);
        let group_elems = kb.b.ins().imul_imm_s(group, s.in_group);
        let in_elems = kb.b.ins().iadd(in_elems, group_elems);
        let in_elems = kb.b.ins().iadd(in_elems, in_row);
        let in_base = kb.addr(input, in_elems, F);
        // Output block of this chunk.
        let chunk_block = kb.b.ins().imul_imm_s(j, s.nb);
        let group_block = kb.b.ins().imul_imm_s(group, s.opg_blocks);
        let block = kb.b.ins().iadd(chunk_block, group_block);
        let block = kb.b.ins().iadd_imm_s(block, s.first_block);
        let out_elems = kb.b.ins().imul_imm_s(block, s.oh * s.ow * s.lanes);
        let image_elems = kb.b.ins().imul_imm_s(image, s.out_image);
        let out_elems = kb.b.ins().iadd(out_elems, image_elems);
        let row_elems = kb.b.ins().imul_imm_s(oy, s.ow * s.lanes);
        let out_elems = kb.b.ins().iadd(out_elems, row_elems);
        let out_offset = kb.b.ins().imul_imm_s(out_elems, F);
        let out_base = kb.b.ins().iadd(out, out_offset);
        let residual_bases: Vec<Value> = residuals
            .iter()
            .map(|&r| kb.b.ins().iadd(r, out_offset))
            .collect();
        let w_chunk = kb.b.ins().imul_imm_s(group, s.count);
        let w_chunk = kb.b.ins().iadd(w_chunk, j);
        let w_elems = kb.b.ins().imul_imm_s(w_chunk, s.chunk);
        let w_elems = kb.b.ins().iadd(w_elems, w_row);
        let w_base = kb.addr(weights, w_elems, F);
        let bias_ptr = kb.b.ins().imul_imm_s(block, s.lanes * F);
        let bias_ptr = kb.b.ins().iadd(bias, bias_ptr);
        let geometry = match s.last_chunk_item {
            Some(last) => {
                let is_last = kb.b.ins().icmp_imm_s(IntCC::Equal, j, last);
                kb.b.ins().select(is_last, geometry_last, geometry_full)
            }
            None => geometry_full,
        };
        for run in runs {
            let out_ptr =
                kb.b.ins()
                    .iadd_imm_s(out_base, run.first as i64 * s.lanes * F);
            let in_ptr = kb.b.ins().iadd_imm_s(in_base, run.input * s.in_lanes * F);
            let w_ptr = kb.b.ins().iadd_imm_s(w_base, run.k0 as i64 * s.w_col * F);
            for (i, &r) in residual_bases.iter().enumerate() {
                let r = kb.b.ins().iadd_imm_s(r, run.first as i64 * s.lanes * F);
                kb.b.ins().stack_store(I64, r, slot, (8 * i) as i32);
            }
            let residual_table = kb.b.ins().stack_addr(I64, slot, 0);
            let pixels = kb.iconst(run.count as i64);
            let cols = kb.iconst(run.cols as i64);
            let clip_first = kb.iconst(run.clip_first as i64);
            let clip_last = kb.iconst(run.clip_last as i64);
            kb.b.ins().call(
                conv,
                &[
                    geometry,
                    out_ptr,
                    in_ptr,
                    w_ptr,
                    bias_ptr,
                    residual_table,
                    pixels,
                    nky,
                    cols,
                    clip_first,
                    clip_last,
                ],
            );
        }
        let _ = s.stride;
    });
}

/// Depthwise convs (`groups = C = out channels`): items `(image, block, output row)`.
fn lower_depthwise<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: &ConvAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let lanes = em.tier.lanes();
    let x = node.operand_shape(0);
    let (n, c, h, w) = (x[0], x[1], x[2], x[3]);
    let out = node.shape().to_vec();
    let (oh, ow) = (out[2], out[3]);
    let (kh, kw) = attrs.kernel;
    let blocks = c.div_ceil(lanes);
    let weight = node.params[0].data();
    let mut packed = vec![0.0f32; blocks * kh * kw * lanes];
    for ch in 0..c {
        for t in 0..kh * kw {
            packed[((ch / lanes) * kh * kw + t) * lanes + ch % lanes] = weight[ch * kh * kw + t];
        }
    }
    let mut bias = vec![0.0f32; blocks * lanes];
    if attrs.bias {
        bias[..c].copy_from_slice(node.params[1].data());
    }
    let codes = epilogue_codes(&attrs.epilogue);
    let geometry = |valid: usize| abi::DepthwiseGeometry {
        in_pixel: (attrs.stride.1 * lanes) as i64,
        in_row: (attrs.dilation.0 * w * lanes) as i64,
        in_col: (attrs.dilation.1 * lanes) as i64,
        w_row: (kw * lanes) as i64,
        lanes: valid as i64,
        epilogue: abi::epilogue(&codes),
    };
    let last_valid = c - (blocks - 1) * lanes;
    let full = program.words(&geometry(lanes).words());
    let last = program.words(&geometry(last_valid).words());
    let rows = program.words(&row_table(oh, attrs, h, w * lanes, kw * lanes));
    let weights = program.constant(packed);
    let bias = program.constant(bias);
    let mut args = vec![
        Buf::Node(node.id),
        Buf::Node(node.operands()[0]),
        weights,
        bias,
        full,
        last,
        rows,
    ];
    args.extend(node.operands()[1..].iter().map(|&id| Buf::Node(id)));
    let runs = abi::column_runs(ow, attrs.stride.1, attrs.pad.1, attrs.dilation.1, kw, w);
    let residuals = residual_count(&attrs.epilogue);
    let entry = symbol(em.tier, "depthwise");
    let name = format!("{}_depthwise{}", node.name(), lanes);
    let (l, ohw) = (lanes as i64, (oh * ow) as i64);
    let kernel = em.kernel_calling(&name, &[(entry, 9)], |kb, calls| {
        let out = kb.arg(0);
        let input = kb.arg(1);
        let weights = kb.arg(2);
        let bias = kb.arg(3);
        let geometry_full = kb.arg(4);
        let geometry_last = kb.arg(5);
        let rows = kb.arg(6);
        let residual_args: Vec<Value> = (0..residuals).map(|i| kb.arg(7 + i)).collect();
        let slot = kb.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (8 * residuals.max(1)) as u32,
            3,
        ));
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, item| {
            let (plane, oy) = kb.divmod(item, oh);
            let (_, block) = kb.divmod(plane, blocks);
            let row = kb.b.ins().imul_imm_s(oy, 24);
            let row = kb.b.ins().iadd(rows, row);
            let in_row = load_word(kb, row, 0);
            let w_row = load_word(kb, row, 8);
            let nky = load_word(kb, row, 16);
            let in_elems = kb.b.ins().imul_imm_s(plane, (h * w) as i64 * l);
            let in_elems = kb.b.ins().iadd(in_elems, in_row);
            let in_base = kb.addr(input, in_elems, F);
            let out_elems = kb.b.ins().imul_imm_s(plane, ohw * l);
            let row_elems = kb.b.ins().imul_imm_s(oy, ow as i64 * l);
            let out_elems = kb.b.ins().iadd(out_elems, row_elems);
            let out_offset = kb.b.ins().imul_imm_s(out_elems, F);
            let out_base = kb.b.ins().iadd(out, out_offset);
            let residual_bases: Vec<Value> = residual_args
                .iter()
                .map(|&r| kb.b.ins().iadd(r, out_offset))
                .collect();
            let w_elems = kb.b.ins().imul_imm_s(block, (kh * kw) as i64 * l);
            let w_elems = kb.b.ins().iadd(w_elems, w_row);
            let w_base = kb.addr(weights, w_elems, F);
            let bias_ptr = kb.b.ins().imul_imm_s(block, l * F);
            let bias_ptr = kb.b.ins().iadd(bias, bias_ptr);
            let is_last =
                kb.b.ins()
                    .icmp_imm_s(IntCC::Equal, block, (blocks - 1) as i64);
            let geometry = kb.b.ins().select(is_last, geometry_last, geometry_full);
            for run in &runs {
                let out_ptr = kb.b.ins().iadd_imm_s(out_base, run.first as i64 * l * F);
                let in_ptr = kb.b.ins().iadd_imm_s(in_base, run.input * l * F);
                let w_ptr = kb.b.ins().iadd_imm_s(w_base, run.k0 as i64 * l * F);
                for (i, &r) in residual_bases.iter().enumerate() {
                    let r = kb.b.ins().iadd_imm_s(r, run.first as i64 * l * F);
                    kb.b.ins().stack_store(I64, r, slot, (8 * i) as i32);
                }
                let residual_table = kb.b.ins().stack_addr(I64, slot, 0);
                let pixels = kb.iconst(run.count as i64);
                let cols = kb.iconst(run.cols as i64);
                kb.b.ins().call(
                    calls[0],
                    &[
                        geometry,
                        out_ptr,
                        in_ptr,
                        w_ptr,
                        bias_ptr,
                        residual_table,
                        pixels,
                        nky,
                        cols,
                    ],
                );
            }
        });
    })?;
    program.step(kernel, args, (n * blocks * oh) as u64);
    Ok(())
}

/// Work items a fused structured 1×1 conv aims at: its runs are shortened (down to one pool
/// tile) until it has about this many.
const POOLED_MIN_ITEMS: usize = 32;

/// Pixel work units of a fused structured 1×1 conv below which its output-block chunks are
/// split into groups as well (a 7×7 layer has 5 pool tiles of pixels, but up to 160 output
/// blocks): the item count a dense conv step aims at too. Only so few: every group pools its
/// pixels again, which costs more than the uneven share of 8 or more units among 2 threads
/// (measured on the 14×14 layers of MobileNetV2, 20 units: split into 2 groups, the pooling
/// ran twice).
const POOLED_GROUP_BELOW: usize = MIN_CONV_ITEMS;

/// Most of the smallest pool tiles ([`scc_kernels::conv::pool_tile`]) in one work item's
/// run (runs are shortened down to one tile when a layer has few pixels, so that its items
/// balance over threads). The kernel pools a whole run at once where it fits its scratch
/// budget, so longer runs read each chunk's weights fewer times and write longer output
/// runs: on a 2-core Zen 1, `mobilenetv2s` at 2 threads took 0.95× the time of runs of at
/// most 4 tiles (medians of 6 alternating runs: 9.41 against 9.90 ms), unchanged at 1 thread.
const POOLED_MAX_RUN_TILES: usize = 12;

/// Work split of a fused structured 1×1 conv: `(pixels per run, runs per image, chunks per
/// group, groups)`. At stride 1 a run is up to [`POOLED_MAX_RUN_TILES`] pool tiles of the
/// flattened image, else one output row; chunks are split into groups only when the pixel
/// runs are fewer than [`POOLED_GROUP_BELOW`] (each group pools its pixels again: the pooling
/// is a few additions per input channel, the conv `pooled channels × group width` FMAs).
fn pooled_split(
    lanes: usize,
    images: usize,
    oh: usize,
    ow: usize,
    flat: bool,
    chunks: usize,
) -> (usize, usize, usize, usize) {
    let tile = scc_kernels::conv::pool_tile(lanes);
    let (run, runs) = if flat {
        let tiles = (oh * ow).div_ceil(tile);
        let run_tiles = (tiles / POOLED_MIN_ITEMS).clamp(1, POOLED_MAX_RUN_TILES);
        (run_tiles * tile, (oh * ow).div_ceil(run_tiles * tile))
    } else {
        (ow, oh)
    };
    let units = images * runs;
    let groups = if units >= POOLED_GROUP_BELOW {
        1
    } else {
        POOLED_GROUP_BELOW.div_ceil(units).min(chunks)
    };
    let per_group = chunks.div_ceil(groups);
    (run, runs, per_group, chunks.div_ceil(per_group))
}

/// A fused structured 1×1 conv: the operand is a channel sum-pool (laid out `fused`, never
/// stored) of a blocked value, computed per tile inside `scc_<tier>_conv_pooled`. Items:
/// `(image, group of output-block chunks, run of pixels)` ([`pooled_split`]).
fn lower_pooled<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: &ConvAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let lanes = em.tier.lanes();
    let pool = node.operands()[0];
    let crate::ir::Op::SumPool3d(pool_attrs) = &node.graph.node(pool).op else {
        return Err(CodegenError::Layout {
            node: node.name().to_string(),
            problem: "a fused conv reads a sum-pool".into(),
        });
    };
    let source = node.graph.operands(pool)[0];
    let x = node.graph.node(source).shape.clone();
    let (n, c, h, w) = (x[0], x[1], x[2], x[3]);
    let wc = pool_attrs.window.0;
    let pooled = c - wc + 1;
    let out = node.shape().to_vec();
    let (oc, oh, ow) = (out[1], out[2], out[3]);
    let pooled_blocks = pooled.div_ceil(lanes);
    let out_blocks = oc.div_ceil(lanes);
    let max_blocks = pooled_chunk_width(em.tier, out_blocks);
    let weight = node.params[0].data();
    let mut packed = Vec::new();
    let mut first = 0;
    while first < out_blocks {
        let nb = max_blocks.min(out_blocks - first);
        let mut chunk = vec![0.0f32; pooled_blocks * lanes * nb * lanes];
        for o_block in 0..nb {
            for l in 0..lanes {
                let o = (first + o_block) * lanes + l;
                if o >= oc {
                    continue;
                }
                for ic in 0..pooled {
                    let (pb, il) = (ic / lanes, ic % lanes);
                    chunk[((pb * lanes + il) * nb + o_block) * lanes + l] = weight[o * pooled + ic];
                }
            }
        }
        packed.extend(chunk);
        first += nb;
    }
    let mut bias = vec![0.0f32; out_blocks * lanes];
    if attrs.bias {
        bias[..oc].copy_from_slice(node.params[1].data());
    }
    let codes = epilogue_codes(&attrs.epilogue);
    let geometry = abi::PooledConvGeometry {
        channels: c as i64,
        window: wc as i64,
        in_blocks: c.div_ceil(lanes) as i64,
        in_block: (h * w * lanes) as i64,
        in_pixel: (attrs.stride.1 * lanes) as i64,
        pooled_blocks: pooled_blocks as i64,
        pooled_last_lanes: (pooled - (pooled_blocks - 1) * lanes) as i64,
        out_block: (oh * ow * lanes) as i64,
        out_blocks: out_blocks as i64,
        last_lanes: (oc - (out_blocks - 1) * lanes) as i64,
        chunk_blocks: max_blocks as i64,
        epilogue: abi::epilogue(&codes),
    };
    let record = program.words(&geometry.words());
    let weights = program.constant(packed);
    let bias = program.constant(bias);
    let mut args = vec![Buf::Node(node.id), Buf::Node(source), weights, bias, record];
    args.extend(node.operands()[1..].iter().map(|&id| Buf::Node(id)));
    let residuals = residual_count(&attrs.epilogue);
    let flat = attrs.stride == (1, 1);
    let chunks = out_blocks.div_ceil(max_blocks);
    let (run, runs, per_group, groups) = pooled_split(lanes, n, oh, ow, flat, chunks);
    let (l, ohw, hw) = (lanes as i64, (oh * ow) as i64, (h * w) as i64);
    let in_image = c.div_ceil(lanes) as i64 * hw * l;
    let out_image = out_blocks as i64 * ohw * l;
    let pixels_total = ohw;
    let entry = symbol(em.tier, "conv_pooled");
    let name = format!("{}_pooled_conv{}", node.name(), lanes);
    let (sh, iw) = (attrs.stride.0 as i64, w as i64);
    let kernel = em.kernel_calling(&name, &[(entry, 9)], |kb, calls| {
        let out = kb.arg(0);
        let input = kb.arg(1);
        let weights = kb.arg(2);
        let bias = kb.arg(3);
        let record = kb.arg(4);
        let residual_args: Vec<Value> = (0..residuals).map(|i| kb.arg(5 + i)).collect();
        let slot = kb.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (8 * residuals.max(1)) as u32,
            3,
        ));
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, item| {
            let (image_group, r) = kb.divmod(item, runs);
            let (image, group) = kb.divmod(image_group, groups);
            let first_chunk = kb.b.ins().imul_imm_s(group, per_group as i64);
            let chunk_total = kb.iconst(chunks as i64);
            let chunks_left = kb.b.ins().isub(chunk_total, first_chunk);
            let per_group_value = kb.iconst(per_group as i64);
            let chunk_count = kb.b.ins().smin(chunks_left, per_group_value);
            // First output pixel of the item, its input pixel and the pixel count.
            let (first, first_in, pixels) = if flat {
                let first = kb.b.ins().imul_imm_s(r, run as i64);
                let total = kb.iconst(pixels_total);
                let remaining = kb.b.ins().isub(total, first);
                let limit = kb.iconst(run as i64);
                let pixels = kb.b.ins().smin(remaining, limit);
                (first, first, pixels)
            } else {
                let first = kb.b.ins().imul_imm_s(r, ow as i64);
                let first_in = kb.b.ins().imul_imm_s(r, sh * iw);
                let pixels = kb.iconst(ow as i64);
                (first, first_in, pixels)
            };
            let out_elems = kb.b.ins().imul_imm_s(image, out_image);
            let out_pixel = kb.b.ins().imul_imm_s(first, l);
            let out_elems = kb.b.ins().iadd(out_elems, out_pixel);
            let out_offset = kb.b.ins().imul_imm_s(out_elems, F);
            let out_ptr = kb.b.ins().iadd(out, out_offset);
            let in_elems = kb.b.ins().imul_imm_s(image, in_image);
            let in_pixel = kb.b.ins().imul_imm_s(first_in, l);
            let in_elems = kb.b.ins().iadd(in_elems, in_pixel);
            let in_ptr = kb.addr(input, in_elems, F);
            for (i, &r) in residual_args.iter().enumerate() {
                let r = kb.b.ins().iadd(r, out_offset);
                kb.b.ins().stack_store(I64, r, slot, (8 * i) as i32);
            }
            let residual_table = kb.b.ins().stack_addr(I64, slot, 0);
            kb.b.ins().call(
                calls[0],
                &[
                    record,
                    out_ptr,
                    in_ptr,
                    weights,
                    bias,
                    residual_table,
                    pixels,
                    first_chunk,
                    chunk_count,
                ],
            );
        });
    })?;
    program.step(kernel, args, (n * groups * runs) as u64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block in exactly one chunk, in order, for every tier and count.
    #[test]
    fn chunk_plans_cover_the_blocks_once() {
        for tier in [Tier::V128, Tier::Avx2, Tier::Avx512] {
            for blocks in 1..=80 {
                let mut next = 0;
                for (width, count, first) in chunk_plan(tier, blocks) {
                    assert!(width > 0 && count > 0, "{tier:?} {blocks}");
                    assert_eq!(first, next, "{tier:?} {blocks}");
                    next += width * count;
                }
                assert_eq!(next, blocks, "{tier:?} {blocks}");
            }
        }
    }

    #[test]
    fn avx512_chunks_are_three_blocks_wide() {
        assert_eq!(chunk_plan(Tier::Avx512, 32), [(3, 10, 0), (2, 1, 30)]);
        assert_eq!(chunk_plan(Tier::Avx512, 16), [(3, 5, 0), (1, 1, 15)]);
        assert_eq!(chunk_plan(Tier::Avx512, 4), [(2, 2, 0)]);
        assert_eq!(chunk_plan(Tier::Avx512, 2), [(2, 1, 0)]);
    }
}
