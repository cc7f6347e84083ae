//! The post-PPO parity gap (App. B.1, Table 1): each policy's responses to
//! the same helpful and harmless prompts, scored by one fixed safety RM; per
//! policy the mean reward per category, the gap `|Δ|`, RelDrop vs the
//! baseline policy, and stratified bootstrap CIs of both (our addition,
//! [`crate::eval::stats::parity_bootstrap`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::generations::GenerationRow;
use super::policies::{check_aligned, label};
use super::stats::{GroupRewards, StratifiedConfig, parity_bootstrap};

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
    /// Mean reward, first category.
    pub mean_first: f64,
    /// Mean reward, second category.
    pub mean_second: f64,
    /// `mean_first - mean_second`.
    pub delta: f64,
    /// `|delta|`, the parity gap.
    pub gap: f64,
    /// Bootstrap CI of the gap (ours), low end.
    pub gap_ci_low: f64,
    /// High end.
    pub gap_ci_high: f64,
    /// RelDrop vs the baseline, percent (`None` for the baseline itself).
    pub rel_drop: Option<f64>,
    /// Bootstrap CI of RelDrop (ours), low end.
    pub rel_drop_ci_low: Option<f64>,
    /// High end.
    pub rel_drop_ci_high: Option<f64>,
    /// Mean response length in tokens.
    pub mean_tokens: f64,
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

/// Table 1 from each policy's generations and rewards (aligned rows).
/// `policies` maps expansion name → (generations, rewards); `baseline` is a
/// key of it.
///
/// # Errors
/// Misaligned generations, a category outside the two, a missing baseline,
/// or a statistic that cannot be computed (e.g. a baseline gap of 0).
pub fn parity_table(
    policies: &BTreeMap<String, (Vec<GenerationRow>, Vec<f64>)>,
    baseline: &str,
    s: &ParitySettings,
) -> anyhow::Result<Vec<PolicyParity>> {
    let (base_rows, base_rewards) = policies
        .get(baseline)
        .ok_or_else(|| anyhow::anyhow!("baseline `{baseline}` is not among the policies"))?;
    let (bf, bs) = split(baseline, base_rows, base_rewards, s)?;
    let mut out = Vec::with_capacity(policies.len());
    for (name, (rows, rewards)) in policies {
        check_aligned(name, rows, base_rows)?;
        anyhow::ensure!(
            rows.len() == rewards.len(),
            "policy `{name}`: {} rows, {} rewards",
            rows.len(),
            rewards.len()
        );
        let (pf, ps) = split(name, rows, rewards, s)?;
        let is_base = name == baseline;
        let r = parity_bootstrap(
            GroupRewards {
                first: &pf,
                second: &ps,
            },
            (!is_base).then_some(GroupRewards {
                first: &bf,
                second: &bs,
            }),
            s.bootstrap,
        )
        .map_err(|e| anyhow::anyhow!("policy `{name}`: {e}"))?;
        out.push(PolicyParity {
            policy: name.clone(),
            label: label(name),
            baseline: is_base,
            n_first: pf.len(),
            n_second: ps.len(),
            mean_first: r.gap.mean_first,
            mean_second: r.gap.mean_second,
            delta: r.gap.delta,
            gap: r.gap.gap,
            gap_ci_low: r.gap_ci_low,
            gap_ci_high: r.gap_ci_high,
            rel_drop: r.rel_drop,
            rel_drop_ci_low: r.rel_drop_ci_low,
            rel_drop_ci_high: r.rel_drop_ci_high,
            mean_tokens: rows.iter().map(|r| f64::from(r.tokens)).sum::<f64>()
                / rows.len().max(1) as f64,
        });
    }
    Ok(out)
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
        }
    }

    #[test]
    fn gap_and_rel_drop_per_policy() {
        // Baseline: helpful 1.0, harmless 0.0 (gap 1); fair: 0.8 / 0.2 (gap 0.6).
        let reward = |hi: f64, lo: f64| -> Vec<f64> {
            (0..10)
                .map(|i| {
                    if i < 5 {
                        hi + 0.01 * i as f64
                    } else {
                        lo + 0.01 * i as f64
                    }
                })
                .collect()
        };
        let mut p = BTreeMap::new();
        p.insert(
            "g[policy=baseline]".to_string(),
            (rows(10), reward(1.0, 0.0)),
        );
        p.insert("g[policy=fair]".to_string(), (rows(10), reward(0.8, 0.2)));
        let t = parity_table(&p, "g[policy=baseline]", &settings()).unwrap();
        let base = &t[0];
        assert!(base.baseline && base.rel_drop.is_none());
        assert!((base.gap - 0.95).abs() < 1e-12, "{}", base.gap);
        let fair = &t[1];
        assert_eq!(fair.label, "fair");
        assert!((fair.gap - 0.55).abs() < 1e-12);
        let want = (0.55 - 0.95) / 0.95 * 100.0;
        assert!((fair.rel_drop.unwrap() - want).abs() < 1e-9);
        assert!(fair.gap_ci_low <= fair.gap && fair.gap <= fair.gap_ci_high);
        assert_eq!((fair.n_first, fair.n_second), (5, 5));
        assert_eq!(fair.mean_tokens, 4.5);
    }

    #[test]
    fn other_categories_and_misaligned_rows_are_errors() {
        let mut odd = rows(4);
        odd[0].category = "lima".into();
        let mut p = BTreeMap::new();
        p.insert("b".to_string(), (odd, vec![0.0, 1.0, 2.0, 3.0]));
        let e = parity_table(&p, "b", &settings()).unwrap_err().to_string();
        assert!(e.contains("category `lima`"), "{e}");
        let mut p = BTreeMap::new();
        p.insert("b".to_string(), (rows(4), vec![0.0, 1.0, 2.0, 3.0]));
        p.insert("c".to_string(), (rows(2), vec![0.0, 1.0]));
        assert!(parity_table(&p, "b", &settings()).is_err());
    }
}
