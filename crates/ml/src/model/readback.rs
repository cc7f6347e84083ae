//! Reading a tensor's values back to the host: the one place in the crate where a tensor
//! becomes a `Vec`. A failed read is a [`ReadbackError`] naming what was read, never an
//! empty vector (an empty vector would silently become empty weights or zero scores).

use burn::tensor::backend::Backend;
use burn::tensor::{Element, Tensor, TensorData};

/// A tensor's values could not be read back to the host.
#[derive(Debug, thiserror::Error)]
#[error("reading {what} (shape {shape:?}) back to the host as {target}: {reason}")]
pub struct ReadbackError {
    /// What the tensor holds, as the caller names it (`logits`, `model.embed_tokens.weight`).
    pub what: String,
    /// The tensor's shape, outermost first.
    pub shape: Vec<usize>,
    /// The element type asked for (`f32`, `f64`).
    pub target: &'static str,
    /// What Burn said, or why the values were unusable.
    pub reason: String,
}

/// The values of `t` as `E`, row-major (converted from the tensor's dtype first, as
/// `into_data().convert::<E>().to_vec::<E>()` does); `what` names the tensor in the error.
///
/// # Errors
/// The backend could not read the tensor or convert its values.
pub fn to_vec<E: Element, B: Backend, const D: usize>(
    t: Tensor<B, D>,
    what: &str,
) -> Result<Vec<E>, ReadbackError> {
    let shape = t.dims().to_vec();
    read(t.into_data().convert::<E>(), what, shape)
}

/// [`to_vec`] as `f32`.
///
/// # Errors
/// As [`to_vec`].
pub fn to_vec_f32<B: Backend, const D: usize>(
    t: Tensor<B, D>,
    what: &str,
) -> Result<Vec<f32>, ReadbackError> {
    to_vec(t, what)
}

/// [`to_vec`] as `f64`.
///
/// # Errors
/// As [`to_vec`].
pub fn to_vec_f64<B: Backend, const D: usize>(
    t: Tensor<B, D>,
    what: &str,
) -> Result<Vec<f64>, ReadbackError> {
    to_vec(t, what)
}

/// The first value of `t` as `f64` (a loss, a norm, a mean); `what` names it in the error.
///
/// # Errors
/// The backend could not read the tensor, or it holds no values.
pub fn scalar_f64<B: Backend, const D: usize>(
    t: Tensor<B, D>,
    what: &str,
) -> Result<f64, ReadbackError> {
    let shape = t.dims().to_vec();
    let v = to_vec_f64(t, what)?;
    v.first().copied().ok_or_else(|| ReadbackError {
        what: what.to_string(),
        shape,
        target: "f64",
        reason: "the tensor holds no values, expected at least one".to_string(),
    })
}

/// `data`'s values as `E`, or the error naming `what` (of `shape`).
fn read<E: Element>(
    data: TensorData,
    what: &str,
    shape: Vec<usize>,
) -> Result<Vec<E>, ReadbackError> {
    data.to_vec::<E>().map_err(|e| ReadbackError {
        what: what.to_string(),
        shape,
        target: std::any::type_name::<E>(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn values_come_back_in_order() {
        let d = Default::default();
        let t = Tensor::<Flex, 2>::from_data([[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]], &d);
        assert_eq!(
            to_vec_f32(t.clone(), "t").unwrap(),
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
        assert_eq!(to_vec_f64(t.clone(), "t").unwrap()[5], 6.0);
        assert_eq!(scalar_f64(t, "t").unwrap(), 1.0);
    }

    #[test]
    fn a_type_mismatch_is_an_error_naming_the_tensor() {
        let data = TensorData::new(vec![1i64, 2, 3], [3]);
        let e = read::<f32>(data, "the logits", vec![3]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("the logits"), "{text}");
        assert!(text.contains("[3]"), "{text}");
        assert!(text.contains("f32"), "{text}");
    }

    #[test]
    fn an_empty_scalar_is_an_error_not_a_default() {
        let d = Default::default();
        let t = Tensor::<Flex, 1>::from_data(TensorData::new(Vec::<f32>::new(), [0]), &d);
        let e = scalar_f64(t, "the loss").unwrap_err();
        assert!(e.to_string().contains("the loss"), "{e}");
        assert!(e.to_string().contains("no values"), "{e}");
    }
}
