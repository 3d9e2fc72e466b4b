//! Reference kernels: one free function per op of the `.sc` language.
//!
//! Every kernel takes its inputs by reference and returns a new [`Tensor`] — or, if a buffer
//! could not be allocated, a [`MemoryError`] (every output and scratch buffer is allocated
//! fallibly: a model too large for the machine is an error, never an abort). Each has exactly
//! the semantics of the PyTorch function named in its documentation (inference mode, f32,
//! NCHW).
//!
//! # Preconditions
//! Callers (the compiler's shape checker) guarantee that shapes and parameters are valid; each
//! function documents what it requires. Violations are caught by `assert!`s with a message
//! naming the kernel and the offending shapes; they are programming errors, not user errors.
//!
//! # Precision
//! Reductions (convolutions, matrix products, pooling sums and means, softmax normalisers)
//! accumulate in `f64` and round to `f32` once, so these kernels are at least as accurate as
//! PyTorch's f32 kernels and make a good oracle. Element-wise ops and interpolation weights use
//! PyTorch's own f32 formulas.

use std::ops::Range;

use crate::memory::{MemoryError, try_collect, try_vec, try_with_capacity};
use crate::tensor::Tensor;

/// What a kernel returns: its output, or the buffer it could not allocate.
pub type KernelResult = Result<Tensor, MemoryError>;

/// An empty output buffer of `kernel` with room for `len` elements, allocated fallibly.
fn output<T>(len: usize, kernel: &str) -> Result<Vec<T>, MemoryError> {
    try_with_capacity(len, || format!("the output of {kernel}"))
}

/// A scratch buffer of `kernel`: `len` copies of `value`, allocated fallibly.
fn scratch<T: Clone>(len: usize, value: T, kernel: &str) -> Result<Vec<T>, MemoryError> {
    try_vec(len, value, || format!("the scratch space of {kernel}"))
}

/// The dimensions of a rank-4 tensor, or a panic naming `what`.
#[track_caller]
fn dims4(t: &Tensor, what: &str) -> (usize, usize, usize, usize) {
    match *t.shape() {
        [n, c, h, w] => (n, c, h, w),
        _ => panic!(
            "{what}: expected a rank-4 [N, C, H, W] tensor, got shape {:?}",
            t.shape()
        ),
    }
}

/// The dimensions of a rank-2 tensor, or a panic naming `what`.
#[track_caller]
fn dims2(t: &Tensor, what: &str) -> (usize, usize) {
    match *t.shape() {
        [n, f] => (n, f),
        _ => panic!(
            "{what}: expected a rank-2 [N, F] tensor, got shape {:?}",
            t.shape()
        ),
    }
}

/// Checks that `t` is a per-channel vector of length `c`.
#[track_caller]
fn check_vector(t: &Tensor, c: usize, what: &str) {
    assert!(
        t.shape() == [c],
        "{what}: expected shape [{c}], got {:?}",
        t.shape()
    );
}

/// The output length of a convolution or pooling along one axis, as in PyTorch:
/// `floor((input + 2*pad - dilation*(kernel-1) - 1) / stride) + 1`.
///
/// Returns `None` when the (dilated) kernel does not fit in the padded input, or when `kernel`,
/// `stride` or `dilation` is 0.
pub fn conv_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
) -> Option<usize> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return None;
    }
    let span = dilation.checked_mul(kernel - 1)?.checked_add(1)?;
    let padded = pad.checked_mul(2)?.checked_add(input)?;
    if padded < span {
        return None;
    }
    Some((padded - span) / stride + 1)
}

#[track_caller]
fn output_size_or_panic(
    what: &str,
    axis: &str,
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
) -> usize {
    conv_output_size(input, kernel, stride, pad, dilation).unwrap_or_else(|| {
        panic!(
            "{what}: empty output along {axis}: input {input}, kernel {kernel}, stride {stride}, \
             pad {pad}, dilation {dilation}"
        )
    })
}

/// The output positions `i` in `0..out_len` whose input position `i*stride + offset - pad`
/// lies inside `0..in_len` (i.e. does not fall in the zero padding).
fn valid_outputs(
    out_len: usize,
    stride: usize,
    offset: usize,
    pad: usize,
    in_len: usize,
) -> Range<usize> {
    // i*stride + offset >= pad  <=>  i >= ceil((pad - offset) / stride)
    let lo = if offset >= pad {
        0
    } else {
        (pad - offset).div_ceil(stride)
    };
    // i*stride + offset < in_len + pad  <=>  i < ceil((in_len + pad - offset) / stride)
    let hi = if in_len + pad <= offset {
        0
    } else {
        (in_len + pad - offset).div_ceil(stride)
    };
    let hi = hi.min(out_len);
    lo.min(hi)..hi
}

// ---------------------------------------------------------------------------------------------
// Convolution and linear layers
// ---------------------------------------------------------------------------------------------

/// Parameters of [`conv2d`]: `(height, width)` pairs and the number of groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    /// Step between output positions, each at least 1.
    pub stride: (usize, usize),
    /// Zero padding added on both sides of each axis.
    pub pad: (usize, usize),
    /// Spacing between kernel taps, each at least 1.
    pub dilation: (usize, usize),
    /// Number of channel groups, at least 1.
    pub groups: usize,
}

impl Default for Conv2dParams {
    /// Stride 1, no padding, no dilation, one group.
    fn default() -> Self {
        Conv2dParams {
            stride: (1, 1),
            pad: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

/// 2-D convolution (cross-correlation), exactly `F.conv2d(x, weight, bias, stride, padding,
/// dilation, groups)` with zero padding.
///
/// Preconditions: `x` is `[N, C, H, W]`, `weight` is `[O, C/groups, kh, kw]`, `groups` divides
/// both `C` and `O`, `bias` (if any) is `[O]`, strides and dilations are at least 1 and the
/// output is non-empty. The output is `[N, O, Ho, Wo]` with
/// `Ho = floor((H + 2*pad.0 - dilation.0*(kh-1) - 1) / stride.0) + 1` (same for `Wo`).
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: &Conv2dParams,
) -> KernelResult {
    let (n, c, h, w) = dims4(x, "conv2d input");
    let (o, cg, kh, kw) = dims4(weight, "conv2d weight");
    let groups = p.groups;
    assert!(
        groups >= 1 && c % groups == 0 && o % groups == 0 && cg * groups == c,
        "conv2d: input {:?} and weight {:?} do not fit groups={groups} \
         (need weight [O, C/groups, kh, kw] with groups dividing C and O)",
        x.shape(),
        weight.shape()
    );
    if let Some(b) = bias {
        check_vector(b, o, "conv2d bias");
    }
    let (sh, sw) = p.stride;
    let (ph, pw) = p.pad;
    let (dh, dw) = p.dilation;
    let ho = output_size_or_panic("conv2d", "height", h, kh, sh, ph, dh);
    let wo = output_size_or_panic("conv2d", "width", w, kw, sw, pw, dw);
    let o_per_group = o / groups;
    let xd = x.data();
    let wd = weight.data();

    let mut out = output(n * o * ho * wo, "conv2d")?;
    let mut acc = scratch(ho * wo, 0.0f64, "conv2d")?;
    for b in 0..n {
        for oc in 0..o {
            let group = oc / o_per_group;
            acc.fill(bias.map_or(0.0, |t| f64::from(t.data()[oc])));
            for ic in 0..cg {
                let plane = &xd[(b * c + group * cg + ic) * h * w..][..h * w];
                for ky in 0..kh {
                    let rows = valid_outputs(ho, sh, ky * dh, ph, h);
                    for kx in 0..kw {
                        let wv = f64::from(wd[((oc * cg + ic) * kh + ky) * kw + kx]);
                        let cols = valid_outputs(wo, sw, kx * dw, pw, w);
                        for oy in rows.clone() {
                            let iy = oy * sh + ky * dh - ph;
                            let in_row = &plane[iy * w..][..w];
                            let acc_row = &mut acc[oy * wo..][..wo];
                            for ox in cols.clone() {
                                let ix = ox * sw + kx * dw - pw;
                                acc_row[ox] += wv * f64::from(in_row[ix]);
                            }
                        }
                    }
                }
            }
            out.extend(acc.iter().map(|&v| v as f32));
        }
    }
    Ok(Tensor::from_vec([n, o, ho, wo], out))
}

/// Fully connected layer, exactly `F.linear(x, weight, bias)`: `out[n, o] = Σ_f x[n, f] *
/// weight[o, f] + bias[o]`.
///
/// Preconditions: `x` is `[N, F]`, `weight` is `[O, F]`, `bias` (if any) is `[O]`.
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> KernelResult {
    let (n, f) = dims2(x, "linear input");
    let (o, wf) = dims2(weight, "linear weight");
    assert!(
        f == wf,
        "linear: input {:?} does not match weight {:?} (need weight [O, {f}])",
        x.shape(),
        weight.shape()
    );
    if let Some(b) = bias {
        check_vector(b, o, "linear bias");
    }
    let mut out = output(n * o, "linear")?;
    for b in 0..n {
        let row = &x.data()[b * f..][..f];
        for oc in 0..o {
            let w_row = &weight.data()[oc * f..][..f];
            let dot: f64 = row
                .iter()
                .zip(w_row)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            let bias = bias.map_or(0.0, |t| f64::from(t.data()[oc]));
            out.push((dot + bias) as f32);
        }
    }
    Ok(Tensor::from_vec([n, o], out))
}

// ---------------------------------------------------------------------------------------------
// Structured sum-pooling
// ---------------------------------------------------------------------------------------------

/// The 3-D sum-pooling of structured convolutions: zero-pad `x` by `pad = (ph, pw)` in height
/// and width, then, within each group of `Cg = C / groups` channels, sum over a window of
/// `window = (wc, wh, ww)` (channels × rows × columns) at stride 1 in all three axes.
///
/// Output `[N, groups*(Cg-wc+1), H+2ph-wh+1, W+2pw-ww+1]`; output channel `g*(Cg-wc+1) + a` sums
/// input channels `g*Cg + a ..= g*Cg + a + wc - 1`.
///
/// Preconditions: `x` is `[N, C, H, W]`, `groups >= 1` divides `C`, `1 <= wc <= Cg`,
/// `1 <= wh <= H + 2ph`, `1 <= ww <= W + 2pw`.
pub fn sumpool3d(
    x: &Tensor,
    groups: usize,
    window: (usize, usize, usize),
    pad: (usize, usize),
) -> KernelResult {
    let (n, c, h, w) = dims4(x, "sumpool3d input");
    let (wc, wh, ww) = window;
    let (ph, pw) = pad;
    assert!(
        groups >= 1 && c % groups == 0,
        "sumpool3d: groups={groups} does not divide the {c} channels of {:?}",
        x.shape()
    );
    let cg = c / groups;
    let (hp, wp) = (h + 2 * ph, w + 2 * pw);
    assert!(
        (1..=cg).contains(&wc) && (1..=hp).contains(&wh) && (1..=wp).contains(&ww),
        "sumpool3d: window {window:?} does not fit {cg} channels per group and padded size \
         {hp}x{wp} (input {:?}, pad {pad:?})",
        x.shape()
    );
    let ca = cg - wc + 1; // output channels per group
    let co = groups * ca;
    let (ho, wo) = (hp - wh + 1, wp - ww + 1);
    let xd = x.data();

    // Step 1: sum `wc` consecutive channels of each group, writing into a zero-padded plane.
    let mut chan = scratch(n * co * hp * wp, 0.0f64, "sumpool3d")?;
    for b in 0..n {
        for g in 0..groups {
            for a in 0..ca {
                let dst = &mut chan[(b * co + g * ca + a) * hp * wp..][..hp * wp];
                for j in 0..wc {
                    let src = &xd[(b * c + g * cg + a + j) * h * w..][..h * w];
                    for y in 0..h {
                        let dst_row = &mut dst[(y + ph) * wp + pw..][..w];
                        for (d, &s) in dst_row.iter_mut().zip(&src[y * w..][..w]) {
                            *d += f64::from(s);
                        }
                    }
                }
            }
        }
    }
    // Step 2: sum `wh` consecutive rows: [.., hp, wp] -> [.., ho, wp].
    let mut rows = scratch(n * co * ho * wp, 0.0f64, "sumpool3d")?;
    for (dst, src) in rows
        .chunks_exact_mut(ho * wp)
        .zip(chan.chunks_exact(hp * wp))
    {
        for y in 0..ho {
            let dst_row = &mut dst[y * wp..][..wp];
            for dy in 0..wh {
                for (d, &s) in dst_row.iter_mut().zip(&src[(y + dy) * wp..][..wp]) {
                    *d += s;
                }
            }
        }
    }
    // Step 3: sum `ww` consecutive columns: [.., ho, wp] -> [.., ho, wo].
    drop(chan);
    let mut out = output(n * co * ho * wo, "sumpool3d")?;
    for src_row in rows.chunks_exact(wp) {
        for x0 in 0..wo {
            let s: f64 = src_row[x0..x0 + ww].iter().sum();
            out.push(s as f32);
        }
    }
    Ok(Tensor::from_vec([n, co, ho, wo], out))
}

/// The 1-D sum-pooling of structured linear layers: `out[n, a] = Σ_{j<window} x[n, a + j]`,
/// giving `[N, F - window + 1]`.
///
/// Preconditions: `x` is `[N, F]` and `1 <= window <= F`.
pub fn sumpool_features(x: &Tensor, window: usize) -> KernelResult {
    let (n, f) = dims2(x, "sumpool_features input");
    assert!(
        (1..=f).contains(&window),
        "sumpool_features: window {window} does not fit {f} features"
    );
    let fo = f - window + 1;
    let mut out = output(n * fo, "sumpool_features")?;
    for row in x.data().chunks_exact(f) {
        for a in 0..fo {
            let s: f64 = row[a..a + window].iter().map(|&v| f64::from(v)).sum();
            out.push(s as f32);
        }
    }
    Ok(Tensor::from_vec([n, fo], out))
}

// ---------------------------------------------------------------------------------------------
// Normalisation and activations
// ---------------------------------------------------------------------------------------------

/// Inference-mode batch normalisation, exactly `F.batch_norm(x, running_mean, running_var,
/// weight, bias, training=False, eps=eps)`: `(x - mean) / sqrt(var + eps) * weight + bias` per
/// channel (dimension 1).
///
/// Preconditions: `x` is `[N, C, H, W]` or `[N, C]` (any rank >= 2 works), and the four
/// parameter tensors are `[C]`.
pub fn batchnorm(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f32,
) -> KernelResult {
    assert!(
        x.rank() >= 2,
        "batchnorm: expected [N, C] or [N, C, H, W], got {:?}",
        x.shape()
    );
    let c = x.shape()[1];
    check_vector(weight, c, "batchnorm weight");
    check_vector(bias, c, "batchnorm bias");
    check_vector(running_mean, c, "batchnorm running_mean");
    check_vector(running_var, c, "batchnorm running_var");
    let inner: usize = x.shape()[2..].iter().product();
    let mut out = output(x.len(), "batchnorm")?;
    if inner > 0 {
        for (i, plane) in x.data().chunks_exact(inner).enumerate() {
            let ch = i % c;
            let mean = f64::from(running_mean.data()[ch]);
            let std = (f64::from(running_var.data()[ch]) + f64::from(eps)).sqrt();
            let wv = f64::from(weight.data()[ch]);
            let bv = f64::from(bias.data()[ch]);
            out.extend(
                plane
                    .iter()
                    .map(|&v| ((f64::from(v) - mean) / std * wv + bv) as f32),
            );
        }
    }
    Ok(Tensor::from_vec(x.shape(), out))
}

/// The element-wise activation functions, each exactly its `torch.nn.functional` namesake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `x * sigmoid(x)`.
    Silu,
    /// `x * relu6(x + 3) / 6`.
    Hardswish,
    /// `relu6(x + 3) / 6`.
    Hardsigmoid,
}

/// `min(max(v, 0), 6)`; NaN stays NaN, as with PyTorch's clamp.
fn relu6(v: f64) -> f64 {
    v.clamp(0.0, 6.0)
}

/// The logistic function, computed without overflow for any input.
fn sigmoid(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp(); // in (0, 1): no overflow
        e / (1.0 + e)
    }
}

impl Activation {
    /// Every activation, in declaration order.
    pub const ALL: [Activation; 7] = [
        Activation::Relu,
        Activation::Relu6,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Silu,
        Activation::Hardswish,
        Activation::Hardsigmoid,
    ];

    /// Applies the activation to one value: evaluated in f64 and rounded once, so the result
    /// is the correctly rounded value (or within an ulp of it) over the whole f32 range,
    /// subnormal results included; ±∞ and NaN as PyTorch gives them (NaN in gives NaN out,
    /// `silu(-∞) = -∞·0` and `hardswish(-∞)` are NaN, `tanh(±∞) = ±1`).
    pub fn apply(self, v: f32) -> f32 {
        let x = f64::from(v);
        let y = match self {
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::Relu6 => relu6(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::Silu => x * sigmoid(x),
            Activation::Hardswish => x * relu6(x + 3.0) / 6.0,
            Activation::Hardsigmoid => relu6(x + 3.0) / 6.0,
        };
        y as f32
    }

    /// The op's name in the `.sc` language (and in `torch.nn.functional`), e.g. `"relu6"`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Silu => "silu",
            Activation::Hardswish => "hardswish",
            Activation::Hardsigmoid => "hardsigmoid",
        }
    }

    /// The activation called `name` in the `.sc` language, if any.
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Applies `act` element-wise; the output has the shape of `x`.
pub fn activation(x: &Tensor, act: Activation) -> KernelResult {
    let data = try_collect(x.len(), x.data().iter().map(|&v| act.apply(v)), || {
        format!("the output of {}", act.name())
    })?;
    Ok(Tensor::from_vec(x.shape(), data))
}

// ---------------------------------------------------------------------------------------------
// Pooling
// ---------------------------------------------------------------------------------------------

/// Parameters of the 2-D pooling kernels: `(height, width)` pairs and PyTorch's two modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dParams {
    /// Window size, each at least 1.
    pub kernel: (usize, usize),
    /// Step between windows, each at least 1.
    pub stride: (usize, usize),
    /// Padding on both sides of each axis.
    pub pad: (usize, usize),
    /// PyTorch's `ceil_mode`: the output size rounds up (see [`pool_output_size`]), the last
    /// windows may overhang the padded input and are clipped.
    pub ceil_mode: bool,
    /// PyTorch's `count_include_pad` (average pooling only): divide by the window's size
    /// within the padded input, or (`false`) by its number of input elements.
    pub count_include_pad: bool,
}

impl Pool2dParams {
    /// `ceil_mode=False`, `count_include_pad=True` (PyTorch's defaults).
    pub fn new(kernel: (usize, usize), stride: (usize, usize), pad: (usize, usize)) -> Self {
        Pool2dParams {
            kernel,
            stride,
            pad,
            ceil_mode: false,
            count_include_pad: true,
        }
    }
}

/// The output length of a pooling window along one axis, as PyTorch's
/// `pooling_output_shape`: `floor((input + 2*pad - kernel) / stride) + 1`, or with `ceil_mode`
/// the ceiling, minus one if the last window would start in the right padding (or beyond).
///
/// Returns `None` when the window does not fit the padded input, or `kernel` or `stride` is 0.
pub fn pool_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    ceil_mode: bool,
) -> Option<usize> {
    let floor = conv_output_size(input, kernel, stride, pad, 1)?;
    if !ceil_mode {
        return Some(floor);
    }
    let span = input + 2 * pad - kernel;
    let mut out = span.div_ceil(stride) + 1;
    if (out - 1) * stride >= input + pad {
        out -= 1;
    }
    Some(out)
}

/// One pooling window along one axis: the input positions it covers and its length within the
/// padded input (PyTorch's `pool_size` factor, for `count_include_pad`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct WindowSpan {
    inputs: Range<usize>,
    padded_len: usize,
}

/// The windows of every output position along one axis.
fn window_spans(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    out: usize,
) -> Vec<WindowSpan> {
    (0..out)
        .map(|o| {
            let start = (o * stride) as isize - pad as isize;
            let end_padded = (start + kernel as isize).min((input + pad) as isize);
            let lo = start.max(0) as usize;
            let hi = (end_padded.max(0) as usize).min(input).max(lo);
            WindowSpan {
                inputs: lo..hi,
                padded_len: (end_padded - start).max(0) as usize,
            }
        })
        .collect()
}

/// Checks a pooling configuration and returns `(N, C, H, W)` and the windows along the height
/// and the width.
#[track_caller]
fn pool_windows(
    x: &Tensor,
    p: &Pool2dParams,
    what: &str,
) -> (
    (usize, usize, usize, usize),
    Vec<WindowSpan>,
    Vec<WindowSpan>,
) {
    let (n, c, h, w) = dims4(x, what);
    assert!(
        h >= 1 && w >= 1,
        "{what}: empty spatial size in {:?}",
        x.shape()
    );
    let (kh, kw) = p.kernel;
    let (sh, sw) = p.stride;
    let (ph, pw) = p.pad;
    assert!(
        kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1,
        "{what}: kernel {:?} and stride {:?} must be at least 1",
        p.kernel,
        p.stride
    );
    let size = |axis: &str, input: usize, k: usize, s: usize, pad: usize| {
        pool_output_size(input, k, s, pad, p.ceil_mode).unwrap_or_else(|| {
            panic!(
                "{what}: empty output along {axis}: input {input}, kernel {k}, stride {s}, pad {pad}"
            )
        })
    };
    let ho = size("height", h, kh, sh, ph);
    let wo = size("width", w, kw, sw, pw);
    (
        (n, c, h, w),
        window_spans(h, kh, sh, ph, ho),
        window_spans(w, kw, sw, pw, wo),
    )
}

/// Sums each pooling window (padding counts as zeros) in `f64`, and divides it by the count
/// `divisor(rows, columns)` gives; returns the output shape and values.
fn window_sums(
    x: &Tensor,
    p: &Pool2dParams,
    what: &str,
    divisor: impl Fn(&WindowSpan, &WindowSpan) -> f64,
) -> Result<(Vec<usize>, Vec<f32>), MemoryError> {
    let ((n, c, h, w), rows, cols) = pool_windows(x, p, what);
    let mut out = output(n * c * rows.len() * cols.len(), what)?;
    for plane in x.data().chunks_exact(h * w).take(n * c) {
        for ry in &rows {
            for rx in &cols {
                let mut s = 0.0f64;
                for iy in ry.inputs.clone() {
                    for ix in rx.inputs.clone() {
                        s += f64::from(plane[iy * w + ix]);
                    }
                }
                out.push((s / divisor(ry, rx)) as f32);
            }
        }
    }
    Ok((vec![n, c, rows.len(), cols.len()], out))
}

/// Max pooling, exactly `F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode)`:
/// padding (and the overhang of `ceil_mode`'s last windows) counts as `-inf`, and a NaN in a
/// window makes that output NaN.
///
/// Preconditions: `x` is `[N, C, H, W]`, kernel and stride at least 1, `pad <= kernel / 2` on
/// each axis (as PyTorch requires, so every window holds at least one real element), and a
/// non-empty output (see [`pool_output_size`]).
pub fn maxpool2d(x: &Tensor, p: &Pool2dParams) -> KernelResult {
    let (kh, kw) = p.kernel;
    let (ph, pw) = p.pad;
    assert!(
        ph <= kh / 2 && pw <= kw / 2,
        "maxpool2d: pad {:?} must be at most half of kernel {:?}",
        p.pad,
        p.kernel
    );
    let ((n, c, h, w), rows, cols) = pool_windows(x, p, "maxpool2d");
    let mut out = output(n * c * rows.len() * cols.len(), "maxpool2d")?;
    for plane in x.data().chunks_exact(h * w).take(n * c) {
        for ry in &rows {
            for rx in &cols {
                let mut m = f32::NEG_INFINITY;
                for iy in ry.inputs.clone() {
                    for ix in rx.inputs.clone() {
                        let v = plane[iy * w + ix];
                        if v > m || v.is_nan() {
                            m = v;
                        }
                    }
                }
                out.push(m);
            }
        }
    }
    Ok(Tensor::from_vec([n, c, rows.len(), cols.len()], out))
}

/// Average pooling, exactly `F.avg_pool2d(x, kernel, stride, padding, ceil_mode,
/// count_include_pad)`: every window sum (padding counts as zeros) divided by the window's
/// size within the padded input (`count_include_pad=True`: `kh * kw` except for `ceil_mode`'s
/// overhanging last windows) or by the number of input elements it covers (`False`).
///
/// Preconditions: as [`maxpool2d`] (PyTorch also requires `pad <= kernel / 2`; this kernel does
/// not rely on it).
pub fn avgpool2d(x: &Tensor, p: &Pool2dParams) -> KernelResult {
    let include = p.count_include_pad;
    let (shape, values) = window_sums(x, p, "avgpool2d", |ry, rx| {
        if include {
            (ry.padded_len * rx.padded_len) as f64
        } else {
            (ry.inputs.len() * rx.inputs.len()) as f64
        }
    })?;
    Ok(Tensor::from_vec(shape, values))
}

/// Sum pooling: `F.avg_pool2d(x, kernel, stride, padding, count_include_pad=True) * kh * kw`,
/// i.e. the plain window sum with zero padding (`ceil_mode` and `count_include_pad` are not
/// used: the language's `sumpool` has neither).
///
/// Preconditions: `x` is `[N, C, H, W]`, kernel and stride at least 1, non-empty output.
pub fn sumpool2d(x: &Tensor, p: &Pool2dParams) -> KernelResult {
    let p = Pool2dParams::new(p.kernel, p.stride, p.pad);
    let (shape, values) = window_sums(x, &p, "sumpool2d", |_, _| 1.0)?;
    Ok(Tensor::from_vec(shape, values))
}

/// Global average pooling, exactly `F.adaptive_avg_pool2d(x, 1)`: `[N, C, H, W] -> [N, C, 1, 1]`.
///
/// Preconditions: `x` is `[N, C, H, W]` with `H * W > 0`.
pub fn global_avgpool(x: &Tensor) -> KernelResult {
    let (n, c, h, w) = dims4(x, "global_avgpool input");
    assert!(
        h * w > 0,
        "global_avgpool: empty spatial size in {:?}",
        x.shape()
    );
    let means = x.data().chunks_exact(h * w).map(|plane| {
        let s: f64 = plane.iter().map(|&v| f64::from(v)).sum();
        (s / (h * w) as f64) as f32
    });
    let out = try_collect(n * c, means, || "the output of global_avgpool".into())?;
    Ok(Tensor::from_vec([n, c, 1, 1], out))
}

// ---------------------------------------------------------------------------------------------
// Shape ops, softmax, resampling
// ---------------------------------------------------------------------------------------------

/// `torch.flatten(x, 1)`: `[N, d1, d2, ...] -> [N, d1*d2*...]`.
///
/// Preconditions: `x` has rank at least 2.
pub fn flatten(x: &Tensor) -> KernelResult {
    assert!(
        x.rank() >= 2,
        "flatten: expected rank >= 2, got {:?}",
        x.shape()
    );
    let n = x.shape()[0];
    let rest: usize = x.shape()[1..].iter().product();
    let mut out = output(x.len(), "flatten")?;
    out.extend_from_slice(x.data());
    Ok(Tensor::from_vec([n, rest], out))
}

/// `x.permute(perm)` made contiguous (ONNX `Transpose`): output axis `k` is input axis
/// `perm[k]`, so `out[i_0, ..., i_{r-1}] = x[j]` with `j[perm[k]] = i_k`.
///
/// Preconditions: `perm` is a permutation of `0..x.rank()`.
pub fn transpose(x: &Tensor, perm: &[usize]) -> KernelResult {
    let rank = x.rank();
    assert!(
        perm.len() == rank && (0..rank).all(|axis| perm.contains(&axis)),
        "transpose: {perm:?} is not a permutation of the axes of {:?}",
        x.shape()
    );
    let shape: Vec<usize> = perm.iter().map(|&axis| x.shape()[axis]).collect();
    // Row-major strides of the input, then the input stride of each output axis.
    let mut strides = vec![1usize; rank];
    for axis in (0..rank.saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * x.shape()[axis + 1];
    }
    let steps: Vec<usize> = perm.iter().map(|&axis| strides[axis]).collect();
    let mut out = output(x.len(), "transpose")?;
    let mut index = vec![0usize; rank];
    let data = x.data();
    for _ in 0..x.len() {
        let source: usize = index.iter().zip(&steps).map(|(i, s)| i * s).sum();
        out.push(data[source]);
        // Odometer over the output's index, last axis fastest.
        for axis in (0..rank).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    Ok(Tensor::from_vec(shape, out))
}

/// `F.softmax(x, 1)`: softmax over dimension 1 of `[N, C]` or `[N, C, H, W]` (any rank >= 2),
/// computed stably by subtracting the maximum.
pub fn softmax_dim1(x: &Tensor) -> KernelResult {
    assert!(
        x.rank() >= 2,
        "softmax: expected [N, C] or [N, C, H, W], got {:?}",
        x.shape()
    );
    let c = x.shape()[1];
    let inner: usize = x.shape()[2..].iter().product();
    let mut out = scratch(x.len(), 0.0f32, "softmax")?;
    if c * inner == 0 {
        return Ok(Tensor::from_vec(x.shape(), out));
    }
    let mut max = scratch(inner, f32::NEG_INFINITY, "softmax")?;
    let mut exps = scratch(c * inner, 0.0f64, "softmax")?;
    let mut sums = scratch(inner, 0.0f64, "softmax")?;
    for (src, dst) in x
        .data()
        .chunks_exact(c * inner)
        .zip(out.chunks_exact_mut(c * inner))
    {
        // Walk the channels plane by plane so memory is read contiguously.
        max.fill(f32::NEG_INFINITY);
        for plane in src.chunks_exact(inner) {
            for (m, &v) in max.iter_mut().zip(plane) {
                if v > *m || v.is_nan() {
                    *m = v;
                }
            }
        }
        sums.fill(0.0);
        for (plane, e_plane) in src.chunks_exact(inner).zip(exps.chunks_exact_mut(inner)) {
            for s in 0..inner {
                let e = (f64::from(plane[s]) - f64::from(max[s])).exp();
                e_plane[s] = e;
                sums[s] += e;
            }
        }
        for (e_plane, d_plane) in exps.chunks_exact(inner).zip(dst.chunks_exact_mut(inner)) {
            for s in 0..inner {
                d_plane[s] = (e_plane[s] / sums[s]) as f32;
            }
        }
    }
    Ok(Tensor::from_vec(x.shape(), out))
}

/// `torch.cat(xs, dim=1)`.
///
/// Preconditions: `xs` is non-empty and all tensors have the same rank (>= 2) and the same
/// dimensions except dimension 1.
pub fn concat_dim1(xs: &[&Tensor]) -> KernelResult {
    assert!(!xs.is_empty(), "concat: no tensors to concatenate");
    let first = xs[0];
    assert!(
        first.rank() >= 2,
        "concat: expected rank >= 2, got {:?}",
        first.shape()
    );
    for t in xs {
        assert!(
            t.rank() == first.rank()
                && t.shape()[0] == first.shape()[0]
                && t.shape()[2..] == first.shape()[2..],
            "concat: shapes {:?} and {:?} differ outside dimension 1",
            first.shape(),
            t.shape()
        );
    }
    let n = first.shape()[0];
    let inner: usize = first.shape()[2..].iter().product();
    let total_c: usize = xs.iter().map(|t| t.shape()[1]).sum();
    let mut out = output(n * total_c * inner, "concat")?;
    for b in 0..n {
        for t in xs {
            let block = t.shape()[1] * inner;
            out.extend_from_slice(&t.data()[b * block..][..block]);
        }
    }
    let mut shape = first.shape().to_vec();
    shape[1] = total_c;
    Ok(Tensor::from_vec(shape, out))
}

/// How [`resize`] maps output to input coordinates: the modes of `F.interpolate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resample {
    /// `mode="nearest"`: source index `floor(dst · ratio)`.
    Nearest,
    /// `mode="nearest-exact"`: source index `floor((dst + 0.5) · ratio)`.
    NearestExact,
    /// `mode="bilinear"`.
    Bilinear {
        /// PyTorch's `align_corners`: the corner pixels of input and output coincide.
        align_corners: bool,
    },
}

/// PyTorch's `area_pixel_compute_scale` along one axis: the source/destination ratio. With
/// `align_corners` it is `(in − 1) / (out − 1)` (0 for one output); otherwise
/// `compute_scales_value`: `f32(1 / scale)` (double, then float) when a `scale` factor was
/// given, else `in / out` in f32.
pub fn resize_ratio(in_len: usize, out_len: usize, scale: Option<f64>, align_corners: bool) -> f32 {
    if align_corners {
        if out_len > 1 {
            (in_len - 1) as f32 / (out_len - 1) as f32
        } else {
            0.0
        }
    } else {
        match scale {
            Some(s) => (1.0 / s) as f32,
            None => in_len as f32 / out_len as f32,
        }
    }
}

/// The source index of every output index along one axis for the nearest modes: PyTorch's
/// `nearest_idx` (`exact = false`: the identity and halving shortcuts, else
/// `min(floor(dst · ratio), in − 1)`) or `nearest_neighbor_exact_compute_source_index`
/// (`exact`: `min(floor((dst + 0.5) · ratio), in − 1)`).
pub fn nearest_sources(in_len: usize, out_len: usize, ratio: f32, exact: bool) -> Vec<usize> {
    (0..out_len)
        .map(|dst| {
            if exact {
                (((dst as f32 + 0.5) * ratio).floor() as usize).min(in_len - 1)
            } else if out_len == in_len {
                dst
            } else if out_len == 2 * in_len {
                dst >> 1
            } else {
                ((dst as f32 * ratio).floor() as usize).min(in_len - 1)
            }
        })
        .collect()
}

/// One output index of linear interpolation along one axis: the two source indices and their
/// weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearTap {
    /// The first source index.
    pub i0: usize,
    /// The second source index (`i0 + 1`, or `i0` at the last index).
    pub i1: usize,
    /// The weight of `i0`.
    pub w0: f32,
    /// The weight of `i1`.
    pub w1: f32,
}

/// PyTorch's `area_pixel_compute_source_index` + `guard_index_and_lambda` in f32 for every
/// output index along one axis: the source coordinate is `ratio · dst` (`align_corners`) or
/// `max(ratio · (dst + 0.5) − 0.5, 0)`; its floor (clamped to `in − 1`) is the first tap, the
/// next index (clamped) the second.
pub fn linear_taps(
    in_len: usize,
    out_len: usize,
    ratio: f32,
    align_corners: bool,
) -> Vec<LinearTap> {
    (0..out_len)
        .map(|dst| {
            let src = if align_corners {
                ratio * dst as f32
            } else {
                let src = ratio * (dst as f32 + 0.5) - 0.5;
                if src < 0.0 { 0.0 } else { src }
            };
            let i0 = (src.floor() as usize).min(in_len - 1);
            let lambda = (src - i0 as f32).clamp(0.0, 1.0);
            let i1 = if i0 < in_len - 1 { i0 + 1 } else { i0 };
            LinearTap {
                i0,
                i1,
                w0: 1.0 - lambda,
                w1: lambda,
            }
        })
        .collect()
}

/// `F.interpolate(x, size=size, mode=..., align_corners=...)` (or `scale_factor=scale` when
/// `scale` is given, `size` then being `(floor(H·scale), floor(W·scale))`): `[N, C, H, W] ->
/// [N, C, size.0, size.1]`, with PyTorch's coordinate mapping ([`resize_ratio`],
/// [`nearest_sources`], [`linear_taps`]). Bilinear blends each row pair as `(a·w0 + b·w1)` and
/// then the rows, in f32.
///
/// Preconditions: `x` is `[N, C, H, W]` with `H, W >= 1`; both output sizes at least 1.
pub fn resize(
    x: &Tensor,
    size: (usize, usize),
    scale: Option<f64>,
    mode: Resample,
) -> KernelResult {
    let (n, c, h, w) = dims4(x, "upsample input");
    let (ho, wo) = size;
    assert!(
        h >= 1 && w >= 1 && ho >= 1 && wo >= 1,
        "upsample: empty size: input {:?}, output {size:?}",
        x.shape()
    );
    let mut out = output(n * c * ho * wo, "upsample")?;
    match mode {
        Resample::Nearest | Resample::NearestExact => {
            let exact = mode == Resample::NearestExact;
            let src_y = nearest_sources(h, ho, resize_ratio(h, ho, scale, false), exact);
            let src_x = nearest_sources(w, wo, resize_ratio(w, wo, scale, false), exact);
            for plane in x.data().chunks_exact(h * w).take(n * c) {
                for &sy in &src_y {
                    out.extend(src_x.iter().map(|&sx| plane[sy * w + sx]));
                }
            }
        }
        Resample::Bilinear { align_corners } => {
            let taps_y = linear_taps(
                h,
                ho,
                resize_ratio(h, ho, scale, align_corners),
                align_corners,
            );
            let taps_x = linear_taps(
                w,
                wo,
                resize_ratio(w, wo, scale, align_corners),
                align_corners,
            );
            for plane in x.data().chunks_exact(h * w).take(n * c) {
                for ty in &taps_y {
                    let row0 = &plane[ty.i0 * w..][..w];
                    let row1 = &plane[ty.i1 * w..][..w];
                    for tx in &taps_x {
                        let top = row0[tx.i0] * tx.w0 + row0[tx.i1] * tx.w1;
                        let bottom = row1[tx.i0] * tx.w0 + row1[tx.i1] * tx.w1;
                        out.push(top * ty.w0 + bottom * ty.w1);
                    }
                }
            }
        }
    }
    Ok(Tensor::from_vec([n, c, ho, wo], out))
}

/// `F.interpolate(x, scale_factor=scale, mode="nearest")`: [`resize`] to `(H·scale, W·scale)`.
///
/// Preconditions: `x` is `[N, C, H, W]` with `H, W >= 1`, `scale >= 1`.
pub fn upsample_nearest(x: &Tensor, scale: usize) -> KernelResult {
    let (_, _, h, w) = dims4(x, "upsample input");
    assert!(
        scale >= 1,
        "upsample: scale must be at least 1, got {scale}"
    );
    resize(
        x,
        (h * scale, w * scale),
        Some(scale as f64),
        Resample::Nearest,
    )
}

/// `F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)`: [`resize`] to
/// `(H·scale, W·scale)`.
///
/// Preconditions: `x` is `[N, C, H, W]` with `H, W >= 1`, `scale >= 1`.
pub fn upsample_bilinear(x: &Tensor, scale: usize) -> KernelResult {
    let (_, _, h, w) = dims4(x, "upsample input");
    assert!(
        scale >= 1,
        "upsample: scale must be at least 1, got {scale}"
    );
    resize(
        x,
        (h * scale, w * scale),
        Some(scale as f64),
        Resample::Bilinear {
            align_corners: false,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Padding and element-wise ops with constants
// ---------------------------------------------------------------------------------------------

/// Explicit spatial padding, exactly `F.pad(x, (left, right, top, bottom), value=value)` for
/// non-negative pads: `[N, C, H, W] -> [N, C, top + H + bottom, left + W + right]`.
///
/// Preconditions: `x` is `[N, C, H, W]`.
pub fn pad2d(x: &Tensor, pads: [usize; 4], value: f32) -> KernelResult {
    let (n, c, h, w) = dims4(x, "pad input");
    let [top, left, bottom, right] = pads;
    let (ho, wo) = (top + h + bottom, left + w + right);
    let mut out = output(n * c * ho * wo, "pad")?;
    for plane in x.data().chunks_exact((h * w).max(1)).take(n * c) {
        out.extend(std::iter::repeat_n(value, top * wo));
        for row in plane.chunks_exact(w.max(1)).take(h) {
            out.extend(std::iter::repeat_n(value, left));
            out.extend_from_slice(row);
            out.extend(std::iter::repeat_n(value, right));
        }
        out.extend(std::iter::repeat_n(value, bottom * wo));
    }
    Ok(Tensor::from_vec([n, c, ho, wo], out))
}

/// `torch.clamp(x, min, max)`: `std::min(std::max(x, min), max)` as PyTorch computes it (so
/// `max` wins when `min > max`, and `-0.0` stays `-0.0` against a bound of `0.0`); NaN stays NaN.
pub fn clamp(x: &Tensor, min: f32, max: f32) -> KernelResult {
    let values = x.data().iter().map(|&v| {
        let low = if v < min { min } else { v };
        if max < low { max } else { low }
    });
    let data = try_collect(x.len(), values, || "the output of clamp".to_string())?;
    Ok(Tensor::from_vec(x.shape(), data))
}

/// `F.leaky_relu(x, negative_slope)`: `x` where `x > 0`, else `x · negative_slope` (one f32
/// rounding, as PyTorch).
pub fn leaky_relu(x: &Tensor, negative_slope: f32) -> KernelResult {
    let values = x
        .data()
        .iter()
        .map(|&v| if v > 0.0 { v } else { v * negative_slope });
    let data = try_collect(x.len(), values, || "the output of leaky_relu".to_string())?;
    Ok(Tensor::from_vec(x.shape(), data))
}

/// An arithmetic operation of the language on tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arith {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
}

impl Arith {
    /// The operation on two f32 values (one IEEE rounding, as PyTorch's f32 ops).
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
            Arith::Div => a / b,
        }
    }

    /// `+`, `-`, `*` or `/`.
    pub fn symbol(self) -> &'static str {
        match self {
            Arith::Add => "+",
            Arith::Sub => "-",
            Arith::Mul => "*",
            Arith::Div => "/",
        }
    }
}

/// `x ∘ value` (or `value ∘ x` when `value_first`) for a scalar `value`, as PyTorch's
/// tensor–scalar arithmetic in f32.
pub fn scalar(x: &Tensor, op: Arith, value: f32, value_first: bool) -> KernelResult {
    let values = x.data().iter().map(|&v| {
        if value_first {
            op.apply(value, v)
        } else {
            op.apply(v, value)
        }
    });
    let data = try_collect(x.len(), values, || "the output of scalar".to_string())?;
    Ok(Tensor::from_vec(x.shape(), data))
}

/// A per-channel affine map, `x · weight[c] + bias[c]` over dimension 1 (PyTorch:
/// `x * weight.view(1, C, 1, 1) + bias.view(1, C, 1, 1)`), evaluated in f64 and rounded once.
///
/// Preconditions: `x` has rank >= 2 with `C` channels; `weight` and `bias` (if any) are `[C]`.
pub fn affine(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> KernelResult {
    let what = "affine";
    assert!(
        x.rank() >= 2,
        "affine: expected [N, C] or [N, C, H, W], got {:?}",
        x.shape()
    );
    let c = x.shape()[1];
    check_vector(weight, c, "affine weight");
    if let Some(bias) = bias {
        check_vector(bias, c, "affine bias");
    }
    let inner: usize = x.shape()[2..].iter().product();
    let mut out = output(x.len(), what)?;
    if inner > 0 {
        for (i, plane) in x.data().chunks_exact(inner).enumerate() {
            let ch = i % c;
            let wv = f64::from(weight.data()[ch]);
            let bv = bias.map_or(0.0, |b| f64::from(b.data()[ch]));
            out.extend(plane.iter().map(|&v| (f64::from(v) * wv + bv) as f32));
        }
    }
    Ok(Tensor::from_vec(x.shape(), out))
}

/// Batch normalisation with batch statistics, exactly the output of `F.batch_norm(x,
/// running_mean, running_var, weight, bias, training=True, eps=eps)` (and of ONNX
/// BatchNormalization with `training_mode=1`): per channel, `(x − mean) / sqrt(var + eps) ·
/// weight + bias` with the mean and the biased variance over N, H and W of `x` itself, in
/// f64.
///
/// Preconditions: `x` is `[N, C]` or `[N, C, H, W]`; `weight` and `bias` are `[C]`.
pub fn batchnorm_batch_statistics(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f32,
) -> KernelResult {
    let what = "batchnorm";
    assert!(
        x.rank() >= 2,
        "batchnorm: expected [N, C] or [N, C, H, W], got {:?}",
        x.shape()
    );
    let c = x.shape()[1];
    check_vector(weight, c, "batchnorm weight");
    check_vector(bias, c, "batchnorm bias");
    let inner: usize = x.shape()[2..].iter().product();
    let count = (x.len() / c.max(1)) as f64;
    let mut sum = vec![0f64; c];
    for (i, plane) in x.data().chunks_exact(inner.max(1)).enumerate() {
        sum[i % c] += plane.iter().map(|&v| f64::from(v)).sum::<f64>();
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
    let mut squares = vec![0f64; c];
    for (i, plane) in x.data().chunks_exact(inner.max(1)).enumerate() {
        let m = mean[i % c];
        squares[i % c] += plane
            .iter()
            .map(|&v| (f64::from(v) - m).powi(2))
            .sum::<f64>();
    }
    let mut out = output(x.len(), what)?;
    if inner > 0 {
        for (i, plane) in x.data().chunks_exact(inner).enumerate() {
            let ch = i % c;
            let std = (squares[ch] / count + f64::from(eps)).sqrt();
            let wv = f64::from(weight.data()[ch]);
            let bv = f64::from(bias.data()[ch]);
            out.extend(
                plane
                    .iter()
                    .map(|&v| ((f64::from(v) - mean[ch]) / std * wv + bv) as f32),
            );
        }
    }
    Ok(Tensor::from_vec(x.shape(), out))
}

// ---------------------------------------------------------------------------------------------
// Element-wise binary ops
// ---------------------------------------------------------------------------------------------

/// Applies `f(a, b)` element-wise, broadcasting `b` over `a`'s shape: `b` has `a`'s rank and each
/// of its dimensions equals `a`'s or is 1 (so `[N, C, 1, 1]` over `[N, C, H, W]`).
#[track_caller]
fn broadcast_binary(
    a: &Tensor,
    b: &Tensor,
    what: &str,
    f: impl Fn(f32, f32) -> f32,
) -> KernelResult {
    if a.shape() == b.shape() {
        let values = a.data().iter().zip(b.data()).map(|(&x, &y)| f(x, y));
        let data = try_collect(a.len(), values, || format!("the output of {what}"))?;
        return Ok(Tensor::from_vec(a.shape(), data));
    }
    assert!(
        a.rank() == b.rank()
            && a.shape()
                .iter()
                .zip(b.shape())
                .all(|(&da, &db)| db == da || db == 1),
        "{what}: shape {:?} cannot be broadcast to {:?} (need the same shape or [N, C, 1, 1])",
        b.shape(),
        a.shape()
    );
    // Strides of `b`, with 0 along broadcast dimensions.
    let rank = a.rank();
    let mut b_strides = vec![0usize; rank];
    let mut stride = 1;
    for d in (0..rank).rev() {
        b_strides[d] = if b.shape()[d] == 1 { 0 } else { stride };
        stride *= b.shape()[d];
    }
    let mut index = vec![0usize; rank]; // multi-index into `a`, advanced like an odometer
    let mut out = output(a.len(), what)?;
    for &x in a.data() {
        let offset: usize = index.iter().zip(&b_strides).map(|(i, s)| i * s).sum();
        out.push(f(x, b.data()[offset]));
        for d in (0..rank).rev() {
            index[d] += 1;
            if index[d] < a.shape()[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(Tensor::from_vec(a.shape(), out))
}

/// `a + b` with PyTorch broadcasting of `b` over `a`: `b` has the same shape as `a`, or is
/// `[N, C, 1, 1]` for a `[N, C, H, W]` `a` (more generally: same rank, each dimension equal or 1).
pub fn add(a: &Tensor, b: &Tensor) -> KernelResult {
    broadcast_binary(a, b, "add", |x, y| x + y)
}

/// `a * b` with the broadcasting of [`add`] (e.g. squeeze-excite channel scaling).
pub fn mul(a: &Tensor, b: &Tensor) -> KernelResult {
    broadcast_binary(a, b, "mul", |x, y| x * y)
}

/// `a - b` with the broadcasting of [`add`].
pub fn sub(a: &Tensor, b: &Tensor) -> KernelResult {
    broadcast_binary(a, b, "sub", |x, y| x - y)
}

/// `a / b` with the broadcasting of [`add`].
pub fn div(a: &Tensor, b: &Tensor) -> KernelResult {
    broadcast_binary(a, b, "div", |x, y| x / y)
}

#[cfg(test)]
mod tests {
    #[test]
    fn transpose_moves_axes() {
        // [2, 3] -> [3, 2].
        let x = Tensor::from_vec([2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let t = super::transpose(&x, &[1, 0]).unwrap();
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t.data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        // NCHW [1, 2, 2, 2] -> NHWC [1, 2, 2, 2]: channels become the fastest axis.
        let x = Tensor::from_vec([1, 2, 2, 2], (0..8).map(|v| v as f32).collect());
        let t = super::transpose(&x, &[0, 2, 3, 1]).unwrap();
        assert_eq!(t.data(), &[0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]);
        // Reversing the axes of [2, 1, 3, 1] gives [1, 3, 1, 2]; out[0, w, 0, n] = x[n, 0, w, 0].
        let x = Tensor::from_vec([2, 1, 3, 1], (0..6).map(|v| v as f32).collect());
        let t = super::transpose(&x, &[3, 2, 1, 0]).unwrap();
        assert_eq!(t.shape(), &[1, 3, 1, 2]);
        assert_eq!(t.data(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        // The identity permutation copies.
        let t = super::transpose(&x, &[0, 1, 2, 3]).unwrap();
        assert_eq!(t.data(), x.data());
    }

    use super::*;

    fn t(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::from_vec(shape, data.to_vec())
    }

    fn assert_close(got: &Tensor, want: &Tensor, tol: f32) {
        assert_eq!(got.shape(), want.shape());
        let d = got.max_abs_diff(want);
        assert!(
            d <= tol,
            "max diff {d}\n got {:?}\nwant {:?}",
            got.data(),
            want.data()
        );
    }

    #[test]
    fn output_sizes() {
        assert_eq!(conv_output_size(5, 3, 1, 0, 1), Some(3));
        assert_eq!(conv_output_size(5, 3, 2, 1, 1), Some(3));
        assert_eq!(conv_output_size(7, 3, 1, 0, 2), Some(3));
        assert_eq!(conv_output_size(2, 3, 1, 0, 1), None);
        assert_eq!(conv_output_size(2, 3, 1, 1, 1), Some(2));
        assert_eq!(conv_output_size(2, 0, 1, 0, 1), None);
        assert_eq!(conv_output_size(2, 1, 0, 0, 1), None);
    }

    #[test]
    fn valid_outputs_matches_brute_force() {
        for out_len in 0..6 {
            for stride in 1..4 {
                for offset in 0..5 {
                    for pad in 0..4 {
                        for in_len in 0..6 {
                            let want: Vec<usize> = (0..out_len)
                                .filter(|&i| {
                                    let v = (i * stride + offset) as isize - pad as isize;
                                    v >= 0 && v < in_len as isize
                                })
                                .collect();
                            let got: Vec<usize> =
                                valid_outputs(out_len, stride, offset, pad, in_len).collect();
                            assert_eq!(got, want, "{out_len} {stride} {offset} {pad} {in_len}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn conv2d_3x3_hand_computed() {
        // x = 1..9 on a 3x3 grid, kernel [[1,0],[0,-1]] (2x2), bias 0.5.
        let x = t(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
        let w = t(&[1, 1, 2, 2], &[1., 0., 0., -1.]);
        let b = t(&[1], &[0.5]);
        let y = conv2d(&x, &w, Some(&b), &Conv2dParams::default()).unwrap();
        // x[i,j] - x[i+1,j+1] = -4 everywhere.
        assert_close(&y, &t(&[1, 1, 2, 2], &[-3.5; 4]), 0.0);

        // All-ones 3x3 kernel with padding 1: neighbourhood sums.
        let ones = Tensor::full([1, 1, 3, 3], 1.0);
        let p = Conv2dParams {
            pad: (1, 1),
            ..Conv2dParams::default()
        };
        let y = conv2d(&x, &ones, None, &p).unwrap();
        let want = t(
            &[1, 1, 3, 3],
            &[12., 21., 16., 27., 45., 33., 24., 39., 28.],
        );
        assert_close(&y, &want, 0.0);

        // Stride 2 with padding 1 picks the corners of that grid.
        let p = Conv2dParams {
            stride: (2, 2),
            pad: (1, 1),
            ..Conv2dParams::default()
        };
        assert_close(
            &conv2d(&x, &ones, None, &p).unwrap(),
            &t(&[1, 1, 2, 2], &[12., 16., 24., 28.]),
            0.0,
        );
    }

    #[test]
    fn linear_hand_computed() {
        let x = t(&[2, 3], &[1., 2., 3., -1., 0., 1.]);
        let w = t(&[2, 3], &[1., 1., 1., 0.5, 0., -2.]);
        let b = t(&[2], &[10., 0.]);
        let y = linear(&x, &w, Some(&b)).unwrap();
        assert_close(&y, &t(&[2, 2], &[16., -5.5, 10., -2.5]), 0.0);
        let y = linear(&x, &w, None).unwrap();
        assert_close(&y, &t(&[2, 2], &[6., -5.5, 0., -2.5]), 0.0);
        let empty = linear(&Tensor::zeros([2, 0]), &Tensor::zeros([2, 0]), Some(&b)).unwrap();
        assert_close(&empty, &t(&[2, 2], &[10., 0., 10., 0.]), 0.0);
    }

    #[test]
    fn sumpool3d_hand_computed() {
        // 1 group of 3 channels, window 2 channels x 1 x 1: adjacent channel sums.
        let x = t(&[1, 3, 1, 2], &[1., 2., 10., 20., 100., 200.]);
        let y = sumpool3d(&x, 1, (2, 1, 1), (0, 0)).unwrap();
        assert_close(&y, &t(&[1, 2, 1, 2], &[11., 22., 110., 220.]), 0.0);
        // 3 groups of one channel each, window 1 x 2 x 2 with padding 1 on height only.
        let x = t(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let y = sumpool3d(&x, 1, (1, 2, 2), (1, 0)).unwrap();
        assert_close(&y, &t(&[1, 1, 3, 1], &[3., 10., 7.]), 0.0);
        // Two groups keep their channels apart.
        let x = t(&[1, 4, 1, 1], &[1., 2., 3., 4.]);
        let y = sumpool3d(&x, 2, (2, 1, 1), (0, 0)).unwrap();
        assert_close(&y, &t(&[1, 2, 1, 1], &[3., 7.]), 0.0);
    }

    #[test]
    fn sumpool_features_hand_computed() {
        let x = t(&[2, 4], &[1., 2., 3., 4., 0., -1., 5., 1.]);
        let y = sumpool_features(&x, 3).unwrap();
        assert_close(&y, &t(&[2, 2], &[6., 9., 4., 5.]), 0.0);
    }

    #[test]
    fn batchnorm_hand_computed() {
        let x = t(&[1, 2, 1, 2], &[1., 3., 10., 20.]);
        let w = t(&[2], &[2., 1.]);
        let b = t(&[2], &[0.5, -1.]);
        let mean = t(&[2], &[1., 10.]);
        let var = t(&[2], &[4., 100.]);
        let y = batchnorm(&x, &w, &b, &mean, &var, 0.0).unwrap();
        assert_close(&y, &t(&[1, 2, 1, 2], &[0.5, 2.5, -1., 0.]), 1e-7);
        let x2 = t(&[2, 2], &[1., 10., 3., 20.]);
        let y2 = batchnorm(&x2, &w, &b, &mean, &var, 0.0).unwrap();
        assert_close(&y2, &t(&[2, 2], &[0.5, -1., 2.5, 0.]), 1e-7);
        // eps enters under the square root.
        let y3 = batchnorm(
            &t(&[1, 1], &[2.]),
            &t(&[1], &[1.]),
            &t(&[1], &[0.]),
            &t(&[1], &[0.]),
            &t(&[1], &[3.]),
            1.0,
        )
        .unwrap();
        assert_close(&y3, &t(&[1, 1], &[1.]), 1e-7);
    }

    #[test]
    fn activations() {
        use Activation::*;
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-6;
        assert_eq!(Relu.apply(-2.0), 0.0);
        assert_eq!(Relu.apply(3.0), 3.0);
        assert_eq!(Relu6.apply(7.0), 6.0);
        assert_eq!(Relu6.apply(-1.0), 0.0);
        assert_eq!(Relu6.apply(2.5), 2.5);
        assert!(close(Sigmoid.apply(0.0), 0.5));
        assert!(close(Sigmoid.apply(2.0), 1.0 / (1.0 + (-2.0f32).exp())));
        assert!(close(Sigmoid.apply(-2.0), 1.0 / (1.0 + 2.0f32.exp())));
        assert_eq!(Sigmoid.apply(-1000.0), 0.0);
        assert_eq!(Sigmoid.apply(1000.0), 1.0);
        assert!(close(Tanh.apply(0.5), 0.5f32.tanh()));
        assert!(close(Silu.apply(1.0), 1.0 / (1.0 + (-1.0f32).exp())));
        assert_eq!(Silu.apply(-1000.0), 0.0);
        assert_eq!(Silu.apply(1000.0), 1000.0);
        assert_eq!(Hardswish.apply(-3.0), 0.0);
        assert_eq!(Hardswish.apply(3.0), 3.0);
        assert!(close(Hardswish.apply(1.0), 4.0 / 6.0));
        assert_eq!(Hardsigmoid.apply(-4.0), 0.0);
        assert_eq!(Hardsigmoid.apply(4.0), 1.0);
        assert!(close(Hardsigmoid.apply(0.0), 0.5));
        for a in Activation::ALL {
            assert!(a.apply(f32::NAN).is_nan(), "{}", a.name());
            assert_eq!(Activation::from_name(a.name()), Some(a));
        }
        assert_eq!(Activation::from_name("gelu"), None);
        let y = activation(&t(&[1, 3], &[-1., 0.5, 8.]), Relu6).unwrap();
        assert_eq!(y.data(), &[0., 0.5, 6.]);
    }

    #[test]
    fn maxpool_padding_is_negative_infinity() {
        let x = t(&[1, 1, 2, 2], &[-1., -2., -3., -4.]);
        let p = Pool2dParams::new((2, 2), (1, 1), (1, 1));
        // Zero padding would give 0 everywhere; -inf padding keeps the negative values.
        let y = maxpool2d(&x, &p).unwrap();
        assert_close(
            &y,
            &t(
                &[1, 1, 3, 3],
                &[-1., -1., -2., -1., -1., -2., -3., -3., -4.],
            ),
            0.0,
        );
        let x = t(&[1, 1, 2, 4], &[1., 5., 2., 0., 3., 4., 8., 7.]);
        let p = Pool2dParams::new((2, 2), (2, 2), (0, 0));
        assert_close(
            &maxpool2d(&x, &p).unwrap(),
            &t(&[1, 1, 1, 2], &[5., 8.]),
            0.0,
        );
        let x = t(&[1, 1, 1, 2], &[f32::NAN, 1.0]);
        let p = Pool2dParams::new((1, 2), (1, 1), (0, 0));
        assert!(maxpool2d(&x, &p).unwrap().data()[0].is_nan());
    }

    #[test]
    fn avgpool_counts_padding() {
        let x = t(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let p = Pool2dParams::new((2, 2), (2, 2), (1, 1));
        // Windows: {1}, {2}, {3}, {4}, each divided by 4.
        assert_close(
            &avgpool2d(&x, &p).unwrap(),
            &t(&[1, 1, 2, 2], &[0.25, 0.5, 0.75, 1.0]),
            0.0,
        );
        assert_close(
            &sumpool2d(&x, &p).unwrap(),
            &t(&[1, 1, 2, 2], &[1., 2., 3., 4.]),
            0.0,
        );
        let p = Pool2dParams::new((2, 2), (1, 1), (0, 0));
        assert_close(&avgpool2d(&x, &p).unwrap(), &t(&[1, 1, 1, 1], &[2.5]), 0.0);
        assert_close(&sumpool2d(&x, &p).unwrap(), &t(&[1, 1, 1, 1], &[10.]), 0.0);
    }

    #[test]
    fn global_pool_flatten() {
        let x = t(&[1, 2, 1, 2], &[1., 2., 3., 5.]);
        let g = global_avgpool(&x).unwrap();
        assert_close(&g, &t(&[1, 2, 1, 1], &[1.5, 4.]), 0.0);
        assert_eq!(flatten(&g).unwrap().shape(), &[1, 2]);
        assert_eq!(flatten(&x).unwrap().shape(), &[1, 4]);
        assert_eq!(flatten(&x).unwrap().data(), x.data());
    }

    #[test]
    fn softmax_sums_to_one() {
        let x = t(&[2, 3], &[1., 2., 3., 1000., 1000., -1000.]);
        let y = softmax_dim1(&x).unwrap();
        let e = [1f32.exp(), 2f32.exp(), 3f32.exp()];
        let s: f32 = e.iter().sum();
        assert_close(
            &y,
            &t(&[2, 3], &[e[0] / s, e[1] / s, e[2] / s, 0.5, 0.5, 0.0]),
            1e-6,
        );
        let x = t(&[1, 3, 1, 2], &[0., 1., 0., 2., 0., 3.]);
        let y = softmax_dim1(&x).unwrap();
        for s in 0..2 {
            let total: f32 = (0..3).map(|c| y.data()[c * 2 + s]).sum();
            assert!((total - 1.0).abs() < 1e-6);
        }
        assert_close(
            &y,
            &t(
                &[1, 3, 1, 2],
                &[
                    1. / 3.,
                    y.data()[1],
                    1. / 3.,
                    y.data()[3],
                    1. / 3.,
                    y.data()[5],
                ],
            ),
            1e-6,
        );
    }

    #[test]
    fn concat_channels() {
        let a = t(&[2, 1, 1, 2], &[1., 2., 3., 4.]);
        let b = t(&[2, 2, 1, 2], &[5., 6., 7., 8., 9., 10., 11., 12.]);
        let y = concat_dim1(&[&a, &b]).unwrap();
        assert_eq!(y.shape(), &[2, 3, 1, 2]);
        assert_eq!(
            y.data(),
            &[1., 2., 5., 6., 7., 8., 3., 4., 9., 10., 11., 12.]
        );
        let y = concat_dim1(&[&t(&[1, 2], &[1., 2.]), &t(&[1, 1], &[3.])]).unwrap();
        assert_eq!(y.data(), &[1., 2., 3.]);
    }

    #[test]
    fn upsample_nearest_repeats() {
        let x = t(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let y = upsample_nearest(&x, 2).unwrap();
        assert_eq!(
            y.data(),
            &[
                1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.
            ]
        );
        let y = upsample_nearest(&t(&[1, 1, 1, 2], &[1., 2.]), 3).unwrap();
        assert_eq!(y.shape(), &[1, 1, 3, 6]);
        assert_eq!(&y.data()[..6], &[1., 1., 1., 2., 2., 2.]);
        assert_eq!(upsample_nearest(&x, 1).unwrap(), x);
    }

    #[test]
    fn nearest_index_is_integer_division_for_small_scales() {
        for scale in 1..=8usize {
            for ratio in [
                resize_ratio(512, 512 * scale, Some(scale as f64), false),
                resize_ratio(512, 512 * scale, None, false),
            ] {
                let want: Vec<usize> = (0..512 * scale).map(|dst| dst / scale).collect();
                assert_eq!(nearest_sources(512, 512 * scale, ratio, false), want);
                assert_eq!(nearest_sources(512, 512 * scale, ratio, true), want);
            }
        }
    }

    #[test]
    fn resize_to_a_size_nearest_exact_and_align_corners() {
        let x = t(&[1, 1, 1, 2], &[10., 20.]);
        // Width 2 -> 3, ratio 2/3: nearest reads floor(0), floor(0.67), floor(1.33) = 0, 0, 1;
        // nearest-exact floor(0.33), floor(1.0), floor(1.67) = 0, 1, 1.
        let y = resize(&x, (1, 3), None, Resample::Nearest).unwrap();
        assert_eq!(y.data(), &[10., 10., 20.]);
        let y = resize(&x, (1, 3), None, Resample::NearestExact).unwrap();
        assert_eq!(y.data(), &[10., 20., 20.]);
        // align_corners: sources d·(2−1)/(4−1) = 0, 1/3, 2/3, 1 on [0, 3].
        let x = t(&[1, 1, 1, 2], &[0., 3.]);
        let corners = Resample::Bilinear {
            align_corners: true,
        };
        let y = resize(&x, (1, 4), None, corners).unwrap();
        assert_close(&y, &t(&[1, 1, 1, 4], &[0., 1., 2., 3.]), 1e-6);
        // Height 1 -> 2 with align_corners: both rows read row 0.
        let y = resize(&x, (2, 2), None, corners).unwrap();
        assert_eq!(y.data(), &[0., 3., 0., 3.]);
        // align_corners=False to size 3 from 2 (ratio 2/3): sources 0, 0.5, 1.1667 (clamped
        // to the last index, weight 1).
        let y = resize(
            &x,
            (1, 3),
            None,
            Resample::Bilinear {
                align_corners: false,
            },
        )
        .unwrap();
        assert_close(&y, &t(&[1, 1, 1, 3], &[0., 1.5, 3.]), 1e-6);
        // A scale factor and the size it gives agree.
        let x = t(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        for mode in [
            Resample::Nearest,
            Resample::Bilinear {
                align_corners: false,
            },
        ] {
            assert_eq!(
                resize(&x, (6, 6), Some(3.0), mode).unwrap(),
                resize(&x, (6, 6), None, mode).unwrap()
            );
        }
        // A fractional scale factor maps by 1 / scale, not by in / out: width 5 -> 7 at 1.5
        // reads sources max(0, (d + 0.5) / 1.5 − 0.5) (d = 6: 3.8333), where 5 / 7 would
        // give 4.1429.
        let row = t(&[1, 1, 1, 5], &[0., 1., 2., 3., 4.]);
        let bilinear = Resample::Bilinear {
            align_corners: false,
        };
        let y = resize(&row, (1, 7), Some(1.5), bilinear).unwrap();
        assert!((y.data()[6] - 3.833_333_3).abs() < 1e-5, "{:?}", y.data());
        let y = resize(&row, (1, 7), None, bilinear).unwrap();
        assert!((y.data()[6] - 4.0).abs() < 1e-6, "{:?}", y.data());
    }

    #[test]
    fn pool_output_size_rounds_up_in_ceil_mode() {
        assert_eq!(pool_output_size(3, 2, 2, 0, false), Some(1));
        assert_eq!(pool_output_size(3, 2, 2, 0, true), Some(2));
        assert_eq!(pool_output_size(6, 3, 2, 1, false), Some(3));
        assert_eq!(pool_output_size(6, 3, 2, 1, true), Some(4));
        assert_eq!(pool_output_size(5, 3, 2, 1, true), Some(3));
        // The last window would start in the right padding: dropped.
        assert_eq!(pool_output_size(4, 2, 3, 1, true), Some(2));
        assert_eq!(pool_output_size(1, 3, 1, 0, true), None);
    }

    #[test]
    fn pools_in_ceil_mode_clip_their_last_windows() {
        let x = t(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
        let mut p = Pool2dParams::new((2, 2), (2, 2), (0, 0));
        p.ceil_mode = true;
        assert_eq!(maxpool2d(&x, &p).unwrap().data(), &[5., 6., 8., 9.]);
        // PyTorch: F.avg_pool2d(x, 2, 2, ceil_mode=True) = [[3, 4.5], [7.5, 9]] (the
        // overhanging windows divide by their size within the input).
        assert_eq!(avgpool2d(&x, &p).unwrap().data(), &[3., 4.5, 7.5, 9.]);
    }

    #[test]
    fn avgpool_without_padding_counted_divides_by_the_inputs() {
        let x = t(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let mut p = Pool2dParams::new((2, 2), (2, 2), (1, 1));
        p.count_include_pad = false;
        assert_eq!(avgpool2d(&x, &p).unwrap().data(), &[1., 2., 3., 4.]);
        let mut p = Pool2dParams::new((3, 3), (1, 1), (1, 1));
        assert_close(
            &avgpool2d(&x, &p).unwrap(),
            &t(&[1, 1, 2, 2], &[10. / 9.; 4]),
            1e-7,
        );
        p.count_include_pad = false;
        assert_eq!(avgpool2d(&x, &p).unwrap().data(), &[2.5; 4]);
    }

    #[test]
    fn pad_clamp_leaky_relu_scalars_and_affine() {
        let x = t(&[1, 1, 1, 2], &[1., 2.]);
        let y = pad2d(&x, [1, 0, 0, 2], 9.).unwrap();
        assert_eq!(y.shape(), &[1, 1, 2, 4]);
        assert_eq!(y.data(), &[9., 9., 9., 9., 1., 2., 9., 9.]);
        assert_eq!(pad2d(&x, [0; 4], 0.).unwrap(), x);

        let y = clamp(&t(&[1, 4], &[-2., 0.5, 3., f32::NAN]), -1., 1.).unwrap();
        assert_eq!(&y.data()[..3], &[-1., 0.5, 1.]);
        assert!(y.data()[3].is_nan());
        // min > max: everything is max, as torch.clamp.
        assert_eq!(
            clamp(&t(&[1, 2], &[0., 5.]), 2., 1.).unwrap().data(),
            &[1., 1.]
        );
        assert_eq!(
            clamp(&t(&[1, 2], &[-7., 7.]), f32::NEG_INFINITY, 6.)
                .unwrap()
                .data(),
            &[-7., 6.]
        );

        let y = leaky_relu(&t(&[1, 4], &[-2., -0., 3., f32::NAN]), 0.1).unwrap();
        assert_eq!(&y.data()[..3], &[-0.2, -0., 3.]);
        assert!(y.data()[1].is_sign_negative());
        assert!(y.data()[3].is_nan());

        let x = t(&[1, 2], &[1., 2.]);
        assert_eq!(scalar(&x, Arith::Sub, 3., true).unwrap().data(), &[2., 1.]);
        assert_eq!(
            scalar(&x, Arith::Sub, 3., false).unwrap().data(),
            &[-2., -1.]
        );
        assert_eq!(
            scalar(&x, Arith::Div, 2., false).unwrap().data(),
            &[0.5, 1.]
        );
        assert_eq!(scalar(&x, Arith::Div, 2., true).unwrap().data(), &[2., 1.]);
        assert_eq!(
            scalar(&x, Arith::Add, 0.5, false).unwrap().data(),
            &[1.5, 2.5]
        );
        assert_eq!(
            scalar(&x, Arith::Mul, -1., true).unwrap().data(),
            &[-1., -2.]
        );

        let x = t(&[1, 2, 1, 2], &[1., 2., 3., 4.]);
        let w = t(&[2], &[2., -1.]);
        let b = t(&[2], &[0.5, 1.]);
        assert_eq!(
            affine(&x, &w, Some(&b)).unwrap().data(),
            &[2.5, 4.5, -2., -3.]
        );
        assert_eq!(affine(&x, &w, None).unwrap().data(), &[2., 4., -3., -4.]);
        let x2 = t(&[2, 2], &[1., 2., 3., 4.]);
        assert_eq!(
            affine(&x2, &w, Some(&b)).unwrap().data(),
            &[2.5, -1., 6.5, -3.]
        );
    }

    #[test]
    fn batchnorm_with_batch_statistics() {
        // One channel over N = 2, W = 2: mean 2.5, biased variance 1.25.
        let x = t(&[2, 1, 1, 2], &[1., 2., 3., 4.]);
        let one = t(&[1], &[1.]);
        let zero = t(&[1], &[0.]);
        let y = batchnorm_batch_statistics(&x, &one, &zero, 0.0).unwrap();
        let s = 1.25f64.sqrt();
        let want: Vec<f32> = [-1.5, -0.5, 0.5, 1.5]
            .iter()
            .map(|v| (v / s) as f32)
            .collect();
        assert_eq!(y.data(), want.as_slice());
        // Weight and bias apply after normalisation; channels are independent.
        let x = t(&[1, 2, 1, 2], &[0., 2., 10., 14.]);
        let w = t(&[2], &[2., 1.]);
        let b = t(&[2], &[1., -1.]);
        let y = batchnorm_batch_statistics(&x, &w, &b, 0.0).unwrap();
        assert_eq!(y.data(), &[-1., 3., -2., 0.]);
    }

    #[test]
    fn sub_div_broadcast() {
        let a = t(&[1, 2, 1, 2], &[1., 2., 3., 4.]);
        let b = t(&[1, 2, 1, 1], &[1., 2.]);
        assert_eq!(sub(&a, &b).unwrap().data(), &[0., 1., 1., 2.]);
        assert_eq!(div(&a, &b).unwrap().data(), &[1., 2., 1.5, 2.]);
    }

    #[test]
    fn upsample_bilinear_matches_pytorch() {
        let x = t(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let y = upsample_bilinear(&x, 2).unwrap();
        #[rustfmt::skip]
        let want = t(&[1, 1, 4, 4], &[
            1.0, 1.25, 1.75, 2.0,
            1.5, 1.75, 2.25, 2.5,
            2.5, 2.75, 3.25, 3.5,
            3.0, 3.25, 3.75, 4.0,
        ]);
        assert_close(&y, &want, 1e-6);
        // Scale 3 on a row [0, 3]: sources max(0, (d + 0.5)/3 - 0.5) = 0, 0, 1/3, 2/3, 1, 1.
        let y = upsample_bilinear(&t(&[1, 1, 1, 2], &[0., 3.]), 3).unwrap();
        assert_close(
            &y,
            &t(
                &[1, 1, 3, 6],
                &[
                    0., 0., 1., 2., 3., 3., 0., 0., 1., 2., 3., 3., 0., 0., 1., 2., 3., 3.,
                ],
            ),
            1e-6,
        );
        assert_close(&upsample_bilinear(&x, 1).unwrap(), &x, 0.0);
    }

    #[test]
    fn add_mul_broadcast() {
        let a = t(&[1, 2, 1, 2], &[1., 2., 3., 4.]);
        let b = t(&[1, 2, 1, 1], &[10., 100.]);
        assert_eq!(add(&a, &b).unwrap().data(), &[11., 12., 103., 104.]);
        assert_eq!(mul(&a, &b).unwrap().data(), &[10., 20., 300., 400.]);
        assert_eq!(add(&a, &a).unwrap().data(), &[2., 4., 6., 8.]);
        let a2 = t(&[2, 2], &[1., 2., 3., 4.]);
        assert_eq!(mul(&a2, &a2).unwrap().data(), &[1., 4., 9., 16.]);
    }

    #[test]
    #[should_panic(expected = "cannot be broadcast")]
    fn add_rejects_bad_broadcast() {
        let _ = add(&Tensor::zeros([1, 2, 2, 2]), &Tensor::zeros([1, 3, 1, 1])).unwrap();
    }

    #[test]
    #[should_panic(expected = "conv2d")]
    fn conv2d_rejects_bad_groups() {
        let _ = conv2d(
            &Tensor::zeros([1, 4, 3, 3]),
            &Tensor::zeros([3, 2, 1, 1]),
            None,
            &Conv2dParams {
                groups: 2,
                ..Conv2dParams::default()
            },
        )
        .unwrap();
    }
}
