//! Power of a two-sided z-test from a standard error (issue 22), for
//! statistics whose SE comes from a bootstrap over prompts (Table 1's gap
//! change): the power to detect an effect `δ`, the smallest effect
//! detectable at a given power, and the sample size that detection needs
//! when the SE scales as `1/√n`.
//!
//! With `Z = δ̂/SE ~ N(δ/SE, 1)` and `c = z_{1−α/2}`, the two-sided test's
//! power is `Φ(|δ|/SE − c) + Φ(−|δ|/SE − c)`; the smallest `|δ|` with power
//! `π` is `(c + z_π)·SE` to within the far tail's `Φ(−|δ|/SE − c)` (below
//! 1e-3 at π ≥ 0.5, α ≤ 0.1), as power calculations usually take it
//! (at α 0.05, π 0.8: `2.80·SE`). Normal quantiles are
//! [`t_quantile`](super::student_t::t_quantile) with `ν = ∞`.

use super::error::StatsError;
use super::student_t::{t_cdf, t_quantile};

fn check(alpha: f64, power: Option<f64>, se: f64) -> Result<(), StatsError> {
    const WHAT: &str = "z_power";
    let bad = |name: &'static str, expected: &'static str, found: f64| StatsError::BadParameter {
        what: WHAT,
        name,
        expected,
        found,
    };
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(bad("alpha", "0 < alpha < 1", alpha));
    }
    if let Some(p) = power
        && !(p > 0.0 && p < 1.0)
    {
        return Err(bad("power", "0 < power < 1", p));
    }
    if !(se.is_finite() && se > 0.0) {
        return Err(bad("se", "a finite standard error > 0", se));
    }
    Ok(())
}

/// `z_{1−α/2} + z_π`: the effect, in standard errors, detected with power
/// `π` by a two-sided test at level `α` (2.80 at 0.05 and 0.8).
///
/// # Errors
/// `alpha` or `power` outside (0, 1).
pub fn z_multiplier(alpha: f64, power: f64) -> Result<f64, StatsError> {
    check(alpha, Some(power), 1.0)?;
    Ok(t_quantile(1.0 - alpha / 2.0, f64::INFINITY) + t_quantile(power, f64::INFINITY))
}

/// A non-finite effect is refused, naming it.
fn check_effect(effect: f64) -> Result<(), StatsError> {
    if effect.is_finite() {
        return Ok(());
    }
    Err(StatsError::NonFinite {
        what: "z_power",
        name: "effect",
        index: 0,
        value: effect,
    })
}

/// Power of the two-sided z-test at level `alpha` to detect `effect` (either
/// sign) when the estimate's standard error is `se`.
///
/// # Errors
/// `alpha` outside (0, 1), `se` not finite and positive, or a non-finite
/// effect.
pub fn z_test_power(effect: f64, se: f64, alpha: f64) -> Result<f64, StatsError> {
    check(alpha, None, se)?;
    check_effect(effect)?;
    let c = t_quantile(1.0 - alpha / 2.0, f64::INFINITY);
    let shift = effect.abs() / se;
    Ok(t_cdf(shift - c, f64::INFINITY) + t_cdf(-shift - c, f64::INFINITY))
}

/// The smallest effect detectable with `power` at level `alpha`:
/// `(z_{1−α/2} + z_π)·se`.
///
/// # Errors
/// As [`z_test_power`], and `power` outside (0, 1).
pub fn z_detectable(se: f64, alpha: f64, power: f64) -> Result<f64, StatsError> {
    check(alpha, Some(power), se)?;
    Ok(z_multiplier(alpha, power)? * se)
}

/// How many times the current sample the detection of `effect` with
/// `power` needs, when the standard error scales as `1/√n`:
/// `((z_{1−α/2} + z_π)·se / |effect|)²`. `None` for a zero effect (no
/// sample suffices).
///
/// # Errors
/// As [`z_detectable`], or a non-finite effect.
pub fn z_sample_scale(
    effect: f64,
    se: f64,
    alpha: f64,
    power: f64,
) -> Result<Option<f64>, StatsError> {
    let mde = z_detectable(se, alpha, power)?;
    check_effect(effect)?;
    Ok((effect != 0.0).then(|| (mde / effect.abs()).powi(2)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SplitMix64;

    #[test]
    fn textbook_values() {
        // z_0.975 + z_0.8 = 1.959964 + 0.841621.
        let m = z_multiplier(0.05, 0.8).unwrap();
        assert!((m - 2.801_585_218_014_16).abs() < 1e-9, "{m}");
        // An effect of 2.80 SE has power 0.8 (plus the far tail, ~1e-8).
        let p = z_test_power(m * 0.3, 0.3, 0.05).unwrap();
        assert!((p - 0.8).abs() < 1e-6, "{p}");
        // No effect: the test's size.
        assert!((z_test_power(0.0, 1.0, 0.05).unwrap() - 0.05).abs() < 1e-12);
        // Detecting half the MDE needs four times the sample.
        let s = z_sample_scale(m * 0.5, 1.0, 0.05, 0.8).unwrap().unwrap();
        assert!((s - 4.0).abs() < 1e-12, "{s}");
        assert_eq!(z_sample_scale(0.0, 1.0, 0.05, 0.8).unwrap(), None);
        assert!(z_test_power(1.0, 0.0, 0.05).is_err());
        assert!(z_detectable(1.0, 0.05, 1.0).is_err());
    }

    #[test]
    fn power_matches_a_simulation_of_ten_thousand_draws() {
        // Estimates ~ N(δ, se²); the share with |est/se| > 1.96 is the power.
        let (effect, se, alpha) = (0.25, 0.1, 0.05);
        let want = z_test_power(effect, se, alpha).unwrap();
        let c = t_quantile(1.0 - alpha / 2.0, f64::INFINITY);
        let mut rng = SplitMix64::new(2024);
        let draws = 10_000;
        let hits = (0..draws)
            .filter(|_| ((effect + se * rng.normal()) / se).abs() > c)
            .count();
        let got = hits as f64 / draws as f64;
        let mc_se = (want * (1.0 - want) / draws as f64).sqrt();
        assert!((got - want).abs() < 4.0 * mc_se, "{got} vs {want}");
    }
}
