//! Welch's two-sample t-test (unequal variances), for a PPO run's reward
//! gain: the mean RM score of its last steps minus that of its first
//! (issue 23). Degrees of freedom by Welch–Satterthwaite; the p-value from
//! [`super::student_t`]. Checked against `scipy.stats.ttest_ind(b, a,
//! equal_var=False)` by `tests/fixtures/stats/make_student_t.py`.

use super::error::{StatsError, check_finite};
use super::student_t::t_sf_two_sided;

/// `mean(b) − mean(a)` with Welch's standard error and two-sided test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WelchT {
    /// Mean of the first sample (`a`).
    pub mean_a: f64,
    /// Mean of the second sample (`b`).
    pub mean_b: f64,
    /// `mean_b − mean_a`.
    pub diff: f64,
    /// `sqrt(s_a²/n_a + s_b²/n_b)` (sample variances, ddof 1).
    pub se: f64,
    /// `diff / se`.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value `P(|T_df| ≥ |t|)`.
    pub p_value: f64,
}

/// Mean and sample variance (ddof 1).
fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    (m, v)
}

/// Welch's t-test of `mean(b) − mean(a)`.
///
/// # Errors
/// A sample with fewer than two values, a non-finite value, or both samples
/// constant (no standard error).
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Result<WelchT, StatsError> {
    const WHAT: &str = "welch_t_test";
    for (name, x) in [("a", a), ("b", b)] {
        if x.len() < 2 {
            return Err(StatsError::TooFew {
                what: WHAT,
                name,
                needed: 2,
                found: x.len(),
            });
        }
        check_finite(WHAT, name, x)?;
    }
    let ((ma, va), (mb, vb)) = (mean_var(a), mean_var(b));
    let (qa, qb) = (va / a.len() as f64, vb / b.len() as f64);
    let se2 = qa + qb;
    if se2 <= 0.0 {
        return Err(StatsError::Undefined {
            what: WHAT,
            reason: "both samples are constant (standard error 0)",
        });
    }
    let df = se2 * se2 / (qa * qa / (a.len() - 1) as f64 + qb * qb / (b.len() - 1) as f64);
    let se = se2.sqrt();
    let diff = mb - ma;
    let t = diff / se;
    Ok(WelchT {
        mean_a: ma,
        mean_b: mb,
        diff,
        se,
        t,
        df,
        p_value: t_sf_two_sided(t, df),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn matches_scipy_ttest_ind_unequal_var() {
        let text = include_str!("../../../../../tests/fixtures/stats/student_t.json");
        let f: Value = serde_json::from_str(text).expect("student_t.json parses");
        let cases = f["welch"].as_array().expect("welch cases");
        assert!(cases.len() >= 4);
        let nums = |v: &Value| -> Vec<f64> {
            v.as_array()
                .expect("list")
                .iter()
                .map(|x| x.as_f64().expect("number"))
                .collect()
        };
        for c in cases {
            let name = c["name"].as_str().unwrap_or("?");
            let r = welch_t_test(&nums(&c["a"]), &nums(&c["b"])).unwrap();
            for (got, key, tol) in [
                (r.t, "t", 1e-12),
                (r.df, "df", 1e-12),
                (r.p_value, "p", 1e-10),
                (r.diff, "diff", 1e-12),
            ] {
                let want = c[key].as_f64().expect("number");
                assert!(
                    (got - want).abs() <= tol * want.abs().max(1e-300),
                    "{name} {key}: got {got:e}, want {want:e}"
                );
            }
        }
    }

    #[test]
    fn gain_from_five_steps_each_and_bad_input() {
        // Issue 23's rule: last 5 minus first 5, SE sqrt(s1²/5 + s2²/5).
        let first = [-0.8, -0.7, -0.75, -0.65, -0.9];
        let last = [-0.2, -0.1, -0.3, -0.15, -0.25];
        let r = welch_t_test(&first, &last).unwrap();
        let (m1, v1) = mean_var(&first);
        let (m2, v2) = mean_var(&last);
        assert!((r.diff - (m2 - m1)).abs() < 1e-15);
        assert!((r.se - (v1 / 5.0 + v2 / 5.0).sqrt()).abs() < 1e-15);
        assert!(r.p_value < 1e-4 && r.df > 4.0 && r.df <= 8.0, "{r:?}");
        assert!(welch_t_test(&[1.0], &last).is_err());
        assert!(welch_t_test(&[1.0, 1.0], &[2.0, 2.0]).is_err());
        assert!(welch_t_test(&[1.0, f64::NAN], &last).is_err());
    }
}
