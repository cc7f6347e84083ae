//! Random Network Distillation (Burda et al. 2019) as the paper's curiosity
//! bonus (App. B): a fixed random *target* and a trained *predictor*, each a
//! 2-layer ReLU MLP `Linear(d, h) → ReLU → Linear(h, h)` (h = 512), on an
//! embedding of each response.
//!
//! - Embedding: the reference pass's final hidden state, mean-pooled over the
//!   response tokens, detached ([`super::logprobs::reference_terms`]);
//!   normalised with running per-dimension mean and variance (updated with
//!   each batch first) and clipped to ±5, as RND normalises observations.
//! - Error of a response: `1 − cos(predictor(x), target(x))` (the paper's
//!   cosine loss in place of RND's MSE); the predictor trains with Adam on
//!   the batch mean of it, one step per PPO step.
//! - Bonus: computed from the predictor *before* its update on the batch:
//!   `η · error / σ`, σ a running standard deviation of the errors (updated
//!   with the batch first), no mean subtracted (Burda et al.). `normalize:
//!   false` gives `η · error`; the normalisation is our addition.

use burn::module::{AutodiffModule, Module};
use burn::nn::Linear;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::tensor::activation::relu;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

use super::config::CuriosityConfig;
use crate::model::readback::{scalar_f64, to_vec_f32};
use crate::train::init::linear;
use crate::util::rng::SplitMix64;

/// Clip of normalised embeddings (RND).
const OBS_CLIP: f64 = 5.0;

/// A 2-layer ReLU MLP.
#[derive(Module, Debug)]
pub struct RndNet<B: Backend> {
    /// First layer `[d, h]`.
    pub l1: Linear<B>,
    /// Second layer `[h, h]`.
    pub l2: Linear<B>,
}

impl<B: Backend> RndNet<B> {
    /// A seeded net for `d`-dimensional inputs.
    pub fn new(d: usize, h: usize, rng: &mut SplitMix64, device: &B::Device) -> Self {
        RndNet {
            l1: linear(d, h, rng, device),
            l2: linear(h, h, rng, device),
        }
    }

    /// `[n, d]` → `[n, h]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.l2.forward(relu(self.l1.forward(x)))
    }
}

/// Running mean and variance over a stream of batches (RND's
/// `RunningMeanStd`: parallel-variance merge, initial count 1e-4).
#[derive(Debug, Clone, PartialEq)]
pub struct RunningMeanStd {
    /// Per-dimension mean.
    pub mean: Vec<f64>,
    /// Per-dimension (population) variance.
    pub var: Vec<f64>,
    /// Observations seen (starts at 1e-4).
    pub count: f64,
}

impl RunningMeanStd {
    /// Statistics of `d` dimensions: mean 0, variance 1.
    pub fn new(d: usize) -> Self {
        RunningMeanStd {
            mean: vec![0.0; d],
            var: vec![1.0; d],
            count: 1e-4,
        }
    }

    /// Merges a batch `x` `[n, d]` (row-major).
    pub fn update(&mut self, x: &[f64], n: usize) {
        let d = self.mean.len();
        if n == 0 {
            return;
        }
        let nb = n as f64;
        let tot = self.count + nb;
        for k in 0..d {
            let bm = (0..n).map(|i| x[i * d + k]).sum::<f64>() / nb;
            let bv = (0..n).map(|i| (x[i * d + k] - bm).powi(2)).sum::<f64>() / nb;
            let delta = bm - self.mean[k];
            let m2 = self.var[k] * self.count + bv * nb + delta * delta * self.count * nb / tot;
            self.mean[k] += delta * nb / tot;
            self.var[k] = m2 / tot;
        }
        self.count = tot;
    }
}

/// The RND module with its statistics and the predictor's optimiser.
pub struct Rnd<B: AutodiffBackend> {
    /// The fixed random target.
    pub target: RndNet<B::InnerBackend>,
    /// The trained predictor.
    pub predictor: RndNet<B>,
    /// Embedding statistics.
    pub obs: RunningMeanStd,
    /// Error statistics (σ of the bonus).
    pub err: RunningMeanStd,
    /// Settings.
    pub cfg: CuriosityConfig,
    opt: OptimizerAdaptor<Adam, RndNet<B>, B>,
}

/// The bonus of one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Bonus {
    /// `1 − cos` of each response, before the predictor's update.
    pub errors: Vec<f64>,
    /// Intrinsic reward of each response.
    pub intrinsic: Vec<f64>,
    /// The predictor's loss (mean error) before its update.
    pub loss: f64,
}

/// `1 − cos(a, b)` per row, `[n]` (norms clamped at 1e-8 as in PyTorch).
pub fn cosine_error<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 1> {
    let n = a.dims()[0];
    let dot = (a.clone() * b.clone()).sum_dim(1);
    let na = a.powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-8);
    let nb = b.powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-8);
    (dot / (na * nb)).neg().add_scalar(1.0).reshape([n])
}

impl<B: AutodiffBackend> Rnd<B> {
    /// Seeded target and predictor for `d`-dimensional embeddings.
    pub fn new(d: usize, cfg: CuriosityConfig, seed: u64, device: &B::Device) -> Self {
        let mut rng = SplitMix64::new(seed);
        let target = RndNet::<B::InnerBackend>::new(d, cfg.hidden, &mut rng, device);
        let predictor = RndNet::<B>::new(d, cfg.hidden, &mut rng, device);
        Self::from_nets(target, predictor, cfg)
    }

    /// An RND block from given nets (tests load numpy weights).
    pub fn from_nets(
        target: RndNet<B::InnerBackend>,
        predictor: RndNet<B>,
        cfg: CuriosityConfig,
    ) -> Self {
        let d = target.l1.weight.val().dims()[0];
        Rnd {
            target,
            predictor,
            obs: RunningMeanStd::new(d),
            err: RunningMeanStd::new(1),
            cfg,
            opt: AdamConfig::new().with_epsilon(1e-8).init::<B, RndNet<B>>(),
        }
    }

    /// Updates the embedding statistics with `emb` `[n, d]` and returns the
    /// normalised, clipped embeddings.
    pub fn normalise(&mut self, emb: &[f32], n: usize) -> Vec<f32> {
        let d = self.obs.mean.len();
        let x: Vec<f64> = emb.iter().map(|&v| f64::from(v)).collect();
        self.obs.update(&x, n);
        x.iter()
            .enumerate()
            .map(|(i, v)| {
                let k = i % d;
                ((v - self.obs.mean[k]) / (self.obs.var[k] + 1e-8).sqrt())
                    .clamp(-OBS_CLIP, OBS_CLIP) as f32
            })
            .collect()
    }

    /// The bonus of a batch of embeddings `[n, d]` from the current
    /// predictor; updates both running statistics, not the predictor.
    ///
    /// # Errors
    /// A tensor could not be read back.
    pub fn bonus(&mut self, emb: &[f32], n: usize) -> anyhow::Result<(Bonus, Vec<f32>)> {
        let x = self.normalise(emb, n);
        let d = self.obs.mean.len();
        let device = self.target.l1.weight.val().device();
        let xt =
            Tensor::<B::InnerBackend, 2>::from_data(TensorData::new(x.clone(), [n, d]), &device);
        let err = cosine_error(
            self.predictor.valid().forward(xt.clone()),
            self.target.forward(xt),
        );
        let errors: Vec<f64> = to_vec_f32(err, "the RND prediction errors")?
            .into_iter()
            .map(f64::from)
            .collect();
        let loss = errors.iter().sum::<f64>() / n.max(1) as f64;
        let intrinsic = if self.cfg.normalize {
            self.err.update(&errors, n);
            let sigma = self.err.var[0].sqrt().max(1e-8);
            errors.iter().map(|e| self.cfg.eta * e / sigma).collect()
        } else {
            errors.iter().map(|e| self.cfg.eta * e).collect()
        };
        Ok((
            Bonus {
                errors,
                intrinsic,
                loss,
            },
            x,
        ))
    }

    /// One Adam step of the predictor on normalised embeddings `x` `[n, d]`.
    /// Returns the loss before the step.
    ///
    /// # Errors
    /// A tensor could not be read back.
    pub fn update(&mut self, x: Vec<f32>, n: usize) -> anyhow::Result<f64> {
        let d = self.obs.mean.len();
        let device = self.target.l1.weight.val().device();
        let xi = Tensor::<B::InnerBackend, 2>::from_data(TensorData::new(x, [n, d]), &device);
        let target = Tensor::<B, 2>::from_inner(self.target.forward(xi.clone()));
        let loss = cosine_error(self.predictor.forward(Tensor::from_inner(xi)), target).mean();
        let value = scalar_f64(loss.clone().detach(), "the RND predictor's loss")?;
        let grads = GradientsParams::from_grads(loss.backward(), &self.predictor);
        let p = self.predictor.clone();
        self.predictor = self.opt.step(self.cfg.lr, p, grads);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::ppo::fixture::fixture;
    use burn::backend::{Autodiff, Flex};
    use burn::module::Param;
    use serde_json::Value;

    type AD = Autodiff<Flex>;

    fn lin<B: Backend>(w: &Value, b: &Value) -> Linear<B> {
        let w: Vec<Vec<f32>> = serde_json::from_value(w.clone()).unwrap();
        let b: Vec<f32> = serde_json::from_value(b.clone()).unwrap();
        let (i, o) = (w.len(), w[0].len());
        let d = Default::default();
        Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(w.into_iter().flatten().collect::<Vec<_>>(), [i, o]),
                &d,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [o]),
                &d,
            ))),
        }
    }

    fn net<B: Backend>(v: &Value) -> RndNet<B> {
        RndNet {
            l1: lin(&v["w1"], &v["b1"]),
            l2: lin(&v["w2"], &v["b2"]),
        }
    }

    #[test]
    fn rnd_errors_bonus_and_loss_match_numpy() {
        let f = fixture()["rnd"].clone();
        let cfg = CuriosityConfig {
            eta: f["eta"].as_f64().unwrap(),
            hidden: 5,
            lr: 1e-2,
            normalize: true,
        };
        let mut rnd = Rnd::<AD>::from_nets(net(&f["target"]), net(&f["predictor"]), cfg);
        for b in f["batches"].as_array().unwrap() {
            let emb: Vec<Vec<f32>> = serde_json::from_value(b["emb"].clone()).unwrap();
            let n = emb.len();
            let flat: Vec<f32> = emb.into_iter().flatten().collect();
            let (bonus, x) = rnd.bonus(&flat, n).unwrap();
            let want_x: Vec<Vec<f64>> = serde_json::from_value(b["x"].clone()).unwrap();
            for (g, w) in x.iter().zip(want_x.iter().flatten()) {
                assert!((f64::from(*g) - w).abs() < 1e-5, "x {g} vs {w}");
            }
            for (k, got) in [("errors", &bonus.errors), ("intrinsic", &bonus.intrinsic)] {
                let want: Vec<f64> = serde_json::from_value(b[k].clone()).unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-5, "{k}: {got:?} vs {want:?}");
                }
            }
            assert!((bonus.loss - b["loss"].as_f64().unwrap()).abs() < 1e-5);
        }
        // The predictor learns: repeated steps on one batch lower its loss.
        let emb: Vec<Vec<f32>> = serde_json::from_value(f["batches"][0]["emb"].clone()).unwrap();
        let n = emb.len();
        let x = rnd.normalise(&emb.into_iter().flatten().collect::<Vec<_>>(), n);
        let first = rnd.update(x.clone(), n).unwrap();
        let mut last = first;
        for _ in 0..30 {
            last = rnd.update(x.clone(), n).unwrap();
        }
        assert!(last < first * 0.8, "predictor loss {first} → {last}");
    }
}
