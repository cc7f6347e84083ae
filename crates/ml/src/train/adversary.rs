//! The in-training adversary q_φ: a small MLP
//! (`Linear(in, h) → ReLU → Linear(h, K)`) trained with cross-entropy to
//! predict the category, from moment features (one row per category of a
//! batch) or from each pair's two rewards.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::init::linear;
use crate::util::rng::SplitMix64;

/// The adversary MLP.
#[derive(Module, Debug)]
pub struct Adversary<B: Backend> {
    /// Hidden layer.
    pub hidden: Linear<B>,
    /// Category logits.
    pub out: Linear<B>,
}

impl<B: Backend> Adversary<B> {
    /// A seeded adversary for `inp` features and `k` categories.
    pub fn new(inp: usize, hidden: usize, k: usize, seed: u64, device: &B::Device) -> Self {
        let mut rng = SplitMix64::new(seed);
        Adversary {
            hidden: linear(inp, hidden, &mut rng, device),
            out: linear(hidden, k, &mut rng, device),
        }
    }

    /// Logits `[n, K]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.out.forward(relu(self.hidden.forward(x)))
    }
}

/// Mean cross-entropy (nats) of `logits` `[n, K]` against `labels`.
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, labels: &[usize]) -> Tensor<B, 1> {
    let [n, k] = logits.dims();
    let mut onehot = vec![0.0f32; n * k];
    for (i, &c) in labels.iter().enumerate() {
        onehot[i * k + c] = 1.0;
    }
    let onehot = Tensor::<B, 2>::from_data(TensorData::new(onehot, [n, k]), &logits.device());
    (log_softmax(logits, 1) * onehot)
        .sum_dim(1)
        .mean()
        .neg()
        .reshape([1])
}

/// Balanced accuracy ([`crate::eval::stats::balanced_accuracy`]) of the
/// argmax of each row of `logits` (`[n, k]` row-major); 0 when empty.
pub fn balanced_accuracy(logits: &[f32], k: usize, labels: &[usize]) -> f64 {
    let predicted: Vec<usize> = logits
        .chunks(k.max(1))
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (j, &v)| if v > b.1 { (j, v) } else { b },
                )
                .0
        })
        .collect();
    crate::eval::stats::balanced_accuracy(labels, &predicted).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn cross_entropy_of_uniform_logits_is_ln_k() {
        let d = Default::default();
        let z = Tensor::<Flex, 2>::zeros([4, 3], &d);
        let ce = cross_entropy(z, &[0, 1, 2, 0]).into_scalar();
        assert!((f64::from(ce) - 3f64.ln()).abs() < 1e-6);
        let sure = Tensor::<Flex, 2>::from_data(
            TensorData::new(vec![10.0f32, 0.0, 0.0, 10.0], [2, 2]),
            &d,
        );
        assert!(cross_entropy(sure.clone(), &[0, 1]).into_scalar() < 1e-3);
        assert!(cross_entropy(sure, &[1, 0]).into_scalar() > 9.0);
    }

    #[test]
    fn balanced_accuracy_weights_classes_equally() {
        // Class 0: 3 of 3 right; class 1: 0 of 1 right → (1 + 0) / 2.
        let logits = [1.0f32, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        assert_eq!(balanced_accuracy(&logits, 2, &[0, 0, 0, 1]), 0.5);
        assert_eq!(balanced_accuracy(&logits, 2, &[0, 0, 0, 0]), 1.0);
    }
}
