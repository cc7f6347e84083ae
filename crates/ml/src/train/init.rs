//! Seeded parameter initialisation: every trainable tensor the trainer
//! creates is drawn from the project's one RNG ([`SplitMix64`]), so the
//! initialisation depends on the stage's seed stream only, never on Burn's
//! global RNG or on the backend.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::util::rng::SplitMix64;

/// `Linear(inp, out)` with weights uniform in ±1/√inp (PyTorch's default
/// `kaiming_uniform(a=√5)` bound) and a zero bias.
pub fn linear<B: Backend>(
    inp: usize,
    out: usize,
    rng: &mut SplitMix64,
    device: &B::Device,
) -> Linear<B> {
    let bound = 1.0 / (inp.max(1) as f64).sqrt();
    let w: Vec<f32> = (0..inp * out)
        .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
        .collect();
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [inp, out]), device)),
        bias: Some(Param::from_tensor(Tensor::zeros([out], device))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn same_seed_same_weights_within_the_bound() {
        let d = Default::default();
        let a = linear::<Flex>(9, 4, &mut SplitMix64::new(3), &d);
        let b = linear::<Flex>(9, 4, &mut SplitMix64::new(3), &d);
        let c = linear::<Flex>(9, 4, &mut SplitMix64::new(4), &d);
        let v = |l: &Linear<Flex>| l.weight.val().into_data().to_vec::<f32>().unwrap();
        assert_eq!(v(&a), v(&b));
        assert_ne!(v(&a), v(&c));
        assert!(v(&a).iter().all(|x| x.abs() <= 1.0 / 3.0));
        assert_eq!(a.weight.val().dims(), [9, 4]);
    }
}
