//! The PPO learning-curve study (issue 23, `pipelines/ppo-study.yaml`):
//! for every `train.ppo` run, does the RM score of its rollouts rise
//! beyond noise? Two measures from its `curves.csv`:
//! - the reward gain of the report's Table 1 ([`reward_gain`]: the paired
//!   evaluation where the run made one, else the mean score of the last 5
//!   steps − the first 5, Welch SE, p, df), Holm-corrected over the study's
//!   runs ([`reward_gains`]);
//! - the least-squares slope of the per-step mean score on the step over
//!   every step, with its SE and the t-test of n − 2 degrees of freedom
//!   (uses every step, so it sees a steady rise the windows miss);
//!
//! - the slope of the per-step *difference* to the first run (fan-in
//!   inputs come in name order; the study's centre is `ppo_center`): the runs share their seeds (`seed_name`), so
//!   every step draws the same prompts in every run, and the prompt draw —
//!   which moves a step's mean score far more than training does — cancels
//!   in the difference;
//!
//! beside the final KL (nats per sequence), the final β and the response
//! length. Wall time per run is not a stage output (reruns must stay
//! byte-identical); the run log's `ok <stage> <seconds>` lines give it.

use super::policies::{CURVE_PANELS, Curves, curve_column};
use super::reward_gain::{RewardGain, paired_text, reward_gain, reward_gains};
use super::table::{Cell, Table};
use crate::eval::stats::t_sf_two_sided;

/// An OLS slope with its SE and two-sided p (df n − 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slope {
    /// Score change per PPO step.
    pub per_step: f64,
    /// Its standard error.
    pub se: f64,
    /// Two-sided p of slope = 0 (t with n − 2 df).
    pub p_value: f64,
}

/// One run of the study.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRow {
    /// The stage's name (its matrix values name the configuration).
    pub name: String,
    /// PPO steps in `curves.csv`.
    pub steps: usize,
    /// Last-window − first-window gain; `None` for a run too short.
    pub gain: Option<RewardGain>,
    /// Least-squares slope of the score on the step; `None` under 3 steps.
    pub slope: Option<Slope>,
    /// Least-squares slope of the per-step score minus the first run's
    /// (same steps, same prompts); `None` for the first run itself or
    /// when the step counts differ.
    pub paired: Option<Slope>,
    /// KL of the last step, nats per sequence.
    pub final_kl: Option<f64>,
    /// β of the last step.
    pub final_beta: Option<f64>,
    /// Mean response length over the run, tokens.
    pub mean_len: Option<f64>,
}

impl StudyRow {
    /// Learned: Table 1's rule (a positive gain with p < 0.05 after Holm's
    /// correction over the runs, the paired evaluation's where the run has
    /// one).
    pub fn learned(&self) -> bool {
        self.gain.is_some_and(|g| g.learned())
    }
}

/// Least-squares slope of `y` on 1, 2, …, n; `None` under 3 points, with a
/// non-finite value, or a perfect fit (no SE).
pub fn ols_slope(y: &[f64]) -> Option<Slope> {
    let n = y.len();
    if n < 3 || y.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let nf = n as f64;
    let xm = (nf + 1.0) / 2.0;
    let ym = y.iter().sum::<f64>() / nf;
    let sxx: f64 = (1..=n).map(|x| (x as f64 - xm).powi(2)).sum();
    let sxy: f64 = y
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64 + 1.0 - xm) * (v - ym))
        .sum();
    let b = sxy / sxx;
    let a = ym - b * xm;
    let sse: f64 = y
        .iter()
        .enumerate()
        .map(|(i, v)| (v - a - b * (i as f64 + 1.0)).powi(2))
        .sum();
    let se = (sse / (nf - 2.0) / sxx).sqrt();
    if se.is_nan() || se <= 0.0 {
        return None;
    }
    Some(Slope {
        per_step: b,
        se,
        p_value: t_sf_two_sided(b / se, nf - 2.0),
    })
}

/// The study's row of one run.
pub fn row(name: &str, c: &Curves) -> StudyRow {
    let score = curve_column(c, CURVE_PANELS[0].1);
    let last = |names: &[&str]| curve_column(c, names).and_then(|v| v.last().copied());
    let len = curve_column(c, &["response_len"]);
    StudyRow {
        name: name.to_string(),
        steps: score.map_or(0, Vec::len),
        gain: reward_gain(c),
        slope: score.and_then(|s| ols_slope(s)),
        paired: None,
        final_kl: last(CURVE_PANELS[1].1),
        final_beta: last(CURVE_PANELS[2].1),
        mean_len: len
            .filter(|v| !v.is_empty())
            .map(|v| v.iter().sum::<f64>() / v.len() as f64),
    }
}

/// The study's rows, in order, their gains Holm-corrected over the runs;
/// each run after the first also gets the slope of its per-step difference
/// to the first.
pub fn rows(runs: &[(String, Curves)]) -> Vec<StudyRow> {
    let score = |c: &Curves| curve_column(c, CURVE_PANELS[0].1).cloned();
    let centre = runs.first().and_then(|(_, c)| score(c));
    let gains = reward_gains(runs.iter().map(|(_, c)| c));
    runs.iter()
        .zip(gains)
        .enumerate()
        .map(|(i, ((name, c), gain))| {
            let mut r = row(name, c);
            r.gain = gain;
            if i > 0 {
                r.paired = match (score(c), &centre) {
                    (Some(s), Some(c0)) if s.len() == c0.len() => {
                        let d: Vec<f64> = s.iter().zip(c0).map(|(a, b)| a - b).collect();
                        ols_slope(&d)
                    }
                    _ => None,
                };
            }
            r
        })
        .collect()
}

fn slope_text(s: Option<Slope>) -> String {
    s.map_or("—".into(), |s| {
        format!("{:+.4} ± {:.4}, p {:.3}", s.per_step, s.se, s.p_value)
    })
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".to_string(), |x| format!("{x:.digits$}"))
}

/// The study table: one row per run, in the order given.
pub fn table(rows: &[StudyRow]) -> Table {
    let header = [
        "run",
        "steps",
        "reward gain ± SE (paired evaluation: after − before training)",
        "learned?",
        "evaluation mean score before → after",
        "reward gain ± SE (curve: last 5 − first 5 steps)",
        "slope per step ± SE, p",
        "slope of the difference to the first run ± SE, p",
        "first 5 → last 5 mean score",
        "final KL",
        "final β",
        "mean response length",
    ];
    let body = rows
        .iter()
        .map(|r| {
            let paired = r.gain.and_then(|g| g.paired);
            let test = r.gain.and_then(|g| g.test);
            let means = test.map_or("—".into(), |t| {
                format!("{:.3} → {:.3}", t.mean_a, t.mean_b)
            });
            vec![
                Cell::text(&r.name),
                Cell::text(r.steps.to_string()),
                Cell::text(paired.map_or("— (no evaluation)".into(), |g| {
                    paired_text(&g, 0) + &r.gain.map_or_else(String::new, |g| g.holm_text())
                })),
                Cell::text(if r.learned() { "yes" } else { "no" }),
                Cell::text(paired.map_or("—".into(), |g| {
                    format!("{:.3} → {:.3}", g.before_mean, g.after_mean)
                })),
                Cell::text(
                    r.gain
                        .map_or("— (too few steps)".into(), |g| g.curve_text()),
                ),
                Cell::text(slope_text(r.slope)),
                Cell::text(slope_text(r.paired)),
                Cell::text(means),
                Cell::text(opt(r.final_kl, 3)),
                Cell::text(opt(r.final_beta, 4)),
                Cell::text(opt(r.mean_len, 1)),
            ]
        })
        .collect();
    Table {
        stem: "study".into(),
        caption: "PPO learning-curve study: each run's RM score (raw scores, before any score scaling). Paired reward gain: train.ppo's evaluation (eval_prompts) — the same prompts, with the same sampling seeds, answered before the first step (the reference) and after the last; mean of after − before ± SE, paired t-test with n − 1 df, and the gain detectable with 80 % power (MDE). Curve gain: mean of the last 5 steps − the first 5 ± Welch SE (p, df), noisier (each step draws other prompts). Learned = a positive gain with p < 0.05 after Holm's correction over the study's runs, the paired one where the run has it — Table 1's rule. Slope: least-squares slope of the per-step mean score on the step, ± SE, two-sided t-test with steps − 2 df; of the difference to the first run: the same on the per-step score minus the first run's (the runs share their seeds, so each step draws the same prompts and the prompt draw cancels). KL in nats per sequence at the last step.".into(),
        header: header.iter().map(|h| h.to_string()).collect(),
        rows: body,
    }
}

/// One line per finding: how many runs learned, and which.
pub fn summary(rows: &[StudyRow]) -> Vec<String> {
    let learned: Vec<&str> = rows
        .iter()
        .filter(|r| r.learned())
        .map(|r| r.name.as_str())
        .collect();
    let mut out = vec![format!(
        "{} of {} runs raised the RM score beyond noise (a positive gain with p < 0.05 after Holm's correction over the runs: the paired evaluation where the run made one, else last 5 − first 5 steps, Welch){}",
        learned.len(),
        rows.len(),
        if learned.is_empty() {
            String::new()
        } else {
            format!(": {}", learned.join(", "))
        }
    )];
    if let Some(best) = rows.iter().filter(|r| r.gain.is_some()).max_by(|a, b| {
        let t = |r: &StudyRow| {
            r.gain
                .and_then(|g| g.deciding())
                .map_or(f64::NEG_INFINITY, |(e, se, _)| e / se)
        };
        t(a).total_cmp(&t(b))
    }) {
        out.push(format!(
            "largest gain in SE units: {} ({})",
            best.name,
            // default: never taken; `best` is chosen among runs with a gain.
            best.gain.map(|g| g.text()).unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curves(score: &[f64]) -> Curves {
        let mut c = Curves::default();
        c.columns
            .insert("step".into(), (1..=score.len()).map(|s| s as f64).collect());
        c.columns.insert("score".into(), score.to_vec());
        c.columns.insert("kl".into(), vec![0.5; score.len()]);
        c.columns.insert("beta".into(), vec![0.05; score.len()]);
        c
    }

    #[test]
    fn ols_slope_matches_a_hand_computation() {
        // y = 1, 3, 2, 5: x̄ 2.5, ȳ 2.75, Sxx 5, Sxy 5.5 → b 1.1, a 0;
        // residuals −0.1, 0.8, −1.3, 0.6 → SSE 2.7, se = sqrt(2.7/2/5) = sqrt(0.27);
        // t = 1.1/se = 2.11695 with 2 df → p = 1 − t/sqrt(t² + 2) = 0.168478
        // (the t distribution with 2 df in closed form).
        let s = ols_slope(&[1.0, 3.0, 2.0, 5.0]).unwrap();
        assert!((s.per_step - 1.1).abs() < 1e-12, "{s:?}");
        assert!((s.se - 0.27f64.sqrt()).abs() < 1e-12, "{s:?}");
        assert!((s.p_value - 0.168_478).abs() < 1e-6, "{s:?}");
        assert!(ols_slope(&[1.0, 2.0]).is_none());
        assert!(ols_slope(&[1.0, 2.0, 3.0]).is_none(), "perfect fit: no SE");
    }

    #[test]
    fn a_rising_run_learns_and_a_flat_one_does_not() {
        let rising: Vec<f64> = (0..20)
            .map(|i| -1.0 + 0.05 * i as f64 + if i % 2 == 0 { 0.1 } else { -0.1 })
            .collect();
        let flat: Vec<f64> = (0..20)
            .map(|i| if i % 2 == 0 { -0.5 } else { -0.9 })
            .collect();
        let rows = rows(&[
            ("flat".to_string(), curves(&flat)),
            ("up".to_string(), curves(&rising)),
        ]);
        let rows = [rows[1].clone(), rows[0].clone()];
        assert!(rows[1].paired.is_none(), "the first run has no difference");
        let p = rows[0].paired.expect("same steps");
        assert!(
            (p.per_step - 0.05).abs() < 0.01 && p.p_value < 0.001,
            "{p:?}"
        );
        assert!(rows[0].learned(), "{:?}", rows[0]);
        assert!(!rows[1].learned(), "{:?}", rows[1]);
        assert_eq!(rows[0].final_kl, Some(0.5));
        let t = table(&rows);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0][3].text, "yes");
        assert_eq!(t.rows[1][3].text, "no");
        let s = summary(&rows);
        assert!(s[0].starts_with("1 of 2 runs"), "{s:?}");
        assert!(s[1].contains("up"), "{s:?}");
    }
}
