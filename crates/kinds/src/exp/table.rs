//! The comparison table of `exp show`: the baseline (the pipeline's own
//! lockfile) and one row per experiment, with a column per overridden key
//! and per headline metric.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::ExpError;
use super::metrics::{self, Columns, Summary};
use super::name::BASELINE;
use super::params;
use super::store::{Experiment, Experiments};
use crate::store::Lockfile;

/// One row: a run and its cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `baseline` or the experiment's name.
    pub name: String,
    /// The `--set` overrides (none for the baseline).
    pub overrides: Vec<String>,
    /// Overridden key → the value this run used (its override, else what
    /// the file writes; absent when neither says).
    pub params: BTreeMap<String, String>,
    /// Metric column → value or mean ± sd across seeds.
    pub metrics: BTreeMap<String, Summary>,
    /// Metric column → values by seed (for the paired diff).
    #[serde(skip)]
    pub seeds: Columns,
}

/// The whole table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// The pipeline's stem.
    pub pipeline: String,
    /// Param columns (overridden keys), sorted.
    pub params: Vec<String>,
    /// Metric columns, sorted.
    pub metrics: Vec<String>,
    /// The baseline first, then the experiments, oldest first.
    pub rows: Vec<Row>,
}

/// What to build the table from.
pub struct Query<'a> {
    /// The pipeline file.
    pub pipeline_file: &'a Path,
    /// The store root.
    pub store_root: &'a Path,
    /// Stages (base names) whose metrics to show; every stage with metrics when empty.
    pub stages: &'a [String],
}

fn row(name: &str, exp: Option<&Experiment>, lock: &Lockfile, stages: &[String]) -> Row {
    let seeds = metrics::of_lock(lock, stages);
    Row {
        name: name.to_string(),
        // default: the baseline row (no experiment) overrides nothing.
        overrides: exp.map(|e| e.overrides.clone()).unwrap_or_default(),
        params: exp
            .map(|e| {
                e.pairs()
                    .into_iter()
                    .map(|(k, v)| (k, params::normalise(&v)))
                    .collect()
            })
            // default: the baseline row (no experiment) sets no params.
            .unwrap_or_default(),
        metrics: seeds
            .iter()
            .filter_map(|(k, v)| Summary::of(v).map(|s| (k.clone(), s)))
            .collect(),
        seeds,
    }
}

impl Table {
    /// Reads the pipeline's lockfile and every experiment (no store lock:
    /// every file is replaced atomically).
    ///
    /// # Errors
    /// A lockfile or experiment file that cannot be read or parsed.
    pub fn build(q: &Query) -> Result<Table, ExpError> {
        let exps = Experiments::of(q.store_root, q.pipeline_file);
        let base_lock = Lockfile::load(&Lockfile::path_for(q.pipeline_file))?;
        let mut rows = vec![row(BASELINE, None, &base_lock, q.stages)];
        let mut snapshots = vec![serde_json::Value::Null];
        for e in exps.list()? {
            let lock = exps.lock(&e.name)?;
            rows.push(row(&e.name, Some(&e), &lock, q.stages));
            snapshots.push(e.written);
        }
        let keys: BTreeSet<String> = rows.iter().flat_map(|r| r.params.keys().cloned()).collect();
        let keys: Vec<String> = keys.into_iter().collect();
        // A key a run did not override has the value the file had when it
        // ran: the experiment's snapshot, the file as it is now for the baseline.
        let written = params::written(q.pipeline_file, &keys);
        for (r, snap) in rows.iter_mut().zip(&snapshots) {
            for k in &keys {
                if r.params.contains_key(k) {
                    continue;
                }
                let v = if snap.is_null() {
                    written.get(k).cloned()
                } else {
                    params::at(snap, k)
                };
                if let Some(v) = v {
                    r.params.insert(k.clone(), v);
                }
            }
        }
        let metrics: BTreeSet<String> = rows
            .iter()
            .flat_map(|r| r.metrics.keys().cloned())
            .collect();
        Ok(Table {
            pipeline: exps.stem().to_string(),
            params: keys,
            metrics: metrics.into_iter().collect(),
            rows,
        })
    }

    /// The row named `name` (`baseline` for the pipeline's lock).
    ///
    /// # Errors
    /// No such row: the known names.
    pub fn row(&self, name: &str) -> Result<&Row, ExpError> {
        self.rows
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| ExpError::Unknown {
                name: name.to_string(),
                pipeline: self.pipeline.clone(),
                known: self.rows.iter().skip(1).map(|r| r.name.clone()).collect(),
            })
    }

    /// The metric column `name` names: itself, or the one column ending in
    /// `:name` (`acc` for `score:acc`).
    ///
    /// # Errors
    /// None or several match.
    pub fn metric_column(&self, name: &str) -> Result<String, ExpError> {
        find_column(&self.metrics, name, ':', "metric")
    }

    /// The param column `name` names: itself, or the one key ending in
    /// `.name` (`epochs` for `stages.rm.with.epochs`).
    ///
    /// # Errors
    /// None or several match.
    pub fn param_column(&self, name: &str) -> Result<String, ExpError> {
        find_column(&self.params, name, '.', "override")
    }

    /// Keeps only the param and metric columns whose cells are not all the
    /// same (`--only-changed`).
    pub fn only_changed(&mut self) {
        let rows = &self.rows;
        self.params.retain(|k| {
            let vals: BTreeSet<Option<&String>> = rows.iter().map(|r| r.params.get(k)).collect();
            vals.len() > 1
        });
        self.metrics.retain(|k| {
            let vals: BTreeSet<String> = rows
                .iter()
                // default: a row without that metric shows an empty cell.
                .map(|r| r.metrics.get(k).map(Summary::text).unwrap_or_default())
                .collect();
            vals.len() > 1
        });
    }

    /// Sorts the experiments (the baseline stays first) by a metric column's
    /// mean, ascending or descending; rows without it go last.
    pub fn sort_by(&mut self, column: &str, descending: bool) {
        let Some((base, rest)) = self.rows.split_first_mut() else {
            return;
        };
        let _ = base;
        rest.sort_by(|a, b| {
            let (x, y) = (
                a.metrics.get(column).map(|s| s.mean),
                b.metrics.get(column).map(|s| s.mean),
            );
            match (x, y) {
                (Some(x), Some(y)) => {
                    let o = x.total_cmp(&y);
                    if descending { o.reverse() } else { o }
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        });
    }
}

/// The column of `columns` that `name` names: itself, or the one ending in
/// `sep` + `name`; the error lists the candidates (all columns when none
/// matched, the matches when several did).
fn find_column(
    columns: &[String],
    name: &str,
    sep: char,
    what: &'static str,
) -> Result<String, ExpError> {
    if columns.iter().any(|c| c == name) {
        return Ok(name.to_string());
    }
    let suffix = format!("{sep}{name}");
    let hits: Vec<&String> = columns.iter().filter(|c| c.ends_with(&suffix)).collect();
    match hits[..] {
        [one] => Ok(one.clone()),
        _ => Err(ExpError::NoColumn {
            what,
            name: name.to_string(),
            have: if hits.is_empty() {
                columns.to_vec()
            } else {
                hits.into_iter().cloned().collect()
            },
        }),
    }
}
