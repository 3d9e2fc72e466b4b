//! Random valid `.sc` programs for differential testing.
//!
//! [`random_model`] builds a model from a seed: a random sequence of ops over tensors whose
//! shapes it tracks (convolutions dense and structured with random kernels, strides,
//! padding, groups, c and n; batchnorm, with running or batch statistics; every activation,
//! `clamp` and `leaky_relu`; pooling, in ceil mode and without the padding counted; explicit
//! padding; residual and gating `+ - * /`; arithmetic with constants; `affine`;
//! concatenation; upsampling by factors and to sizes; `transpose` of rank-4 and rank-2
//! values; a classifier head), with odd sizes and
//! batch > 1.
//! Every program it returns is valid: lowering it must succeed.

/// A small deterministic generator (SplitMix64).
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() - 1)]
    }
}

#[derive(Clone)]
struct Value {
    name: String,
    shape: Vec<usize>,
}

fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|d| n.is_multiple_of(*d)).collect()
}

fn fits(size: usize, kernel: usize, stride: usize, pad: usize, dilation: usize) -> Option<usize> {
    let extent = dilation * (kernel - 1) + 1;
    (size + 2 * pad >= extent).then(|| (size + 2 * pad - extent) / stride + 1)
}

fn pair(a: usize, b: usize) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("({a}, {b})")
    }
}

const ACTIVATIONS: &[&str] = &[
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "silu",
    "hardswish",
    "hardsigmoid",
];

/// PyTorch's ceil-mode output size (the window fits).
fn ceil_fits(size: usize, kernel: usize, stride: usize, pad: usize) -> usize {
    let mut out = (size + 2 * pad - kernel).div_ceil(stride) + 1;
    if (out - 1) * stride >= size + pad {
        out -= 1;
    }
    out
}

/// A shape-preserving elementwise expression of `x`: `clamp`, `leaky_relu` or arithmetic with
/// a constant (`/` only by a constant, or of a constant by a positive denominator).
fn elementwise(rng: &mut Choices, x: &str) -> String {
    match rng.range(0, 7) {
        0 => format!("clamp({x}, min=-0.5, max=0.75)"),
        1 => format!("clamp({x}, min=0.25)"),
        2 => format!("leaky_relu({x}, slope=0.1)"),
        3 => format!("{x} * 1.5 - 0.25"),
        4 => format!("0.5 - {x}"),
        5 => format!("{x} / 3.0"),
        6 => format!("1.0 / (2.0 + relu({x}))"),
        _ => format!("leaky_relu({x})"),
    }
}

/// A random valid model named `generated` with one input `x`.
pub fn random_model(seed: u64) -> String {
    let mut rng = Choices(seed);
    let batch = rng.range(1, 2);
    let channels = rng.range(1, 8);
    let (h, w) = (rng.range(3, 13), rng.range(3, 13));
    let mut body = String::new();
    let mut values = vec![Value {
        name: "x".into(),
        shape: vec![batch, channels, h, w],
    }];
    let mut count = 0;
    let mut fresh =
        |body: &mut String, expr: String, shape: Vec<usize>, values: &mut Vec<Value>| {
            count += 1;
            let name = format!("t{count}");
            body.push_str(&format!("    let {name} = {expr};\n"));
            values.push(Value { name, shape });
        };
    let steps = rng.range(3, 10);
    for _ in 0..steps {
        let current = if rng.chance(70) {
            values.last().unwrap().clone()
        } else {
            rng.pick(&values).clone()
        };
        let s = current.shape.clone();
        let x = &current.name;
        if s.len() == 2 {
            let (n, f) = (s[0], s[1]);
            match rng.range(0, 7) {
                0 => {
                    let out = rng.range(1, 12);
                    let bias = rng.chance(50);
                    fresh(
                        &mut body,
                        format!("linear({x}, {out}, bias={bias})"),
                        vec![n, out],
                        &mut values,
                    );
                }
                1 => {
                    let out = rng.range(1, 12);
                    let c = rng.range(1, f);
                    fresh(
                        &mut body,
                        format!("slinear({x}, {out}, c={c})"),
                        vec![n, out],
                        &mut values,
                    );
                }
                2 => fresh(&mut body, format!("batchnorm({x})"), s.clone(), &mut values),
                3 => fresh(
                    &mut body,
                    format!("{}({x})", rng.pick(ACTIVATIONS)),
                    s.clone(),
                    &mut values,
                ),
                4 => fresh(&mut body, elementwise(&mut rng, x), s.clone(), &mut values),
                5 => {
                    let op = if rng.chance(50) {
                        format!("affine({x}, bias={})", rng.chance(50))
                    } else {
                        format!("batchnorm({x}, training=true)")
                    };
                    fresh(&mut body, op, s.clone(), &mut values);
                }
                6 => fresh(
                    &mut body,
                    format!("transpose({x}, perm=[1, 0])"),
                    vec![f, n],
                    &mut values,
                ),
                _ => fresh(&mut body, format!("softmax({x})"), s.clone(), &mut values),
            }
            continue;
        }
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        match rng.range(0, 16) {
            0 | 1 => {
                // conv2d
                let groups = *rng.pick(&divisors(c));
                let out = groups * rng.range(1, 3);
                let (kh, kw) = (rng.range(1, 3), rng.range(1, 3));
                let (sh, sw) = (rng.range(1, 2), rng.range(1, 2));
                let (ph, pw) = (rng.range(0, kh / 2), rng.range(0, kw / 2));
                let d = if rng.chance(20) { 2 } else { 1 };
                let (Some(oh), Some(ow)) = (fits(h, kh, sh, ph, d), fits(w, kw, sw, pw, d)) else {
                    continue;
                };
                let bias = rng.chance(40);
                fresh(
                    &mut body,
                    format!(
                        "conv2d({x}, {out}, kernel={}, stride={}, pad={}, dilation={d}, groups={groups}, bias={bias})",
                        pair(kh, kw),
                        pair(sh, sw),
                        pair(ph, pw)
                    ),
                    vec![n, out, oh, ow],
                    &mut values,
                );
            }
            2..=4 => {
                // sconv2d
                let groups = *rng.pick(&divisors(c));
                let cg = c / groups;
                let out = groups * rng.range(1, 3);
                let sc = rng.range(1, cg);
                let (kh, kw) = (rng.range(1, 4), rng.range(1, 4));
                let (nh, nw) = (rng.range(1, kh), rng.range(1, kw));
                let (sh, sw) = (rng.range(1, 2), rng.range(1, 2));
                let (ph, pw) = (rng.range(0, kh / 2), rng.range(0, kw / 2));
                let (Some(oh), Some(ow)) = (fits(h, kh, sh, ph, 1), fits(w, kw, sw, pw, 1)) else {
                    continue;
                };
                let bias = rng.chance(30);
                fresh(
                    &mut body,
                    format!(
                        "sconv2d({x}, {out}, kernel={}, c={sc}, n={}, stride={}, pad={}, groups={groups}, bias={bias})",
                        pair(kh, kw),
                        pair(nh, nw),
                        pair(sh, sw),
                        pair(ph, pw)
                    ),
                    vec![n, out, oh, ow],
                    &mut values,
                );
            }
            5 => {
                let op = match rng.range(0, 3) {
                    0 | 1 => format!("batchnorm({x})"),
                    2 => format!("batchnorm({x}, training=true)"),
                    _ => format!("affine({x}, bias={})", rng.chance(70)),
                };
                fresh(&mut body, op, s.clone(), &mut values);
            }
            6 => fresh(
                &mut body,
                format!("{}({x})", rng.pick(ACTIVATIONS)),
                s.clone(),
                &mut values,
            ),
            7 => {
                let op = *rng.pick(&["maxpool", "avgpool", "sumpool"]);
                let k = rng.range(1, 3);
                let stride = if op == "sumpool" {
                    rng.range(1, 2)
                } else {
                    rng.range(1, k)
                };
                let pad = rng.range(0, k / 2);
                let (Some(mut oh), Some(mut ow)) =
                    (fits(h, k, stride, pad, 1), fits(w, k, stride, pad, 1))
                else {
                    continue;
                };
                let mut extra = String::new();
                if op != "sumpool" && rng.chance(30) {
                    extra.push_str(", ceil_mode=true");
                    oh = ceil_fits(h, k, stride, pad);
                    ow = ceil_fits(w, k, stride, pad);
                }
                if op == "avgpool" && rng.chance(40) {
                    extra.push_str(", count_include_pad=false");
                }
                fresh(
                    &mut body,
                    format!("{op}({x}, kernel={k}, stride={stride}, pad={pad}{extra})"),
                    vec![n, c, oh, ow],
                    &mut values,
                );
            }
            8 => {
                // A residual sum or product with another tensor of the same shape, or an SE gate.
                let same: Vec<Value> = values
                    .iter()
                    .filter(|v| v.shape == s && v.name != *x)
                    .cloned()
                    .collect();
                if let Some(other) = same.first() {
                    let op = *rng.pick(&["+", "+", "+", "*", "*", "-"]);
                    fresh(
                        &mut body,
                        format!("{x} {op} {}", other.name),
                        s.clone(),
                        &mut values,
                    );
                } else {
                    fresh(
                        &mut body,
                        format!("{x} * sigmoid(global_avgpool({x}))"),
                        s.clone(),
                        &mut values,
                    );
                }
            }
            9 => {
                let same: Vec<Value> = values
                    .iter()
                    .filter(|v| v.shape.len() == 4 && v.shape[0] == n && v.shape[2..] == s[2..])
                    .cloned()
                    .collect();
                let other = rng.pick(&same).clone();
                fresh(
                    &mut body,
                    format!("concat({x}, {})", other.name),
                    vec![n, c + other.shape[1], h, w],
                    &mut values,
                );
            }
            10 => {
                if h * w > 100 {
                    continue;
                }
                let mode = *rng.pick(&["nearest", "bilinear"]);
                fresh(
                    &mut body,
                    format!("upsample({x}, scale=2, mode=\"{mode}\")"),
                    vec![n, c, 2 * h, 2 * w],
                    &mut values,
                );
            }
            11 => {
                // Upsampling (or shrinking) to a size, in every mode.
                let (oh, ow) = (rng.range(1, 14), rng.range(1, 14));
                let mode = *rng.pick(&[
                    "mode=\"nearest\"",
                    "mode=\"nearest-exact\"",
                    "mode=\"bilinear\"",
                    "mode=\"bilinear\", align_corners=true",
                ]);
                fresh(
                    &mut body,
                    format!("upsample({x}, size=({oh}, {ow}), {mode})"),
                    vec![n, c, oh, ow],
                    &mut values,
                );
            }
            12 => fresh(&mut body, elementwise(&mut rng, x), s.clone(), &mut values),
            13 => {
                let (t, l, b, r) = (
                    rng.range(0, 2),
                    rng.range(0, 2),
                    rng.range(0, 2),
                    rng.range(0, 2),
                );
                let value = if rng.chance(70) { "0.0" } else { "-0.5" };
                fresh(
                    &mut body,
                    format!("pad({x}, top={t}, left={l}, bottom={b}, right={r}, value={value})"),
                    vec![n, c, h + t + b, w + l + r],
                    &mut values,
                );
            }
            15 => {
                // A permutation of the axes (the default reverses them).
                let perm = *rng.pick(&[
                    [0, 1, 3, 2],
                    [0, 2, 3, 1],
                    [0, 3, 1, 2],
                    [1, 0, 2, 3],
                    [2, 1, 0, 3],
                    [3, 2, 1, 0],
                ]);
                let written = if perm == [3, 2, 1, 0] && rng.chance(50) {
                    format!("transpose({x})")
                } else {
                    format!(
                        "transpose({x}, perm=[{}, {}, {}, {}])",
                        perm[0], perm[1], perm[2], perm[3]
                    )
                };
                let dims = [n, c, h, w];
                fresh(
                    &mut body,
                    written,
                    perm.iter().map(|&a| dims[a]).collect(),
                    &mut values,
                );
            }
            _ => {
                fresh(
                    &mut body,
                    format!("flatten(global_avgpool({x}))"),
                    vec![n, c],
                    &mut values,
                );
            }
        }
    }
    let last = values.last().unwrap().name.clone();
    let mut outputs = vec![last.clone()];
    if values.len() > 2 && rng.chance(30) {
        let other = values[rng.range(1, values.len() - 2)].name.clone();
        if other != last {
            outputs.push(other);
        }
    }
    format!(
        "model generated(x: [{batch}, {channels}, {h}, {w}]) {{\n{body}    return {};\n}}\n",
        outputs.join(", ")
    )
}
