//! The report's inputs: every upstream output it reads, with the λ parsed
//! from the matrix expansion name and the file registered as a source.
//!
//! Input contracts (files under each input stage's outputs):
//! - `distribution`, `distribution_multi`: `distribution.json` of
//!   `eval.reward_distribution` ([`Distribution`]).
//! - `stereotype`: `stereotype.json` of `eval.stereotype` ([`StereotypeDoc`]).
//! - `audit`: `metrics.json` of `eval.category_audit`
//!   ([`AuditMetrics`]; a missing number is shown as "—").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::io::file_digest;
use super::table::{Source, Sources};
use crate::eval::category_audit::AuditMetrics;
use crate::eval::distribution::Distribution;
use crate::eval::stereotype::StereotypeDoc;
use crate::util::io::json::read_json;

/// One input stage's parsed output.
#[derive(Debug, Clone)]
pub struct Named<T> {
    /// Display name: the expansion name for a fan-in, else the slot name.
    pub name: String,
    /// λ_adv parsed from the name, when it is a matrix expansion.
    pub lambda: Option<f64>,
    /// Index of the file in [`Sources`].
    pub source: usize,
    /// The parsed content.
    pub value: T,
}

/// Audit numbers (App. A.7, Table 4) read from a `metrics.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Audit {
    /// Mean AUC over folds.
    pub auc_mean: Option<f64>,
    /// Its sd (ddof 1).
    pub auc_sd: Option<f64>,
    /// Mean balanced accuracy.
    pub ba_mean: Option<f64>,
    /// Its sd.
    pub ba_sd: Option<f64>,
}

/// Everything the report reads.
#[derive(Debug, Clone, Default)]
pub struct ReportInputs {
    /// Binary-category distributions (HH-RLHF helpful/harmless; the sweep).
    pub distributions: Vec<Named<Distribution>>,
    /// Many-category distributions (PKU-SafeRLHF's 19 harm types).
    pub multi: Vec<Named<Distribution>>,
    /// Stereotype bias results.
    pub stereotypes: Vec<Named<StereotypeDoc>>,
    /// Post-hoc audit results.
    pub audits: Vec<Named<Audit>>,
    /// The post-PPO inputs (§4.1, App. B), each optional.
    pub policies: super::policies::PolicyInputs,
    /// Every file read.
    pub sources: Sources,
}

/// λ_adv from a matrix expansion name: the value of `lambda_adv=` (or
/// `lambda=`) inside the trailing `[…]` (`rm[lambda_adv=0.2,seed=1]` → 0.2).
pub fn lambda_of(name: &str) -> Option<f64> {
    let open = name.rfind('[')?;
    let inner = name[open + 1..].strip_suffix(']')?;
    inner.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        matches!(k.trim(), "lambda_adv" | "lambda")
            .then(|| v.trim().parse::<f64>().ok())
            .flatten()
            .filter(|x| x.is_finite())
    })
}

/// The report's connected inputs: slot → `(display name, directory)` of
/// every stage connected to it (one stage: the slot's own name; a fan-in:
/// each expansion's name).
pub type SlotDirs = BTreeMap<String, Vec<(String, PathBuf)>>;

/// `(display name, directory)` of every stage connected to `slot`.
fn dirs(inputs: &SlotDirs, slot: &str) -> Vec<(String, PathBuf)> {
    inputs.get(slot).cloned().unwrap_or_default()
}

/// Every stage connected to `slot`, its `file` parsed and registered as a source.
pub(super) fn read_slot<T>(
    inputs: &SlotDirs,
    slot: &str,
    file: &str,
    sources: &mut Sources,
    parse: impl Fn(&Path) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<Named<T>>> {
    let mut out = Vec::new();
    for (name, dir) in dirs(inputs, slot) {
        let path = dir.join(file);
        let value = parse(&path).with_context(|| format!("input `{slot}` ({name})"))?;
        let lambda = lambda_of(&name).or_else(|| {
            dir.file_name()
                .and_then(|n| lambda_of(&n.to_string_lossy()))
        });
        let source = sources.add(Source {
            stage: if slot == name {
                slot.to_string()
            } else {
                format!("{slot}/{name}")
            },
            file: file.to_string(),
            digest: file_digest(&path)?,
        });
        out.push(Named {
            name,
            lambda,
            source,
            value,
        });
    }
    // Sweep order: by λ, unnamed last, then by name.
    out.sort_by(|a, b| {
        let key = |n: &Named<T>| n.lambda.unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
    Ok(out)
}

fn audit(path: &Path) -> anyhow::Result<Audit> {
    let m: AuditMetrics = read_json(path)?;
    Ok(Audit {
        auc_mean: m.reward.auc_mean,
        auc_sd: m.reward.auc_sd,
        ba_mean: m.reward.balanced_accuracy_mean,
        ba_sd: m.reward.balanced_accuracy_sd,
    })
}

/// Reads every connected slot.
///
/// # Errors
/// A missing or malformed file, named with its slot and stage.
pub fn read_inputs(inputs: &SlotDirs) -> anyhow::Result<ReportInputs> {
    let mut sources = Sources::default();
    let distributions = read_slot(
        inputs,
        "distribution",
        "distribution.json",
        &mut sources,
        |p| Ok(read_json(p)?),
    )?;
    let multi = read_slot(
        inputs,
        "distribution_multi",
        "distribution.json",
        &mut sources,
        |p| Ok(read_json(p)?),
    )?;
    let stereotypes = read_slot(inputs, "stereotype", "stereotype.json", &mut sources, |p| {
        Ok(read_json(p)?)
    })?;
    let audits = read_slot(inputs, "audit", "metrics.json", &mut sources, audit)?;
    let policies = super::policies::read_policy_inputs(inputs, &mut sources)?;
    Ok(ReportInputs {
        distributions,
        multi,
        stereotypes,
        audits,
        policies,
        sources,
    })
}

/// The input of `items` at λ (within 1e-9), if exactly one matches.
pub fn at_lambda<T>(items: &[Named<T>], lambda: f64) -> Option<&Named<T>> {
    let mut it = items
        .iter()
        .filter(|n| n.lambda.is_some_and(|l| (l - lambda).abs() < 1e-9));
    let first = it.next()?;
    it.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_is_parsed_from_expansion_names() {
        assert_eq!(lambda_of("rm[lambda_adv=0.2]"), Some(0.2));
        assert_eq!(lambda_of("dist[lambda_adv=1e-5,seed=3]"), Some(1e-5));
        assert_eq!(lambda_of("dist[seed=3,lambda=2.0]"), Some(2.0));
        assert_eq!(lambda_of("dist[seed=3]"), None);
        assert_eq!(lambda_of("dist"), None);
        assert_eq!(lambda_of("dist[lambda_adv=x]"), None);
        assert_eq!(lambda_of("dist[lambda_adv=NaN]"), None);
    }
}
