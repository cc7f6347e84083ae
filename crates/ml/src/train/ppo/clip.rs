//! Global gradient-norm clipping (PyTorch `clip_grad_norm_`): every
//! gradient is scaled by `max / ‖g‖` when the norm over all trainable
//! parameters together exceeds `max`. (Burn's own `GradientClipping::Norm`
//! clips each tensor by its own norm, which is not what TRL does.)

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

use crate::model::readback::{ReadbackError, scalar_f64};

struct SumSquares<'a> {
    grads: &'a GradientsParams,
    total: f64,
    /// The first gradient that could not be read back (a visitor cannot return it).
    failed: Option<ReadbackError>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SumSquares<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            match scalar_f64(g.powi_scalar(2).sum(), "a gradient's squared norm") {
                Ok(s) => self.total += s,
                Err(e) => {
                    self.failed.get_or_insert(e);
                }
            }
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Scales `grads` so their global L2 norm is at most `max` (0 = no clip).
/// Returns the norm before clipping.
///
/// # Errors
/// A gradient cannot be read back from the device (nothing is scaled then).
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max: f64,
) -> Result<f64, ReadbackError> {
    let mut v = SumSquares {
        grads,
        total: 0.0,
        failed: None,
    };
    model.visit(&mut v);
    if let Some(e) = v.failed {
        return Err(e);
    }
    let norm = v.total.sqrt();
    if max > 0.0 && norm > max {
        let mut s = Scale {
            grads,
            factor: max / (norm + 1e-6),
        };
        model.visit(&mut s);
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::LinearConfig;

    type AD = Autodiff<Flex>;

    #[test]
    fn global_norm_is_clipped_to_max() {
        let d = Default::default();
        let lin = LinearConfig::new(3, 2).init::<AD>(&d);
        let x = Tensor::<AD, 2>::ones([4, 3], &d).mul_scalar(10.0);
        let loss = lin.forward(x).sum();
        let mut g = GradientsParams::from_grads(loss.backward(), &lin);
        let before = clip_global_norm(&lin, &mut g, 0.0).unwrap();
        assert!(before > 1.0);
        let again = clip_global_norm(&lin, &mut g, 1.0).unwrap();
        assert!((again - before).abs() < 1e-3);
        let after = clip_global_norm(&lin, &mut g, 0.0).unwrap();
        assert!((after - 1.0).abs() < 1e-4, "{after}");
    }
}
