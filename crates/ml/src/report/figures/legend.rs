//! A figure's legend, drawn in a strip of its own above the panels so that
//! it can never cover data: entries in equal columns, as many per row as
//! the figure's width holds.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{POOLED, REFERENCE, TEXT_PX, WIDTH, color, dashed, left_text, text_width};

/// How an entry's sample is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// Line of series `i` (its colour; dashed where [`dashed`] says so).
    Line(usize),
    /// Line of series `i` with a dot: a mean and its error bars.
    LineDot(usize),
    /// Filled histogram of series `i`.
    Area(usize),
    /// A cross in the colour of series `i`: the paper's values.
    Cross(usize),
    /// A dashed grey reference line (chance, ln K).
    Reference,
    /// The light grey pooled distribution behind small multiples.
    Pooled,
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its sample.
    pub mark: Mark,
    /// Its label.
    pub label: String,
}

/// Height of one legend row, px.
const ROW: u32 = 28;
/// Length of a sample, px.
const SAMPLE: i32 = 44;
/// Space between a sample and its label, px.
const GAP: u32 = 10;
/// Space after an entry's label, px.
const TRAIL: u32 = 28;
/// Left and right margin of the strip, px.
const PAD: u32 = 16;

/// Width of one legend column: the widest entry.
fn column_width(entries: &[Entry]) -> u32 {
    let widest = entries
        .iter()
        .map(|e| text_width(&e.label, TEXT_PX))
        .max()
        .unwrap_or(0);
    SAMPLE as u32 + GAP + widest + TRAIL
}

/// Entries per row.
fn columns(entries: &[Entry]) -> usize {
    let usable = WIDTH - 2 * PAD;
    ((usable / column_width(entries).max(1)) as usize).clamp(1, entries.len().max(1))
}

/// Height of the strip for `entries`; 0 for none.
pub fn height(entries: &[Entry]) -> u32 {
    if entries.is_empty() {
        return 0;
    }
    let rows = entries.len().div_ceil(columns(entries)) as u32;
    rows * ROW + 12
}

/// Draws `entries` into `area` (as tall as [`height`] says).
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<(), String> {
    let cols = columns(entries);
    let colw = column_width(entries) as i32;
    for (k, e) in entries.iter().enumerate() {
        let x = PAD as i32 + (k % cols) as i32 * colw;
        let y = 6 + (k / cols) as i32 * ROW as i32 + ROW as i32 / 2;
        sample(area, e.mark, x, y)?;
        area.draw(&Text::new(
            e.label.clone(),
            (x + SAMPLE + GAP as i32, y),
            left_text(TEXT_PX),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Draws the sample of `mark` from `(x, y)` to `(x + SAMPLE, y)`.
fn sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    mark: Mark,
    x: i32,
    y: i32,
) -> Result<(), String> {
    let line = vec![(x, y), (x + SAMPLE, y)];
    let boxed = [(x, y - 8), (x + SAMPLE, y + 8)];
    let r = match mark {
        Mark::Line(i) if dashed(i) => area.draw(&plotters::element::DashedPathElement::new(
            line,
            9,
            6,
            color(i).stroke_width(3),
        )),
        Mark::Line(i) => area.draw(&PathElement::new(line, color(i).stroke_width(3))),
        Mark::LineDot(i) => area
            .draw(&PathElement::new(line, color(i).stroke_width(3)))
            .and_then(|_| area.draw(&Circle::new((x + SAMPLE / 2, y), 5, color(i).filled()))),
        Mark::Area(i) => area
            .draw(&Rectangle::new(boxed, color(i).mix(0.25).filled()))
            .and_then(|_| area.draw(&Rectangle::new(boxed, color(i).stroke_width(2)))),
        Mark::Cross(i) => area.draw(&Cross::new(
            (x + SAMPLE / 2, y),
            7,
            color(i).stroke_width(3),
        )),
        Mark::Reference => area.draw(&plotters::element::DashedPathElement::new(
            line,
            7,
            5,
            REFERENCE.stroke_width(2),
        )),
        Mark::Pooled => area.draw(&Rectangle::new(boxed, POOLED.filled())),
    };
    r.map_err(|e| e.to_string())
}
