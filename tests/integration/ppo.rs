//! `train.ppo` through the binary: a tiny pipeline (synthetic pairs → a
//! prompt set; the tiny random Llama fixture as policy and as the RM's
//! backbone, with a reward head on its features) trains two PPO steps with
//! curiosity; the outputs exist, a rerun reproduces them byte for byte, and
//! wiring mistakes are refused before anything runs.

use std::path::Path;

use crate::common::Env;

const PIPELINE: &str = "params: { seed: 42 }
stages:
  pairs:
    kind: data.preferences
    with: { format: synthetic, synthetic: { categories: 2, pairs_per_category: 24 } }
  prep:
    kind: data.prepare
    inputs: { pku: pairs }
    with: { dedupe: true, eval_fraction: 0.25 }
  prompts:
    kind: data.probes
    inputs: { pairs: prep }
    with: { set: prompts, per_category: 4, split: train }
  policy:
    kind: model.pretrained
    with: { source: { path: tiny } }
  tokens:
    kind: data.tokenize
    inputs: { data: prep, backbone: policy }
    with: { max_len: 48 }
  features:
    kind: model.features
    inputs: { backbone: policy, data: tokens }
  rm:
    kind: train.reward_model
    inputs: { data: tokens, backbone: policy, features: features }
    with: { trainable: head, epochs: 1, lr: 1.0e-3, batch_size: 8 }
  ppo:
    kind: train.ppo
    inputs: { policy: policy, reward: rm, prompts: prompts }
    with: { steps: 2, batch_size: 4, mini_batch_size: 2, max_new_tokens: 6, reward_max_len: 48, lr: 1.0e-3, curiosity: { hidden: 16 } }
";

fn env_with_tiny_llama() -> Env {
    let env = Env::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_llama/plain");
    std::fs::create_dir_all(env.path("tiny")).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), env.path("tiny").join(f)).unwrap();
    }
    env
}

#[test]
fn a_tiny_ppo_stage_runs_writes_its_outputs_and_reruns_identically() {
    let env = env_with_tiny_llama();
    env.pipeline(PIPELINE);
    env.repro(&["run", "p.yaml", "-j", "1"]).ok();
    let curves = env.output("p.lock", "ppo", "curves.csv");
    let lines: Vec<&str> = curves.lines().collect();
    assert_eq!(lines.len(), 3, "{curves}");
    assert!(
        lines[0].starts_with("step,score,intrinsic,kl,beta,"),
        "{curves}"
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&env.output("p.lock", "ppo", "metrics.json")).unwrap();
    assert_eq!(metrics["steps"], 2);
    assert_eq!(metrics["curiosity"], true);
    assert!(
        metrics["final"]["intrinsic"].as_f64().unwrap() > 0.0,
        "{metrics}"
    );
    let samples = env.output("p.lock", "ppo", "samples.jsonl");
    assert_eq!(samples.lines().count(), 4, "{samples}");
    let lock = env.read("p.lock");
    for out in ["policy", "adapter"] {
        env.output_digest("p.lock", "ppo", out);
    }
    assert!(lock.contains("kind: train.ppo"), "{lock}");
    let digest = env.output_digest("p.lock", "ppo", "curves.csv");
    env.repro(&["verify", "p.yaml", "--rerun", "ppo"])
        .ok()
        .out_has(&format!("same      ppo curves.csv {digest}"))
        .out_has("verify: ok");
}

#[test]
fn wiring_errors_exit_2_naming_the_key_before_anything_runs() {
    let env = env_with_tiny_llama();
    let lima = PIPELINE.replace(
        "with: { set: prompts, per_category: 4, split: train }",
        "with: { set: crows-pairs, source: { path: x.csv } }",
    );
    env.write("x.csv", "a\n");
    env.write("p.yaml", &lima);
    let mut c = env.command(&["run", "p.yaml"]);
    c.env("REPRO_DATA", env.root());
    env.spawn_command(c)
        .wait()
        .code(2)
        .err_has("stages.ppo.inputs.prompts")
        .err_has("no categories");
    let eval = PIPELINE.replace("split: train", "split: eval");
    env.write("p.yaml", &eval);
    env.repro(&["run", "p.yaml"])
        .code(2)
        .err_has("stages.ppo.inputs.prompts");
    let bad_batch = PIPELINE.replace(
        "batch_size: 4, mini_batch_size: 2",
        "batch_size: 6, mini_batch_size: 4",
    );
    env.write("p.yaml", &bad_batch);
    env.repro(&["run", "p.yaml"])
        .code(2)
        .err_has("stages.ppo.with.batch_size");
    assert!(!env.store().join("records").exists() || env.records().is_empty());
}

#[test]
fn a_reward_stage_without_model_fails_at_stage_start() {
    let env = env_with_tiny_llama();
    // A cmd stage standing in for the RM, without model/: known only at run time.
    let p = PIPELINE.replace(
        "  rm:\n    kind: train.reward_model\n    inputs: { data: tokens, backbone: policy, features: features }\n    with: { trainable: head, epochs: 1, lr: 1.0e-3, batch_size: 8 }\n",
        "  rm:\n    kind: cmd\n    run: mkdir -p $OUT/other && echo x > $OUT/other/f\n    outputs: [other]\n",
    );
    env.write("p.yaml", &p);
    env.repro(&["run", "p.yaml"])
        .code(1)
        .out_has("FAILED  ppo: input `reward`: no model/");
}

#[test]
fn a_non_llama_policy_fails_at_stage_start() {
    let env = env_with_tiny_llama();
    let p = PIPELINE.replace(
        "inputs: { policy: policy, reward: rm, prompts: prompts }",
        "inputs: { policy: encoder, reward: rm, prompts: prompts }",
    ) + "  encoder:
    kind: cmd
    outputs: [model, model.json]
    run: |
      mkdir -p $OUT/model
      echo '{\"model_type\": \"bert\"}' > $OUT/model/config.json
      echo '{\"architecture\": \"bert\"}' > $OUT/model.json
";
    env.write("p.yaml", &p);
    env.repro(&["run", "p.yaml", "ppo"])
        .code(1)
        .out_has("FAILED  ppo: input `policy`: not a Llama-family model (architecture bert");
}

#[test]
fn score_normalisation_changes_training_not_the_logged_scores_and_the_study_reads_both() {
    let env = env_with_tiny_llama();
    // Two runs sharing every seed: raw scores, and TRL's running score
    // normalisation with a clip; then the study over both.
    let base = "with: { steps: 2, batch_size: 4, mini_batch_size: 2, max_new_tokens: 6, reward_max_len: 48, lr: 1.0e-3, curiosity: { hidden: 16 } }";
    let plain = base.replace("with: { ", "with: { seed_name: s, ");
    let normed = base.replace(
        "with: { ",
        "with: { seed_name: s, score_norm: norm, score_clip: 0.5, ",
    );
    let p = PIPELINE.replace(base, &plain)
        + &format!(
            "  ppo_norm:
    kind: train.ppo
    inputs: {{ policy: policy, reward: rm, prompts: prompts }}
    {normed}
  study:
    kind: report.ppo_study
    inputs: {{ runs: [ppo, ppo_norm] }}
"
        );
    env.write("p.yaml", &p);
    env.repro(&["run", "p.yaml", "-j", "1"]).ok();
    let first_score = |stage: &str| -> String {
        let c = env.output("p.lock", stage, "curves.csv");
        c.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(1)
            .unwrap()
            .to_string()
    };
    // Step 1 samples before any update with the same seeds: the same raw scores.
    assert_eq!(first_score("ppo"), first_score("ppo_norm"));
    assert_ne!(
        env.output_digest("p.lock", "ppo", "adapter"),
        env.output_digest("p.lock", "ppo_norm", "adapter"),
        "the scaled scores must change the update"
    );
    let md = env.output("p.lock", "study", "study.md");
    assert!(
        md.contains("| ppo |") && md.contains("| ppo_norm |"),
        "{md}"
    );
    assert!(
        md.contains("— (too few steps)"),
        "2 steps give no gain: {md}"
    );
    let bad = p.replace("score_clip: 0.5", "score_clip: -1");
    env.write("p.yaml", &bad);
    env.repro(&["run", "p.yaml"])
        .code(2)
        .err_has("stages.ppo_norm.with.score_clip");
}
