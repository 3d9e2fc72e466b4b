//! A dense, row-major (C order) `f32` tensor.

use crate::memory::MemoryError;

/// Why a [`Tensor`] could not be built or reshaped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The number of data elements does not match the product of the shape.
    #[error("shape {shape:?} holds {expected} elements but {found} data values were given")]
    DataLength {
        /// The requested shape.
        shape: Vec<usize>,
        /// The product of `shape`.
        expected: usize,
        /// The number of values supplied.
        found: usize,
    },
    /// The product of the shape does not fit in `usize`.
    #[error("shape {shape:?} has more elements than fit in memory")]
    Overflow {
        /// The requested shape.
        shape: Vec<usize>,
    },
    /// A reshape to a shape with a different number of elements.
    #[error("cannot reshape a tensor of shape {from:?} ({from_len} elements) to {to:?}")]
    Reshape {
        /// The current shape.
        from: Vec<usize>,
        /// Its number of elements.
        from_len: usize,
        /// The requested shape.
        to: Vec<usize>,
    },
}

/// A dense `f32` tensor stored in row-major (C) order.
///
/// Invariant: `data.len()` equals the product of `shape` (1 for the rank-0 shape `[]`).
/// Activations use the NCHW layout: `[N, C, H, W]` for images, `[N, F]` for features.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// The number of elements of `shape`, or `None` if it overflows `usize`.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

fn numel_or_panic(shape: &[usize]) -> usize {
    checked_numel(shape)
        .unwrap_or_else(|| panic!("tensor shape {shape:?} has more elements than fit in memory"))
}

impl Tensor {
    /// Builds a tensor, checking that `data` has exactly as many elements as `shape` describes.
    pub fn new(shape: impl Into<Vec<usize>>, data: Vec<f32>) -> Result<Tensor, ShapeError> {
        let shape = shape.into();
        let expected = checked_numel(&shape).ok_or_else(|| ShapeError::Overflow {
            shape: shape.clone(),
        })?;
        if expected != data.len() {
            return Err(ShapeError::DataLength {
                shape,
                expected,
                found: data.len(),
            });
        }
        Ok(Tensor { shape, data })
    }

    /// Builds a tensor from data the caller knows to match the shape (internal use: kernels and
    /// tests).
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`.
    #[track_caller]
    pub fn from_vec(shape: impl Into<Vec<usize>>, data: Vec<f32>) -> Tensor {
        match Tensor::new(shape, data) {
            Ok(t) => t,
            Err(e) => panic!("Tensor::from_vec: {e}"),
        }
    }

    /// A tensor of zeros. Panics if the element count overflows `usize`.
    pub fn zeros(shape: impl Into<Vec<usize>>) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of zeros, allocated fallibly: a shape too large for memory is a
    /// [`MemoryError`], never an abort.
    pub fn try_zeros(shape: impl Into<Vec<usize>>) -> Result<Tensor, MemoryError> {
        let shape = shape.into();
        let n = checked_numel(&shape).unwrap_or(usize::MAX);
        let data = crate::memory::try_vec(n, 0.0f32, || format!("a tensor of shape {shape:?}"))?;
        Ok(Tensor { shape, data })
    }

    /// A tensor with every element equal to `value`. Panics if the element count overflows
    /// `usize`.
    pub fn full(shape: impl Into<Vec<usize>>, value: f32) -> Tensor {
        let shape = shape.into();
        let n = numel_or_panic(&shape);
        Tensor {
            shape,
            data: vec![value; n],
        }
    }

    /// The dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The elements in row-major order, mutably (the shape cannot change).
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the tensor and returns its elements.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The same elements under a new shape with the same element count.
    pub fn reshape(self, new_shape: impl Into<Vec<usize>>) -> Result<Tensor, ShapeError> {
        let to = new_shape.into();
        if checked_numel(&to) != Some(self.data.len()) {
            return Err(ShapeError::Reshape {
                from: self.shape,
                from_len: self.data.len(),
                to,
            });
        }
        Ok(Tensor {
            shape: to,
            data: self.data,
        })
    }

    /// The largest element-wise `|self - other|`, for comparing a result against a reference.
    ///
    /// Returns `f32::INFINITY` if the shapes differ or if, at some position, exactly one of the
    /// two values is NaN or the two values are different infinities. Two NaNs, or two equal
    /// infinities, count as agreeing (difference 0). Returns 0 for empty tensors.
    pub fn max_abs_diff(&self, other: &Tensor) -> f32 {
        if self.shape != other.shape {
            return f32::INFINITY;
        }
        let mut worst = 0.0f32;
        for (&a, &b) in self.data.iter().zip(&other.data) {
            let d = if a.is_nan() || b.is_nan() {
                if a.is_nan() && b.is_nan() {
                    0.0
                } else {
                    f32::INFINITY
                }
            } else if a == b {
                0.0 // also covers equal infinities, whose difference would be NaN
            } else {
                (a - b).abs()
            };
            worst = worst.max(d);
        }
        worst
    }

    /// The largest `|x|` over all elements (0 for an empty tensor; NaNs are ignored).
    pub fn max_abs(&self) -> f32 {
        self.data.iter().fold(0.0f32, |m, &v| m.max(v.abs()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_length() {
        assert!(Tensor::new([2, 3], vec![0.0; 6]).is_ok());
        let err = Tensor::new([2, 3], vec![0.0; 5]).unwrap_err();
        assert_eq!(
            err,
            ShapeError::DataLength {
                shape: vec![2, 3],
                expected: 6,
                found: 5
            }
        );
        assert!(err.to_string().contains("[2, 3]"));
        assert!(matches!(
            Tensor::new([usize::MAX, 2], vec![]),
            Err(ShapeError::Overflow { .. })
        ));
        // Rank 0 holds one element.
        assert_eq!(Tensor::new(Vec::new(), vec![1.5]).unwrap().len(), 1);
    }

    #[test]
    fn accessors_and_reshape() {
        let t = Tensor::from_vec(vec![2, 2], vec![1.0, -2.0, 3.0, 0.5]);
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(t.rank(), 2);
        assert_eq!(t.len(), 4);
        assert!(!t.is_empty());
        assert_eq!(t.max_abs(), 3.0);
        let r = t.clone().reshape([4]).unwrap();
        assert_eq!(r.shape(), &[4]);
        assert_eq!(r.data(), t.data());
        assert!(t.clone().reshape([3]).is_err());
        let mut z = Tensor::zeros([1, 2]);
        z.data_mut()[1] = 7.0;
        assert_eq!(z.into_data(), vec![0.0, 7.0]);
        assert_eq!(Tensor::full([3], 2.5).data(), &[2.5, 2.5, 2.5]);
        assert!(Tensor::zeros([0, 3]).is_empty());
    }

    #[test]
    #[should_panic(expected = "Tensor::from_vec")]
    fn from_vec_panics_on_mismatch() {
        let _ = Tensor::from_vec([3], vec![1.0]);
    }

    #[test]
    fn max_abs_diff_semantics() {
        let a = Tensor::from_vec([3], vec![1.0, f32::NAN, f32::INFINITY]);
        let b = Tensor::from_vec([3], vec![1.5, f32::NAN, f32::INFINITY]);
        assert_eq!(a.max_abs_diff(&b), 0.5);
        let c = Tensor::from_vec([3], vec![1.0, 0.0, f32::INFINITY]);
        assert_eq!(a.max_abs_diff(&c), f32::INFINITY);
        let d = Tensor::from_vec([1, 3], vec![1.0, f32::NAN, f32::INFINITY]);
        assert_eq!(a.max_abs_diff(&d), f32::INFINITY);
        assert_eq!(a.max_abs_diff(&a), 0.0);
    }
}

/// A one-line summary of `data`, as `scc run` and built binaries print outputs: minimum,
/// maximum and mean of the finite values, then how many are NaN, +∞ or −∞ if any, e.g.
/// `min -1.000000 max 2.000000 mean 0.500000 (2 NaN, 1 +inf)`. A NaN is never hidden in a
/// mean or a range.
pub fn summary(data: &[f32]) -> String {
    let finite: Vec<f32> = data.iter().copied().filter(|v| v.is_finite()).collect();
    let nan = data.iter().filter(|v| v.is_nan()).count();
    let pos_inf = data.iter().filter(|&&v| v == f32::INFINITY).count();
    let neg_inf = data.iter().filter(|&&v| v == f32::NEG_INFINITY).count();
    let mut text = if finite.is_empty() {
        "no finite values".to_string()
    } else {
        let mean = finite.iter().map(|&v| f64::from(v)).sum::<f64>() / finite.len() as f64;
        let min = finite.iter().copied().fold(f32::INFINITY, f32::min);
        let max = finite.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        format!("min {min:.6} max {max:.6} mean {mean:.6}")
    };
    let special: Vec<String> = [(nan, "NaN"), (pos_inf, "+inf"), (neg_inf, "-inf")]
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect();
    if !special.is_empty() {
        text.push_str(&format!(" ({})", special.join(", ")));
    }
    text
}

#[cfg(test)]
mod summary_tests {
    use super::summary;

    #[test]
    fn summaries_count_nan_and_infinities() {
        assert_eq!(
            summary(&[1.0, 3.0]),
            "min 1.000000 max 3.000000 mean 2.000000"
        );
        assert_eq!(
            summary(&[
                2.5,
                f32::NAN,
                9.0,
                f32::INFINITY,
                f32::NAN,
                f32::NEG_INFINITY
            ]),
            "min 2.500000 max 9.000000 mean 5.750000 (2 NaN, 1 +inf, 1 -inf)"
        );
        assert_eq!(summary(&[f32::NAN]), "no finite values (1 NaN)");
        assert_eq!(summary(&[]), "no finite values");
    }
}
