//! Seed-level uncertainty of a baseline → fair effect (issue 12): the
//! paired difference across seeds, its standard error, and the paper-vs-ours
//! verdict. Seed `i` of the baseline and of the fair model share
//! initialisation and batch order, so their difference is paired.
//! Checked against numpy/scipy by `tests/fixtures/stats/make_paired.py`.

use super::error::{StatsError, check_finite};

/// The per-seed differences `fair_i − baseline_i` and their summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PairedDiff {
    /// Number of seeds.
    pub n: usize,
    /// Mean difference.
    pub mean: f64,
    /// Sample sd of the differences (ddof 1); `None` with one seed.
    pub sd: Option<f64>,
    /// Standard error `sd / √n`; `None` with one seed.
    pub se: Option<f64>,
    /// The differences, in seed order.
    pub diffs: Vec<f64>,
}

/// The paper-vs-ours verdict on one effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The mean difference has the paper's sign and |mean| > 2 SE.
    Yes,
    /// It has the opposite sign and |mean| > 2 SE.
    No,
    /// Neither (or fewer than two seeds: no SE).
    WithinNoise,
}

impl Verdict {
    /// As the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Yes => "yes",
            Verdict::No => "no",
            Verdict::WithinNoise => "within noise",
        }
    }
}

/// A verdict with the count of seeds that agree with the paper on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SeedVerdict {
    /// The verdict on the mean.
    pub verdict: Verdict,
    /// Seeds whose own difference has the paper's sign ("k of n").
    pub agree: usize,
    /// Seeds.
    pub n: usize,
}

/// How many standard errors the mean must clear (issue 12: 2 SE). This is
/// the adversary study's screening rule on its validation split (its choice
/// is then read once on the eval split); the report's verdicts use the
/// paired t-test with Holm's correction instead ([`super::effect`]).
pub const VERDICT_SE: f64 = 2.0;

/// `fair_i − baseline_i` per seed, with mean, sd and SE.
///
/// # Errors
/// Empty or unequal samples, or a non-finite value.
pub fn paired_difference(baseline: &[f64], fair: &[f64]) -> Result<PairedDiff, StatsError> {
    const WHAT: &str = "paired_difference";
    if baseline.is_empty() {
        return Err(StatsError::Empty {
            what: WHAT,
            name: "baseline",
        });
    }
    if baseline.len() != fair.len() {
        return Err(StatsError::LengthMismatch {
            what: WHAT,
            left: "baseline",
            left_len: baseline.len(),
            right: "fair",
            right_len: fair.len(),
        });
    }
    check_finite(WHAT, "baseline", baseline)?;
    check_finite(WHAT, "fair", fair)?;
    let diffs: Vec<f64> = fair.iter().zip(baseline).map(|(f, b)| f - b).collect();
    let n = diffs.len();
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let (sd, se) = if n >= 2 {
        let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        (Some(sd), Some(sd / (n as f64).sqrt()))
    } else {
        (None, None)
    };
    Ok(PairedDiff {
        n,
        mean,
        sd,
        se,
        diffs,
    })
}

fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// The 2 SE screening verdict of `d` against the paper's direction
/// `paper_sign` (−1 the measure falls from baseline to fair, +1 it rises):
/// the adversary study's rule (see [`VERDICT_SE`]).
pub fn verdict(d: &PairedDiff, paper_sign: i8) -> SeedVerdict {
    let agree = d
        .diffs
        .iter()
        .filter(|x| paper_sign != 0 && sign(**x) == paper_sign)
        .count();
    let verdict = match d.se {
        Some(se) if d.mean.abs() > VERDICT_SE * se && paper_sign != 0 => {
            if sign(d.mean) == paper_sign {
                Verdict::Yes
            } else {
                Verdict::No
            }
        }
        _ => Verdict::WithinNoise,
    };
    SeedVerdict {
        verdict,
        agree,
        n: d.n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn matches_numpy_and_scipy() {
        let doc: Value = serde_json::from_str(include_str!(
            "../../../../../tests/fixtures/stats/paired.json"
        ))
        .unwrap();
        let cases = doc["paired"].as_array().unwrap();
        assert_eq!(cases.len(), 7);
        let nums = |c: &Value, k: &str| -> Vec<f64> {
            c[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let d = paired_difference(&nums(c, "baseline"), &nums(c, "fair")).unwrap();
            let close = |got: f64, want: f64, what: &str| {
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{name} {what}: {got} vs {want}"
                );
            };
            assert_eq!(d.n as u64, c["n"].as_u64().unwrap(), "{name}");
            close(d.mean, c["mean"].as_f64().unwrap(), "mean");
            match c["se"].as_f64() {
                Some(se) => {
                    close(d.se.unwrap(), se, "se");
                    close(d.sd.unwrap(), c["sd"].as_f64().unwrap(), "sd");
                    close(d.mean / d.se.unwrap(), c["t"].as_f64().unwrap(), "t");
                }
                None => assert!(d.se.is_none() && d.sd.is_none(), "{name}"),
            }
            let s = c["paper_sign"].as_i64().unwrap() as i8;
            let v = verdict(&d, s);
            assert_eq!(v.verdict.as_str(), c["verdict"].as_str().unwrap(), "{name}");
            assert_eq!(v.agree as u64, c["agree"].as_u64().unwrap(), "{name}");
            assert_eq!(v.n, d.n);
        }
    }

    #[test]
    fn bad_input_is_named() {
        assert!(matches!(
            paired_difference(&[], &[]),
            Err(StatsError::Empty { .. })
        ));
        assert!(matches!(
            paired_difference(&[1.0], &[1.0, 2.0]),
            Err(StatsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            paired_difference(&[1.0, f64::NAN], &[1.0, 2.0]),
            Err(StatsError::NonFinite { .. })
        ));
        // Identical differences: SE 0, any non-zero mean clears it.
        let d = paired_difference(&[1.0, 2.0], &[0.5, 1.5]).unwrap();
        assert_eq!(d.se, Some(0.0));
        assert_eq!(verdict(&d, -1).verdict, Verdict::Yes);
        assert_eq!(verdict(&d, 0).verdict, Verdict::WithinNoise);
    }
}
