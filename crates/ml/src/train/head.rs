//! The reward head on pooled backbone features: `Linear(d, 1)` (HF's
//! sequence-classification `score`), or `Linear(d, h) → ReLU → Linear(h, 1)`
//! when `head_hidden` > 0.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;

use super::init::linear;
use crate::util::rng::SplitMix64;

/// A scalar reward head.
#[derive(Module, Debug)]
pub struct RewardHead<B: Backend> {
    /// Optional hidden layer.
    pub hidden: Option<Linear<B>>,
    /// Projection to one reward.
    pub score: Linear<B>,
}

impl<B: Backend> RewardHead<B> {
    /// A head for `d`-dimensional features, seeded.
    pub fn new(d: usize, hidden: usize, seed: u64, device: &B::Device) -> Self {
        let mut rng = SplitMix64::new(seed);
        if hidden == 0 {
            return RewardHead {
                hidden: None,
                score: linear(d, 1, &mut rng, device),
            };
        }
        RewardHead {
            hidden: Some(linear(d, hidden, &mut rng, device)),
            score: linear(hidden, 1, &mut rng, device),
        }
    }

    /// Rewards `[n]` of features `[n, d]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 1> {
        let n = x.dims()[0];
        let x = match &self.hidden {
            Some(h) => relu(h.forward(x)),
            None => x,
        };
        self.score.forward(x).reshape([n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    #[test]
    fn linear_head_is_a_dot_product_and_mlp_head_differs() {
        let d = Default::default();
        let h = RewardHead::<Flex>::new(3, 0, 5, &d);
        let w = h.score.weight.val().into_data().to_vec::<f32>().unwrap();
        let x = Tensor::<Flex, 2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &d);
        let r = h.forward(x.clone()).into_scalar();
        assert!((r - (w[0] + 2.0 * w[1] + 3.0 * w[2])).abs() < 1e-6);
        let m = RewardHead::<Flex>::new(3, 4, 5, &d);
        assert_eq!(m.forward(x).dims(), [1]);
        assert!(m.hidden.is_some());
    }
}
