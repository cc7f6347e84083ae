//! `train.ppo`: a policy trained with PPO against a reward model (§4.1,
//! App. B) — TRL's legacy PPOTrainer with LoRA, adaptive KL, a value head
//! and an optional RND curiosity bonus. Glue only: the loop is
//! [`crate::train::ppo::step::train_ppo`], the settings and the paper's
//! readings are in [`crate::train::ppo::config`].
//!
//! Inputs: `policy` (a `model.pretrained` Llama-family chat model), `reward`
//! (a `train.reward_model` stage: its `model/`), `prompts` (a `data.probes`
//! prompt set, `set: prompts`, drawn from the train split). Prompts go
//! through the policy's chat template as one user turn with the generation
//! prompt opened (a model without a template gets the transcript template
//! `Human: …\n\nAssistant:`, logged); the RM scores the raw prompt and the
//! decoded response ([`crate::train::ppo::reward`]).
//!
//! Outputs: `policy/` (HF safetensors + config.json + tokenizer files, LoRA
//! merged), `adapter/` (PEFT), `curves.csv`, `samples.jsonl`, `metrics.json`
//! (no timings: a rerun is byte-identical).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use serde_json::{Value, json};

use crate::data::probe::read_prompts;
use crate::eval::stats::{paired_t_detectable, paired_t_test};
use crate::kind::{KindInfo, Slot, StageContext, Upstream, WithError};
use crate::model::chat_prompt::{prompt_ids, stop_ids};
use crate::model::export::{export_hf, export_peft};
use crate::model::load::llama::load_hf_dir;
use crate::train::ppo::config::PpoConfig;
use crate::train::ppo::paired_eval::PairedEval;
use crate::train::ppo::record::{write_ppo_curves, write_samples};
use crate::train::ppo::reward::RmScorer;
use crate::train::ppo::rollout::Prompt;
use crate::train::ppo::step::{PpoInput, init_policy, train_ppo};
use crate::train::rm_dir::HEAD_FILE;
use crate::util::hooks::{Hooks, Interrupted};
use crate::util::io::json::write_json;
use crate::util::rng::derive_seed;

/// The `train.ppo` kind.
pub struct TrainPpo;

/// The stage's hooks with seeds derived from `seed_name` instead of the stage name.
struct SharedSeeds<'a> {
    ctx: &'a StageContext,
    name: Option<&'a str>,
}

impl Hooks for SharedSeeds<'_> {
    fn seed(&self, purpose: &str) -> u64 {
        match self.name {
            Some(n) => derive_seed(self.ctx.seed, n, purpose),
            None => self.ctx.seed_for(purpose),
        }
    }
    fn check(&self) -> Result<(), Interrupted> {
        Hooks::check(self.ctx)
    }
    fn log(&self, line: &str) {
        self.ctx.log(line);
    }
    fn progress(&self, what: &str, done: u64, total: u64) {
        Hooks::progress(self.ctx, what, done, total);
    }
}

const SLOTS: &[Slot] = &[
    Slot {
        name: "policy",
        required: true,
        fan_in: false,
        doc: "a model.pretrained Llama-family chat model (model/)",
    },
    Slot {
        name: "reward",
        required: true,
        fan_in: false,
        doc: "a train.reward_model stage (model/)",
    },
    Slot {
        name: "prompts",
        required: true,
        fan_in: false,
        doc: "a data.probes prompt set (set: prompts, split: train): probes.parquet with categories",
    },
];

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "train.ppo",
    // 2: prompts as eval.generate renders them (an HH transcript keeps its
    // turns; no special tokens added twice), and its stop ids. 3: the
    // per-token log-probs and entropies as one fused op on Flex
    // (`model::fast::token_logprobs`; only this kind calls it).
    code_version: 3,
    summary: "PPO policy (LoRA, adaptive KL, value head; optional RND curiosity) against a reward model (§4.1, App. B)",
    slots: SLOTS,
    outputs: &[
        "policy",
        "adapter",
        "curves.csv",
        "samples.jsonl",
        "metrics.json",
    ],
    metrics: Some("metrics.json"),
    numerics: Some(crate::model::NUMERICS_VERSION),
    publishes: false,
};

/// Every upstream of `slot` is one of `kinds` (or a `cmd`).
fn expect_kind(slot: &str, ups: &[Upstream<'_>], want: &str) -> Result<(), WithError> {
    for u in ups {
        if u.kind != want && u.kind != "cmd" {
            return Err(WithError::new(
                slot,
                format!(
                    "`{}` is a {} stage; expected a {want} stage",
                    u.name, u.kind
                ),
            ));
        }
    }
    Ok(())
}

impl crate::kind::TypedKind for TrainPpo {
    type With = PpoConfig;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn validate(&self, c: &PpoConfig) -> Result<(), WithError> {
        c.check_relations()
    }
    fn check_inputs(
        &self,
        _with: &PpoConfig,
        inputs: &BTreeMap<String, Vec<Upstream<'_>>>,
    ) -> Result<(), WithError> {
        let none = Vec::new();
        let get = |s: &str| inputs.get(s).unwrap_or(&none);
        expect_kind("policy", get("policy"), "model.pretrained")?;
        expect_kind("reward", get("reward"), "train.reward_model")?;
        let prompts = get("prompts");
        expect_kind("prompts", prompts, "data.probes")?;
        for u in prompts.iter().filter(|u| u.kind == "data.probes") {
            let set = u.with.get("set").and_then(Value::as_str).unwrap_or("");
            if set != "prompts" {
                return Err(WithError::new(
                    "prompts",
                    format!(
                        "`{}` is a data.probes `{set}` set, which has no categories; train.ppo needs a prompt set drawn per category (set: prompts)",
                        u.name
                    ),
                ));
            }
            if u.with.get("split").and_then(Value::as_str) == Some("eval") {
                return Err(WithError::new(
                    "prompts",
                    format!(
                        "`{}` draws from the eval split; PPO trains on the train split (split: train), the evaluations use eval",
                        u.name
                    ),
                ));
            }
        }
        Ok(())
    }
    fn run(&self, ctx: &StageContext, cfg: PpoConfig) -> anyhow::Result<()> {
        crate::on_backend!(autodiff ctx.backend, run_on(ctx, &cfg))
    }
}

/// The policy's `model/` after checking it is a Llama-family model.
fn policy_dir(ctx: &StageContext) -> anyhow::Result<std::path::PathBuf> {
    let root = ctx.input("policy")?;
    let dir = root.join("model");
    if !dir.is_dir() {
        bail!("input `policy`: no model/ directory (expected a model.pretrained stage)");
    }
    let read = |p: std::path::PathBuf| -> anyhow::Result<Option<Value>> {
        if !p.is_file() {
            return Ok(None);
        }
        let t = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        Ok(Some(
            serde_json::from_str(&t).with_context(|| format!("parsing {}", p.display()))?,
        ))
    };
    let field = |v: &Option<Value>, k: &str| -> Option<String> {
        v.as_ref()?.get(k)?.as_str().map(str::to_string)
    };
    let arch = field(&read(root.join("model.json"))?, "architecture");
    let cfg_type = field(&read(dir.join("config.json"))?, "model_type");
    match (arch.as_deref(), cfg_type.as_deref()) {
        (Some("llama") | None, Some("llama")) => Ok(dir),
        (a, t) => bail!(
            "input `policy`: not a Llama-family model (architecture {}, model_type {}); train.ppo trains a causal chat LM",
            a.unwrap_or("unknown"),
            t.unwrap_or("unknown")
        ),
    }
}

fn run_on<B: AutodiffBackend>(ctx: &StageContext, cfg: &PpoConfig) -> anyhow::Result<()> {
    let policy_dir = policy_dir(ctx)?;
    let reward_dir = ctx.input("reward")?.join("model");
    if !reward_dir.is_dir() || !reward_dir.join(HEAD_FILE).is_file() {
        bail!("input `reward`: no model/ with {HEAD_FILE} (expected a train.reward_model stage)");
    }
    let items =
        read_prompts(&ctx.input("prompts")?.join("probes.parquet")).context("input `prompts`")?;
    if items.is_empty() {
        bail!("input `prompts`: no prompts");
    }
    if let Some(p) = items.iter().find(|p| p.category.is_empty()) {
        bail!(
            "input `prompts`: prompt `{}` has no category (expected a data.probes prompt set)",
            p.id
        );
    }
    let device = Default::default();
    let m = load_hf_dir::<B>(&policy_dir, &device)
        .with_context(|| format!("loading the policy from {}", policy_dir.display()))?;
    if m.chat_template.is_none() {
        ctx.log("the policy has no chat template: prompts use the transcript template `Human: …\\n\\nAssistant:`");
    }
    let mut prompts = Vec::with_capacity(items.len());
    for p in &items {
        prompts.push(Prompt {
            id: p.id.clone(),
            text: p.prompt.clone(),
            category: p.category.clone(),
            ids: {
                // Left-truncated to the newest max_prompt_len tokens.
                let ids = prompt_ids(&m, &p.prompt)?;
                ids[ids.len().saturating_sub(cfg.max_prompt_len)..].to_vec()
            },
        });
    }
    // EOS and the chat template's end-of-turn token, as eval.generate.
    let eos = stop_ids(&m);
    let pad = m.specials.pad.or(m.specials.eos).unwrap_or(0);
    let reward = RmScorer::<B::InnerBackend>::load(
        &reward_dir,
        m.tokenizer.clone(),
        cfg.reward_max_len,
        &device,
    )?;
    ctx.log(format!(
        "{} prompts, {} steps × {} rollouts, eos {eos:?}, curiosity {}",
        prompts.len(),
        cfg.steps,
        cfg.batch_size,
        cfg.curiosity.is_some()
    ));
    let hooks = SharedSeeds {
        ctx,
        name: cfg.seed_name.as_deref(),
    };
    let model = init_policy(m.model, cfg, &hooks);
    let out = train_ppo(
        model,
        &PpoInput {
            prompts: &prompts,
            eos,
            pad,
            reward: &reward,
            cfg,
            hooks: &hooks,
        },
    )?;
    write_model(ctx, cfg, &out.model.policy, &m.config, &policy_dir)?;
    write_ppo_curves(&ctx.out.join("curves.csv"), &out.curves)?;
    write_samples(&ctx.out.join("samples.jsonl"), &out.samples)?;
    let last = out.curves.last().context("no PPO step ran")?;
    let k = out.curves.len().min(5);
    let avg = |rows: &[crate::train::ppo::record::StepRow]| {
        rows.iter().map(|r| r.score).sum::<f64>() / rows.len().max(1) as f64
    };
    let mut categories: Vec<&str> = prompts.iter().map(|p| p.category.as_str()).collect();
    categories.sort_unstable();
    categories.dedup();
    let mut metrics = json!({
            "steps": cfg.steps,
            "batch_size": cfg.batch_size,
            "mini_batch_size": cfg.mini_batch_size,
            "episodes": cfg.steps * cfg.batch_size,
            "curiosity": cfg.curiosity.is_some(),
            "n_prompts": prompts.len(),
            "categories": categories,
            "chat_template": m.chat_template.is_some(),
            "final": last,
            "final_beta": out.final_beta,
            "score_first_steps": avg(&out.curves[..k]),
            "score_last_steps": avg(&out.curves[out.curves.len() - k..]),
            "steps_averaged": k,
    });
    if let Some(e) = &out.eval {
        metrics["reward_gain"] = gain_json(ctx, e)?;
    }
    write_json(&ctx.out.join("metrics.json"), &metrics)?;
    Ok(())
}

/// The paired evaluation as `metrics.json`'s `reward_gain`: the paired
/// t-test of after − before over the prompts (n − 1 df), its 95 % t
/// interval, the smallest gain it detects with 80 % power at 5 %, and the
/// per-prompt scores; logged as one line.
fn gain_json(ctx: &StageContext, e: &PairedEval) -> anyhow::Result<Value> {
    let t = paired_t_test(&e.before, &e.after, 0.95).context("the paired reward gain")?;
    ctx.log(format!(
        "reward gain (paired, {} prompts): {:+.4} ± {:.4}, p {:.4}",
        t.diff.n,
        t.diff.mean,
        t.diff.se.unwrap_or(f64::NAN),
        t.pvalue.unwrap_or(f64::NAN)
    ));
    let mde = match t.diff.sd {
        Some(sd) if t.diff.n >= 3 => Some(paired_t_detectable(t.diff.n, 0.05, 0.8)? * sd),
        _ => None,
    };
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len().max(1) as f64;
    Ok(json!({
        "method": "paired: the same prompts and sampling seeds before the first step and after the last",
        "n": t.diff.n,
        "before_mean": mean(&e.before),
        "after_mean": mean(&e.after),
        "estimate": t.diff.mean,
        "sd": t.diff.sd,
        "se": t.diff.se,
        "t": t.t,
        "df": t.df,
        "p": t.pvalue,
        "ci_low": t.ci_low,
        "ci_high": t.ci_high,
        "mde_80": mde,
        "prompt_ids": e.prompt_ids,
        "before": e.before,
        "after": e.after,
    }))
}

/// `policy/` (LoRA merged, HF layout, the input's tokenizer files) and `adapter/` (PEFT).
fn write_model<B: AutodiffBackend>(
    ctx: &StageContext,
    cfg: &PpoConfig,
    policy: &crate::model::llama::Llama<B>,
    config: &crate::model::config::LlamaConfig,
    src: &Path,
) -> anyhow::Result<()> {
    let dir = ctx.out.join("policy");
    export_hf(policy.valid(), config, &dir).context("writing policy/")?;
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        let p = src.join(f);
        if p.is_file() {
            std::fs::copy(&p, dir.join(f)).with_context(|| format!("copying {}", p.display()))?;
        }
    }
    // The base model's name in adapter_config.json: the policy stage's source.
    let meta = src.parent().unwrap_or(src).join("model.json");
    let base = if meta.is_file() {
        let t = std::fs::read_to_string(&meta)
            .with_context(|| format!("reading {}", meta.display()))?;
        let v: Value =
            serde_json::from_str(&t).with_context(|| format!("parsing {}", meta.display()))?;
        v["source"].to_string()
    } else {
        "policy".to_string()
    };
    export_peft(policy, cfg.lora, &base, &ctx.out.join("adapter")).context("writing adapter/")?;
    Ok(())
}
