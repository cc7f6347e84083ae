//! `eval.diversity` (App. B.2): semantic diversity of every policy's
//! responses — mean pairwise cosine distance of L2-normalised, mean-pooled
//! all-mpnet-base-v2 embeddings ([`crate::model::mpnet`]) — and the paired
//! bootstrap of each policy's difference to the baseline (1,000 resamples of
//! the aligned prompt indices, two-sided, pairs of equal resampled indices
//! excluded, `p = 2·min(P(d* ≤ 0), P(d* ≥ 0))`). Glue only:
//! [`crate::eval::policy_diversity`].
//!
//! One stage over all policies (a fan-in of an `eval.generate` matrix), so
//! the embedder is loaded once and each response is embedded once.

use anyhow::Context;
use burn::tensor::backend::Backend as BurnBackend;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::eval::policies::resolve_baseline;
use crate::eval::policy_diversity::{PolicyDiversity, diversity_table};
use crate::eval::policy_parity::at_cap;
use crate::eval::stats::SemDivConfig;
use crate::kind::{KindInfo, Slot, StageContext};
use crate::model::mpnet::load_mpnet;
use crate::stages::fan_in::{read_caps, read_policies};
use crate::util::io::json::write_json;

/// The `eval.diversity` kind.
pub struct EvalDiversity;

/// Output with the table.
pub const DIVERSITY_FILE: &str = "diversity.json";

/// The `with` map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// The baseline policy: an expansion name of `generations` or one of its matrix values.
    #[schemars(length(min = 1))]
    pub baseline: String,
    /// Responses per embedding batch (sentence-transformers' default 32).
    #[schemars(range(min = 1))]
    pub batch_size: usize,
    /// Paired bootstrap resamples of the aligned prompt indices (B.2: 1,000).
    #[schemars(range(min = 1, max = 1_000_000))]
    pub resamples: usize,
    /// Confidence level of the intervals (B.2: 0.95).
    #[schemars(extend("exclusiveMinimum" = 0, "exclusiveMaximum" = 1))]
    pub level: f64,
}

impl Default for With {
    fn default() -> Self {
        // App. B.2: 1,000 resamples, 95 % intervals.
        With {
            baseline: "baseline".into(),
            batch_size: 32,
            resamples: 1000,
            level: 0.95,
        }
    }
}

const SLOTS: &[Slot] = &[
    Slot {
        name: "generations",
        required: true,
        fan_in: true,
        doc: "eval.generate stages, one per policy, all on the same prompt set (generations.parquet)",
    },
    Slot {
        name: "embedder",
        required: true,
        fan_in: false,
        doc: "a model.pretrained stage holding all-mpnet-base-v2 (model/ with model_type mpnet)",
    },
];

const INFO: KindInfo = KindInfo {
    name: "eval.diversity",
    // 3: MPNet's layers run on BERT's fused kernels (issue 27): embeddings
    // move by at most 4.4e-7, so the bits of SemDiv change. The only kind
    // that runs MPNet, so the bump is this kind's, not NUMERICS_VERSION's.
    code_version: 3,
    summary: "semantic diversity (App. B.2): SemDiv of MPNet embeddings per policy, paired bootstrap of the difference to the baseline",
    slots: SLOTS,
    outputs: &[DIVERSITY_FILE, "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: Some(crate::model::NUMERICS_VERSION),
    publishes: false,
};

impl crate::kind::TypedKind for EvalDiversity {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        crate::on_backend!(ctx.backend, run_on(ctx, &w))
    }
}

fn run_on<B: BurnBackend>(ctx: &StageContext, w: &With) -> anyhow::Result<()> {
    let policies = read_policies(ctx, "generations")?;
    let caps = read_caps(ctx, "generations")?;
    let names: Vec<String> = policies.keys().cloned().collect();
    let baseline = resolve_baseline(&names, &w.baseline)
        .map_err(|e| anyhow::anyhow!("with.baseline: {e}"))?
        .to_string();
    let dir = ctx.input("embedder")?.join("model");
    anyhow::ensure!(
        dir.is_dir(),
        "input `embedder`: no model/ directory (expected a model.pretrained stage)"
    );
    let embedder = load_mpnet::<B>(&dir, &Default::default()).context(
        "input `embedder`: expected all-mpnet-base-v2 (a model.pretrained stage of an MPNet directory)",
    )?;
    let mut embedded = std::collections::BTreeMap::new();
    let start = std::time::Instant::now();
    let mut texts_total = 0usize;
    for (name, rows) in policies {
        let texts: Vec<&str> = rows.iter().map(|r| r.response.as_str()).collect();
        let emb = embedder
            .embed_many(&texts, w.batch_size, ctx)
            .with_context(|| format!("embedding `{name}`"))?;
        texts_total += texts.len();
        embedded.insert(name, (rows, emb));
    }
    let secs = start.elapsed().as_secs_f64();
    ctx.log(format!(
        "embedded {texts_total} responses in {secs:.1} s ({:.1} responses/s)",
        texts_total as f64 / secs.max(1e-9)
    ));
    let cfg = SemDivConfig {
        resamples: w.resamples,
        level: w.level,
        seed: ctx.seed_for("bootstrap"),
    };
    let mut table = diversity_table(&embedded, &baseline, cfg)?;
    for p in table.iter_mut() {
        p.max_new_tokens = caps.get(&p.policy).copied().flatten();
        p.at_cap = embedded
            .get(&p.policy)
            .and_then(|(rows, _)| at_cap(rows, p.max_new_tokens));
    }
    write_json(
        &ctx.out.join(DIVERSITY_FILE),
        &json!({
            "baseline": baseline,
            "embedder": {"model_type": "mpnet", "max_seq_length": embedder.max_seq_length, "pooling": "mean over real tokens, L2-normalised"},
            "bootstrap": {"method": "paired: aligned prompt indices resampled with replacement; pairs of equal resampled indices excluded; p = 2·min(P(d*≤0), P(d*≥0))", "resamples": w.resamples, "level": w.level},
            "policies": table,
        }),
    )?;
    write_json(&ctx.out.join("metrics.json"), &headline(&table))?;
    for p in &table {
        let vs = p
            .vs_baseline
            .map(|d| {
                format!(
                    ", Δ {:+.4} [{:.4}, {:.4}] p = {:.3}",
                    d.diff, d.ci_low, d.ci_high, d.pvalue
                )
            })
            // default: no baseline to compare with: the log line has no Δ part.
            .unwrap_or_default();
        ctx.log(format!(
            "{}: SemDiv {:.4} over {}{vs}",
            p.label, p.semdiv, p.n
        ));
    }
    Ok(())
}

fn headline(table: &[PolicyDiversity]) -> Value {
    let mut m = serde_json::Map::new();
    for p in table {
        m.insert(format!("{}_semdiv", p.label), json!(p.semdiv));
        if let Some(d) = p.vs_baseline {
            m.insert(format!("{}_diff", p.label), json!(d.diff));
            m.insert(format!("{}_p", p.label), json!(d.pvalue));
        }
    }
    m.insert("policies".into(), json!(table.len()));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::generations::{GENERATIONS_FILE, GenerationRow, write_generations};
    use crate::kind::Kind;
    use crate::stages::harness::TestStage;
    use repro_ml::testing::write_tiny_mpnet;

    fn gens(responses: &[String]) -> Vec<GenerationRow> {
        responses
            .iter()
            .enumerate()
            .map(|(i, r)| GenerationRow {
                prompt_id: format!("p{i}"),
                category: "lima".into(),
                prompt: "q".into(),
                response: r.clone(),
                tokens: 3,
            })
            .collect()
    }

    #[test]
    fn a_policy_that_repeats_itself_is_less_diverse() {
        let t = TestStage::new("div", json!({"resamples": 200}));
        write_tiny_mpnet(&t.upstream("embedder").join("model"));
        let words = ["a", "b", "c", "d", "e", "yes", "no"];
        let varied: Vec<String> = (0..12)
            .map(|i| {
                format!(
                    "{} {} {}",
                    words[i % 7],
                    words[(i * 3 + 1) % 7],
                    words[(i * 5 + 2) % 7]
                )
            })
            .collect();
        let same: Vec<String> = (0..12)
            .map(|i| format!("yes yes {}", words[i % 2]))
            .collect();
        let base = t.upstream_many("generations", "gen[policy=baseline]");
        write_generations(&base.join(GENERATIONS_FILE), &gens(&varied)).unwrap();
        // Every response has 3 tokens: at a cap of 3 all hit it.
        let settings = json!({"settings": {"max_new_tokens": 3}});
        std::fs::write(base.join("metrics.json"), settings.to_string()).unwrap();
        write_generations(
            &t.upstream_many("generations", "gen[policy=collapsed]")
                .join(GENERATIONS_FILE),
            &gens(&same),
        )
        .unwrap();
        let ctx = t.ctx();
        EvalDiversity.run(&ctx).unwrap();
        let doc: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join(DIVERSITY_FILE)).unwrap()).unwrap();
        let c = &doc["policies"][1];
        assert_eq!(c["label"], "collapsed");
        assert_eq!(doc["policies"][0]["at_cap"], 1.0);
        assert_eq!(doc["policies"][0]["max_new_tokens"], 3);
        assert!(c["at_cap"].is_null(), "no metrics.json, no cap: {c}");
        let d = c["vs_baseline"]["diff"].as_f64().unwrap();
        assert!(d < 0.0, "collapsed responses should be less diverse: {d}");
        assert!(c["vs_baseline"]["ci_high"].as_f64().unwrap() < 0.0, "{c}");
        let m: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join("metrics.json")).unwrap()).unwrap();
        assert!(m["collapsed_p"].as_f64().unwrap() < 0.05, "{m}");
    }

    #[test]
    fn bad_settings_and_a_non_mpnet_embedder_are_refused() {
        assert_eq!(
            EvalDiversity
                .check(&json!({"resamples": 0}))
                .unwrap_err()
                .path,
            "resamples"
        );
        assert!(EvalDiversity.check(&json!({"seed": 1})).is_err());
        let t = TestStage::new("div", json!({}));
        let m = t.upstream("embedder").join("model");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(m.join("config.json"), r#"{"model_type": "bert"}"#).unwrap();
        write_generations(
            &t.upstream_many("generations", "gen[policy=baseline]")
                .join(GENERATIONS_FILE),
            &gens(&["a".into(), "b".into()]),
        )
        .unwrap();
        let e = EvalDiversity.run(&t.ctx()).unwrap_err();
        assert!(format!("{e:#}").contains("expected `mpnet`"), "{e:#}");
    }
}
