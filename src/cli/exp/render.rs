//! The `exp show` table as aligned text, Markdown or CSV, wide (one row per
//! run) or long (one row per run × column, for dozens of metrics).

use crate::exp::metrics::{Summary, num};
use crate::exp::table::Table;

/// A header and rows of cells.
pub struct Grid {
    /// Column names.
    pub header: Vec<String>,
    /// Cells, one vector per row.
    pub rows: Vec<Vec<String>>,
}

/// How metric cells are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cells {
    /// `mean ± sd` in one cell.
    Joined,
    /// Mean, and the sd in a column of its own (`METRIC sd`), for CSV.
    Split,
}

/// The table as a grid, wide or long.
pub fn grid(t: &Table, long: bool, cells: Cells) -> Grid {
    let has_sd = |m: &String| {
        t.rows
            .iter()
            .any(|r| r.metrics.get(m).is_some_and(|s| s.sd.is_some()))
    };
    if long {
        let mut header: Vec<String> = ["experiment", "column", "value"].map(String::from).into();
        if cells == Cells::Split {
            header.extend(["sd", "seeds"].map(String::from));
        }
        let mut rows = Vec::new();
        for r in &t.rows {
            for k in &t.params {
                let mut row = vec![
                    r.name.clone(),
                    k.clone(),
                    r.params.get(k).cloned().unwrap_or_else(|| "-".into()),
                ];
                if cells == Cells::Split {
                    row.extend([String::new(), String::new()]);
                }
                rows.push(row);
            }
            for m in &t.metrics {
                let s = r.metrics.get(m);
                let mut row = vec![r.name.clone(), m.clone()];
                match cells {
                    Cells::Joined => row.push(s.map_or_else(|| "-".into(), Summary::text)),
                    Cells::Split => row.extend([
                        s.map_or_else(String::new, |s| num(s.mean)),
                        s.and_then(|s| s.sd).map_or_else(String::new, num),
                        s.map_or_else(String::new, |s| s.n.to_string()),
                    ]),
                }
                rows.push(row);
            }
        }
        return Grid { header, rows };
    }
    let mut header = vec!["experiment".to_string()];
    header.extend(t.params.iter().cloned());
    for m in &t.metrics {
        header.push(m.clone());
        if cells == Cells::Split && has_sd(m) {
            header.push(format!("{m} sd"));
        }
    }
    let rows = t
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![r.name.clone()];
            row.extend(
                t.params
                    .iter()
                    .map(|k| r.params.get(k).cloned().unwrap_or_else(|| "-".into())),
            );
            for m in &t.metrics {
                let s = r.metrics.get(m);
                match cells {
                    Cells::Joined => row.push(s.map_or_else(|| "-".into(), Summary::text)),
                    Cells::Split => {
                        row.push(s.map_or_else(String::new, |s| num(s.mean)));
                        if has_sd(m) {
                            row.push(s.and_then(|s| s.sd).map_or_else(String::new, num));
                        }
                    }
                }
            }
            row
        })
        .collect();
    Grid { header, rows }
}

/// Aligned columns, two spaces apart.
pub fn text(g: &Grid) -> String {
    let n = g.header.len();
    let mut widths = vec![0; n];
    for row in std::iter::once(&g.header).chain(&g.rows) {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &Vec<String>| {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("{}\n", cells.join("  ").trim_end())
    };
    let mut out = line(&g.header);
    for r in &g.rows {
        out.push_str(&line(r));
    }
    out
}

/// A Markdown (GFM) table; `|` in a cell is escaped.
pub fn markdown(g: &Grid) -> String {
    let esc = |c: &String| c.replace('|', "\\|");
    let line = |row: &Vec<String>| {
        format!(
            "| {} |\n",
            row.iter().map(esc).collect::<Vec<_>>().join(" | ")
        )
    };
    let mut out = line(&g.header);
    out.push_str(&format!("|{}\n", " --- |".repeat(g.header.len())));
    for r in &g.rows {
        out.push_str(&line(r));
    }
    out
}

/// CSV (RFC 4180 quoting).
pub fn csv(g: &Grid) -> String {
    let q = |c: &String| {
        if c.contains([',', '"', '\n']) {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c.clone()
        }
    };
    let line = |row: &Vec<String>| format!("{}\n", row.iter().map(q).collect::<Vec<_>>().join(","));
    let mut out = line(&g.header);
    for r in &g.rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_markdown_escapes() {
        let g = Grid {
            header: vec!["experiment".into(), "a,b".into()],
            rows: vec![vec!["x|y".into(), "say \"hi\"".into()]],
        };
        assert_eq!(csv(&g), "experiment,\"a,b\"\nx|y,\"say \"\"hi\"\"\"\n");
        assert!(markdown(&g).contains("| x\\|y |"), "{}", markdown(&g));
        assert_eq!(text(&g), "experiment  a,b\nx|y         say \"hi\"\n");
    }
}
