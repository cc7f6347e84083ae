//! The post-PPO parity gap (App. B.1, Table 1): each policy's responses to
//! the same helpful and harmless prompts, scored by one fixed safety RM.
//!
//! Per policy (issue 22): the mean reward per category, raw and
//! standardised; the *signed* gap `Δ = mean(first) − mean(second)` on
//! standardised rewards with its bootstrap SE and interval; against the
//! baseline policy the paired gap change `|Δ_P| − |Δ_B|` (the headline: the
//! paper's "the gap shrinks", see [`GapChange`]) and the signed change
//! `Δ_P − Δ_B`, each with SE, interval and bootstrap p, from one bootstrap
//! that resamples prompts jointly across policies
//! ([`parity_joint_bootstrap`]); RelDrop only when the baseline's gap
//! interval excludes 0; and the power of that comparison to see the
//! paper's change.
//!
//! Standardisation: every reward is z-scored with the mean and sample sd
//! pooled over *all* policies' scored responses ([`pooled_scale`]), one
//! affine map for all, so gaps are in reward-sd units (comparable across
//! RMs) and changes keep their sign; the raw means are kept too.
//!
//! Power: the paper's relative change of the gap (Table 1: RelDrop per
//! policy, given in `paper_rel_change`) applied to *our* baseline gap
//! `|Δ_B|`. Converting the paper's absolute change (−0.081 reward units)
//! to our scale is not well-defined: the paper does not give its safety
//! RM's reward sd, so its units and ours cannot be matched. The test is the
//! two-sided 5 % z-test with the change's bootstrap SE; the smallest change
//! detectable at 80 % power is `2.80·SE`; the prompts needed scale both
//! categories by `(2.80·SE / |target|)²` (SE ∝ 1/√n).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::generations::GenerationRow;
use super::policies::{check_aligned, label};
use super::stats::{
    ALPHA, BootChange, BootEstimate, GapChange, GroupRewards, PooledScale, StratifiedConfig,
    TARGET_POWER, parity_joint_bootstrap, pooled_scale, z_detectable, z_sample_scale, z_test_power,
};

/// One scored response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredRow {
    /// Policy (expansion name).
    pub policy: String,
    /// Prompt id.
    pub prompt_id: String,
    /// Category.
    pub category: String,
    /// Safety-RM reward of (prompt, response).
    pub reward: f64,
}

/// One policy's generations, their rewards and the generation cap.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPolicy {
    /// Its generations, in prompt order.
    pub rows: Vec<GenerationRow>,
    /// The safety RM's reward of each row.
    pub rewards: Vec<f64>,
    /// The generating stage's `max_new_tokens`, when known.
    pub max_new_tokens: Option<usize>,
}

/// The power of Table 1's comparison to see the paper's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityPower {
    /// The paper's relative change of the gap for this policy, percent
    /// (§4.1 Table 1's RelDrop), when configured.
    pub paper_rel_change: Option<f64>,
    /// The change it means here, `paper_rel_change / 100 · |Δ_B|` (sd
    /// units).
    pub target_change: Option<f64>,
    /// How the target was set, in words.
    pub target_basis: String,
    /// Test level (two-sided).
    pub alpha: f64,
    /// Power at which `mde` and `prompts_needed` are given.
    pub target_power: f64,
    /// Power of the two-sided z-test with the change's bootstrap SE to
    /// detect `target_change`.
    pub power: Option<f64>,
    /// Smallest `|change|` detectable with `target_power`: `(z + z_π)·SE`.
    pub mde: f64,
    /// Prompts per category (first, second) needed to detect
    /// `target_change` with `target_power`, both scaled from ours.
    pub prompts_needed: Option<[u64; 2]>,
}

/// Table 1's row for one policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyParity {
    /// Expansion name of the policy's generations.
    pub policy: String,
    /// Short label (its matrix values).
    pub label: String,
    /// Whether this is the baseline policy.
    pub baseline: bool,
    /// Prompts of the first category.
    pub n_first: usize,
    /// Prompts of the second category.
    pub n_second: usize,
    /// Mean raw reward, first category.
    pub raw_mean_first: f64,
    /// Mean raw reward, second category.
    pub raw_mean_second: f64,
    /// `raw_mean_first − raw_mean_second`.
    pub raw_delta: f64,
    /// Mean standardised reward, first category.
    pub mean_first: f64,
    /// Mean standardised reward, second category.
    pub mean_second: f64,
    /// Signed gap `Δ` on standardised rewards, with SE and interval.
    pub delta: BootEstimate,
    /// `|Δ|`, the parity gap (standardised).
    pub gap: f64,
    /// `|Δ_P| − |Δ_B|` vs the baseline (headline; `None` for it).
    pub gap_change: Option<BootChange>,
    /// `Δ_P − Δ_B` vs the baseline.
    pub signed_change: Option<BootChange>,
    /// RelDrop in percent with its interval, when defined.
    pub rel_drop: Option<BootEstimate>,
    /// Why `rel_drop` is `None` (not set for the baseline itself).
    pub rel_drop_undefined: Option<String>,
    /// Power of the gap change to see the paper's (`None` for the baseline
    /// or with a zero SE).
    pub power: Option<ParityPower>,
    /// Mean response length in tokens.
    pub mean_tokens: f64,
    /// The generation cap, when known.
    pub max_new_tokens: Option<usize>,
    /// Fraction of responses that hit the cap (`tokens == max_new_tokens`,
    /// no EOS: the EOS token is not counted in `tokens`).
    pub at_cap: Option<f64>,
}

/// Table 1 with the scale its rewards were standardised on.
#[derive(Debug, Clone, PartialEq)]
pub struct ParityTable {
    /// Mean and sd pooled over every policy's rewards.
    pub scale: PooledScale,
    /// One row per policy, in name order.
    pub policies: Vec<PolicyParity>,
}

/// Settings of the parity evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct ParitySettings {
    /// The first category (B.1: `helpful`).
    pub first: String,
    /// The second category (B.1: `harmless`).
    pub second: String,
    /// Bootstrap settings.
    pub bootstrap: StratifiedConfig,
    /// The paper's relative change of the gap per policy label, percent
    /// (Table 1: `fair` −16.9, `fair_curiosity` −14.3); policies without
    /// one get no power target.
    pub paper_rel_change: BTreeMap<String, f64>,
}

/// The rewards of one policy split by category, in row order.
fn split(
    policy: &str,
    rows: &[GenerationRow],
    rewards: &[f64],
    s: &ParitySettings,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (r, &x) in rows.iter().zip(rewards) {
        if r.category == s.first {
            a.push(x);
        } else if r.category == s.second {
            b.push(x);
        } else {
            anyhow::bail!(
                "policy `{policy}`: prompt `{}` has category `{}`, expected `{}` or `{}`",
                r.prompt_id,
                r.category,
                s.first,
                s.second
            );
        }
    }
    anyhow::ensure!(
        !a.is_empty() && !b.is_empty(),
        "policy `{policy}`: needs prompts of both `{}` ({}) and `{}` ({})",
        s.first,
        a.len(),
        s.second,
        b.len()
    );
    Ok((a, b))
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// The power block of one policy's change, `None` where its SE is 0
/// (identical policies: nothing to test).
fn power_of(
    label: &str,
    change: &BootChange,
    base_gap: f64,
    n: [usize; 2],
    s: &ParitySettings,
) -> anyhow::Result<Option<ParityPower>> {
    let se = change.boot.se;
    if se <= 0.0 {
        return Ok(None);
    }
    let paper = s.paper_rel_change.get(label).copied();
    let target = paper.map(|r| r / 100.0 * base_gap);
    let power = target.map(|t| z_test_power(t, se, ALPHA)).transpose()?;
    let scale = match target {
        Some(t) => z_sample_scale(t, se, ALPHA, TARGET_POWER)?,
        None => None,
    };
    let needed = scale.map(|c| n.map(|k| (c * k as f64).ceil().min(u64::MAX as f64) as u64));
    Ok(Some(ParityPower {
        paper_rel_change: paper,
        target_change: target,
        target_basis: match paper {
            Some(_) => "the paper's relative change of the gap (Table 1) times our baseline gap |Δ_B|; the paper's absolute change has no counterpart on our scale (its RM's reward sd is not given)".into(),
            None => "no paper value configured for this policy".into(),
        },
        alpha: ALPHA,
        target_power: TARGET_POWER,
        power,
        mde: z_detectable(se, ALPHA, TARGET_POWER)?,
        prompts_needed: needed,
    }))
}

/// Fraction of `rows` that hit the generation cap `cap` (`tokens == cap`:
/// the EOS token is not counted in `tokens`, so a response that ended
/// with EOS has fewer); `None` without a cap.
pub fn at_cap(rows: &[GenerationRow], cap: Option<usize>) -> Option<f64> {
    let cap = cap?;
    let hit = rows.iter().filter(|r| r.tokens as usize >= cap).count();
    Some(hit as f64 / rows.len().max(1) as f64)
}

/// One policy's row from its bootstrap result.
struct RowInput<'a> {
    name: &'a str,
    is_base: bool,
    raw: (&'a [f64], &'a [f64]),
    policy: &'a ScoredPolicy,
}

fn row(
    input: RowInput<'_>,
    boot: &super::stats::PolicyGap,
    base_gap: f64,
    s: &ParitySettings,
) -> anyhow::Result<PolicyParity> {
    let lab = label(input.name);
    let change: Option<&GapChange> = boot.vs_baseline.as_ref();
    let n = [input.raw.0.len(), input.raw.1.len()];
    let power = match change {
        Some(c) => power_of(&lab, &c.abs_change, base_gap, n, s)?,
        None => None,
    };
    let rows = &input.policy.rows;
    Ok(PolicyParity {
        policy: input.name.to_string(),
        baseline: input.is_base,
        n_first: n[0],
        n_second: n[1],
        raw_mean_first: mean(input.raw.0),
        raw_mean_second: mean(input.raw.1),
        raw_delta: mean(input.raw.0) - mean(input.raw.1),
        mean_first: boot.gap.mean_first,
        mean_second: boot.gap.mean_second,
        delta: boot.delta,
        gap: boot.gap.gap,
        gap_change: change.map(|c| c.abs_change),
        signed_change: change.map(|c| c.signed_change),
        rel_drop: change.and_then(|c| c.rel_drop),
        rel_drop_undefined: change.and_then(|c| c.rel_drop_undefined.map(String::from)),
        power,
        mean_tokens: rows.iter().map(|r| f64::from(r.tokens)).sum::<f64>()
            / rows.len().max(1) as f64,
        max_new_tokens: input.policy.max_new_tokens,
        at_cap: at_cap(rows, input.policy.max_new_tokens),
        label: lab,
    })
}

/// Table 1 from each policy's generations and rewards (aligned rows).
/// `policies` maps expansion name → its scored responses; `baseline` is a
/// key of it.
///
/// # Errors
/// Misaligned generations, a category outside the two, a missing baseline,
/// constant rewards (no scale), or a statistic that cannot be computed.
pub fn parity_table(
    policies: &BTreeMap<String, ScoredPolicy>,
    baseline: &str,
    s: &ParitySettings,
) -> anyhow::Result<ParityTable> {
    let base = policies
        .get(baseline)
        .ok_or_else(|| anyhow::anyhow!("baseline `{baseline}` is not among the policies"))?;
    let mut raw = Vec::with_capacity(policies.len());
    for (name, p) in policies {
        check_aligned(name, &p.rows, &base.rows)?;
        anyhow::ensure!(
            p.rows.len() == p.rewards.len(),
            "policy `{name}`: {} rows, {} rewards",
            p.rows.len(),
            p.rewards.len()
        );
        raw.push(split(name, &p.rows, &p.rewards, s)?);
    }
    let pooled: Vec<&[f64]> = raw.iter().flat_map(|(a, b)| [&a[..], &b[..]]).collect();
    let scale = pooled_scale(&pooled).map_err(|e| anyhow::anyhow!("standardising rewards: {e}"))?;
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
    let base_idx = policies
        .keys()
        .position(|k| k == baseline)
        .ok_or_else(|| anyhow::anyhow!("baseline `{baseline}` is not among the policies"))?;
    let boots = parity_joint_bootstrap(&groups, base_idx, s.bootstrap)
        .map_err(|e| anyhow::anyhow!("parity bootstrap: {e}"))?;
    let base_gap = boots[base_idx].gap.gap;
    let mut out = Vec::with_capacity(policies.len());
    for (k, (name, p)) in policies.iter().enumerate() {
        let input = RowInput {
            name,
            is_base: k == base_idx,
            raw: (&raw[k].0, &raw[k].1),
            policy: p,
        };
        out.push(
            row(input, &boots[k], base_gap, s)
                .map_err(|e| anyhow::anyhow!("policy `{name}`: {e}"))?,
        );
    }
    Ok(ParityTable {
        scale,
        policies: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<GenerationRow> {
        (0..n)
            .map(|i| GenerationRow {
                prompt_id: format!("p{i}"),
                category: if i < n / 2 { "helpful" } else { "harmless" }.into(),
                prompt: String::new(),
                response: String::new(),
                tokens: i as u32,
            })
            .collect()
    }

    fn settings() -> ParitySettings {
        ParitySettings {
            first: "helpful".into(),
            second: "harmless".into(),
            bootstrap: StratifiedConfig {
                resamples: 200,
                level: 0.95,
                seed: 5,
            },
            paper_rel_change: [("fair".to_string(), -16.9)].into(),
        }
    }

    fn scored(rows: Vec<GenerationRow>, rewards: Vec<f64>, cap: Option<usize>) -> ScoredPolicy {
        ScoredPolicy {
            rows,
            rewards,
            max_new_tokens: cap,
        }
    }

    /// Baseline: helpful 1.0, harmless 0.0 (+ a ramp); fair: 0.8 / 0.2.
    fn reward(hi: f64, lo: f64) -> Vec<f64> {
        (0..10)
            .map(|i| if i < 5 { hi } else { lo } + 0.01 * i as f64)
            .collect()
    }

    /// The fair policy's rewards: 0.8 / 0.2 with a per-prompt jitter, so
    /// the paired change varies across resamples.
    fn fair_rewards() -> Vec<f64> {
        reward(0.8, 0.2)
            .iter()
            .enumerate()
            .map(|(i, x)| x + 0.03 * ((i * 7) % 5) as f64 - 0.06)
            .collect()
    }

    #[test]
    fn standardised_signed_gaps_changes_and_rel_drop() {
        let mut p = BTreeMap::new();
        p.insert(
            "g[policy=baseline]".to_string(),
            scored(rows(10), reward(1.0, 0.0), Some(9)),
        );
        p.insert(
            "g[policy=fair]".to_string(),
            scored(rows(10), fair_rewards(), Some(9)),
        );
        let t = parity_table(&p, "g[policy=baseline]", &settings()).unwrap();
        // The scale pools all 20 rewards.
        let all: Vec<f64> = [reward(1.0, 0.0), fair_rewards()].concat();
        let m = all.iter().sum::<f64>() / 20.0;
        let sd = (all.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 19.0).sqrt();
        assert!((t.scale.mean - m).abs() < 1e-12 && (t.scale.sd - sd).abs() < 1e-12);
        let (base, fair) = (&t.policies[0], &t.policies[1]);
        assert!(base.baseline && base.gap_change.is_none() && base.power.is_none());
        assert!((base.raw_delta - 0.95).abs() < 1e-12);
        assert!((base.delta.estimate - 0.95 / sd).abs() < 1e-12);
        let f = fair_rewards();
        let raw_fair = mean(&f[..5]) - mean(&f[5..]);
        assert!((fair.raw_delta - raw_fair).abs() < 1e-12);
        assert!((fair.gap - raw_fair.abs() / sd).abs() < 1e-12);
        let c = fair.gap_change.unwrap();
        assert!((c.boot.estimate - (raw_fair.abs() - 0.95) / sd).abs() < 1e-12);
        assert!(c.boot.se > 0.0 && c.boot.ci_high < 0.0 && c.p_value < 0.05);
        // RelDrop is scale-free: the same on raw and standardised rewards.
        let rd = fair.rel_drop.unwrap();
        assert!((rd.estimate - (raw_fair.abs() - 0.95) / 0.95 * 100.0).abs() < 1e-9);
        assert!(fair.rel_drop_undefined.is_none());
        let pw = fair.power.as_ref().unwrap();
        assert!((pw.target_change.unwrap() - (-0.169 * base.gap)).abs() < 1e-12);
        assert!((pw.mde - 2.801_585_218 * c.boot.se).abs() < 1e-6);
        let want = z_test_power(-0.169 * base.gap, c.boot.se, ALPHA).unwrap();
        assert_eq!(pw.power, Some(want));
        let scale = (pw.mde / pw.target_change.unwrap().abs()).powi(2);
        assert_eq!(pw.prompts_needed, Some([(5.0 * scale).ceil() as u64; 2]));
        assert_eq!((fair.n_first, fair.n_second), (5, 5));
        assert_eq!(fair.mean_tokens, 4.5);
        assert_eq!(fair.at_cap, Some(0.1));
    }

    #[test]
    fn a_baseline_gap_near_zero_withholds_rel_drop() {
        let mut p = BTreeMap::new();
        let flat: Vec<f64> = (0..10)
            .map(|i| [0.3, -0.2, 0.1, 0.0, -0.1][i % 5])
            .collect();
        p.insert("baseline".to_string(), scored(rows(10), flat, None));
        p.insert("fair".to_string(), scored(rows(10), reward(0.8, 0.2), None));
        let t = parity_table(&p, "baseline", &settings()).unwrap();
        let fair = &t.policies[1];
        assert!(fair.rel_drop.is_none());
        assert_eq!(
            fair.rel_drop_undefined.as_deref(),
            Some("baseline gap's CI holds 0")
        );
        assert!(fair.gap_change.is_some() && fair.at_cap.is_none());
    }

    #[test]
    fn other_categories_and_misaligned_rows_are_errors() {
        let mut odd = rows(4);
        odd[0].category = "lima".into();
        let mut p = BTreeMap::new();
        p.insert("b".to_string(), scored(odd, vec![0.0, 1.0, 2.0, 3.0], None));
        let e = parity_table(&p, "b", &settings()).unwrap_err().to_string();
        assert!(e.contains("category `lima`"), "{e}");
        let mut p = BTreeMap::new();
        p.insert(
            "b".to_string(),
            scored(rows(4), vec![0.0, 1.0, 2.0, 3.0], None),
        );
        p.insert("c".to_string(), scored(rows(2), vec![0.0, 1.0], None));
        assert!(parity_table(&p, "b", &settings()).is_err());
        let mut p = BTreeMap::new();
        p.insert("b".to_string(), scored(rows(4), vec![1.0; 4], None));
        let e = parity_table(&p, "b", &settings()).unwrap_err().to_string();
        assert!(e.contains("standardising"), "{e}");
    }
}
