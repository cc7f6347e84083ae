//! `train.reward_model`: a Bradley–Terry reward model, and with
//! `lambda_adv > 0` the fair variant with the moment-feature adversary
//! (§3, App. A.5–A.6). Glue only: the loop is [`crate::train::fit`].
//!
//! Two ways to train:
//! - `trainable: head` with a `features` input (a `model.features` stage):
//!   the head trains on the frozen backbone's pooled features, computed once
//!   for every λ of a sweep — the CPU-scale path;
//! - `trainable: {last_layers: k}` with a `hidden` input (a
//!   `model.hidden_states` stage, `upper_layers: k`): the last k layers and
//!   the head train on the lower layers' cached hidden states;
//! - `trainable: all | lora | {last_layers: k}` on the `backbone` itself.
//!
//! Outputs: `model/` (the backbone, `head.safetensors`, `rm.json`),
//! `scores.parquet` (eval split, both sides; [`crate::eval::scores`]),
//! `stereotype_scores.parquet` (the probes in `features`, empty without),
//! `curves.csv`, `metrics.json`.

use anyhow::{Context, bail};
use burn::tensor::backend::AutodiffBackend;
use serde_json::{Value, json};

use crate::data::probe_items::{ProbeRow, read_probe_rows};
use crate::eval::scores::{SCORES_FILE, ScoreRow, Side, write_scores};
use crate::eval::stereotype::{STEREOTYPE_SCORES_FILE, StereoItem, write_items};
use crate::kind::{Input, KindInfo, Slot, StageContext, WithError};
use crate::model::encoder::LoadedEncoder;
use crate::train::config::{AdversaryInput, TrainConfig, Trainable};
use crate::train::curves::write_curves;
use crate::train::features::{FEATURES_FILE, read_features};
use crate::train::fit::bt_summary;
use crate::train::head::RewardHead;
use crate::train::hidden::{HIDDEN_FILE, read_hidden};
use crate::train::on_backbone::train_on_backbone;
use crate::train::on_features::train_on_features;
use crate::train::on_hidden::train_on_hidden;
use crate::train::pairs::{Pairs, read_pairs};
use crate::train::rm_dir::{copy_backbone, write_head};
use crate::train::split_reading::read_split;
use crate::train::trained::Trained;
use crate::util::hooks::{Hooks, Reseeded};
use crate::util::io::json::write_json;

/// The `train.reward_model` kind.
pub struct TrainRewardModel;

const SLOTS: &[Slot] = &[
    Slot {
        name: "data",
        required: true,
        fan_in: false,
        doc: "a data.tokenize stage (train.parquet, eval.parquet)",
    },
    Slot {
        name: "backbone",
        required: true,
        fan_in: false,
        doc: "a model.pretrained stage (model/)",
    },
    Slot {
        name: "features",
        required: false,
        fan_in: false,
        doc: "a model.features stage over the same data and backbone (trainable: head)",
    },
    Slot {
        name: "hidden",
        required: false,
        fan_in: false,
        doc: "a model.hidden_states stage over the same data and backbone (trainable: {last_layers: k}, k = its upper_layers)",
    },
    Slot {
        name: "crows_pairs",
        required: false,
        fan_in: false,
        doc: "a data.probes CrowS-Pairs stage, scored by the trained RM (backbone path; with `features` the probes come from there)",
    },
    Slot {
        name: "stereoset",
        required: false,
        fan_in: false,
        doc: "a data.probes StereoSet stage, scored likewise",
    },
];

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "train.reward_model",
    // 2: metrics.json records the seed; curves.csv's eval rows carry the
    // adversary's eval reading and the category dependence per epoch.
    code_version: 2,
    summary: "Bradley–Terry reward model; lambda_adv > 0 adds the moment-feature adversary (App. A.6)",
    slots: SLOTS,
    outputs: &[
        "model",
        SCORES_FILE,
        STEREOTYPE_SCORES_FILE,
        "curves.csv",
        "metrics.json",
    ],
    metrics: Some("metrics.json"),
    numerics: Some(crate::model::NUMERICS_VERSION),
    publishes: false,
};

impl crate::kind::TypedKind for TrainRewardModel {
    type With = TrainConfig;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn validate(&self, c: &TrainConfig) -> Result<(), WithError> {
        c.check_relations()
    }
    fn run(&self, ctx: &StageContext, cfg: TrainConfig) -> anyhow::Result<()> {
        crate::on_backend!(autodiff ctx.backend, run_on(ctx, &cfg))
    }
}

fn run_on<B: AutodiffBackend>(ctx: &StageContext, cfg: &TrainConfig) -> anyhow::Result<()> {
    // `with.seed` replaces `params.seed` in every stream (ARCHITECTURE.md, "Determinism").
    let reseeded = cfg.seed.map(|s| Reseeded::new(ctx, s, &ctx.base));
    let hooks: &dyn Hooks = match &reseeded {
        Some(r) => r,
        None => ctx,
    };
    let data = ctx.input("data")?;
    let pairs = read_pairs(data)?;
    let backbone = ctx.input("backbone")?.join("model");
    if !backbone.is_dir() {
        bail!("input `backbone`: no model/ directory (expected a model.pretrained stage)");
    }
    let model_out = ctx.out.join("model");
    let one = |slot: &str| match ctx.inputs.get(slot) {
        Some(Input::One(d)) => Ok(Some(d.clone())),
        Some(Input::Many(_)) => bail!("input `{slot}` must be one stage, not a fan-in"),
        None => Ok(None),
    };
    let features = one("features")?;
    let hidden = one("hidden")?;
    if features.is_some() && hidden.is_some() {
        bail!(
            "inputs `features` and `hidden` exclude each other (a head on pooled features, or upper layers on hidden states)"
        );
    }
    let cached = features.as_ref().or(hidden.as_ref());
    if cached.is_some()
        && (ctx.inputs.contains_key("crows_pairs") || ctx.inputs.contains_key("stereoset"))
    {
        bail!(
            "with a `features` or `hidden` input the probes come from that stage: connect crows_pairs/stereoset there, not here"
        );
    }
    let mut meta = json!({
        "trainable": cfg.trainable,
        "lambda_adv": cfg.lambda_adv,
        "categories": pairs.names,
        "head_hidden": cfg.head_hidden,
        "seed": cfg.seed,
    });
    let (trained, probe_rows) = match (cfg.trainable, features, hidden) {
        (Trainable::LastLayers(_), None, Some(dir)) => {
            let h = read_hidden(&dir.join(HIDDEN_FILE)).context("input `hidden`")?;
            let probes = cached_probe_rows(&dir, h.probe_items(), "hidden")?;
            let (enc, head, trained) = train_on_hidden::<B>(hooks, cfg, &pairs, &h, &backbone)?;
            drop(h);
            save_backbone_rm(&model_out, &enc, &head, &mut meta)?;
            (trained, probes)
        }
        (_, None, Some(_)) => bail!(
            "input `hidden` is for trainable: {{last_layers: k}}; trainable: {:?} (drop the input, or use features for a head)",
            cfg.trainable
        ),
        (Trainable::Head, Some(dir), None) => {
            let feats = read_features(&dir.join(FEATURES_FILE)).context("input `features`")?;
            let probes = cached_probe_rows(&dir, feats.probes_more.rows, "features")?;
            let (head, trained) = train_on_features::<B>(hooks, cfg, &pairs, &feats)?;
            copy_backbone(&backbone, &model_out)?;
            meta["hidden"] = json!(feats.hidden());
            meta["pooling"] =
                json!("model.features (BERT: mean over real tokens; Llama: last real token)");
            write_head(&model_out, &head, &meta)?;
            (trained, probes)
        }
        (_, Some(_), _) => bail!(
            "input `features` is for trainable: head; trainable: {:?} trains the backbone itself (drop the input)",
            cfg.trainable
        ),
        (_, None, None) => {
            let probes = probe_dirs(ctx)?;
            let (enc, head, trained) = train_on_backbone::<B>(
                hooks,
                cfg,
                &pairs,
                data,
                &backbone,
                &probes,
                cfg.probe_max_len,
            )?;
            save_backbone_rm(&model_out, &enc, &head, &mut meta)?;
            let rows = trained.probe_rows.clone();
            (trained, rows)
        }
    };
    write_probe_scores(ctx, &probe_rows, trained.probes.as_ref())?;
    write_outputs(ctx, hooks, cfg, &pairs, &trained)
}

/// Writes a trained backbone and its head to `model_out` (`model/`), with
/// the width and pooling in `rm.json`.
fn save_backbone_rm<E: burn::tensor::backend::Backend>(
    model_out: &std::path::Path,
    enc: &LoadedEncoder<E>,
    head: &RewardHead<E>,
    meta: &mut Value,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(model_out)?;
    enc.save_encoder(model_out)
        .context("saving the trained backbone")?;
    meta["hidden"] = json!(enc.hidden);
    meta["pooling"] = json!("BERT: mean over real tokens; Llama: last real token");
    write_head(model_out, head, meta)?;
    Ok(())
}

/// The probe rows of a `features` or `hidden` input, checked against the
/// `n` probe items it holds.
fn cached_probe_rows(dir: &std::path::Path, n: usize, slot: &str) -> anyhow::Result<Vec<ProbeRow>> {
    let probes = if n == 0 {
        Vec::new()
    } else {
        read_probe_rows(&dir.join("probes.parquet")).with_context(|| format!("input `{slot}`"))?
    };
    if probes.len() != n {
        bail!(
            "input `{slot}`: probes.parquet has {} rows, the {slot} {n}",
            probes.len()
        );
    }
    Ok(probes)
}

/// The connected `crows_pairs` / `stereoset` inputs, in the order they are scored.
fn probe_dirs(ctx: &StageContext) -> anyhow::Result<Vec<(&'static str, &std::path::Path)>> {
    let mut dirs = Vec::new();
    for slot in ["crows_pairs", "stereoset"] {
        if ctx.inputs.contains_key(slot) {
            dirs.push((slot, ctx.input(slot)?));
        }
    }
    Ok(dirs)
}

fn write_probe_scores(
    ctx: &StageContext,
    rows: &[ProbeRow],
    scores: Option<&(Vec<f32>, Vec<f32>)>,
) -> anyhow::Result<()> {
    let items: Vec<StereoItem> = match scores {
        None => Vec::new(),
        Some((more, less)) => rows
            .iter()
            .zip(more.iter().zip(less))
            .map(|(r, (m, l))| StereoItem {
                item_id: r.item_id.clone(),
                dataset: r.dataset.clone(),
                bias_type: r.bias_type.clone(),
                direction: r.direction.clone(),
                more: f64::from(*m),
                less: f64::from(*l),
            })
            .collect(),
    };
    write_items(&ctx.out.join(STEREOTYPE_SCORES_FILE), &items)?;
    Ok(())
}

fn write_outputs(
    ctx: &StageContext,
    hooks: &dyn Hooks,
    cfg: &TrainConfig,
    pairs: &Pairs,
    fit: &Trained,
) -> anyhow::Result<()> {
    let mut rows = Vec::with_capacity(2 * pairs.eval.ids.len());
    for (i, id) in pairs.eval.ids.iter().enumerate() {
        let category = pairs.names[pairs.eval.categories[i]].clone();
        for (side, r) in [
            (Side::Chosen, fit.eval_chosen[i]),
            (Side::Rejected, fit.eval_rejected[i]),
        ] {
            rows.push(ScoreRow {
                pair_id: id.clone(),
                category: category.clone(),
                side,
                reward: f64::from(r),
            });
        }
    }
    write_scores(&ctx.out.join(SCORES_FILE), &rows)?;
    write_curves(&ctx.out.join("curves.csv"), &fit.curves)?;
    let (loss, acc) = bt_summary(&fit.eval_chosen, &fit.eval_rejected);
    let k = pairs.names.len();
    let mut metrics = json!({
            "lambda_adv": cfg.lambda_adv,
            "seed": cfg.seed.unwrap_or(ctx.seed),
            "trainable": cfg.trainable,
            "eval_bt_loss": loss,
            "eval_accuracy": acc,
            "epochs": cfg.epochs,
            "steps": fit.steps,
            "categories": pairs.names,
            "batch": {"size": cfg.batch_size, "categories": k, "per_category": fit.per_category, "left_out_per_epoch": fit.left_out_per_epoch},
            "n_train": pairs.train.ids.len(),
            "n_eval": pairs.eval.ids.len(),
            "adversary": {
                "input": match cfg.adversary_input { AdversaryInput::Moments => "moments", AdversaryInput::Scores => "scores" },
                "last_epoch_ce": fit.adv_ce,
                "last_epoch_balanced_accuracy": fit.adv_ba,
                "chance_ce": (k as f64).ln(),
                "ce_cap": cfg.ce_cap,
                "cap_bind_fraction": fit.cap_bind_fraction,
            },
    });
    // Only with a validation split: the defaults' metrics stay as they were.
    if let Some(v) = &fit.validation {
        let seed = hooks.seed("reading");
        let ids: Vec<&str> = v
            .rows
            .iter()
            .map(|&r| pairs.train.ids[r].as_str())
            .collect();
        let cats: Vec<usize> = v.rows.iter().map(|&r| pairs.train.categories[r]).collect();
        metrics["validation"] = json!(read_split(
            &ids,
            &cats,
            &pairs.names,
            &v.chosen,
            &v.rejected,
            seed
        ));
        let ids: Vec<&str> = pairs.eval.ids.iter().map(String::as_str).collect();
        metrics["eval_reading"] = json!(read_split(
            &ids,
            &pairs.eval.categories,
            &pairs.names,
            &fit.eval_chosen,
            &fit.eval_rejected,
            seed
        ));
        metrics["validation_fraction"] = json!(cfg.validation_fraction);
    }
    write_json(&ctx.out.join("metrics.json"), &metrics)?;
    ctx.log(format!(
        "eval: BT loss {loss:.4} nats, accuracy {acc:.4} over {} pairs",
        pairs.eval.ids.len()
    ));
    Ok(())
}
