//! Shape inference: the concrete output shape of every op, or why its operands are invalid.
//!
//! [`infer`] is the single definition of each op's shape rule; lowering calls it to
//! reject mismatches at the source location, and the verifier calls it to check that a
//! graph is consistent.

use crate::ir::{EpilogueStep, Op, Pair, PoolAttrs, Shape, format_shape};

/// Output size of a windowed op along one axis (PyTorch's floor rule), if non-empty.
pub fn window_output(
    size: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
) -> Option<usize> {
    let padded = size + 2 * pad;
    let extent = dilation * (kernel - 1) + 1;
    (padded >= extent).then(|| (padded - extent) / stride + 1)
}

fn expect_rank(what: &str, shape: &Shape, rank: usize) -> Result<(), String> {
    if shape.len() == rank {
        Ok(())
    } else {
        let layout = if rank == 4 { "[N, C, H, W]" } else { "[N, F]" };
        Err(format!(
            "{what} expects a rank-{rank} tensor {layout}, found {}",
            format_shape(shape)
        ))
    }
}

/// Checks that `perm` is a permutation of the `rank` axes `0..rank` (`transpose`'s rule).
pub fn check_permutation(perm: &[usize], rank: usize) -> Result<(), String> {
    if perm.len() != rank {
        return Err(format!(
            "`perm` has {} entries, the operand has {rank} axes",
            perm.len()
        ));
    }
    for (position, &axis) in perm.iter().enumerate() {
        if axis >= rank {
            return Err(format!(
                "`perm` entry {position} is axis {axis}, the operand's axes are 0 to {}",
                rank - 1
            ));
        }
        if let Some(first) = perm[..position].iter().position(|&a| a == axis) {
            return Err(format!(
                "`perm` names axis {axis} twice (entries {first} and {position}): not a permutation"
            ));
        }
    }
    Ok(())
}

fn expect_operands(op: &Op, operands: &[&Shape], count: usize) -> Result<(), String> {
    if operands.len() == count {
        Ok(())
    } else {
        Err(format!(
            "`{}` takes {count} tensor operand(s), found {}",
            op.name(),
            operands.len()
        ))
    }
}

fn spatial_output(
    what: &str,
    input: &Shape,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
    dilation: Pair,
) -> Result<(usize, usize), String> {
    let (h, w) = (input[2], input[3]);
    let oh = window_output(h, kernel.0, stride.0, pad.0, dilation.0);
    let ow = window_output(w, kernel.1, stride.1, pad.1, dilation.1);
    match (oh, ow) {
        (Some(oh), Some(ow)) => Ok((oh, ow)),
        _ => Err(format!(
            "{what} window {}x{} (dilation {}x{}) does not fit the padded input {}x{} (input {}x{}, pad {}x{})",
            kernel.0,
            kernel.1,
            dilation.0,
            dilation.1,
            h + 2 * pad.0,
            w + 2 * pad.1,
            h,
            w,
            pad.0,
            pad.1
        )),
    }
}

fn pool(op: &Op, operands: &[&Shape], attrs: &PoolAttrs) -> Result<Shape, String> {
    expect_operands(op, operands, 1)?;
    let x = operands[0];
    expect_rank(op.name(), x, 4)?;
    if attrs.pad.0 * 2 > attrs.kernel.0 || attrs.pad.1 * 2 > attrs.kernel.1 {
        return Err(format!(
            "{} padding ({}, {}) must be at most half the kernel ({}, {})",
            op.name(),
            attrs.pad.0,
            attrs.pad.1,
            attrs.kernel.0,
            attrs.kernel.1
        ));
    }
    let (oh, ow) = spatial_output(op.name(), x, attrs.kernel, attrs.stride, attrs.pad, (1, 1))?;
    if !attrs.ceil_mode {
        return Ok(vec![x[0], x[1], oh, ow]);
    }
    // The window fits, so the ceil-mode sizes exist (and are at least the floor ones).
    let ceil = |input: usize, k: usize, s: usize, p: usize, floor: usize| {
        scc_runtime::kernels::pool_output_size(input, k, s, p, true).unwrap_or(floor)
    };
    Ok(vec![
        x[0],
        x[1],
        ceil(x[2], attrs.kernel.0, attrs.stride.0, attrs.pad.0, oh),
        ceil(x[3], attrs.kernel.1, attrs.stride.1, attrs.pad.1, ow),
    ])
}

/// `floor(size · scale)`, PyTorch's output size for a scale factor (in f64).
pub fn scaled_size(size: usize, scale: f64) -> usize {
    (size as f64 * scale).floor() as usize
}

fn divisible_groups(
    what: &str,
    channels: usize,
    out: usize,
    groups: usize,
) -> Result<usize, String> {
    if !channels.is_multiple_of(groups) {
        return Err(format!(
            "{what}: input channels {channels} are not divisible by groups={groups}"
        ));
    }
    if !out.is_multiple_of(groups) {
        return Err(format!(
            "{what}: output channels {out} are not divisible by groups={groups}"
        ));
    }
    Ok(channels / groups)
}

/// Broadcasting rule of `+`, `*`, `-` and `/`: same shape, or `b` is `[N, C, 1, 1]` against a rank-4 `a`.
fn broadcast(op: &Op, a: &Shape, b: &Shape) -> Result<Shape, String> {
    let gate =
        a.len() == 4 && b.len() == 4 && a[0] == b[0] && a[1] == b[1] && b[2] == 1 && b[3] == 1;
    if a == b || gate {
        Ok(a.clone())
    } else {
        Err(format!(
            "`{}` needs operands of the same shape, or a right operand [N, C, 1, 1]; found {} and {}",
            op.name(),
            format_shape(a),
            format_shape(b)
        ))
    }
}

fn residuals(epilogue: &[EpilogueStep]) -> usize {
    epilogue
        .iter()
        .filter(|s| matches!(s, EpilogueStep::Residual))
        .count()
}

fn expect_residuals(out: &Shape, residuals: &[&Shape]) -> Result<(), String> {
    match residuals.iter().find(|r| **r != out) {
        Some(r) => Err(format!(
            "a fused residual of shape {} does not match the output {}",
            format_shape(r),
            format_shape(out)
        )),
        None => Ok(()),
    }
}

/// The output shape of `op` applied to operands of the given shapes.
pub fn infer(op: &Op, operands: &[&Shape]) -> Result<Shape, String> {
    match op {
        Op::Input { .. } => Err("an input node has no operands to infer from".to_string()),
        Op::Conv2d(a) => {
            expect_operands(op, operands, 1 + residuals(&a.epilogue))?;
            let x = operands[0];
            expect_rank("conv2d", x, 4)?;
            divisible_groups("conv2d", x[1], a.out_channels, a.groups)?;
            let (oh, ow) = spatial_output("conv2d", x, a.kernel, a.stride, a.pad, a.dilation)?;
            let out = vec![x[0], a.out_channels, oh, ow];
            expect_residuals(&out, &operands[1..])?;
            Ok(out)
        }
        Op::StructuredConv2d(a) => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            expect_rank("sconv2d", x, 4)?;
            let cg = divisible_groups("sconv2d", x[1], a.out_channels, a.groups)?;
            if a.c > cg {
                return Err(format!(
                    "sconv2d: c={} exceeds the {cg} input channels per group (C={} / groups={})",
                    a.c, x[1], a.groups
                ));
            }
            if a.n.0 > a.kernel.0 || a.n.1 > a.kernel.1 {
                return Err(format!(
                    "sconv2d: n=({}, {}) exceeds the kernel ({}, {})",
                    a.n.0, a.n.1, a.kernel.0, a.kernel.1
                ));
            }
            let (oh, ow) = spatial_output("sconv2d", x, a.kernel, a.stride, a.pad, (1, 1))?;
            Ok(vec![x[0], a.out_channels, oh, ow])
        }
        Op::Linear(a) => {
            expect_operands(op, operands, 1 + residuals(&a.epilogue))?;
            expect_rank("linear", operands[0], 2)?;
            let out = vec![operands[0][0], a.out_features];
            expect_residuals(&out, &operands[1..])?;
            Ok(out)
        }
        Op::StructuredLinear {
            out_features, c, ..
        } => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            expect_rank("slinear", x, 2)?;
            if *c > x[1] {
                return Err(format!(
                    "slinear: c={c} exceeds the {} input features",
                    x[1]
                ));
            }
            Ok(vec![x[0], *out_features])
        }
        Op::BatchNorm { .. } | Op::BatchNormTraining { .. } | Op::Affine { .. } => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            if x.len() != 2 && x.len() != 4 {
                return Err(format!(
                    "{} expects a rank-2 [N, C] or rank-4 [N, C, H, W] tensor, found {}",
                    op.name(),
                    format_shape(x)
                ));
            }
            Ok(x.clone())
        }
        Op::Pad(p) => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            expect_rank("pad", x, 4)?;
            Ok(vec![
                x[0],
                x[1],
                x[2] + p.top + p.bottom,
                x[3] + p.left + p.right,
            ])
        }
        Op::Transpose { perm } => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            check_permutation(perm, x.len())?;
            Ok(perm.iter().map(|&axis| x[axis]).collect())
        }
        Op::Activation(_)
        | Op::Softmax
        | Op::Clamp { .. }
        | Op::LeakyRelu { .. }
        | Op::Scalar(_) => {
            expect_operands(op, operands, 1)?;
            Ok(operands[0].clone())
        }
        Op::MaxPool(attrs) | Op::AvgPool(attrs) | Op::SumPool(attrs) => pool(op, operands, attrs),
        Op::GlobalAvgPool => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            expect_rank("global_avgpool", x, 4)?;
            Ok(vec![x[0], x[1], 1, 1])
        }
        Op::Flatten => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            if x.len() < 2 {
                return Err(format!(
                    "flatten expects at least rank 2, found {}",
                    format_shape(x)
                ));
            }
            Ok(vec![x[0], x[1..].iter().product()])
        }
        Op::Concat => {
            if operands.is_empty() {
                return Err("concat needs at least one tensor".to_string());
            }
            let first = operands[0];
            let mut channels = 0;
            for (i, shape) in operands.iter().enumerate() {
                let same_rest = shape.len() == first.len()
                    && shape.len() >= 2
                    && shape[0] == first[0]
                    && shape[2..] == first[2..];
                if !same_rest {
                    return Err(format!(
                        "concat operands must agree in every dimension but 1; operand 0 is {}, operand {i} is {}",
                        format_shape(first),
                        format_shape(shape)
                    ));
                }
                channels += shape[1];
            }
            let mut out = first.clone();
            out[1] = channels;
            Ok(out)
        }
        Op::Upsample(a) => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            expect_rank("upsample", x, 4)?;
            if let Some(scale) = a.scale
                && a.size != (scaled_size(x[2], scale), scaled_size(x[3], scale))
            {
                return Err(format!(
                    "upsample: size ({}, {}) is not scale {scale} times the input {}",
                    a.size.0,
                    a.size.1,
                    format_shape(x)
                ));
            }
            if a.size.0 == 0 || a.size.1 == 0 {
                return Err("upsample: the output size must be at least 1".to_string());
            }
            Ok(vec![x[0], x[1], a.size.0, a.size.1])
        }
        Op::Add | Op::Mul | Op::Sub | Op::Div => {
            expect_operands(op, operands, 2)?;
            broadcast(op, operands[0], operands[1])
        }
        Op::SumPool3d(a) => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            expect_rank("sumpool3d", x, 4)?;
            if a.groups == 0 || !x[1].is_multiple_of(a.groups) {
                return Err(format!(
                    "sumpool3d: {} channels are not divisible by groups={}",
                    x[1], a.groups
                ));
            }
            let cg = x[1] / a.groups;
            if a.window.0 == 0 || a.window.0 > cg {
                return Err(format!(
                    "sumpool3d: channel window {} does not fit {cg} channels per group",
                    a.window.0
                ));
            }
            let (oh, ow) = spatial_output(
                "sumpool3d",
                x,
                (a.window.1, a.window.2),
                a.stride,
                a.pad,
                (1, 1),
            )?;
            Ok(vec![x[0], a.groups * (cg - a.window.0 + 1), oh, ow])
        }
        Op::Reorder { .. } => {
            expect_operands(op, operands, 1)?;
            Ok(operands[0].clone())
        }
        Op::SumPoolFeatures { window } => {
            expect_operands(op, operands, 1)?;
            let x = operands[0];
            expect_rank("sumpool_features", x, 2)?;
            if *window == 0 || *window > x[1] {
                return Err(format!(
                    "sumpool_features: window {window} does not fit {} features",
                    x[1]
                ));
            }
            Ok(vec![x[0], x[1] - window + 1])
        }
    }
}
