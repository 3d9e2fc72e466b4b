//! Helpers for writing kernels in Cranelift IR.
//!
//! Every kernel has the ABI `extern "C" fn(args: *const *mut f32, start: u64, end: u64)`:
//! `args` holds the kernel's tensor pointers (outputs, inputs, packed weights, scratch, in
//! the order its [`super::Step`] lists them) and `[start, end)` is the range of work items
//! this call computes. Work items are independent (no two write the same element), so any
//! split over threads gives bit-identical results.
//!
//! [`KernelBuilder`] wraps a `FunctionBuilder` with counted loops, vector loads/stores, FMA
//! (fused when the host has FMA and AVX, `fmul`+`fadd` otherwise), `exp` and the
//! activations, on `f32` scalars and `f32x4` vectors alike.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32, F32X4, I32, I32X4, I64};
use cranelift_codegen::ir::{AbiParam, Block, InstBuilder, MemFlagsData, Signature, Type, Value};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, Variable};
use scc_runtime::kernels::Activation;

/// Bytes per f32.
pub const F: i64 = 4;
/// Lanes per vector.
pub const LANES: usize = 4;

/// The signature of every kernel.
pub fn kernel_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(I64));
    sig.params.push(AbiParam::new(I64));
    sig.params.push(AbiParam::new(I64));
    sig
}

/// Memory flags for loads and stores of tensor data: never trapping, possibly unaligned.
pub fn data_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Builds one kernel function.
pub struct KernelBuilder<'a> {
    pub b: FunctionBuilder<'a>,
    args: Value,
    /// First work item of this call.
    pub start: Value,
    /// One past the last work item of this call.
    pub end: Value,
    has_fma: bool,
}

impl<'a> KernelBuilder<'a> {
    /// Starts the function: entry block, parameters.
    pub fn new(mut b: FunctionBuilder<'a>, has_fma: bool) -> KernelBuilder<'a> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        KernelBuilder {
            b,
            args: params[0],
            start: params[1],
            end: params[2],
            has_fma,
        }
    }

    /// Ends the function (return) and finalises the builder.
    pub fn finish(mut self, config: cranelift_codegen::isa::TargetFrontendConfig) {
        self.b.ins().return_(&[]);
        self.b.seal_all_blocks();
        self.b.finalize(config);
    }

    /// The pointer argument `index` (as an i64 address).
    pub fn arg(&mut self, index: usize) -> Value {
        self.b
            .ins()
            .load(I64, MemFlagsData::trusted(), self.args, (index * 8) as i32)
    }

    pub fn iconst(&mut self, value: i64) -> Value {
        self.b.ins().iconst(I64, value)
    }

    pub fn fconst(&mut self, value: f32) -> Value {
        self.b.ins().f32const(value)
    }

    /// A vector with every lane `value`.
    pub fn vconst(&mut self, value: f32) -> Value {
        let scalar = self.fconst(value);
        self.b.ins().splat(F32X4, scalar)
    }

    /// `base + index * scale + offset` (bytes).
    pub fn addr(&mut self, base: Value, index: Value, scale: i64) -> Value {
        let scaled = if scale == 1 {
            index
        } else {
            self.b.ins().imul_imm_s(index, scale)
        };
        self.b.ins().iadd(base, scaled)
    }

    /// `a * b + c` with immediates.
    pub fn imad(&mut self, a: Value, b: i64, c: Value) -> Value {
        let product = self.b.ins().imul_imm_s(a, b);
        self.b.ins().iadd(product, c)
    }

    pub fn load(&mut self, ty: Type, addr: Value, offset: i64) -> Value {
        self.b.ins().load(ty, data_flags(), addr, offset as i32)
    }

    pub fn store(&mut self, value: Value, addr: Value, offset: i64) {
        self.b.ins().store(data_flags(), value, addr, offset as i32);
    }

    /// Loads one f32 and broadcasts it to a vector.
    pub fn load_splat(&mut self, addr: Value, offset: i64) -> Value {
        let scalar = self.load(F32, addr, offset);
        self.b.ins().splat(F32X4, scalar)
    }

    /// `a * b + c` (one rounding with FMA hardware, two otherwise).
    pub fn fmadd(&mut self, a: Value, b: Value, c: Value) -> Value {
        if self.has_fma {
            self.b.ins().fma(a, b, c)
        } else {
            let product = self.b.ins().fmul(a, b);
            self.b.ins().fadd(product, c)
        }
    }

    /// Emits `for i in (start..end).step_by(step) { body(i) }` with i64 bounds.
    pub fn for_range(
        &mut self,
        start: Value,
        end: Value,
        step: i64,
        mut body: impl FnMut(&mut Self, Value),
    ) {
        let var = self.b.declare_var(I64);
        self.b.def_var(var, start);
        let header = self.b.create_block();
        let body_block = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let i = self.b.use_var(var);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, end);
        self.b.ins().brif(more, body_block, &[], exit, &[]);
        self.b.switch_to_block(body_block);
        body(self, i);
        let i = self.b.use_var(var);
        let next = self.b.ins().iadd_imm_s(i, step);
        self.b.def_var(var, next);
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(exit);
    }

    /// `for i in start..end` over compile-time bounds.
    pub fn for_const(
        &mut self,
        start: i64,
        end: i64,
        step: i64,
        body: impl FnMut(&mut Self, Value),
    ) {
        let (s, e) = (self.iconst(start), self.iconst(end));
        self.for_range(s, e, step, body);
    }

    /// A mutable variable (for accumulators carried across loop iterations).
    pub fn var(&mut self, ty: Type, init: Value) -> Variable {
        let v = self.b.declare_var(ty);
        self.b.def_var(v, init);
        v
    }

    pub fn get(&mut self, var: Variable) -> Value {
        self.b.use_var(var)
    }

    pub fn set(&mut self, var: Variable, value: Value) {
        self.b.def_var(var, value);
    }

    /// Runs `then` only when `cond` (an i8 from `icmp`/`fcmp`) is true.
    pub fn if_then(&mut self, cond: Value, then: impl FnOnce(&mut Self)) {
        let then_block: Block = self.b.create_block();
        let merge = self.b.create_block();
        self.b.ins().brif(cond, then_block, &[], merge, &[]);
        self.b.switch_to_block(then_block);
        then(self);
        self.b.ins().jump(merge, &[]);
        self.b.switch_to_block(merge);
    }

    /// Runs `then` when `cond` is true, `otherwise` when it is false.
    pub fn if_else(
        &mut self,
        cond: Value,
        then: impl FnOnce(&mut Self),
        otherwise: impl FnOnce(&mut Self),
    ) {
        let then_block = self.b.create_block();
        let else_block = self.b.create_block();
        let merge = self.b.create_block();
        self.b.ins().brif(cond, then_block, &[], else_block, &[]);
        self.b.switch_to_block(then_block);
        then(self);
        self.b.ins().jump(merge, &[]);
        self.b.switch_to_block(else_block);
        otherwise(self);
        self.b.ins().jump(merge, &[]);
        self.b.switch_to_block(merge);
    }

    /// `(item / d, item % d)` for a compile-time `d >= 1` (one division).
    pub fn divmod(&mut self, item: Value, d: usize) -> (Value, Value) {
        if d == 1 {
            let zero = self.iconst(0);
            (item, zero)
        } else {
            let q = self.b.ins().udiv_imm_u(item, d as i64);
            let multiple = self.b.ins().imul_imm_s(q, d as i64);
            let r = self.b.ins().isub(item, multiple);
            (q, r)
        }
    }

    fn splat_like(&mut self, like: Value, value: f32) -> Value {
        if self.b.func.dfg.value_type(like) == F32X4 {
            self.vconst(value)
        } else {
            self.fconst(value)
        }
    }

    /// `e^x` for f32 or f32x4 (relative error below 2e-7 on [-87, 88]; clamped outside).
    pub fn exp(&mut self, x: Value) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        let vector = ty == F32X4;
        let c = |s: &mut Self, v: f32| s.splat_like(x, v);
        let hi = c(self, 88.0);
        let lo = c(self, -87.0);
        let x = self.b.ins().fmin(x, hi);
        let x = self.b.ins().fmax(x, lo);
        // n = round(x / ln 2), r = x - n ln 2 (in two parts for accuracy).
        let log2e = c(self, std::f32::consts::LOG2_E);
        let scaled = self.b.ins().fmul(x, log2e);
        let n = self.b.ins().nearest(scaled);
        let ln2_hi = c(self, 0.693_359_4);
        let ln2_lo = c(self, -2.121_944_4e-4);
        let neg_n = self.b.ins().fneg(n);
        let r = self.fmadd(neg_n, ln2_hi, x);
        let r = self.fmadd(neg_n, ln2_lo, r);
        // e^r on [-ln2/2, ln2/2]: degree-6 Taylor/minimax polynomial.
        let coefficients = [
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ];
        let mut p = c(self, coefficients[0]);
        for &k in &coefficients[1..] {
            let k = c(self, k);
            p = self.fmadd(p, r, k);
        }
        // 2^n by building the exponent bits.
        let (int_ty, bias) = if vector {
            (I32X4, self.b.ins().iconst(I32, 127))
        } else {
            (I32, self.b.ins().iconst(I32, 127))
        };
        let n_int = self.b.ins().fcvt_to_sint_sat(int_ty, n);
        let bias = if vector {
            self.b.ins().splat(I32X4, bias)
        } else {
            bias
        };
        let biased = self.b.ins().iadd(n_int, bias);
        let bits = self.b.ins().ishl_imm_s(biased, 23);
        let scale = self.b.ins().bitcast(ty, MemFlagsData::new(), bits);
        self.b.ins().fmul(p, scale)
    }

    /// `1 / (1 + e^-x)`.
    pub fn sigmoid(&mut self, x: Value) -> Value {
        let neg = self.b.ins().fneg(x);
        let e = self.exp(neg);
        let one = self.splat_like(x, 1.0);
        let denominator = self.b.ins().fadd(one, e);
        self.b.ins().fdiv(one, denominator)
    }

    /// Applies an activation to an f32 or f32x4.
    pub fn activation(&mut self, x: Value, act: Activation) -> Value {
        match act {
            Activation::Relu => {
                let zero = self.splat_like(x, 0.0);
                self.fmax_nan_safe(x, zero)
            }
            Activation::Relu6 => {
                let zero = self.splat_like(x, 0.0);
                let six = self.splat_like(x, 6.0);
                let low = self.fmax_nan_safe(x, zero);
                self.b.ins().fmin(low, six)
            }
            Activation::Sigmoid => self.sigmoid(x),
            Activation::Tanh => {
                // tanh(x) = 2 sigmoid(2x) - 1
                let two = self.splat_like(x, 2.0);
                let doubled = self.b.ins().fmul(x, two);
                let s = self.sigmoid(doubled);
                let one = self.splat_like(x, 1.0);
                let twice = self.b.ins().fmul(s, two);
                self.b.ins().fsub(twice, one)
            }
            Activation::Silu => {
                let s = self.sigmoid(x);
                self.b.ins().fmul(x, s)
            }
            Activation::Hardsigmoid => self.hardsigmoid(x),
            Activation::Hardswish => {
                let h = self.hardsigmoid(x);
                self.b.ins().fmul(x, h)
            }
        }
    }

    /// `relu6(x + 3) / 6`.
    fn hardsigmoid(&mut self, x: Value) -> Value {
        let three = self.splat_like(x, 3.0);
        let zero = self.splat_like(x, 0.0);
        let six = self.splat_like(x, 6.0);
        let shifted = self.b.ins().fadd(x, three);
        let low = self.fmax_nan_safe(shifted, zero);
        let clipped = self.b.ins().fmin(low, six);
        self.b.ins().fdiv(clipped, six)
    }

    /// `max(x, floor)` where a NaN `x` stays NaN (as PyTorch's relu).
    pub fn fmax_nan_safe(&mut self, x: Value, floor: Value) -> Value {
        self.b.ins().fmax(x, floor)
    }

    /// `fcmp` helper returning an i8 condition for scalars.
    pub fn fcmp(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        self.b.ins().fcmp(cc, a, b)
    }

    /// The sum of the four lanes of a vector.
    pub fn horizontal_sum(&mut self, v: Value) -> Value {
        let lanes: Vec<Value> = (0..4)
            .map(|i| self.b.ins().extractlane(v, i as u8))
            .collect();
        let a = self.b.ins().fadd(lanes[0], lanes[1]);
        let b = self.b.ins().fadd(lanes[2], lanes[3]);
        self.b.ins().fadd(a, b)
    }
}
