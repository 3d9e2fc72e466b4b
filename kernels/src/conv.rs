//! Convolution register tiles (MLAS-style NCHWc broadcast kernels): `P` output pixels ×
//! `OCB` output channel blocks held in `P · OCB` accumulators; per input channel and tap,
//! `OCB` weight vectors are loaded and each pixel's input value is broadcast once and FMA'd
//! into its `OCB` accumulators. Then bias, the epilogue in order, padding lanes zeroed, store.
//!
//! Also the depthwise kernel: channels in lanes, one vector FMA per pixel and tap.

use crate::abi::{self, ConvGeometry, DepthwiseGeometry, PooledConvGeometry};
use crate::math;
use crate::ops::{Lines, pool_pixel, pool_pixel_pair};
use crate::simd::Simd;

/// Applies the epilogue (bias already added) to `acc[p][o]`, whose element `(p, o)` sits at
/// output offset `p · LANES + o · out_block`; residuals are read at the same offsets.
#[inline(always)]
unsafe fn epilogue<S: Simd, const P: usize, const OCB: usize>(
    acc: &mut [[S::V; OCB]; P],
    codes: &[i64; abi::MAX_EPILOGUE],
    residuals: *const *const f32,
    out_block: isize,
) {
    unsafe {
        let mut next_residual = 0;
        for &code in codes {
            match code {
                abi::EPI_END => break,
                abi::EPI_RESIDUAL => {
                    let r = *residuals.add(next_residual);
                    next_residual += 1;
                    for (p, row) in acc.iter_mut().enumerate() {
                        for (o, v) in row.iter_mut().enumerate() {
                            let at = (p * S::LANES) as isize + o as isize * out_block;
                            *v = S::add(*v, S::load(r.offset(at)));
                        }
                    }
                }
                act => {
                    for row in acc.iter_mut() {
                        for v in row.iter_mut() {
                            *v = math::activation::<S>(act, *v);
                        }
                    }
                }
            }
        }
    }
}

/// One input channel `c` of one tap: `OCB` weight vectors at `w`, each of the tile's pixels
/// `SKIP_FIRST .. P − SKIP_LAST` input value broadcast and FMA'd into its accumulators (the
/// skipped pixels' taps lie in the padding). `x` is the tap of pixel `SKIP_FIRST`.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn channel_step<
    S: Simd,
    const P: usize,
    const OCB: usize,
    const SKIP_FIRST: usize,
    const SKIP_LAST: usize,
>(
    acc: &mut [[S::V; OCB]; P],
    x: *const f32,
    w: *const f32,
    c: usize,
    in_pixel: isize,
) {
    unsafe {
        let lanes = S::LANES;
        let mut wv = [S::zero(); OCB];
        for o in 0..OCB {
            wv[o] = S::load(w.add((c * OCB + o) * lanes));
        }
        for p in SKIP_FIRST..P - SKIP_LAST {
            let xv = S::broadcast(x.offset((p - SKIP_FIRST) as isize * in_pixel + c as isize));
            for o in 0..OCB {
                acc[p][o] = S::fmadd(xv, wv[o], acc[p][o]);
            }
        }
    }
}

/// Input channels `0..channels` of one tap into the accumulator sets (channel `c` into set
/// `c % sets`), skipping pixels as [`channel_step`] does (`x`: pixel `SKIP_FIRST`'s tap).
#[inline(always)]
unsafe fn tap_channels<
    S: Simd,
    const P: usize,
    const OCB: usize,
    const SKIP_FIRST: usize,
    const SKIP_LAST: usize,
>(
    acc: &mut [[[S::V; OCB]; P]; MAX_SETS],
    sets: usize,
    x: *const f32,
    w: *const f32,
    channels: usize,
    in_pixel: isize,
) {
    for c in 0..channels {
        let set = &mut acc[c % sets];
        unsafe { channel_step::<S, P, OCB, SKIP_FIRST, SKIP_LAST>(set, x, w, c, in_pixel) };
    }
}

/// `p` advanced by `n` elements: with `WRAP` by wrapping arithmetic (the result may lie
/// outside the buffer: a clipped pixel's tap, never read), else within the buffer.
#[inline(always)]
unsafe fn step<const WRAP: bool>(p: *const f32, n: isize) -> *const f32 {
    if WRAP {
        p.wrapping_offset(n)
    } else {
        unsafe { p.offset(n) }
    }
}

/// Kernel columns the first and the last pixel of a tile skip: the first pixel the first
/// `first` columns the tile walks, the last pixel the last `last` (their windows cut by the
/// padding). Both 0 for a tile of whole windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EdgeClip {
    pub first: usize,
    pub last: usize,
}

/// Most accumulator sets of a register tile.
const MAX_SETS: usize = 4;

/// Independent accumulator sets of a `p × ocb` tile: consecutive input channels go to
/// different sets (summed at the end), so that a small tile — a row's tail or a border
/// pixel — has about 8 FMA chains in flight instead of waiting out the FMA latency at every
/// channel (2 FMA units × 4 cycles); at most 10 accumulators in all, leaving registers for
/// the weights and the broadcast. Tiles of 8 or more accumulators have one set.
const fn accumulator_sets(p: usize, ocb: usize) -> usize {
    let tile = p * ocb;
    let mut sets = 8_usize.div_ceil(tile);
    if sets > MAX_SETS {
        sets = MAX_SETS;
    }
    while sets > 1 && sets * tile > 10 {
        sets -= 1;
    }
    sets
}

/// The taps of input block `block` (its first `channels` channels) into the accumulators;
/// with `EDGE`, the first and last pixels skip the columns `clip` names (a tile without
/// clipped pixels is compiled without the per-column choice).
/// (A function, not a closure: a closure here would not be compiled with the entry point's
/// target features.)
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn block_taps<
    S: Simd,
    const P: usize,
    const OCB: usize,
    const IN: usize,
    const EDGE: bool,
>(
    acc: &mut [[[S::V; OCB]; P]; MAX_SETS],
    sets: usize,
    g: &ConvGeometry,
    input: *const f32,
    weights: *const f32,
    block: isize,
    channels: usize,
    rows: usize,
    cols: usize,
    clip: EdgeClip,
) {
    unsafe {
        let in_block = step::<EDGE>(input, block * g.in_block as isize);
        let w_block = weights.offset(block * g.w_block as isize);
        for ky in 0..rows as isize {
            let in_row = step::<EDGE>(in_block, ky * g.in_row as isize);
            let w_row = w_block.offset(ky * g.w_row as isize);
            if !EDGE {
                tap_columns::<S, P, OCB, IN, false, 0, 0>(
                    acc,
                    sets,
                    g,
                    in_row,
                    w_row,
                    channels,
                    0..cols,
                );
                continue;
            }
            // The columns in four ranges of one variant each (no choice per column: LLVM
            // hoisted the variants' common part above a per-column branch and lost the
            // overlap of the weight loads): the first pixel's skipped columns, those both
            // edge pixels skip, the columns of every pixel, the last pixel's skipped ones.
            let (first, last) = (clip.first.min(cols), cols - clip.last.min(cols));
            tap_columns::<S, P, OCB, IN, true, 1, 0>(
                acc,
                sets,
                g,
                in_row,
                w_row,
                channels,
                0..first.min(last),
            );
            if P > 1 {
                tap_columns::<S, P, OCB, IN, true, 1, 1>(
                    acc,
                    sets,
                    g,
                    in_row,
                    w_row,
                    channels,
                    last..first,
                );
            }
            tap_columns::<S, P, OCB, IN, true, 0, 0>(
                acc,
                sets,
                g,
                in_row,
                w_row,
                channels,
                first..last,
            );
            tap_columns::<S, P, OCB, IN, true, 0, 1>(
                acc,
                sets,
                g,
                in_row,
                w_row,
                channels,
                first.max(last)..cols,
            );
        }
    }
}

/// Kernel columns `columns` of one kernel row (`in_row`: pixel 0's taps, `w_row`) into the
/// accumulators, skipping pixels as [`channel_step`] does; `EDGE`: pixel 0's taps may lie
/// outside the input (formed with wrapping arithmetic, never read).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tap_columns<
    S: Simd,
    const P: usize,
    const OCB: usize,
    const IN: usize,
    const EDGE: bool,
    const SKIP_FIRST: usize,
    const SKIP_LAST: usize,
>(
    acc: &mut [[[S::V; OCB]; P]; MAX_SETS],
    sets: usize,
    g: &ConvGeometry,
    in_row: *const f32,
    w_row: *const f32,
    channels: usize,
    columns: std::ops::Range<usize>,
) {
    unsafe {
        let w_col = IN * OCB * S::LANES;
        for kx in columns {
            let x = step::<EDGE>(
                in_row,
                kx as isize * g.in_col as isize + SKIP_FIRST as isize * g.in_pixel as isize,
            );
            let w = w_row.add(kx * w_col);
            tap_channels::<S, P, OCB, SKIP_FIRST, SKIP_LAST>(
                acc,
                sets,
                x,
                w,
                channels,
                g.in_pixel as isize,
            );
        }
    }
}

/// One tile of `P` pixels × `OCB` blocks; `IN` input lanes per block (the tier's lanes, or 1
/// for a plain input); with `EDGE`, its first and last pixels skip the columns of `clip`.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn tile<S: Simd, const P: usize, const OCB: usize, const IN: usize, const EDGE: bool>(
    g: &ConvGeometry,
    out: *mut f32,
    input: *const f32,
    weights: *const f32,
    bias: *const f32,
    residuals: *const *const f32,
    rows: usize,
    cols: usize,
    clip: EdgeClip,
) {
    unsafe {
        let lanes = S::LANES;
        let sets = accumulator_sets(P, OCB);
        let mut partial = [[[S::zero(); OCB]; P]; MAX_SETS];
        let in_blocks = g.in_blocks as isize;
        let in_last = (g.in_last_lanes as usize).min(IN);
        // Full blocks in one loop of constant trip counts, then the partial last block (its
        // padding lanes hold zeros: skipped) after it: a branch between the two inside the
        // block loop made LLVM spill and reload the accumulators at every block.
        let full_blocks = if in_last < IN {
            in_blocks - 1
        } else {
            in_blocks
        };
        for block in 0..full_blocks {
            block_taps::<S, P, OCB, IN, EDGE>(
                &mut partial,
                sets,
                g,
                input,
                weights,
                block,
                IN,
                rows,
                cols,
                clip,
            );
        }
        if full_blocks < in_blocks {
            // A runtime channel count: one set (a set chosen per channel at run time would
            // be indexed memory).
            block_taps::<S, P, OCB, IN, EDGE>(
                &mut partial,
                1,
                g,
                input,
                weights,
                full_blocks,
                in_last,
                rows,
                cols,
                clip,
            );
        }
        let mut acc = partial[0];
        for set in &partial[1..sets] {
            for p in 0..P {
                for o in 0..OCB {
                    acc[p][o] = S::add(acc[p][o], set[p][o]);
                }
            }
        }
        for o in 0..OCB {
            let b = S::load(bias.add(o * lanes));
            for p in 0..P {
                acc[p][o] = S::add(acc[p][o], b);
            }
        }
        let out_block = g.out_block as isize;
        epilogue::<S, P, OCB>(&mut acc, &g.epilogue, residuals, out_block);
        let last_valid = S::first_lanes(g.last_lanes as usize);
        for p in 0..P {
            for o in 0..OCB {
                let mut v = acc[p][o];
                if o + 1 == OCB && (g.last_lanes as usize) < lanes {
                    v = S::select(last_valid, v, S::zero());
                }
                S::store(out.offset((p * lanes) as isize + o as isize * out_block), v);
            }
        }
    }
}

/// The residual pointers of a call advanced by `offset` elements (at most 8 residuals).
#[inline(always)]
unsafe fn advance(residuals: *const *const f32, count: usize, offset: usize) -> [*const f32; 8] {
    let mut moved = [std::ptr::null(); 8];
    for (i, slot) in moved.iter_mut().enumerate().take(count.min(8)) {
        *slot = unsafe { (*residuals.add(i)).add(offset) };
    }
    moved
}

/// Number of residual steps in an epilogue.
#[inline(always)]
fn residual_count(codes: &[i64; abi::MAX_EPILOGUE]) -> usize {
    codes.iter().filter(|&&c| c == abi::EPI_RESIDUAL).count()
}

/// The clip of the tile over pixels `p0 .. p0 + p` of a run of `pixels` clipped by `run`.
#[inline(always)]
fn tile_clip(run: EdgeClip, p0: usize, p: usize, pixels: usize) -> EdgeClip {
    EdgeClip {
        first: if p0 == 0 { run.first } else { 0 },
        last: if p0 + p == pixels { run.last } else { 0 },
    }
}

/// One tile of `P` pixels: the edge variant when `clip` cuts a pixel's window.
macro_rules! one_tile {
    ($S:ty, $P:literal, $OCB:literal, $IN:expr, $clip:expr, $($arg:expr),*) => {{
        let clip: EdgeClip = $clip;
        if clip == EdgeClip::default() {
            tile::<$S, $P, $OCB, { $IN }, false>($($arg),*, clip)
        } else {
            tile::<$S, $P, $OCB, { $IN }, true>($($arg),*, clip)
        }
    }};
}

/// Runs `pixels` pixels as full tiles of `P` then one smaller tile, for `OCB` blocks; the
/// run's first pixel skips the first `clip.first` kernel columns, its last pixel the last
/// `clip.last`.
macro_rules! run_row {
    ($S:ty, $OCB:literal, $IN:expr, $P:literal, [$($t:literal)*],
     $g:ident, $out:ident, $input:ident, $w:ident, $bias:ident, $res:ident, $pixels:ident, $rows:ident, $cols:ident, $clip:ident) => {{
        let lanes = <$S as Simd>::LANES;
        let count = residual_count(&$g.epilogue);
        let mut p0 = 0usize;
        while p0 + $P <= $pixels {
            let moved = advance($res, count, p0 * lanes);
            one_tile!($S, $P, $OCB, $IN, tile_clip($clip, p0, $P, $pixels),
                $g,
                $out.add(p0 * lanes),
                $input.wrapping_offset(p0 as isize * $g.in_pixel as isize),
                $w, $bias, moved.as_ptr(), $rows, $cols);
            p0 += $P;
        }
        let rest = $pixels - p0;
        if rest > 0 {
            let moved = advance($res, count, p0 * lanes);
            let out = $out.add(p0 * lanes);
            let input = $input.wrapping_offset(p0 as isize * $g.in_pixel as isize);
            let clip = tile_clip($clip, p0, rest, $pixels);
            match rest {
                $($t => one_tile!($S, $t, $OCB, $IN, clip, $g, out, input, $w, $bias, moved.as_ptr(), $rows, $cols),)*
                _ => unreachable!("a tail is shorter than a tile"),
            }
        }
    }};
}

/// The conv entry of the 8-lane tier: blocks of 3 (3-pixel tiles), 2 (5) or 1 (12). Tiles
/// of 9-12 accumulators leave LLVM registers to spare among the 16 ymm: a 2 × 6 tile (12
/// accumulators + 2 weights + 1 broadcast) spilled an accumulator inside the channel loop
/// of the fused structured convs (12-15 % slower there; no measurable difference on plain
/// convs), and 3 × 4 spilled everywhere.
///
/// `input` is the first pixel's tap of the first kernel column walked; the run's first pixel
/// skips the first `clip.first` of the `cols` columns, its last pixel the last `clip.last`.
///
/// # Safety
/// `out`, `input`, the weights, the bias and the residual pointers are valid for every element
/// the geometry `g` and the given pixel range address, apart from the skipped taps (never
/// read); the host has the tier's instruction set (AVX2 + FMA / AVX-512F).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn conv_avx2<const IN: usize>(
    g: &ConvGeometry,
    out: *mut f32,
    input: *const f32,
    w: *const f32,
    bias: *const f32,
    res: *const *const f32,
    pixels: usize,
    rows: usize,
    cols: usize,
    clip: EdgeClip,
) {
    use crate::simd::Avx2 as S;
    unsafe {
        match g.out_blocks {
            3 => {
                run_row!(S, 3, IN, 3, [1 2], g, out, input, w, bias, res, pixels, rows, cols, clip)
            }
            2 => {
                run_row!(S, 2, IN, 5, [1 2 3 4], g, out, input, w, bias, res, pixels, rows, cols, clip)
            }
            _ => {
                run_row!(S, 1, IN, 12, [1 2 3 4 5 6 7 8 9 10 11], g, out, input, w, bias, res, pixels, rows, cols, clip)
            }
        }
    }
}

/// The conv entry of the 16-lane tier: blocks of 4 (6-pixel tiles), 3 (8), 2 (12) or 1 (16).
///
/// `input` is the first pixel's tap of the first kernel column walked; the run's first pixel
/// skips the first `clip.first` of the `cols` columns, its last pixel the last `clip.last`.
///
/// # Safety
/// `out`, `input`, the weights, the bias and the residual pointers are valid for every element
/// the geometry `g` and the given pixel range address, apart from the skipped taps (never
/// read); the host has the tier's instruction set (AVX2 + FMA / AVX-512F).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn conv_avx512<const IN: usize>(
    g: &ConvGeometry,
    out: *mut f32,
    input: *const f32,
    w: *const f32,
    bias: *const f32,
    res: *const *const f32,
    pixels: usize,
    rows: usize,
    cols: usize,
    clip: EdgeClip,
) {
    use crate::simd::Avx512 as S;
    unsafe {
        match g.out_blocks {
            4 => {
                run_row!(S, 4, IN, 6, [1 2 3 4 5], g, out, input, w, bias, res, pixels, rows, cols, clip)
            }
            3 => {
                run_row!(S, 3, IN, 8, [1 2 3 4 5 6 7], g, out, input, w, bias, res, pixels, rows, cols, clip)
            }
            2 => {
                run_row!(S, 2, IN, 12, [1 2 3 4 5 6 7 8 9 10 11], g, out, input, w, bias, res, pixels, rows, cols, clip)
            }
            _ => {
                run_row!(S, 1, IN, 16, [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], g, out, input, w, bias, res, pixels, rows, cols, clip)
            }
        }
    }
}

/// Depthwise: `P` pixels of one channel block.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn depthwise_tile<S: Simd, const P: usize>(
    g: &DepthwiseGeometry,
    out: *mut f32,
    input: *const f32,
    weights: *const f32,
    bias: *const f32,
    residuals: *const *const f32,
    rows: usize,
    cols: usize,
) {
    unsafe {
        let lanes = S::LANES;
        let b = S::load(bias);
        let mut acc = [[S::zero(); 1]; P];
        for ky in 0..rows as isize {
            let in_row = input.offset(ky * g.in_row as isize);
            let w_row = weights.offset(ky * g.w_row as isize);
            for kx in 0..cols {
                let wv = S::load(w_row.add(kx * lanes));
                let x = in_row.offset(kx as isize * g.in_col as isize);
                for (p, a) in acc.iter_mut().enumerate() {
                    a[0] = S::fmadd(
                        S::load(x.offset(p as isize * g.in_pixel as isize)),
                        wv,
                        a[0],
                    );
                }
            }
        }
        for a in acc.iter_mut() {
            a[0] = S::add(a[0], b);
        }
        epilogue::<S, P, 1>(&mut acc, &g.epilogue, residuals, 0);
        let valid = S::first_lanes(g.lanes as usize);
        for (p, a) in acc.iter().enumerate() {
            let v = if (g.lanes as usize) < lanes {
                S::select(valid, a[0], S::zero())
            } else {
                a[0]
            };
            S::store(out.add(p * lanes), v);
        }
    }
}

/// Depthwise over a row segment: tiles of 8 pixels, then one tile of the rest.
///
/// # Safety
/// `out`, `input`, the weights, the bias and the residual pointers are valid for every element
/// the geometry `g` and the given pixel range address; the host has the tier's instruction set
/// (`S`, or AVX2 + FMA / AVX-512F for the named entries).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn depthwise<S: Simd>(
    g: &DepthwiseGeometry,
    out: *mut f32,
    input: *const f32,
    w: *const f32,
    bias: *const f32,
    res: *const *const f32,
    pixels: usize,
    rows: usize,
    cols: usize,
) {
    unsafe {
        let lanes = S::LANES;
        let count = residual_count(&g.epilogue);
        let mut p0 = 0;
        while p0 + 8 <= pixels {
            let moved = advance(res, count, p0 * lanes);
            let input_at = input.offset(p0 as isize * g.in_pixel as isize);
            depthwise_tile::<S, 8>(
                g,
                out.add(p0 * lanes),
                input_at,
                w,
                bias,
                moved.as_ptr(),
                rows,
                cols,
            );
            p0 += 8;
        }
        let rest = pixels - p0;
        if rest > 0 {
            let moved = advance(res, count, p0 * lanes);
            let input_at = input.offset(p0 as isize * g.in_pixel as isize);
            let out_at = out.add(p0 * lanes);
            let moved = moved.as_ptr();
            // One tile of the remaining pixels: their FMA chains interleave (one pixel at a
            // time would wait out the FMA latency at every tap).
            match rest {
                1 => depthwise_tile::<S, 1>(g, out_at, input_at, w, bias, moved, rows, cols),
                2 => depthwise_tile::<S, 2>(g, out_at, input_at, w, bias, moved, rows, cols),
                3 => depthwise_tile::<S, 3>(g, out_at, input_at, w, bias, moved, rows, cols),
                4 => depthwise_tile::<S, 4>(g, out_at, input_at, w, bias, moved, rows, cols),
                5 => depthwise_tile::<S, 5>(g, out_at, input_at, w, bias, moved, rows, cols),
                6 => depthwise_tile::<S, 6>(g, out_at, input_at, w, bias, moved, rows, cols),
                _ => depthwise_tile::<S, 7>(g, out_at, input_at, w, bias, moved, rows, cols),
            }
        }
    }
}

/// Fewest pixels pooled per tile of a fused structured 1×1 conv (reused by every output
/// block) on a tier of `lanes` lanes: two of the 2-block AVX2 tiles (5 pixels), two of the
/// widest AVX-512 tiles (6 pixels). The driver cuts its work items in multiples of it.
pub const fn pool_tile(lanes: usize) -> usize {
    if lanes >= 16 { 12 } else { 10 }
}

/// Most bytes of pooled channels one pool tile of [`pooled`] holds: an L2-resident tile (an
/// eighth of the smallest L2 of the wide tiers' CPUs, 512 KB; the rest holds the chunks'
/// weights and the output).
pub const POOL_TILE_BYTES: usize = 64 * 1024;

/// Pixels pooled per tile of a call of [`pooled`] over `pixels` pixels with `pooled_blocks`
/// blocks of pooled channels: the whole call's pixels when they fit [`POOL_TILE_BYTES`],
/// else the call cut into the fewest tiles of equal size (the last one possibly shorter) of
/// at most the larger of what fits and [`pool_tile`] pixels. Each chunk's conv tiles then run
/// over the whole pool tile, so that a chunk's weights are read once per pool tile and its
/// output is written in runs of the pool tile's pixels. (Against tiles of [`pool_tile`]
/// pixels, each followed by every chunk's tiles: `mobilenetv2s` in 0.98× the time on one
/// Zen 1 core, medians of 4 alternating runs.)
pub fn pool_tile_pixels(lanes: usize, pooled_blocks: usize, pixels: usize) -> usize {
    let pixel_bytes = (pooled_blocks.max(1) * lanes).saturating_mul(size_of::<f32>());
    let most = (POOL_TILE_BYTES / pixel_bytes).max(pool_tile(lanes));
    let pixels = pixels.max(1);
    pixels.div_ceil(pixels.div_ceil(most))
}

/// A fused structured 1×1 conv over `pixels` output pixels and the output-block chunks
/// `chunks` (chunks of `g.chunk_blocks` blocks, a register tile's width; the last chunk of
/// the layer may be narrower): per tile of [`pool_tile_pixels`] pixels, the channel sums of
/// each pixel into a scratch tile (`[pooled block][pixel][lane]`), then each chunk's conv tiles over
/// it (`row` runs one chunk). `out`, `bias` and the residuals point at the layer's first
/// block; the weights are the whole layer's, packed chunk after chunk.
///
/// # Safety
/// `out`, `input`, the weights, the bias and the residual pointers are valid for every element
/// the geometry `g` and the given pixel range address; the host has the tier's instruction set
/// (`S`, or AVX2 + FMA / AVX-512F for the named entries).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn pooled<S: Simd>(
    g: &PooledConvGeometry,
    out: *mut f32,
    input: *const f32,
    weights: *const f32,
    bias: *const f32,
    residuals: *const *const f32,
    pixels: usize,
    chunks: std::ops::Range<usize>,
    row: impl Fn(&ConvGeometry, *mut f32, *const f32, *const f32, *const f32, *const *const f32, usize),
) {
    unsafe {
        let lanes = S::LANES;
        let pooled_blocks = g.pooled_blocks as usize;
        let max_blocks = g.chunk_blocks as usize;
        let mut lines = Lines::new(g.channels as usize);
        let count = residual_count(&g.epilogue);
        let layer_chunks = (g.out_blocks as usize).div_ceil(max_blocks);
        let full_chunk = pooled_blocks * lanes * max_blocks * lanes;
        // Every pixel a conv tile reads is first written in full by `pool_pixel` (padding
        // lanes zeroed), so the tile needs no zeroing; the thread's tile is reused by every
        // call (no allocation per call once it is large enough).
        // (The pointer is taken out of the closure: code inside it would not be compiled
        // with the caller's target features. Only this function uses the scratch, and it
        // does not re-enter itself, so the buffer stays put until it returns.)
        let pool_tile = pool_tile_pixels(lanes, pooled_blocks, pixels);
        let needed = pooled_blocks * pool_tile * lanes;
        let tile = POOL_SCRATCH.with_borrow_mut(|scratch| {
            if scratch.len() < needed {
                scratch.resize(needed, 0.0);
            }
            scratch.as_mut_ptr()
        });
        let mut p0 = 0;
        while p0 < pixels {
            let t = pool_tile.min(pixels - p0);
            let in_pixel = g.in_pixel as isize;
            let mut p = 0;
            while p + 2 <= t {
                pool_pixel_pair::<S>(
                    &mut lines,
                    g.channels as usize,
                    g.window as usize,
                    input.offset((p0 + p) as isize * in_pixel),
                    in_pixel,
                    g.in_blocks as usize,
                    g.in_block as usize,
                    tile.add(p * lanes),
                    lanes,
                    pooled_blocks,
                    pool_tile * lanes,
                );
                p += 2;
            }
            if p < t {
                pool_pixel::<S>(
                    &mut lines,
                    1,
                    g.channels as usize,
                    g.window as usize,
                    input.offset((p0 + p) as isize * g.in_pixel as isize),
                    g.in_blocks as usize,
                    g.in_block as usize,
                    tile.add(p * lanes),
                    pooled_blocks,
                    pool_tile * lanes,
                );
            }
            let mut w = weights.add(chunks.start * full_chunk);
            for chunk in chunks.clone() {
                let first = chunk * max_blocks;
                let nb = max_blocks.min(g.out_blocks as usize - first);
                let last = chunk + 1 == layer_chunks;
                let conv = ConvGeometry {
                    in_pixel: lanes as i64,
                    in_block: (pool_tile * lanes) as i64,
                    in_blocks: pooled_blocks as i64,
                    in_row: 0,
                    in_col: 0,
                    w_row: 0,
                    w_block: (lanes * nb * lanes) as i64,
                    out_block: g.out_block,
                    out_blocks: nb as i64,
                    last_lanes: if last { g.last_lanes } else { lanes as i64 },
                    in_last_lanes: g.pooled_last_lanes,
                    epilogue: g.epilogue,
                };
                let offset = p0 * lanes + first * g.out_block as usize;
                let moved = advance(residuals, count, offset);
                row(
                    &conv,
                    out.add(offset),
                    tile.cast_const(),
                    w,
                    bias.add(first * lanes),
                    moved.as_ptr(),
                    t,
                );
                w = w.add(pooled_blocks * lanes * nb * lanes);
            }
            p0 += t;
        }
    }
}

std::thread_local! {
    /// The pooled-channel tile of [`pooled`], one per thread.
    static POOL_SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}
