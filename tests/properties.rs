//! Property tests over randomly generated models.
//!
//! - A structured convolution, executed as sum-pool + small conv, equals a dense `conv2d`
//!   whose kernel is the composition of `alpha` (random C, c, k, n, stride, pad, groups).
//! - Parsing and lowering never panic, whatever the source.

mod common;

use proptest::prelude::*;
use scc::runtime::structure::compose_alpha;
use scc::{BindOptions, Model, Tensor};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct SconvCase {
    batch: usize,
    groups: usize,
    cg: usize,
    out_per_group: usize,
    c: usize,
    kernel: (usize, usize),
    n: (usize, usize),
    stride: (usize, usize),
    pad: (usize, usize),
    size: (usize, usize),
    bias: bool,
}

fn sconv_case() -> impl Strategy<Value = SconvCase> {
    (
        1usize..=2,
        1usize..=3,
        1usize..=5,
        1usize..=3,
        (1usize..=4, 1usize..=4),
        any::<bool>(),
    )
        .prop_flat_map(|(batch, groups, cg, out_per_group, kernel, bias)| {
            (
                Just((batch, groups, cg, out_per_group, kernel, bias)),
                1..=cg,
                (1..=kernel.0, 1..=kernel.1),
                (1usize..=3, 1usize..=3),
                (0..=kernel.0 / 2, 0..=kernel.1 / 2),
                (kernel.0..kernel.0 + 7, kernel.1..kernel.1 + 7),
            )
        })
        .prop_map(
            |((batch, groups, cg, out_per_group, kernel, bias), c, n, stride, pad, size)| {
                SconvCase {
                    batch,
                    groups,
                    cg,
                    out_per_group,
                    c,
                    kernel,
                    n,
                    stride,
                    pad,
                    size,
                    bias,
                }
            },
        )
}

fn source(case: &SconvCase, op: &str) -> String {
    let channels = case.groups * case.cg;
    let out = case.groups * case.out_per_group;
    let structure = if op == "sconv2d" {
        format!(", c={}, n=({}, {})", case.c, case.n.0, case.n.1)
    } else {
        String::new()
    };
    format!(
        "model m(x: [{}, {channels}, {}, {}]) {{\n    let layer = {op}(x, {out}, kernel=({}, {}){structure}, stride=({}, {}), pad=({}, {}), groups={}, bias={});\n    return layer;\n}}\n",
        case.batch,
        case.size.0,
        case.size.1,
        case.kernel.0,
        case.kernel.1,
        case.stride.0,
        case.stride.1,
        case.pad.0,
        case.pad.1,
        case.groups,
        case.bias
    )
}

proptest! {
    #![proptest_config(scc_testkit::config(96))]

    #[test]
    fn sumpool_execution_of_sconv2d_equals_conv2d_with_the_composed_kernel(case in sconv_case(), seed in 0u64..1000) {
        let structured = Model::from_source("s.sc", &source(&case, "sconv2d"), None).map_err(|e| TestCaseError::fail(e.render()))?;
        let dense = Model::from_source("d.sc", &source(&case, "conv2d"), None).map_err(|e| TestCaseError::fail(e.render()))?;
        let weights = structured.random_weights(seed);
        let alpha = weights.get("layer.alpha").unwrap();
        let mut dense_tensors: BTreeMap<String, Tensor> = BTreeMap::new();
        dense_tensors.insert("layer.weight".into(), compose_alpha(alpha, case.cg, case.kernel.0, case.kernel.1));
        if let Some(bias) = weights.get("layer.bias") {
            dense_tensors.insert("layer.bias".into(), bias.clone());
        }
        let (dense_weights, _) = dense.bind_weights(dense_tensors, &BindOptions::default()).map_err(|e| TestCaseError::fail(e.render()))?;
        let inputs = structured.random_inputs(seed);
        let got = structured.interpret(&weights, &inputs).unwrap();
        let expected = dense.interpret(&dense_weights, &inputs).unwrap();
        common::assert_close("sconv2d", &got[0].1, &expected[0].1);
    }
}

const SOURCES: &[&str] = &[
    include_str!("../examples/resnet20s.sc"),
    "block basic(x, ch: int, stride: int = 1) {\n    let conv1 = sconv2d(x, ch, kernel=3, stride=stride, pad=1, c=ch / 2, n=2);\n    let bn1 = batchnorm(conv1);\n    return relu(bn1 + x);\n}\nmodel tiny(image: [1, 16, 8, 8]) {\n    let l = basic(image, 16);\n    let p = flatten(global_avgpool(l));\n    let fc = slinear(p, 10, c=4);\n    return fc, softmax(fc);\n}\n",
    "model misc(x: [1, 6, 10, 10]) {\n    let mp = maxpool(x, kernel=3, stride=2, pad=1);\n    let cat = concat(sigmoid(mp), silu(mp));\n    let up = upsample(cat, scale=2, mode=\"bilinear\");\n    let s = sumpool(up, kernel=(3, 1), pad=(1, 0));\n    return s * global_avgpool(s);\n}\n",
];

fn mutate(source: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = source.chars().collect();
    for &(pos, kind, ch) in edits {
        if chars.is_empty() {
            chars.push(ch);
            continue;
        }
        let at = pos % chars.len();
        match kind % 4 {
            0 => {
                chars.remove(at);
            }
            1 => chars.insert(at, ch),
            2 => chars[at] = ch,
            _ => {
                let digit = char::from_digit((pos % 10) as u32, 10).unwrap();
                chars.insert(at, digit);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(scc_testkit::config(400))]

    #[test]
    fn parsing_and_lowering_never_panic_on_mutated_sources(
        which in 0..SOURCES.len(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), prop::sample::select(vec!['(', ')', '{', '}', '[', ']', ';', ',', '=', '+', '-', '*', '/', '0', '9', 'x', '"', ' ', '\n', 'c', ':'])), 1..6),
    ) {
        let text = mutate(SOURCES[which], &edits);
        if let Ok(model) = Model::from_source("mutated.sc", &text, None) {
            // A model that still lowers must also bind random weights and check its inputs.
            let weights = model.random_weights(0);
            let (_, reports) = model.bind_weights(weights.into_map(), &BindOptions::default()).unwrap();
            prop_assert!(reports.is_empty());
        } else {
            let err = Model::from_source("mutated.sc", &text, None).unwrap_err();
            prop_assert!(err.render().starts_with("error"));
        }
    }
}
