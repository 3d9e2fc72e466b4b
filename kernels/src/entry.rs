//! The `extern "C"` entry points: each enables its tier's CPU features and runs the generic
//! kernel instantiated for that tier. These are the symbols generated code calls (registered
//! with the JIT, linked into native binaries); [`crate::SYMBOLS`] lists them.
//!
//! # Safety
//! Callers (generated code) guarantee the CPU has the tier's features (the compiler only
//! emits calls of a tier the host or the build's target CPU has, and binaries check the CPU
//! at start-up) and that every pointer covers what the geometry says the kernel touches.

#![allow(clippy::missing_safety_doc, clippy::too_many_arguments)]

use crate::abi::{ConvGeometry, DepthwiseGeometry, PooledConvGeometry};
use crate::simd::{Avx2, Avx512, Simd};
use crate::{conv, ops, peak};

/// The features each tier's entry points enable (LLVM names).
pub const AVX2_FEATURES: &str = "avx2,fma";
pub const AVX512_FEATURES: &str = "avx512f,avx2,fma";

macro_rules! conv_entry {
    ($name:ident, $features:literal, $body:ident, $in:expr) => {
        #[unsafe(no_mangle)]
        #[target_feature(enable = $features)]
        pub unsafe extern "C" fn $name(
            g: *const ConvGeometry,
            out: *mut f32,
            input: *const f32,
            weights: *const f32,
            bias: *const f32,
            residuals: *const *const f32,
            pixels: u64,
            rows: u64,
            cols: u64,
            clip_first: u64,
            clip_last: u64,
        ) {
            unsafe {
                conv::$body::<{ $in }>(
                    &*g,
                    out,
                    input,
                    weights,
                    bias,
                    residuals,
                    pixels as usize,
                    rows as usize,
                    cols as usize,
                    conv::EdgeClip {
                        first: clip_first as usize,
                        last: clip_last as usize,
                    },
                )
            }
        }
    };
}

conv_entry!(scc_avx2_conv, "avx2,fma", conv_avx2, Avx2::LANES);
conv_entry!(scc_avx2_conv_plain_input, "avx2,fma", conv_avx2, 1);
conv_entry!(
    scc_avx512_conv,
    "avx512f,avx2,fma",
    conv_avx512,
    Avx512::LANES
);
conv_entry!(
    scc_avx512_conv_plain_input,
    "avx512f,avx2,fma",
    conv_avx512,
    1
);

macro_rules! depthwise_entry {
    ($name:ident, $features:literal, $S:ty) => {
        #[unsafe(no_mangle)]
        #[target_feature(enable = $features)]
        pub unsafe extern "C" fn $name(
            g: *const DepthwiseGeometry,
            out: *mut f32,
            input: *const f32,
            weights: *const f32,
            bias: *const f32,
            residuals: *const *const f32,
            pixels: u64,
            rows: u64,
            cols: u64,
        ) {
            unsafe {
                conv::depthwise::<$S>(
                    &*g,
                    out,
                    input,
                    weights,
                    bias,
                    residuals,
                    pixels as usize,
                    rows as usize,
                    cols as usize,
                )
            }
        }
    };
}

depthwise_entry!(scc_avx2_depthwise, "avx2,fma", Avx2);
depthwise_entry!(scc_avx512_depthwise, "avx512f,avx2,fma", Avx512);

macro_rules! peak_entry {
    ($name:ident, $features:literal, $S:ty) => {
        /// Runs `iterations` rounds of independent FMA chains; returns the flops done.
        #[unsafe(no_mangle)]
        #[target_feature(enable = $features)]
        pub unsafe extern "C" fn $name(iterations: u64) -> f64 {
            unsafe { peak::fma_loop::<$S>(iterations) }
        }
    };
}

peak_entry!(scc_avx2_fma_peak_loop, "avx2,fma", Avx2);
peak_entry!(scc_avx512_fma_peak_loop, "avx512f,avx2,fma", Avx512);

macro_rules! range_entry {
    ($name:ident, $features:literal, $body:ident, $S:ty) => {
        #[unsafe(no_mangle)]
        #[target_feature(enable = $features)]
        pub unsafe extern "C" fn $name(args: *const *mut f32, start: u64, end: u64) {
            unsafe { ops::$body::<$S>(args, start, end) }
        }
    };
}

range_entry!(scc_avx2_to_blocked, "avx2,fma", to_blocked, Avx2);
range_entry!(scc_avx2_to_plain, "avx2,fma", to_plain, Avx2);
range_entry!(scc_avx2_map, "avx2,fma", map, Avx2);
range_entry!(scc_avx2_pool, "avx2,fma", pool, Avx2);
range_entry!(scc_avx2_global_average, "avx2,fma", global_average, Avx2);
range_entry!(scc_avx2_channel_pool, "avx2,fma", channel_pool, Avx2);
range_entry!(scc_avx2_linear, "avx2,fma", linear, Avx2);
range_entry!(
    scc_avx512_to_blocked,
    "avx512f,avx2,fma",
    to_blocked,
    Avx512
);
range_entry!(scc_avx512_to_plain, "avx512f,avx2,fma", to_plain, Avx512);
range_entry!(scc_avx512_map, "avx512f,avx2,fma", map, Avx512);
range_entry!(scc_avx512_pool, "avx512f,avx2,fma", pool, Avx512);
range_entry!(
    scc_avx512_global_average,
    "avx512f,avx2,fma",
    global_average,
    Avx512
);
range_entry!(
    scc_avx512_channel_pool,
    "avx512f,avx2,fma",
    channel_pool,
    Avx512
);
range_entry!(scc_avx512_linear, "avx512f,avx2,fma", linear, Avx512);

macro_rules! pooled_entry {
    ($name:ident, $features:literal, $S:ty, $row:ident) => {
        /// A fused structured 1×1 conv (`PooledConvGeometry`) over `pixels` output pixels
        /// and `chunk_count` output-block chunks from `first_chunk`.
        #[unsafe(no_mangle)]
        #[target_feature(enable = $features)]
        pub unsafe extern "C" fn $name(
            g: *const PooledConvGeometry,
            out: *mut f32,
            input: *const f32,
            weights: *const f32,
            bias: *const f32,
            residuals: *const *const f32,
            pixels: u64,
            first_chunk: u64,
            chunk_count: u64,
        ) {
            unsafe {
                conv::pooled::<$S>(
                    &*g,
                    out,
                    input,
                    weights,
                    bias,
                    residuals,
                    pixels as usize,
                    first_chunk as usize..(first_chunk + chunk_count) as usize,
                    |geometry, out, input, w, bias, res, pixels| {
                        conv::$row::<{ <$S>::LANES }>(
                            geometry,
                            out,
                            input,
                            w,
                            bias,
                            res,
                            pixels,
                            1,
                            1,
                            conv::EdgeClip::default(),
                        )
                    },
                )
            }
        }
    };
}

pooled_entry!(scc_avx2_conv_pooled, "avx2,fma", Avx2, conv_avx2);
pooled_entry!(
    scc_avx512_conv_pooled,
    "avx512f,avx2,fma",
    Avx512,
    conv_avx512
);
