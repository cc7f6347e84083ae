//! The post-PPO evaluations (issue 13: `eval.generate`, `eval.parity`,
//! `eval.diversity`) through the real binary: the test pipeline
//! `tests/pipelines/evals-cpu.yaml` end to end on real data and models
//! (skipped without `$REPRO_DATA` / `$REPRO_MODELS` unless required), and
//! the wiring errors that must stop a run before anything runs (exit 2) or
//! fail a stage at its start with a clear message (exit 1).

use std::path::Path;

use serde_json::Value;

use super::common::Env;
use super::data_real::root_from;

#[test]
fn evals_pipeline_runs_end_to_end_and_identical_policies_differ_by_nothing() {
    let Some(data) = root_from("REPRO_DATA", "REPRO_REQUIRE_DATA") else {
        return;
    };
    let Some(models) = root_from("REPRO_MODELS", "REPRO_REQUIRE_MODELS") else {
        return;
    };
    let env = Env::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines/evals-cpu.yaml");
    env.write("evals-cpu.yaml", &std::fs::read_to_string(src).unwrap());
    let mut c = env.command(&["run", "evals-cpu.yaml"]);
    c.env("REPRO_DATA", &data)
        .env("REPRO_MODELS", &models)
        .env("HF_HUB_OFFLINE", "1");
    let t0 = std::time::Instant::now();
    // The safety RM's features and two SmolLM2 generation runs: minutes, not the 60 s default.
    let out = env
        .spawn_command(c)
        .wait_at_most(std::time::Duration::from_secs(3600));
    eprintln!("evals-cpu.yaml: {:.0} s", t0.elapsed().as_secs_f64());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    // The safety RM is harmless-only (one category, plain BT).
    let rm: Value =
        serde_json::from_str(&env.output("evals-cpu.lock", "safety_rm", "metrics.json")).unwrap();
    assert_eq!(rm["categories"], serde_json::json!(["harmless"]), "{rm}");
    let parity: Value =
        serde_json::from_str(&env.output("evals-cpu.lock", "parity", "parity.json")).unwrap();
    eprintln!("parity.json policies: {}", parity["policies"]);
    let pols = parity["policies"].as_array().unwrap();
    assert_eq!(pols.len(), 2);
    let (base, twin) = (&pols[0], &pols[1]);
    assert_eq!(base["label"], "baseline");
    assert_eq!(base["n_first"], 8);
    assert_eq!(base["n_second"], 8);
    // The signed gap on standardised rewards, inside its own interval.
    let delta = &base["delta"];
    let d = delta["estimate"].as_f64().unwrap();
    assert!(d.is_finite());
    assert!(delta["ci_low"].as_f64().unwrap() <= d && d <= delta["ci_high"].as_f64().unwrap());
    let sd = parity["standardisation"]["sd"].as_f64().unwrap();
    assert!((d - base["raw_delta"].as_f64().unwrap() / sd).abs() < 1e-9);
    // Same weights, same seed: the same responses, the same rewards, so
    // every paired change is exactly 0 with p 1 and no power to speak of.
    assert_eq!(twin["delta"]["estimate"].as_f64().unwrap(), d);
    for key in ["gap_change", "signed_change"] {
        assert_eq!(twin[key]["estimate"].as_f64().unwrap(), 0.0, "{key}");
        assert_eq!(twin[key]["se"].as_f64().unwrap(), 0.0, "{key}");
        assert_eq!(twin[key]["p_value"].as_f64().unwrap(), 1.0, "{key}");
    }
    assert!(twin["power"].is_null());
    // RelDrop is 0 or says why it is withheld.
    assert!(
        twin["rel_drop"]["estimate"].as_f64() == Some(0.0)
            || twin["rel_drop_undefined"].is_string(),
        "{twin}"
    );
    // The cap comes from the generations' metrics.json.
    assert_eq!(twin["max_new_tokens"], 32);
    assert!(twin["at_cap"].as_f64().is_some());

    let div: Value =
        serde_json::from_str(&env.output("evals-cpu.lock", "diversity", "diversity.json")).unwrap();
    eprintln!("diversity.json policies: {}", div["policies"]);
    let twin = &div["policies"][1];
    let semdiv = div["policies"][0]["semdiv"].as_f64().unwrap();
    assert!(semdiv > 0.0 && semdiv < 2.0, "{semdiv}");
    assert_eq!(twin["vs_baseline"]["diff"].as_f64().unwrap(), 0.0);
    assert_eq!(twin["vs_baseline"]["pvalue"].as_f64().unwrap(), 1.0);
}

#[test]
fn bad_settings_of_the_eval_kinds_stop_the_run_before_anything_runs() {
    let env = Env::new();
    for (with, key) in [
        (
            "kind: eval.parity, inputs: { generations: g, rm: g }, with: { level: 2.0 }",
            "level",
        ),
        (
            "kind: eval.generate, inputs: { policy: g, prompts: g }, with: { top_p: 0.0 }",
            "top_p",
        ),
        (
            "kind: eval.diversity, inputs: { generations: g, embedder: g }, with: { resample: 10 }",
            "resample",
        ),
        ("kind: eval.generate, inputs: { policy: g }", "prompts"),
    ] {
        let p = env.pipeline(&format!(
            "stages:\n  g: {{ kind: cmd, run: 'mkdir -p $OUT/o', outputs: [o] }}\n  e: {{ {with} }}\n"
        ));
        let out = env.repro(&["run", p]);
        assert_eq!(out.code, 2, "{with}: {}", out.stderr);
        assert!(out.stderr.contains(key), "{with}: {}", out.stderr);
        assert!(env.records().is_empty(), "nothing ran");
    }
}

#[test]
fn a_non_llama_policy_and_an_rm_without_model_fail_at_stage_start() {
    let env = Env::new();
    let p = env.pipeline(
        "stages:\n  \
         pol: { kind: cmd, run: 'mkdir -p $OUT/model && echo {\"model_type\": \"bert\"} > $OUT/model/config.json', outputs: [model] }\n  \
         pr: { kind: cmd, run: 'touch $OUT/probes.parquet', outputs: [probes.parquet] }\n  \
         gen: { kind: eval.generate, inputs: { policy: pol, prompts: pr } }\n",
    );
    let out = env.repro(&["run", p]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let all = format!("{}{}", out.stderr, out.stdout);
    assert!(all.contains("not a loadable Llama-family model"), "{all}");

    let p = env.pipeline(
        "stages:\n  \
         rm: { kind: cmd, run: 'touch $OUT/scores.parquet', outputs: [scores.parquet] }\n  \
         g: { kind: cmd, run: 'touch $OUT/generations.parquet', outputs: [generations.parquet] }\n  \
         parity: { kind: eval.parity, inputs: { generations: g, rm: rm } }\n",
    );
    let out = env.repro(&["run", p]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let all = format!("{}{}", out.stderr, out.stdout);
    assert!(all.contains("input `rm`: no model/ directory"), "{all}");
}
