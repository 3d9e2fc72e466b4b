//! Constant folding of the tensor operators that shape computations use (`Slice`, `Transpose`,
//! `ConstantOfShape`), on constants of any rank: the legacy exporter computes a `Pad`'s pads
//! this way (`ConstantOfShape → Concat → Reshape → Slice(step −1) → Transpose → Reshape`).
//!
//! Every function returns `None` for arguments ONNX does not define (an axis out of range, a
//! zero step, a bad permutation), which the importer reports at the node.

use crate::tensor::{Const, Data};

/// The largest number of elements a folded constant may have (they are shapes and pads).
const MAX_FOLDED: usize = 1 << 20;

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// The constant whose element at multi-index `i` (of `shape`) is `data`'s element at the
/// flat offset `offset(i)`.
fn gather(data: &Const, shape: Vec<usize>, offset: impl Fn(&[usize]) -> usize) -> Option<Const> {
    let total: usize = shape.iter().product();
    if total > MAX_FOLDED {
        return None;
    }
    let mut index = vec![0usize; shape.len()];
    let mut offsets = Vec::with_capacity(total);
    for _ in 0..total {
        offsets.push(offset(&index));
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Some(match &data.data {
        Data::F32(v) => Const::f32s(offsets.iter().map(|&o| v[o]).collect(), shape),
        Data::I64(v) => Const::i64s(offsets.iter().map(|&o| v[o]).collect(), shape),
    })
}

/// ONNX `Slice` (opset 10+): `starts`, `ends`, `axes` (negative counts from the end) and
/// `steps` (any non-zero), with ONNX's clamping of out-of-range starts and ends.
pub(crate) fn slice(
    data: &Const,
    starts: &[i64],
    ends: &[i64],
    axes: &[i64],
    steps: &[i64],
) -> Option<Const> {
    let rank = data.shape.len() as i64;
    if starts.len() != ends.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return None;
    }
    // Per axis: the selected source indices.
    let mut picks: Vec<Vec<usize>> = data.shape.iter().map(|&d| (0..d).collect()).collect();
    for (((&start, &end), &axis), &step) in starts.iter().zip(ends).zip(axes).zip(steps) {
        let axis = if axis < 0 { axis + rank } else { axis };
        if !(0..rank).contains(&axis) || step == 0 {
            return None;
        }
        let dim = data.shape[axis as usize] as i64;
        let adjust = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (start, end) = (adjust(start), adjust(end));
        let mut selected = Vec::new();
        if step > 0 {
            let (mut i, end) = (start.clamp(0, dim), end.clamp(0, dim));
            while i < end {
                selected.push(i as usize);
                i += step;
            }
        } else {
            let (mut i, end) = (start.clamp(0, dim - 1), end.clamp(-1, dim - 1));
            while i > end {
                selected.push(i as usize);
                i += step;
            }
        }
        picks[axis as usize] = selected;
    }
    let source = strides(&data.shape);
    let shape: Vec<usize> = picks.iter().map(Vec::len).collect();
    gather(data, shape, |index| {
        index
            .iter()
            .zip(&picks)
            .zip(&source)
            .map(|((&i, pick), &s)| pick[i] * s)
            .sum()
    })
}

/// ONNX `Transpose`: dimension `d` of the result is dimension `perm[d]` of `data` (default:
/// reversed).
pub(crate) fn transpose(data: &Const, perm: Option<&[i64]>) -> Option<Const> {
    let rank = data.shape.len();
    let perm: Vec<usize> = match perm {
        Some(p) => p
            .iter()
            .map(|&d| usize::try_from(d).ok())
            .collect::<Option<_>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..rank).collect::<Vec<_>>() {
        return None;
    }
    let source = strides(&data.shape);
    let shape: Vec<usize> = perm.iter().map(|&p| data.shape[p]).collect();
    gather(data, shape, |index| {
        index.iter().zip(&perm).map(|(&i, &p)| i * source[p]).sum()
    })
}

/// ONNX `ConstantOfShape`: a tensor of `shape` filled with `value`'s single element.
pub(crate) fn constant_of_shape(shape: &[i64], value: &Const) -> Option<Const> {
    let shape: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<_>>()?;
    let total = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&t| t <= MAX_FOLDED)?;
    if value.len() != 1 {
        return None;
    }
    Some(match &value.data {
        Data::F32(v) => Const::f32s(vec![v[0]; total], shape),
        Data::I64(v) => Const::i64s(vec![v[0]; total], shape),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(c: &Const) -> (Vec<usize>, Vec<i64>) {
        (c.shape.clone(), c.as_i64())
    }

    #[test]
    fn the_legacy_exporters_pad_computation_folds() {
        // pads (0, 1, 0, 1) for the last two axes, as F.pad's (left, right, top, bottom),
        // completed with zeros, reshaped to pairs, reversed, transposed and flattened.
        let pairs = Const::i64s(vec![0, 1, 0, 1, 0, 0, 0, 0], vec![4, 2]);
        let reversed = slice(&pairs, &[-1], &[i64::MIN + 1], &[0], &[-1]).unwrap();
        assert_eq!(ints(&reversed), (vec![4, 2], vec![0, 0, 0, 0, 0, 1, 0, 1]));
        let t = transpose(&reversed, Some(&[1, 0])).unwrap();
        assert_eq!(ints(&t), (vec![2, 4], vec![0, 0, 0, 0, 0, 0, 1, 1]));
        let zeros = constant_of_shape(&[4], &Const::i64s(vec![0], vec![1])).unwrap();
        assert_eq!(ints(&zeros), (vec![4], vec![0; 4]));
    }

    #[test]
    fn slices_clamp_and_step() {
        let v = Const::i64s((0..10).collect(), vec![10]);
        assert_eq!(
            slice(&v, &[2], &[100], &[0], &[3]).unwrap().as_i64(),
            vec![2, 5, 8]
        );
        assert_eq!(
            slice(&v, &[-2], &[-100], &[0], &[-4]).unwrap().as_i64(),
            vec![8, 4, 0]
        );
        assert_eq!(
            slice(&v, &[5], &[2], &[0], &[1]).unwrap().as_i64(),
            Vec::<i64>::new()
        );
        assert!(slice(&v, &[0], &[1], &[1], &[1]).is_none());
        assert!(slice(&v, &[0], &[1], &[0], &[0]).is_none());
        let m = Const::f32s((0..6).map(|x| x as f32).collect(), vec![2, 3]);
        let s = slice(&m, &[1], &[3], &[-1], &[1]).unwrap();
        assert_eq!(
            (s.shape.clone(), s.as_f64()),
            (vec![2, 2], vec![1., 2., 4., 5.])
        );
        assert!(transpose(&m, Some(&[0, 0])).is_none());
        assert_eq!(
            transpose(&m, None).unwrap().as_f64(),
            vec![0., 3., 1., 4., 2., 5.]
        );
    }
}
