//! `scc::advise` on structured layers whose declared structure is not one of the standard
//! candidates: it is scored and listed too, by the kernel its `alpha` composes to.

use scc::compiler::advise::ScoredKernel;
use scc::{Model, advise};

#[test]
fn a_declared_structure_outside_the_candidates_is_scored_and_listed() {
    let model = Model::from_source(
        "m.sc",
        "model m(x: [2, 16, 6, 6]) {
            let conv = sconv2d(x, 8, kernel=3, pad=1, c=3, n=2);
            let fc = slinear(flatten(global_avgpool(conv)), 4, c=5);
            return fc;
        }",
        None,
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let weights = model.random_weights(7);
    let advice = advise(&model, &weights, 1e-3);
    let summary: Vec<(&str, &str, Vec<usize>, ScoredKernel)> = advice
        .layers
        .iter()
        .map(|l| (l.layer.as_str(), l.op, l.weight_shape.clone(), l.kernel))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "conv",
                "sconv2d",
                vec![8, 16, 3, 3],
                ScoredKernel::ComposedAlpha
            ),
            ("fc", "slinear", vec![4, 8], ScoredKernel::ComposedAlpha),
        ]
    );
    for (layer, (c, n)) in advice.layers.iter().zip([(3, [2, 2]), (5, [1, 1])]) {
        // Not among c ∈ {C, C/2, C/4, C/8}: appended after the standard candidates.
        let declared = layer.declared.expect("declared structure");
        assert_eq!(declared, layer.candidates.len() - 1, "{}", layer.layer);
        let candidate = &layer.candidates[declared];
        assert_eq!((candidate.c, candidate.n), (c, n), "{}", layer.layer);
        assert!(!candidate.dense);
        // The composed kernel lies on its own structure (up to f32 rounding of the kernel).
        assert!(
            candidate.relative_residual < 1e-6,
            "{}: {}",
            layer.layer,
            candidate.relative_residual
        );
        // The best within the tolerance is at most as costly as the declared structure.
        let best = layer.best.expect("a structure within the tolerance");
        assert!(layer.candidates[best].relative_residual <= 1e-3);
        assert!(
            layer.candidates[best].macs <= candidate.macs,
            "{}",
            layer.layer
        );
    }
}
