//! The self-contained `report.html`: every table, every figure inlined as
//! SVG, and the list of sources each measured number links to (input stage,
//! file, and the blake3 digest that names the file's object in the store).

use std::fmt::Write as _;

use super::table::{Sources, Table, html_escape};

/// A figure to inline: its stem, caption and SVG text.
#[derive(Debug, Clone)]
pub struct InlineFigure {
    /// File stem under `figures/`.
    pub stem: String,
    /// Caption.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}caption{caption-side:bottom;text-align:left;font-size:90%;padding-top:4px}\
a{color:#1a4fa0;text-decoration:none}figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}\
code{font-size:90%}";

/// Renders the whole page.
pub fn render(
    title: &str,
    notes: &[String],
    tables: &[Table],
    figures: &[InlineFigure],
    sources: &Sources,
) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        html_escape(title),
        html_escape(title)
    );
    for n in notes {
        let _ = writeln!(o, "<p>{}</p>", html_escape(n));
    }
    o.push_str("<p>Every measured number links to the input it was read from (see Sources).</p>\n");
    o.push_str("<h2>Tables</h2>\n");
    for t in tables {
        let _ = writeln!(o, "<h3>{}</h3>", html_escape(&t.stem));
        o.push_str(&t.html(sources));
    }
    o.push_str("<h2>Figures</h2>\n");
    for f in figures {
        // plotters' SVG has no XML declaration, so it can be inlined as is.
        let _ = writeln!(
            o,
            "<figure id=\"fig-{}\">\n{}\n<figcaption>{} (<code>figures/{}.png</code>, <code>.svg</code>)</figcaption>\n</figure>",
            html_escape(&f.stem),
            f.svg,
            html_escape(&f.caption),
            html_escape(&f.stem)
        );
    }
    o.push_str("<h2>Sources</h2>\n<ol start=\"0\">\n");
    for (i, s) in sources.0.iter().enumerate() {
        let _ = writeln!(
            o,
            "<li id=\"src-{i}\">input <code>{}</code>, file <code>{}</code>, blake3 <code>{}</code> (store object <code>objects/{}/{}</code>)</li>",
            html_escape(&s.stage),
            html_escape(&s.file),
            s.digest,
            s.digest.get(..2).unwrap_or(""),
            s.digest.get(2..).unwrap_or("")
        );
    }
    o.push_str("</ol>\n</body>\n</html>\n");
    o
}
