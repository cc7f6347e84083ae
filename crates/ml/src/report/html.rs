//! The self-contained `report.html`: every table, every figure inlined as
//! SVG, and the list of sources each measured number links to (input stage,
//! file, and the blake3 digest that names the file's object in the store).

use std::fmt::Write as _;

use super::html_split::split;
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

/// The page's style. Text is 1,100 px wide and a figure is shown at its
/// own width ([`crate::report::figures::WIDTH`], 1,080 px) so its text has
/// the size it was drawn at; it shrinks only on a narrower window. Tables
/// may use the whole window (`.wide` reaches out of the text column to
/// 1 em from each edge), in 14 px text; one wider than a 1,400 px window is
/// shown as parts that fit ([`super::html_split`]). Numbers and short text
/// never wrap (`td.num`, `td.short`; an interval starts its own line),
/// long text keeps a readable width (`td.long`), and a table still wider
/// than a narrow window scrolls sideways instead of squeezing its columns.
const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}\
.wide{overflow-x:auto;margin:1em 0 1em calc(min(0px, 50% - 50vw + 1em));width:calc(100vw - 2em);box-sizing:border-box}\
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}\
td.num{white-space:nowrap;font-variant-numeric:tabular-nums}td.short{white-space:nowrap}td.long{min-width:14em}\
td:first-child,th:first-child{text-align:left}caption{caption-side:bottom;text-align:left;font-size:90%;padding-top:4px;max-width:1100px}\
a{color:#1a4fa0;text-decoration:none}figure{margin:2em 0}figure svg{display:block;max-width:100%;height:auto}\
figcaption{margin-top:.5em;line-height:1.4}code{font-size:90%}";

/// Whether a cell's text is a number or a few numbers ("4.34e-11 ± 7.51e-11",
/// "0.43 → 0.10", "[−92, 1622] %"): a digit and no letter other than an
/// exponent's `e`. Such a cell must not wrap.
pub(super) fn is_numeric(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| !c.is_alphabetic() || c == 'e' || c == 'E')
}

/// The text of an HTML fragment: its tags dropped, the entities
/// [`html_escape`] writes decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Text this long or shorter stays on one line.
const SHORT_CHARS: usize = 32;

/// The class of a cell with `text`: `num` (a number: no wrap, aligned
/// digits), `short` (no wrap) or `long` (wraps at a readable width).
fn cell_class(text: &str) -> &'static str {
    if is_numeric(text) {
        "num"
    } else if text.chars().count() <= SHORT_CHARS {
        "short"
    } else {
        "long"
    }
}

/// A number cell's inner HTML with a line break before its interval
/// (`0.03 ± 0.05 [-0.21, 0.26]`): text outside tags only, so a link's
/// title (`dist[lambda_adv=0.2]`) is left alone.
fn interval_on_own_line(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len() + 4);
    let mut in_tag = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            ' ' if !in_tag && chars.peek() == Some(&'[') => {
                out.push_str("<br>");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// `table` (as [`Table::html`] writes it: cell text escaped, so `<td>` only
/// opens cells) with a [`cell_class`] on every cell.
fn mark_cells(table: &str) -> String {
    let mut out = String::with_capacity(table.len() + 64);
    let mut rest = table;
    while let Some(i) = rest.find("<td>") {
        out.push_str(&rest[..i]);
        let cell = &rest[i + 4..];
        let end = cell.find("</td>").unwrap_or(cell.len());
        let class = cell_class(&strip_tags(&cell[..end]));
        let _ = write!(out, "<td class=\"{class}\">");
        if class == "num" {
            out.push_str(&interval_on_own_line(&cell[..end]));
            rest = &cell[end..];
        } else {
            rest = cell;
        }
    }
    out.push_str(rest);
    out
}

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
        for part in split(t) {
            let _ = writeln!(
                o,
                "<div class=\"wide\">\n{}</div>",
                mark_cells(&part.html(sources))
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::distribution::{Distribution, DistributionConfig, Which, analyse};
    use crate::eval::scores::{ScoreRow, Side};
    use crate::report::inputs::{Named, ReportInputs, lambda_of, seed_of};
    use crate::report::paper::{ReportConfig, build};
    use crate::report::policies::Curves;
    use crate::report::table::Source;
    use crate::report::tables::Roles;
    use crate::train::curves::EvalCurve;

    #[test]
    fn numbers_and_short_text_are_marked_so_they_do_not_wrap() {
        let quote = "§4: \"The KS distance decreases from 0.43 to 0.10 (p < 0.001)\"";
        let row = format!(
            "<tr><td>KS</td><td><a href=\"#src-0\" title=\"a &amp; b\">4.34e-11 ± 7.51e-11</a></td>\
<td>yes (3 of 3 seeds)</td><td>[−92, 1622] %</td><td>&lt; 0.001</td><td>—</td><td>{}</td></tr>",
            html_escape(quote)
        );
        let out = mark_cells(&row);
        let classes: Vec<&str> = out
            .split("<td class=\"")
            .skip(1)
            .filter_map(|c| c.split('"').next())
            .collect();
        let want = ["short", "num", "short", "num", "num", "short", "long"];
        assert_eq!(classes, want, "{out}");
        assert_eq!(strip_tags(&out), strip_tags(&row), "only markup changes");
        assert!(
            out.contains("<td class=\"num\">[−92, 1622] %</td>"),
            "{out}"
        );
        let linked = "<td><a href=\"#src-1\" title=\"dist [x]\">0.03 ± 0.05 [-0.21, 0.26]</a></td>";
        assert_eq!(
            mark_cells(linked),
            "<td class=\"num\"><a href=\"#src-1\" title=\"dist [x]\">0.03 ± 0.05<br>[-0.21, 0.26]</a></td>",
            "the interval starts a line; the title is left alone"
        );
    }

    #[test]
    fn tables_scroll_sideways_and_numbers_do_not_wrap() {
        assert!(STYLE.contains("td.num{white-space:nowrap"));
        assert!(STYLE.contains(".wide{overflow-x:auto"));
        let t = Table {
            stem: "t".into(),
            caption: "c".into(),
            header: vec!["a".into(), "b".into()],
            rows: vec![],
        };
        let page = render("T", &[], &[t], &[], &Sources::default());
        assert!(
            page.contains("<div class=\"wide\">\n<table id=\"t\">"),
            "{page}"
        );
    }

    /// A deterministic standard normal stream (splitmix64 + Box–Muller).
    struct Normal(u64);

    impl Normal {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }

        fn next(&mut self) -> f64 {
            let (u, v) = (self.uniform().max(1e-12), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    /// Scores of `offsets.len()` categories, 120 pairs each: category `c`
    /// shifted by `offsets[c]`, chosen above rejected by 1 on average.
    fn scores(names: &[String], offsets: &[f64], seed: u64) -> Vec<ScoreRow> {
        let mut rng = Normal(seed);
        let mut rows = Vec::new();
        for (name, off) in names.iter().zip(offsets) {
            for i in 0..120 {
                for (side, d) in [(Side::Chosen, 0.5), (Side::Rejected, -0.5)] {
                    rows.push(ScoreRow {
                        pair_id: format!("{name}-{i}"),
                        category: name.clone(),
                        side,
                        reward: 2.3 * rng.next() + off + d,
                    });
                }
            }
        }
        rows
    }

    fn named<T>(sources: &mut Sources, slot: &str, name: &str, value: T) -> Named<T> {
        let source = sources.add(Source {
            stage: format!("{slot}/{name}"),
            file: "distribution.json".into(),
            digest: "0".repeat(64),
        });
        Named {
            name: name.into(),
            lambda: lambda_of(name),
            seed: seed_of(name),
            source,
            value,
        }
    }

    fn dist(names: &[String], offsets: &[f64], seed: u64) -> Distribution {
        let cfg = DistributionConfig {
            which: Which::Both,
            bins: 30,
            permutations: 9,
            seed,
        };
        analyse(&scores(names, offsets, seed), cfg).unwrap()
    }

    /// Ten epochs of adversary diagnostics for one λ.
    fn curves(lambda: f64, k: usize) -> Vec<EvalCurve> {
        let chance = (k as f64).ln();
        (1..=10)
            .map(|e| {
                let t = e as f64 / 10.0;
                EvalCurve {
                    epoch: e,
                    bt_accuracy: 0.6 + 0.05 * t - 0.02 * lambda,
                    adv_ce: Some(chance * (0.9 + 0.1 * t * lambda.min(1.0))),
                    adv_balanced_accuracy: Some(1.0 / k as f64 + 0.2 * (1.0 - t * lambda.min(1.0))),
                    chance_ce: Some(chance),
                    mean_gap: Some(0.4 - lambda * t * 0.5),
                    ks: Some(0.3 * (1.0 - 0.5 * t * lambda.min(1.0))),
                    mi: Some(0.05 * (1.0 - 0.5 * t * lambda.min(1.0))),
                    mi_null: Some(0.004),
                }
            })
            .collect()
    }

    /// Every figure kind from synthetic inputs: two and 19 categories, an
    /// 8-point λ sweep over 2 seeds, adversary curves, a PPO run whose β
    /// moves in the fourth decimal. `REPRO_KEEP_REPORT=DIR` keeps the
    /// report for a look in a browser.
    #[test]
    fn a_synthetic_report_draws_every_figure_kind() {
        let keep = std::env::var_os("REPRO_KEEP_REPORT").map(std::path::PathBuf::from);
        let tmp = tempfile::tempdir().unwrap();
        let out = keep.unwrap_or_else(|| tmp.path().to_path_buf());
        let two: Vec<String> = ["harmless", "helpful"].map(String::from).to_vec();
        let many: Vec<String> = (0..19).map(|c| format!("cat{c}")).collect();
        let mut inp = ReportInputs::default();
        let src = &mut inp.sources;
        for (l, gap) in [("0.0", 1.2), ("0.2", -0.3)] {
            for s in 1..=3 {
                let name = format!("dist_tuned[lambda_adv={l},seed={s}]");
                let d = dist(&two, &[0.0, gap], s);
                inp.distributions.push(named(src, "distribution", &name, d));
            }
            let offsets: Vec<f64> = (0..19)
                .map(|c| {
                    if l == "0.0" {
                        0.1 * c as f64
                    } else {
                        0.01 * c as f64
                    }
                })
                .collect();
            let name = format!("dist_multi[lambda_adv={l},seed=1]");
            let d = dist(&many, &offsets, 7);
            inp.multi.push(named(src, "multi", &name, d));
        }
        for (i, l) in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0].iter().enumerate() {
            for s in 1..=2 {
                let name = format!("dist[lambda_adv={l},seed={s}]");
                let d = dist(&two, &[0.0, 1.0 / (1.0 + 3.0 * l)], 100 + i as u64 * 10 + s);
                inp.sweep.push(named(src, "sweep", &name, d));
            }
            let name = format!("rm[lambda_adv={l},seed=1]");
            inp.training
                .push(named(src, "training", &name, curves(*l, 2)));
            let name = format!("rm_multi[lambda_adv={l},seed=1]");
            inp.training_multi
                .push(named(src, "training_multi", &name, curves(*l, 19)));
        }
        let mut ppo = Curves::default();
        let steps: Vec<f64> = (1..=20).map(f64::from).collect();
        ppo.columns
            .insert("rm_score".into(), steps.iter().map(|s| 0.1 * s).collect());
        ppo.columns
            .insert("kl".into(), steps.iter().map(|s| 0.01 * s).collect());
        ppo.columns.insert(
            "beta".into(),
            steps.iter().map(|s| 0.0499 + 0.00001 * s).collect(),
        );
        ppo.columns.insert("step".into(), steps);
        inp.policies.ppo.push(named(src, "ppo", "ppo_fair", ppo));
        let cfg = ReportConfig {
            title: "Synthetic report".into(),
            roles: Roles {
                baseline: 0.0,
                fair: 0.2,
            },
            notes: vec!["Synthetic inputs, for a look at the figures.".into()],
        };
        let paper = crate::report::paper_values::bundled().unwrap();
        let summary = build(&inp, &paper, &cfg, &out).unwrap();
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        for f in &summary.figures {
            assert!(html.contains(&format!("id=\"fig-{f}\"")), "{f} inlined");
        }
        assert!(
            summary
                .figures
                .iter()
                .any(|f| f == "adversary_dynamics_multi")
        );
    }
}
