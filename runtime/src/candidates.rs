//! Candidate structures for a dense kernel: how well each structure `(c, n)` fits it.
//!
//! For a conv kernel `W [O, Cg, kh, kw]` the candidates are `c ∈ {Cg, Cg/2, Cg/4, Cg/8}`
//! (`1` for a depthwise kernel) and `n` from 1 to the kernel size (`(min(n, kh), min(n, kw))`);
//! for a linear weight `[O, F]`, `c ∈ {F, F/2, F/4, F/8}`. Each is scored by the relative
//! residual of the least-squares projection ([`crate::structure::project_to_structure`]).
//! The candidate `c = Cg, n = (kh, kw)` is the dense layer itself (residual 0).

use crate::structure;
use crate::tensor::Tensor;

/// One structure for a dense kernel, scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Structured channels: `alpha` is `[O, c, n.0, n.1]` (or `[O, c]` for a linear layer).
    pub c: usize,
    /// Structured kernel size (1, 1 for a linear layer).
    pub n: (usize, usize),
    /// `‖W − compose(project(W))‖ / ‖W‖`.
    pub relative_residual: f64,
    /// Multiplications per output element of the structured layer: `c · n.0 · n.1`.
    pub taps: usize,
    /// Elements of `alpha`.
    pub params: usize,
    /// Whether this is the unconstrained (dense) structure.
    pub dense: bool,
}

fn channel_choices(cg: usize) -> Vec<usize> {
    let mut choices: Vec<usize> = [cg, cg / 2, cg / 4, cg / 8]
        .into_iter()
        .filter(|&c| c >= 1)
        .collect();
    choices.dedup();
    choices
}

/// Every candidate structure of a conv kernel `[O, Cg, kh, kw]`, densest first.
///
/// # Panics
/// Unless `weight` is rank 4 with no zero dimension.
pub fn conv_candidates(weight: &Tensor) -> Vec<Candidate> {
    let &[o, cg, kh, kw] = weight.shape() else {
        panic!(
            "conv_candidates: expected [O, Cg, kh, kw], got {:?}",
            weight.shape()
        );
    };
    let mut sizes: Vec<(usize, usize)> = (1..=kh.max(kw))
        .rev()
        .map(|n| (n.min(kh), n.min(kw)))
        .collect();
    sizes.dedup();
    let mut out = Vec::new();
    for c in channel_choices(cg) {
        for &(nh, nw) in &sizes {
            let projection = structure::project_to_structure(weight, c, nh, nw);
            out.push(Candidate {
                c,
                n: (nh, nw),
                relative_residual: projection.relative_residual,
                taps: c * nh * nw,
                params: o * c * nh * nw,
                dense: c == cg && (nh, nw) == (kh, kw),
            });
        }
    }
    out
}

/// Every candidate structure of a linear weight `[O, F]`, densest first.
///
/// # Panics
/// Unless `weight` is rank 2 with no zero dimension.
pub fn linear_candidates(weight: &Tensor) -> Vec<Candidate> {
    let &[o, f] = weight.shape() else {
        panic!(
            "linear_candidates: expected [O, F], got {:?}",
            weight.shape()
        );
    };
    channel_choices(f)
        .into_iter()
        .map(|c| Candidate {
            c,
            n: (1, 1),
            relative_residual: structure::project_to_structure_linear(weight, c).relative_residual,
            taps: c,
            params: o * c,
            dense: c == f,
        })
        .collect()
}

/// The structured (non-dense) candidate with the fewest taps whose residual is at most
/// `tolerance` (ties: the smaller residual), if any.
pub fn best_within(candidates: &[Candidate], tolerance: f64) -> Option<&Candidate> {
    candidates
        .iter()
        .filter(|c| !c.dense && c.relative_residual <= tolerance)
        .min_by(|a, b| {
            a.taps
                .cmp(&b.taps)
                .then(a.relative_residual.total_cmp(&b.relative_residual))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_structured_kernel_is_found_and_a_dense_one_is_not() {
        // alpha [2, 2, 2, 2] composed into a [2, 4, 3, 3] kernel: c = Cg/2, n = 2 fits exactly.
        let alpha = Tensor::from_vec(
            [2, 2, 2, 2],
            (0..16).map(|i| ((i * 5) % 7) as f32 - 3.0).collect(),
        );
        let weight = structure::compose_alpha(&alpha, 4, 3, 3);
        let candidates = conv_candidates(&weight);
        let pairs: Vec<(usize, (usize, usize))> = candidates.iter().map(|c| (c.c, c.n)).collect();
        assert_eq!(
            pairs,
            [
                (4, (3, 3)),
                (4, (2, 2)),
                (4, (1, 1)),
                (2, (3, 3)),
                (2, (2, 2)),
                (2, (1, 1)),
                (1, (3, 3)),
                (1, (2, 2)),
                (1, (1, 1))
            ]
        );
        assert!(candidates[0].dense && candidates[0].relative_residual < 1e-7);
        let best = best_within(&candidates, 1e-3).unwrap();
        assert_eq!((best.c, best.n, best.taps, best.params), (2, (2, 2), 8, 16));
        assert!(best.relative_residual < 1e-6);
        // A spike is far from every structure but the dense one.
        let mut spike = vec![0.0; 36];
        spike[4] = 1.0;
        let spike = Tensor::from_vec([1, 4, 3, 3], spike);
        assert!(best_within(&conv_candidates(&spike), 1e-3).is_none());
        let linear = linear_candidates(&Tensor::from_vec([1, 4], vec![1.0, 2.0, 2.0, 1.0]));
        let fits: Vec<(usize, bool)> = linear
            .iter()
            .map(|c| (c.c, c.relative_residual < 1e-6))
            .collect();
        // [1, 2, 2, 1] = [1, 1, 1, 0] + [0, 1, 1, 1]: c = 2 fits, c = 1 does not.
        assert_eq!(fits, [(4, true), (2, true), (1, false)]);
    }
}
