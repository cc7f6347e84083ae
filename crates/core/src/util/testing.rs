//! Helpers for the unit tests.

/// The largest absolute difference between `a` and `b`, element by element
/// (in f64); panics when their lengths differ.
pub fn max_diff<T: Copy + Into<f64>>(a: &[T], b: &[T]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x.into() - y.into()).abs())
        .fold(0.0, f64::max)
}
