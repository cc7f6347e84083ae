//! The experiments page of a comparison table: what `exp show --html` and
//! the `report.experiments` kind both write (`report::experiments` draws it).

use super::error::ExpError;
use super::table::Table;
use crate::exp::metrics::Summary;
use crate::report::experiments::{Against, Page, Point};
use crate::report::table::{Cell, Table as ReportTable};

/// The figure of `metric` against the override `against` (column names, or
/// unique suffixes: `acc`, `lr`). A run that also changes another key from
/// the baseline's value is left out (the caption names it): the figure shows
/// the metric against one key, the others held as the pipeline writes them.
///
/// # Errors
/// An unknown or ambiguous column, or a plotted run whose value of the
/// override is not a number.
pub fn figure(t: &Table, metric: &str, against: &str) -> Result<Against, ExpError> {
    let metric = t.metric_column(metric)?;
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
        let x: f64 = x.parse().map_err(|_| ExpError::NotNumeric {
            run: r.name.clone(),
            key: key.clone(),
            value: x.clone(),
        })?;
        points.push(Point {
            label: r.name.clone(),
            x,
            mean: s.mean,
            sd: s.sd,
        });
    }
    Ok(Against {
        metric,
        against: key,
        points,
        left_out,
    })
}

/// The page: the table (one row per run, `mean ± sd` cells) and the figure.
pub fn page(t: &Table, figure: Option<Against>) -> Page {
    let mut header = vec!["experiment".to_string()];
    header.extend(t.params.iter().cloned());
    header.extend(t.metrics.iter().cloned());
    let rows = t
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![Cell::text(r.name.clone())];
            row.extend(t.params.iter().map(|k| {
                r.params
                    .get(k)
                    .map_or_else(Cell::missing, |v| Cell::text(v.clone()))
            }));
            row.extend(t.metrics.iter().map(|m| {
                r.metrics
                    .get(m)
                    .map_or_else(Cell::missing, |s: &Summary| Cell::text(s.text()))
            }));
            row
        })
        .collect();
    Page {
        title: format!("Experiments: {}", t.pipeline),
        notes: vec![format!(
            "{} experiment(s) beside the baseline (the pipeline's own lockfile). \
             `repro exp diff` says which changes are beyond 2 SE.",
            t.rows.len().saturating_sub(1)
        )],
        table: ReportTable {
            stem: "experiments".into(),
            caption: "One row per run; metrics over a seed axis are mean ± sd across seeds.".into(),
            header,
            rows,
        },
        figure,
    }
}
