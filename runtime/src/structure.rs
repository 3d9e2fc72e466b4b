//! The structured-convolution algebra of Bhalgat et al. (2020), *Structured Convolutions for
//! Efficient Neural Network Design*.
//!
//! A structured kernel `W [O, Cg, kh, kw]` is a superposition of `c * nh * nw` all-ones boxes of
//! size `(Cg-c+1) x (kh-nh+1) x (kw-nw+1)`, weighted by `alpha [O, c, nh, nw]`:
//!
//! ```text
//! W[o, i, y, x] = Σ_{a<c, p<nh, q<nw} alpha[o, a, p, q]
//!                 · [a ≤ i ≤ a+Cg−c] · [p ≤ y ≤ p+kh−nh] · [q ≤ x ≤ q+kw−nw]
//! ```
//!
//! In matrix form `vec(W[o]) = A · vec(alpha[o])` with `A = B_c ⊗ B_h ⊗ B_w` (row-major
//! vectorisation), where the box matrix `B_m` of size `L × n` has ones in column `j` on rows
//! `j ..= j + L − n`. Hence `conv2d(x, W) == conv2d(sumpool3d(pad(x), box), alpha)`
//! (see [`crate::kernels::sumpool3d`]), and the least-squares projection of a dense kernel onto
//! the structure is `alpha = A⁺ vec(W)` with `A⁺ = B_c⁺ ⊗ B_h⁺ ⊗ B_w⁺`, applied axis by axis.

use crate::tensor::Tensor;

/// The sum-pooling window `(Cg−c+1, kh−nh+1, kw−nw+1)` of a structured convolution with `cg`
/// input channels per group, kernel `kh × kw` and structure `c × nh × nw`.
///
/// # Panics
/// Unless `1 <= c <= cg`, `1 <= nh <= kh` and `1 <= nw <= kw`.
pub fn structure_box(
    cg: usize,
    c: usize,
    kh: usize,
    nh: usize,
    kw: usize,
    nw: usize,
) -> (usize, usize, usize) {
    assert!(
        (1..=cg).contains(&c) && (1..=kh).contains(&nh) && (1..=kw).contains(&nw),
        "structure: need 1 <= c <= Cg, 1 <= nh <= kh, 1 <= nw <= kw; got c={c}, Cg={cg}, \
         nh={nh}, kh={kh}, nw={nw}, kw={kw}"
    );
    (cg - c + 1, kh - nh + 1, kw - nw + 1)
}

/// Composes in `f64`: `alpha` is `[o, c, nh, nw]` row-major, the result `[o, cg, kh, kw]`.
fn compose_f64(
    alpha: &[f64],
    o: usize,
    (c, nh, nw): (usize, usize, usize),
    (cg, kh, kw): (usize, usize, usize),
) -> Vec<f64> {
    let (bc, bh, bw) = structure_box(cg, c, kh, nh, kw, nw);
    let mut w = vec![0.0f64; o * cg * kh * kw];
    for oc in 0..o {
        let dense = &mut w[oc * cg * kh * kw..][..cg * kh * kw];
        for a in 0..c {
            for p in 0..nh {
                for q in 0..nw {
                    let v = alpha[((oc * c + a) * nh + p) * nw + q];
                    // Add v on the box [a, a+bc) x [p, p+bh) x [q, q+bw).
                    for i in a..a + bc {
                        for y in p..p + bh {
                            let row = &mut dense[(i * kh + y) * kw..][..kw];
                            for cell in &mut row[q..q + bw] {
                                *cell += v;
                            }
                        }
                    }
                }
            }
        }
    }
    w
}

fn dims4(t: &Tensor, what: &str) -> (usize, usize, usize, usize) {
    match *t.shape() {
        [a, b, c, d] => (a, b, c, d),
        _ => panic!(
            "{what}: expected a rank-4 tensor, got shape {:?}",
            t.shape()
        ),
    }
}

fn dims2(t: &Tensor, what: &str) -> (usize, usize) {
    match *t.shape() {
        [a, b] => (a, b),
        _ => panic!(
            "{what}: expected a rank-2 tensor, got shape {:?}",
            t.shape()
        ),
    }
}

fn widen(t: &Tensor) -> Vec<f64> {
    t.data().iter().map(|&v| f64::from(v)).collect()
}

/// The dense kernel `W [O, cg, kh, kw]` that `alpha [O, c, nh, nw]` stands for (see the module
/// documentation). Sums are accumulated in `f64`.
///
/// # Panics
/// Unless `alpha` is rank 4 with `1 <= c <= cg`, `1 <= nh <= kh`, `1 <= nw <= kw`.
pub fn compose_alpha(alpha: &Tensor, cg: usize, kh: usize, kw: usize) -> Tensor {
    let (o, c, nh, nw) = dims4(alpha, "compose_alpha alpha");
    let w = compose_f64(&widen(alpha), o, (c, nh, nw), (cg, kh, kw));
    Tensor::from_vec([o, cg, kh, kw], w.into_iter().map(|v| v as f32).collect())
}

/// The dense weight `W [O, features]` of a structured linear layer with `alpha [O, c]`:
/// `W[o, i] = Σ_{a<c} alpha[o, a] · [a ≤ i ≤ a + features − c]`.
///
/// # Panics
/// Unless `alpha` is rank 2 with `1 <= c <= features`.
pub fn compose_alpha_linear(alpha: &Tensor, features: usize) -> Tensor {
    let (o, c) = dims2(alpha, "compose_alpha_linear alpha");
    let w = compose_f64(&widen(alpha), o, (c, 1, 1), (features, 1, 1));
    Tensor::from_vec([o, features], w.into_iter().map(|v| v as f32).collect())
}

/// The result of projecting a dense kernel onto the structure.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// The least-squares structure parameters (`[O, c, nh, nw]`, or `[O, c]` for linear).
    pub alpha: Tensor,
    /// `‖W − compose(alpha)‖_F / ‖W‖_F` for the returned (f32) `alpha`; 0 when `W` is 0.
    pub relative_residual: f64,
}

/// The box matrix `B` (`l × n`, row-major): column `j` has ones on rows `j ..= j + l − n`.
fn box_matrix(l: usize, n: usize) -> Vec<f64> {
    let mut b = vec![0.0; l * n];
    for j in 0..n {
        for i in j..=j + l - n {
            b[i * n + j] = 1.0;
        }
    }
    b
}

/// The pseudo-inverse `B⁺ = (BᵀB)⁻¹ Bᵀ` (`n × l`, row-major) of the box matrix, which has full
/// column rank (column `j` is the first with a one on row `j`). Solved by Cholesky in `f64`.
fn box_pseudo_inverse(l: usize, n: usize) -> Vec<f64> {
    assert!(
        (1..=l).contains(&n),
        "box matrix: need 1 <= n <= l, got n={n}, l={l}"
    );
    if n == l {
        // B = I.
        let mut identity = vec![0.0; n * n];
        for r in 0..n {
            identity[r * n + r] = 1.0;
        }
        return identity;
    }
    let b = box_matrix(l, n);
    // G = BᵀB (n × n, symmetric positive definite): columns r and s of B overlap on
    // max(0, window − |r − s|) rows.
    let window = l - n + 1;
    let mut g = vec![0.0; n * n];
    for r in 0..n {
        for s in 0..n {
            g[r * n + s] = window.saturating_sub(r.abs_diff(s)) as f64;
        }
    }
    // Cholesky: G = L Lᵀ with L lower triangular.
    let mut chol = vec![0.0; n * n];
    for r in 0..n {
        for s in 0..=r {
            let dot: f64 = (0..s).map(|k| chol[r * n + k] * chol[s * n + k]).sum();
            if r == s {
                let d = g[r * n + r] - dot;
                assert!(
                    d > 0.0,
                    "box matrix {l}x{n}: Gram matrix is not positive definite"
                );
                chol[r * n + r] = d.sqrt();
            } else {
                chol[r * n + s] = (g[r * n + s] - dot) / chol[s * n + s];
            }
        }
    }
    // Lᵀ row-major, for the backward substitution to read rows.
    let mut chol_t = vec![0.0; n * n];
    for r in 0..n {
        for k in 0..=r {
            chol_t[k * n + r] = chol[r * n + k];
        }
    }
    // Solve G X = Bᵀ column by column: L z = rhs (forward), Lᵀ x = z (backward).
    let mut pinv = vec![0.0; n * l];
    let (mut z, mut x) = (vec![0.0; n], vec![0.0; n]);
    for col in 0..l {
        let rhs = &b[col * n..][..n];
        for r in 0..n {
            let dot: f64 = (0..r).map(|k| chol[r * n + k] * z[k]).sum();
            z[r] = (rhs[r] - dot) / chol[r * n + r];
        }
        for r in (0..n).rev() {
            let dot: f64 = (r + 1..n).map(|k| chol_t[r * n + k] * x[k]).sum();
            x[r] = (z[r] - dot) / chol[r * n + r];
        }
        for r in 0..n {
            pinv[r * l + col] = x[r];
        }
    }
    pinv
}

/// Multiplies `data`, viewed as `[outer, len, inner]`, by `mat` (`rows × len`) along its middle
/// axis: `out[u, r, v] = Σ_k mat[r, k] · data[u, k, v]`, giving `[outer, rows, inner]`.
fn apply_along_axis(
    data: &[f64],
    (outer, len, inner): (usize, usize, usize),
    mat: &[f64],
    rows: usize,
) -> Vec<f64> {
    let identity = rows == len
        && mat
            .iter()
            .enumerate()
            .all(|(i, &m)| m == if i / len == i % len { 1.0 } else { 0.0 });
    if identity {
        return data.to_vec();
    }
    // `matᵀ`, so that for each k the updates of every (r, v) read contiguous memory; each
    // output still sums over k in increasing order.
    let mut mat_t = vec![0.0; len * rows];
    for r in 0..rows {
        for k in 0..len {
            mat_t[k * rows + r] = mat[r * len + k];
        }
    }
    let mut out = vec![0.0; outer * rows * inner];
    for u in 0..outer {
        let src = &data[u * len * inner..][..len * inner];
        let dst = &mut out[u * rows * inner..][..rows * inner];
        for k in 0..len {
            let src_row = &src[k * inner..][..inner];
            for (r, &m) in mat_t[k * rows..][..rows].iter().enumerate() {
                for (d, &s) in dst[r * inner..][..inner].iter_mut().zip(src_row) {
                    *d += m * s;
                }
            }
        }
    }
    out
}

/// Projects a dense kernel `weight [O, cg, kh, kw]` onto the structure `c × nh × nw` by least
/// squares (`alpha = A⁺ vec(W)`, separably along each axis, in `f64`), and reports the relative
/// residual of the returned alpha.
///
/// # Panics
/// Unless `weight` is rank 4 with `1 <= c <= cg`, `1 <= nh <= kh`, `1 <= nw <= kw`.
pub fn project_to_structure(weight: &Tensor, c: usize, nh: usize, nw: usize) -> Projection {
    let (o, cg, kh, kw) = dims4(weight, "project_to_structure weight");
    structure_box(cg, c, kh, nh, kw, nw); // validates the sizes
    let w = widen(weight);
    // Width, then height, then channels.
    let t = apply_along_axis(&w, (o * cg * kh, kw, 1), &box_pseudo_inverse(kw, nw), nw);
    let t = apply_along_axis(&t, (o * cg, kh, nw), &box_pseudo_inverse(kh, nh), nh);
    let t = apply_along_axis(&t, (o, cg, nh * nw), &box_pseudo_inverse(cg, c), c);
    let alpha = Tensor::from_vec([o, c, nh, nw], t.into_iter().map(|v| v as f32).collect());

    let recomposed = compose_f64(&widen(&alpha), o, (c, nh, nw), (cg, kh, kw));
    let norm_w: f64 = w.iter().map(|v| v * v).sum::<f64>().sqrt();
    let norm_r: f64 = w
        .iter()
        .zip(&recomposed)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let relative_residual = if norm_w == 0.0 { 0.0 } else { norm_r / norm_w };
    Projection {
        alpha,
        relative_residual,
    }
}

/// Projects a dense linear weight `[O, F]` onto the structure with `c` parameters per output;
/// the returned alpha is `[O, c]`.
///
/// # Panics
/// Unless `weight` is rank 2 with `1 <= c <= F`.
pub fn project_to_structure_linear(weight: &Tensor, c: usize) -> Projection {
    let (o, f) = dims2(weight, "project_to_structure_linear weight");
    let as4 = weight
        .clone()
        .reshape([o, f, 1, 1])
        .expect("same element count");
    let p = project_to_structure(&as4, c, 1, 1);
    Projection {
        alpha: p.alpha.reshape([o, c]).expect("same element count"),
        relative_residual: p.relative_residual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_sizes() {
        assert_eq!(structure_box(8, 4, 3, 2, 3, 2), (5, 2, 2));
        assert_eq!(structure_box(1, 1, 1, 1, 1, 1), (1, 1, 1));
    }

    #[test]
    #[should_panic(expected = "structure")]
    fn box_rejects_oversized_structure() {
        structure_box(2, 3, 3, 2, 3, 2);
    }

    #[test]
    fn compose_hand_computed() {
        // One output, c=1 of Cg=2, 2x2 alpha in a 3x3 kernel: boxes of 2x2x2.
        let alpha = Tensor::from_vec([1, 1, 2, 2], vec![1., 10., 100., 1000.]);
        let w = compose_alpha(&alpha, 2, 3, 3);
        #[rustfmt::skip]
        let plane = [
            1., 11., 10.,
            101., 1111., 1010.,
            100., 1100., 1000.,
        ];
        let want: Vec<f32> = plane.iter().chain(plane.iter()).copied().collect();
        assert_eq!(w, Tensor::from_vec([1, 2, 3, 3], want));

        let alpha = Tensor::from_vec([2, 2], vec![1., 2., 3., -1.]);
        let w = compose_alpha_linear(&alpha, 4);
        assert_eq!(
            w,
            Tensor::from_vec([2, 4], vec![1., 3., 3., 2., 3., 2., 2., -1.])
        );
    }

    #[test]
    fn pseudo_inverse_is_left_inverse() {
        for l in 1..7 {
            for n in 1..=l {
                let b = box_matrix(l, n);
                let p = box_pseudo_inverse(l, n);
                for r in 0..n {
                    for s in 0..n {
                        let v: f64 = (0..l).map(|k| p[r * l + k] * b[k * n + s]).sum();
                        let want = if r == s { 1.0 } else { 0.0 };
                        assert!((v - want).abs() < 1e-12, "l={l} n={n}: {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn projection_of_zero_and_identity_structure() {
        let p = project_to_structure(&Tensor::zeros([2, 3, 3, 3]), 2, 2, 2);
        assert_eq!(p.alpha, Tensor::zeros([2, 2, 2, 2]));
        assert_eq!(p.relative_residual, 0.0);
        // c = Cg, nh = kh, nw = kw: the structure is unconstrained and alpha = W.
        let w = Tensor::from_vec([1, 2, 1, 2], vec![1., -2., 3., 0.5]);
        let p = project_to_structure(&w, 2, 1, 2);
        assert!(p.alpha.max_abs_diff(&w) < 1e-6);
        assert!(p.relative_residual < 1e-7);
        // A lone spike in a 1x3 row, projected onto boxes of width 2 (n=2): the best fit of
        // [1, 0, 0] by a*[1,1,0] + b*[0,1,1] is a = 2/3, b = -1/3.
        let w = Tensor::from_vec([1, 3], vec![1., 0., 0.]);
        let p = project_to_structure_linear(&w, 2);
        assert!(
            p.alpha
                .max_abs_diff(&Tensor::from_vec([1, 2], vec![2. / 3., -1. / 3.]))
                < 1e-6
        );
        // Residual [1,0,0] - [2/3, 1/3, -1/3] = [1/3, -1/3, 1/3]: norm 1/sqrt(3).
        assert!((p.relative_residual - 1.0 / 3f64.sqrt()).abs() < 1e-6);
    }
}
