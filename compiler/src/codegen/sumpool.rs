//! 3-D sum-pools (running sums, channel-shared) and feature sum-pools.
//!
//! The running-sum algorithm is [`scc_runtime::sumpool::sumpool_running`] operation for
//! operation: separable passes width → height → channels, each a sliding-window sum along
//! lines of the tensor — direct sums of the kept outputs for windows up to
//! [`MAX_DIRECT_WINDOW`], otherwise all stride-1 outputs as running sums
//! `(out[i−1] + x[i+w−1]) − x[i−1]` re-anchored every [`RESTART`] outputs and subsampled by
//! the stride. Every line's schedule (anchors, updates, which outputs are stored, which terms
//! are padding) is resolved at compile time; runs of identical steps become loops.
//!
//! Zero padding is not materialised: a padding term is known at compile time and skipped.
//! Since `x + 0 = x` exactly in f32, skipping it changes no value (the results equal the
//! runtime's bit for bit, up to the sign of zero) and only saves the additions of zeros that
//! [`scc_runtime::sumpool::sumpool_running_adds`] counts.
//!
//! Passes (each its own [`super::Step`], intermediate results in scratch):
//! * **width**: one work item per output row: every input row when the height pass runs,
//!   otherwise directly the `Ho` kept rows (all zeros where they fall in the height
//!   padding). Direct windows at stride 1 sum four consecutive outputs as f32x4 per term;
//!   running sums and strided direct sums are scalar. Border outputs (window over the
//!   padding) are emitted one by one with their terms clipped.
//! * **height**: one work item per plane; every column is a line, processed four columns at
//!   a time as f32x4 (a scalar tail for `Wo % 4`), the running sum held in a register.
//! * **channels**: one work item per (batch item, group, block of [`CHANNEL_BLOCK`] plane
//!   positions); one running sum per group along its `Cg` channels, four positions at a time
//!   (a scalar tail), shared by all `Ca` output channels.
//!
//! A pass runs only if its window is larger than 1, except that the width pass also runs to
//! apply the width stride or padding, the height stride or padding when the height pass does
//! not run, or a plain copy when no pass would.

use super::emit::{F, KernelBuilder, LANES};
use super::pool::{PoolKind, Window, emit_window};
use super::{Buf, CodegenError, Emitter, NodeInfo, ProgramBuilder};
use crate::ir::{SumPool3dAttrs, SumPoolAlgorithm};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F32, F32X4};
use cranelift_codegen::ir::{InstBuilder, Type, Value};
use cranelift_frontend::Variable;
use cranelift_module::Module;
use scc_runtime::sumpool::{MAX_DIRECT_WINDOW, RESTART};

/// Plane positions per work item of the channel pass (a multiple of the vector width).
const CHANNEL_BLOCK: usize = 256;

/// Anchor windows this long or shorter are unrolled; longer ones loop.
const MAX_UNROLLED_ANCHOR: usize = 16;

/// Runs of this many steps or fewer are unrolled; longer ones loop.
const MAX_UNROLLED_RUN: usize = 4;

/// One sliding-window sum along a line: `len` real elements with `pad` zeros on both sides,
/// `window` and `stride`, giving `(len + 2·pad − window)/stride + 1` outputs.
#[derive(Debug, Clone, Copy)]
struct Slide {
    len: usize,
    pad: usize,
    window: usize,
    stride: usize,
}

impl Slide {
    fn padded(&self) -> usize {
        self.len + 2 * self.pad
    }

    fn kept(&self) -> usize {
        (self.padded() - self.window) / self.stride + 1
    }

    /// Whether padded position `t` is a real element.
    fn is_real(&self, t: i64) -> bool {
        t >= self.pad as i64 && t < (self.pad + self.len) as i64
    }

    /// The real indices of padded positions `[from, to)`.
    fn real(&self, from: i64, to: i64) -> (i64, i64) {
        let lo = (from - self.pad as i64).max(0);
        let hi = (to - self.pad as i64).min(self.len as i64);
        (lo, hi.max(lo))
    }
}

/// Where a line lives: real element `t` at `src + t·src_step` bytes, output `q` at
/// `dst + q·dst_step`, each of type `ty` (f32, or f32x4 for four parallel lines).
#[derive(Clone, Copy)]
struct Line {
    ty: Type,
    src: Value,
    src_step: i64,
    dst: Value,
    dst_step: i64,
}

impl Line {
    fn zero(&self, kb: &mut KernelBuilder) -> Value {
        if self.ty == F32X4 {
            kb.vconst(0.0)
        } else {
            kb.fconst(0.0)
        }
    }
}

/// `kb.load` with any byte offset (the instruction's immediate is 32 bits).
fn load(kb: &mut KernelBuilder, ty: Type, base: Value, offset: i64) -> Value {
    if i32::try_from(offset).is_ok() {
        kb.load(ty, base, offset)
    } else {
        let at = kb.b.ins().iadd_imm_s(base, offset);
        kb.load(ty, at, 0)
    }
}

/// `kb.store` with any byte offset.
fn store(kb: &mut KernelBuilder, value: Value, base: Value, offset: i64) {
    if i32::try_from(offset).is_ok() {
        kb.store(value, base, offset);
    } else {
        let at = kb.b.ins().iadd_imm_s(base, offset);
        kb.store(value, at, 0);
    }
}

/// Emits one pass over one line. With `along`, the line is contiguous f32 (`src_step` and
/// `dst_step` 4) and direct stride-1 interiors compute four consecutive outputs per f32x4.
fn emit_line(kb: &mut KernelBuilder, line: &Line, slide: &Slide, along: bool) {
    if slide.window <= MAX_DIRECT_WINDOW {
        emit_direct(kb, line, slide, along);
    } else {
        emit_running(kb, line, slide);
    }
}

/// Left-to-right sum of the real elements `[lo, hi)` at `base + t·step` (`t` from
/// `lo`), zero if empty.
fn sum_terms(kb: &mut KernelBuilder, line: &Line, base: Value, lo: i64, hi: i64) -> Value {
    if hi <= lo {
        return line.zero(kb);
    }
    let first = load(kb, line.ty, base, lo * line.src_step);
    if ((hi - lo) as usize) <= MAX_UNROLLED_ANCHOR {
        let mut s = first;
        for t in lo + 1..hi {
            let v = load(kb, line.ty, base, t * line.src_step);
            s = kb.b.ins().fadd(s, v);
        }
        s
    } else {
        let acc = kb.var(line.ty, first);
        let ty = line.ty;
        let step = line.src_step;
        kb.for_const(lo + 1, hi, 1, |kb, t| {
            let at = kb.addr(base, t, step);
            let v = kb.load(ty, at, 0);
            let a = kb.get(acc);
            let s = kb.b.ins().fadd(a, v);
            kb.set(acc, s);
        });
        kb.get(acc)
    }
}

/// Direct window sums of the kept outputs (`window <= MAX_DIRECT_WINDOW`).
fn emit_direct(kb: &mut KernelBuilder, line: &Line, slide: &Slide, along: bool) {
    let Slide {
        len,
        pad,
        window,
        stride,
    } = *slide;
    let kept = slide.kept();
    // Interior: every term real.
    let q_lo = pad.div_ceil(stride);
    let q_hi = if len + pad >= window {
        ((len + pad - window) / stride + 1).min(kept)
    } else {
        0
    };
    let (q_lo, q_hi) = if q_lo < q_hi {
        (q_lo, q_hi)
    } else {
        (kept, kept)
    };
    let border = |kb: &mut KernelBuilder, q: usize| {
        let first = (q * stride) as i64;
        let (lo, hi) = slide.real(first, first + window as i64);
        let v = sum_terms(kb, line, line.src, lo, hi);
        store(kb, v, line.dst, q as i64 * line.dst_step);
    };
    for q in 0..q_lo {
        border(kb, q);
    }
    let interior = |kb: &mut KernelBuilder, ty: Type, from: usize, to: usize, step: usize| {
        let line = Line { ty, ..*line };
        kb.for_const(from as i64, to as i64, step as i64, |kb, q| {
            let start = kb.addr(line.src, q, stride as i64 * line.src_step);
            let v = sum_terms(kb, &line, start, -(pad as i64), window as i64 - pad as i64);
            let at = kb.addr(line.dst, q, line.dst_step);
            kb.store(v, at, 0);
        });
    };
    if q_hi > q_lo {
        let mut scalar_from = q_lo;
        if along && stride == 1 {
            scalar_from = q_lo + (q_hi - q_lo) / LANES * LANES;
            if scalar_from > q_lo {
                interior(kb, F32X4, q_lo, scalar_from, LANES);
            }
        }
        if q_hi > scalar_from {
            interior(kb, line.ty, scalar_from, q_hi, 1);
        }
    }
    for q in q_hi..kept {
        border(kb, q);
    }
}

/// Running sums of all stride-1 outputs, re-anchored every [`RESTART`], every `stride`-th
/// stored (`window > MAX_DIRECT_WINDOW`).
fn emit_running(kb: &mut KernelBuilder, line: &Line, slide: &Slide) {
    let Slide {
        len,
        pad,
        window,
        stride,
    } = *slide;
    let full = slide.padded() - window + 1;
    let zero = line.zero(kb);
    let acc = kb.var(line.ty, zero);
    let (p, w, l) = (pad as i64, window as i64, len as i64);
    for anchor in (0..full).step_by(RESTART) {
        let block_end = (anchor + RESTART).min(full);
        let (lo, hi) = slide.real(anchor as i64, anchor as i64 + w);
        let v = sum_terms(kb, line, line.src, lo, hi);
        kb.set(acc, v);
        if anchor.is_multiple_of(stride) {
            store(kb, v, line.dst, (anchor / stride) as i64 * line.dst_step);
        }
        // Updates, split where the entering or leaving term changes between padding and real.
        let mut cuts: Vec<i64> = vec![
            (anchor + 1) as i64,
            block_end as i64,
            p - w + 1,
            p + l - w + 1,
            p + 1,
            p + l + 1,
        ];
        cuts.retain(|&c| c >= (anchor + 1) as i64 && c <= block_end as i64);
        cuts.sort_unstable();
        cuts.dedup();
        for run in cuts.windows(2) {
            let (a, b) = (run[0] as usize, run[1] as usize);
            let enter = slide.is_real(a as i64 + w - 1);
            let leave = slide.is_real(a as i64 - 1);
            emit_updates(kb, line, slide, acc, a..b, enter, leave);
        }
    }
}

/// The running updates `i ∈ range` (entering / leaving terms real or padding throughout),
/// storing every output with `i % stride == 0`.
fn emit_updates(
    kb: &mut KernelBuilder,
    line: &Line,
    slide: &Slide,
    acc: Variable,
    range: std::ops::Range<usize>,
    enter: bool,
    leave: bool,
) {
    let (p, w) = (slide.pad as i64, slide.window as i64);
    let s = slide.stride;
    // One update at position `base` (the address of real element i − pad, possibly outside
    // the line) + `u` elements.
    let update = |kb: &mut KernelBuilder, at: Value, u: i64| {
        let mut a = kb.get(acc);
        if enter {
            let v = load(kb, line.ty, at, (u + w - 1 - p) * line.src_step);
            a = kb.b.ins().fadd(a, v);
        }
        if leave {
            let v = load(kb, line.ty, at, (u - 1 - p) * line.src_step);
            a = kb.b.ins().fsub(a, v);
        }
        kb.set(acc, a);
        a
    };
    let single = |kb: &mut KernelBuilder, i: usize| {
        let a = update(kb, line.src, i as i64);
        if i.is_multiple_of(s) {
            store(kb, a, line.dst, (i / s) as i64 * line.dst_step);
        }
    };
    let first_kept = range.start.div_ceil(s) * s;
    if first_kept >= range.end || range.len() <= MAX_UNROLLED_RUN {
        for i in range {
            single(kb, i);
        }
        return;
    }
    for i in range.start..first_kept {
        single(kb, i);
    }
    // Chunks of `s` steps starting at a kept output.
    let chunks = (range.end - first_kept) / s;
    let q0 = first_kept / s;
    kb.for_const(q0 as i64, (q0 + chunks) as i64, 1, |kb, q| {
        let at = kb.addr(line.src, q, s as i64 * line.src_step);
        let value = update(kb, at, 0);
        let out = kb.addr(line.dst, q, line.dst_step);
        kb.store(value, out, 0);
        for u in 1..s {
            update(kb, at, u as i64);
        }
    });
    for i in first_kept + chunks * s..range.end {
        single(kb, i);
    }
}

/// Stores zeros over `count` f32 at `dst`.
fn zero_fill(kb: &mut KernelBuilder, dst: Value, count: usize) {
    let vectors = count / LANES * LANES;
    if vectors > 0 {
        let zero = kb.vconst(0.0);
        kb.for_const(0, vectors as i64, LANES as i64, |kb, i| {
            let at = kb.addr(dst, i, F);
            kb.store(zero, at, 0);
        });
    }
    let zero = kb.fconst(0.0);
    for i in vectors..count {
        kb.store(zero, dst, i as i64 * F);
    }
}

/// Emits a pass over parallel lines, the line `j` at `src + j·4` and `dst + j·4`, for `j`
/// in `[from, to)` (runtime values): f32x4 groups of four lines up to `vector_to`, then
/// single lines.
fn across(
    kb: &mut KernelBuilder,
    (src, dst): (Value, Value),
    (src_step, dst_step): (i64, i64),
    slide: &Slide,
    (from, vector_to, to): (Value, Value, Value),
) {
    kb.for_range(from, vector_to, LANES as i64, |kb, j| {
        let line = Line {
            ty: F32X4,
            src: kb.addr(src, j, F),
            src_step,
            dst: kb.addr(dst, j, F),
            dst_step,
        };
        emit_line(kb, &line, slide, false);
    });
    let tail_from = kb.b.ins().smax(from, vector_to);
    kb.for_range(tail_from, to, 1, |kb, j| {
        let line = Line {
            ty: F32,
            src: kb.addr(src, j, F),
            src_step,
            dst: kb.addr(dst, j, F),
            dst_step,
        };
        emit_line(kb, &line, slide, false);
    });
}

pub fn lower<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: &SumPool3dAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let shape = node.operand_shape(0);
    let [n, c, h, w] = [shape[0], shape[1], shape[2], shape[3]];
    let (wc, wh, ww) = attrs.window;
    let (ph, pw) = attrs.pad;
    let (sh, sw) = attrs.stride;
    let input = Buf::Node(node.operands()[0]);
    let output = Buf::Node(node.id);
    if attrs.algorithm == SumPoolAlgorithm::Direct {
        let win = Window {
            kind: PoolKind::Sum,
            input: [n, c, h, w],
            kernel: (wh, ww),
            stride: attrs.stride,
            pad: attrs.pad,
            groups: attrs.groups,
            wc,
        };
        debug_assert_eq!(&win.output()[..], node.shape());
        let (kernel, items) = emit_window(em, &format!("{}_sumpool3d_direct", node.name()), &win)?;
        program.step(kernel, vec![output, input], items);
        return Ok(());
    }
    let groups = attrs.groups;
    let cg = c / groups;
    let ca = cg - wc + 1;
    let height = Slide {
        len: h,
        pad: ph,
        window: wh,
        stride: sh,
    };
    let width = Slide {
        len: w,
        pad: pw,
        window: ww,
        stride: sw,
    };
    let (ho, wo) = (height.kept(), width.kept());
    debug_assert_eq!(node.shape(), &[n, groups * ca, ho, wo]);
    let planes = n * c;

    let run_h = wh > 1;
    let run_c = wc > 1;
    let run_w = ww > 1 || sw > 1 || pw > 0 || (!run_h && (sh > 1 || ph > 0)) || (!run_h && !run_c);
    let mut current = input;

    if run_w {
        // Rows of the width pass's output: all input rows (the height pass pads and
        // strides), or the Ho kept rows.
        let rows = if run_h { h } else { ho };
        let target = if run_h || run_c {
            program.scratch(planes * rows * wo)
        } else {
            output
        };
        let kernel = em.kernel(&format!("{}_sumpool3d_width", node.name()), |kb| {
            let dst = kb.arg(0);
            let src = kb.arg(1);
            let (start, end) = (kb.start, kb.end);
            kb.for_range(start, end, 1, |kb, item| {
                let out_row = kb.addr(dst, item, wo as i64 * F);
                let emit_row = |kb: &mut KernelBuilder, in_row: Value| {
                    let line = Line {
                        ty: F32,
                        src: in_row,
                        src_step: F,
                        dst: out_row,
                        dst_step: F,
                    };
                    emit_line(kb, &line, &width, true);
                };
                if run_h {
                    let in_row = kb.addr(src, item, w as i64 * F);
                    emit_row(kb, in_row);
                } else {
                    // Kept row y reads input row y·sh − ph (zero in the padding).
                    let y_lo = ph.div_ceil(sh);
                    let y_hi = ((h - 1 + ph) / sh + 1).min(ho);
                    let plane = kb.b.ins().udiv_imm_u(item, ho as i64);
                    let y = kb.b.ins().urem_imm_u(item, ho as i64);
                    let plane_start = kb.addr(src, plane, (h * w) as i64 * F);
                    let row = kb.b.ins().imul_imm_s(y, (sh * w) as i64 * F);
                    let row = kb.b.ins().iadd_imm_s(row, -((ph * w) as i64) * F);
                    let in_row = kb.b.ins().iadd(plane_start, row);
                    if y_lo == 0 && y_hi == ho {
                        emit_row(kb, in_row);
                    } else {
                        let above = kb.b.ins().icmp_imm_u(
                            IntCC::UnsignedGreaterThanOrEqual,
                            y,
                            y_lo as i64,
                        );
                        let below =
                            kb.b.ins()
                                .icmp_imm_u(IntCC::UnsignedLessThan, y, y_hi as i64);
                        let inside = kb.b.ins().band(above, below);
                        kb.if_else(
                            inside,
                            |kb| emit_row(kb, in_row),
                            |kb| zero_fill(kb, out_row, wo),
                        );
                    }
                }
            });
        })?;
        program.step(kernel, vec![target, current], (planes * rows) as u64);
        current = target;
    }

    if run_h {
        let target = if run_c {
            program.scratch(planes * ho * wo)
        } else {
            output
        };
        let vector_cols = (wo / LANES * LANES) as i64;
        let kernel = em.kernel(&format!("{}_sumpool3d_height", node.name()), |kb| {
            let dst = kb.arg(0);
            let src = kb.arg(1);
            let (start, end) = (kb.start, kb.end);
            kb.for_range(start, end, 1, |kb, item| {
                let src_plane = kb.addr(src, item, (h * wo) as i64 * F);
                let dst_plane = kb.addr(dst, item, (ho * wo) as i64 * F);
                let from = kb.iconst(0);
                let vector_to = kb.iconst(vector_cols);
                let to = kb.iconst(wo as i64);
                let row = wo as i64 * F;
                across(
                    kb,
                    (src_plane, dst_plane),
                    (row, row),
                    &height,
                    (from, vector_to, to),
                );
            });
        })?;
        program.step(kernel, vec![target, current], planes as u64);
        current = target;
    }

    if run_c {
        let positions = ho * wo;
        let blocks = positions.div_ceil(CHANNEL_BLOCK).max(1);
        let vector_positions = (positions / LANES * LANES) as i64;
        let channels = Slide {
            len: cg,
            pad: 0,
            window: wc,
            stride: 1,
        };
        let kernel = em.kernel(&format!("{}_sumpool3d_channels", node.name()), |kb| {
            let dst = kb.arg(0);
            let src = kb.arg(1);
            let (start, end) = (kb.start, kb.end);
            kb.for_range(start, end, 1, |kb, item| {
                // item = (n·groups + g)·blocks + block.
                let ng = kb.b.ins().udiv_imm_u(item, blocks as i64);
                let block = kb.b.ins().urem_imm_u(item, blocks as i64);
                let src_group = kb.addr(src, ng, (cg * positions) as i64 * F);
                let dst_group = kb.addr(dst, ng, (ca * positions) as i64 * F);
                let from = kb.b.ins().imul_imm_s(block, CHANNEL_BLOCK as i64);
                let block_end = kb.b.ins().iadd_imm_s(from, CHANNEL_BLOCK as i64);
                let limit = kb.iconst(vector_positions);
                let vector_to = kb.b.ins().smin(block_end, limit);
                let limit = kb.iconst(positions as i64);
                let to = kb.b.ins().smin(block_end, limit);
                let plane = positions as i64 * F;
                across(
                    kb,
                    (src_group, dst_group),
                    (plane, plane),
                    &channels,
                    (from, vector_to, to),
                );
            });
        })?;
        program.step(kernel, vec![output, current], (n * groups * blocks) as u64);
    }
    Ok(())
}

pub fn lower_features<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    window: usize,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let shape = node.operand_shape(0);
    let (n, f) = (shape[0], shape[1]);
    let slide = Slide {
        len: f,
        pad: 0,
        window,
        stride: 1,
    };
    let fo = slide.kept();
    debug_assert_eq!(node.shape(), &[n, fo]);
    let kernel = em.kernel(&format!("{}_sumpool_features", node.name()), |kb| {
        let dst = kb.arg(0);
        let src = kb.arg(1);
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, item| {
            let line = Line {
                ty: F32,
                src: kb.addr(src, item, f as i64 * F),
                src_step: F,
                dst: kb.addr(dst, item, fo as i64 * F),
                dst_step: F,
            };
            emit_line(kb, &line, &slide, true);
        });
    })?;
    program.step(
        kernel,
        vec![Buf::Node(node.id), Buf::Node(node.operands()[0])],
        n as u64,
    );
    Ok(())
}
