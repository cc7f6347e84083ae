//! LoRA (Hu et al. 2021) on a linear layer: `y = x·W + (α/r)·x·A·B`, with the
//! base `W` frozen, `A ~ N(0, 1/r)` and `B = 0` so training starts from the
//! base model (PEFT `init_lora_weights="gaussian"`). The paper uses r = 16,
//! α = 32 on q, k, v, o (App. A.5).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::rng::Rng;

/// LoRA hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraConfig {
    /// Rank r (≥ 1).
    pub rank: usize,
    /// Scale numerator α; the update is scaled by α / r.
    pub alpha: f64,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig { rank: 16, alpha: 32.0 }
    }
}

/// The trainable low-rank update of one linear layer.
#[derive(Module, Debug)]
pub struct LoraAdapter<B: Backend> {
    /// Down projection `[d_in, r]` (PEFT `lora_A.weight` transposed).
    pub a: Param<Tensor<B, 2>>,
    /// Up projection `[r, d_out]` (PEFT `lora_B.weight` transposed).
    pub b: Param<Tensor<B, 2>>,
    /// α / r.
    pub scale: f64,
}

/// A linear layer with an optional LoRA adapter; its weight is `[d_in, d_out]`.
#[derive(Module, Debug)]
pub struct LoraLinear<B: Backend> {
    /// The base layer (frozen once an adapter is attached).
    pub base: Linear<B>,
    /// The adapter, if any.
    pub lora: Option<LoraAdapter<B>>,
}

impl<B: Backend> LoraLinear<B> {
    /// A layer without adapter from a weight `[d_in, d_out]`.
    pub fn new(weight: Tensor<B, 2>) -> Self {
        LoraLinear { base: Linear { weight: Param::from_tensor(weight), bias: None }, lora: None }
    }

    /// `x·W (+ scale·x·A·B)`. `x`: `[..., d_in]`.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let y = self.base.forward(x.clone());
        match &self.lora {
            None => y,
            Some(l) => {
                let a = l.a.val().unsqueeze::<D>();
                let b = l.b.val().unsqueeze::<D>();
                y + x.matmul(a).matmul(b).mul_scalar(l.scale)
            }
        }
    }

    /// Freezes the base weight and attaches a fresh adapter.
    pub fn attach(self, cfg: LoraConfig, rng: &mut Rng) -> Self {
        let w = self.base.weight.val();
        let device = w.device();
        let [d_in, d_out] = w.dims();
        let r = cfg.rank.max(1);
        let a = rng.normal_vec(d_in * r, 1.0 / r as f64);
        let a = Tensor::<B, 2>::from_data(TensorData::new(a, [d_in, r]), &device);
        let b = Tensor::<B, 2>::zeros([r, d_out], &device);
        let base = self.base.no_grad();
        LoraLinear {
            base,
            lora: Some(LoraAdapter {
                a: Param::from_tensor(a),
                b: Param::from_tensor(b),
                scale: cfg.alpha / r as f64,
            }),
        }
    }

    /// Folds the adapter into the base weight (for export) and drops it.
    pub fn merge(self) -> Self {
        match self.lora {
            None => self,
            Some(l) => {
                let w = self.base.weight.val() + l.a.val().matmul(l.b.val()).mul_scalar(l.scale);
                LoraLinear::new(w.detach())
            }
        }
    }
}
