//! What differs between two lockfiles, stage by stage: params, inputs, deps,
//! metrics and output digests (`repro diff` prints it).

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::key::{diff_paths, value_at};
use crate::store::{LockEntry, Lockfile};

/// How one stage differs between lockfile A and lockfile B.
#[derive(Debug, Clone, PartialEq)]
pub enum StageDiff {
    /// The stage is only in A.
    OnlyInFirst(String),
    /// The stage is only in B.
    OnlyInSecond(String),
    /// In both, with these changes (never empty).
    Changed {
        /// Expanded stage name.
        stage: String,
        /// Each difference, in order: params/inputs/deps, then metrics, then outputs.
        changes: Vec<Change>,
    },
}

/// One difference inside a stage present in both lockfiles.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A value at a dotted path (`params.with.lr`, `metrics.acc`): its JSON in A
    /// and in B, `-` where absent.
    Value {
        /// The dotted path, rooted at `params`, `inputs`, `deps` or `metrics`.
        path: String,
        /// A's value.
        from: String,
        /// B's value.
        to: String,
    },
    /// An output whose digest differs: the first 12 hex digits of each.
    Output {
        /// The declared output path.
        path: String,
        /// A's digest prefix.
        from: String,
        /// B's digest prefix.
        to: String,
    },
    /// An output A has and B lacks.
    OutputOnlyInFirst(String),
}

/// Every stage that differs between `a` and `b`, sorted by name; empty when
/// the two agree on every key, output and metric.
pub fn diff(a: &Lockfile, b: &Lockfile) -> Vec<StageDiff> {
    let names: BTreeSet<&String> = a.stages.keys().chain(b.stages.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        match (a.stages.get(name), b.stages.get(name)) {
            (Some(_), None) => out.push(StageDiff::OnlyInFirst(name.clone())),
            (None, Some(_)) => out.push(StageDiff::OnlyInSecond(name.clone())),
            (Some(ea), Some(eb)) => {
                if ea.key == eb.key && ea.outputs == eb.outputs && ea.metrics == eb.metrics {
                    continue;
                }
                out.push(StageDiff::Changed {
                    stage: name.clone(),
                    changes: changes(ea, eb),
                });
            }
            (None, None) => {}
        }
    }
    out
}

/// The changes between two entries of one stage.
fn changes(ea: &LockEntry, eb: &LockEntry) -> Vec<Change> {
    let (wa, wb) = (written(ea), written(eb));
    let mut paths = Vec::new();
    for part in ["params", "inputs", "deps"] {
        diff_paths(&wa[part], &wb[part], part, &mut paths);
    }
    let mut out: Vec<Change> = paths
        .into_iter()
        .map(|p| Change::Value {
            from: lookup(&wa, &p),
            to: lookup(&wb, &p),
            path: p,
        })
        .collect();
    let mut metrics = Vec::new();
    diff_paths(&ea.metrics, &eb.metrics, "", &mut metrics);
    for m in metrics {
        out.push(Change::Value {
            from: lookup(&ea.metrics, &m),
            to: lookup(&eb.metrics, &m),
            path: format!("metrics.{m}"),
        });
    }
    for (path, o) in &ea.outputs {
        match eb.outputs.get(path) {
            Some(p) if p.digest == o.digest => {}
            Some(p) => out.push(Change::Output {
                path: path.clone(),
                from: short(&o.digest),
                to: short(&p.digest),
            }),
            None => out.push(Change::OutputOnlyInFirst(path.clone())),
        }
    }
    out
}

/// An entry's params, inputs and deps as one JSON object.
fn written(e: &LockEntry) -> Json {
    serde_json::json!({"params": e.params, "inputs": e.inputs, "deps": e.deps})
}

/// The JSON text at dotted `path` in `v`, `-` where absent.
fn lookup(v: &Json, path: &str) -> String {
    value_at(v, path).map_or_else(|| "-".into(), Json::to_string)
}

fn short(digest: &str) -> String {
    digest[..12.min(digest.len())].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, lr: f64, digest: &str, acc: f64) -> LockEntry {
        serde_json::from_value(serde_json::json!({
            "kind": "cmd", "code_version": 1, "key": key,
            "params": {"with": {"lr": lr}},
            "outputs": {"out": {"digest": digest, "size": 1}},
            "metrics": {"acc": acc},
        }))
        .unwrap()
    }

    fn lock(entries: &[(&str, LockEntry)]) -> Lockfile {
        let mut l = Lockfile::default();
        for (n, e) in entries {
            l.stages.insert(n.to_string(), e.clone());
        }
        l
    }

    #[test]
    fn names_every_difference_and_nothing_else() {
        let same = entry("k0", 0.1, &"0".repeat(64), 0.5);
        let a = lock(&[
            ("a_only", same.clone()),
            ("same", same.clone()),
            ("changed", entry("k1", 0.1, &"a".repeat(64), 0.5)),
        ]);
        let b = lock(&[
            ("b_only", same.clone()),
            ("same", same.clone()),
            ("changed", entry("k2", 0.2, &"b".repeat(64), 0.75)),
        ]);
        let d = diff(&a, &b);
        assert_eq!(
            d,
            [
                StageDiff::OnlyInFirst("a_only".into()),
                StageDiff::OnlyInSecond("b_only".into()),
                StageDiff::Changed {
                    stage: "changed".into(),
                    changes: vec![
                        Change::Value {
                            path: "params.with.lr".into(),
                            from: "0.1".into(),
                            to: "0.2".into()
                        },
                        Change::Value {
                            path: "metrics.acc".into(),
                            from: "0.5".into(),
                            to: "0.75".into()
                        },
                        Change::Output {
                            path: "out".into(),
                            from: "a".repeat(12),
                            to: "b".repeat(12)
                        },
                    ],
                },
            ]
        );
        assert!(diff(&a, &a).is_empty());
    }
}
