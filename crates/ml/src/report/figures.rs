//! The report's figures, drawn with plotters into PNG (bitmap backend,
//! encoded with the `png` crate) and SVG: reward histograms by category
//! (the paper's Figures 1–4 and 6; small multiples for many categories),
//! chosen vs rejected (Figure 5), and line panels for the λ sweep (mean ±
//! sd across seeds as error bars, the paper's values as crosses), the
//! adversary's dynamics and the PPO curves.
//!
//! Every figure is [`WIDTH`] px wide, the width `report.html` shows it at,
//! so text sizes are sizes on screen ([`style`]); its legend sits in a strip
//! above the panels, where it cannot cover data ([`legend`]); colours come
//! from a colour-blind-safe palette with 3:1 contrast on white
//! ([`PALETTE`]); tick labels take the decimals their axis needs
//! ([`TickFormat`]).
//!
//! Text is drawn with a bundled subset of DejaVu Sans
//! (`assets/fonts/DejaVuSans-subset.ttf`, ASCII plus ± · λ Δ – — −), so no
//! system font is needed and the bytes do not depend on the machine. If the
//! font cannot be registered the figures are drawn without any text (no
//! titles, tick labels or legends) rather than failing.

use std::path::Path;
use std::sync::OnceLock;

mod legend;
mod style;

use plotters::coord::Shift;
use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use legend::{Entry, Mark};
pub use style::{PALETTE, TEXT_PX, TITLE_PX, TickFormat, WIDTH};
use style::{POOLED, REFERENCE, color, dashed, font, left_text, text_width};

/// The bundled font.
const FONT: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans-subset.ttf");

/// Registers the bundled font once; `false` if it could not be, in which
/// case figures are drawn without text.
pub fn text_available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    })
}

/// Why a figure could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// plotters failed while drawing.
    #[error("figure `{figure}`: drawing failed: {message}")]
    Draw {
        /// File stem.
        figure: String,
        /// plotters' message.
        message: String,
    },
    /// PNG encoding failed.
    #[error("figure `{figure}`: PNG encoding failed: {message}")]
    Png {
        /// File stem.
        figure: String,
        /// The encoder's message.
        message: String,
    },
    /// Writing the file failed.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One histogram: a label and counts over shared bin edges.
#[derive(Debug, Clone, PartialEq)]
pub struct Hist {
    /// Legend label.
    pub label: String,
    /// `counts.len() + 1` edges.
    pub edges: Vec<f64>,
    /// Counts per bin.
    pub counts: Vec<u64>,
}

/// One panel of overlaid histograms.
#[derive(Debug, Clone, PartialEq)]
pub struct HistPanel {
    /// Panel title.
    pub title: String,
    /// The histograms, drawn as densities so groups of different sizes compare.
    pub hists: Vec<Hist>,
}

/// One point of a sweep: the mean across seeds at λ and its sd.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    /// λ_adv.
    pub lambda: f64,
    /// Mean across seeds (the value, with one seed).
    pub mean: f64,
    /// Sd across seeds, drawn as an error bar of ± sd; `None` with one seed.
    pub sd: Option<f64>,
}

/// One panel of a sweep: y against λ, with the paper's values marked.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPanel {
    /// Panel title (the metric).
    pub title: String,
    /// Our points in λ order.
    pub points: Vec<SweepPoint>,
    /// The paper's `(λ, value)`, drawn as red crosses.
    pub paper: Vec<(f64, f64)>,
    /// The x axis's name (`None`: `λ_adv`); an experiments page plots
    /// against an override.
    pub x_desc: Option<String>,
}

/// One panel of lines against a shared x (the epoch), with an optional
/// horizontal reference (chance).
#[derive(Debug, Clone, PartialEq)]
pub struct LinePanel {
    /// Panel title.
    pub title: String,
    /// x-axis label.
    pub x_desc: String,
    /// `(legend label, points)` per line; an empty label stays out of the
    /// legend (panels that share their lines' colours label them once).
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// `(label, y)` of a dashed horizontal reference line.
    pub reference: Option<(String, f64)>,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// Panels of a few overlaid histograms, two to a row.
    Hists(Vec<HistPanel>),
    /// Small multiples: for each panel a grid with one cell per histogram
    /// (five to a row) on a shared x and density range, the pooled
    /// distribution in light grey behind each; the grids one below the
    /// other. For many categories, where overlaid series cannot be told apart.
    Facets(Vec<HistPanel>),
    /// Sweep panels, two to a row.
    Sweep(Vec<SweepPanel>),
    /// Line panels, two to a row.
    Lines(Vec<LinePanel>),
}

type DrawResult = Result<(), String>;

/// A chart on two `f64` axes.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Pixels of axis length per tick label asked of plotters (it draws at
/// most that many): x labels are up to ~6 characters of 16 px text wide.
const X_PX_PER_LABEL: u32 = 64;
/// The same for the y axis, where labels stack.
const Y_PX_PER_LABEL: u32 = 60;
/// Height of a histogram, sweep or line panel, px.
const PANEL_H: u32 = 380;
/// Small multiples per row.
const FACET_COLS: usize = 5;
/// Height of one small multiple, px.
const FACET_H: u32 = 190;
/// Height of a grid's title strip, px.
const GRID_TITLE_H: u32 = 40;
/// Panels per row of sweep, line and overlaid histogram figures.
const PANEL_COLS: usize = 2;

/// `counts` over `edges` as a density step curve.
fn density(edges: &[f64], counts: &[u64]) -> Vec<(f64, f64)> {
    let n: u64 = counts.iter().sum();
    let mut pts = Vec::with_capacity(2 * counts.len());
    for (i, &c) in counts.iter().enumerate() {
        let (Some(&a), Some(&b)) = (edges.get(i), edges.get(i + 1)) else {
            break;
        };
        let w = b - a;
        let d = if n > 0 && w > 0.0 {
            c as f64 / (n as f64 * w)
        } else {
            0.0
        };
        pts.push((a, d));
        pts.push((b, d));
    }
    pts
}

/// The counts of every histogram of `hists` that has the first one's edges,
/// added up: the pooled distribution.
fn pooled(hists: &[Hist]) -> Option<Hist> {
    let first = hists.first()?;
    let mut counts = vec![0u64; first.counts.len()];
    for h in hists.iter().filter(|h| h.edges == first.edges) {
        for (acc, c) in counts.iter_mut().zip(&h.counts) {
            *acc += c;
        }
    }
    Some(Hist {
        label: "all categories pooled".into(),
        edges: first.edges.clone(),
        counts,
    })
}

/// The finite range of `vals`, padded by 5 % (a unit around a single value).
fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// `text` cut to fit `max_w` px at `px` (with "..." where it was cut).
fn fit(text: &str, px: f64, max_w: u32) -> String {
    if text_width(text, px) <= max_w {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    (1..chars.len())
        .rev()
        .map(|k| format!("{}...", chars[..k].iter().collect::<String>()))
        .find(|t| text_width(t, px) <= max_w)
        // default: not even one character and `...` fits: an empty label.
        .unwrap_or_default()
}

/// What a panel's axes say.
struct Axes<'a> {
    /// x range.
    x: (f64, f64),
    /// y range.
    y: (f64, f64),
    /// x-axis name.
    x_desc: Option<&'a str>,
    /// y-axis name.
    y_desc: Option<&'a str>,
    /// Whether the y axis has tick labels.
    y_ticks: bool,
    /// Panel title.
    title: Option<String>,
    /// Title size, px.
    title_px: f64,
}

/// How many tick labels to ask plotters for on an axis of `px` pixels over
/// `lo..hi`: one per `per_label` pixels, raised until plotters gives at
/// least three (its steps of 1, 2 and 5 can jump from two labels to seven).
fn label_count(px: u32, per_label: u32, (lo, hi): (f64, f64)) -> usize {
    let want = (px / per_label).clamp(4, 12) as usize;
    let coord: RangedCoordf64 = (lo..hi).into();
    (want..want + 8)
        .find(|&n| coord.key_points(n).len() >= 3)
        .unwrap_or(want)
}

/// Width of the y label area: the widest of the `labels` tick labels, the
/// axis name, margins.
fn y_label_width(a: &Axes, labels: usize) -> u32 {
    let widest = if a.y_ticks {
        let f = TickFormat::for_axis(a.y.0, a.y.1, labels);
        let coord: RangedCoordf64 = (a.y.0..a.y.1).into();
        coord
            .key_points(labels)
            .iter()
            .map(|&v| text_width(&f.format(v), TEXT_PX))
            .max()
            .unwrap_or(0)
    } else {
        0
    };
    let desc = if a.y_desc.is_some() {
        TEXT_PX as u32 + 12
    } else {
        0
    };
    widest + desc + 14
}

/// A chart on `area` with its mesh drawn: the title above, tick labels
/// whose decimals follow each axis (no "−0.0"), faint grid lines.
fn chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    a: &Axes,
    text: bool,
) -> Result<Chart<'a, DB>, String> {
    let (w, h) = area.dim_in_pixel();
    let (nx, ny) = (
        label_count(w, X_PX_PER_LABEL, a.x),
        label_count(h, Y_PX_PER_LABEL, a.y),
    );
    let mut b = ChartBuilder::on(area);
    b.margin(8).margin_right(18);
    if text {
        let x_area = TEXT_PX as u32
            + 16
            + if a.x_desc.is_some() {
                TEXT_PX as u32 + 10
            } else {
                0
            };
        b.x_label_area_size(x_area)
            .y_label_area_size(y_label_width(a, ny));
        if let Some(t) = &a.title {
            b.caption(fit(t, a.title_px, w.saturating_sub(20)), font(a.title_px));
        }
    }
    let mut c = b
        .build_cartesian_2d(a.x.0..a.x.1, a.y.0..a.y.1)
        .map_err(|e| e.to_string())?;
    let fx = TickFormat::for_axis(a.x.0, a.x.1, nx);
    let fy = TickFormat::for_axis(a.y.0, a.y.1, ny);
    let (fmt_x, fmt_y) = (move |v: &f64| fx.format(*v), move |v: &f64| fy.format(*v));
    let mut mesh = c.configure_mesh();
    mesh.x_labels(if text { nx } else { 0 })
        .y_labels(if text && a.y_ticks { ny } else { 0 })
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .label_style(font(TEXT_PX))
        .axis_desc_style(font(TEXT_PX))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(WHITE.mix(0.0))
        .axis_style(BLACK.mix(0.6));
    if text {
        if let Some(d) = a.x_desc {
            mesh.x_desc(d);
        }
        if let Some(d) = a.y_desc {
            mesh.y_desc(d);
        }
    }
    mesh.draw().map_err(|e| e.to_string())?;
    Ok(c)
}

/// Draws `pts` as a line of series `i` (dashed where [`dashed`] says).
fn series_line<DB: DrawingBackend>(
    c: &mut Chart<DB>,
    pts: Vec<(f64, f64)>,
    i: usize,
) -> DrawResult {
    let style = color(i).stroke_width(3);
    if dashed(i) {
        c.draw_series(DashedLineSeries::new(pts, 9, 6, style))
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else {
        c.draw_series(LineSeries::new(pts, style))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Draws a density curve filled in `fill` and outlined in `line` (none: no outline).
fn density_area<DB: DrawingBackend>(
    c: &mut Chart<DB>,
    pts: &[(f64, f64)],
    fill: RGBAColor,
    line: Option<ShapeStyle>,
) -> DrawResult {
    let mut area = AreaSeries::new(pts.iter().copied(), 0.0, fill);
    if let Some(l) = line {
        area = area.border_style(l);
    }
    c.draw_series(area).map(|_| ()).map_err(|e| e.to_string())
}

/// One panel of overlaid histograms (a few series), as densities.
fn hist_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &HistPanel,
    text: bool,
) -> DrawResult {
    let curves: Vec<Vec<(f64, f64)>> = p
        .hists
        .iter()
        .map(|h| density(&h.edges, &h.counts))
        .collect();
    let x = range(curves.iter().flatten().map(|q| q.0));
    let (_, y1) = range(curves.iter().flatten().map(|q| q.1));
    let axes = Axes {
        x,
        y: (0.0, y1.max(1e-12)),
        x_desc: Some("reward"),
        y_desc: Some("density"),
        y_ticks: true,
        title: Some(p.title.clone()),
        title_px: TITLE_PX,
    };
    let mut c = chart(area, &axes, text)?;
    for (i, pts) in curves.iter().enumerate() {
        density_area(
            &mut c,
            pts,
            color(i).mix(0.15),
            Some(color(i).stroke_width(3)),
        )?;
    }
    Ok(())
}

/// A grid's title, left-aligned in its strip.
fn grid_title<DB: DrawingBackend>(head: &DrawingArea<DB, Shift>, title: &str) -> DrawResult {
    let w = head.dim_in_pixel().0.saturating_sub(20);
    head.draw(&Text::new(
        fit(title, TITLE_PX, w),
        (12, GRID_TITLE_H as i32 / 2),
        left_text(TITLE_PX),
    ))
    .map_err(|e| e.to_string())
}

/// A sort key that orders the numbers inside a label by value, so that
/// `cat2` comes before `cat10`.
fn natural_key(label: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        let Some(mut n) = c.to_digit(10).map(u64::from) else {
            text.push(c);
            continue;
        };
        while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
            n = n.saturating_mul(10).saturating_add(u64::from(d));
            chars.next();
        }
        key.push((std::mem::take(&mut text), n));
    }
    key.push((text, 0));
    key
}

/// One grid of small multiples: a title strip, then one cell per
/// histogram on a shared x and density range, each with the pooled
/// distribution in light grey behind it; series colour `g`.
fn facet_grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &HistPanel,
    g: usize,
    text: bool,
) -> DrawResult {
    let (head, body) = area.split_vertically(GRID_TITLE_H);
    if text {
        grid_title(&head, &p.title)?;
    }
    let mut hists: Vec<&Hist> = p.hists.iter().collect();
    hists.sort_by_cached_key(|h| natural_key(&h.label));
    let pool = pooled(&p.hists);
    let curves: Vec<Vec<(f64, f64)>> = hists.iter().map(|h| density(&h.edges, &h.counts)).collect();
    let back = pool
        .map(|h| density(&h.edges, &h.counts))
        // default: no pooled histogram: no background curve.
        .unwrap_or_default();
    let x = range(curves.iter().flatten().map(|q| q.0));
    let (_, y1) = range(curves.iter().flatten().chain(&back).map(|q| q.1));
    let cells = body.split_evenly((p.hists.len().div_ceil(FACET_COLS).max(1), FACET_COLS));
    for ((cell, h), pts) in cells.iter().zip(hists).zip(&curves) {
        let w = cell.dim_in_pixel().0.saturating_sub(24);
        let axes = Axes {
            x,
            y: (0.0, y1.max(1e-12)),
            x_desc: None,
            y_desc: None,
            y_ticks: false,
            title: Some(fit(&h.label, TEXT_PX, w)),
            title_px: TEXT_PX,
        };
        let mut c = chart(cell, &axes, text)?;
        density_area(&mut c, &back, POOLED.to_rgba(), None)?;
        density_area(
            &mut c,
            pts,
            color(g).mix(0.25),
            Some(color(g).stroke_width(2)),
        )?;
    }
    Ok(())
}

/// One panel of a sweep: our mean ± sd across seeds per λ, the paper's
/// values as crosses.
fn sweep_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &SweepPanel,
    text: bool,
) -> DrawResult {
    let pts: Vec<SweepPoint> = p
        .points
        .iter()
        .copied()
        .filter(|q| q.mean.is_finite())
        .collect();
    let paper: Vec<(f64, f64)> = p
        .paper
        .iter()
        .copied()
        .filter(|q| q.1.is_finite())
        .collect();
    let sd = |q: &SweepPoint| q.sd.filter(|s| s.is_finite()).unwrap_or(0.0);
    let axes = Axes {
        x: range(
            pts.iter()
                .map(|q| q.lambda)
                .chain(paper.iter().map(|q| q.0)),
        ),
        y: range(
            pts.iter()
                .flat_map(|q| [q.mean - sd(q), q.mean + sd(q)])
                .chain(paper.iter().map(|q| q.1)),
        ),
        x_desc: Some(p.x_desc.as_deref().unwrap_or("λ_adv")),
        y_desc: None,
        y_ticks: true,
        title: Some(p.title.clone()),
        title_px: TITLE_PX,
    };
    let mut c = chart(area, &axes, text)?;
    let ours = color(0);
    series_line(&mut c, pts.iter().map(|q| (q.lambda, q.mean)).collect(), 0)?;
    // Error bars: a vertical segment from mean − sd to mean + sd, and the
    // mean as a dot (drawn by hand: plotters' ErrorBar needs a feature we
    // do not build).
    c.draw_series(pts.iter().filter(|q| sd(q) > 0.0).map(|q| {
        PathElement::new(
            vec![(q.lambda, q.mean - sd(q)), (q.lambda, q.mean + sd(q))],
            ours.stroke_width(2),
        )
    }))
    .map_err(|e| e.to_string())?;
    c.draw_series(
        pts.iter()
            .map(|q| Circle::new((q.lambda, q.mean), 5, ours.filled())),
    )
    .map_err(|e| e.to_string())?;
    c.draw_series(
        paper
            .iter()
            .map(|&q| Cross::new(q, 7, color(1).stroke_width(3))),
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// One panel of lines against a shared x, with an optional dashed grey
/// reference.
fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &LinePanel,
    text: bool,
) -> DrawResult {
    let finite = |q: &&(f64, f64)| q.0.is_finite() && q.1.is_finite();
    let all = || p.series.iter().flat_map(|s| s.1.iter().filter(finite));
    let axes = Axes {
        x: range(all().map(|q| q.0)),
        y: range(all().map(|q| q.1).chain(p.reference.iter().map(|r| r.1))),
        x_desc: Some(p.x_desc.as_str()),
        y_desc: None,
        y_ticks: true,
        title: Some(p.title.clone()),
        title_px: TITLE_PX,
    };
    let mut c = chart(area, &axes, text)?;
    if let Some((_, y)) = &p.reference {
        let (x0, x1) = axes.x;
        c.draw_series(DashedLineSeries::new(
            vec![(x0, *y), (x1, *y)],
            7,
            5,
            REFERENCE.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?;
    }
    for (i, (_, pts)) in p.series.iter().enumerate() {
        series_line(&mut c, pts.iter().filter(finite).copied().collect(), i)?;
    }
    Ok(())
}

/// Height of one grid of small multiples, px.
fn facet_grid_height(p: &HistPanel) -> u32 {
    GRID_TITLE_H + p.hists.len().div_ceil(FACET_COLS).max(1) as u32 * FACET_H
}

/// Per series index, the first non-empty label any panel gives it (panels
/// of one figure list their series in the same order and share colours).
fn labels_by_index<'a, P, S>(panels: P) -> Vec<(usize, String)>
where
    P: Iterator<Item = S>,
    S: Iterator<Item = &'a str>,
{
    let mut out: Vec<Option<String>> = Vec::new();
    for labels in panels {
        for (i, l) in labels.enumerate() {
            if out.len() <= i {
                out.resize(i + 1, None);
            }
            if out[i].is_none() && !l.is_empty() {
                out[i] = Some(l.to_string());
            }
        }
    }
    out.into_iter()
        .enumerate()
        .filter_map(|(i, l)| Some((i, l?)))
        .collect()
}

/// The legend of overlaid histograms: one entry per series.
fn hist_legend(panels: &[HistPanel]) -> Vec<Entry> {
    let labels = labels_by_index(
        panels
            .iter()
            .map(|p| p.hists.iter().map(|h| h.label.as_str())),
    );
    labels
        .into_iter()
        .map(|(i, label)| Entry {
            mark: Mark::Area(i),
            label,
        })
        .collect()
}

/// The legend of small multiples: each grid's colour, and the pooled grey.
fn facet_legend(grids: &[HistPanel]) -> Vec<Entry> {
    let mut v: Vec<Entry> = grids
        .iter()
        .enumerate()
        .map(|(g, p)| Entry {
            mark: Mark::Area(g),
            label: if grids.len() == 1 {
                "this category".into()
            } else {
                p.title.clone()
            },
        })
        .collect();
    v.push(Entry {
        mark: Mark::Pooled,
        label: "all categories pooled".into(),
    });
    v
}

/// The legend of a sweep: our means with error bars, the paper's crosses.
fn sweep_legend(panels: &[SweepPanel]) -> Vec<Entry> {
    let mut v = Vec::new();
    if panels.iter().any(|p| !p.points.is_empty()) {
        v.push(Entry {
            mark: Mark::LineDot(0),
            label: "ours: mean ± sd across seeds".into(),
        });
    }
    if panels.iter().any(|p| !p.paper.is_empty()) {
        v.push(Entry {
            mark: Mark::Cross(1),
            label: "the paper".into(),
        });
    }
    v
}

/// The legend of line panels: every labelled line, then every distinct
/// reference.
fn line_legend(panels: &[LinePanel]) -> Vec<Entry> {
    let labels = labels_by_index(panels.iter().map(|p| p.series.iter().map(|s| s.0.as_str())));
    let mut v: Vec<Entry> = labels
        .into_iter()
        .map(|(i, label)| Entry {
            mark: Mark::Line(i),
            label,
        })
        .collect();
    for (label, _) in panels.iter().filter_map(|p| p.reference.as_ref()) {
        if !v
            .iter()
            .any(|e| e.mark == Mark::Reference && &e.label == label)
        {
            v.push(Entry {
                mark: Mark::Reference,
                label: label.clone(),
            });
        }
    }
    v
}

impl Figure {
    /// The legend: what each colour and mark means, once per figure.
    fn legend(&self) -> Vec<Entry> {
        match self {
            Figure::Hists(panels) => hist_legend(panels),
            Figure::Facets(grids) => facet_legend(grids),
            Figure::Sweep(panels) => sweep_legend(panels),
            Figure::Lines(panels) => line_legend(panels),
        }
    }

    /// Height of the panels (below the legend), px.
    fn body_height(&self) -> u32 {
        let rows = |n: usize| n.div_ceil(PANEL_COLS).max(1) as u32;
        match self {
            Figure::Hists(p) => rows(p.len()) * PANEL_H,
            Figure::Facets(grids) => grids
                .iter()
                .map(facet_grid_height)
                .sum::<u32>()
                .max(FACET_H),
            Figure::Sweep(p) => rows(p.len()) * PANEL_H,
            Figure::Lines(p) => rows(p.len()) * PANEL_H,
        }
    }

    /// Pixel size: [`WIDTH`] wide, as tall as the legend and the panels.
    pub fn size(&self) -> (u32, u32) {
        let legend = if text_available() {
            legend::height(&self.legend())
        } else {
            0
        };
        (WIDTH, legend + self.body_height())
    }

    /// How many plotting panels are drawn (a small multiple counts as one).
    pub fn panels(&self) -> usize {
        match self {
            Figure::Hists(p) => p.len(),
            Figure::Facets(grids) => grids.iter().map(|g| g.hists.len()).sum(),
            Figure::Sweep(p) => p.len(),
            Figure::Lines(p) => p.len(),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, text: bool) -> DrawResult {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let entries = if text { self.legend() } else { Vec::new() };
        let (top, body) = root.split_vertically(legend::height(&entries));
        legend::draw(&top, &entries)?;
        let grid = |n: usize| {
            let cols = PANEL_COLS.min(n.max(1));
            body.split_evenly((n.div_ceil(cols).max(1), cols))
        };
        match self {
            Figure::Hists(panels) => {
                for (a, p) in grid(panels.len()).iter().zip(panels) {
                    hist_panel(a, p, text)?;
                }
            }
            Figure::Facets(grids) => {
                let mut rest = body.clone();
                for (g, p) in grids.iter().enumerate() {
                    let (here, below) = rest.split_vertically(facet_grid_height(p));
                    facet_grid(&here, p, g, text)?;
                    rest = below;
                }
            }
            Figure::Sweep(panels) => {
                for (a, p) in grid(panels.len()).iter().zip(panels) {
                    sweep_panel(a, p, text)?;
                }
            }
            Figure::Lines(panels) => {
                for (a, p) in grid(panels.len()).iter().zip(panels) {
                    line_panel(a, p, text)?;
                }
            }
        }
        root.present().map_err(|e| e.to_string())
    }

    /// Writes `<dir>/<stem>.png` and `<dir>/<stem>.svg`; returns the SVG text.
    ///
    /// # Errors
    /// Drawing, encoding or writing fails.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<String, FigureError> {
        let text = text_available();
        let (w, h) = self.size();
        let draw_err = |message| FigureError::Draw {
            figure: stem.to_string(),
            message,
        };
        let mut rgb = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            self.draw(&root, text).map_err(draw_err)?;
        }
        let png_path = dir.join(format!("{stem}.png"));
        let png_bytes = encode_png(&rgb, w, h).map_err(|message| FigureError::Png {
            figure: stem.to_string(),
            message,
        })?;
        std::fs::write(&png_path, png_bytes).map_err(|source| FigureError::Io {
            file: png_path,
            source,
        })?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
            self.draw(&root, text).map_err(draw_err)?;
        }
        let svg_path = dir.join(format!("{stem}.svg"));
        std::fs::write(&svg_path, &svg).map_err(|source| FigureError::Io {
            file: svg_path,
            source,
        })?;
        Ok(svg)
    }
}

/// RGB8 pixels → PNG bytes (default compression, no metadata, deterministic).
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| e.to_string())?;
        wr.write_image_data(rgb).map_err(|e| e.to_string())?;
        wr.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn the_bundled_font_registers() {
        assert!(text_available());
    }

    #[test]
    fn histograms_render_to_png_and_svg_and_are_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let fig = Figure::Hists(vec![HistPanel {
            title: "baseline λ=0".into(),
            hists: vec![
                Hist {
                    label: "helpful".into(),
                    edges: vec![0.0, 1.0, 2.0, 3.0],
                    counts: vec![1, 5, 2],
                },
                Hist {
                    label: "harmless".into(),
                    edges: vec![0.0, 1.0, 2.0, 3.0],
                    counts: vec![4, 1, 0],
                },
            ],
        }]);
        let svg = fig.write(dir.path(), "h").unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("helpful"),
            "{}",
            &svg[..200.min(svg.len())]
        );
        let (w, h, px) = decode(&dir.path().join("h.png"));
        assert_eq!((w, h), fig.size());
        assert_eq!(w, WIDTH);
        // Something other than the white background was drawn.
        assert!(px.iter().any(|&b| b < 200));
        let first = std::fs::read(dir.path().join("h.png")).unwrap();
        fig.write(dir.path(), "h").unwrap();
        assert_eq!(first, std::fs::read(dir.path().join("h.png")).unwrap());
    }

    #[test]
    fn a_sweep_with_error_bars_paper_marks_and_degenerate_values_renders() {
        let dir = tempfile::tempdir().unwrap();
        let pt = |lambda, mean, sd| SweepPoint { lambda, mean, sd };
        let fig = Figure::Sweep(vec![
            SweepPanel {
                title: "KS".into(),
                points: vec![pt(0.0, 0.4, Some(0.05)), pt(0.2, 0.1, Some(0.02))],
                paper: vec![(0.0, 0.43), (0.2, 0.10)],
                x_desc: None,
            },
            SweepPanel {
                title: "W1".into(),
                points: vec![pt(0.0, 1.0, None), pt(0.2, 1.0, None)],
                paper: vec![],
                x_desc: None,
            },
            SweepPanel {
                title: "MI".into(),
                points: vec![pt(0.0, f64::NAN, Some(f64::NAN))],
                paper: vec![(0.0, 0.2282)],
                x_desc: None,
            },
            SweepPanel {
                title: "BT accuracy".into(),
                points: vec![],
                paper: vec![],
                x_desc: None,
            },
        ]);
        let svg = fig.write(dir.path(), "s").unwrap();
        assert!(svg.contains("the paper"), "legend names the paper's marks");
        let (w, h, _) = decode(&dir.path().join("s.png"));
        assert_eq!((w, h), fig.size());
    }

    #[test]
    fn line_panels_with_a_chance_reference_render() {
        let dir = tempfile::tempdir().unwrap();
        let panel = |title: &str, reference| LinePanel {
            title: title.into(),
            x_desc: "epoch".into(),
            series: vec![
                (
                    "λ_adv = 0.2".into(),
                    vec![(1.0, 0.6), (2.0, 0.68), (3.0, f64::NAN)],
                ),
                ("λ_adv = 1".into(), vec![(1.0, 0.5), (2.0, 0.7)]),
            ],
            reference,
        };
        let fig = Figure::Lines(vec![
            panel("adversary CE", Some(("ln K".into(), 2f64.ln()))),
            panel("KS", None),
            LinePanel {
                title: "empty".into(),
                x_desc: "epoch".into(),
                series: vec![],
                reference: None,
            },
        ]);
        let svg = fig.write(dir.path(), "l").unwrap();
        assert!(svg.contains("ln K"), "the reference is labelled");
        let (w, h, _) = decode(&dir.path().join("l.png"));
        assert_eq!((w, h), fig.size());
    }

    /// The SVG `font-size` values (plotters writes one per text element).
    fn font_sizes(svg: &str) -> Vec<f64> {
        svg.split("font-size=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn text_is_at_least_sixteen_px_at_the_width_the_report_shows() {
        let fig = Figure::Lines(vec![LinePanel {
            title: "KS".into(),
            x_desc: "epoch".into(),
            series: vec![("λ_adv = 0.2".into(), vec![(1.0, 0.0499), (2.0, 0.0501)])],
            reference: Some(("chance".into(), 0.05)),
        }]);
        let dir = tempfile::tempdir().unwrap();
        let svg = fig.write(dir.path(), "t").unwrap();
        // report.html shows a figure at its own width when it fits the page.
        assert!(fig.size().0 <= 1100);
        let sizes = font_sizes(&svg);
        assert!(!sizes.is_empty());
        assert!(sizes.iter().all(|&s| s >= TEXT_PX - 0.01), "{sizes:?}");
        // Distinct tick labels on the narrow axis, no negative zero anywhere.
        // plotters writes each text on a line of its own.
        assert!(svg.contains("\n0.05000\n"), "{svg}");
        assert!(!svg.contains("\n-0") && !svg.contains("\n\u{2212}0\n"));
    }

    fn nineteen_categories() -> HistPanel {
        HistPanel {
            title: "baseline, λ_adv = 0".into(),
            hists: (0..19)
                .map(|c| Hist {
                    label: format!("cat{c}"),
                    edges: vec![0.0, 1.0, 2.0, 3.0, 4.0],
                    counts: vec![c, 10, 19 - c, 3],
                })
                .collect(),
        }
    }

    #[test]
    fn nineteen_categories_are_nineteen_small_multiples() {
        let fig = Figure::Facets(vec![nineteen_categories()]);
        assert_eq!(fig.panels(), 19);
        let dir = tempfile::tempdir().unwrap();
        let svg = fig.write(dir.path(), "f").unwrap();
        for c in 0..19 {
            assert!(svg.contains(&format!("\ncat{c}\n")), "cat{c} has its panel");
        }
        assert!(svg.contains("all categories pooled"));
        // Two grids (baseline and fair) stack: 38 panels, twice as tall.
        let two = Figure::Facets(vec![nineteen_categories(), nineteen_categories()]);
        assert_eq!(two.panels(), 38);
        assert_eq!(two.body_height(), 2 * fig.body_height());
    }

    #[test]
    fn every_axis_gets_at_least_three_labels() {
        // plotters gives 2 labels for at most 6 on this range, 7 for 8.
        let n = label_count(380, Y_PX_PER_LABEL, (0.0255, 0.0385));
        let coord: RangedCoordf64 = (0.0255..0.0385).into();
        assert!(coord.key_points(n).len() >= 3, "{n}");
        assert_eq!(label_count(380, Y_PX_PER_LABEL, (0.0, 1.0)), 6);
    }

    #[test]
    fn small_multiples_are_in_natural_order() {
        let mut labels = vec![
            "cat10", "cat2", "cat1", "harmless", "cat0", "b", "a10b", "a9c",
        ];
        labels.sort_by_cached_key(|l| natural_key(l));
        assert_eq!(
            labels,
            [
                "a9c", "a10b", "b", "cat0", "cat1", "cat2", "cat10", "harmless"
            ]
        );
    }

    #[test]
    fn the_pooled_distribution_adds_up_every_category() {
        let p = pooled(&nineteen_categories().hists).unwrap();
        assert_eq!(p.counts, vec![171, 190, 190, 57]);
    }

    #[test]
    fn legends_name_each_series_once_across_panels() {
        let panel = |labels: [&str; 2]| LinePanel {
            title: "t".into(),
            x_desc: "epoch".into(),
            series: labels
                .iter()
                .map(|l| (l.to_string(), vec![(1.0, 1.0)]))
                .collect(),
            reference: Some(("chance".into(), 0.5)),
        };
        let mut bare = panel(["", ""]);
        bare.reference = None;
        let fig = Figure::Lines(vec![panel(["a", "b"]), bare, panel(["", ""])]);
        let labels: Vec<String> = fig.legend().into_iter().map(|e| e.label).collect();
        assert_eq!(labels, ["a", "b", "chance"]);
    }

    #[test]
    fn long_titles_are_cut_to_fit() {
        assert!(text_available());
        let t = fit("Endangering National Security and more words", TEXT_PX, 150);
        assert!(t.ends_with("...") && text_width(&t, TEXT_PX) <= 150, "{t}");
        assert_eq!(fit("cat1", TEXT_PX, 150), "cat1");
    }
}
