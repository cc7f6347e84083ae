//! The PPO losses of TRL's legacy `PPOTrainer.loss`, on a minibatch laid out
//! as a `[b, w]` grid of response-token slots with a 0/1 mask:
//!
//! - value: `½·mean_m(max((V−R)², (clip(V, V_old ± c_v) − R)²))`;
//! - policy: `mean_m(max(−A·ρ, −A·clip(ρ, 1 ± c)))`, `ρ = exp(log π − log π_old)`;
//! - total: `policy + vf_coef·value`; both are zeroed when the minibatch's
//!   mean ratio exceeds `ratio_threshold` (TRL).
//!
//! `mean_m` is the mean over masked-in slots of the whole minibatch.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::model::readback::{ReadbackError, scalar_f64};

/// The clip and weight settings of the losses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossConfig {
    /// Ratio clip c.
    pub cliprange: f64,
    /// Value clip c_v.
    pub cliprange_value: f64,
    /// Weight of the value loss.
    pub vf_coef: f64,
    /// Mean ratio above which the minibatch is skipped.
    pub ratio_threshold: f64,
}

/// The fixed (no-gradient) inputs of one minibatch, `[b, w]` each.
#[derive(Debug, Clone)]
pub struct LossTargets<B: Backend> {
    /// Log-probs of the rollout policy.
    pub old_logp: Tensor<B, 2>,
    /// Values of the rollout policy.
    pub old_values: Tensor<B, 2>,
    /// Whitened advantages.
    pub advantages: Tensor<B, 2>,
    /// Returns `A + V` (before whitening).
    pub returns: Tensor<B, 2>,
    /// 1 for a response token, 0 elsewhere.
    pub mask: Tensor<B, 2>,
}

/// The losses of one minibatch and their statistics.
#[derive(Debug, Clone)]
pub struct Losses<B: Backend> {
    /// `policy + vf_coef·value` (zero when skipped), one element.
    pub loss: Tensor<B, 1>,
    /// Policy loss.
    pub policy: f64,
    /// Value loss.
    pub value: f64,
    /// Fraction of slots where the ratio clip binds.
    pub clipfrac: f64,
    /// Fraction of slots where the value clip binds.
    pub vf_clipfrac: f64,
    /// `½·mean_m((log π − log π_old)²)`.
    pub approx_kl: f64,
    /// `mean_m(log π_old − log π)`.
    pub policy_kl: f64,
    /// Mean ratio.
    pub mean_ratio: f64,
    /// Whether the minibatch was skipped (mean ratio above the threshold).
    pub skipped: bool,
}

/// The losses of new log-probs `logp` and values `vpred` `[b, w]`.
///
/// # Errors
/// A statistic cannot be read back from the device.
pub fn ppo_losses<B: Backend>(
    logp: Tensor<B, 2>,
    vpred: Tensor<B, 2>,
    t: &LossTargets<B>,
    cfg: &LossConfig,
) -> Result<Losses<B>, ReadbackError> {
    let m = t.mask.clone();
    let n = scalar_f64(m.clone().sum(), "the mask's token count")?.max(1.0);
    let mmean = |x: Tensor<B, 2>| (x * m.clone()).sum().div_scalar(n);
    let vclip = vpred
        .clone()
        .max_pair(t.old_values.clone().sub_scalar(cfg.cliprange_value))
        .min_pair(t.old_values.clone().add_scalar(cfg.cliprange_value));
    let vf1 = (vpred - t.returns.clone()).powi_scalar(2);
    let vf2 = (vclip - t.returns.clone()).powi_scalar(2);
    let vf_clipfrac = scalar_f64(
        mmean(vf2.clone().greater(vf1.clone()).float()),
        "the value clip fraction",
    )?;
    let value = mmean(vf1.max_pair(vf2)).mul_scalar(0.5);
    let diff = logp - t.old_logp.clone();
    let ratio = diff.clone().exp();
    let pg1 = t.advantages.clone().neg() * ratio.clone();
    let pg2 = t.advantages.clone().neg()
        * ratio
            .clone()
            .clamp(1.0 - cfg.cliprange, 1.0 + cfg.cliprange);
    let clipfrac = scalar_f64(
        mmean(pg2.clone().greater(pg1.clone()).float()),
        "the ratio clip fraction",
    )?;
    let policy = mmean(pg1.max_pair(pg2));
    let mean_ratio = scalar_f64(mmean(ratio), "the mean ratio")?;
    let dd = diff.detach();
    let approx_kl = 0.5 * scalar_f64(mmean(dd.clone().powi_scalar(2)), "the approximate KL")?;
    let policy_kl = -scalar_f64(mmean(dd), "the policy KL")?;
    let (pv, vv) = (
        scalar_f64(policy.clone(), "the policy loss")?,
        scalar_f64(value.clone(), "the value loss")?,
    );
    let skipped = mean_ratio > cfg.ratio_threshold;
    let loss = policy + value.mul_scalar(cfg.vf_coef);
    let loss = if skipped { loss.mul_scalar(0.0) } else { loss };
    Ok(Losses {
        loss,
        policy: pv,
        value: vv,
        clipfrac,
        vf_clipfrac,
        approx_kl,
        policy_kl,
        mean_ratio,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::ppo::fixture::{fixture, flat};
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    #[test]
    fn clipped_policy_and_value_losses_match_numpy() {
        let f = fixture()["losses"].clone();
        let d = Default::default();
        let t = |k: &str| {
            let (v, s) = flat(&f[k]);
            Tensor::<Flex, 2>::from_data(TensorData::new(v, s), &d)
        };
        let targets = LossTargets {
            old_logp: t("old_logp"),
            old_values: t("old_values"),
            advantages: t("advantages"),
            returns: t("returns"),
            mask: t("mask"),
        };
        let cfg = LossConfig {
            cliprange: f["cliprange"].as_f64().unwrap(),
            cliprange_value: f["cliprange_value"].as_f64().unwrap(),
            vf_coef: f["vf_coef"].as_f64().unwrap(),
            ratio_threshold: 10.0,
        };
        let l = ppo_losses(t("logp"), t("vpred"), &targets, &cfg).unwrap();
        let want = |k: &str| f[k].as_f64().unwrap();
        for (got, k) in [
            (l.policy, "pg_loss"),
            (l.value, "vf_loss"),
            (scalar_f64(l.loss.clone(), "loss").unwrap(), "loss"),
            (l.clipfrac, "pg_clipfrac"),
            (l.vf_clipfrac, "vf_clipfrac"),
            (l.approx_kl, "approxkl"),
            (l.policy_kl, "policykl"),
        ] {
            assert!((got - want(k)).abs() < 1e-5, "{k}: {got} vs {}", want(k));
        }
        // Both clips bind somewhere in the fixture, so the test sees them.
        assert!(l.clipfrac > 0.0 && l.vf_clipfrac > 0.0);
        assert!(!l.skipped);
        let tight = LossConfig {
            ratio_threshold: 0.5,
            ..cfg
        };
        let s = ppo_losses(t("logp"), t("vpred"), &targets, &tight).unwrap();
        assert!(s.skipped && scalar_f64(s.loss, "loss").unwrap() == 0.0);
    }
}
