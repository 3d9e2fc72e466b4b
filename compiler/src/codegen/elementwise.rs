//! Elementwise and data-movement kernels: activations, `clamp`, `leaky_relu`, arithmetic with a
//! constant, standalone batchnorm (with running or batch statistics) and `affine`, broadcasting
//! `+ - * /`, explicit padding, concatenation, upsampling, softmax, and copies (flatten).
//!
//! Work items are chosen so that each writes a disjoint part of the output:
//! - activations, `clamp`, `leaky_relu`, tensor–constant arithmetic, copies and same-shape
//!   `+ - * /`: chunks of [`CHUNK`] elements of the flat tensor (f32x4 body, scalar tail);
//! - the squeeze-excite `+ - * /` with a `[N, C, 1, 1]` right operand: one `(n, c)` plane,
//!   its gate value broadcast;
//! - `affine`: the batchnorm kernel below with the node's weight and bias as the table;
//! - batchnorm with batch statistics: one channel per item (f64 sums of all its planes, then
//!   `(x − mean)·scale + bias`);
//! - pad: one output row per item, fills and the copied source row;
//! - batchnorm: `y = x·scale[c] + shift[c]` (one FMA), with `scale = w / sqrt(var + eps)`
//!   and `shift = b − mean·scale` computed in f64 at compile time into a constant; one
//!   `(n, c)` plane per item, or one row for `[N, C]` (vectorised over channels);
//! - concat: one step per operand, copying its block of each image into the output at its
//!   channel offset, in chunks of [`CHUNK`] elements per item;
//! - upsample: one output row per item, with source rows/columns (byte offsets, stored as
//!   i32 bits in the constant) and bilinear weights precomputed by the reference's functions
//!   (`scc_runtime::kernels::{nearest_sources, linear_taps}`, PyTorch's formulas for every
//!   mode, `align_corners` and output size); nearest copies four source columns into `scale`
//!   vectors with shuffles when the width grows by an integer `scale` and the source column of
//!   output `x` is `x / scale` (every scale but a few above 40), else gathers through the
//!   table; bilinear blends rows in the reference's order and rounding;
//! - softmax over dim 1: one row of `[N, C]` per item (vectorised along the row, with
//!   horizontal max and sum), or for `[N, C, H, W]` four adjacent spatial positions of one
//!   image per item (f32x4 across positions, channels `H·W` apart; a partial last group
//!   position by position). Max, then `exp(x − max)` stored with its sum, then division.

use super::emit::{F, KernelBuilder, LANES};
use super::linear::shuffle;
use super::{Buf, CodegenError, Emitter, NodeInfo, ProgramBuilder};
use crate::ir::{Arith, PadAttrs, ScalarAttrs, UpsampleAttrs, UpsampleMode};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32, F32X4, F64, I32, I64};
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_module::Module;
use scc_runtime::kernels::{self, Activation};

/// Elements per work item of flat elementwise kernels (a multiple of the vector width).
const CHUNK: usize = 4096;

/// Emits the loop over elements `[start*CHUNK, min(end*CHUNK, len))` of this call's work
/// items: `body(kb, byte_offset, vector)` on f32x4 positions, then on the scalar tail.
fn flat_loop(
    kb: &mut KernelBuilder,
    len: usize,
    body: impl FnMut(&mut KernelBuilder, cranelift_codegen::ir::Value, bool),
) {
    let chunk = kb.iconst(CHUNK as i64);
    let first = kb.b.ins().imul(kb.start, chunk);
    let last = kb.b.ins().imul(kb.end, chunk);
    let len_value = kb.iconst(len as i64);
    let last = kb.b.ins().smin(last, len_value);
    // Vector steps below the last full group of LANES (CHUNK is a multiple of LANES, so
    // only the final chunk can have a tail).
    span_loop(kb, first, last, len / LANES * LANES, body);
}

fn chunks(len: usize) -> u64 {
    len.div_ceil(CHUNK).max(1) as u64
}

/// An elementwise map of one operand, `f` applied to f32x4 vectors and to the f32 tail.
fn lower_map<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    suffix: &str,
    f: impl Fn(&mut KernelBuilder, cranelift_codegen::ir::Value) -> cranelift_codegen::ir::Value,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let len: usize = node.shape().iter().product();
    let kernel = em.kernel(&format!("{}_{suffix}", node.name()), |kb| {
        let out = kb.arg(0);
        let input = kb.arg(1);
        flat_loop(kb, len, |kb, offset, vector| {
            let ty = if vector { F32X4 } else { F32 };
            let src = kb.b.ins().iadd(input, offset);
            let x = kb.load(ty, src, 0);
            let y = f(kb, x);
            let dst = kb.b.ins().iadd(out, offset);
            kb.store(y, dst, 0);
        });
    })?;
    program.step(
        kernel,
        vec![Buf::Node(node.id), Buf::Node(node.operands()[0])],
        chunks(len),
    );
    Ok(())
}

pub fn lower_activation<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    act: Activation,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    lower_map(em, node, act.name(), |kb, x| kb.activation(x, act), program)
}

/// `clamp(x, min, max)`: `min(max(x, lo), hi)` with NaN-propagating min and max (an infinite
/// bound is skipped).
pub fn lower_clamp<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    min: f32,
    max: f32,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let clamp = move |kb: &mut KernelBuilder, x: Value| {
        let mut y = x;
        if min != f32::NEG_INFINITY {
            let lo = kb.splat_like(x, min);
            y = kb.b.ins().fmax(y, lo);
        }
        if max != f32::INFINITY {
            let hi = kb.splat_like(x, max);
            y = kb.b.ins().fmin(y, hi);
        }
        y
    };
    lower_map(em, node, "clamp", clamp, program)
}

/// `leaky_relu(x, slope)`: `x > 0 ? x : x · slope` lane by lane.
pub fn lower_leaky_relu<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    slope: f32,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let leaky = move |kb: &mut KernelBuilder, x: Value| {
        let zero = kb.splat_like(x, 0.0);
        let factor = kb.splat_like(x, slope);
        let scaled = kb.b.ins().fmul(x, factor);
        kb.choose(FloatCC::GreaterThan, x, zero, x, scaled)
    };
    lower_map(em, node, "leaky_relu", leaky, program)
}

/// `x ∘ value` or `value ∘ x` with the constant splatted.
pub fn lower_scalar<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: ScalarAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let apply = move |kb: &mut KernelBuilder, x: Value| {
        let c = kb.splat_like(x, attrs.value);
        let (a, b) = if attrs.value_first { (c, x) } else { (x, c) };
        arith(kb, attrs.op, a, b)
    };
    let name = match attrs.op {
        Arith::Add => "add_scalar",
        Arith::Sub => "sub_scalar",
        Arith::Mul => "mul_scalar",
        Arith::Div => "div_scalar",
    };
    lower_map(em, node, name, apply, program)
}

/// `a ∘ b` on f32 or f32x4 values.
fn arith(kb: &mut KernelBuilder, op: Arith, a: Value, b: Value) -> Value {
    match op {
        Arith::Add => kb.b.ins().fadd(a, b),
        Arith::Sub => kb.b.ins().fsub(a, b),
        Arith::Mul => kb.b.ins().fmul(a, b),
        Arith::Div => kb.b.ins().fdiv(a, b),
    }
}

/// A plain copy (flatten only changes the shape).
pub fn lower_copy<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    lower_map(em, node, "copy", |_, x| x, program)
}

/// The broadcasting binary ops of the language (`+`, `-`, `*`, `/` of two tensors).
pub fn lower_binary<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    op: Arith,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let a = node.operand_shape(0);
    let b = node.operand_shape(1);
    let apply = move |kb: &mut KernelBuilder, x: Value, y: Value| arith(kb, op, x, y);
    let name = match op {
        Arith::Add => "add",
        Arith::Sub => "sub",
        Arith::Mul => "mul",
        Arith::Div => "div",
    };
    let args = vec![
        Buf::Node(node.id),
        Buf::Node(node.operands()[0]),
        Buf::Node(node.operands()[1]),
    ];
    let len: usize = a.iter().product();
    if a == b {
        let kernel = em.kernel(&format!("{}_{name}", node.name()), |kb| {
            let out = kb.arg(0);
            let lhs = kb.arg(1);
            let rhs = kb.arg(2);
            flat_loop(kb, len, |kb, offset, vector| {
                let ty = if vector { F32X4 } else { F32 };
                let pa = kb.b.ins().iadd(lhs, offset);
                let pb = kb.b.ins().iadd(rhs, offset);
                let x = kb.load(ty, pa, 0);
                let y = kb.load(ty, pb, 0);
                let z = apply(kb, x, y);
                let dst = kb.b.ins().iadd(out, offset);
                kb.store(z, dst, 0);
            });
        })?;
        program.step(kernel, args, chunks(len));
        return Ok(());
    }
    // The squeeze-excite gate: `b` is [N, C, 1, 1], one value per (n, c) plane of `a`.
    assert!(
        a.len() == 4 && b == [a[0], a[1], 1, 1],
        "`{name}` of {a:?} and {b:?}: the verifier admits only equal shapes or [N, C, 1, 1]"
    );
    let planes = a[0] * a[1];
    let inner = a[2] * a[3];
    let kernel = em.kernel(&format!("{}_{name}_gate", node.name()), |kb| {
        let out = kb.arg(0);
        let lhs = kb.arg(1);
        let rhs = kb.arg(2);
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, plane| {
            let gate_addr = kb.addr(rhs, plane, F);
            let gate = kb.load(F32, gate_addr, 0);
            let gate_vector = kb.b.ins().splat(F32X4, gate);
            let base = kb.b.ins().imul_imm_s(plane, inner as i64 * F);
            let src = kb.b.ins().iadd(lhs, base);
            let dst = kb.b.ins().iadd(out, base);
            row_loop(kb, inner, |kb, offset, vector| {
                let (ty, y) = if vector {
                    (F32X4, gate_vector)
                } else {
                    (F32, gate)
                };
                let pa = kb.b.ins().iadd(src, offset);
                let x = kb.load(ty, pa, 0);
                let z = apply(kb, x, y);
                let pd = kb.b.ins().iadd(dst, offset);
                kb.store(z, pd, 0);
            });
        });
    })?;
    program.step(kernel, args, planes as u64);
    Ok(())
}

/// Emits a loop over `len` contiguous elements: f32x4 steps, then a scalar tail unrolled at
/// compile time; `body(kb, byte_offset, vector)`.
fn row_loop(
    kb: &mut KernelBuilder,
    len: usize,
    mut body: impl FnMut(&mut KernelBuilder, Value, bool),
) {
    let vector_end = len / LANES * LANES;
    if vector_end > 0 {
        kb.for_const(0, vector_end as i64 * F, LANES as i64 * F, |kb, offset| {
            body(kb, offset, true)
        });
    }
    for j in vector_end..len {
        let offset = kb.iconst(j as i64 * F);
        body(kb, offset, false);
    }
}

/// Emits a loop over elements `[first, last)` (values), f32x4 steps below `vector_limit`
/// (a multiple of the vector width) then scalars; `first` is a multiple of the vector
/// width, and so is `last` when it is below `vector_limit`. `body(kb, byte_offset, vector)`.
fn span_loop(
    kb: &mut KernelBuilder,
    first: Value,
    last: Value,
    vector_limit: usize,
    mut body: impl FnMut(&mut KernelBuilder, Value, bool),
) {
    let limit = kb.iconst(vector_limit as i64);
    let vector_end = kb.b.ins().smin(last, limit);
    kb.for_range(first, vector_end, LANES as i64, |kb, i| {
        let offset = kb.b.ins().imul_imm_s(i, F);
        body(kb, offset, true);
    });
    let tail_start = kb.b.ins().smax(first, vector_end);
    kb.for_range(tail_start, last, 1, |kb, i| {
        let offset = kb.b.ins().imul_imm_s(i, F);
        body(kb, offset, false);
    });
}

/// `scale = w / sqrt(var + eps)` and `shift = b − mean·scale` per channel, in f64 then
/// rounded: `[scale[0..C], shift[0..C]]`.
pub(super) fn batchnorm_constants(
    params: &[std::sync::Arc<scc_runtime::Tensor>],
    eps: f32,
) -> Vec<f32> {
    let (weight, bias, mean, var) = (
        params[0].data(),
        params[1].data(),
        params[2].data(),
        params[3].data(),
    );
    let c = weight.len();
    let mut table = vec![0.0f32; 2 * c];
    for ch in 0..c {
        let scale = f64::from(weight[ch]) / (f64::from(var[ch]) + f64::from(eps)).sqrt();
        table[ch] = scale as f32;
        table[c + ch] = (f64::from(bias[ch]) - f64::from(mean[ch]) * scale) as f32;
    }
    table
}

pub fn lower_batchnorm<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    eps: f32,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let table = batchnorm_constants(&node.params, eps);
    lower_channel_affine(em, node, "batchnorm", table, program)
}

/// `affine(x)`: the per-channel `x · weight + bias` of the batchnorm kernel, with the node's
/// own weight and bias (0 without).
pub fn lower_affine<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    bias: bool,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let mut table = node.params[0].data().to_vec();
    match bias {
        true => table.extend_from_slice(node.params[1].data()),
        false => table.extend(std::iter::repeat_n(0.0, node.params[0].len())),
    }
    lower_channel_affine(em, node, "affine", table, program)
}

/// `y = x·scale[c] + shift[c]` (one FMA) with `table = [scale[0..C], shift[0..C]]`.
fn lower_channel_affine<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    tag: &str,
    table: Vec<f32>,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let shape = node.shape().to_vec();
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    let table = program.constant(table);
    let shift_offset = c as i64 * F;
    let args = vec![Buf::Node(node.id), Buf::Node(node.operands()[0]), table];
    if inner == 1 {
        // [N, C] (or [N, C, 1, 1]): one row per work item, vectorised over channels.
        let kernel = em.kernel(&format!("{}_{tag}", node.name()), |kb| {
            let out = kb.arg(0);
            let input = kb.arg(1);
            let consts = kb.arg(2);
            let (start, end) = (kb.start, kb.end);
            kb.for_range(start, end, 1, |kb, row| {
                let base = kb.b.ins().imul_imm_s(row, c as i64 * F);
                let src = kb.b.ins().iadd(input, base);
                let dst = kb.b.ins().iadd(out, base);
                row_loop(kb, c, |kb, offset, vector| {
                    let ty = if vector { F32X4 } else { F32 };
                    let ps = kb.b.ins().iadd(src, offset);
                    let pc = kb.b.ins().iadd(consts, offset);
                    let x = kb.load(ty, ps, 0);
                    let scale = kb.load(ty, pc, 0);
                    let shift = kb.load(ty, pc, shift_offset);
                    let y = kb.fmadd(x, scale, shift);
                    let pd = kb.b.ins().iadd(dst, offset);
                    kb.store(y, pd, 0);
                });
            });
        })?;
        program.step(kernel, args, n as u64);
        return Ok(());
    }
    // One (n, c) plane per work item.
    let kernel = em.kernel(&format!("{}_{tag}", node.name()), |kb| {
        let out = kb.arg(0);
        let input = kb.arg(1);
        let consts = kb.arg(2);
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, plane| {
            let (_, ch) = kb.divmod(plane, c);
            let pc = kb.addr(consts, ch, F);
            let scale = kb.load(F32, pc, 0);
            let shift = kb.load(F32, pc, shift_offset);
            let scale_v = kb.b.ins().splat(F32X4, scale);
            let shift_v = kb.b.ins().splat(F32X4, shift);
            let base = kb.b.ins().imul_imm_s(plane, inner as i64 * F);
            let src = kb.b.ins().iadd(input, base);
            let dst = kb.b.ins().iadd(out, base);
            row_loop(kb, inner, |kb, offset, vector| {
                let (ty, a, b) = if vector {
                    (F32X4, scale_v, shift_v)
                } else {
                    (F32, scale, shift)
                };
                let ps = kb.b.ins().iadd(src, offset);
                let x = kb.load(ty, ps, 0);
                let y = kb.fmadd(x, a, b);
                let pd = kb.b.ins().iadd(dst, offset);
                kb.store(y, pd, 0);
            });
        });
    })?;
    program.step(kernel, args, (n * c) as u64);
    Ok(())
}

/// `pad`: one output row `(n, c, oy)` per work item. A row of the top or bottom band is the
/// fill value; any other is `left` fills, the source row, `right` fills (f32x4 body, scalar
/// tail, as [`row_loop`]).
pub fn lower_pad<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: &PadAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let x = node.operand_shape(0);
    let (h, w) = (x[2], x[3]);
    let shape = node.shape().to_vec();
    let (ho, wo) = (shape[2], shape[3]);
    let rows = shape[0] * shape[1] * ho;
    let (top, left, right) = (attrs.top, attrs.left, attrs.right);
    let value = attrs.value;
    let fill = move |kb: &mut KernelBuilder, dst: Value, len: usize| {
        let vector = kb.vconst(value);
        let scalar = kb.fconst(value);
        row_loop(kb, len, |kb, offset, is_vector| {
            let v = if is_vector { vector } else { scalar };
            let at = kb.b.ins().iadd(dst, offset);
            kb.store(v, at, 0);
        });
    };
    let kernel = em.kernel(&format!("{}_pad", node.name()), |kb| {
        let out = kb.arg(0);
        let input = kb.arg(1);
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, item| {
            let (plane, oy) = kb.divmod(item, ho);
            let dst = kb.addr(out, item, wo as i64 * F);
            let below_top =
                kb.b.ins()
                    .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, oy, top as i64);
            let above_bottom =
                kb.b.ins()
                    .icmp_imm_u(IntCC::UnsignedLessThan, oy, (top + h) as i64);
            let inside = kb.b.ins().band(below_top, above_bottom);
            kb.if_else(
                inside,
                |kb| {
                    fill(kb, dst, left);
                    let iy = kb.b.ins().iadd_imm_s(oy, -(top as i64));
                    let src_plane = kb.addr(input, plane, (h * w) as i64 * F);
                    let src = kb.addr(src_plane, iy, w as i64 * F);
                    let row_dst = kb.b.ins().iadd_imm_s(dst, left as i64 * F);
                    row_loop(kb, w, |kb, offset, vector| {
                        let ty = if vector { F32X4 } else { F32 };
                        let ps = kb.b.ins().iadd(src, offset);
                        let v = kb.load(ty, ps, 0);
                        let pd = kb.b.ins().iadd(row_dst, offset);
                        kb.store(v, pd, 0);
                    });
                    let tail = kb.b.ins().iadd_imm_s(dst, (left + w) as i64 * F);
                    fill(kb, tail, right);
                },
                |kb| fill(kb, dst, wo),
            );
        });
    })?;
    program.step(
        kernel,
        vec![Buf::Node(node.id), Buf::Node(node.operands()[0])],
        rows as u64,
    );
    Ok(())
}

/// `batchnorm(x, training=true)`: one channel per work item, over all `N` images: the mean and
/// the biased variance of its `N·H·W` values (two passes, accumulated in f64), then
/// `y = (x − mean)·scale + bias` with `scale = weight / sqrt(var + eps)` (f64, rounded), as
/// PyTorch's f32 kernel: a channel whose values are all equal gives exactly `bias` however
/// small `eps` makes `1 / sqrt(var + eps)`, vectorised along each plane.
pub fn lower_batchnorm_training<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    eps: f32,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let shape = node.shape().to_vec();
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    if n * c * inner == 0 {
        return Ok(());
    }
    let mut table = node.params[0].data().to_vec();
    table.extend_from_slice(node.params[1].data());
    let table = program.constant(table);
    let count = (n * inner) as f64;
    let plane_bytes = inner as i64 * F;
    let image_bytes = (c * inner) as i64 * F;
    let kernel = em.kernel(&format!("{}_batchnorm_training", node.name()), |kb| {
        let out = kb.arg(0);
        let input = kb.arg(1);
        let consts = kb.arg(2);
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, ch| {
            let first = kb.addr(input, ch, plane_bytes);
            // Σ x, then Σ (x − mean)², over every image's plane of this channel.
            let sum_over = |kb: &mut KernelBuilder, mean: Option<Value>| {
                let zero = kb.b.ins().f64const(0.0);
                let total = kb.var(F64, zero);
                kb.for_const(0, n as i64, 1, |kb, image| {
                    let plane = kb.addr(first, image, image_bytes);
                    kb.for_const(0, inner as i64, 1, |kb, i| {
                        let at = kb.addr(plane, i, F);
                        let v = kb.load(F32, at, 0);
                        let v = kb.b.ins().fpromote(F64, v);
                        let term = match mean {
                            Some(mean) => {
                                let d = kb.b.ins().fsub(v, mean);
                                kb.b.ins().fmul(d, d)
                            }
                            None => v,
                        };
                        let t = kb.get(total);
                        let t = kb.b.ins().fadd(t, term);
                        kb.set(total, t);
                    });
                });
                kb.get(total)
            };
            let count_value = kb.b.ins().f64const(count);
            let sum = sum_over(kb, None);
            let mean = kb.b.ins().fdiv(sum, count_value);
            let squares = sum_over(kb, Some(mean));
            let var = kb.b.ins().fdiv(squares, count_value);
            let eps = kb.b.ins().f64const(f64::from(eps));
            let var = kb.b.ins().fadd(var, eps);
            let std = kb.b.ins().sqrt(var);
            let pc = kb.addr(consts, ch, F);
            let weight = kb.load(F32, pc, 0);
            let weight = kb.b.ins().fpromote(F64, weight);
            let bias = kb.load(F32, pc, c as i64 * F);
            let bias = kb.b.ins().fpromote(F64, bias);
            let scale = kb.b.ins().fdiv(weight, std);
            let scale = kb.b.ins().fdemote(F32, scale);
            let mean = kb.b.ins().fdemote(F32, mean);
            let bias = kb.b.ins().fdemote(F32, bias);
            let scale_v = kb.b.ins().splat(F32X4, scale);
            let mean_v = kb.b.ins().splat(F32X4, mean);
            let bias_v = kb.b.ins().splat(F32X4, bias);
            let out_first = kb.addr(out, ch, plane_bytes);
            kb.for_const(0, n as i64, 1, |kb, image| {
                let src = kb.addr(first, image, image_bytes);
                let dst = kb.addr(out_first, image, image_bytes);
                row_loop(kb, inner, |kb, offset, vector| {
                    let (ty, m, a, b) = if vector {
                        (F32X4, mean_v, scale_v, bias_v)
                    } else {
                        (F32, mean, scale, bias)
                    };
                    let ps = kb.b.ins().iadd(src, offset);
                    let x = kb.load(ty, ps, 0);
                    let centred = kb.b.ins().fsub(x, m);
                    let y = kb.fmadd(centred, a, b);
                    let pd = kb.b.ins().iadd(dst, offset);
                    kb.store(y, pd, 0);
                });
            });
        });
    })?;
    program.step(
        kernel,
        vec![Buf::Node(node.id), Buf::Node(node.operands()[0]), table],
        c as u64,
    );
    Ok(())
}

pub fn lower_concat<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let shape = node.shape().to_vec();
    let n = shape[0];
    let inner: usize = shape[2..].iter().product();
    let out_block = shape[1] * inner;
    let mut channel = 0;
    for (index, operand) in node.operands().into_iter().enumerate() {
        let channels = node.graph.node(operand).shape[1];
        // Operand `index` fills elements [offset, offset + block) of each output image.
        let block = channels * inner;
        let offset = channel * inner;
        channel += channels;
        if block == 0 {
            continue;
        }
        let per_image = block.div_ceil(CHUNK);
        let kernel = em.kernel(&format!("{}_concat{index}", node.name()), |kb| {
            let out = kb.arg(0);
            let input = kb.arg(1);
            let (start, end) = (kb.start, kb.end);
            kb.for_range(start, end, 1, |kb, item| {
                let (image, chunk) = kb.divmod(item, per_image);
                let first = kb.b.ins().imul_imm_s(chunk, CHUNK as i64);
                let last = kb.b.ins().iadd_imm_s(first, CHUNK as i64);
                let block_len = kb.iconst(block as i64);
                let last = kb.b.ins().smin(last, block_len);
                let src_base = kb.b.ins().imul_imm_s(image, block as i64 * F);
                let src = kb.b.ins().iadd(input, src_base);
                let dst_base = kb.b.ins().imul_imm_s(image, out_block as i64 * F);
                let dst = kb.b.ins().iadd(out, dst_base);
                let dst = kb.b.ins().iadd_imm_s(dst, offset as i64 * F);
                span_loop(
                    kb,
                    first,
                    last,
                    block / LANES * LANES,
                    |kb, byte, vector| {
                        let ty = if vector { F32X4 } else { F32 };
                        let ps = kb.b.ins().iadd(src, byte);
                        let x = kb.load(ty, ps, 0);
                        let pd = kb.b.ins().iadd(dst, byte);
                        kb.store(x, pd, 0);
                    },
                );
            });
        })?;
        program.step(
            kernel,
            vec![Buf::Node(node.id), Buf::Node(operand)],
            (n * per_image) as u64,
        );
    }
    Ok(())
}

/// An integer (a byte offset) stored in an f32 constant table by its bits.
fn index_bits(value: usize) -> f32 {
    f32::from_bits(u32::try_from(value).expect("tensor byte offsets fit in 32 bits"))
}

/// Loads an index stored by [`index_bits`] as an i64.
fn load_index(kb: &mut KernelBuilder, addr: Value, offset: i64) -> Value {
    let bits = kb.load(I32, addr, offset);
    kb.b.ins().uextend(I64, bits)
}

pub fn lower_upsample<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    attrs: &UpsampleAttrs,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let x = node.operand_shape(0);
    let (n, c, h, w) = (x[0], x[1], x[2], x[3]);
    let (ho, wo) = attrs.size;
    let align_corners = attrs.align_corners;
    let ratio_y = kernels::resize_ratio(h, ho, attrs.scale, align_corners);
    let ratio_x = kernels::resize_ratio(w, wo, attrs.scale, align_corners);
    let rows = n * c * ho;
    let args = |table: Option<Buf>| {
        let mut args = vec![Buf::Node(node.id), Buf::Node(node.operands()[0])];
        args.extend(table);
        args
    };
    match attrs.mode {
        UpsampleMode::Nearest | UpsampleMode::NearestExact => {
            let exact = attrs.mode == UpsampleMode::NearestExact;
            let src_y = kernels::nearest_sources(h, ho, ratio_y, exact);
            let src_x = kernels::nearest_sources(w, wo, ratio_x, exact);
            // Source row byte offsets (within the plane) of every output row, then source
            // column byte offsets of every output column.
            let mut table: Vec<f32> = src_y.iter().map(|&sy| index_bits(sy * w * 4)).collect();
            table.extend(src_x.iter().map(|&sx| index_bits(sx * 4)));
            // Every source column repeated `scale` times in order: copy with shuffles.
            let scale = (wo / w).max(1);
            let regular =
                wo == w * scale && src_x.iter().enumerate().all(|(ox, &sx)| sx == ox / scale);
            let table = program.constant(table);
            let kernel = em.kernel(&format!("{}_upsample_nearest", node.name()), |kb| {
                let out = kb.arg(0);
                let input = kb.arg(1);
                let consts = kb.arg(2);
                let (start, end) = (kb.start, kb.end);
                kb.for_range(start, end, 1, |kb, row| {
                    let (plane, oy) = kb.divmod(row, ho);
                    let y_entry = kb.addr(consts, oy, F);
                    let sy = load_index(kb, y_entry, 0);
                    let plane_base = kb.imad(plane, (h * w) as i64 * F, input);
                    let src = kb.b.ins().iadd(plane_base, sy);
                    let dst = kb.imad(row, wo as i64 * F, out);
                    if regular {
                        // Four source columns give `scale` output vectors.
                        let groups = w / LANES;
                        kb.for_const(0, groups as i64, 1, |kb, g| {
                            let ps = kb.addr(src, g, LANES as i64 * F);
                            let v = kb.load(F32X4, ps, 0);
                            let pd = kb.addr(dst, g, (LANES * scale) as i64 * F);
                            for k in 0..scale {
                                let lanes = [0, 1, 2, 3].map(|j| (LANES * k + j) / scale);
                                let part = if scale == 1 {
                                    v
                                } else {
                                    shuffle(kb, v, v, lanes)
                                };
                                kb.store(part, pd, (k * LANES) as i64 * F);
                            }
                        });
                        for sx in groups * LANES..w {
                            let v = kb.load(F32, src, sx as i64 * F);
                            for k in 0..scale {
                                kb.store(v, dst, (sx * scale + k) as i64 * F);
                            }
                        }
                    } else {
                        kb.for_const(0, wo as i64, 1, |kb, ox| {
                            let x_entry = kb.addr(consts, ox, F);
                            let sx = load_index(kb, x_entry, ho as i64 * F);
                            let ps = kb.b.ins().iadd(src, sx);
                            let v = kb.load(F32, ps, 0);
                            let pd = kb.addr(dst, ox, F);
                            kb.store(v, pd, 0);
                        });
                    }
                });
            })?;
            program.step(kernel, args(Some(table)), rows as u64);
        }
        UpsampleMode::Bilinear => {
            // Per output row: [row0 byte offset, row1 byte offset, w0, w1]; then per output
            // column: [col0 byte offset, col1 byte offset, w0, w1].
            let mut table = Vec::with_capacity(4 * (ho + wo));
            for t in kernels::linear_taps(h, ho, ratio_y, align_corners) {
                table.extend([
                    index_bits(t.i0 * w * 4),
                    index_bits(t.i1 * w * 4),
                    t.w0,
                    t.w1,
                ]);
            }
            for t in kernels::linear_taps(w, wo, ratio_x, align_corners) {
                table.extend([index_bits(t.i0 * 4), index_bits(t.i1 * 4), t.w0, t.w1]);
            }
            let table = program.constant(table);
            let x_table = (4 * ho) as i64 * F;
            let kernel = em.kernel(&format!("{}_upsample_bilinear", node.name()), |kb| {
                let out = kb.arg(0);
                let input = kb.arg(1);
                let consts = kb.arg(2);
                let (start, end) = (kb.start, kb.end);
                kb.for_range(start, end, 1, |kb, row| {
                    let (plane, oy) = kb.divmod(row, ho);
                    let y_entry = kb.addr(consts, oy, 4 * F);
                    let r0 = load_index(kb, y_entry, 0);
                    let r1 = load_index(kb, y_entry, F);
                    let wy0 = kb.load(F32, y_entry, 2 * F);
                    let wy1 = kb.load(F32, y_entry, 3 * F);
                    let plane_base = kb.imad(plane, (h * w) as i64 * F, input);
                    let row0 = kb.b.ins().iadd(plane_base, r0);
                    let row1 = kb.b.ins().iadd(plane_base, r1);
                    let dst = kb.imad(row, wo as i64 * F, out);
                    kb.for_const(0, wo as i64, 1, |kb, ox| {
                        let x_entry = kb.addr(consts, ox, 4 * F);
                        let c0 = load_index(kb, x_entry, x_table);
                        let c1 = load_index(kb, x_entry, x_table + F);
                        let wx0 = kb.load(F32, x_entry, x_table + 2 * F);
                        let wx1 = kb.load(F32, x_entry, x_table + 3 * F);
                        // As the reference, without fusing: (a·w0 + b·w1) per row, then rows.
                        let blend = |kb: &mut KernelBuilder, base: Value| {
                            let p0 = kb.b.ins().iadd(base, c0);
                            let p1 = kb.b.ins().iadd(base, c1);
                            let a = kb.load(F32, p0, 0);
                            let b = kb.load(F32, p1, 0);
                            let a = kb.b.ins().fmul(a, wx0);
                            let b = kb.b.ins().fmul(b, wx1);
                            kb.b.ins().fadd(a, b)
                        };
                        let top = blend(kb, row0);
                        let bottom = blend(kb, row1);
                        let top = kb.b.ins().fmul(top, wy0);
                        let bottom = kb.b.ins().fmul(bottom, wy1);
                        let y = kb.b.ins().fadd(top, bottom);
                        let pd = kb.addr(dst, ox, F);
                        kb.store(y, pd, 0);
                    });
                });
            })?;
            program.step(kernel, args(Some(table)), rows as u64);
        }
    }
    Ok(())
}

/// Softmax over `channels` values `stride` bytes apart from `src`, written likewise to
/// `dst`; `ty` is f32 (one position) or f32x4 (four adjacent positions).
fn softmax_strided(
    kb: &mut KernelBuilder,
    src: Value,
    dst: Value,
    channels: usize,
    stride: i64,
    vector: bool,
) {
    let ty = if vector { F32X4 } else { F32 };
    let first = kb.load(ty, src, 0);
    let max = kb.var(ty, first);
    kb.for_const(1, channels as i64, 1, |kb, ch| {
        let p = kb.addr(src, ch, stride);
        let v = kb.load(ty, p, 0);
        let m = kb.get(max);
        let m = kb.b.ins().fmax(m, v);
        kb.set(max, m);
    });
    let max = kb.get(max);
    let zero = if vector {
        kb.vconst(0.0)
    } else {
        kb.fconst(0.0)
    };
    let sum = kb.var(ty, zero);
    kb.for_const(0, channels as i64, 1, |kb, ch| {
        let p = kb.addr(src, ch, stride);
        let v = kb.load(ty, p, 0);
        let shifted = kb.b.ins().fsub(v, max);
        let e = kb.exp(shifted);
        let pd = kb.addr(dst, ch, stride);
        kb.store(e, pd, 0);
        let s = kb.get(sum);
        let s = kb.b.ins().fadd(s, e);
        kb.set(sum, s);
    });
    let sum = kb.get(sum);
    kb.for_const(0, channels as i64, 1, |kb, ch| {
        let pd = kb.addr(dst, ch, stride);
        let e = kb.load(ty, pd, 0);
        let y = kb.b.ins().fdiv(e, sum);
        kb.store(y, pd, 0);
    });
}

/// The maximum of the four lanes of a vector.
fn horizontal_max(kb: &mut KernelBuilder, v: Value) -> Value {
    let lanes: Vec<Value> = (0..4).map(|i| kb.b.ins().extractlane(v, i as u8)).collect();
    let a = kb.b.ins().fmax(lanes[0], lanes[1]);
    let b = kb.b.ins().fmax(lanes[2], lanes[3]);
    kb.b.ins().fmax(a, b)
}

/// Softmax of one contiguous row of `len` values (vectorised along the row).
fn softmax_row(kb: &mut KernelBuilder, src: Value, dst: Value, len: usize) {
    let vector_end = len / LANES * LANES;
    // Maximum.
    let mut max = if vector_end > 0 {
        let first = kb.load(F32X4, src, 0);
        let max = kb.var(F32X4, first);
        kb.for_const(
            LANES as i64 * F,
            vector_end as i64 * F,
            LANES as i64 * F,
            |kb, offset| {
                let p = kb.b.ins().iadd(src, offset);
                let v = kb.load(F32X4, p, 0);
                let m = kb.get(max);
                let m = kb.b.ins().fmax(m, v);
                kb.set(max, m);
            },
        );
        let max = kb.get(max);
        horizontal_max(kb, max)
    } else {
        kb.load(F32, src, 0)
    };
    for j in vector_end..len {
        let v = kb.load(F32, src, j as i64 * F);
        max = kb.b.ins().fmax(max, v);
    }
    // Exponentials and their sum.
    let max_v = kb.b.ins().splat(F32X4, max);
    let zero = kb.vconst(0.0);
    let sum_v = kb.var(F32X4, zero);
    row_loop(kb, vector_end, |kb, offset, _| {
        let p = kb.b.ins().iadd(src, offset);
        let v = kb.load(F32X4, p, 0);
        let shifted = kb.b.ins().fsub(v, max_v);
        let e = kb.exp(shifted);
        let pd = kb.b.ins().iadd(dst, offset);
        kb.store(e, pd, 0);
        let s = kb.get(sum_v);
        let s = kb.b.ins().fadd(s, e);
        kb.set(sum_v, s);
    });
    let sum_v = kb.get(sum_v);
    let mut sum = kb.horizontal_sum(sum_v);
    for j in vector_end..len {
        let v = kb.load(F32, src, j as i64 * F);
        let shifted = kb.b.ins().fsub(v, max);
        let e = kb.exp(shifted);
        kb.store(e, dst, j as i64 * F);
        sum = kb.b.ins().fadd(sum, e);
    }
    // Normalisation.
    let sum_v = kb.b.ins().splat(F32X4, sum);
    row_loop(kb, len, |kb, offset, vector| {
        let (ty, s) = if vector { (F32X4, sum_v) } else { (F32, sum) };
        let pd = kb.b.ins().iadd(dst, offset);
        let e = kb.load(ty, pd, 0);
        let y = kb.b.ins().fdiv(e, s);
        kb.store(y, pd, 0);
    });
}

pub fn lower_softmax<M: Module>(
    em: &mut Emitter<M>,
    node: &NodeInfo,
    program: &mut ProgramBuilder,
) -> Result<(), CodegenError> {
    let shape = node.shape().to_vec();
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    let args = vec![Buf::Node(node.id), Buf::Node(node.operands()[0])];
    if n * c * inner == 0 {
        return Ok(());
    }
    if inner == 1 {
        // One row of C values per work item.
        let kernel = em.kernel(&format!("{}_softmax", node.name()), |kb| {
            let out = kb.arg(0);
            let input = kb.arg(1);
            let (start, end) = (kb.start, kb.end);
            kb.for_range(start, end, 1, |kb, row| {
                let base = kb.b.ins().imul_imm_s(row, c as i64 * F);
                let src = kb.b.ins().iadd(input, base);
                let dst = kb.b.ins().iadd(out, base);
                softmax_row(kb, src, dst, c);
            });
        })?;
        program.step(kernel, args, n as u64);
        return Ok(());
    }
    // One work item per image and group of four spatial positions, vectorised across the
    // positions; the channels are `inner` elements apart.
    let groups = inner.div_ceil(LANES);
    let remainder = inner % LANES;
    let stride = inner as i64 * F;
    let kernel = em.kernel(&format!("{}_softmax", node.name()), |kb| {
        let out = kb.arg(0);
        let input = kb.arg(1);
        let (start, end) = (kb.start, kb.end);
        kb.for_range(start, end, 1, |kb, item| {
            let (image, group) = kb.divmod(item, groups);
            let base = kb.b.ins().imul_imm_s(image, (c * inner) as i64 * F);
            let base = kb.imad(group, LANES as i64 * F, base);
            let src = kb.b.ins().iadd(input, base);
            let dst = kb.b.ins().iadd(out, base);
            if remainder == 0 {
                softmax_strided(kb, src, dst, c, stride, true);
            } else {
                let last =
                    kb.b.ins()
                        .icmp_imm_u(IntCC::Equal, group, (groups - 1) as i64);
                kb.if_else(
                    last,
                    |kb| {
                        for position in 0..remainder {
                            let s = kb.b.ins().iadd_imm_s(src, position as i64 * F);
                            let d = kb.b.ins().iadd_imm_s(dst, position as i64 * F);
                            softmax_strided(kb, s, d, c, stride, false);
                        }
                    },
                    |kb| softmax_strided(kb, src, dst, c, stride, true),
                );
            }
        });
    })?;
    program.step(kernel, args, (n * groups) as u64);
    Ok(())
}
