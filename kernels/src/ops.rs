//! Range kernels of the memory-bound ops on channel-blocked values: reorders, elementwise
//! maps, pooling, the channel pass of 3-D sum-pools, and linear layers (see [`crate::abi`] for
//! each geometry and its work items). Sums are direct or prefix/suffix sums, never running
//! sums that subtract.

use crate::abi::{self, ChannelPoolGeometry, GlobalPoolGeometry, LinearGeometry, MapGeometry};
use crate::abi::{PoolGeometry, ReorderGeometry};
use crate::math;
use crate::simd::Simd;

/// The geometry record behind `args[0]`.
#[inline(always)]
unsafe fn geometry<'a, G>(args: *const *mut f32) -> &'a G {
    unsafe { &*(*args).cast::<G>() }
}

#[inline(always)]
unsafe fn arg(args: *const *mut f32, i: usize) -> *mut f32 {
    unsafe { *args.add(i) }
}

/// Plain → blocked; items `(n, block)`.
///
/// # Safety
/// `args` is the step's argument array: the geometry record at `args[0]`, then the buffers
/// that geometry describes, each valid for every element the work items `start..end` touch;
/// `end` is at most the geometry's item count; the host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn to_blocked<S: Simd>(args: *const *mut f32, start: u64, end: u64) {
    unsafe {
        let g: &ReorderGeometry = geometry(args);
        let (out, input) = (arg(args, 1), arg(args, 2).cast_const());
        let lanes = S::LANES;
        let (plane, blocks, c) = (g.plane as usize, g.blocks as usize, g.channels as usize);
        for item in start as usize..end as usize {
            let (n, b) = (item / blocks, item % blocks);
            let valid = (c - b * lanes).min(lanes);
            let src = input.add((n * c + b * lanes) * plane);
            let dst = out.add(item * plane * lanes);
            let mut lane_values = [0f32; 16];
            for p in 0..plane {
                for (l, v) in lane_values.iter_mut().enumerate().take(valid) {
                    *v = *src.add(l * plane + p);
                }
                S::store(dst.add(p * lanes), S::load(lane_values.as_ptr()));
            }
        }
    }
}

/// Blocked → plain; items `(n, block)`.
///
/// # Safety
/// `args` is the step's argument array: the geometry record at `args[0]`, then the buffers
/// that geometry describes, each valid for every element the work items `start..end` touch;
/// `end` is at most the geometry's item count; the host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn to_plain<S: Simd>(args: *const *mut f32, start: u64, end: u64) {
    unsafe {
        let g: &ReorderGeometry = geometry(args);
        let (out, input) = (arg(args, 1), arg(args, 2).cast_const());
        let lanes = S::LANES;
        let (plane, blocks, c) = (g.plane as usize, g.blocks as usize, g.channels as usize);
        for item in start as usize..end as usize {
            let (n, b) = (item / blocks, item % blocks);
            let valid = (c - b * lanes).min(lanes);
            let src = input.add(item * plane * lanes);
            let dst = out.add((n * c + b * lanes) * plane);
            for p in 0..plane {
                for l in 0..valid {
                    *dst.add(l * plane + p) = *src.add(p * lanes + l);
                }
            }
        }
    }
}

/// Elementwise maps; items `(n, block)`.
///
/// # Safety
/// `args` is the step's argument array: the geometry record at `args[0]`, then the buffers
/// that geometry describes, each valid for every element the work items `start..end` touch;
/// `end` is at most the geometry's item count; the host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn map<S: Simd>(args: *const *mut f32, start: u64, end: u64) {
    unsafe {
        let g: &MapGeometry = geometry(args);
        let out = arg(args, 1);
        let a = arg(args, 2).cast_const();
        let lanes = S::LANES;
        let (plane, blocks) = (g.plane as usize, g.blocks as usize);
        for item in start as usize..end as usize {
            let (n, b) = (item / blocks, item % blocks);
            let valid = (g.channels as usize - b * lanes).min(lanes);
            let keep = S::first_lanes(valid);
            let at = item * plane * lanes;
            let (src, dst) = (a.add(at), out.add(at));
            let finish = |v: S::V| {
                if valid < lanes {
                    S::select(keep, v, S::zero())
                } else {
                    v
                }
            };
            match g.kind {
                abi::MAP_ACTIVATION => {
                    for p in 0..plane {
                        let v = math::activation::<S>(g.code, S::load(src.add(p * lanes)));
                        S::store(dst.add(p * lanes), finish(v));
                    }
                }
                abi::MAP_AFFINE => {
                    let params = arg(args, 3).cast_const();
                    let scale = S::load(params.add(b * lanes));
                    let shift = S::load(params.add((blocks + b) * lanes));
                    for p in 0..plane {
                        let v = S::fmadd(S::load(src.add(p * lanes)), scale, shift);
                        S::store(dst.add(p * lanes), finish(v));
                    }
                }
                kind => {
                    let other = arg(args, 3).cast_const();
                    let op = |x: S::V, y: S::V| {
                        if kind == abi::MAP_ADD {
                            S::add(x, y)
                        } else {
                            S::mul(x, y)
                        }
                    };
                    if g.broadcast != 0 {
                        let y = S::load(other.add((n * blocks + b) * lanes));
                        for p in 0..plane {
                            S::store(dst.add(p * lanes), op(S::load(src.add(p * lanes)), y));
                        }
                    } else {
                        let other = other.add(at);
                        for p in 0..plane {
                            let v = op(S::load(src.add(p * lanes)), S::load(other.add(p * lanes)));
                            S::store(dst.add(p * lanes), v);
                        }
                    }
                }
            }
        }
    }
}

/// Valid tap range `[k0, k1)` of output coordinate `o` along an axis.
#[inline(always)]
fn taps(o: i64, stride: i64, pad: i64, k: i64, size: i64) -> (i64, i64) {
    let base = o * stride - pad;
    ((-base).max(0).min(k), (size - base).clamp(0, k))
}

/// Max / average / sum pooling; items `(n, block, output row)`.
///
/// # Safety
/// `args` is the step's argument array: the geometry record at `args[0]`, then the buffers
/// that geometry describes, each valid for every element the work items `start..end` touch;
/// `end` is at most the geometry's item count; the host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn pool<S: Simd>(args: *const *mut f32, start: u64, end: u64) {
    unsafe {
        let g: &PoolGeometry = geometry(args);
        let (out, input) = (arg(args, 1), arg(args, 2).cast_const());
        let lanes = S::LANES as i64;
        let inv_count = S::splat(1.0 / (g.kh * g.kw) as f32);
        for item in start as i64..end as i64 {
            let (plane_index, oy) = (item / g.oh, item % g.oh);
            let src = input.offset((plane_index * g.h * g.w * lanes) as isize);
            let dst = out.offset(((plane_index * g.oh + oy) * g.ow * lanes) as isize);
            let (ky0, ky1) = taps(oy, g.sh, g.ph, g.kh, g.h);
            for ox in 0..g.ow {
                let (kx0, kx1) = taps(ox, g.sw, g.pw, g.kw, g.w);
                let mut acc = if g.kind == abi::POOL_MAX {
                    S::splat(f32::NEG_INFINITY)
                } else {
                    S::zero()
                };
                let mut nan = S::no_lanes();
                for ky in ky0..ky1 {
                    let iy = oy * g.sh - g.ph + ky;
                    for kx in kx0..kx1 {
                        let ix = ox * g.sw - g.pw + kx;
                        let v = S::load(src.offset(((iy * g.w + ix) * lanes) as isize));
                        if g.kind == abi::POOL_MAX {
                            nan = S::or_mask(nan, S::is_nan(v));
                            acc = S::max_keep_nan(v, acc);
                        } else {
                            acc = S::add(acc, v);
                        }
                    }
                }
                let v = match g.kind {
                    abi::POOL_MAX => S::select(nan, S::splat(f32::NAN), acc),
                    abi::POOL_AVG => S::mul(acc, inv_count),
                    _ => acc,
                };
                S::store(dst.offset((ox * lanes) as isize), v);
            }
        }
    }
}

/// Global average pooling; items `(n, block)`. Four partial sums per lane, then their sum.
///
/// # Safety
/// `args` is the step's argument array: the geometry record at `args[0]`, then the buffers
/// that geometry describes, each valid for every element the work items `start..end` touch;
/// `end` is at most the geometry's item count; the host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn global_average<S: Simd>(args: *const *mut f32, start: u64, end: u64) {
    unsafe {
        let g: &GlobalPoolGeometry = geometry(args);
        let (out, input) = (arg(args, 1), arg(args, 2).cast_const());
        let lanes = S::LANES;
        let plane = g.plane as usize;
        for item in start as usize..end as usize {
            let src = input.add(item * plane * lanes);
            let mut partial = [S::zero(); 4];
            let mut p = 0;
            while p + 4 <= plane {
                for (k, acc) in partial.iter_mut().enumerate() {
                    *acc = S::add(*acc, S::load(src.add((p + k) * lanes)));
                }
                p += 4;
            }
            while p < plane {
                partial[0] = S::add(partial[0], S::load(src.add(p * lanes)));
                p += 1;
            }
            let sum = S::add(
                S::add(partial[0], partial[1]),
                S::add(partial[2], partial[3]),
            );
            S::store(out.add(item * lanes), S::div(sum, S::splat(plane as f32)));
        }
    }
}

/// Per-pixel scratch lines of the channel pass, sized for one geometry and allocated (zeroed,
/// so that every read, including the lanes past the last channel a vector load touches, is
/// defined) on first use only: the register-only path of [`pool_pixel`] needs none.
pub struct Lines {
    channels: usize,
    line: Vec<f32>,
    suffix: Vec<f32>,
    prefix: Vec<f32>,
    result: Vec<f32>,
}

impl Lines {
    /// Lines for `channels` input channels (a vector of slack each), not yet allocated.
    pub fn new(channels: usize) -> Lines {
        Lines {
            channels,
            line: Vec::new(),
            suffix: Vec::new(),
            prefix: Vec::new(),
            result: Vec::new(),
        }
    }

    fn allocate(&mut self) {
        if self.line.is_empty() {
            let len = self.channels + 2 * 16;
            self.line = vec![0.0; len];
            self.suffix = vec![0.0; len];
            self.prefix = vec![0.0; len];
            self.result = vec![0.0; len];
        }
    }
}

/// The channel sums of one pixel: the input's `in_blocks` blocks at `input` (`in_stride`
/// elements apart) into `out_blocks` blocks at `out` (`out_stride` apart), zero padding lanes.
///
/// Per group, when every window contains the channel `s = window − 1` (`group_channels ≤
/// 2 · window − 1`), window `k` is `suffix[k] + prefix[k]` with `suffix[k] = x[k] + … +
/// x[s − 1]` and `prefix[k] = x[s] + … + x[s + k]` (in-register scans, then carries: one
/// addition per output, no subtraction); otherwise each window is summed directly.
///
/// # Safety
/// `args` is the step's argument array: the geometry record at `args[0]`, then the buffers
/// that geometry describes, each valid for every element the work items `start..end` touch;
/// `end` is at most the geometry's item count; the host has the instruction set of `S`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn pool_pixel<S: Simd>(
    lines: &mut Lines,
    groups: usize,
    cg: usize,
    wc: usize,
    input: *const f32,
    in_blocks: usize,
    in_stride: usize,
    out: *mut f32,
    out_blocks: usize,
    out_stride: usize,
) {
    unsafe {
        let lanes = S::LANES;
        let k_out = cg - wc + 1;
        let s = wc - 1;
        if groups == 1 && register_only(cg, wc) {
            return pool_pixels_split::<S, 1>(
                cg,
                wc,
                [input],
                in_stride,
                [out],
                out_blocks,
                out_stride,
            );
        }
        lines.allocate();
        for b in 0..in_blocks {
            let v = S::load(input.add(b * in_stride));
            S::store(lines.line.as_mut_ptr().add(b * lanes), v);
        }
        for group in 0..groups {
            let x0 = lines.line.as_ptr().add(group * cg);
            let r0 = lines.result.as_mut_ptr().add(group * k_out);
            if cg < 2 * wc {
                // suffix over [0, s): vectors from the right, each scanned then carried.
                let sv = s.div_ceil(lanes);
                let mut carry = S::zero();
                for j in (0..sv).rev() {
                    let valid = (s - j * lanes).min(lanes);
                    let mut v = S::load_first(x0.add(j * lanes), valid);
                    let mut k = 1;
                    while k < lanes {
                        v = S::add(v, S::shift_down(v, k));
                        k *= 2;
                    }
                    v = S::add(v, carry);
                    carry = S::lane(v, 0);
                    S::store(lines.suffix.as_mut_ptr().add(j * lanes), v);
                }
                // Suffix entries at and beyond s are zero (masked loads above; the vector
                // holding s scans zeros there and gets no carry).
                for k in sv * lanes..k_out.max(sv * lanes) {
                    lines.suffix[k] = 0.0;
                }
                // prefix over [s, cg), stored from index 0.
                let pv = (cg - s).div_ceil(lanes);
                let mut carry = S::zero();
                for j in 0..pv {
                    let valid = (cg - s - j * lanes).min(lanes);
                    let mut v = S::load_first(x0.add(s + j * lanes), valid);
                    let mut k = 1;
                    while k < lanes {
                        v = S::add(v, S::shift_up(v, k));
                        k *= 2;
                    }
                    v = S::add(v, carry);
                    carry = S::lane(v, lanes - 1);
                    S::store(lines.prefix.as_mut_ptr().add(j * lanes), v);
                }
                let mut k = 0;
                while k < k_out {
                    let valid = (k_out - k).min(lanes);
                    let v = S::add(
                        S::load(lines.suffix.as_ptr().add(k)),
                        S::load(lines.prefix.as_ptr().add(k)),
                    );
                    S::store_first(r0.add(k), v, valid);
                    k += lanes;
                }
            } else {
                let mut k = 0;
                while k < k_out {
                    let valid = (k_out - k).min(lanes);
                    let mut acc = S::load(x0.add(k));
                    for d in 1..wc {
                        acc = S::add(acc, S::load(x0.add(k + d)));
                    }
                    S::store_first(r0.add(k), acc, valid);
                    k += lanes;
                }
            }
        }
        let total = groups * k_out;
        for b in 0..out_blocks {
            let valid = (total - b * lanes).min(lanes);
            let v = S::load_first(lines.result.as_ptr().add(b * lanes), valid);
            S::store(out.add(b * out_stride), v);
        }
    }
}

/// Most channels of the register-only path of [`pool_pixel`].
const FAST_CHANNELS: usize = 1024;

/// Whether one group of `cg` channels pooled by windows of `wc` takes the register-only path
/// ([`pool_pixels_split`]): every window contains channel `wc − 1`, and the group is small
/// enough for its on-stack suffix vectors.
#[inline(always)]
fn register_only(cg: usize, wc: usize) -> bool {
    cg < 2 * wc && cg <= FAST_CHANNELS
}

/// [`pool_pixel`] for one group whose windows all contain channel `s = window − 1`, in
/// registers, for `PX` pixels at once (`inputs[q]` into `outs[q]`): the suffix part `[0, s)`
/// and the prefix part `[s, C)` are read straight from the input blocks (the prefix realigned
/// across blocks when `s` is not a block boundary), scanned within each vector and carried
/// across vectors, and summed into the output blocks. The carry makes each pixel's vectors a
/// serial chain (a scan and a lane broadcast per vector); the pixels' chains interleave.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn pool_pixels_split<S: Simd, const PX: usize>(
    cg: usize,
    wc: usize,
    inputs: [*const f32; PX],
    in_stride: usize,
    outs: [*mut f32; PX],
    out_blocks: usize,
    out_stride: usize,
) {
    unsafe {
        let lanes = S::LANES;
        let s = wc - 1;
        let k_out = cg - s;
        const MAX_VECTORS: usize = FAST_CHANNELS / 8;
        // Suffix sums of [0, s), from the right.
        let sv = s.div_ceil(lanes);
        // Only the first `sv` entries are written and read.
        let mut suffix = [[std::mem::MaybeUninit::<S::V>::uninit(); MAX_VECTORS]; PX];
        let mut carry = [S::zero(); PX];
        for j in (0..sv).rev() {
            let valid = s - j * lanes;
            for q in 0..PX {
                let mut v = S::load(inputs[q].add(j * in_stride));
                if valid < lanes {
                    v = S::select(S::first_lanes(valid), v, S::zero());
                }
                let v = S::add(S::scan_suffix(v), carry[q]);
                carry[q] = S::lane(v, 0);
                suffix[q][j].write(v);
            }
        }
        // Prefix sums of [s, cg), starting at channel s.
        let (b0, r) = (s / lanes, s % lanes);
        let in_blocks = cg.div_ceil(lanes);
        let mut carry = [S::zero(); PX];
        for j in 0..out_blocks {
            let valid = k_out - j * lanes;
            for q in 0..PX {
                let block = |b: usize| S::load(inputs[q].add(b * in_stride));
                let lo = block(b0 + j);
                let mut v = if r == 0 {
                    lo
                } else if b0 + j + 1 < in_blocks {
                    S::align(lo, block(b0 + j + 1), r)
                } else {
                    S::align(lo, S::zero(), r)
                };
                if valid < lanes {
                    v = S::select(S::first_lanes(valid), v, S::zero());
                }
                let v = S::add(S::scan_prefix(v), carry[q]);
                carry[q] = S::lane(v, lanes - 1);
                // Window k = suffix[k] + prefix[k] (suffix is zero at and beyond s).
                let sum = if j < sv {
                    S::add(suffix[q][j].assume_init(), v)
                } else {
                    v
                };
                let sum = if valid < lanes {
                    S::select(S::first_lanes(valid), sum, S::zero())
                } else {
                    sum
                };
                S::store(outs[q].add(j * out_stride), sum);
            }
        }
    }
}

/// [`pool_pixel`] for two pixels of one group (`groups = 1`), their input and output `step`
/// elements apart: the register-only path interleaves the two pixels' carry chains, the
/// general path pools one after the other.
///
/// # Safety
/// As [`pool_pixel`], for both pixels.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn pool_pixel_pair<S: Simd>(
    lines: &mut Lines,
    cg: usize,
    wc: usize,
    input: *const f32,
    in_step: isize,
    in_blocks: usize,
    in_stride: usize,
    out: *mut f32,
    out_step: usize,
    out_blocks: usize,
    out_stride: usize,
) {
    unsafe {
        if register_only(cg, wc) {
            let inputs = [input, input.offset(in_step)];
            let outs = [out, out.add(out_step)];
            return pool_pixels_split::<S, 2>(
                cg, wc, inputs, in_stride, outs, out_blocks, out_stride,
            );
        }
        for q in 0..2 {
            pool_pixel::<S>(
                lines,
                1,
                cg,
                wc,
                input.offset(q as isize * in_step),
                in_blocks,
                in_stride,
                out.add(q * out_step),
                out_blocks,
                out_stride,
            );
        }
    }
}

/// The channel pass of a 3-D sum-pool; items `(n, input row)`: [`pool_pixel`] per pixel.
///
/// # Safety
/// `args` is the step's argument array: the geometry record at `args[0]`, then the buffers
/// that geometry describes, each valid for every element the work items `start..end` touch;
/// `end` is at most the geometry's item count; the host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn channel_pool<S: Simd>(args: *const *mut f32, start: u64, end: u64) {
    unsafe {
        let g: &ChannelPoolGeometry = geometry(args);
        let (out, input) = (arg(args, 1), arg(args, 2).cast_const());
        let lanes = S::LANES;
        let (h, w) = (g.h as usize, g.w as usize);
        let plane = h * w;
        let (in_blocks, out_blocks) = (g.in_blocks as usize, g.out_blocks as usize);
        let mut lines = Lines::new(g.channels as usize);
        for item in start as usize..end as usize {
            let (n, y) = (item / h, item % h);
            for x in 0..w {
                let pixel = y * w + x;
                pool_pixel::<S>(
                    &mut lines,
                    g.groups as usize,
                    g.group_channels as usize,
                    g.window as usize,
                    input.add((n * in_blocks * plane + pixel) * lanes),
                    in_blocks,
                    plane * lanes,
                    out.add((n * out_blocks * plane + pixel) * lanes),
                    out_blocks,
                    plane * lanes,
                );
            }
        }
    }
}

/// Linear layer; items: output blocks. Four accumulators along the features per row.
///
/// # Safety
/// `args` is the step's argument array: the geometry record at `args[0]`, then the buffers
/// that geometry describes, each valid for every element the work items `start..end` touch;
/// `end` is at most the geometry's item count; the host has the instruction set of `S`.
#[inline(always)]
pub unsafe fn linear<S: Simd>(args: *const *mut f32, start: u64, end: u64) {
    unsafe {
        let g: &LinearGeometry = geometry(args);
        let (out, input, weights) = (
            arg(args, 1),
            arg(args, 2).cast_const(),
            arg(args, 3).cast_const(),
        );
        let lanes = S::LANES;
        let (f, o, blocks) = (g.features as usize, g.outputs as usize, g.blocks as usize);
        let bias = weights.add(blocks * f * lanes);
        for b in start as usize..end as usize {
            let wb = weights.add(b * f * lanes);
            let valid = (o - b * lanes).min(lanes);
            for n in 0..g.n as usize {
                let x = input.add(n * f);
                let mut acc = [S::zero(); 4];
                let mut i = 0;
                while i + 4 <= f {
                    for (k, a) in acc.iter_mut().enumerate() {
                        *a = S::fmadd(
                            S::broadcast(x.add(i + k)),
                            S::load(wb.add((i + k) * lanes)),
                            *a,
                        );
                    }
                    i += 4;
                }
                while i < f {
                    acc[0] = S::fmadd(S::broadcast(x.add(i)), S::load(wb.add(i * lanes)), acc[0]);
                    i += 1;
                }
                let mut v = S::add(S::add(acc[0], acc[1]), S::add(acc[2], acc[3]));
                v = S::add(v, S::load(bias.add(b * lanes)));
                let at = n * o + b * lanes;
                let mut residual = 4;
                for &code in &g.epilogue {
                    match code {
                        abi::EPI_END => break,
                        abi::EPI_RESIDUAL => {
                            let r = arg(args, residual).cast_const();
                            residual += 1;
                            v = S::add(v, S::load_first(r.add(at), valid));
                        }
                        act => v = math::activation::<S>(act, v),
                    }
                }
                S::store_first(out.add(at), v, valid);
            }
        }
    }
}
