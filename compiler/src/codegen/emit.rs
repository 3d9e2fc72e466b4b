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

/// Below this, `e^x` rounds to zero in f32 (`e^-104 < 2⁻¹⁵⁰`, half the smallest subnormal).
const EXP_UNDERFLOW: f32 = -104.0;
/// Below this, `x·e^x` rounds to zero in f32 (`120·e^-120 < 2⁻¹⁵⁰`).
const SILU_UNDERFLOW: f32 = -120.0;
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

    /// A constant like `like` (f32 or f32x4).
    pub fn splat_like(&mut self, like: Value, value: f32) -> Value {
        if self.b.func.dfg.value_type(like) == F32X4 {
            self.vconst(value)
        } else {
            self.fconst(value)
        }
    }

    /// `cond ? then : otherwise` lane by lane, where `cond` is `a <cc> b` (f32 or f32x4).
    pub fn choose(
        &mut self,
        cc: FloatCC,
        a: Value,
        b: Value,
        then: Value,
        otherwise: Value,
    ) -> Value {
        let cond = self.b.ins().fcmp(cc, a, b);
        if self.b.func.dfg.value_type(a) == F32X4 {
            let mask = self.b.ins().bitcast(F32X4, MemFlagsData::new(), cond);
            self.b.ins().bitselect(mask, then, otherwise)
        } else {
            self.b.ins().select(cond, then, otherwise)
        }
    }

    /// A constant given by its bits, like `x` (f32 or f32x4).
    fn bits_like(&mut self, like: Value, bits: u32) -> Value {
        self.splat_like(like, f32::from_bits(bits))
    }

    /// `|x|` (clears the sign bit; NaN stays NaN).
    pub fn abs(&mut self, x: Value) -> Value {
        let mask = self.bits_like(x, 0x7fff_ffff);
        self.b.ins().band(x, mask)
    }

    /// `magnitude` with the sign of `sign` (`magnitude` must be non-negative or NaN).
    fn with_sign_of(&mut self, magnitude: Value, sign: Value) -> Value {
        let mask = self.bits_like(sign, 0x8000_0000);
        let bit = self.b.ins().band(sign, mask);
        self.b.ins().bor(magnitude, bit)
    }

    /// `2^n` for integer-valued `n` in `[-126, 127]`, by building the exponent bits.
    fn pow2(&mut self, n: Value) -> Value {
        let ty = self.b.func.dfg.value_type(n);
        let vector = ty == F32X4;
        let int_ty = if vector { I32X4 } else { I32 };
        let n_int = self.b.ins().fcvt_to_sint_sat(int_ty, n);
        let bias = self.b.ins().iconst(I32, 127);
        let bias = if vector {
            self.b.ins().splat(I32X4, bias)
        } else {
            bias
        };
        let biased = self.b.ins().iadd(n_int, bias);
        let bits = self.b.ins().ishl_imm_s(biased, 23);
        self.b.ins().bitcast(ty, MemFlagsData::new(), bits)
    }

    /// `p · 2^n` for integer-valued `n` in `[-252, 252]`, rounded once: two scalings by
    /// normal powers of two, `2^⌊n/2⌋` (exact) and `2^(n − ⌊n/2⌋)`, so results in the
    /// subnormal range and overflows to infinity come out as a correctly scaled `p` would.
    fn ldexp(&mut self, p: Value, n: Value) -> Value {
        let half = self.splat_like(n, 0.5);
        let halved = self.b.ins().fmul(n, half);
        let n1 = self.b.ins().floor(halved);
        let n2 = self.b.ins().fsub(n, n1);
        let s1 = self.pow2(n1);
        let s2 = self.pow2(n2);
        let scaled = self.b.ins().fmul(p, s1);
        self.b.ins().fmul(scaled, s2)
    }

    /// `e^x = p · 2^n` with `p = e^r`, `|r| <= ln2/2` and `n` integer-valued: `x` clamped
    /// to `[lowest, 89]` (`lowest >= -170`; `e^x` rounds to 0 below -104 and overflows to
    /// infinity above 88.8 anyway), `n = round(x / ln2)`, `r = x − n·ln2` (Cody–Waite, two
    /// parts), and `e^r` by Cephes' `expf` polynomial (about 1 ulp). NaN gives NaN.
    fn exp_parts(&mut self, x: Value, lowest: f32) -> (Value, Value) {
        let c = |s: &mut Self, v: f32| s.splat_like(x, v);
        let hi = c(self, 89.0);
        let lo = c(self, lowest);
        let x = self.b.ins().fmin(x, hi);
        let x = self.b.ins().fmax(x, lo);
        let log2e = c(self, std::f32::consts::LOG2_E);
        let scaled = self.b.ins().fmul(x, log2e);
        let n = self.b.ins().nearest(scaled);
        let ln2_hi = c(self, 0.693_359_4);
        let ln2_lo = c(self, -2.121_944_4e-4);
        let neg_n = self.b.ins().fneg(n);
        let r = self.fmadd(neg_n, ln2_hi, x);
        let r = self.fmadd(neg_n, ln2_lo, r);
        // e^r = 1 + r + r²·P(r) (Cephes expf).
        let coefficients = [
            1.987_569_1e-4,
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ];
        let mut poly = c(self, coefficients[0]);
        for &k in &coefficients[1..] {
            let k = c(self, k);
            poly = self.fmadd(poly, r, k);
        }
        let r2 = self.b.ins().fmul(r, r);
        let small = self.fmadd(poly, r2, r);
        let one = c(self, 1.0);
        let p = self.b.ins().fadd(small, one);
        (p, n)
    }

    /// `e^x` for f32 or f32x4: within about 2 ulp of the exact value over the whole f32 range
    /// (subnormal results included), `e^-∞ = 0`, `e^+∞ = +∞`, NaN gives NaN.
    pub fn exp(&mut self, x: Value) -> Value {
        let (p, n) = self.exp_parts(x, EXP_UNDERFLOW);
        self.ldexp(p, n)
    }

    /// `-|x|`, `e^-|x| = p·2^n` (`-|x|` clamped at `lowest`) and `1 + e^-|x|`, shared by
    /// sigmoid and silu.
    fn logistic_parts(&mut self, x: Value, lowest: f32) -> (Value, Value, Value, Value) {
        let a = self.abs(x);
        let neg = self.b.ins().fneg(a);
        let (p, n) = self.exp_parts(neg, lowest);
        let t = self.ldexp(p, n);
        let one = self.splat_like(x, 1.0);
        let d = self.b.ins().fadd(one, t);
        (neg, p, n, d)
    }

    /// `1 / (1 + e^-x)`, accurate over the whole range: `1 / (1 + t)` for `x >= 0` and
    /// `t / (1 + t)` for `x < 0` with `t = e^-|x|` (no overflow), the latter scaled by `2^n`
    /// last so that subnormal results are rounded once.
    pub fn sigmoid(&mut self, x: Value) -> Value {
        let (_, p, n, d) = self.logistic_parts(x, EXP_UNDERFLOW);
        let one = self.splat_like(x, 1.0);
        let positive = self.b.ins().fdiv(one, d);
        let q = self.b.ins().fdiv(p, d);
        let negative = self.ldexp(q, n);
        let zero = self.splat_like(x, 0.0);
        self.choose(FloatCC::LessThan, x, zero, negative, positive)
    }

    /// `x · sigmoid(x)`: `x / (1 + t)` for `x >= 0`, `(x·p / (1 + t))·2^n` for `x < 0`
    /// (`t = e^-|x| = p·2^n`, scaled last), and `x · 0` where even `x·e^x` underflows
    /// (`x < -120`): so `silu(-∞) = -∞·0 = NaN`, as in PyTorch.
    pub fn silu(&mut self, x: Value) -> Value {
        let (neg, p, n, d) = self.logistic_parts(x, SILU_UNDERFLOW);
        let positive = self.b.ins().fdiv(x, d);
        let q = self.b.ins().fdiv(p, d);
        let xq = self.b.ins().fmul(x, q);
        let scaled = self.ldexp(xq, n);
        let zero = self.splat_like(x, 0.0);
        let underflow = self.b.ins().fmul(x, zero);
        let limit = self.splat_like(x, SILU_UNDERFLOW);
        let negative = self.choose(FloatCC::LessThan, neg, limit, underflow, scaled);
        self.choose(FloatCC::LessThan, x, zero, negative, positive)
    }

    /// `tanh(x)`: below `|x| = 0.625` Cephes' odd polynomial `x + x·z·P(z)`, `z = x²` (so
    /// `tanh(x) = x` near 0, to the last bit), above it `(1 − t) / (1 + t)` with `t =
    /// e^(-2|x|)` and the sign of `x`; `tanh(±∞) = ±1`, NaN gives NaN.
    pub fn tanh(&mut self, x: Value) -> Value {
        let c = |s: &mut Self, v: f32| s.splat_like(x, v);
        let z = self.b.ins().fmul(x, x);
        let coefficients = [
            -5.704_988_7e-3,
            2.063_909e-2,
            -5.373_971_6e-2,
            1.333_144_2e-1,
            -3.333_328e-1,
        ];
        let mut poly = c(self, coefficients[0]);
        for &k in &coefficients[1..] {
            let k = c(self, k);
            poly = self.fmadd(poly, z, k);
        }
        let pz = self.b.ins().fmul(poly, z);
        let small = self.fmadd(pz, x, x);
        let a = self.abs(x);
        let minus_two = c(self, -2.0);
        let scaled = self.b.ins().fmul(a, minus_two);
        let t = self.exp(scaled);
        let one = c(self, 1.0);
        let numerator = self.b.ins().fsub(one, t);
        let denominator = self.b.ins().fadd(one, t);
        let magnitude = self.b.ins().fdiv(numerator, denominator);
        let large = self.with_sign_of(magnitude, x);
        let threshold = c(self, 0.625);
        self.choose(FloatCC::LessThan, a, threshold, small, large)
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
            Activation::Tanh => self.tanh(x),
            Activation::Silu => self.silu(x),
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
