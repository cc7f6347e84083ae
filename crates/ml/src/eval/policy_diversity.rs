//! Semantic diversity of each policy's responses (App. B.2): `SemDiv` of
//! their all-mpnet-base-v2 embeddings and, for every policy but the
//! baseline, the paired bootstrap of its difference to the baseline
//! ([`crate::eval::stats::semdiv_paired_bootstrap`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::generations::GenerationRow;
use super::policies::{check_aligned, label};
use super::stats::{SemDivConfig, SemDivDiff, semantic_diversity, semdiv_paired_bootstrap};

/// The diversity table's row for one policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDiversity {
    /// Expansion name of the policy's generations.
    pub policy: String,
    /// Short label.
    pub label: String,
    /// Whether this is the baseline.
    pub baseline: bool,
    /// Responses.
    pub n: usize,
    /// `SemDiv` on all responses.
    pub semdiv: f64,
    /// Mean response length in tokens.
    pub mean_tokens: f64,
    /// The generation cap (`max_new_tokens` of the generating stage), when
    /// known; set by the stage ([`crate::eval::policy_parity::at_cap`]).
    #[serde(default)]
    pub max_new_tokens: Option<usize>,
    /// Fraction of responses that hit the cap: a length confound of SemDiv
    /// (issue 22), since cut-off responses embed alike.
    #[serde(default)]
    pub at_cap: Option<f64>,
    /// The paired bootstrap against the baseline (`None` for the baseline).
    pub vs_baseline: Option<SemDivDiff>,
}

/// The diversity table from each policy's generations and their embeddings
/// (`[n][dim]`, aligned with the rows). `baseline` is a key of `policies`.
///
/// # Errors
/// Misaligned generations, ragged or non-finite embeddings, a missing
/// baseline, fewer than two responses.
pub fn diversity_table(
    policies: &BTreeMap<String, (Vec<GenerationRow>, Vec<Vec<f32>>)>,
    baseline: &str,
    cfg: SemDivConfig,
) -> anyhow::Result<Vec<PolicyDiversity>> {
    let flat = |name: &str, e: &[Vec<f32>]| -> anyhow::Result<(Vec<f64>, usize)> {
        let dim = e.first().map_or(0, Vec::len);
        anyhow::ensure!(
            dim > 0 && e.iter().all(|r| r.len() == dim),
            "policy `{name}`: embeddings are empty or of different widths"
        );
        Ok((e.iter().flatten().map(|&x| f64::from(x)).collect(), dim))
    };
    let (base_rows, base_emb) = policies
        .get(baseline)
        .ok_or_else(|| anyhow::anyhow!("baseline `{baseline}` is not among the policies"))?;
    let (bflat, bdim) = flat(baseline, base_emb)?;
    let mut out = Vec::with_capacity(policies.len());
    for (name, (rows, emb)) in policies {
        check_aligned(name, rows, base_rows)?;
        anyhow::ensure!(
            rows.len() == emb.len(),
            "policy `{name}`: {} rows, {} embeddings",
            rows.len(),
            emb.len()
        );
        let (pflat, dim) = flat(name, emb)?;
        anyhow::ensure!(
            dim == bdim,
            "policy `{name}`: embedding width {dim}, the baseline's {bdim}"
        );
        let is_base = name == baseline;
        let semdiv =
            semantic_diversity(&pflat, dim).map_err(|e| anyhow::anyhow!("policy `{name}`: {e}"))?;
        let vs_baseline = if is_base {
            None
        } else {
            Some(
                semdiv_paired_bootstrap(&pflat, &bflat, dim, cfg)
                    .map_err(|e| anyhow::anyhow!("policy `{name}`: {e}"))?,
            )
        };
        out.push(PolicyDiversity {
            policy: name.clone(),
            label: label(name),
            baseline: is_base,
            n: rows.len(),
            semdiv,
            mean_tokens: rows.iter().map(|r| f64::from(r.tokens)).sum::<f64>()
                / rows.len().max(1) as f64,
            max_new_tokens: None,
            at_cap: None,
            vs_baseline,
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
                category: "lima".into(),
                prompt: String::new(),
                response: String::new(),
                tokens: 2,
            })
            .collect()
    }

    #[test]
    fn a_policy_with_spread_out_embeddings_is_more_diverse() {
        let n = 30;
        // Baseline: all near one direction; spread: around the circle.
        let narrow: Vec<Vec<f32>> = (0..n).map(|i| vec![1.0, 0.01 * i as f32]).collect();
        let wide: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                let a = i as f32 * 0.4;
                vec![a.cos(), a.sin()]
            })
            .collect();
        let mut p = BTreeMap::new();
        p.insert("g[policy=baseline]".to_string(), (rows(n), narrow));
        p.insert("g[policy=curious]".to_string(), (rows(n), wide));
        let cfg = SemDivConfig {
            resamples: 300,
            level: 0.95,
            seed: 1,
        };
        let t = diversity_table(&p, "g[policy=baseline]", cfg).unwrap();
        let cur = t.iter().find(|r| r.label == "curious").unwrap();
        let d = cur.vs_baseline.unwrap();
        assert!(d.diff > 0.5 && d.ci_low > 0.0, "{d:?}");
        assert_eq!(d.pvalue, 0.0);
        assert!(t.iter().find(|r| r.baseline).unwrap().vs_baseline.is_none());
        // Ragged embeddings are refused.
        let mut bad = p.clone();
        bad.get_mut("g[policy=curious]").unwrap().1[3] = vec![1.0];
        assert!(diversity_table(&bad, "g[policy=baseline]", cfg).is_err());
    }
}
