//! The report's figures, drawn with plotters into PNG (bitmap backend,
//! encoded with the `png` crate) and SVG: reward histograms by category
//! (Figures 1–4), chosen vs rejected (Figures 5–6), baseline vs fair side by
//! side, and the λ sweep (mean ± sd across seeds as error bars, the
//! paper's values as red crosses).
//!
//! Text is drawn with a bundled subset of DejaVu Sans
//! (`assets/fonts/DejaVuSans-subset.ttf`, ASCII plus ± · λ Δ – — −), so no
//! system font is needed and the bytes do not depend on the machine. If the
//! font cannot be registered the figures are drawn without any text (no
//! titles, tick labels or legends) rather than failing.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

/// The bundled font.
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");

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
    /// Histogram panels side by side.
    Hists(Vec<HistPanel>),
    /// Sweep panels on a grid of two rows.
    Sweep(Vec<SweepPanel>),
    /// Line panels on a grid of two rows.
    Lines(Vec<LinePanel>),
}

type DrawResult = Result<(), String>;

fn density(h: &Hist) -> Vec<(f64, f64)> {
    let n: u64 = h.counts.iter().sum();
    let mut pts = Vec::with_capacity(2 * h.counts.len());
    for (i, &c) in h.counts.iter().enumerate() {
        let (a, b) = (h.edges[i], h.edges[i + 1]);
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

fn hist_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &HistPanel,
    text: bool,
) -> DrawResult {
    let curves: Vec<Vec<(f64, f64)>> = p.hists.iter().map(density).collect();
    let (x0, x1) = range(curves.iter().flatten().map(|q| q.0));
    let (_, y1) = range(curves.iter().flatten().map(|q| q.1));
    let mut b = ChartBuilder::on(area);
    b.margin(10)
        .x_label_area_size(if text { 35 } else { 5 })
        .y_label_area_size(if text { 55 } else { 5 });
    if text {
        b.caption(&p.title, ("sans-serif", 18));
    }
    let mut chart = b
        .build_cartesian_2d(x0..x1, 0.0..y1.max(1e-12))
        .map_err(|e| e.to_string())?;
    if text {
        chart
            .configure_mesh()
            .x_desc("reward")
            .y_desc("density")
            .draw()
            .map_err(|e| e.to_string())?;
    }
    for (i, (h, pts)) in p.hists.iter().zip(&curves).enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let s = chart
            .draw_series(
                AreaSeries::new(pts.iter().copied(), 0.0, color.mix(0.2))
                    .border_style(color.stroke_width(2)),
            )
            .map_err(|e| e.to_string())?;
        if text {
            s.label(h.label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

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
    let (x0, x1) = range(
        pts.iter()
            .map(|q| q.lambda)
            .chain(paper.iter().map(|q| q.0)),
    );
    let (y0, y1) = range(
        pts.iter()
            .flat_map(|q| [q.mean - sd(q), q.mean + sd(q)])
            .chain(paper.iter().map(|q| q.1)),
    );
    let mut b = ChartBuilder::on(area);
    b.margin(10)
        .x_label_area_size(if text { 35 } else { 5 })
        .y_label_area_size(if text { 60 } else { 5 });
    if text {
        b.caption(&p.title, ("sans-serif", 18));
    }
    let mut chart = b
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?;
    if text {
        chart
            .configure_mesh()
            .x_desc("λ_adv")
            .draw()
            .map_err(|e| e.to_string())?;
    }
    let s = chart
        .draw_series(LineSeries::new(
            pts.iter().map(|q| (q.lambda, q.mean)),
            BLUE.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?;
    if text {
        s.label("ours (mean ± sd across seeds)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    }
    // Error bars: a vertical segment from mean − sd to mean + sd, and the
    // mean as a dot (drawn by hand: plotters' ErrorBar needs a feature we
    // do not build).
    chart
        .draw_series(pts.iter().filter(|q| sd(q) > 0.0).map(|q| {
            PathElement::new(
                vec![(q.lambda, q.mean - sd(q)), (q.lambda, q.mean + sd(q))],
                BLUE.stroke_width(2),
            )
        }))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(
            pts.iter()
                .map(|q| Circle::new((q.lambda, q.mean), 4, BLUE.filled())),
        )
        .map_err(|e| e.to_string())?;
    if !paper.is_empty() {
        let s = chart
            .draw_series(paper.iter().map(|&q| Cross::new(q, 6, RED.stroke_width(2))))
            .map_err(|e| e.to_string())?;
        if text {
            s.label("paper")
                .legend(|(x, y)| Cross::new((x + 10, y), 6, RED.stroke_width(2)));
        }
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &LinePanel,
    text: bool,
) -> DrawResult {
    let finite = |q: &&(f64, f64)| q.0.is_finite() && q.1.is_finite();
    let all = || p.series.iter().flat_map(|s| s.1.iter().filter(finite));
    let (x0, x1) = range(all().map(|q| q.0));
    let (y0, y1) = range(all().map(|q| q.1).chain(p.reference.iter().map(|r| r.1)));
    let mut b = ChartBuilder::on(area);
    b.margin(10)
        .x_label_area_size(if text { 35 } else { 5 })
        .y_label_area_size(if text { 60 } else { 5 });
    if text {
        b.caption(&p.title, ("sans-serif", 18));
    }
    let mut chart = b
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?;
    if text {
        chart
            .configure_mesh()
            .x_desc(p.x_desc.as_str())
            .draw()
            .map_err(|e| e.to_string())?;
    }
    if let Some((label, y)) = &p.reference {
        let y = *y;
        let dashes = DashedLineSeries::new(vec![(x0, y), (x1, y)], 6, 4, BLACK.stroke_width(1));
        let s = chart.draw_series(dashes).map_err(|e| e.to_string())?;
        if text {
            s.label(label.clone())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        }
    }
    for (i, (label, pts)) in p.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(f64, f64)> = pts.iter().filter(finite).copied().collect();
        let s = chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        if text && !label.is_empty() {
            s.label(label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
    }
    let labelled = p.reference.is_some() || p.series.iter().any(|s| !s.0.is_empty());
    if text && labelled {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl Figure {
    /// Pixel size.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Figure::Hists(p) => (640 * p.len().max(1) as u32, 480),
            Figure::Sweep(p) => (500 * p.len().div_ceil(2).max(1) as u32, 760),
            Figure::Lines(p) => (500 * p.len().div_ceil(2).max(1) as u32, 760),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, text: bool) -> DrawResult {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        match self {
            Figure::Hists(panels) => {
                let areas = root.split_evenly((1, panels.len().max(1)));
                for (a, p) in areas.iter().zip(panels) {
                    hist_panel(a, p, text)?;
                }
            }
            Figure::Sweep(panels) => {
                let areas = root.split_evenly((2, panels.len().div_ceil(2).max(1)));
                for (a, p) in areas.iter().zip(panels) {
                    sweep_panel(a, p, text)?;
                }
            }
            Figure::Lines(panels) => {
                let areas = root.split_evenly((2, panels.len().div_ceil(2).max(1)));
                for (a, p) in areas.iter().zip(panels) {
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
        assert_eq!((w, h), (640, 480));
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
            },
            SweepPanel {
                title: "W1".into(),
                points: vec![pt(0.0, 1.0, None), pt(0.2, 1.0, None)],
                paper: vec![],
            },
            SweepPanel {
                title: "MI".into(),
                points: vec![pt(0.0, f64::NAN, Some(f64::NAN))],
                paper: vec![(0.0, 0.2282)],
            },
            SweepPanel {
                title: "BT accuracy".into(),
                points: vec![],
                paper: vec![],
            },
        ]);
        let svg = fig.write(dir.path(), "s").unwrap();
        assert!(svg.contains("paper"), "legend names the paper's marks");
        let (w, h, _) = decode(&dir.path().join("s.png"));
        assert_eq!((w, h), (1000, 760));
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
        assert_eq!((w, h), (1000, 760));
    }
}
