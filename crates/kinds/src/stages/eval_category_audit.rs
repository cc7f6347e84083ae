//! `eval.category_audit`: the post-hoc category predictability audit
//! (App. A.7, Table 4) on a frozen RM's per-response rewards, with the same
//! audit on response length as the confound baseline. Glue only; the
//! procedure is [`crate::eval::category_audit`], the net [`crate::eval::mlp`].

use std::collections::BTreeMap;

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::eval::category_audit::{
    AuditConfig, AuditError, AuditItems, AuditMetrics, AuditResult, AuditSummary, audit,
};
use crate::eval::mlp::{MlpConfig, Monitor};
use crate::eval::response_length::{join_lengths, read_lengths};
use crate::eval::scores::{SCORES_FILE, read_scores};
use crate::kind::{Input, KindInfo, Slot, StageContext, WithError};
use crate::util::io::json::write_json;

/// The `eval.category_audit` kind.
pub struct EvalCategoryAudit;

/// Output with everything computed (per-epoch validation curves included).
pub const AUDIT_FILE: &str = "audit.json";

/// The tokenized eval split read from the `data` input.
const DATA_FILE: &str = "eval.parquet";

const SLOTS: &[Slot] = &[
    Slot {
        name: "rm",
        required: true,
        fan_in: false,
        doc: "the frozen RM: a train.reward_model stage (its scores.parquet: pair_id, category, side, reward on the eval split)",
    },
    Slot {
        name: "data",
        required: false,
        fan_in: false,
        doc: "a data.tokenize stage: its eval.parquet gives each response's length in tokens, for the length baseline",
    },
];

/// `with:` of the kind; its `Default` is the kind's defaults.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// Outer stratified folds, pairs kept whole (App. A.7: 5), 2..=100; every category needs at
    /// least this many pairs.
    folds: usize,
    /// Fraction of the training folds' pairs, per category, held out for early stopping, in (0,
    /// 1).
    holdout: f64,
    /// Hidden width of the 2-layer MLP (1 -> hidden ReLU -> categories), 1..=4096.
    hidden: usize,
    /// Adam learning rate, in (0, 10].
    lr: f64,
    /// Responses per Adam step, reshuffled every epoch, >= 1 (>= the training set: full batch).
    batch_size: usize,
    /// Epochs at most, 1..=100000.
    max_epochs: usize,
    /// Stop after this many epochs without improvement on the validation split, >= 1; the best
    /// epoch's weights are kept.
    patience: usize,
    /// What early stopping watches on the validation split: cross-entropy, or AUC (the paper's
    /// wording).
    monitor: Monitor,
}

impl Default for With {
    fn default() -> Self {
        // The library's defaults (App. A.7), written once there.
        let c = AuditConfig::default();
        With {
            folds: c.folds,
            holdout: c.holdout,
            hidden: c.mlp.hidden,
            lr: c.mlp.lr,
            batch_size: c.mlp.batch_size,
            max_epochs: c.mlp.max_epochs,
            patience: c.mlp.patience,
            monitor: c.mlp.monitor,
        }
    }
}

/// The library's config from `with` (its bounds are checked there:
/// [`AuditConfig::check`]).
fn config(w: &With) -> Result<AuditConfig, WithError> {
    let config = AuditConfig {
        folds: w.folds,
        holdout: w.holdout,
        mlp: MlpConfig {
            hidden: w.hidden,
            lr: w.lr,
            max_epochs: w.max_epochs,
            patience: w.patience,
            batch_size: w.batch_size,
            monitor: w.monitor,
        },
    };
    match config.check() {
        Err(AuditError::BadConfig {
            name,
            found,
            expected,
        }) => Err(WithError::new(
            name,
            format!("expected {expected}, found {found}"),
        )),
        Err(e) => Err(WithError::new("", e.to_string())),
        Ok(()) => Ok(config),
    }
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "eval.category_audit",
    // 2: JSON documents through the one canonical writer (keys sorted).
    code_version: 2,
    summary: "post-hoc audit: fresh 2-layer MLP predicts category from frozen rewards (and from length), grouped stratified k-fold AUC / balanced accuracy",
    slots: SLOTS,
    outputs: &[AUDIT_FILE, "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: false,
};

/// `audit.json`: the settings and both audits in full.
#[derive(Serialize)]
struct AuditDoc<'a> {
    config: &'a AuditConfig,
    seed: u64,
    categories: &'a BTreeMap<String, usize>,
    n_responses: usize,
    n_pairs: usize,
    reward: &'a AuditResult,
    length: Option<&'a AuditResult>,
}

impl crate::kind::TypedKind for EvalCategoryAudit {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn validate(&self, w: &With) -> Result<(), WithError> {
        config(w).map(|_| ())
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        let cfg = config(&w)?;
        let file = ctx.input("rm")?.join(SCORES_FILE);
        let rows = read_scores(&file).context("input `rm`")?;
        let items = AuditItems::from_scores(&rows)
            .with_context(|| format!("input `rm`: {}", file.display()))?;
        let lengths = match ctx.inputs.get("data") {
            Some(Input::One(dir)) => {
                let path = dir.join(DATA_FILE);
                let table = read_lengths(&path).context("input `data`")?;
                Some(join_lengths(&rows, &table, &path).context("input `data`")?)
            }
            Some(Input::Many(_)) => anyhow::bail!("input `data` must be one stage, not a fan-in"),
            None => None,
        };
        ctx.check_cancel()?;
        let seed = ctx.seed_for("audit");
        let rewards: Vec<f64> = rows.iter().map(|r| r.reward).collect();
        let reward = audit(&rewards, &items, &cfg, seed)
            .with_context(|| format!("audit of the rewards in {}", file.display()))?;
        ctx.check_cancel()?;
        // Same seed: the length audit uses the same folds and initialisations.
        let length = match &lengths {
            Some(l) => Some(audit(l, &items, &cfg, seed).context("audit of response length")?),
            None => None,
        };
        let mut categories: BTreeMap<String, usize> = BTreeMap::new();
        for &l in &items.labels {
            *categories.entry(items.categories[l].clone()).or_default() += 1;
        }
        write_json(
            &ctx.out.join(AUDIT_FILE),
            &AuditDoc {
                config: &cfg,
                seed,
                categories: &categories,
                n_responses: rows.len(),
                n_pairs: items.n_pairs,
                reward: &reward,
                length: length.as_ref(),
            },
        )?;
        let m = AuditMetrics {
            reward: AuditSummary::of(&reward),
            n_responses: rows.len(),
            n_pairs: items.n_pairs,
            chance_auc: 0.5,
            chance_balanced_accuracy: 1.0 / categories.len() as f64,
            categories: categories.clone(),
            monitor: serde_json::to_value(cfg.mlp.monitor)?,
            length: length.as_ref().map(AuditSummary::of),
        };
        write_json(&ctx.out.join("metrics.json"), &m)?;
        ctx.log(format!(
            "{} responses, {} pairs, {} categories: reward AUC {:.3} ± {:.3}, BA {:.3} ± {:.3}",
            rows.len(),
            items.n_pairs,
            categories.len(),
            reward.auc.mean,
            reward.auc.sd,
            reward.balanced_accuracy.mean,
            reward.balanced_accuracy.sd
        ));
        if let Some(l) = &length {
            ctx.log(format!(
                "length baseline: AUC {:.3} ± {:.3}, BA {:.3} ± {:.3}",
                l.auc.mean, l.auc.sd, l.balanced_accuracy.mean, l.balanced_accuracy.sd
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::data::token_table::{TokenRow, write_tokens};
    use crate::data::tokenize::Encoded;
    use crate::eval::scores::{ScoreRow, Side, write_scores};
    use crate::kind::Kind;
    use crate::stages::harness::{metrics, run_kind};
    use crate::util::rng::SplitMix64;
    use serde_json::Value;

    fn enc(prompt: usize, response: usize) -> Encoded {
        Encoded {
            ids: vec![7; prompt + response],
            response_start: prompt,
            full_len: prompt + response,
            truncated: false,
            response_truncated: false,
        }
    }

    /// 2 categories × `pairs` pairs. Rewards ignore the category; helpful
    /// responses are about twice as long as harmless ones.
    fn fixture(dir: &Path, pairs: usize) -> (Vec<ScoreRow>, Vec<TokenRow>) {
        let mut rng = SplitMix64::new(3);
        let (mut scores, mut tokens) = (Vec::new(), Vec::new());
        for (cat, base) in [("harmless", 20), ("helpful", 40)] {
            for p in 0..pairs {
                let id = format!("{cat}-{p}");
                for side in [Side::Chosen, Side::Rejected] {
                    scores.push(ScoreRow {
                        pair_id: id.clone(),
                        category: cat.into(),
                        side,
                        reward: rng.normal(),
                    });
                }
                let len = |rng: &mut SplitMix64| base + rng.index(15);
                tokens.push(TokenRow {
                    id,
                    category: cat.into(),
                    source: "synthetic".into(),
                    chosen: enc(5 + rng.index(10), len(&mut rng)),
                    rejected: enc(5 + rng.index(10), len(&mut rng)),
                });
            }
        }
        std::fs::create_dir_all(dir.join("rm")).unwrap();
        std::fs::create_dir_all(dir.join("tok")).unwrap();
        write_scores(&dir.join("rm").join(SCORES_FILE), &scores).unwrap();
        write_tokens(&dir.join("tok").join(DATA_FILE), &tokens).unwrap();
        (scores, tokens)
    }

    #[test]
    fn audits_rewards_and_the_length_baseline() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path(), 120);
        let inputs = [
            ("rm", dir.path().join("rm")),
            ("data", dir.path().join("tok")),
        ];
        let out = run_kind(
            &EvalCategoryAudit,
            dir.path(),
            "audit",
            json!({}),
            &inputs,
            None,
        )
        .unwrap();
        let m = metrics(&out).unwrap();
        for k in [
            "auc_mean",
            "auc_sd",
            "balanced_accuracy_mean",
            "balanced_accuracy_sd",
        ] {
            assert!(m[k].is_f64(), "{k} in {m}");
            assert!(m["length"][k].is_f64(), "length.{k} in {m}");
        }
        let auc = m["auc_mean"].as_f64().unwrap();
        assert!((auc - 0.5).abs() < 0.1, "reward AUC {auc}");
        let len_auc = m["length"]["auc_mean"].as_f64().unwrap();
        assert!(len_auc > 0.95, "length AUC {len_auc}");
        assert!(m["length"]["balanced_accuracy_mean"].as_f64().unwrap() > 0.9);
        assert_eq!(m["n_responses"], 480);
        assert_eq!(m["n_pairs"], 240);
        assert_eq!(m["categories"], json!({"harmless": 240, "helpful": 240}));
        assert_eq!(m["chance_auc"], 0.5);
        assert_eq!(m["folds"].as_array().unwrap().len(), 5);
        let f0 = &m["folds"][0];
        assert!(f0["best_epoch"].as_u64().unwrap() >= 1);
        assert!(f0["epochs_run"].as_u64().unwrap() >= f0["best_epoch"].as_u64().unwrap());
        let doc: Value =
            serde_json::from_slice(&std::fs::read(out.join(AUDIT_FILE)).unwrap()).unwrap();
        assert_eq!(doc["config"]["folds"], 5);
        assert_eq!(doc["reward"]["folds"].as_array().unwrap().len(), 5);
        assert!(doc["length"]["folds"][0]["validation_curve"].is_array());

        // Rerun: identical bytes. Without `data`: no length block.
        let again = run_kind(
            &EvalCategoryAudit,
            dir.path(),
            "audit2",
            json!({}),
            &inputs,
            None,
        )
        .unwrap();
        let bytes = |p: &Path| std::fs::read(p.join("metrics.json")).unwrap();
        // Another stage name is another seed: the base name enters it.
        assert_ne!(bytes(&out), bytes(&again));
        let again = run_kind(
            &EvalCategoryAudit,
            &dir.path().join("rerun"),
            "audit",
            json!({}),
            &inputs,
            None,
        )
        .unwrap();
        assert_eq!(bytes(&out), bytes(&again));
        let alone = run_kind(
            &EvalCategoryAudit,
            dir.path(),
            "alone",
            json!({"folds": 3, "monitor": "auc"}),
            &inputs[..1],
            None,
        )
        .unwrap();
        let m = metrics(&alone).unwrap();
        assert!(m.get("length").is_none());
        assert_eq!(m["folds"].as_array().unwrap().len(), 3);
        assert_eq!(m["monitor"], "auc");
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let (scores, mut tokens) = fixture(dir.path(), 6);
        // A scored pair missing from the tokenized table.
        tokens.retain(|t| t.id != "helpful-3");
        write_tokens(&dir.path().join("tok").join(DATA_FILE), &tokens).unwrap();
        let inputs = [
            ("rm", dir.path().join("rm")),
            ("data", dir.path().join("tok")),
        ];
        let e = run_kind(
            &EvalCategoryAudit,
            dir.path(),
            "a",
            json!({}),
            &inputs,
            None,
        )
        .unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("helpful-3") && msg.contains(DATA_FILE),
            "{msg}"
        );
        // Fewer pairs per category than folds, named with the file.
        let e = run_kind(
            &EvalCategoryAudit,
            dir.path(),
            "b",
            json!({"folds": 7}),
            &inputs[..1],
            None,
        )
        .unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("fewer than the 7 folds") && msg.contains(SCORES_FILE),
            "{msg}"
        );
        // One category.
        let one: Vec<ScoreRow> = scores
            .into_iter()
            .filter(|s| s.category == "helpful")
            .collect();
        write_scores(&dir.path().join("rm").join(SCORES_FILE), &one).unwrap();
        let e = run_kind(
            &EvalCategoryAudit,
            dir.path(),
            "c",
            json!({}),
            &inputs[..1],
            None,
        )
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("at least two categories"),
            "{e:#}"
        );
        // Bad `with`.
        let k = EvalCategoryAudit;
        for (with, path) in [
            (json!({"folds": 1}), "folds"),
            (json!({"holdout": 1.0}), "holdout"),
            (json!({"lr": -1.0}), "lr"),
            (json!({"monitor": "accuracy"}), "monitor"),
            (json!({"batch_size": 0}), "batch_size"),
            (json!({"hiden": 3}), "hiden"),
        ] {
            assert_eq!(k.check(&with).unwrap_err().path, path, "{with}");
        }
        assert!(k.check(&Value::Null).is_ok());
    }
}
