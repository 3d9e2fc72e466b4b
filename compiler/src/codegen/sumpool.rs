//! 3-D sum-pools (sliding-window sums, channel-shared) and feature sum-pools.
//!
//! The algorithm is [`scc_runtime::sumpool::sumpool_running`] operation for operation:
//! separable passes width → height → channels, each a sliding-window sum along lines of the
//! tensor, by the scheme [`line_scheme`] chooses for the line — direct sums of the kept
//! outputs, or blocks of suffix and prefix sums (van Herk / Gil–Werman: `out[i] = S[i] +
//! P[i+w−1]`, no subtraction, so every output's error depends only on its own terms) for all
//! stride-1 outputs, every `stride`-th stored. Every line's schedule (which terms are padding,
//! which outputs are stored) is resolved at compile time; runs of identical steps become
//! loops, and at stride 1 the interior blocks of a line become one loop over blocks.
//!
//! Zero padding is not materialised: a padding term is known at compile time and skipped.
//! Since `x + 0 = x` exactly in f32, skipping it changes no value (the results equal the
//! runtime's bit for bit, up to the sign of zero) and only saves the additions of zeros that
//! [`scc_runtime::sumpool::sumpool_running_adds`] counts. (A block's suffix sums are stored
//! in the output and the next block's prefix sums added to them there.)
//!
//! Passes (each its own [`super::Step`], intermediate results in scratch):
//! * **width**: one work item per output row: every input row when the height pass runs,
//!   otherwise directly the `Ho` kept rows (all zeros where they fall in the height
//!   padding). Direct windows at stride 1 sum four consecutive outputs as f32x4 per term;
//!   blocks and strided direct sums are scalar. Border outputs (window over the
//!   padding) are emitted one by one with their terms clipped.
//! * **height**: one work item per plane; every column is a line, processed four columns at
//!   a time as f32x4 (a scalar tail for `Wo % 4`), the chains' sums held in registers.
//! * **channels**: one work item per (batch item, group, block of [`CHANNEL_BLOCK`] plane
//!   positions); one sliding-window pass per group along its `Cg` channels, four positions at
//!   a time (a scalar tail), shared by all `Ca` output channels.
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
use scc_runtime::sumpool::{LineScheme, line_scheme};

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
    match line_scheme(slide.padded(), slide.window, slide.stride) {
        LineScheme::Direct => emit_direct(kb, line, slide, along),
        LineScheme::Blocks => emit_blocks(kb, line, slide),
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

/// Direct window sums of the kept outputs.
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

/// A chain accumulator: a running value, or nothing added yet (zero).
struct Acc {
    var: Variable,
    live: bool,
}

impl Acc {
    fn new(kb: &mut KernelBuilder, ty: Type) -> Acc {
        let zero = if ty == F32X4 {
            kb.vconst(0.0)
        } else {
            kb.fconst(0.0)
        };
        Acc {
            var: kb.var(ty, zero),
            live: false,
        }
    }

    /// The current value (zero if nothing was added).
    fn value(&self, kb: &mut KernelBuilder) -> Value {
        kb.get(self.var)
    }
}

/// An address `base + offset + u·step` bytes for step `u` of a run.
#[derive(Clone, Copy)]
struct Strided {
    base: Value,
    offset: i64,
    step: i64,
}

impl Strided {
    fn at(&self, kb: &mut KernelBuilder, u: Option<Value>, k: i64) -> (Value, i64) {
        match u {
            None => (self.base, self.offset + k * self.step),
            Some(u) => {
                let scaled = kb.b.ins().imul_imm_s(u, self.step);
                (kb.b.ins().iadd(self.base, scaled), self.offset)
            }
        }
    }
}

/// What a step of a chain does with the accumulator after adding its term.
#[derive(Clone, Copy)]
enum Action {
    Nothing,
    /// Store the accumulator (a suffix sum, or a whole block).
    Store(Strided),
    /// Add the accumulator to the value stored there (a suffix sum) and store the sum.
    Join(Strided),
}

/// One step of a chain: the term (if the position is real) and the action.
#[derive(Clone, Copy)]
struct ChainStep {
    term: Option<Strided>,
    action: Action,
}

/// Emits `count` steps `u = 0..count` of the same kind: `term.step`/action steps advance by
/// `u`. Terms are added on the right for prefix chains (`acc + x`) and on the left for suffix
/// chains (`x + acc`); f32 addition is commutative, so both equal the runtime's order.
fn emit_run(kb: &mut KernelBuilder, ty: Type, acc: &mut Acc, step: ChainStep, count: usize) {
    let body = |kb: &mut KernelBuilder, acc: &mut Acc, u: Option<Value>, k: i64| {
        if let Some(term) = step.term {
            let (addr, offset) = term.at(kb, u, k);
            let x = load(kb, ty, addr, offset);
            let sum = if acc.live {
                let a = acc.value(kb);
                kb.b.ins().fadd(a, x)
            } else {
                x
            };
            kb.set(acc.var, sum);
            acc.live = true;
        }
        match step.action {
            Action::Nothing => {}
            Action::Store(out) => {
                let (addr, offset) = out.at(kb, u, k);
                let v = acc.value(kb);
                store(kb, v, addr, offset);
            }
            Action::Join(out) => {
                let (addr, offset) = out.at(kb, u, k);
                let suffix = load(kb, ty, addr, offset);
                let v = acc.value(kb);
                let sum = kb.b.ins().fadd(suffix, v);
                store(kb, sum, addr, offset);
            }
        }
    };
    let mut first = 0;
    // A chain that has added nothing yet starts with its first term (no `0 + x`).
    if !acc.live && step.term.is_some() && count > 0 {
        body(kb, acc, None, 0);
        first = 1;
    }
    if count - first <= MAX_UNROLLED_RUN {
        for k in first..count {
            body(kb, acc, None, k as i64);
        }
    } else {
        let live = acc.live;
        let mut looped = Acc { var: acc.var, live };
        kb.for_const(first as i64, count as i64, 1, |kb, u| {
            body(kb, &mut looped, Some(u), 0);
        });
        acc.live = looped.live;
    }
}

/// Emits a chain of steps, grouping consecutive steps of the same kind into runs (loops when
/// long). `steps[k]` addresses must advance linearly within a run of equal kinds, which holds
/// for chains along a line (`kind` says which steps may share a run).
fn emit_chain(kb: &mut KernelBuilder, ty: Type, acc: &mut Acc, steps: &[(ChainStep, u8)]) {
    let mut k = 0;
    while k < steps.len() {
        let kind = steps[k].1;
        let mut end = k + 1;
        while end < steps.len() && steps[end].1 == kind {
            end += 1;
        }
        emit_run(kb, ty, acc, steps[k].0, end - k);
        k = end;
    }
}

/// Where the positions and outputs of a block are.
#[derive(Clone, Copy)]
enum Origin {
    /// Block start `b` known at compile time: padded position `p` at `line.src +
    /// (p − pad)·src_step` when real, kept output `i` at `line.dst + (i/stride)·dst_step`.
    Fixed,
    /// An interior block (every position real, every output kept: stride 1) whose padded
    /// position `b + r` is at `src + r·src_step` and output `b + r` at `dst + r·dst_step`.
    Looped { src: Value, dst: Value },
}

/// Blocks of prefix and suffix sums (van Herk / Gil–Werman; the runtime's `block_sums`,
/// operation for operation, padding terms skipped) of all stride-1 outputs, every `stride`-th
/// stored.
fn emit_blocks(kb: &mut KernelBuilder, line: &Line, slide: &Slide) {
    let Slide {
        len,
        pad,
        window: w,
        stride: s,
    } = *slide;
    let m = slide.padded() - w + 1;
    // Output 0: block [0, w) summed left to right.
    let mut acc = Acc::new(kb, line.ty);
    let steps: Vec<(ChainStep, u8)> = (0..w)
        .map(|p| {
            let action = if p == w - 1 {
                Action::Store(Strided {
                    base: line.dst,
                    offset: 0,
                    step: 0,
                })
            } else {
                Action::Nothing
            };
            let term = slide.is_real(p as i64).then(|| Strided {
                base: line.src,
                offset: (p as i64 - pad as i64) * line.src_step,
                step: line.src_step,
            });
            let kind = u8::from(term.is_some()) | if p == w - 1 { 2 } else { 0 };
            (ChainStep { term, action }, kind)
        })
        .collect();
    emit_chain(kb, line.ty, &mut acc, &steps);
    // Interior blocks (stride 1, all of [b, b + 2w) real, the next block's output in range)
    // run as one loop over k, b = k·w.
    let interior = if s == 1 {
        let k_lo = pad.div_ceil(w);
        let fits = |k: usize| k * w + 2 * w <= pad + len && k * w + w < m;
        let mut k_hi = k_lo;
        while fits(k_hi) {
            k_hi += 1;
        }
        (k_hi >= k_lo + 2).then_some((k_lo, k_hi))
    } else {
        None
    };
    let mut b = 0;
    while b + 1 < m {
        if let Some((k_lo, k_hi)) = interior
            && b == k_lo * w
        {
            let src_row = w as i64 * line.src_step;
            let dst_row = w as i64 * line.dst_step;
            kb.for_const(k_lo as i64, k_hi as i64, 1, |kb, k| {
                let src_k = kb.b.ins().imul_imm_s(k, src_row);
                let src_k = kb.b.ins().iadd(line.src, src_k);
                let src = kb.b.ins().iadd_imm_s(src_k, -(pad as i64) * line.src_step);
                let dst_k = kb.b.ins().imul_imm_s(k, dst_row);
                let dst = kb.b.ins().iadd(line.dst, dst_k);
                emit_block(kb, line, slide, b, Origin::Looped { src, dst });
            });
            b = k_hi * w;
            continue;
        }
        emit_block(kb, line, slide, b, Origin::Fixed);
        b += w;
    }
}

/// The outputs `b + 1 ..= b + w` of the block starting at `b` (those below `m`): the suffix
/// chain of `[b, b + w)`, the prefix chain of `[b + w, b + 2w)` joined with it, and the next
/// block's own output.
fn emit_block(kb: &mut KernelBuilder, line: &Line, slide: &Slide, b: usize, origin: Origin) {
    let (pad, w, s) = (slide.pad as i64, slide.window, slide.stride);
    let m = slide.padded() - slide.window + 1;
    let t = (w - 1).min(m - 1 - b);
    // The term at relative position r (step `dir` per chain step), if real.
    let term = |r: usize, dir: i64| -> Option<Strided> {
        match origin {
            Origin::Fixed => slide.is_real((b + r) as i64).then(|| Strided {
                base: line.src,
                offset: ((b + r) as i64 - pad) * line.src_step,
                step: dir * line.src_step,
            }),
            Origin::Looped { src, .. } => Some(Strided {
                base: src,
                offset: r as i64 * line.src_step,
                step: dir * line.src_step,
            }),
        }
    };
    // The output i = b + r (step `dir` per chain step), if kept.
    let output = |r: usize, dir: i64| -> Option<Strided> {
        match origin {
            Origin::Fixed => ((b + r).is_multiple_of(s) && b + r < m).then(|| Strided {
                base: line.dst,
                offset: ((b + r) / s) as i64 * line.dst_step,
                step: dir * line.dst_step,
            }),
            Origin::Looped { dst, .. } => Some(Strided {
                base: dst,
                offset: r as i64 * line.dst_step,
                step: dir * line.dst_step,
            }),
        }
    };
    let kind = |step: &ChainStep| -> u8 {
        u8::from(step.term.is_some())
            | match step.action {
                Action::Nothing => 0,
                Action::Store(_) => 2,
                Action::Join(_) => 4,
            }
    };
    // Suffix sums, right to left: r = w − 1 down to 1, S stored at outputs r <= t.
    let mut suffix = Acc::new(kb, line.ty);
    let steps: Vec<(ChainStep, u8)> = (1..w)
        .rev()
        .map(|r| {
            let action = match output(r, -1) {
                Some(out) if r <= t => Action::Store(out),
                _ => Action::Nothing,
            };
            let step = ChainStep {
                term: term(r, -1),
                action,
            };
            (step, kind(&step))
        })
        .collect();
    emit_chain(kb, line.ty, &mut suffix, &steps);
    // Prefix sums of the next block, left to right, joined into outputs b + 1 ..= b + t.
    let mut prefix = Acc::new(kb, line.ty);
    let mut steps: Vec<(ChainStep, u8)> = (w..w + t)
        .map(|r| {
            let action = match output(r + 1 - w, 1) {
                Some(out) => Action::Join(out),
                None => Action::Nothing,
            };
            let step = ChainStep {
                term: term(r, 1),
                action,
            };
            (step, kind(&step))
        })
        .collect();
    if b + w < m {
        // The next block's own output: the whole block.
        let action = match output(w, 1) {
            Some(out) => Action::Store(out),
            None => Action::Nothing,
        };
        let step = ChainStep {
            term: term(2 * w - 1, 1),
            action,
        };
        steps.push((step, kind(&step) | 8));
    }
    emit_chain(kb, line.ty, &mut prefix, &steps);
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
            ceil_mode: false,
            count_include_pad: true,
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
