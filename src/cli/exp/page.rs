//! `exp show --html DIR`: the table and a figure as a page
//! (`report::experiments`).

use std::path::{Path, PathBuf};

use super::render::{self, Cells};
use crate::cli::error::CliError;
use crate::exp::table::Table;
use crate::report::experiments::{Against, Page, Point, write as write_page};
use crate::report::table::{Cell, Table as ReportTable};

/// The figure `--plot METRIC --against KEY` asks for, checked against the
/// table: the metric and the override must exist, and every plotted run's
/// value of the override must be a number. A run that also changes another
/// key from the baseline's value is left out (named in the caption): the
/// figure shows the metric against one key, the others held as written.
pub fn figure_of(
    t: &Table,
    plot: Option<&str>,
    against: Option<&str>,
) -> Result<Option<Against>, CliError> {
    let (Some(plot), Some(against)) = (plot, against) else {
        return Ok(None);
    };
    let metric = t.metric_column(plot)?;
    let key = t.param_column(against)?;
    let mut points = Vec::new();
    let mut left_out = Vec::new();
    let base = t.rows.first();
    for r in &t.rows {
        let (Some(s), Some(x)) = (r.metrics.get(&metric), r.params.get(&key)) else {
            continue;
        };
        let others_held = t
            .params
            .iter()
            .filter(|k| **k != key)
            .all(|k| base.is_some_and(|b| b.params.get(k) == r.params.get(k)));
        if !others_held {
            left_out.push(r.name.clone());
            continue;
        }
        let x: f64 = x.parse().map_err(|_| {
            CliError::Usage(format!(
                "--against {key}: run {} has `{x}`, not a number to plot",
                r.name
            ))
        })?;
        points.push(Point {
            label: r.name.clone(),
            x,
            mean: s.mean,
            sd: s.sd,
        });
    }
    Ok(Some(Against {
        metric,
        against: key,
        points,
        left_out,
    }))
}

/// Writes the page into `dir`; returns its path.
pub fn write(t: &Table, figure: Option<Against>, dir: &Path) -> Result<PathBuf, CliError> {
    let g = render::grid(t, false, Cells::Joined);
    let table = ReportTable {
        stem: "experiments".into(),
        caption: "One row per run: the baseline is the pipeline's own lockfile; \
                  metrics over a seed axis are mean ± sd across seeds."
            .into(),
        header: g.header,
        rows: g
            .rows
            .into_iter()
            .map(|r| r.into_iter().map(Cell::text).collect())
            .collect(),
    };
    let page = Page {
        title: format!("Experiments: {}", t.pipeline),
        notes: vec![format!(
            "{} experiment(s) beside the baseline. `repro exp diff` says which changes are beyond 2 SE.",
            t.rows.len().saturating_sub(1)
        )],
        table,
        figure,
    };
    write_page(dir, &page).map_err(|e| CliError::Failed(e.to_string()))
}
