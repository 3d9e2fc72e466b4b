//! What the code generator and the kernels agree on: epilogue codes and the geometry records
//! (`#[repr(C)]`, all fields `i64`, counted in f32 elements) that the compiler stores as
//! constants and passes by pointer.

/// Epilogue codes: an epilogue is up to [`MAX_EPILOGUE`] codes, ended by [`EPI_END`].
pub const EPI_END: i64 = 0;
pub const ACT_RELU: i64 = 1;
pub const ACT_RELU6: i64 = 2;
pub const ACT_SIGMOID: i64 = 3;
pub const ACT_TANH: i64 = 4;
pub const ACT_SILU: i64 = 5;
pub const ACT_HARDSWISH: i64 = 6;
pub const ACT_HARDSIGMOID: i64 = 7;
/// Adds the next residual operand (same layout and position as the output).
pub const EPI_RESIDUAL: i64 = 8;
/// Longest epilogue a geometry record holds.
pub const MAX_EPILOGUE: usize = 8;

/// One convolution call: `pixels` consecutive output pixels of one row × `out_blocks` output
/// channel blocks, summed over `in_blocks` input blocks and the `rows × cols` kernel taps the
/// call's pointers start at.
///
/// The input is channel-blocked (`in_lanes` = the tier's lanes: `[block][y][x][lane]`) or plain
/// (`in_lanes` = 1: a "block" is one channel plane). The packed weights of one output-block
/// group are `[in block][ky][kx][in lane][out block][lane]`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Input elements between the windows of neighbouring output pixels.
    pub in_pixel: i64,
    /// Input elements between input blocks.
    pub in_block: i64,
    /// Input blocks summed over.
    pub in_blocks: i64,
    /// Input elements between kernel rows, and between kernel columns.
    pub in_row: i64,
    pub in_col: i64,
    /// Packed-weight elements between kernel rows, and between input blocks.
    pub w_row: i64,
    pub w_block: i64,
    /// Output elements between output blocks.
    pub out_block: i64,
    /// Output blocks per call (1 to the tier's `MAX_OUT_BLOCKS`).
    pub out_blocks: i64,
    /// Valid lanes of the last output block; the others are stored as +0.0.
    pub last_lanes: i64,
    /// Input channels of the last input block summed over (1 to `in_lanes`; the rest are
    /// padding lanes, skipped).
    pub in_last_lanes: i64,
    pub epilogue: [i64; MAX_EPILOGUE],
}

/// Valid kernel-tap range `[k0, k1)` of output coordinate `o` along an axis (input `size`
/// long, padded by `pad` before it), and the first input coordinate it reads (0 when the
/// range is empty).
pub fn kernel_taps(
    o: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    k: usize,
    size: usize,
) -> (usize, usize, usize) {
    let base = (o * stride) as i64 - pad as i64;
    let mut k0 = 0;
    while k0 < k && base + ((k0 * dilation) as i64) < 0 {
        k0 += 1;
    }
    let mut k1 = k;
    while k1 > k0 && base + (((k1 - 1) * dilation) as i64) >= size as i64 {
        k1 -= 1;
    }
    let first = if k1 > k0 {
        (base + (k0 * dilation) as i64) as usize
    } else {
        0
    };
    (k0, k1.max(k0), first)
}

/// Output columns `first .. first + count` of a row that one conv call computes, walking the
/// kernel columns `k0 .. k0 + cols` from input column `input` (the first pixel's column for
/// tap `k0`; negative when that pixel's window starts in the padding). Every pixel reads all
/// those columns except that the first skips the first `clip_first` and the last skips the
/// last `clip_last` (taps in the padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnRun {
    pub first: usize,
    pub count: usize,
    pub k0: usize,
    pub cols: usize,
    pub input: i64,
    pub clip_first: usize,
    pub clip_last: usize,
}

/// The calls of one output row of `ow` columns (kernel `k` wide, over an input `size` wide)
/// for a kernel that computes whole windows only (the depthwise kernel): each maximal run of
/// columns sharing one tap range.
pub fn column_runs(
    ow: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    k: usize,
    size: usize,
) -> Vec<ColumnRun> {
    let mut runs: Vec<ColumnRun> = Vec::new();
    for ox in 0..ow {
        let (k0, k1, input) = kernel_taps(ox, stride, pad, dilation, k, size);
        match runs.last_mut() {
            Some(r) if r.k0 == k0 && r.k0 + r.cols == k1 && r.first + r.count == ox => r.count += 1,
            _ => runs.push(ColumnRun {
                first: ox,
                count: 1,
                k0,
                cols: k1 - k0,
                input: input as i64,
                clip_first: 0,
                clip_last: 0,
            }),
        }
    }
    runs
}

/// The calls of one output row for a kernel whose edge tiles skip clipped taps (the dense
/// conv kernel, [`ColumnRun::clip_first`]): the runs of [`column_runs`], where a one-pixel
/// run at either end of an unclipped run, its window cut on that side only, joins it as its
/// clipped first or last pixel — so that e.g. a 3×3 conv (padding 1) over a 7-pixel row is one
/// call of 7 pixels instead of 1 + 5 + 1 (each call reads all its weights once per register
/// tile: a one-pixel call reads them for one pixel).
pub fn joined_column_runs(
    ow: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    k: usize,
    size: usize,
) -> Vec<ColumnRun> {
    let mut runs = column_runs(ow, stride, pad, dilation, k, size);
    // One-pixel runs clipped on one side only become full-width runs with a clipped pixel.
    for r in &mut runs {
        if r.count != 1 || r.cols == 0 || r.cols == k {
            continue;
        }
        if r.k0 > 0 && r.k0 + r.cols == k {
            r.input -= (r.k0 * dilation) as i64;
            r.clip_first = r.k0;
        } else if r.k0 == 0 {
            r.clip_last = k - r.cols;
        } else {
            continue;
        }
        r.k0 = 0;
        r.cols = k;
    }
    let mut merged: Vec<ColumnRun> = Vec::new();
    for r in runs {
        match merged.last_mut() {
            Some(m) if m.cols == k && r.cols == k && m.clip_last == 0 && r.clip_first == 0 => {
                m.count += r.count;
                m.clip_last = r.clip_last;
            }
            _ => merged.push(r),
        }
    }
    merged
}

/// One depthwise call: `pixels` consecutive output pixels of one row of one channel block
/// (blocked layout), over the `rows × cols` taps the pointers start at; weights `[ky][kx][lane]`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepthwiseGeometry {
    pub in_pixel: i64,
    pub in_row: i64,
    pub in_col: i64,
    /// Weight elements between kernel rows (`kw · lanes`).
    pub w_row: i64,
    /// Valid lanes of this block; the others are stored as +0.0.
    pub lanes: i64,
    pub epilogue: [i64; MAX_EPILOGUE],
}

/// Range kernels (`fn(args, start, end)`, like the step kernels themselves) read their
/// buffers from the step's argument table: `args[0]` is the geometry record (as `*const i64`),
/// `args[1]` the output, then the operands. Work items are listed with each geometry.
///
/// Plain → blocked (`[n][c][hw]` → `[n][cb][hw][lane]`, padding lanes zeroed) or back; one
/// item per `(n, block)`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReorderGeometry {
    pub channels: i64,
    /// Elements per channel plane (H·W).
    pub plane: i64,
    /// Channel blocks (`ceil(channels / lanes)`).
    pub blocks: i64,
}

/// An elementwise map over blocked values: one item per `(n, block)` plane of `plane` pixels.
/// `kind`: [`MAP_ACTIVATION`] (`codes[0]` the activation), [`MAP_AFFINE`] (`args[3]`: per-channel
/// scale then shift, `2 · blocks · lanes` floats), [`MAP_ADD`] / [`MAP_MUL`] (`args[2]`, `args[3]`
/// the operands; `broadcast` = 1 when `args[3]` is `[N, C, 1, 1]`). The padding lanes of the
/// last block are stored as +0.0.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapGeometry {
    pub kind: i64,
    pub channels: i64,
    pub plane: i64,
    pub blocks: i64,
    pub broadcast: i64,
    pub code: i64,
}

pub const MAP_ACTIVATION: i64 = 0;
pub const MAP_AFFINE: i64 = 1;
pub const MAP_ADD: i64 = 2;
pub const MAP_MUL: i64 = 3;

/// Max / average / sum pooling over blocked values: one item per `(n, block, output row)`.
/// Padding counts as absent for max, as zero for sums; averages divide by `kh · kw`
/// (`count_include_pad`). `kind`: [`POOL_MAX`], [`POOL_AVG`], [`POOL_SUM`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolGeometry {
    pub kind: i64,
    pub h: i64,
    pub w: i64,
    pub oh: i64,
    pub ow: i64,
    pub kh: i64,
    pub kw: i64,
    pub sh: i64,
    pub sw: i64,
    pub ph: i64,
    pub pw: i64,
    pub blocks: i64,
}

pub const POOL_MAX: i64 = 0;
pub const POOL_AVG: i64 = 1;
pub const POOL_SUM: i64 = 2;

/// Global average pooling of blocked values to `[N, C, 1, 1]` blocked: one item per `(n, block)`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GlobalPoolGeometry {
    pub plane: i64,
    pub blocks: i64,
}

/// The channel pass of a blocked 3-D sum-pool: sums of `window` consecutive channels within
/// each of `groups` groups of `group_channels`, per pixel; one item per `(n, row)` of the
/// input. Output channel `g · (group_channels − window + 1) + k` sums input channels
/// `g · group_channels + k ..` (`window` of them). Needs `channels ≤` [`MAX_POOL_CHANNELS`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelPoolGeometry {
    pub channels: i64,
    pub groups: i64,
    pub group_channels: i64,
    pub window: i64,
    pub h: i64,
    pub w: i64,
    /// `ceil(channels / lanes)` and `ceil(out channels / lanes)`.
    pub in_blocks: i64,
    pub out_blocks: i64,
}

/// Largest channel count of [`ChannelPoolGeometry`] (its per-pixel lines live on the stack).
pub const MAX_POOL_CHANNELS: usize = 4096;

/// A blocked linear layer `[N, F] · Wᵀ + b` (plain `[N, F]` in and `[N, O]` out): one item per
/// block of `lanes` outputs; weights packed `[out block][F][lane]`, then the bias padded to
/// whole blocks (`args[3]`); input `args[2]`; the epilogue as in convolutions (residuals
/// `args[4..]`, plain `[N, O]`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinearGeometry {
    pub n: i64,
    pub features: i64,
    pub outputs: i64,
    pub blocks: i64,
    pub epilogue: [i64; MAX_EPILOGUE],
}

/// One call of a fused structured 1×1 conv: `pixels` consecutive output pixels, each the
/// channel sum-pool (window `window` over `channels` input channels, one group) of its input
/// pixel computed into registers and an L1 tile, then the 1×1 conv over the pooled channels
/// for every output block (weights: chunks of up to the tier's widest tile, each
/// `[pooled block][in lane][out block][lane]`), bias, epilogue, padding lanes zeroed.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PooledConvGeometry {
    pub channels: i64,
    pub window: i64,
    pub in_blocks: i64,
    /// Input elements between channel blocks (`H · W · lanes`).
    pub in_block: i64,
    /// Input elements between neighbouring output pixels (`stride · lanes`).
    pub in_pixel: i64,
    /// Blocks of pooled channels (`ceil((channels − window + 1) / lanes)`).
    pub pooled_blocks: i64,
    /// Pooled channels in the last pooled block.
    pub pooled_last_lanes: i64,
    /// Output elements between output blocks.
    pub out_block: i64,
    pub out_blocks: i64,
    /// Valid lanes of the last output block.
    pub last_lanes: i64,
    /// Output blocks per chunk (the register tile's width; the last chunk may be narrower).
    pub chunk_blocks: i64,
    pub epilogue: [i64; MAX_EPILOGUE],
}

/// A geometry record: `#[repr(C)]` with only `i64` fields.
///
/// # Safety
/// Implementors must be `#[repr(C)]` structs of `i64` fields and arrays of them.
pub unsafe trait Record: Copy {
    /// The record as the words generated code stores.
    fn words(&self) -> Vec<i64> {
        let len = std::mem::size_of::<Self>() / 8;
        // SAFETY: by the trait's contract the value is `len` contiguous i64 words.
        unsafe { std::slice::from_raw_parts((self as *const Self).cast::<i64>(), len) }.to_vec()
    }
}

// SAFETY: each is `#[repr(C)]` with only i64 fields.
unsafe impl Record for ConvGeometry {}
unsafe impl Record for DepthwiseGeometry {}
unsafe impl Record for ReorderGeometry {}
unsafe impl Record for MapGeometry {}
unsafe impl Record for PoolGeometry {}
unsafe impl Record for GlobalPoolGeometry {}
unsafe impl Record for ChannelPoolGeometry {}
unsafe impl Record for LinearGeometry {}
unsafe impl Record for PooledConvGeometry {}

/// The epilogue record of up to [`MAX_EPILOGUE`] codes.
pub fn epilogue(codes: &[i64]) -> [i64; MAX_EPILOGUE] {
    let mut record = [EPI_END; MAX_EPILOGUE];
    record[..codes.len()].copy_from_slice(codes);
    record
}

#[cfg(test)]
mod tests {
    use super::{ColumnRun, column_runs, joined_column_runs};

    fn run(first: usize, count: usize, k0: usize, cols: usize, input: i64) -> ColumnRun {
        ColumnRun {
            first,
            count,
            k0,
            cols,
            input,
            clip_first: 0,
            clip_last: 0,
        }
    }

    /// `r` with its first pixel skipping `clip_first` columns and its last `clip_last`.
    fn clipped(clip_first: usize, clip_last: usize, r: ColumnRun) -> ColumnRun {
        ColumnRun {
            clip_first,
            clip_last,
            ..r
        }
    }

    #[test]
    fn a_padded_3x3_row_is_one_run_with_clipped_edge_pixels() {
        let split = column_runs(7, 1, 1, 1, 3, 7);
        assert_eq!(
            split,
            vec![run(0, 1, 1, 2, 0), run(1, 5, 0, 3, 0), run(6, 1, 0, 2, 5)]
        );
        let joined = joined_column_runs(7, 1, 1, 1, 3, 7);
        assert_eq!(joined, vec![clipped(1, 1, run(0, 7, 0, 3, -1))]);
        // Two pixels, both clipped: one run.
        let two = joined_column_runs(2, 1, 1, 1, 3, 2);
        assert_eq!(two, vec![clipped(1, 1, run(0, 2, 0, 3, -1))]);
        // Stride 2 over an even width: only the left edge is clipped.
        let strided = joined_column_runs(28, 2, 1, 1, 3, 56);
        assert_eq!(strided, vec![clipped(1, 0, run(0, 28, 0, 3, -1))]);
    }

    #[test]
    fn windows_clipped_on_both_sides_or_deeper_than_one_pixel_stay_split() {
        // One pixel whose window is cut on both sides.
        assert_eq!(
            joined_column_runs(1, 1, 1, 1, 3, 1),
            vec![run(0, 1, 1, 1, 0)]
        );
        // A 7×7 stem (stride 2, padding 3): the second pixel joins the interior, the first
        // (cut deeper) stays alone; the last pixel is the run's clipped end.
        let stem = joined_column_runs(112, 2, 3, 1, 7, 224);
        assert_eq!(
            stem,
            vec![
                clipped(3, 0, run(0, 1, 0, 7, -3)),
                clipped(1, 2, run(1, 111, 0, 7, -1)),
            ]
        );
        // Dilation 2: the skipped columns are counted in taps.
        let dilated = joined_column_runs(5, 1, 2, 2, 3, 5);
        assert_eq!(dilated, column_runs(5, 1, 2, 2, 3, 5));
    }
}
