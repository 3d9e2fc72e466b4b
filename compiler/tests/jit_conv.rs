//! JIT convolutions equal the interpreter (dense, grouped, depthwise, strided, dilated,
//! padded, decomposed structured convs, fused epilogues), for several thread counts.

use scc_compiler::codegen::jit::CompiledModel;
use scc_compiler::passes::{PassManager, PassOptions};
use scc_compiler::target::{Target, Tier};
use scc_runtime::Tensor;
use scc_runtime::random::WeightRng;
use std::collections::BTreeMap;

fn check(source: &str) {
    let file = scc_lang::parse(&scc_lang::SourceFile::new("t.sc", source)).unwrap();
    let graph =
        scc_compiler::lower::lower(&file, None).unwrap_or_else(|e| panic!("{}", e.0.message));
    let weights = scc_compiler::weights::Weights::random(&graph, 5).unwrap();
    let optimized = PassManager::new(PassOptions::default())
        .unwrap()
        .run(&graph, Some(&weights))
        .unwrap()
        .graph;
    let inputs: BTreeMap<String, Tensor> = optimized
        .inputs()
        .iter()
        .enumerate()
        .map(|(i, (name, id))| {
            (
                name.clone(),
                WeightRng::new(i as u64 + 1).uniform(optimized.node(*id).shape.as_slice(), 1.0),
            )
        })
        .collect();
    let expected = scc_compiler::interp::run(&optimized, &weights, &inputs).unwrap();
    let mut first: Option<Vec<(String, Tensor)>> = None;
    for threads in [1, 3] {
        let compiled = CompiledModel::compile(
            &optimized,
            &weights,
            &Target::host_with(Some(Tier::V128)).unwrap(),
            threads,
        )
        .unwrap();
        let got = compiled.run(&inputs).unwrap();
        for ((name, g), (_, e)) in got.iter().zip(&expected) {
            let scale = e.data().iter().fold(1f32, |m, v| m.max(v.abs()));
            let diff = g.max_abs_diff(e);
            assert!(
                diff <= 1e-4 * scale,
                "{name}: diff {diff} (threads {threads})\n{source}"
            );
        }
        if let Some(first) = &first {
            assert_eq!(first, &got, "thread counts disagree");
        }
        first = Some(got);
    }
}

#[test]
fn dense_convolutions() {
    check(
        "model m(x: [1, 3, 9, 9]) { let c = conv2d(x, 5, kernel=3, pad=1, bias=true); return c; }",
    );
    check(
        "model m(x: [2, 4, 11, 11]) { let c = conv2d(x, 6, kernel=3, stride=2, pad=1, groups=2); return c; }",
    );
    check(
        "model m(x: [1, 4, 10, 13]) { let c = conv2d(x, 4, kernel=3, pad=2, dilation=2, bias=true); return c; }",
    );
    check(
        "model m(x: [1, 4, 7, 12]) { let c = conv2d(x, 3, kernel=(1, 3), stride=(1, 2), pad=(0, 1)); return c; }",
    );
    check(
        "model m(x: [1, 3, 23, 21]) { let c = conv2d(x, 13, kernel=7, stride=2, pad=3); return c; }",
    );
    check("model m(x: [1, 16, 8, 8]) { let c = conv2d(x, 32, kernel=1); return c; }");
    check(
        "model m(x: [1, 8, 9, 7]) { let c = conv2d(x, 8, kernel=3, pad=1, groups=8); return c; }",
    );
    check("model m(x: [1, 1, 3, 2]) { let c = conv2d(x, 1, kernel=1); return c; }");
}

#[test]
fn fused_epilogues() {
    check(
        "model m(x: [1, 8, 12, 10]) {
            let c = conv2d(x, 8, kernel=3, pad=1);
            let bn = batchnorm(c);
            return relu(bn + x);
        }",
    );
    check(
        "model m(x: [2, 6, 5, 19]) {
            let c = conv2d(x, 6, kernel=3, pad=1, bias=true);
            return hardswish(sigmoid(c) + x);
        }",
    );
}
