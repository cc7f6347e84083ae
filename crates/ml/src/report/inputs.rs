//! The report's inputs: every upstream output it reads, with the λ parsed
//! from the matrix expansion name and the file registered as a source.
//!
//! Input contracts (files under each input stage's outputs):
//! - `distribution`, `sweep`, `distribution_multi`: `distribution.json` of
//!   `eval.reward_distribution` ([`Distribution`]).
//! - `recommended`: `distribution.json` of the fair RM at the adversary
//!   study's recommended setting, one per seed.
//! - `stereotype`: `stereotype.json` of `eval.stereotype` ([`StereotypeDoc`]).
//! - `audit`: `metrics.json` of `eval.category_audit`
//!   ([`AuditMetrics`]; a missing number is shown as "—").
//! - `training`, `training_multi`: `curves.csv` of `train.reward_model`
//!   (its per-epoch `eval` rows, [`EvalCurve`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::io::file_digest;
use super::table::{Source, Sources};
use crate::eval::category_audit::AuditMetrics;
use crate::eval::distribution::Distribution;
use crate::eval::stereotype::StereotypeDoc;
use crate::train::curves::{EvalCurve, read_eval_curves};
use crate::util::io::json::read_json;

/// One input stage's parsed output.
#[derive(Debug, Clone)]
pub struct Named<T> {
    /// Display name: the expansion name for a fan-in, else the slot name.
    pub name: String,
    /// λ_adv parsed from the name, when it is a matrix expansion.
    pub lambda: Option<f64>,
    /// The `seed` matrix value in the name, when there is one.
    pub seed: Option<String>,
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
    /// Binary-category distributions (HH-RLHF helpful/harmless): the tables,
    /// and the sweep unless [`ReportInputs::sweep`] is given.
    pub distributions: Vec<Named<Distribution>>,
    /// The λ sweep's distributions when the sweep runs on other reward
    /// models than the tables (paper-cpu: frozen-feature heads beside
    /// fine-tuned ones); empty when `distributions` is the sweep.
    pub sweep: Vec<Named<Distribution>>,
    /// Many-category distributions (PKU-SafeRLHF's 19 harm types).
    pub multi: Vec<Named<Distribution>>,
    /// The fair RM at the adversary study's recommended setting, one per
    /// seed, judged against the sweep's baseline of the same seed.
    pub recommended: Vec<Named<Distribution>>,
    /// Stereotype bias results.
    pub stereotypes: Vec<Named<StereotypeDoc>>,
    /// Post-hoc audit results.
    pub audits: Vec<Named<Audit>>,
    /// The post-PPO inputs (§4.1, App. B), each optional.
    pub policies: super::policies::PolicyInputs,
    /// Per-epoch eval diagnostics of the binary-task RMs.
    pub training: Vec<Named<Vec<EvalCurve>>>,
    /// The same for the many-category RMs.
    pub training_multi: Vec<Named<Vec<EvalCurve>>>,
    /// Every file read.
    pub sources: Sources,
}

impl ReportInputs {
    /// The λ sweep: [`ReportInputs::sweep`] when given, else the distributions.
    pub fn swept(&self) -> &[Named<Distribution>] {
        if self.sweep.is_empty() {
            &self.distributions
        } else {
            &self.sweep
        }
    }
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

/// The `seed=` value inside the trailing `[…]` of an expansion name
/// (`dist[lambda_adv=0.2,seed=3]` → `3`).
pub fn seed_of(name: &str) -> Option<String> {
    let open = name.rfind('[')?;
    let inner = name[open + 1..].strip_suffix(']')?;
    inner.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == "seed").then(|| v.trim().to_string())
    })
}

/// The name without its `seed=` entry: what the seeds of one setting share
/// (`dist[lambda_adv=0.2,seed=3]` → `dist[lambda_adv=0.2]`).
pub fn without_seed(name: &str) -> String {
    let Some(open) = name.rfind('[') else {
        return name.to_string();
    };
    let Some(inner) = name[open + 1..].strip_suffix(']') else {
        return name.to_string();
    };
    let kept: Vec<&str> = inner
        .split(',')
        .filter(|kv| kv.split_once('=').is_none_or(|(k, _)| k.trim() != "seed"))
        .collect();
    if kept.is_empty() {
        name[..open].to_string()
    } else {
        format!("{}[{}]", &name[..open], kept.join(","))
    }
}

/// Sort key of a seed: numbers by value, then other text.
fn seed_key(s: &Option<String>) -> (f64, String) {
    match s {
        None => (f64::NEG_INFINITY, String::new()),
        Some(t) => (t.parse::<f64>().unwrap_or(f64::INFINITY), t.clone()),
    }
}

/// The report's connected inputs: slot → `(display name, directory)` of
/// every stage connected to it (one stage: the slot's own name; a fan-in:
/// each expansion's name).
pub type SlotDirs = BTreeMap<String, Vec<(String, PathBuf)>>;

/// `(display name, directory)` of every stage connected to `slot`.
fn dirs(inputs: &SlotDirs, slot: &str) -> Vec<(String, PathBuf)> {
    // default: an unconnected slot has no stages.
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
        let seed =
            seed_of(&name).or_else(|| dir.file_name().and_then(|n| seed_of(&n.to_string_lossy())));
        out.push(Named {
            name,
            lambda,
            seed,
            source,
            value,
        });
    }
    // Sweep order: by λ, unnamed last, then by the name without its seed,
    // then by seed.
    out.sort_by(|a, b| {
        let key = |n: &Named<T>| n.lambda.unwrap_or(f64::INFINITY);
        key(a)
            .total_cmp(&key(b))
            .then_with(|| without_seed(&a.name).cmp(&without_seed(&b.name)))
            .then_with(|| {
                let (x, y) = (seed_key(&a.seed), seed_key(&b.seed));
                x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1))
            })
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
    let sweep = read_slot(inputs, "sweep", "distribution.json", &mut sources, |p| {
        Ok(read_json(p)?)
    })?;
    let multi = read_slot(
        inputs,
        "distribution_multi",
        "distribution.json",
        &mut sources,
        |p| Ok(read_json(p)?),
    )?;
    let recommended = read_slot(
        inputs,
        "recommended",
        "distribution.json",
        &mut sources,
        |p| Ok(read_json(p)?),
    )?;
    let stereotypes = read_slot(inputs, "stereotype", "stereotype.json", &mut sources, |p| {
        Ok(read_json(p)?)
    })?;
    let audits = read_slot(inputs, "audit", "metrics.json", &mut sources, audit)?;
    let policies = super::policies::read_policy_inputs(inputs, &mut sources)?;
    let training = read_slot(
        inputs,
        "training",
        "curves.csv",
        &mut sources,
        read_eval_curves,
    )?;
    let training_multi = read_slot(
        inputs,
        "training_multi",
        "curves.csv",
        &mut sources,
        read_eval_curves,
    )?;
    Ok(ReportInputs {
        distributions,
        sweep,
        multi,
        recommended,
        stereotypes,
        audits,
        policies,
        training,
        training_multi,
        sources,
    })
}

/// The inputs of one setting (one λ, or one unnamed input) across seeds.
#[derive(Debug)]
pub struct Group<'a, T> {
    /// Display name: the inputs' name without the seed.
    pub name: String,
    /// λ_adv of the setting.
    pub lambda: Option<f64>,
    /// The seeds' inputs, in seed order.
    pub items: Vec<&'a Named<T>>,
}

impl<'a, T> Group<'a, T> {
    /// The first seed's input: the one drawn in per-input figures.
    pub fn first(&self) -> &'a Named<T> {
        self.items[0]
    }

    /// `f` of every seed that has it, with its seed and source.
    pub fn values(&self, f: impl Fn(&T) -> Option<f64>) -> Vec<SeedValue> {
        self.items
            .iter()
            .filter_map(|n| {
                Some(SeedValue {
                    seed: n.seed.clone(),
                    value: f(&n.value)?,
                    source: n.source,
                })
            })
            .collect()
    }
}

/// One seed's value of a quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedValue {
    /// The seed (`None` for an input without a seed axis).
    pub seed: Option<String>,
    /// The value.
    pub value: f64,
    /// Its source.
    pub source: usize,
}

/// Inputs grouped by their name without the seed, in input order (which
/// [`read_inputs`] sorts by λ).
pub fn groups<T>(items: &[Named<T>]) -> Vec<Group<'_, T>> {
    let mut out: Vec<Group<'_, T>> = Vec::new();
    for n in items {
        let name = without_seed(&n.name);
        match out.iter_mut().find(|g| g.name == name) {
            Some(g) => g.items.push(n),
            None => out.push(Group {
                name,
                lambda: n.lambda,
                items: vec![n],
            }),
        }
    }
    out
}

/// The group of `items` at λ (within 1e-9), if exactly one matches.
pub fn at_lambda<T>(items: &[Named<T>], lambda: f64) -> Option<Group<'_, T>> {
    let mut it = groups(items)
        .into_iter()
        .filter(|g| g.lambda.is_some_and(|l| (l - lambda).abs() < 1e-9));
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

    #[test]
    fn seeds_are_parsed_and_stripped_from_names() {
        assert_eq!(seed_of("dist[lambda_adv=0.2,seed=3]").as_deref(), Some("3"));
        assert_eq!(seed_of("dist[lambda_adv=0.2]"), None);
        assert_eq!(
            without_seed("dist[lambda_adv=0.2,seed=3]"),
            "dist[lambda_adv=0.2]"
        );
        assert_eq!(without_seed("dist[seed=3]"), "dist");
        assert_eq!(without_seed("dist"), "dist");
        let named = |name: &str| Named {
            name: name.into(),
            lambda: lambda_of(name),
            seed: seed_of(name),
            source: 0,
            value: (),
        };
        let items = [
            named("d[lambda_adv=0.0,seed=1]"),
            named("d[lambda_adv=0.0,seed=2]"),
            named("d[lambda_adv=0.2,seed=1]"),
        ];
        let g = groups(&items);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].name, "d[lambda_adv=0.0]");
        assert_eq!(g[0].items.len(), 2);
        assert_eq!(at_lambda(&items, 0.2).unwrap().items.len(), 1);
        assert!(at_lambda(&items, 0.4).is_none());
    }
}
