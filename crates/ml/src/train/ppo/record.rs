//! What a PPO run reports: one row of `curves.csv` per PPO step and a few
//! rollouts per step for `samples.jsonl`. Nothing here holds a timing, so a
//! rerun writes the same bytes.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

/// One PPO step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    /// Step, from 1.
    pub step: usize,
    /// Mean RM (or ground-truth) score.
    pub score: f64,
    /// Mean intrinsic (RND) reward; 0 without curiosity.
    pub intrinsic: f64,
    /// Mean sequence KL `Σ_t log π − log π_ref` of the rollouts.
    pub kl: f64,
    /// β used for this step's rewards.
    pub beta: f64,
    /// Mean policy loss over the step's minibatches.
    pub policy_loss: f64,
    /// Mean value loss.
    pub value_loss: f64,
    /// Mean per-token entropy of `softmax(logits / T)`.
    pub entropy: f64,
    /// Mean fraction of clipped ratios.
    pub clipfrac: f64,
    /// Mean `½·(Δ log π)²`.
    pub approx_kl: f64,
    /// Mean response length in tokens.
    pub response_len: f64,
    /// The RND predictor's loss before its update; 0 without curiosity.
    pub rnd_loss: f64,
}

/// One logged rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// PPO step.
    pub step: usize,
    /// Prompt id.
    pub prompt_id: String,
    /// Category of the prompt.
    pub category: String,
    /// The prompt text.
    pub prompt: String,
    /// The response text.
    pub response: String,
    /// Its score.
    pub reward: f64,
    /// Its intrinsic reward.
    pub intrinsic: f64,
}

/// Column names of `curves.csv`.
pub const CURVE_COLUMNS: &[&str] = &[
    "step",
    "score",
    "intrinsic",
    "kl",
    "beta",
    "policy_loss",
    "value_loss",
    "entropy",
    "clipfrac",
    "approx_kl",
    "response_len",
    "rnd_loss",
];

/// Writes `curves.csv` (shortest round-trip floats).
///
/// # Errors
/// The file cannot be written.
pub fn write_ppo_curves(path: &Path, rows: &[StepRow]) -> anyhow::Result<()> {
    let mut s = CURVE_COLUMNS.join(",");
    s.push('\n');
    for r in rows {
        let v = [
            r.score,
            r.intrinsic,
            r.kl,
            r.beta,
            r.policy_loss,
            r.value_loss,
            r.entropy,
            r.clipfrac,
            r.approx_kl,
            r.response_len,
            r.rnd_loss,
        ];
        s.push_str(&r.step.to_string());
        for x in v {
            s.push(',');
            s.push_str(&x.to_string());
        }
        s.push('\n');
    }
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

/// Writes `samples.jsonl`, one JSON object per line.
///
/// # Errors
/// The file cannot be written.
pub fn write_samples(path: &Path, rows: &[Sample]) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    for r in rows {
        serde_json::to_writer(&mut f, r)?;
        f.write_all(b"\n")?;
    }
    f.flush()
        .with_context(|| format!("writing {}", path.display()))
}
