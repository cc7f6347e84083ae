//! The adversary study (issue 12, item 4): for every adversary setting and
//! λ, the paired baseline → fair difference across seeds of the dependence
//! measures (KS, MI above its permuted null, audit AUC) and of the BT
//! accuracy, on the validation split carved from the training pairs. A
//! setting *passes* when all three dependence measures fall beyond 2 SE
//! ([`verdict`]) and the accuracy falls by at most `max_accuracy_loss`. The
//! recommended setting of a data source is chosen on validation only: the
//! passing setting with the largest mean KS reduction; its eval-split
//! differences are then read once, as the confirmation. Nothing is chosen
//! on the eval split.
//!
//! Runs are `train.reward_model` expansions whose names carry the matrix
//! (`rm[adversary_steps=5,lambda_adv=0.5,seed=2,source=real]`): `seed`
//! pairs a fair run with its baseline, `source` (optional) separates data
//! sources, `lambda_adv` is λ, and every other key is the setting.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::table::{Cell, Table};
use crate::eval::policies::matrix_values;
use crate::eval::stats::{PairedDiff, SeedVerdict, Verdict, paired_difference, verdict};

/// One finished run: its expansion name and its `metrics.json`.
#[derive(Debug, Clone)]
pub struct Run {
    /// Expansion name.
    pub name: String,
    /// Its metrics (with `validation` and `eval_reading` blocks).
    pub metrics: Value,
}

/// The study's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyConfig {
    /// Largest accepted fall of BT accuracy (issue 12: 5 points = 0.05).
    pub max_accuracy_loss: f64,
    /// The paper's setting: matrix key → value (`adversary_input: moments`, …).
    pub paper: BTreeMap<String, String>,
    /// The paper's λ.
    pub paper_lambda: f64,
}

/// The measures compared, as (name, how it is read from a split block).
const MEASURES: [&str; 4] = ["ks", "mi_excess", "audit_auc", "accuracy"];

/// Problems with the runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StudyError {
    /// A run lacks a measure (no validation split, or a category missing).
    #[error("run `{run}`: no `{block}.{key}` in metrics.json (train with validation_fraction > 0)")]
    Missing {
        /// The run.
        run: String,
        /// The block (`validation`, `eval_reading`).
        block: String,
        /// The measure.
        key: String,
    },
    /// A run's name has no `lambda_adv` or `seed` matrix value.
    #[error("run `{0}`: its name needs lambda_adv and seed matrix values")]
    Unnamed(String),
    /// A fair run has no baseline of the same source and seed.
    #[error("run `{run}`: no baseline (λ = 0) run of the same source and seed among the baselines")]
    NoBaseline {
        /// The run.
        run: String,
    },
    /// Seeds do not line up.
    #[error("{0}")]
    Stats(String),
}

/// One measure's paired difference and verdict (paper sign: it falls).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// Paired difference fair − baseline.
    pub diff: PairedDiff,
    /// Verdict against "it falls".
    pub verdict: SeedVerdict,
}

/// One (source, setting, λ) on one split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Data source (`""` without a `source` axis).
    pub source: String,
    /// The setting, `key=value` joined by `,`.
    pub setting: String,
    /// λ.
    pub lambda: f64,
    /// KS, MI − null, audit AUC, accuracy, by name.
    pub effects: BTreeMap<String, Effect>,
    /// All three dependence measures fall beyond 2 SE and accuracy loses at
    /// most `max_accuracy_loss`.
    pub passes: bool,
    /// The paper's setting and λ.
    pub is_paper: bool,
}

/// The study's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Study {
    /// Rows on the validation split.
    pub validation: Vec<Row>,
    /// Per source: the recommended row (validation) and its eval-split
    /// reading; `None` when no setting passes.
    pub recommended: BTreeMap<String, Option<(Row, Row)>>,
}

fn measure(run: &Run, block: &str, key: &str) -> Result<f64, StudyError> {
    let b = &run.metrics[block];
    let get = |k: &str| {
        b[k].as_f64().ok_or_else(|| StudyError::Missing {
            run: run.name.clone(),
            block: block.into(),
            key: k.into(),
        })
    };
    match key {
        "mi_excess" => Ok(get("mi")? - get("mi_null")?),
        k => get(k),
    }
}

struct Parsed<'a> {
    run: &'a Run,
    source: String,
    setting: String,
    lambda: f64,
    seed: String,
}

/// A run's matrix values; `lambda` when its name has no `lambda_adv`
/// (baselines of their own stage).
fn parse(run: &Run, lambda: Option<f64>) -> Result<Parsed<'_>, StudyError> {
    let mut setting = Vec::new();
    let (mut source, mut lambda, mut seed) = (String::new(), lambda, None);
    for (k, v) in matrix_values(&run.name) {
        match k {
            "source" => source = v.to_string(),
            "lambda_adv" => lambda = v.parse::<f64>().ok(),
            "seed" => seed = Some(v.to_string()),
            _ => setting.push(format!("{k}={v}")),
        }
    }
    match (lambda, seed) {
        (Some(lambda), Some(seed)) => Ok(Parsed {
            run,
            source,
            setting: setting.join(","),
            lambda,
            seed,
        }),
        _ => Err(StudyError::Unnamed(run.name.clone())),
    }
}

fn row(
    group: &[&Parsed],
    baselines: &[Parsed],
    block: &str,
    cfg: &StudyConfig,
) -> Result<Row, StudyError> {
    let first = group[0];
    let mut effects = BTreeMap::new();
    for key in MEASURES {
        let (mut base, mut fair) = (Vec::new(), Vec::new());
        for p in group {
            let b = baselines
                .iter()
                .find(|b| b.source == p.source && b.seed == p.seed)
                .ok_or_else(|| StudyError::NoBaseline {
                    run: p.run.name.clone(),
                })?;
            base.push(measure(b.run, block, key)?);
            fair.push(measure(p.run, block, key)?);
        }
        let diff = paired_difference(&base, &fair).map_err(|e| StudyError::Stats(e.to_string()))?;
        let v = verdict(&diff, -1);
        effects.insert(key.to_string(), Effect { diff, verdict: v });
    }
    let lowered = ["ks", "mi_excess", "audit_auc"]
        .iter()
        .all(|k| effects[*k].verdict.verdict == Verdict::Yes);
    let passes = lowered && effects["accuracy"].diff.mean >= -cfg.max_accuracy_loss;
    let is_paper = first.lambda == cfg.paper_lambda
        && cfg
            .paper
            .iter()
            .all(|(k, v)| first.setting.split(',').any(|kv| kv == format!("{k}={v}")));
    Ok(Row {
        source: first.source.clone(),
        setting: first.setting.clone(),
        lambda: first.lambda,
        effects,
        passes,
        is_paper,
    })
}

/// Runs the study over `runs` (fair, λ > 0) against `baselines` (λ = 0).
///
/// # Errors
/// A run without the measures, a name without `lambda_adv`/`seed`, a fair
/// run without its baseline, or seeds that do not line up.
pub fn study(runs: &[Run], baselines: &[Run], cfg: &StudyConfig) -> Result<Study, StudyError> {
    let parsed: Vec<Parsed> = runs
        .iter()
        .map(|r| parse(r, None))
        .collect::<Result<_, _>>()?;
    let base: Vec<Parsed> = baselines
        .iter()
        .map(|r| parse(r, Some(0.0)))
        .collect::<Result<_, _>>()?;
    let mut groups: BTreeMap<(String, String, u64), Vec<&Parsed>> = BTreeMap::new();
    for p in &parsed {
        groups
            .entry((p.source.clone(), p.setting.clone(), p.lambda.to_bits()))
            .or_default()
            .push(p);
    }
    let mut validation = Vec::new();
    let mut eval = Vec::new();
    for g in groups.values() {
        validation.push(row(g, &base, "validation", cfg)?);
        eval.push(row(g, &base, "eval_reading", cfg)?);
    }
    let mut recommended = BTreeMap::new();
    for source in validation.iter().map(|r| r.source.clone()) {
        let best = validation
            .iter()
            .zip(&eval)
            .filter(|(r, _)| r.source == source && r.passes)
            .min_by(|(a, _), (b, _)| {
                a.effects["ks"]
                    .diff
                    .mean
                    .total_cmp(&b.effects["ks"].diff.mean)
            })
            .map(|(v, e)| (v.clone(), e.clone()));
        recommended.insert(source, best);
    }
    Ok(Study {
        validation,
        recommended,
    })
}

fn fmt_effect(e: &Effect) -> String {
    let se = e.diff.se.map_or("–".to_string(), |s| format!("{s:.3}"));
    format!(
        "{:+.3} ± {se} ({}, {}/{})",
        e.diff.mean,
        e.verdict.verdict.as_str(),
        e.verdict.agree,
        e.verdict.n
    )
}

/// BT accuracy is a cost, not an effect the paper predicts: mean ± SE and
/// the seeds where it fell, no verdict.
fn fmt_cost(e: &Effect) -> String {
    let se = e.diff.se.map_or("–".to_string(), |s| format!("{s:.3}"));
    format!(
        "{:+.3} ± {se} (fell in {}/{})",
        e.diff.mean, e.verdict.agree, e.verdict.n
    )
}

fn fmt(key: &str, e: &Effect) -> String {
    if key == "accuracy" {
        fmt_cost(e)
    } else {
        fmt_effect(e)
    }
}

/// The table of every row: paired differences on validation.
pub fn table(s: &Study) -> Table {
    let mut header: Vec<String> = ["source", "setting", "λ"].map(String::from).to_vec();
    header.extend(
        [
            "Δ KS",
            "Δ MI − null",
            "Δ audit AUC",
            "Δ BT accuracy",
            "passes",
        ]
        .map(String::from),
    );
    let rows = s
        .validation
        .iter()
        .map(|r| {
            let mut cells = vec![
                Cell::text(&r.source),
                Cell::text(if r.is_paper {
                    format!("{} (paper)", r.setting)
                } else {
                    r.setting.clone()
                }),
                Cell::text(format!("{}", r.lambda)),
            ];
            for k in MEASURES {
                cells.push(Cell::text(fmt(k, &r.effects[k])));
            }
            cells.push(Cell::text(if r.passes { "yes" } else { "no" }));
            cells
        })
        .collect();
    Table {
        stem: "adversary_study".into(),
        caption: "Adversary settings on the validation split carved from the training pairs: paired fair − baseline (λ = 0) differences across seeds, mean ± SE (dependence measures: verdict against \"it falls\", yes / no beyond 2 SE, else within noise, and k/n seeds where it fell; BT accuracy: the seeds where it fell). Passes: KS, MI above its permuted null and the audit AUC all fall beyond 2 SE, and BT accuracy falls by at most the allowed loss.".into(),
        header,
        rows,
    }
}

/// The study's answer in sentences: per source, the recommended setting
/// (validation) and its eval-split confirmation, and whether the paper's
/// setting passes.
pub fn summary(s: &Study) -> Vec<String> {
    let mut out = Vec::new();
    for (source, best) in &s.recommended {
        let name = if source.is_empty() {
            "the data"
        } else {
            source
        };
        let paper: Vec<&Row> = s
            .validation
            .iter()
            .filter(|r| &r.source == source && r.is_paper)
            .collect();
        match best {
            None => out.push(format!(
                "{name}: no setting lowers KS, MI above its null and the audit AUC beyond 2 SE without losing more than the allowed BT accuracy on validation."
            )),
            Some((v, e)) => out.push(format!(
                "{name}: recommended (chosen on validation) {} at λ = {}: Δ KS {}; on the eval split Δ KS {}, Δ MI − null {}, Δ audit AUC {}, Δ BT accuracy {}.",
                v.setting,
                v.lambda,
                fmt_effect(&v.effects["ks"]),
                fmt_effect(&e.effects["ks"]),
                fmt_effect(&e.effects["mi_excess"]),
                fmt_effect(&e.effects["audit_auc"]),
                fmt_cost(&e.effects["accuracy"]),
            )),
        }
        for p in paper {
            out.push(format!(
                "{name}: the paper's setting ({}, λ = {}) {} on validation (Δ KS {}, Δ BT accuracy {}).",
                p.setting,
                p.lambda,
                if p.passes { "passes" } else { "does not pass" },
                fmt_effect(&p.effects["ks"]),
                fmt_cost(&p.effects["accuracy"]),
            ));
        }
    }
    // Settings (with λ) that pass on every source.
    let sources: Vec<&String> = s.recommended.keys().collect();
    if sources.len() > 1 {
        let mut everywhere: Vec<String> = Vec::new();
        for r in s.validation.iter().filter(|r| r.passes) {
            let key = format!("{} at λ = {}", r.setting, r.lambda);
            let all = sources.iter().all(|src| {
                s.validation.iter().any(|o| {
                    &&o.source == src && o.passes && o.setting == r.setting && o.lambda == r.lambda
                })
            });
            if all && !everywhere.contains(&key) {
                everywhere.push(key);
            }
        }
        out.push(if everywhere.is_empty() {
            "No setting passes on every source.".to_string()
        } else {
            format!("Passes on every source: {}.", everywhere.join("; "))
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(name: &str, ks: f64, acc: f64) -> Run {
        let block = json!({"ks": ks, "mi": ks / 10.0, "mi_null": 0.01, "audit_auc": 0.5 + ks / 2.0, "accuracy": acc});
        Run {
            name: name.into(),
            metrics: json!({"validation": block, "eval_reading": block}),
        }
    }

    fn cfg() -> StudyConfig {
        StudyConfig {
            max_accuracy_loss: 0.05,
            paper: [("adversary_steps".to_string(), "1".to_string())].into(),
            paper_lambda: 0.2,
        }
    }

    #[test]
    fn a_setting_passes_only_when_dependence_falls_and_accuracy_holds() {
        let seeds = [1, 2, 3, 4, 5];
        let base: Vec<Run> = seeds
            .iter()
            .map(|s| run(&format!("bt[seed={s}]"), 0.4 + 0.01 * f64::from(*s), 0.8))
            .collect();
        let mut fair = Vec::new();
        for s in seeds {
            let j = 0.01 * f64::from(s);
            // Steps 1: dependence halves, accuracy −2 points: passes.
            fair.push(run(
                &format!("rm[adversary_steps=1,lambda_adv=0.2,seed={s}]"),
                0.2 + j,
                0.78,
            ));
            // Steps 5: dependence halves but accuracy −10 points: fails.
            fair.push(run(
                &format!("rm[adversary_steps=5,lambda_adv=0.2,seed={s}]"),
                0.1 + j,
                0.7,
            ));
            // λ 1: dependence unchanged within noise.
            fair.push(run(
                &format!("rm[adversary_steps=1,lambda_adv=1,seed={s}]"),
                0.4 + 0.01 * f64::from(6 - s),
                0.8,
            ));
        }
        let s = study(&fair, &base, &cfg()).unwrap();
        let by = |set: &str, l: f64| {
            s.validation
                .iter()
                .find(|r| r.setting == set && r.lambda == l)
                .unwrap()
        };
        assert!(by("adversary_steps=1", 0.2).passes && by("adversary_steps=1", 0.2).is_paper);
        assert!(!by("adversary_steps=5", 0.2).passes, "loses 10 points");
        assert!(!by("adversary_steps=1", 1.0).passes);
        let (v, e) = s.recommended[""].clone().unwrap();
        assert_eq!((v.setting.as_str(), v.lambda), ("adversary_steps=1", 0.2));
        assert!((e.effects["ks"].diff.mean + 0.2).abs() < 1e-9);
        let text = summary(&s).join("\n");
        assert!(
            text.contains("the paper's setting (adversary_steps=1, λ = 0.2) passes"),
            "{text}"
        );
        assert_eq!(table(&s).rows.len(), 3);
        // Two sources: the setting that passes on both is named.
        let mut two_base = Vec::new();
        let mut two_fair = Vec::new();
        for src in ["a", "b"] {
            for s in seeds {
                let j = 0.01 * f64::from(s);
                two_base.push(run(&format!("bt[seed={s},source={src}]"), 0.4 + j, 0.8));
                two_fair.push(run(
                    &format!("rm[adversary_steps=1,lambda_adv=0.2,seed={s},source={src}]"),
                    0.2 + j,
                    0.79,
                ));
            }
        }
        let both = summary(&study(&two_fair, &two_base, &cfg()).unwrap()).join("\n");
        assert!(
            both.contains("Passes on every source: adversary_steps=1 at λ = 0.2."),
            "{both}"
        );
        // A fair run without its baseline, or without the measures, is an error.
        let e = study(&fair, &base[..4], &cfg()).unwrap_err();
        assert!(matches!(e, StudyError::NoBaseline { .. }), "{e}");
        let bare = [Run {
            name: "rm[lambda_adv=0.2,seed=1]".into(),
            metrics: json!({}),
        }];
        assert!(matches!(
            study(&bare, &base, &cfg()).unwrap_err(),
            StudyError::Missing { .. }
        ));
    }
}
