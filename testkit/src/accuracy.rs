//! f32 results against a float64 reference, element by element.
//!
//! Two measures, both per element (a maximum over the tensor of errors each measured against
//! its own reference value, so a wrong small output is never hidden behind a large one):
//!
//! - [`relative`]: `|got − want| / max(|want|, f32::MIN_POSITIVE)` — the relative error for
//!   every output in f32's normal range, and the error in units of the smallest normal f32
//!   below it (where f32 itself has no relative precision to offer);
//! - [`scaled`]: `|got − want| / max(scale_i, f32::MIN_POSITIVE)` with a per-element scale
//!   the caller gives — for a sum, `Σ|terms|`, the error relative to the condition of that
//!   sum (the quantity summation-error bounds are stated in: a direct f32 sum of `w` terms is
//!   within `(w − 1)·2⁻²⁴·Σ|terms|`). This is the right measure where the exact result may
//!   cancel to (almost) zero.
//!
//! Special values must match exactly: a NaN reference needs a NaN result, an infinite one the
//! same infinity, and a NaN or infinite result for a finite reference is an infinite error —
//! except that a finite reference beyond f32's range is matched by the infinity it rounds to.

use std::fmt;

/// The worst element of a comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// The largest per-element error (0 for empty inputs; infinite for a special-value mismatch).
    pub worst: f64,
    /// Where it occurs.
    pub index: usize,
    /// The result there.
    pub got: f32,
    /// The reference there.
    pub want: f64,
    /// The scale the error there was divided by.
    pub scale: f64,
    /// Elements compared.
    pub count: usize,
}

impl Accuracy {
    /// Panics with a description unless the worst error is at most `tolerance`.
    #[track_caller]
    pub fn assert_within(&self, tolerance: f64, what: &str) {
        assert!(
            self.worst <= tolerance,
            "{what}: error {self} exceeds {tolerance:e}"
        );
    }
}

impl fmt::Display for Accuracy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.3e} at element {} of {} (got {:e}, float64 reference {:e}, scale {:e})",
            self.worst, self.index, self.count, self.got, self.want, self.scale
        )
    }
}

/// The error of one element, `None` if the special values already decide it.
fn special(got: f32, want: f64) -> Option<f64> {
    if want.is_nan() {
        return Some(if got.is_nan() { 0.0 } else { f64::INFINITY });
    }
    if got.is_nan() {
        return Some(f64::INFINITY);
    }
    let rounded = want as f32;
    if rounded.is_infinite() || got.is_infinite() {
        return Some(if got == rounded { 0.0 } else { f64::INFINITY });
    }
    None
}

fn measure(got: &[f32], want: &[f64], scale: impl Fn(usize) -> f64) -> Accuracy {
    assert_eq!(
        got.len(),
        want.len(),
        "accuracy: {} results against {} reference values",
        got.len(),
        want.len()
    );
    let mut worst = Accuracy {
        worst: 0.0,
        index: 0,
        got: got.first().copied().unwrap_or(0.0),
        want: want.first().copied().unwrap_or(0.0),
        scale: f64::from(f32::MIN_POSITIVE),
        count: got.len(),
    };
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let s = scale(i).max(f64::from(f32::MIN_POSITIVE));
        let error = special(g, w).unwrap_or_else(|| (f64::from(g) - w).abs() / s);
        if error > worst.worst || (error.is_nan() && !worst.worst.is_nan()) {
            worst = Accuracy {
                worst: error,
                index: i,
                got: g,
                want: w,
                scale: s,
                count: got.len(),
            };
        }
    }
    worst
}

/// The per-element relative error `|got − want| / max(|want|, f32::MIN_POSITIVE)` (see the
/// [module docs](self)).
pub fn relative(got: &[f32], want: &[f64]) -> Accuracy {
    measure(got, want, |i| want[i].abs())
}

/// The per-element error `|got − want| / max(scale[i], f32::MIN_POSITIVE)`, e.g. with
/// `scale[i] = Σ|terms of element i|` for sums (see the [module docs](self)).
pub fn scaled(got: &[f32], want: &[f64], scale: &[f64]) -> Accuracy {
    assert_eq!(
        want.len(),
        scale.len(),
        "accuracy: {} reference values against {} scales",
        want.len(),
        scale.len()
    );
    measure(got, want, |i| scale[i])
}

/// About `count` finite and special f32 values spread over the whole range: evenly spaced bit
/// patterns of both signs, every power of two (so every binade, subnormals included, is
/// visited) and the values between, plus ±0, ±∞, NaN, the extremes and the values next to 1.
pub fn f32_sweep(count: usize) -> Vec<f32> {
    let per_sign = (count / 2).max(1) as u64;
    let top = u64::from(f32::INFINITY.to_bits());
    let mut values: Vec<f32> = (0..per_sign)
        .flat_map(|k| {
            let bits = (top * k / per_sign) as u32;
            let v = f32::from_bits(bits);
            [v, -v]
        })
        .collect();
    for exponent in -149..128 {
        let p = 2f64.powi(exponent) as f32;
        let between = (1.5 * 2f64.powi(exponent)) as f32;
        values.extend([p, -p, between, -between]);
    }
    values.extend([
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::from_bits(1),
        -f32::from_bits(1),
        1.0,
        -1.0,
        1.0 + f32::EPSILON,
        1.0 - f32::EPSILON / 2.0,
    ]);
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_outputs_are_measured_relative_to_themselves() {
        // An absolute error of 1e-7 is 10 % of a reference of 1e-6, whatever else is in the tensor.
        let a = relative(&[1000.0, 1.1e-6], &[1000.0, 1e-6]);
        assert_eq!(a.index, 1);
        assert!((a.worst - 0.1).abs() < 1e-6, "{a}");
    }

    #[test]
    fn below_the_normal_range_the_error_is_in_units_of_the_smallest_normal() {
        let tiny = f64::from(f32::MIN_POSITIVE);
        let a = relative(&[0.0], &[tiny * 1e-3]);
        assert!((a.worst - 1e-3).abs() < 1e-12, "{a}");
    }

    #[test]
    fn special_values_must_match() {
        assert_eq!(relative(&[f32::NAN], &[f64::NAN]).worst, 0.0);
        assert_eq!(relative(&[0.0], &[f64::NAN]).worst, f64::INFINITY);
        assert_eq!(relative(&[f32::NAN], &[1.0]).worst, f64::INFINITY);
        assert_eq!(relative(&[f32::INFINITY], &[f64::INFINITY]).worst, 0.0);
        assert_eq!(relative(&[f32::MAX], &[f64::INFINITY]).worst, f64::INFINITY);
        assert_eq!(
            relative(&[-f32::INFINITY], &[f64::INFINITY]).worst,
            f64::INFINITY
        );
        // A finite reference beyond f32's range rounds to infinity.
        assert_eq!(relative(&[f32::INFINITY], &[1e300]).worst, 0.0);
        assert_eq!(relative(&[f32::INFINITY], &[1.0]).worst, f64::INFINITY);
    }

    #[test]
    fn scaled_errors_use_the_given_scale() {
        // A sum that cancels to zero: the error is measured against the size of its terms.
        let a = scaled(&[1e-3], &[0.0], &[1e4]);
        assert!((a.worst - 1e-7).abs() < 1e-13, "{a}");
    }

    #[test]
    fn the_sweep_covers_every_binade_and_the_specials() {
        let values = f32_sweep(100_000);
        assert!(values.iter().any(|v| v.is_nan()));
        assert!(values.contains(&f32::INFINITY) && values.contains(&f32::NEG_INFINITY));
        for exponent in -149..128 {
            let lo = 2f64.powi(exponent);
            assert!(
                values
                    .iter()
                    .any(|&v| f64::from(v) >= lo && f64::from(v) < 2.0 * lo),
                "no value in [2^{exponent}, 2^{})",
                exponent + 1
            );
        }
    }
}
