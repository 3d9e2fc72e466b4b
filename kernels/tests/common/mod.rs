//! Test drivers: what the compiler's generated driver loops do, in plain Rust — layouts,
//! weight packing, the column runs of `abi` — so each kernel can be checked against `scc-runtime`.

#![allow(dead_code)]

use scc_kernels::abi::{self, ConvGeometry, DepthwiseGeometry};

/// The tiers this CPU has: (name, lanes).
pub fn tiers() -> Vec<(&'static str, usize)> {
    let mut t = Vec::new();
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        t.push(("avx2", 8));
    }
    if std::arch::is_x86_feature_detected!("avx512f") {
        t.push(("avx512", 16));
    }
    t
}

/// NCHW → NCHW{lanes}c, padding channels with zeros.
pub fn to_blocked(x: &[f32], n: usize, c: usize, hw: usize, lanes: usize) -> Vec<f32> {
    let cb = c.div_ceil(lanes);
    let mut out = vec![0.0; n * cb * hw * lanes];
    for i in 0..n {
        for ch in 0..c {
            for p in 0..hw {
                out[((i * cb + ch / lanes) * hw + p) * lanes + ch % lanes] =
                    x[(i * c + ch) * hw + p];
            }
        }
    }
    out
}

/// NCHW{lanes}c → NCHW; checks that padding lanes are +0.0.
pub fn from_blocked(x: &[f32], n: usize, c: usize, hw: usize, lanes: usize) -> Vec<f32> {
    let cb = c.div_ceil(lanes);
    let mut out = vec![0.0; n * c * hw];
    for i in 0..n {
        for b in 0..cb {
            for p in 0..hw {
                for l in 0..lanes {
                    let v = x[((i * cb + b) * hw + p) * lanes + l];
                    let ch = b * lanes + l;
                    if ch < c {
                        out[(i * c + ch) * hw + p] = v;
                    } else {
                        assert!(
                            v == 0.0 && v.is_sign_positive(),
                            "padding lane {ch} holds {v}"
                        );
                    }
                }
            }
        }
    }
    out
}

#[derive(Clone, Copy, Debug)]
pub struct Conv {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub out: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub pad: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

impl Conv {
    pub fn out_hw(&self) -> (usize, usize) {
        let o = |i: usize, k: usize, s: usize, p: usize, d: usize| {
            (i + 2 * p - d * (k - 1) - 1) / s + 1
        };
        (
            o(
                self.h,
                self.kernel.0,
                self.stride.0,
                self.pad.0,
                self.dilation.0,
            ),
            o(
                self.w,
                self.kernel.1,
                self.stride.1,
                self.pad.1,
                self.dilation.1,
            ),
        )
    }
}

pub fn epilogue_codes(codes: &[i64]) -> [i64; abi::MAX_EPILOGUE] {
    let mut e = [abi::EPI_END; abi::MAX_EPILOGUE];
    e[..codes.len()].copy_from_slice(codes);
    e
}

type ConvEntry = unsafe extern "C" fn(
    *const ConvGeometry,
    *mut f32,
    *const f32,
    *const f32,
    *const f32,
    *const *const f32,
    u64,
    u64,
    u64,
    u64,
    u64,
);
type DwEntry = unsafe extern "C" fn(
    *const DepthwiseGeometry,
    *mut f32,
    *const f32,
    *const f32,
    *const f32,
    *const *const f32,
    u64,
    u64,
    u64,
);

/// Runs a dense or grouped conv (groups = 1, or channels per group multiples of `lanes`) with
/// the tier's conv entry; `x` plain NCHW; `plain_input` uses the plain-input entry. Returns NCHW.
#[allow(clippy::too_many_arguments)]
pub fn run_conv(
    tier: &str,
    c: &Conv,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    residual: Option<&[f32]>,
    codes: &[i64],
    plain_input: bool,
) -> Vec<f32> {
    let lanes = if tier == "avx512" { 16 } else { 8 };
    let max_blocks = if tier == "avx512" { 4 } else { 2 };
    let entry: ConvEntry = match (tier, plain_input) {
        ("avx512", false) => scc_kernels::entry::scc_avx512_conv,
        ("avx512", true) => scc_kernels::entry::scc_avx512_conv_plain_input,
        (_, false) => scc_kernels::entry::scc_avx2_conv,
        (_, true) => scc_kernels::entry::scc_avx2_conv_plain_input,
    };
    let (oh, ow) = c.out_hw();
    let cg = c.c / c.groups;
    let opg = c.out / c.groups;
    let (kh, kw) = c.kernel;
    let in_lanes = if plain_input { 1 } else { lanes };
    let in_blocks = if plain_input { cg } else { cg.div_ceil(lanes) };
    let out_cb = if c.groups == 1 {
        c.out.div_ceil(lanes)
    } else {
        c.out / lanes
    };
    let opg_blocks = opg.div_ceil(lanes);
    let input = if plain_input {
        x.to_vec()
    } else {
        to_blocked(x, c.n, c.c, c.h * c.w, lanes)
    };
    let residual = residual.map(|r| to_blocked(r, c.n, c.out, oh * ow, lanes));
    let mut out = vec![f32::NAN; c.n * out_cb * oh * ow * lanes];
    let mut bias_padded = vec![0.0; out_cb * lanes];
    bias_padded[..c.out].copy_from_slice(bias);
    // Output-block groups of each conv group: (first block within the group, blocks).
    let mut groups_of_blocks = Vec::new();
    let mut b0 = 0;
    while b0 < opg_blocks {
        let nb = max_blocks.min(opg_blocks - b0);
        groups_of_blocks.push((b0, nb));
        b0 += nb;
    }
    let runs = abi::joined_column_runs(ow, c.stride.1, c.pad.1, c.dilation.1, kw, c.w);
    let plane_in = c.h * c.w;
    for g in 0..c.groups {
        for &(b0, nb) in &groups_of_blocks {
            // Pack [in block][ky][kx][in lane][out block][lane].
            let mut packed = vec![0.0f32; in_blocks * kh * kw * in_lanes * nb * lanes];
            for ib in 0..in_blocks {
                for ky in 0..kh {
                    for kx in 0..kw {
                        for il in 0..in_lanes {
                            for o in 0..nb {
                                for l in 0..lanes {
                                    let oc = (b0 + o) * lanes + l;
                                    let ic = ib * in_lanes + il;
                                    if oc < opg && ic < cg {
                                        let idx = (((ib * kh + ky) * kw + kx) * in_lanes + il)
                                            * nb
                                            * lanes
                                            + o * lanes
                                            + l;
                                        packed[idx] = weight
                                            [(((g * opg + oc) * cg + ic) * kh + ky) * kw + kx];
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let global_block = g * opg_blocks + b0;
            let last_lanes = if (b0 + nb) * lanes > opg {
                opg - (b0 + nb - 1) * lanes
            } else {
                lanes
            };
            let geometry = ConvGeometry {
                in_pixel: (c.stride.1 * in_lanes) as i64,
                in_block: (plane_in * in_lanes) as i64,
                in_blocks: in_blocks as i64,
                in_row: (c.dilation.0 * c.w * in_lanes) as i64,
                in_col: (c.dilation.1 * in_lanes) as i64,
                w_row: (kw * in_lanes * nb * lanes) as i64,
                w_block: (kh * kw * in_lanes * nb * lanes) as i64,
                out_block: (oh * ow * lanes) as i64,
                out_blocks: nb as i64,
                last_lanes: last_lanes as i64,
                in_last_lanes: (cg - (in_blocks - 1) * in_lanes) as i64,
                epilogue: epilogue_codes(codes),
            };
            for i in 0..c.n {
                for oy in 0..oh {
                    let (ky0, ky1, _) =
                        abi::kernel_taps(oy, c.stride.0, c.pad.0, c.dilation.0, kh, c.h);
                    for run in &runs {
                        let iy = (oy * c.stride.0 + ky0 * c.dilation.0) as i64 - c.pad.0 as i64;
                        let iy = iy.max(0) as usize;
                        // The run's first input column: before the row when its first
                        // pixel's window is clipped.
                        let in_off = if plain_input {
                            ((i * c.c + g * cg) * plane_in + iy * c.w) as i64 + run.input
                        } else {
                            ((i * c.c.div_ceil(lanes) + g * cg / lanes) * plane_in + iy * c.w)
                                as i64
                                * lanes as i64
                                + run.input * lanes as i64
                        };
                        let out_off =
                            ((i * out_cb + global_block) * oh * ow + oy * ow + run.first) * lanes;
                        let w_off = ky0 * geometry.w_row as usize + run.k0 * in_lanes * nb * lanes;
                        let res_ptrs: Vec<*const f32> =
                            residual.iter().map(|r| r[out_off..].as_ptr()).collect();
                        unsafe {
                            entry(
                                &geometry,
                                out.as_mut_ptr().add(out_off),
                                input.as_ptr().wrapping_offset(in_off as isize),
                                packed.as_ptr().add(w_off),
                                bias_padded.as_ptr().add(global_block * lanes),
                                res_ptrs.as_ptr(),
                                run.count as u64,
                                (ky1 - ky0) as u64,
                                run.cols as u64,
                                run.clip_first as u64,
                                run.clip_last as u64,
                            )
                        };
                    }
                }
            }
        }
    }
    from_blocked(&out, c.n, c.out, oh * ow, lanes)
}

/// Runs a depthwise conv (groups = channels = outputs) with the tier's entry.
pub fn run_depthwise(
    tier: &str,
    c: &Conv,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    residual: Option<&[f32]>,
    codes: &[i64],
) -> Vec<f32> {
    let lanes = if tier == "avx512" { 16 } else { 8 };
    let entry: DwEntry = if tier == "avx512" {
        scc_kernels::entry::scc_avx512_depthwise
    } else {
        scc_kernels::entry::scc_avx2_depthwise
    };
    let (oh, ow) = c.out_hw();
    let (kh, kw) = c.kernel;
    let cb = c.c.div_ceil(lanes);
    let input = to_blocked(x, c.n, c.c, c.h * c.w, lanes);
    let residual = residual.map(|r| to_blocked(r, c.n, c.out, oh * ow, lanes));
    let mut out = vec![f32::NAN; c.n * cb * oh * ow * lanes];
    let mut packed = vec![0.0f32; cb * kh * kw * lanes];
    let mut bias_padded = vec![0.0; cb * lanes];
    bias_padded[..c.c].copy_from_slice(bias);
    for ch in 0..c.c {
        for t in 0..kh * kw {
            packed[((ch / lanes) * kh * kw + t) * lanes + ch % lanes] = weight[ch * kh * kw + t];
        }
    }
    let runs = abi::column_runs(ow, c.stride.1, c.pad.1, c.dilation.1, kw, c.w);
    for b in 0..cb {
        let geometry = DepthwiseGeometry {
            in_pixel: (c.stride.1 * lanes) as i64,
            in_row: (c.dilation.0 * c.w * lanes) as i64,
            in_col: (c.dilation.1 * lanes) as i64,
            w_row: (kw * lanes) as i64,
            lanes: (c.c - b * lanes).min(lanes) as i64,
            epilogue: epilogue_codes(codes),
        };
        for i in 0..c.n {
            for oy in 0..oh {
                let (ky0, ky1, _) =
                    abi::kernel_taps(oy, c.stride.0, c.pad.0, c.dilation.0, kh, c.h);
                for run in &runs {
                    let iy = ((oy * c.stride.0 + ky0 * c.dilation.0) as i64 - c.pad.0 as i64).max(0)
                        as usize;
                    let ix = run.input as usize;
                    let in_off = (((i * cb + b) * c.h + iy) * c.w + ix) * lanes;
                    let out_off = ((i * cb + b) * oh * ow + oy * ow + run.first) * lanes;
                    let res_ptrs: Vec<*const f32> =
                        residual.iter().map(|r| r[out_off..].as_ptr()).collect();
                    unsafe {
                        entry(
                            &geometry,
                            out.as_mut_ptr().add(out_off),
                            input.as_ptr().add(in_off),
                            packed
                                .as_ptr()
                                .add((b * kh * kw + ky0 * kw + run.k0) * lanes),
                            bias_padded.as_ptr().add(b * lanes),
                            res_ptrs.as_ptr(),
                            run.count as u64,
                            (ky1 - ky0) as u64,
                            run.cols as u64,
                        )
                    };
                }
            }
        }
    }
    from_blocked(&out, c.n, c.out, oh * ow, lanes)
}
