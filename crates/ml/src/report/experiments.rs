//! The experiments page (issue 26): the comparison table of a pipeline's
//! runs and one figure of a chosen metric against a chosen override, mean
//! ± sd across seeds as error bars, in the report's figure style.
//! `repro exp show PIPELINE --html DIR --plot METRIC --against KEY` writes it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::figures::{Figure, FigureError, SweepPanel, SweepPoint};
use super::table::{Sources, Table, html_escape};

/// One run on the figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The run (`baseline` or the experiment's name).
    pub label: String,
    /// The override's value in that run.
    pub x: f64,
    /// The metric, or its mean across seeds.
    pub mean: f64,
    /// Sd across seeds; `None` with one seed.
    pub sd: Option<f64>,
}

/// The figure: a metric against an override.
#[derive(Debug, Clone, PartialEq)]
pub struct Against {
    /// The metric column (`score:acc`).
    pub metric: String,
    /// The override key (`params.lr`).
    pub against: String,
    /// The runs, any order (drawn in x order).
    pub points: Vec<Point>,
    /// Runs not drawn because they change other keys too.
    pub left_out: Vec<String>,
}

/// The whole page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Title (`Experiments: demo`).
    pub title: String,
    /// Paragraphs above the table.
    pub notes: Vec<String>,
    /// The comparison table.
    pub table: Table,
    /// The figure, if one was asked for.
    pub figure: Option<Against>,
}

/// Page style: the report's width and table look, figures at their own size.
const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}\
.wide{overflow-x:auto;margin:1em 0}table{border-collapse:collapse}\
td,th{border:1px solid #bbb;padding:3px 8px;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\
td:first-child,th:first-child{text-align:left}caption{caption-side:bottom;text-align:left;font-size:90%;padding-top:4px}\
figure{margin:2em 0}figure svg{display:block;max-width:100%;height:auto}figcaption{margin-top:.5em;line-height:1.4}";

/// The figure of `a`: one panel, points in x order.
pub fn figure(a: &Against) -> Figure {
    let mut pts: Vec<&Point> = a.points.iter().collect();
    pts.sort_by(|p, q| p.x.total_cmp(&q.x));
    Figure::Sweep(vec![SweepPanel {
        title: a.metric.clone(),
        points: pts
            .iter()
            .map(|p| SweepPoint {
                lambda: p.x,
                mean: p.mean,
                sd: p.sd,
            })
            .collect(),
        paper: Vec::new(),
        x_desc: Some(a.against.clone()),
    }])
}

/// Writes `<dir>/experiments.html` (self-contained, the figure inlined) and
/// the figure as `<dir>/experiments-figure.{png,svg}`; returns the page's path.
///
/// # Errors
/// The directory cannot be made, or drawing or writing fails.
pub fn write(dir: &Path, page: &Page) -> Result<PathBuf, FigureError> {
    let io = |file: PathBuf| move |source| FigureError::Io { file, source };
    std::fs::create_dir_all(dir).map_err(io(dir.to_path_buf()))?;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = html_escape(&page.title)
    );
    for n in &page.notes {
        let _ = writeln!(o, "<p>{}</p>", html_escape(n));
    }
    let _ = writeln!(
        o,
        "<div class=\"wide\">\n{}</div>",
        page.table.html(&Sources::default())
    );
    if let Some(a) = &page.figure {
        let svg = figure(a).write(dir, "experiments-figure")?;
        let runs: Vec<String> = a
            .points
            .iter()
            .map(|p| format!("{} at {}", p.label, p.x))
            .collect();
        let left = if a.left_out.is_empty() {
            String::new()
        } else {
            format!(
                " Left out, as they change other keys too: {}.",
                a.left_out.join(", ")
            )
        };
        let _ = writeln!(
            o,
            "<figure>\n{svg}\n<figcaption>{} against {}, every other key as the pipeline writes it: mean ± sd across seeds (a dot alone: one seed). Runs: {}.{}</figcaption>\n</figure>",
            html_escape(&a.metric),
            html_escape(&a.against),
            html_escape(&runs.join("; ")),
            html_escape(&left)
        );
    }
    o.push_str("</body>\n</html>\n");
    let path = dir.join("experiments.html");
    std::fs::write(&path, o).map_err(io(path.clone()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::table::Cell;

    #[test]
    fn the_page_holds_the_table_and_the_figure() {
        let dir = tempfile::tempdir().unwrap();
        let page = Page {
            title: "Experiments: p".into(),
            notes: vec!["two runs".into()],
            table: Table {
                stem: "experiments".into(),
                caption: "runs".into(),
                header: vec!["experiment".into(), "score:acc".into()],
                rows: vec![vec![Cell::text("baseline"), Cell::text("0.5 ± 0.01")]],
            },
            figure: Some(Against {
                metric: "score:acc".into(),
                against: "params.lr".into(),
                points: vec![
                    Point {
                        label: "baseline".into(),
                        x: 0.1,
                        mean: 0.5,
                        sd: Some(0.01),
                    },
                    Point {
                        label: "lr=0.3".into(),
                        x: 0.3,
                        mean: 0.6,
                        sd: Some(0.02),
                    },
                ],
                left_out: vec!["both".into()],
            }),
        };
        let path = write(dir.path(), &page).unwrap();
        let html = std::fs::read_to_string(path).unwrap();
        assert!(html.contains("<svg"), "figure inlined");
        assert!(html.contains("0.5 ± 0.01"));
        assert!(html.contains("Left out, as they change other keys too: both."));
        assert!(dir.path().join("experiments-figure.png").is_file());
    }
}
