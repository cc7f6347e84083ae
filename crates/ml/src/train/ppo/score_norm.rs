//! Running reward scaling (TRL's legacy `use_score_scaling`,
//! `use_score_norm` and `score_clip`): the RM's scores are divided by
//! the running standard deviation of every score seen so far (and, with
//! `norm`, centred on the running mean) before they enter the per-token
//! rewards. Off by default, as in TRL and the paper; the PPO study
//! (`pipelines/ppo-study.yaml`) measures what it changes. `curves.csv`
//! keeps the raw scores either way.

use serde::{Deserialize, Serialize};

/// How scores are scaled before PPO sees them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ScoreNorm {
    /// Raw scores (TRL's default).
    #[default]
    None,
    /// `score / running_std` (`use_score_scaling`).
    Scale,
    /// `(score − running_mean) / running_std` (`use_score_scaling` +
    /// `use_score_norm`).
    Norm,
}

/// TRL's `RunningMoments`: the mean and standard deviation of every value
/// seen, updated a batch at a time (Chan et al.'s pairwise combination),
/// starting from mean 0, variance 1 and a count of 1e-24.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunningMoments {
    /// Running mean.
    pub mean: f64,
    /// Running standard deviation (with Bessel's correction over the total count).
    pub std: f64,
    var: f64,
    count: f64,
}

impl Default for RunningMoments {
    fn default() -> Self {
        RunningMoments {
            mean: 0.0,
            std: 1.0,
            var: 1.0,
            count: 1e-24,
        }
    }
}

impl RunningMoments {
    /// Folds a batch in; an empty batch changes nothing.
    pub fn update(&mut self, xs: &[f64]) {
        if xs.is_empty() {
            return;
        }
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let delta = mean - self.mean;
        let total = self.count + n;
        let sum = self.var * self.count + delta * delta * self.count * n / total + var * n;
        self.mean += delta * n / total;
        self.var = sum / total;
        self.std = (self.var * total / (total - 1.0)).sqrt();
        self.count = total;
    }
}

/// The scaler of one PPO run: the mode, an optional symmetric clip, and
/// the running moments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreScaler {
    mode: ScoreNorm,
    clip: Option<f64>,
    moments: RunningMoments,
}

impl ScoreScaler {
    /// A scaler with no history.
    pub fn new(mode: ScoreNorm, clip: Option<f64>) -> Self {
        ScoreScaler {
            mode,
            clip,
            moments: RunningMoments::default(),
        }
    }

    /// The scores PPO uses for this batch, in TRL's order: update the
    /// moments with the batch, scale with the updated moments, then clip.
    pub fn apply(&mut self, scores: &[f64]) -> Vec<f64> {
        if self.mode != ScoreNorm::None {
            self.moments.update(scores);
        }
        let m = self.moments;
        // TRL adds float32's epsilon to the std.
        let sd = m.std + f64::from(f32::EPSILON);
        scores
            .iter()
            .map(|&s| {
                let s = match self.mode {
                    ScoreNorm::None => s,
                    ScoreNorm::Scale => s / sd,
                    ScoreNorm::Norm => (s - m.mean) / sd,
                };
                self.clip.map_or(s, |c| s.clamp(-c, c))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and sample sd of all values, directly.
    fn direct(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, v.sqrt())
    }

    #[test]
    fn running_moments_match_the_moments_of_everything_seen() {
        let a = [0.5, -1.25, 2.0, 3.5];
        let b = [-0.75, 1.0, 4.25];
        let mut m = RunningMoments::default();
        m.update(&a);
        m.update(&[]);
        m.update(&b);
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        let (mean, sd) = direct(&all);
        // The prior's count of 1e-24 leaves a trace far below 1e-12.
        assert!((m.mean - mean).abs() < 1e-12, "{} vs {mean}", m.mean);
        assert!((m.std - sd).abs() < 1e-12, "{} vs {sd}", m.std);
    }

    #[test]
    fn scaling_modes_follow_trl() {
        let xs = [1.0, 3.0, 5.0, 7.0];
        let (mean, sd) = direct(&xs);
        let sd = sd + f64::from(f32::EPSILON);
        let raw = ScoreScaler::new(ScoreNorm::None, None).apply(&xs);
        assert_eq!(raw, xs.to_vec());
        let scaled = ScoreScaler::new(ScoreNorm::Scale, None).apply(&xs);
        assert!((scaled[3] - 7.0 / sd).abs() < 1e-9, "{scaled:?}");
        let normed = ScoreScaler::new(ScoreNorm::Norm, Some(1.0)).apply(&xs);
        let want: Vec<f64> = xs
            .iter()
            .map(|x| ((x - mean) / sd).clamp(-1.0, 1.0))
            .collect();
        for (g, w) in normed.iter().zip(&want) {
            assert!((g - w).abs() < 1e-9, "{normed:?} vs {want:?}");
        }
        assert!(normed.contains(&1.0), "the clip bites: {normed:?}");
    }
}
