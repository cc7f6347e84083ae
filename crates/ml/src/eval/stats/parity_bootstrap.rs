//! The joint stratified bootstrap of Table 1 (App. B.1; our addition — the
//! paper reports point values only): every policy's signed gap and its
//! change against the baseline policy, on the same resampled prompts.
//!
//! Method. Each resample draws prompts with replacement *within each
//! category* (`n_first` indices of the first group, then `n_second` of the
//! second, from one [`SplitMix64`] stream seeded by `seed`), so it keeps the
//! design's group sizes; the *same* indices are applied to every policy,
//! because row `i` of every policy answers the same prompt. Per resample
//! and policy this gives the signed gap `Δ* = mean(first*) − mean(second*)`,
//! and against the baseline `B` the paired changes `|Δ_P*| − |Δ_B*|` and
//! `Δ_P* − Δ_B*`. Resampling prompts jointly keeps the prompt-level
//! correlation between policies, which is what makes the change's SE small
//! enough to say anything (resampling each policy on its own would add the
//! prompts' variance twice).
//!
//! Reported per statistic: the point value on the original prompts, the
//! bootstrap SE (sd of the replicates, ddof 1), the percentile interval
//! (`np.quantile`'s linear interpolation) and, for changes, the two-sided
//! bootstrap p-value `min(1, 2·min(P(d* ≤ 0), P(d* ≥ 0)))` (App. B.2's
//! convention, as [`super::semdiv_bootstrap`]).
//!
//! Why no interval of `|Δ|` itself: a percentile bootstrap of an absolute
//! value is biased away from 0 when the gap is near 0 (issue 22: a
//! baseline gap of 1.9e-4 outside its own interval [0.0076, 0.78]); the
//! signed gap has no such kink. RelDrop is a ratio over `|Δ_B|`, so it is
//! given only when the baseline's signed-gap interval excludes 0 (see
//! [`GapChange::rel_drop_undefined`]).

use super::bootstrap::quantile_sorted;
use super::error::{StatsError, check_resampling, check_same_len, check_sample};
use super::parity::{ParityGap, parity_gap, relative_drop};
use crate::util::rng::SplitMix64;

/// Rewards of one policy's responses, by category (rows aligned across
/// policies: row `i` of every policy answers the same prompt).
#[derive(Debug, Clone, Copy)]
pub struct GroupRewards<'a> {
    /// First category (Helpful in B.1).
    pub first: &'a [f64],
    /// Second category (Harmless in B.1).
    pub second: &'a [f64],
}

/// Settings of the stratified bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StratifiedConfig {
    /// Resamples, 2..=10^6.
    pub resamples: usize,
    /// Confidence level in (0, 1).
    pub level: f64,
    /// Seed of the resampling stream.
    pub seed: u64,
}

/// One statistic with its bootstrap SE and percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BootEstimate {
    /// Value on the original prompts.
    pub estimate: f64,
    /// Bootstrap standard error (sd of the replicates, ddof 1).
    pub se: f64,
    /// Lower end of the percentile interval.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
}

impl BootEstimate {
    /// Whether the interval holds 0.
    pub fn holds_zero(&self) -> bool {
        self.ci_low <= 0.0 && self.ci_high >= 0.0
    }
}

/// A paired change against the baseline with its bootstrap test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BootChange {
    /// Value, SE and interval.
    #[serde(flatten)]
    pub boot: BootEstimate,
    /// Two-sided bootstrap p-value `min(1, 2·min(P(d* ≤ 0), P(d* ≥ 0)))`;
    /// 0 means no replicate fell on the other side (resolution `2 / B`).
    pub p_value: f64,
}

/// A policy's gap change against the baseline on the same prompts.
///
/// The headline is [`GapChange::abs_change`], `|Δ_P| − |Δ_B|`: the paper's
/// Table 1 reports the *parity gap* `|Δ|` falling (0.4814 → 0.4001), and
/// "the gap shrinks" means exactly that this is negative. The signed change
/// `Δ_P − Δ_B` cannot stand in for it: a policy that overshoots (the gap
/// reverses sign and grows, issue 22 item 3) has a negative signed change
/// and a larger gap. The signed change is kept beside it because it shows
/// such a reversal and has no kink at 0; where the baseline's gap is near 0
/// (its interval holds 0) the absolute change's bootstrap crosses that kink
/// and is not reliable, which is why RelDrop is withheld there and the
/// report says so.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GapChange {
    /// `|Δ_P| − |Δ_B|` (headline).
    pub abs_change: BootChange,
    /// `Δ_P − Δ_B`.
    pub signed_change: BootChange,
    /// `RelDrop = (|Δ_P| − |Δ_B|) / |Δ_B| × 100` (percent) with its
    /// interval, when defined.
    pub rel_drop: Option<BootEstimate>,
    /// Why RelDrop is `None`.
    pub rel_drop_undefined: Option<&'static str>,
}

/// One policy's row of the joint bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PolicyGap {
    /// Point values (means, `Δ`, `|Δ|`) on the original prompts.
    pub gap: ParityGap,
    /// The signed gap `Δ` with its SE and interval.
    pub delta: BootEstimate,
    /// The change against the baseline (`None` for the baseline).
    pub vs_baseline: Option<GapChange>,
}

/// Reason recorded when the baseline's gap interval holds 0.
pub const REL_DROP_BASELINE_NEAR_ZERO: &str = "baseline gap's CI holds 0";

/// Reason recorded when a resample's baseline gap is exactly 0.
pub const REL_DROP_RESAMPLE_ZERO: &str = "a resample's baseline gap is 0";

fn mean_at(x: &[f64], idx: &[usize]) -> f64 {
    idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64
}

/// Estimate, SE and percentile interval of `point` from its replicates
/// (sorted in place).
fn summarise(point: f64, reps: &mut [f64], level: f64) -> BootEstimate {
    let b = reps.len() as f64;
    let m = reps.iter().sum::<f64>() / b;
    let se = (reps.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (b - 1.0)).sqrt();
    reps.sort_by(f64::total_cmp);
    BootEstimate {
        estimate: point,
        se,
        ci_low: quantile_sorted(reps, (1.0 - level) / 2.0),
        ci_high: quantile_sorted(reps, (1.0 + level) / 2.0),
    }
}

/// [`summarise`] plus the two-sided bootstrap p-value of "no change".
fn summarise_change(point: f64, reps: &mut [f64], level: f64) -> BootChange {
    let le = reps.iter().filter(|&&d| d <= 0.0).count();
    let ge = reps.iter().filter(|&&d| d >= 0.0).count();
    let p_value = (2.0 * le.min(ge) as f64 / reps.len() as f64).min(1.0);
    BootChange {
        boot: summarise(point, reps, level),
        p_value,
    }
}

fn check_inputs(
    policies: &[GroupRewards<'_>],
    baseline: usize,
    config: &StratifiedConfig,
) -> Result<(), StatsError> {
    const WHAT: &str = "parity_joint_bootstrap";
    check_resampling(
        WHAT,
        config.resamples,
        1_000_000,
        "1..=1000000",
        config.level,
    )?;
    if config.resamples < 2 {
        return Err(StatsError::BadParameter {
            what: WHAT,
            name: "resamples",
            expected: "at least 2 (an SE needs two replicates)",
            found: config.resamples as f64,
        });
    }
    let base = policies.get(baseline).ok_or(StatsError::BadParameter {
        what: WHAT,
        name: "baseline",
        expected: "an index of `policies`",
        found: baseline as f64,
    })?;
    for p in policies {
        check_sample(WHAT, "first", p.first)?;
        check_sample(WHAT, "second", p.second)?;
        check_same_len(
            WHAT,
            ("first", p.first.len()),
            ("baseline first", base.first.len()),
        )?;
        check_same_len(
            WHAT,
            ("second", p.second.len()),
            ("baseline second", base.second.len()),
        )?;
    }
    Ok(())
}

/// Per policy, the signed gap `Δ*` of every resample (`[policy][resample]`).
fn resample_deltas(policies: &[GroupRewards<'_>], config: &StratifiedConfig) -> Vec<Vec<f64>> {
    let (n1, n2) = (policies[0].first.len(), policies[0].second.len());
    let mut rng = SplitMix64::new(config.seed);
    let (mut i1, mut i2) = (vec![0usize; n1], vec![0usize; n2]);
    let mut deltas = vec![Vec::with_capacity(config.resamples); policies.len()];
    for _ in 0..config.resamples {
        for s in i1.iter_mut() {
            *s = rng.below(n1 as u64) as usize;
        }
        for s in i2.iter_mut() {
            *s = rng.below(n2 as u64) as usize;
        }
        for (p, d) in policies.iter().zip(deltas.iter_mut()) {
            d.push(mean_at(p.first, &i1) - mean_at(p.second, &i2));
        }
    }
    deltas
}

/// RelDrop with its percentile interval, or why it is undefined.
fn rel_drop(
    gap: &ParityGap,
    base: &ParityGap,
    base_delta: &BootEstimate,
    reps: &[f64],
    base_reps: &[f64],
    level: f64,
) -> Result<BootEstimate, &'static str> {
    if base_delta.holds_zero() {
        return Err(REL_DROP_BASELINE_NEAR_ZERO);
    }
    if base_reps.contains(&0.0) {
        return Err(REL_DROP_RESAMPLE_ZERO);
    }
    let point = relative_drop(gap.gap, base.gap).map_err(|_| REL_DROP_RESAMPLE_ZERO)?;
    let mut r: Vec<f64> = reps
        .iter()
        .zip(base_reps)
        .map(|(d, b)| (d.abs() - b.abs()) / b.abs() * 100.0)
        .collect();
    Ok(summarise(point, &mut r, level))
}

/// The joint bootstrap of Table 1: every policy's signed gap and, against
/// `policies[baseline]`, its paired gap changes and RelDrop (module doc).
///
/// # Errors
/// An empty or non-finite group, groups whose sizes differ between
/// policies, a baseline index out of range, or a bad config (fewer than 2
/// resamples, a level outside (0, 1)).
pub fn parity_joint_bootstrap(
    policies: &[GroupRewards<'_>],
    baseline: usize,
    config: StratifiedConfig,
) -> Result<Vec<PolicyGap>, StatsError> {
    check_inputs(policies, baseline, &config)?;
    let gaps = policies
        .iter()
        .map(|p| parity_gap(p.first, p.second))
        .collect::<Result<Vec<_>, _>>()?;
    let deltas = resample_deltas(policies, &config);
    let summaries: Vec<BootEstimate> = gaps
        .iter()
        .zip(&deltas)
        .map(|(g, d)| summarise(g.delta, &mut d.clone(), config.level))
        .collect();
    let (base_gap, base_reps, base_delta) =
        (&gaps[baseline], &deltas[baseline], &summaries[baseline]);
    let mut out = Vec::with_capacity(policies.len());
    for (k, (gap, reps)) in gaps.iter().zip(&deltas).enumerate() {
        let vs_baseline = (k != baseline).then(|| {
            let mut abs: Vec<f64> = reps
                .iter()
                .zip(base_reps)
                .map(|(d, b)| d.abs() - b.abs())
                .collect();
            let mut signed: Vec<f64> = reps.iter().zip(base_reps).map(|(d, b)| d - b).collect();
            let rd = rel_drop(gap, base_gap, base_delta, reps, base_reps, config.level);
            GapChange {
                abs_change: summarise_change(gap.gap - base_gap.gap, &mut abs, config.level),
                signed_change: summarise_change(
                    gap.delta - base_gap.delta,
                    &mut signed,
                    config.level,
                ),
                rel_drop: rd.ok(),
                rel_drop_undefined: rd.err(),
            }
        });
        out.push(PolicyGap {
            gap: *gap,
            delta: summaries[k],
            vs_baseline,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{assert_close, gen_sample};
    use crate::eval::stats::standardise::pooled_scale;
    use serde_json::Value;

    fn sample(v: &Value) -> Vec<f64> {
        let g = |k: &str| v[k].as_f64().expect("number");
        gen_sample(
            v["seed"].as_u64().expect("seed"),
            v["n"].as_u64().expect("n") as usize,
            g("scale"),
            g("shift"),
            v["levels"].as_u64().unwrap_or(0),
            v["shape"].as_str().unwrap_or("uniform"),
        )
    }

    fn add(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
        a.iter().zip(&b).map(|(x, y)| x + y).collect()
    }

    fn close_boot(got: &BootEstimate, want: &Value, what: &str) {
        for (g, k) in [
            (got.estimate, "estimate"),
            (got.se, "se"),
            (got.ci_low, "ci_low"),
            (got.ci_high, "ci_high"),
        ] {
            assert_close(g, want[k].as_f64().expect(k), 1e-9, &format!("{what}.{k}"));
        }
    }

    #[test]
    fn matches_the_numpy_mirror_on_standardised_rewards() {
        let text = include_str!("../../../../../tests/fixtures/stats/parity.json");
        let fx: Value = serde_json::from_str(text).expect("parity.json parses");
        for case in fx["parity_joint_bootstrap"].as_array().expect("cases") {
            let name = case["name"].as_str().unwrap_or("?");
            let raw: Vec<(Vec<f64>, Vec<f64>)> = case["policies"]
                .as_array()
                .expect("policies")
                .iter()
                .map(|p| {
                    (
                        add(sample(&p["first"]), sample(&p["noise_first"])),
                        add(sample(&p["second"]), sample(&p["noise_second"])),
                    )
                })
                .collect();
            let all: Vec<&[f64]> = raw.iter().flat_map(|(a, b)| [&a[..], &b[..]]).collect();
            let scale = pooled_scale(&all).unwrap();
            assert_close(
                scale.mean,
                case["scale"]["mean"].as_f64().unwrap(),
                1e-12,
                name,
            );
            assert_close(scale.sd, case["scale"]["sd"].as_f64().unwrap(), 1e-12, name);
            let z: Vec<(Vec<f64>, Vec<f64>)> = raw
                .iter()
                .map(|(a, b)| (scale.apply(a), scale.apply(b)))
                .collect();
            let groups: Vec<GroupRewards<'_>> = z
                .iter()
                .map(|(a, b)| GroupRewards {
                    first: a,
                    second: b,
                })
                .collect();
            let cfg = StratifiedConfig {
                resamples: case["resamples"].as_u64().unwrap() as usize,
                level: case["level"].as_f64().unwrap(),
                seed: case["seed"].as_u64().unwrap(),
            };
            let base = case["baseline"].as_u64().unwrap() as usize;
            let rows = parity_joint_bootstrap(&groups, base, cfg).unwrap();
            for (k, (got, want)) in rows
                .iter()
                .zip(case["expected"].as_array().unwrap())
                .enumerate()
            {
                let what = format!("{name} policy {k}");
                close_boot(&got.delta, &want["delta"], &format!("{what} delta"));
                assert_close(got.gap.gap, want["gap"].as_f64().unwrap(), 1e-12, &what);
                let Some(c) = &got.vs_baseline else {
                    assert_eq!(k, base, "{what}: only the baseline has no change");
                    continue;
                };
                for (g, key) in [
                    (&c.abs_change, "abs_change"),
                    (&c.signed_change, "signed_change"),
                ] {
                    close_boot(&g.boot, &want[key], &format!("{what} {key}"));
                    assert_eq!(
                        g.p_value,
                        want[key]["p_value"].as_f64().unwrap(),
                        "{what} {key} p"
                    );
                }
                match (&c.rel_drop, want["rel_drop"].is_null()) {
                    (Some(r), false) => {
                        close_boot(r, &want["rel_drop"], &format!("{what} rel_drop"))
                    }
                    (None, true) => {
                        assert_eq!(c.rel_drop_undefined, Some(REL_DROP_BASELINE_NEAR_ZERO))
                    }
                    _ => panic!("{what}: RelDrop defined in one and not the other"),
                }
            }
        }
    }

    fn cfg() -> StratifiedConfig {
        StratifiedConfig {
            resamples: 400,
            level: 0.95,
            seed: 3,
        }
    }

    #[test]
    fn an_identical_twin_changes_nothing_with_p_one() {
        let (a, b) = (
            gen_sample(1, 40, 1.0, 0.5, 0, "sum4"),
            gen_sample(2, 30, 1.0, 0.0, 0, "sum4"),
        );
        let g = GroupRewards {
            first: &a,
            second: &b,
        };
        let rows = parity_joint_bootstrap(&[g, g], 0, cfg()).unwrap();
        let c = rows[1].vs_baseline.unwrap();
        for ch in [c.abs_change, c.signed_change] {
            assert_eq!(
                (
                    ch.boot.estimate,
                    ch.boot.se,
                    ch.boot.ci_low,
                    ch.boot.ci_high
                ),
                (0.0, 0.0, 0.0, 0.0)
            );
            assert_eq!(ch.p_value, 1.0);
        }
        assert_eq!(rows[0].delta, rows[1].delta);
        assert!(rows[0].vs_baseline.is_none());
    }

    #[test]
    fn rel_drop_is_gated_on_the_baseline_interval() {
        // A baseline whose gap is ≈ 0: RelDrop is withheld with the reason.
        let a = gen_sample(5, 60, 1.0, 0.0, 0, "sum4");
        let b = gen_sample(6, 60, 1.0, 0.0, 0, "sum4");
        let far = gen_sample(7, 60, 1.0, 1.0, 0, "sum4");
        let flat = GroupRewards {
            first: &a,
            second: &b,
        };
        let apart = GroupRewards {
            first: &far,
            second: &b,
        };
        let rows = parity_joint_bootstrap(&[flat, apart], 0, cfg()).unwrap();
        assert!(rows[0].delta.holds_zero(), "{:?}", rows[0].delta);
        let c = rows[1].vs_baseline.unwrap();
        assert_eq!(
            (c.rel_drop, c.rel_drop_undefined),
            (None, Some(REL_DROP_BASELINE_NEAR_ZERO))
        );
        // The other way round the baseline gap is clear of 0: RelDrop exists.
        let rows = parity_joint_bootstrap(&[apart, flat], 0, cfg()).unwrap();
        let c = rows[1].vs_baseline.unwrap();
        let r = c.rel_drop.expect("defined");
        let want = (rows[1].gap.gap - rows[0].gap.gap) / rows[0].gap.gap * 100.0;
        assert!((r.estimate - want).abs() < 1e-9 && r.ci_low <= r.ci_high);
        assert!(c.rel_drop_undefined.is_none());
    }

    #[test]
    fn joint_resampling_gives_the_paired_standard_error() {
        // Policy = baseline + small independent noise: the change's SE is
        // that of the noise, sqrt(σ²/n1 + σ²/n2), not of the rewards.
        let (n, noise_sd) = (200, 0.1);
        let a = gen_sample(11, n, 2.0, 0.3, 0, "sum4");
        let b = gen_sample(12, n, 2.0, 0.0, 0, "sum4");
        // sum4 has sd sqrt(4/12); scale so the noise has sd `noise_sd`.
        let k = noise_sd / (4.0f64 / 12.0).sqrt();
        let pa = add(a.clone(), gen_sample(13, n, k, 0.0, 0, "sum4"));
        let pb = add(b.clone(), gen_sample(14, n, k, 0.0, 0, "sum4"));
        let rows = parity_joint_bootstrap(
            &[
                GroupRewards {
                    first: &a,
                    second: &b,
                },
                GroupRewards {
                    first: &pa,
                    second: &pb,
                },
            ],
            0,
            StratifiedConfig {
                resamples: 2000,
                level: 0.95,
                seed: 9,
            },
        )
        .unwrap();
        let se = rows[1].vs_baseline.unwrap().signed_change.boot.se;
        let want = (2.0 * noise_sd * noise_sd / n as f64).sqrt();
        assert!((se / want - 1.0).abs() < 0.15, "{se} vs {want}");
        // Far below the SE of either gap on its own.
        assert!(se < 0.1 * rows[1].delta.se);
    }

    #[test]
    fn misaligned_policies_and_bad_settings_are_errors() {
        let p = GroupRewards {
            first: &[1.0, 2.0],
            second: &[0.0],
        };
        let b = GroupRewards {
            first: &[1.0],
            second: &[0.0],
        };
        assert!(parity_joint_bootstrap(&[b, p], 0, cfg()).is_err());
        assert!(parity_joint_bootstrap(&[p], 1, cfg()).is_err());
        let one = StratifiedConfig {
            resamples: 1,
            ..cfg()
        };
        assert!(parity_joint_bootstrap(&[p], 0, one).is_err());
        let lvl = StratifiedConfig {
            level: 1.0,
            ..cfg()
        };
        assert!(parity_joint_bootstrap(&[p], 0, lvl).is_err());
    }
}
