//! A PPO run's reward gain as the report states it (issue 23), and whether
//! the policy "learned": the paired evaluation of `train.ppo`'s
//! `metrics.json` (`reward_gain`: the same prompts and sampling seeds
//! before the first step and after the last, a paired t-test with n − 1
//! df) where the run has one; otherwise the curve's mean score of the last
//! [`GAIN_WINDOW`] steps minus the first, with Welch's test — a noisier
//! measure, since each step draws other prompts.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::policies::{CURVE_PANELS, Curves, curve_column, p_text};
use super::tables::num;
use crate::eval::stats::{ALPHA, WelchT, holm, welch_t_test};
use crate::util::io::json::read_json;

/// Steps averaged at each end of a PPO run for its curve gain (issue 23:
/// the last 5 minus the first 5).
pub const GAIN_WINDOW: usize = 5;

/// `metrics.json`'s `reward_gain` block of a `train.ppo` run with
/// `eval_prompts` > 0.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct PairedGain {
    /// Prompts evaluated.
    pub n: usize,
    /// Mean score before the first step.
    pub before_mean: f64,
    /// Mean score after the last step.
    pub after_mean: f64,
    /// Mean of after − before.
    pub estimate: f64,
    /// Its standard error; `None` with one prompt.
    pub se: Option<f64>,
    /// Degrees of freedom, n − 1.
    pub df: usize,
    /// Two-sided p of the paired t-test; `None` with one prompt.
    pub p: Option<f64>,
    /// The gain the test detects with 80 % power at 5 % (score units).
    #[serde(default)]
    pub mde_80: Option<f64>,
}

/// The paired gain in `metrics.json` beside a run's `curves.csv`, if any.
///
/// # Errors
/// A `metrics.json` that cannot be read, or a malformed `reward_gain`.
pub fn read_paired_gain(curves_csv: &Path) -> anyhow::Result<Option<PairedGain>> {
    let path = curves_csv.with_file_name("metrics.json");
    if !path.is_file() {
        return Ok(None);
    }
    let v: serde_json::Value = read_json(&path)?;
    match v.get("reward_gain") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(g) => serde_json::from_value(g.clone())
            .map(Some)
            .with_context(|| format!("{}: malformed `reward_gain`", path.display())),
    }
}

/// A PPO run's reward gain: the paired evaluation and the curve's windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RewardGain {
    /// Steps in each curve window (fewer than [`GAIN_WINDOW`] for a run
    /// shorter than two windows: half its steps).
    pub window: usize,
    /// Steps in the run.
    pub steps: usize,
    /// Welch's test of the last window − the first (`diff` is the gain);
    /// `None` under 4 steps or with constant scores.
    pub test: Option<WelchT>,
    /// The paired evaluation, when the run made one.
    pub paired: Option<PairedGain>,
    /// Mean response length in tokens over the first and the last window
    /// of steps (the curve's `response_len`), when the run logged it.
    pub length: Option<(f64, f64)>,
    /// The deciding p after Holm's correction over the runs judged
    /// together ([`reward_gains`]), with their count; `None` for a run
    /// judged alone.
    pub holm: Option<(f64, usize)>,
}

impl RewardGain {
    /// Whether the reward rose beyond noise: a positive gain with p < α
    /// (5 %) — the paired test's where there is one, else Welch's, after
    /// Holm's correction where the run is judged with others. Otherwise the
    /// policy "did not learn".
    pub fn learned(&self) -> bool {
        self.deciding().is_some_and(|(gain, _, p)| {
            gain > 0.0 && self.holm.map_or(p, |(adjusted, _)| adjusted) < ALPHA
        })
    }

    /// The deciding gain as (estimate, SE, p): the paired evaluation's where
    /// there is one, else the curve's; `None` without an SE.
    pub fn deciding(&self) -> Option<(f64, f64, f64)> {
        match (&self.paired, &self.test) {
            (Some(g), _) => Some((g.estimate, g.se?, g.p?)),
            (None, Some(t)) => Some((t.diff, t.se, t.p_value)),
            (None, None) => None,
        }
    }

    /// The gain that decides [`learned`](Self::learned), e.g.
    /// `+0.107 ± 0.050 (paired, 160 prompts, after 20 steps, t(159), p 0.034;
    /// MDE 0.140)` or
    /// `+0.003 ± 0.141 (last 5 − first 5 steps, p 0.981, df 8.0)`, with
    /// "did not learn" when not learned.
    pub fn text(&self) -> String {
        let mut body = match (&self.paired, &self.test) {
            (Some(g), _) => paired_text(g, self.steps),
            (None, Some(_)) => self.curve_text(),
            (None, None) => "—".into(),
        };
        body.push_str(&self.holm_text());
        if let Some((first, last)) = self.length {
            body.push_str(&format!(
                "; response length {first:.1} → {last:.1} tokens (first {w} → last {w} steps)",
                w = self.window
            ));
        }
        if self.learned() {
            body
        } else {
            format!("{body}; did not learn")
        }
    }

    /// ` [Holm p 0.060 over 3 runs]` where the run was judged with others,
    /// else empty.
    pub fn holm_text(&self) -> String {
        self.holm.map_or_else(String::new, |(p, m)| {
            format!(" [Holm p {} over {m} runs]", p_text(p, None))
        })
    }

    /// The curve's last − first window gain, `—` without one.
    pub fn curve_text(&self) -> String {
        match &self.test {
            Some(t) => format!(
                "{:+.3} ± {:.3} (last {w} − first {w} steps, p {}, df {:.1})",
                t.diff,
                t.se,
                p_text(t.p_value, None),
                t.df,
                w = self.window
            ),
            None => "—".into(),
        }
    }
}

/// `+0.107 ± 0.050 (paired, 160 prompts, after 40 steps, t(159), p 0.034;
/// MDE 0.140)`; the steps are left out when `steps` is 0 (no curve).
pub fn paired_text(g: &PairedGain, steps: usize) -> String {
    let se = g.se.map_or_else(|| "—".into(), |s| format!("{s:.3}"));
    let p = g.p.map_or_else(|| "—".into(), |p| p_text(p, None));
    let mde = g
        .mde_80
        .map_or_else(String::new, |m| format!("; MDE {}", num(m)));
    let after = match steps {
        0 => String::new(),
        s => format!(", after {s} steps"),
    };
    format!(
        "{:+.3} ± {se} (paired, {} prompts{after}, t({}), p {p}{mde})",
        g.estimate, g.n, g.df
    )
}

/// The reward gain of one run: its curve (the score column, the first of
/// [`CURVE_PANELS`]' RM-score names present) and its paired evaluation;
/// `None` when it has neither.
pub fn reward_gain(c: &Curves) -> Option<RewardGain> {
    let col = curve_column(c, CURVE_PANELS[0].1);
    let steps = col.map_or(0, Vec::len);
    let window = GAIN_WINDOW.min(steps / 2);
    let test = match col {
        Some(col) if window >= 2 => welch_t_test(&col[..window], &col[steps - window..]).ok(),
        _ => None,
    };
    if test.is_none() && c.paired.is_none() {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let length = curve_column(c, CURVE_PANELS[4].1)
        .filter(|l| window >= 1 && l.len() >= 2 * window)
        .map(|l| (mean(&l[..window]), mean(&l[l.len() - window..])));
    Some(RewardGain {
        window,
        steps,
        test,
        paired: c.paired,
        length,
        holm: None,
    })
}

/// The reward gains of runs judged together (the report's policies, the
/// study's runs), each [`reward_gain`], with Holm's correction of their
/// deciding p-values over the runs that have one, when there are two or
/// more: "learned" is then a claim about the whole family at 5 %.
pub fn reward_gains<'a>(runs: impl IntoIterator<Item = &'a Curves>) -> Vec<Option<RewardGain>> {
    let mut gains: Vec<Option<RewardGain>> = runs.into_iter().map(reward_gain).collect();
    let judged: Vec<(usize, f64)> = gains
        .iter()
        .enumerate()
        .filter_map(|(i, g)| g.and_then(|g| g.deciding()).map(|(_, _, p)| (i, p)))
        .collect();
    if judged.len() < 2 {
        return gains;
    }
    let ps: Vec<f64> = judged.iter().map(|&(_, p)| p).collect();
    // holm() refuses only non-finite or out-of-range p-values; such a run
    // keeps its own p rather than losing the family's verdicts.
    if let Ok(adjusted) = holm(&ps) {
        for (&(i, _), a) in judged.iter().zip(adjusted) {
            if let Some(g) = gains[i].as_mut() {
                g.holm = Some((a, judged.len()));
            }
        }
    }
    gains
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curves(score: &[f64], paired: Option<PairedGain>) -> Curves {
        let mut c = Curves::default();
        c.columns.insert("score".into(), score.to_vec());
        c.paired = paired;
        c
    }

    fn gain(estimate: f64, p: f64) -> PairedGain {
        PairedGain {
            n: 160,
            before_mean: -0.7,
            after_mean: -0.7 + estimate,
            estimate,
            se: Some(0.05),
            df: 159,
            p: Some(p),
            mde_80: Some(0.14),
        }
    }

    #[test]
    fn holm_over_the_runs_judged_together_decides() {
        let flat = [-0.5, -0.9, -0.5, -0.9, -0.5, -0.9, -0.5, -0.9, -0.5, -0.9];
        // Alone, p 0.03 learns; with two others (p 0.001, 0.5) its Holm p
        // is 2 × 0.03 = 0.06 and it does not.
        let runs = [
            curves(&flat, Some(gain(0.12, 0.03))),
            curves(&flat, Some(gain(0.2, 0.001))),
            curves(&flat, Some(gain(0.01, 0.5))),
        ];
        assert!(reward_gain(&runs[0]).unwrap().learned());
        let g = reward_gains(&runs);
        let g: Vec<RewardGain> = g.into_iter().map(Option::unwrap).collect();
        assert_eq!(g[1].holm, Some((0.003, 3)));
        assert!((g[0].holm.unwrap().0 - 0.06).abs() < 1e-12);
        assert_eq!(g[2].holm, Some((0.5, 3)));
        assert!(!g[0].learned() && g[1].learned() && !g[2].learned());
        assert!(
            g[0].text().contains("[Holm p 0.060 over 3 runs]"),
            "{}",
            g[0].text()
        );
        // The response length over the first and last windows, when logged.
        let mut c = curves(&flat, Some(gain(0.2, 0.001)));
        c.columns.insert(
            "response_len".into(),
            vec![32.0, 32.0, 30.0, 31.0, 30.0, 12.0, 8.0, 6.0, 4.0, 5.0],
        );
        let g = reward_gain(&c).unwrap();
        assert_eq!(g.length, Some((31.0, 7.0)));
        assert!(
            g.text()
                .ends_with("; response length 31.0 → 7.0 tokens (first 5 → last 5 steps)"),
            "{}",
            g.text()
        );
        assert_eq!(reward_gain(&runs[0]).unwrap().length, None);
        // One run is judged alone.
        assert_eq!(reward_gains(&runs[..1])[0].unwrap().holm, None);
    }

    #[test]
    fn the_paired_test_decides_where_there_is_one() {
        let flat: Vec<f64> = (0..20)
            .map(|i| if i % 2 == 0 { -0.5 } else { -0.9 })
            .collect();
        let g = reward_gain(&curves(&flat, None)).unwrap();
        assert!(!g.learned());
        assert!(g.text().contains("last 5 − first 5 steps"), "{}", g.text());
        assert!(g.text().ends_with("did not learn"), "{}", g.text());
        let g = reward_gain(&curves(&flat, Some(gain(0.12, 0.01)))).unwrap();
        assert!(g.learned(), "a significant paired gain decides");
        assert_eq!(
            g.text(),
            "+0.120 ± 0.050 (paired, 160 prompts, after 20 steps, t(159), p 0.010; MDE 0.1400)"
        );
        assert!(
            !reward_gain(&curves(&flat, Some(gain(0.05, 0.3))))
                .unwrap()
                .learned()
        );
        assert!(
            !reward_gain(&curves(&flat, Some(gain(-0.2, 0.001))))
                .unwrap()
                .learned(),
            "a significant fall is not learning"
        );
        assert!(reward_gain(&curves(&[1.0, 2.0], None)).is_none());
        let short = reward_gain(&curves(&[1.0, 2.0], Some(gain(0.2, 0.001)))).unwrap();
        assert!(short.learned() && short.test.is_none());
    }

    #[test]
    fn a_paired_gain_is_read_beside_the_curves() {
        let d = tempfile::tempdir().unwrap();
        let csv = d.path().join("curves.csv");
        assert_eq!(read_paired_gain(&csv).unwrap(), None);
        std::fs::write(d.path().join("metrics.json"), r#"{"steps": 3}"#).unwrap();
        assert_eq!(read_paired_gain(&csv).unwrap(), None);
        std::fs::write(
            d.path().join("metrics.json"),
            r#"{"reward_gain": {"n": 160, "before_mean": -0.7, "after_mean": -0.58,
                "estimate": 0.12, "se": 0.05, "df": 159, "p": 0.01, "mde_80": 0.14,
                "before": [], "after": []}}"#,
        )
        .unwrap();
        assert_eq!(read_paired_gain(&csv).unwrap(), Some(gain(0.12, 0.01)));
        std::fs::write(
            d.path().join("metrics.json"),
            r#"{"reward_gain": {"n": "x"}}"#,
        )
        .unwrap();
        let e = read_paired_gain(&csv).unwrap_err();
        assert!(format!("{e:#}").contains("reward_gain"), "{e:#}");
    }
}
