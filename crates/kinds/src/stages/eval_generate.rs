//! `eval.generate`: one policy's responses to a prompt set with fixed
//! sampling settings and seed (App. B.1 note ii) → `generations.parquet`.
//! Glue only; see [`crate::eval::policy_generate`].
//!
//! The seed is `H(params.seed, stage base name, "sample")`: every expansion
//! of a matrix over policies shares it, so the policies compared differ only
//! in their weights. The defaults are the PPO rollout settings the parity
//! gap uses (temperature 0.7, top-p 0.9, 256 new tokens, batch 8); the
//! diversity generations of App. B.2 set temperature 0.9, top-p 0.95 and
//! 100 new tokens.

use anyhow::Context;
use burn::tensor::backend::Backend as BurnBackend;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data::probe::read_prompts;
use crate::eval::generations::{GENERATIONS_FILE, write_generations};
use crate::eval::policy_generate::{SamplingConfig, generate_responses};
use crate::kind::{KindInfo, Slot, StageContext};
use crate::model::load::llama::load_hf_dir;
use crate::util::io::json::write_json;

/// The `eval.generate` kind.
pub struct EvalGenerate;

/// The `with` map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// New tokens per response at most (App. B: 256 for rollouts and parity; B.2: 100).
    #[schemars(range(min = 1, max = 4096))]
    pub max_new_tokens: usize,
    /// Softmax temperature (App. B: 0.7; B.2: 0.9); 0 = greedy.
    #[schemars(range(min = 0))]
    pub temperature: f64,
    /// Nucleus mass (App. B: 0.9; B.2: 0.95).
    #[schemars(range(max = 1), extend("exclusiveMinimum" = 0))]
    pub top_p: f64,
    /// Prompts per forward batch (B.2: 8); part of the key, since a batch shares one sampling
    /// stream.
    #[schemars(range(min = 1))]
    pub batch_size: usize,
    /// Longest templated prompt in tokens; longer prompts lose tokens from the left.
    #[schemars(range(min = 1))]
    pub max_prompt_tokens: usize,
}

impl Default for With {
    fn default() -> Self {
        // App. B: the PPO rollout settings (temperature 0.7, top-p 0.9, 256
        // new tokens); batch 8 as App. B.2's generation.
        With {
            max_new_tokens: 256,
            temperature: 0.7,
            top_p: 0.9,
            batch_size: 8,
            max_prompt_tokens: 512,
        }
    }
}

const SLOTS: &[Slot] = &[
    Slot {
        name: "policy",
        required: true,
        fan_in: false,
        doc: "a Llama-family policy: a train.ppo stage (policy/) or a model.pretrained stage (model/)",
    },
    Slot {
        name: "prompts",
        required: true,
        fan_in: false,
        doc: "a data.probes prompt set (probes.parquet: id, set, prompt, category)",
    },
];

const INFO: KindInfo = KindInfo {
    name: "eval.generate",
    code_version: 1,
    summary: "one policy's responses to a prompt set, fixed sampling settings and seed → generations.parquet",
    slots: SLOTS,
    outputs: &[GENERATIONS_FILE, "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: Some(crate::model::NUMERICS_VERSION),
    publishes: false,
};

/// The model directory inside a policy stage's outputs: `policy/`
/// (train.ppo) or `model/` (model.pretrained).
///
/// # Errors
/// Neither is there.
pub fn policy_dir(stage: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    for sub in ["policy", "model"] {
        let d = stage.join(sub);
        if d.is_dir() {
            return Ok(d);
        }
    }
    anyhow::bail!(
        "input `policy`: no policy/ or model/ directory (expected a train.ppo or model.pretrained stage)"
    )
}

impl crate::kind::TypedKind for EvalGenerate {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        crate::on_backend!(ctx.backend, run_on(ctx, &w))
    }
}

fn run_on<B: BurnBackend>(ctx: &StageContext, w: &With) -> anyhow::Result<()> {
    let dir = policy_dir(ctx.input("policy")?)?;
    let policy = load_hf_dir::<B>(&dir, &Default::default()).with_context(|| {
        format!(
            "input `policy`: {} is not a loadable Llama-family model directory",
            dir.display()
        )
    })?;
    let prompts = read_prompts(&ctx.input("prompts")?.join("probes.parquet"))
        .context("input `prompts` (a data.probes prompt set)")?;
    anyhow::ensure!(!prompts.is_empty(), "input `prompts`: no prompt");
    let cfg = SamplingConfig {
        max_new_tokens: w.max_new_tokens,
        temperature: w.temperature,
        top_p: w.top_p,
        batch_size: w.batch_size,
        max_prompt_tokens: w.max_prompt_tokens,
        seed: ctx.seed_for("sample"),
    };
    let (rows, stats) = generate_responses(&policy, &prompts, &cfg, ctx)?;
    write_generations(&ctx.out.join(GENERATIONS_FILE), &rows)?;
    let n = rows.len();
    let tokens: u64 = rows.iter().map(|r| u64::from(r.tokens)).sum();
    let mut by_cat = std::collections::BTreeMap::<&str, usize>::new();
    for r in &rows {
        *by_cat.entry(r.category.as_str()).or_default() += 1;
    }
    write_json(
        &ctx.out.join("metrics.json"),
        &json!({
            "n": n,
            "categories": by_cat,
            "mean_tokens": tokens as f64 / n as f64,
            "stopped_at_eos": stats.stopped_at_eos,
            "prompts_truncated": stats.prompts_truncated,
            "settings": w,
        }),
    )?;
    ctx.log(format!(
        "generated {n} responses, {} new tokens in {:.1} s ({:.1} tok/s), {} stopped at EOS, {} prompts cut",
        stats.new_tokens,
        stats.seconds,
        stats.new_tokens as f64 / stats.seconds.max(1e-9),
        stats.stopped_at_eos,
        stats.prompts_truncated
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::probe::{PromptItem, write_prompts};
    use crate::eval::generations::read_generations;
    use crate::kind::Kind;
    use crate::stages::harness::TestStage;
    use serde_json::Value;

    fn prompts() -> Vec<PromptItem> {
        (0..5)
            .map(|i| PromptItem {
                id: format!("q{i}"),
                set: "prompts".into(),
                prompt: format!("w{} w{}", 3 + i, 9 + i),
                category: if i < 3 { "helpful" } else { "harmless" }.into(),
            })
            .collect()
    }

    fn stage(with: Value, stage_name: &str) -> (TestStage, anyhow::Result<()>) {
        let t = TestStage::new(stage_name, with);
        let fixture = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/tiny_llama/plain");
        let model = t.upstream("policy").join("model");
        std::fs::create_dir_all(&model).unwrap();
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::copy(fixture.join(f), model.join(f)).unwrap();
        }
        write_prompts(&t.upstream("prompts").join("probes.parquet"), &prompts()).unwrap();
        let r = EvalGenerate.run(&t.ctx());
        (t, r)
    }

    #[test]
    fn generates_one_row_per_prompt_reproducibly() {
        let with = json!({"max_new_tokens": 5, "batch_size": 2});
        let (t, r) = stage(with.clone(), "gen");
        r.unwrap();
        let out = t.ctx().out;
        let rows = read_generations(&out.join(GENERATIONS_FILE)).unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[3].category, "harmless");
        assert!(rows.iter().all(|r| r.tokens <= 5));
        let m: Value =
            serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        assert_eq!(m["categories"]["helpful"], 3);
        assert_eq!(m["settings"]["temperature"], 0.7);
        // Same stage name (seed) → same bytes; another base name → another stream.
        let (t2, r2) = stage(with.clone(), "gen");
        r2.unwrap();
        let bytes = |t: &TestStage| std::fs::read(t.ctx().out.join(GENERATIONS_FILE)).unwrap();
        assert_eq!(bytes(&t), bytes(&t2));
    }

    #[test]
    fn bad_settings_and_a_policy_stage_without_a_model_are_refused() {
        assert_eq!(
            EvalGenerate.check(&json!({"top_p": 0.0})).unwrap_err().path,
            "top_p"
        );
        assert_eq!(
            EvalGenerate
                .check(&json!({"batch_size": 0}))
                .unwrap_err()
                .path,
            "batch_size"
        );
        assert!(EvalGenerate.check(&json!({"temprature": 0.5})).is_err());
        assert!(EvalGenerate.check(&Value::Null).is_ok());
        let t = TestStage::new("gen", json!({}));
        t.upstream("policy");
        write_prompts(&t.upstream("prompts").join("probes.parquet"), &prompts()).unwrap();
        let e = EvalGenerate.run(&t.ctx()).unwrap_err();
        assert!(format!("{e:#}").contains("no policy/ or model/"), "{e:#}");
    }

    #[test]
    fn a_bert_directory_is_not_a_policy() {
        let t = TestStage::new("gen", json!({}));
        let model = t.upstream("policy").join("model");
        std::fs::create_dir_all(&model).unwrap();
        std::fs::write(model.join("config.json"), r#"{"model_type": "bert"}"#).unwrap();
        write_prompts(&t.upstream("prompts").join("probes.parquet"), &prompts()).unwrap();
        let e = EvalGenerate.run(&t.ctx()).unwrap_err();
        assert!(
            format!("{e:#}").contains("not a loadable Llama-family model"),
            "{e:#}"
        );
    }
}
