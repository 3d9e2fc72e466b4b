//! Windowed pooling (max, average with zero padding counted, sum) and global average pooling.
//!
//! **Windowed pools** ([`Window`], also used by the direct 3-D sum-pool): one work item per
//! output row `(n, c, oy)`. A row whose window rows all lie inside the input (known at
//! compile time as a range of `oy`, tested once per row) sums its `kh` rows unrolled; the
//! other rows loop over their window rows clamped to the input (`max(oy·sh − ph, 0) ..
//! min(oy·sh − ph + kh, H)`), so padded rows cost nothing. The columns are split at compile
//! time into the left border, the interior (every window column inside the input) and the
//! right border. Interior outputs run in a loop without any branch: four outputs at once as
//! f32x4 when the stride is 1 (four consecutive inputs per tap) or 2 (two f32x4 loads and a
//! `shufps` of the even lanes per tap), one at a time otherwise; each border output is
//! emitted on its own with its window columns clipped at compile time. Padding thus never
//! enters a max (where `-inf` padding could not win) and adds no zeros to sums; an average
//! divides by `kh·kw` whatever the clipping (PyTorch's `count_include_pad=True`), or, when
//! window sizes vary (`count_include_pad=False`, or `ceil_mode` windows overhanging the
//! padded input), by its row factor (`kh` for interior rows, computed per clamped row) times
//! its column factor (known at compile time per border column). The f32x4
//! maximum is `maxps` plus a mask of the NaN lanes seen (a NaN in the window makes the output
//! NaN, as in the reference).
//!
//! **Global average**: one work item per plane `(n, c)`: four f32x4 accumulators over
//! 16-element blocks, one over the remaining vectors, a horizontal sum, a scalar tail, times
//! `1/(H·W)`.

use super::emit::{F, KernelBuilder, LANES};
use super::{Buf, CodegenError, Emitter, NodeInfo, ProgramBuilder};
use crate::ir::PoolAttrs;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32, F32X4, I8X16, I32, I32X4};
use cranelift_codegen::ir::{ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::Variable;
use cranelift_module::Module;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Average,
    Sum,
}

/// Taps of a window this long or shorter are unrolled; longer ones loop.
const MAX_UNROLLED_TAPS: usize = 16;

/// A windowed 2-D pool of an `[N, C, H, W]` input, specialised to its shape, optionally
/// also summing a window of channels: output channel `g·Ca + a` (`Cg = C / groups`,
/// `Ca = Cg − wc + 1`) pools input channels `g·Cg + a .. g·Cg + a + wc`. Plain pooling is
/// `groups = C`, `wc = 1`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    pub kind: PoolKind,
    /// `[N, C, H, W]`.
    pub input: [usize; 4],
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub pad: (usize, usize),
    pub groups: usize,
    /// Channel window (1: none).
    pub wc: usize,
    /// PyTorch's `ceil_mode`: the output rounds up; the last windows may overhang the padded
    /// input (their columns and rows are clipped like the padding's).
    pub ceil_mode: bool,
    /// For averages: divide by the window's size within the padded input (else by its number
    /// of input elements).
    pub count_include_pad: bool,
}

impl Window {
    /// `[N, Co, Ho, Wo]`.
    pub fn output(&self) -> [usize; 4] {
        let [n, c, h, w] = self.input;
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        let (ph, pw) = self.pad;
        let ca = c / self.groups + 1 - self.wc;
        let size = |input: usize, k: usize, s: usize, p: usize| {
            scc_runtime::kernels::pool_output_size(input, k, s, p, self.ceil_mode)
                .expect("the shape rule checked that the window fits")
        };
        [
            n,
            self.groups * ca,
            size(h, kh, sh, ph),
            size(w, kw, sw, pw),
        ]
    }

    /// Whether every average divides by `kh·kw` (the padding counted and no window
    /// overhanging the padded input).
    fn uniform_divisor(&self) -> bool {
        let [_, _, h, w] = self.input;
        let [_, _, ho, wo] = self.output();
        let fits = |out: usize, s: usize, k: usize, input: usize, p: usize| {
            (out - 1) * s + k <= input + 2 * p
        };
        self.count_include_pad
            && fits(ho, self.stride.0, self.kernel.0, h, self.pad.0)
            && fits(wo, self.stride.1, self.kernel.1, w, self.pad.1)
    }

    /// The divisor's factor of a window column starting at input column `first` (possibly in
    /// the padding) whose input columns are `dx` (window offsets).
    fn column_count(&self, first: i64, dx: &Range<usize>) -> usize {
        if self.count_include_pad {
            let [_, _, _, w] = self.input;
            let limit = w as i64 + self.pad.1 as i64 - first;
            (self.kernel.1 as i64).min(limit).max(0) as usize
        } else {
            dx.len()
        }
    }
}

/// How the taps of one output (or group of four outputs) are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lanes {
    /// One output.
    Scalar,
    /// Four outputs at stride 1: four consecutive inputs per tap.
    Contiguous,
    /// Four outputs at stride 2: the even lanes of eight consecutive inputs per tap.
    Stride2,
}

impl Lanes {
    fn ty(self) -> Type {
        if self == Lanes::Scalar { F32 } else { F32X4 }
    }
}

/// The window rows of one output row.
#[derive(Clone, Copy)]
enum Rows {
    /// All `kh` rows inside the input, starting at this address (row `oy·sh − ph` of the
    /// first input channel): unrolled.
    Full(Value),
    /// Rows `[iy_lo, iy_hi)` (clamped, possibly empty) of the plane of the first input
    /// channel at `plane`: a loop.
    Clamped {
        plane: Value,
        iy_lo: Value,
        iy_hi: Value,
        /// The divisor's row factor of averages (f32), when not uniform.
        count: Option<Value>,
    },
}

/// A running reduction: a sum, or a maximum. The f32x4 maximum is `maxps` (whose NaN
/// handling is one-sided) with the NaN lanes tracked in a mask, or'ed in at the end: a NaN
/// in the window makes the output NaN, as in the reference.
#[derive(Clone, Copy)]
struct Acc {
    max: bool,
    value: Variable,
    nan: Option<Variable>,
}

impl Acc {
    fn new(kb: &mut KernelBuilder, kind: PoolKind, ty: Type) -> Acc {
        let max = kind == PoolKind::Max;
        let init = if max { f32::NEG_INFINITY } else { 0.0 };
        let init = if ty == F32X4 {
            kb.vconst(init)
        } else {
            kb.fconst(init)
        };
        let value = kb.var(ty, init);
        let nan = (max && ty == F32X4).then(|| {
            let zero = kb.b.ins().iconst(I32, 0);
            let zero = kb.b.ins().splat(I32X4, zero);
            kb.var(I32X4, zero)
        });
        Acc { max, value, nan }
    }

    fn add(&self, kb: &mut KernelBuilder, v: Value) {
        let a = kb.get(self.value);
        let r = match (self.max, self.nan) {
            (false, _) => kb.b.ins().fadd(a, v),
            (true, None) => kb.b.ins().fmax(a, v),
            (true, Some(nan)) => {
                // bitselect(a < v, v, a): lowered to `maxps v, a`.
                let less = kb.b.ins().fcmp(FloatCC::LessThan, a, v);
                let mask = kb.b.ins().bitcast(F32X4, MemFlagsData::new(), less);
                let r = kb.b.ins().bitselect(mask, v, a);
                let unordered = kb.b.ins().fcmp(FloatCC::Unordered, v, v);
                let seen = kb.get(nan);
                let seen = kb.b.ins().bor(seen, unordered);
                kb.set(nan, seen);
                r
            }
        };
        kb.set(self.value, r);
    }

    fn finish(&self, kb: &mut KernelBuilder) -> Value {
        let value = kb.get(self.value);
        match self.nan {
            Some(nan) => {
                let seen = kb.get(nan);
                let bits = kb.b.ins().bitcast(I32X4, MemFlagsData::new(), value);
                let bits = kb.b.ins().bor(bits, seen);
                kb.b.ins().bitcast(F32X4, MemFlagsData::new(), bits)
            }
            None => value,
        }
    }
}

/// Loads the lanes of one tap at `base + offset` bytes.
fn load_tap(kb: &mut KernelBuilder, lanes: Lanes, base: Value, offset: i64) -> Value {
    match lanes {
        Lanes::Scalar => kb.load(F32, base, offset),
        Lanes::Contiguous => kb.load(F32X4, base, offset),
        Lanes::Stride2 => {
            let low = kb.load(F32X4, base, offset);
            let high = kb.load(F32X4, base, offset + 4 * F);
            let little = MemFlagsData::new().with_endianness(Endianness::Little);
            let low = kb.b.ins().bitcast(I8X16, little, low);
            let high = kb.b.ins().bitcast(I8X16, little, high);
            // Lanes 0 and 2 of each: bytes 0..4, 8..12 of `low`, 16..20, 24..28 of the pair.
            let mask: Vec<u8> = [0u8, 2, 4, 6]
                .iter()
                .flat_map(|&lane| (0..4).map(move |b| lane * 4 + b))
                .collect();
            let mask = kb.b.func.dfg.immediates.push(ConstantData::from(mask));
            let evens = kb.b.ins().shuffle(low, high, mask);
            kb.b.ins().bitcast(F32X4, little, evens)
        }
    }
}

/// The pooled value of one output (group): the window columns `dx` (taps at
/// `row + col + dx·4`) over the window rows of every channel of the channel window.
fn accumulate(
    kb: &mut KernelBuilder,
    win: &Window,
    rows: Rows,
    lanes: Lanes,
    col: Value,
    dx: Range<usize>,
    column_count: usize,
) -> Value {
    let [_, _, h, w] = win.input;
    let kh = win.kernel.0;
    let acc = Acc::new(kb, win.kind, lanes.ty());
    let row_bytes = w as i64 * F;
    // The taps of one row starting at `start` (+ `offset` bytes).
    let row_taps = |kb: &mut KernelBuilder, start: Value, offset: i64| {
        let base = kb.b.ins().iadd(start, col);
        if dx.len() <= MAX_UNROLLED_TAPS {
            for d in dx.clone() {
                let v = load_tap(kb, lanes, base, offset + d as i64 * F);
                acc.add(kb, v);
            }
        } else {
            kb.for_const(dx.start as i64, dx.end as i64, 1, |kb, d| {
                let at = kb.addr(base, d, F);
                let v = load_tap(kb, lanes, at, offset);
                acc.add(kb, v);
            });
        }
    };
    // Every window row of the channel `channel_offset` bytes after the first.
    let channel = |kb: &mut KernelBuilder, channel_offset: Value| match rows {
        Rows::Full(first) => {
            let first = kb.b.ins().iadd(first, channel_offset);
            if kh * dx.len() <= MAX_UNROLLED_TAPS * 4 {
                for r in 0..kh {
                    row_taps(kb, first, r as i64 * row_bytes);
                }
            } else {
                kb.for_const(0, kh as i64, 1, |kb, r| {
                    let start = kb.addr(first, r, row_bytes);
                    row_taps(kb, start, 0);
                });
            }
        }
        Rows::Clamped {
            plane,
            iy_lo,
            iy_hi,
            ..
        } => {
            let plane = kb.b.ins().iadd(plane, channel_offset);
            kb.for_range(iy_lo, iy_hi, 1, |kb, iy| {
                let start = kb.addr(plane, iy, row_bytes);
                row_taps(kb, start, 0);
            });
        }
    };
    if win.wc == 1 {
        let zero = kb.iconst(0);
        channel(kb, zero);
    } else {
        let plane_bytes = (h * w) as i64 * F;
        kb.for_const(0, win.wc as i64, 1, |kb, j| {
            let offset = kb.b.ins().imul_imm_s(j, plane_bytes);
            channel(kb, offset);
        });
    }
    let value = acc.finish(kb);
    if win.kind != PoolKind::Average {
        return value;
    }
    if win.uniform_divisor() {
        let scale = 1.0 / (win.kernel.0 * win.kernel.1) as f32;
        let scale = kb.splat_like(value, scale);
        return kb.b.ins().fmul(value, scale);
    }
    // Window sizes that vary: divide by (row factor · column factor), as the reference.
    let divisor = match rows {
        Rows::Full(_) => kb.fconst((kh * column_count) as f32),
        Rows::Clamped { count, .. } => {
            let count = count.expect("clamped rows of a non-uniform average carry their count");
            let columns = kb.fconst(column_count as f32);
            kb.b.ins().fmul(count, columns)
        }
    };
    let divisor = if lanes.ty() == F32X4 {
        kb.b.ins().splat(F32X4, divisor)
    } else {
        divisor
    };
    kb.b.ins().fdiv(value, divisor)
}

/// Emits the kernel of a windowed pool; the step's arguments are `[output, input]`, its work
/// items the output rows. Returns `(kernel, work items)`.
pub(super) fn emit_window<M: Module>(
    em: &mut Emitter<M>,
    name: &str,
    win: &Window,
) -> Result<(usize, u64), CodegenError> {
    let [_, c, h, w] = win.input;
    let [n, co, ho, wo] = win.output();
    let (kh, kw) = win.kernel;
    let (sh, sw) = win.stride;
    let (ph, pw) = win.pad;
    let cg = c / win.groups;
    let ca = cg + 1 - win.wc;
    // Interior columns: the whole window inside the input.
    let qx_lo = pw.div_ceil(sw);
    let qx_hi = if w + pw >= kw {
        ((w + pw - kw) / sw + 1).min(wo)
    } else {
        0
    };
    let (qx_lo, qx_hi) = if qx_lo < qx_hi {
        (qx_lo, qx_hi)
    } else {
        (wo, wo)
    };
    // Groups of four interior outputs, as long as every loaded element is inside the row.
    let lanes = match sw {
        1 => Lanes::Contiguous,
        2 => Lanes::Stride2,
        _ => Lanes::Scalar,
    };
    let mut vector_end = qx_lo;
    if lanes != Lanes::Scalar {
        while vector_end + LANES <= qx_hi {
            // Last element loaded by the group's last tap.
            let last = match lanes {
                Lanes::Contiguous => vector_end + LANES - 1 + kw - 1,
                _ => 2 * vector_end + kw - 1 + 2 * LANES - 1,
            };
            if last >= w + pw {
                break;
            }
            vector_end += LANES;
        }
    }
    // Interior rows: the whole window inside the input.
    let qy_lo = ph.div_ceil(sh);
    let qy_hi = if h + ph >= kh {
        ((h + ph - kh) / sh + 1).min(ho)
    } else {
        0
    };
    let plane_bytes = (h * w) as i64 * F;
    let win = *win;
    let kernel = em.kernel(name, |kb| {
        let out = kb.arg(0);
        let input = kb.arg(1);
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, item| {
            let qy = kb.b.ins().urem_imm_u(item, ho as i64);
            let nco = kb.b.ins().udiv_imm_u(item, ho as i64);
            let cin = if ca == cg {
                nco
            } else {
                // nco = (n·groups + g)·Ca + a  →  input channel (n·groups + g)·Cg + a.
                let ng = kb.b.ins().udiv_imm_u(nco, ca as i64);
                kb.imad(ng, (cg - ca) as i64, nco)
            };
            let plane = kb.addr(input, cin, plane_bytes);
            let dst = kb.addr(out, item, wo as i64 * F);
            let iy0 = kb.b.ins().imul_imm_s(qy, sh as i64);
            let iy0 = kb.b.ins().iadd_imm_s(iy0, -(ph as i64));
            let row_columns = |kb: &mut KernelBuilder, rows: Rows| {
                // Border columns, each with its window clipped at compile time.
                let border = |kb: &mut KernelBuilder, qx: usize| {
                    let first = (qx * sw) as i64 - pw as i64;
                    let dx_lo = (-first).max(0) as usize;
                    let dx_hi = (w as i64 - first).clamp(0, kw as i64) as usize;
                    let col = kb.iconst(first * F);
                    let dx = dx_lo..dx_hi.max(dx_lo);
                    let count = win.column_count(first, &dx);
                    let v = accumulate(kb, &win, rows, Lanes::Scalar, col, dx, count);
                    kb.store(v, dst, qx as i64 * F);
                };
                for qx in 0..qx_lo {
                    border(kb, qx);
                }
                let interior = |kb: &mut KernelBuilder, lanes: Lanes, from: usize, to: usize| {
                    let step = if lanes == Lanes::Scalar {
                        1
                    } else {
                        LANES as i64
                    };
                    kb.for_const(from as i64, to as i64, step, |kb, qx| {
                        let col = kb.b.ins().imul_imm_s(qx, sw as i64 * F);
                        let col = kb.b.ins().iadd_imm_s(col, -(pw as i64) * F);
                        let v = accumulate(kb, &win, rows, lanes, col, 0..kw, kw);
                        let at = kb.addr(dst, qx, F);
                        kb.store(v, at, 0);
                    });
                };
                if vector_end > qx_lo {
                    interior(kb, lanes, qx_lo, vector_end);
                }
                if qx_hi > vector_end {
                    interior(kb, Lanes::Scalar, vector_end, qx_hi);
                }
                for qx in qx_hi..wo {
                    border(kb, qx);
                }
            };
            // Rows whose window lies inside the input are unrolled; the others (over the
            // padding) loop over their clamped rows.
            let full = |kb: &mut KernelBuilder| {
                let first = kb.addr(plane, iy0, w as i64 * F);
                row_columns(kb, Rows::Full(first));
            };
            let clamped = |kb: &mut KernelBuilder| {
                let zero = kb.iconst(0);
                let iy_lo = kb.b.ins().smax(iy0, zero);
                let iy_end = kb.b.ins().iadd_imm_s(iy0, kh as i64);
                let height = kb.iconst(h as i64);
                let iy_hi = kb.b.ins().smin(iy_end, height);
                let count = (win.kind == PoolKind::Average && !win.uniform_divisor()).then(|| {
                    // Rows of the window inside the padded input, or inside the input.
                    let rows = if win.count_include_pad {
                        let padded = kb.iconst((h + ph) as i64);
                        let end = kb.b.ins().smin(iy_end, padded);
                        kb.b.ins().isub(end, iy0)
                    } else {
                        kb.b.ins().isub(iy_hi, iy_lo)
                    };
                    kb.b.ins().fcvt_from_sint(F32, rows)
                });
                row_columns(
                    kb,
                    Rows::Clamped {
                        plane,
                        iy_lo,
                        iy_hi,
                        count,
                    },
                );
            };
            if qy_lo >= qy_hi {
                clamped(kb);
            } else if qy_lo == 0 && qy_hi == ho {
                full(kb);
            } else {
                let above =
                    kb.b.ins()
                        .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, qy, qy_lo as i64);
                let below =
                    kb.b.ins()
                        .icmp_imm_u(IntCC::UnsignedLessThan, qy, qy_hi as i64);
                let inside = kb.b.ins().band(above, below);
                kb.if_else(inside, full, clamped);
            }
        });
    })?;
    Ok((kernel, (n * co * ho) as u64))
}

pub fn lower<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    kind: PoolKind,
    attrs: &PoolAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let shape = node.operand_shape(0);
    let input = [shape[0], shape[1], shape[2], shape[3]];
    let win = Window {
        kind,
        input,
        kernel: attrs.kernel,
        stride: attrs.stride,
        pad: attrs.pad,
        groups: input[1].max(1),
        wc: 1,
        ceil_mode: attrs.ceil_mode,
        count_include_pad: attrs.count_include_pad,
    };
    debug_assert_eq!(&win.output()[..], node.shape());
    let tag = match kind {
        PoolKind::Max => "maxpool",
        PoolKind::Average => "avgpool",
        PoolKind::Sum => "sumpool",
    };
    let (kernel, work_items) = emit_window(em, &format!("{}_{tag}", node.name()), &win)?;
    program.step(
        kernel,
        vec![Buf::Node(node.id), Buf::Node(node.operands()[0])],
        work_items,
    );
    Ok(())
}

pub fn lower_global_average<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let shape = node.operand_shape(0);
    let planes = shape[0] * shape[1];
    let size = shape[2] * shape[3];
    let block = 4 * LANES;
    let blocks_end = size / block * block;
    let vectors_end = size / LANES * LANES;
    let kernel = em.kernel(&format!("{}_global_avgpool", node.name()), |kb| {
        let out = kb.arg(0);
        let input = kb.arg(1);
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, item| {
            let plane = kb.addr(input, item, size as i64 * F);
            let zero = kb.vconst(0.0);
            let accs: Vec<_> = (0..4).map(|_| kb.var(F32X4, zero)).collect();
            if blocks_end > 0 {
                kb.for_const(0, blocks_end as i64, block as i64, |kb, i| {
                    let at = kb.addr(plane, i, F);
                    for (k, &acc) in accs.iter().enumerate() {
                        let v = kb.load(F32X4, at, (k * LANES) as i64 * F);
                        let a = kb.get(acc);
                        let s = kb.b.ins().fadd(a, v);
                        kb.set(acc, s);
                    }
                });
            }
            for i in (blocks_end..vectors_end).step_by(LANES) {
                let v = kb.load(F32X4, plane, i as i64 * F);
                let a = kb.get(accs[0]);
                let s = kb.b.ins().fadd(a, v);
                kb.set(accs[0], s);
            }
            let sums: Vec<Value> = accs.iter().map(|&acc| kb.get(acc)).collect();
            let a = kb.b.ins().fadd(sums[0], sums[1]);
            let b = kb.b.ins().fadd(sums[2], sums[3]);
            let total = kb.b.ins().fadd(a, b);
            let mut total = kb.horizontal_sum(total);
            for i in vectors_end..size {
                let v = kb.load(F32, plane, i as i64 * F);
                total = kb.b.ins().fadd(total, v);
            }
            let scale = kb.fconst(1.0 / size as f32);
            let mean = kb.b.ins().fmul(total, scale);
            let at = kb.addr(out, item, F);
            kb.store(mean, at, 0);
        });
    })?;
    program.step(
        kernel,
        vec![Buf::Node(node.id), Buf::Node(node.operands()[0])],
        planes as u64,
    );
    Ok(())
}
