//! A report table and its four renderings: Markdown, LaTeX (booktabs), CSV
//! and HTML. Every cell may carry the index of the input file it came from,
//! which the HTML rendering turns into a link to the sources list.

use std::fmt::Write as _;

/// One cell: its text and, for a number, the source it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Rendered text.
    pub text: String,
    /// Index into [`Sources`]; `None` for labels and paper values.
    pub source: Option<usize>,
}

impl Cell {
    /// A label or a paper value: no source link.
    pub fn text(t: impl Into<String>) -> Self {
        Cell {
            text: t.into(),
            source: None,
        }
    }
    /// A number measured by a stage.
    pub fn from_source(t: impl Into<String>, source: usize) -> Self {
        Cell {
            text: t.into(),
            source: Some(source),
        }
    }
    /// An absent value, shown as an em dash.
    pub fn missing() -> Self {
        Cell::text("—")
    }
}

/// An input file that numbers come from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Source {
    /// Input slot and stage (`distribution/dist[lambda_adv=0.2]`).
    pub stage: String,
    /// File name inside the stage's outputs.
    pub file: String,
    /// blake3 of the file: its object name in the store.
    pub digest: String,
}

/// Every source of a report, numbered in order of registration.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Sources(pub Vec<Source>);

impl Sources {
    /// Adds a source and returns its index.
    pub fn add(&mut self, s: Source) -> usize {
        if let Some(i) = self.0.iter().position(|x| x == &s) {
            return i;
        }
        self.0.push(s);
        self.0.len() - 1
    }
}

/// A table with a file stem, a caption, a header and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// File stem under `tables/` (`table2_stereotype`).
    pub stem: String,
    /// Caption, one sentence or two.
    pub caption: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<Cell>>,
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn tex_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                o.push('\\');
                o.push(c);
            }
            '~' => o.push_str("\\textasciitilde{}"),
            '^' => o.push_str("\\textasciicircum{}"),
            '±' => o.push_str("$\\pm$"),
            'λ' => o.push_str("$\\lambda$"),
            '→' => o.push_str("$\\to$"),
            '—' => o.push_str("---"),
            '–' => o.push_str("--"),
            '≥' => o.push_str("$\\geq$"),
            _ => o.push(c),
        }
    }
    o
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Table {
    /// GitHub-flavoured Markdown with the caption as a final line.
    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let row = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        o.push_str(&row(self.header.iter().map(|h| md_escape(h)).collect()));
        o.push_str(&row(self
            .header
            .iter()
            .map(|_| "---".to_string())
            .collect()));
        for r in &self.rows {
            o.push_str(&row(r.iter().map(|c| md_escape(&c.text)).collect()));
        }
        let _ = write!(o, "\n{}\n", self.caption);
        o
    }

    /// A LaTeX `table` with booktabs rules.
    pub fn latex(&self) -> String {
        let mut o = String::new();
        o.push_str("\\begin{table}[t]\n\\centering\n");
        let _ = writeln!(
            o,
            "\\begin{{tabular}}{{l{}}}",
            "r".repeat(self.header.len().saturating_sub(1))
        );
        o.push_str("\\toprule\n");
        let line = |cells: Vec<String>| format!("{} \\\\\n", cells.join(" & "));
        o.push_str(&line(self.header.iter().map(|h| tex_escape(h)).collect()));
        o.push_str("\\midrule\n");
        for r in &self.rows {
            o.push_str(&line(r.iter().map(|c| tex_escape(&c.text)).collect()));
        }
        o.push_str("\\bottomrule\n\\end{tabular}\n");
        let _ = writeln!(o, "\\caption{{{}}}", tex_escape(&self.caption));
        let _ = writeln!(o, "\\label{{tab:{}}}", self.stem);
        o.push_str("\\end{table}\n");
        o
    }

    /// RFC 4180 CSV: the header, then the rows (the caption is not included).
    pub fn csv(&self) -> String {
        let mut o = String::new();
        let line = |cells: Vec<String>| format!("{}\r\n", cells.join(","));
        o.push_str(&line(self.header.iter().map(|h| csv_field(h)).collect()));
        for r in &self.rows {
            o.push_str(&line(r.iter().map(|c| csv_field(&c.text)).collect()));
        }
        o
    }

    /// An HTML table; a measured number links to its source's anchor.
    pub fn html(&self, sources: &Sources) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "<table id=\"{}\">", html_escape(&self.stem));
        let _ = writeln!(o, "<caption>{}</caption>", html_escape(&self.caption));
        o.push_str("<tr>");
        for h in &self.header {
            let _ = write!(o, "<th>{}</th>", html_escape(h));
        }
        o.push_str("</tr>\n");
        for r in &self.rows {
            o.push_str("<tr>");
            for c in r {
                match c.source.and_then(|i| sources.0.get(i).map(|s| (i, s))) {
                    Some((i, s)) => {
                        let _ = write!(
                            o,
                            "<td><a href=\"#src-{i}\" title=\"{} / {} (blake3 {})\">{}</a></td>",
                            html_escape(&s.stage),
                            html_escape(&s.file),
                            s.digest,
                            html_escape(&c.text)
                        );
                    }
                    None => {
                        let _ = write!(o, "<td>{}</td>", html_escape(&c.text));
                    }
                }
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table>\n");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            stem: "t1".into(),
            caption: "KS 0.43 → 0.10, 50% neutral".into(),
            header: vec!["model".into(), "bias (%)".into()],
            rows: vec![vec![
                Cell::text("a_b, \"x\""),
                Cell::from_source("42.8 ± 1.3", 0),
            ]],
        }
    }

    #[test]
    fn renderings_escape_their_special_characters() {
        let t = table();
        assert!(
            t.markdown()
                .starts_with("| model | bias (%) |\n| --- | --- |\n")
        );
        let tex = t.latex();
        assert!(tex.contains("a\\_b, \"x\" & 42.8 $\\pm$ 1.3 \\\\"), "{tex}");
        assert!(tex.contains("50\\% neutral"), "{tex}");
        assert_eq!(
            t.csv(),
            "model,bias (%)\r\n\"a_b, \"\"x\"\"\",42.8 ± 1.3\r\n"
        );
        let mut s = Sources::default();
        s.add(Source {
            stage: "dist[lambda_adv=0]".into(),
            file: "distribution.json".into(),
            digest: "ab".into(),
        });
        let h = t.html(&s);
        assert!(h.contains("<a href=\"#src-0\""), "{h}");
        assert!(h.contains("a_b, &quot;x&quot;"), "{h}");
    }

    #[test]
    fn a_source_registered_twice_keeps_its_index() {
        let mut s = Sources::default();
        let src = Source {
            stage: "a".into(),
            file: "f".into(),
            digest: "d".into(),
        };
        assert_eq!(s.add(src.clone()), 0);
        assert_eq!(
            s.add(Source {
                stage: "b".into(),
                ..src.clone()
            }),
            1
        );
        assert_eq!(s.add(src), 0);
    }
}
