//! `verify --rerun`: re-execute recorded stages in a scratch store with the
//! recorded thread count and compare their outputs byte for byte with the
//! record (ARCHITECTURE.md, "Determinism"); where bytes differ, how far the
//! metrics moved. Writes one line per output to `out`; the caller holds the
//! store's exclusive lock.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::RealRunner;
use super::stage_run::{Failure, Keep, RunSettings, run_stage};
use crate::backend::Backend;
use crate::dag::Evaluation;
use crate::kind::Roots;
use crate::spec::{Pipeline, Stage};
use crate::store::{Record, Store, StoreError};
use crate::util::machine::CpuId;

/// How a rerun ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reran {
    /// Every selected stage ran; this many problems (a stale stage, a failed
    /// run, outputs that differ beyond `rtol`).
    Done(usize),
    /// Ctrl-C: not a reproducibility failure; the scratch store is cleaned.
    Interrupted,
}

/// Stage name → record of every fresh stage: the upstream records a rerun reads.
pub fn fresh_records(pipeline: &Pipeline, evals: &[Evaluation]) -> HashMap<String, Record> {
    pipeline
        .stages
        .iter()
        .zip(evals)
        .filter_map(|(s, e)| e.record.clone().map(|r| (s.name.clone(), r)))
        .collect()
}

/// How a recorded stage is executed again, by `verify --rerun` and by
/// `--repair` alike.
#[derive(Debug, Clone)]
pub struct Reexec {
    /// Backend for Burn stages.
    pub backend: Backend,
    /// Data and model roots.
    pub roots: Roots,
    /// Set on Ctrl-C.
    pub cancel: Arc<AtomicBool>,
}

impl Reexec {
    /// Threads a rerun of `rec` gets: the recorded run's, the bitwise promise
    /// (ARCHITECTURE.md, "Determinism").
    pub fn threads(rec: &Record) -> usize {
        rec.provenance.threads.max(1)
    }

    /// Runs `stage` again from its record `rec` (its key and key material),
    /// reading `upstream` records from `store`, keeping the outputs as `keep` says.
    ///
    /// # Errors
    /// The run failed; the failure carries its log.
    pub fn run(
        &self,
        stage: &Stage,
        rec: &Record,
        pipeline: &Pipeline,
        upstream: &HashMap<String, Record>,
        store: &Store,
        keep: Keep<'_>,
    ) -> Result<Record, Failure> {
        let settings = RunSettings::new(
            Self::threads(rec),
            self.backend,
            self.roots.clone(),
            self.cancel.clone(),
        );
        run_stage(
            stage,
            &rec.key,
            &rec.material,
            pipeline,
            upstream,
            store,
            &RealRunner,
            &settings,
            keep,
        )
    }
}

/// What a rerun runs and how.
#[derive(Debug, Clone)]
pub struct RerunOptions {
    /// One flag per stage of the pipeline: rerun it.
    pub selected: Vec<bool>,
    /// Accepted relative difference of metrics when the bytes differ.
    pub rtol: Option<f64>,
    /// How each stage runs again.
    pub how: Reexec,
}

/// Reruns the stages `opts` selects of `pipeline` (planned as `evals`
/// against `store`), in a scratch store under `store`'s tmp that is removed
/// afterwards.
///
/// # Errors
/// The store or the scratch store cannot be written.
pub fn rerun(
    pipeline: &Pipeline,
    evals: &[Evaluation],
    store: &Store,
    opts: &RerunOptions,
    out: &mut dyn Write,
) -> Result<Reran, StoreError> {
    let records = fresh_records(pipeline, evals);
    // The reruns' outputs go to a scratch store that is deleted afterwards:
    // they must not stay in the real store as orphans.
    let scratch_dir = store.new_tmp("verify-rerun")?;
    let scratch = Store::open(&scratch_dir)?;
    let mut problems = 0;
    for (i, s) in pipeline.stages.iter().enumerate() {
        if !opts.selected[i] {
            continue;
        }
        let Some(rec) = &evals[i].record else {
            problems += 1;
            let _ = writeln!(
                out,
                "RERUN     {}: stale, nothing to compare against (run it first)",
                s.name
            );
            continue;
        };
        let _ = writeln!(
            out,
            "rerunning {} in scratch ({} threads)",
            s.name,
            Reexec::threads(rec)
        );
        let result = opts
            .how
            .run(s, rec, pipeline, &records, store, Keep::Scratch(&scratch));
        // Issue 25, item 8: Ctrl-C is not a reproducibility failure.
        if opts.how.cancel.load(Ordering::SeqCst) {
            let _ = writeln!(out, "RERUN     {}: interrupted", s.name);
            store.clean_tmp()?;
            return Ok(Reran::Interrupted);
        }
        match result {
            Err(f) => {
                problems += 1;
                let _ = writeln!(out, "RERUN     {}: failed: {}", s.name, f.error.message);
            }
            Ok(fresh) => {
                let mut differs = 0;
                for (path, e) in &rec.outputs {
                    match fresh.outputs.get(path) {
                        Some(f) if f.digest == e.digest => {
                            let _ = writeln!(out, "same      {} {path} {}", s.name, e.digest);
                        }
                        Some(f) => {
                            differs += 1;
                            let _ = writeln!(
                                out,
                                "DIFFERS   {} {path}: recorded {} now {}",
                                s.name, e.digest, f.digest
                            );
                        }
                        None => {
                            differs += 1;
                            let _ = writeln!(
                                out,
                                "DIFFERS   {} {path}: not produced by the rerun",
                                s.name
                            );
                        }
                    }
                }
                if differs > 0 {
                    // The rerun's record names the CPU it ran on.
                    if let Some(now) = &fresh.provenance.cpu_id
                        && let Some(note) = cpu_note(rec.provenance.cpu_id.as_ref(), now)
                    {
                        let _ = writeln!(out, "          {}: {note}", s.name);
                    }
                    problems += judge_metrics(&s.name, rec, &fresh, differs, opts.rtol, out);
                }
            }
        }
    }
    store.clean_tmp()?;
    Ok(Reran::Done(problems))
}

/// When a rerun's bytes differ, what to say about the CPUs: the record's
/// and the rerun's (`here`), where they are not the same model or kernels
/// (a Burn stage's bytes follow both: README, "Which CPUs give which
/// bytes"); `None` on the same CPU.
fn cpu_note(recorded: Option<&CpuId>, here: &CpuId) -> Option<String> {
    match recorded {
        Some(r) if r == here => None,
        Some(r) => Some(format!(
            "recorded on {}, rerun on {}: Burn stages' bytes follow the CPU model \
             (its GEMM kernels and blocks), so compare the metrics (--rtol)",
            r.describe(),
            here.describe()
        )),
        None => Some(format!(
            "the record names no CPU (written before records did), rerun on {}",
            here.describe()
        )),
    }
}

/// When a rerun's bytes differ: how far apart are the metrics? Returns the
/// problems to count (none when they agree within `rtol`).
fn judge_metrics(
    stage: &str,
    recorded: &Record,
    fresh: &Record,
    differs: usize,
    rtol: Option<f64>,
    out: &mut dyn Write,
) -> usize {
    let empty = |m: &serde_json::Value| m.as_object().is_none_or(|o| o.is_empty());
    if empty(&recorded.metrics) {
        let _ = writeln!(out, "          {stage}: no metrics to compare");
        return differs;
    }
    match metrics_gap(&recorded.metrics, &fresh.metrics) {
        Some(gap) if rtol.is_some_and(|r| gap <= r) => {
            let _ = writeln!(
                out,
                "WITHIN    {stage}: differs in bytes, metrics agree to {gap:.1e} (--rtol {:.1e})",
                // default: never taken; this arm requires `--rtol`.
                rtol.unwrap_or_default()
            );
            0
        }
        Some(gap) => {
            let _ = writeln!(
                out,
                "          {stage}: differs in bytes, metrics agree to {gap:.1e} (largest relative difference)"
            );
            differs
        }
        None => {
            let _ = writeln!(
                out,
                "          {stage}: differs in bytes, and its metrics differ in shape or text"
            );
            differs
        }
    }
}

/// The largest relative difference between the numbers of two metrics
/// documents, leaf by leaf; `None` when their shapes or non-numbers differ.
pub fn metrics_gap(a: &serde_json::Value, b: &serde_json::Value) -> Option<f64> {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64()?, y.as_f64()?);
            let scale = x.abs().max(y.abs());
            Some(if scale == 0.0 {
                0.0
            } else {
                (x - y).abs() / scale
            })
        }
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                return None;
            }
            x.iter()
                .try_fold(0.0f64, |m, (k, v)| Some(m.max(metrics_gap(v, y.get(k)?)?)))
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return None;
            }
            x.iter()
                .zip(y)
                .try_fold(0.0f64, |m, (v, w)| Some(m.max(metrics_gap(v, w)?)))
        }
        _ => (a == b).then_some(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::{cpu_note, metrics_gap};
    use crate::util::machine::CpuId;
    use serde_json::json;

    fn epyc(model: u32, isa: &str) -> CpuId {
        CpuId {
            model_name: "AMD EPYC".into(),
            family: Some(25),
            model: Some(model),
            stepping: Some(1),
            isa: isa.into(),
        }
    }

    #[test]
    fn a_rerun_on_another_cpu_names_both_and_on_the_same_one_nothing() {
        let (avx2, avx512) = (epyc(1, "avx2+fma"), epyc(17, "avx512f"));
        assert_eq!(cpu_note(Some(&avx2), &avx2.clone()), None);
        let note = cpu_note(Some(&avx2), &avx512).unwrap();
        assert!(
            note.contains("recorded on AMD EPYC (family 25, model 1, stepping 1; avx2+fma)")
                && note.contains("rerun on AMD EPYC (family 25, model 17, stepping 1; avx512f)"),
            "{note}"
        );
        // Same model, other kernels (a build or CPU without AVX-512 there).
        assert!(cpu_note(Some(&epyc(17, "avx2+fma")), &avx512).is_some());
        let note = cpu_note(None, &avx512).unwrap();
        assert!(
            note.contains("names no CPU") && note.contains("model 17"),
            "{note}"
        );
    }

    #[test]
    fn the_gap_is_the_largest_relative_difference_and_none_for_other_shapes() {
        let a = json!({"acc": 0.5, "n": 10, "tag": "x", "v": [1.0, 2.0]});
        let b = json!({"acc": 0.5000005, "n": 10, "tag": "x", "v": [1.0, 2.0]});
        let g = metrics_gap(&a, &b).unwrap();
        assert!((g - 1e-6).abs() < 1e-9, "{g}");
        assert_eq!(metrics_gap(&a, &a), Some(0.0));
        assert_eq!(metrics_gap(&a, &json!({"acc": 0.5})), None);
        assert_eq!(metrics_gap(&json!({"t": "x"}), &json!({"t": "y"})), None);
    }
}
