//! The adaptive KL controller of Ziegler et al. (2019), as TRL's legacy
//! `AdaptiveKLController` (and OpenRLHF's) implements it:
//! `β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·n/horizon)`, called once per
//! PPO step with the batch's mean *sequence* KL (sum over response tokens of
//! `log π − log π_ref`, averaged over rollouts) and n = the batch size.
//!
//! At CPU scale (n = 8, horizon 10,000) one step moves β by at most
//! 0.2·8/10,000 = 0.016 %: β barely moves, as it should.

/// β and how it adapts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KlController {
    /// The current coefficient.
    pub beta: f64,
    /// Target sequence KL in nats; `None` = a fixed β.
    pub target: Option<f64>,
    /// Horizon in rollouts.
    pub horizon: f64,
}

impl KlController {
    /// An adaptive controller starting at `beta`.
    pub fn adaptive(beta: f64, target: f64, horizon: f64) -> Self {
        KlController {
            beta,
            target: Some(target),
            horizon,
        }
    }

    /// A controller that keeps `beta`.
    pub fn fixed(beta: f64) -> Self {
        KlController {
            beta,
            target: None,
            horizon: 1.0,
        }
    }

    /// Updates β from the batch's mean sequence KL `kl` over `n` rollouts.
    pub fn update(&mut self, kl: f64, n: usize) {
        if let Some(target) = self.target {
            let err = (kl / target - 1.0).clamp(-0.2, 0.2);
            self.beta *= 1.0 + err * n as f64 / self.horizon;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::ppo::fixture::fixture;

    #[test]
    fn beta_sequence_matches_the_numpy_formula() {
        let f = fixture()["kl"].clone();
        let kls: Vec<f64> = serde_json::from_value(f["kls"].clone()).unwrap();
        let want: Vec<f64> = serde_json::from_value(f["betas"].clone()).unwrap();
        let mut c = KlController::adaptive(
            f["beta0"].as_f64().unwrap(),
            f["target"].as_f64().unwrap(),
            f["horizon"].as_f64().unwrap(),
        );
        let n = f["n"].as_u64().unwrap() as usize;
        for (kl, w) in kls.iter().zip(&want) {
            c.update(*kl, n);
            assert!((c.beta - w).abs() < 1e-12, "{} vs {w}", c.beta);
        }
        let mut fixed = KlController::fixed(0.05);
        fixed.update(10.0, 512);
        assert_eq!(fixed.beta, 0.05);
    }
}
