//! The figures' look: sizes as a reader sees them, the colour-blind-safe
//! palette, and tick labels whose decimals follow the axis.
//!
//! `report.html` inlines every SVG at its own pixel size (the page is 1,100
//! px wide; [`WIDTH`] fits in it), so a font size here is the size on
//! screen at a 1,400 px window. Issue 22 asked for tick labels and legends
//! at least 11 px high: ticks and legends are 16 px text (digits about 11.7
//! px high in DejaVu Sans), titles 19 px.

use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width of every figure, px: the width it is shown at in `report.html`.
pub const WIDTH: u32 = 1080;

/// plotters writes an SVG `font-size` of its text size / 1.24 (plotters-svg
/// 0.3.7, `draw_text`) and its bitmap text is about as large, so a size on
/// screen is multiplied by this to get plotters' size.
const PLOTTERS_PER_PX: f64 = 1.24;

/// Tick labels, legends and axis names, px on screen.
pub const TEXT_PX: f64 = 16.0;

/// Panel titles, px on screen.
pub const TITLE_PX: f64 = 19.0;

/// The bundled font at `px` pixels on screen.
pub fn font(px: f64) -> FontDesc<'static> {
    ("sans-serif", px * PLOTTERS_PER_PX).into_font()
}

/// Black text at `px` pixels, anchored at its left end and vertical centre.
pub fn left_text(px: f64) -> TextStyle<'static> {
    font(px)
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center))
}

/// Width in pixels of `text` at `px`; an estimate of 0.6 em per character
/// when the font cannot measure it.
pub fn text_width(text: &str, px: f64) -> u32 {
    font(px)
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or_else(|_| (0.6 * px * text.chars().count() as f64).ceil() as u32)
}

/// The colours of Okabe & Ito's colour-universal palette ("Color Universal
/// Design", 2008) that keep at least 3:1 contrast on white (WCAG 2.1,
/// non-text contrast): blue 5.2:1, vermillion 3.9:1, bluish green 3.4:1,
/// reddish purple 3.1:1, black 21:1. Their orange (2.2:1), sky blue
/// (2.3:1) and yellow (1.3:1) are left out. Series beyond these five are
/// drawn dashed (see [`dashed`]).
pub const PALETTE: [RGBColor; 5] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x00, 0x00, 0x00),
];

/// The colour of series `i`.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Whether series `i` is drawn dashed: every pass through the palette after
/// the first alternates solid and dashed, so two series never look alike
/// until there are ten.
pub fn dashed(i: usize) -> bool {
    (i / PALETTE.len()) % 2 == 1
}

/// Grey of reference lines (chance, ln K): 5.7:1 on white.
pub const REFERENCE: RGBColor = RGBColor(0x66, 0x66, 0x66);

/// Light grey of the pooled distribution behind each small multiple.
pub const POOLED: RGBColor = RGBColor(0xD9, 0xD9, 0xD9);

/// How one axis writes its tick labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickFormat {
    /// Scientific notation instead of fixed decimals.
    pub sci: bool,
    /// Decimals (of the mantissa, in scientific notation).
    pub decimals: usize,
    /// A value of smaller magnitude is written as 0: float noise at a tick
    /// meant to be 0 (plotters' steps can give −1e−17).
    pub zero_below: f64,
}

/// The most decimals a label gets (beyond this, ticks are f64 noise).
const MAX_DECIMALS: usize = 15;

impl TickFormat {
    /// `decimals` fixed decimals, nothing snapped to 0.
    pub fn fixed(decimals: usize) -> Self {
        Self {
            sci: false,
            decimals,
            zero_below: 0.0,
        }
    }

    /// The format of the ticks plotters draws on `lo..hi` when asked for at
    /// most `labels` of them (the mesh's `x_labels` / `y_labels`).
    pub fn for_axis(lo: f64, hi: f64, labels: usize) -> Self {
        let coord: RangedCoordf64 = (lo..hi).into();
        Self::for_ticks(&coord.key_points(labels))
    }

    /// The fewest decimals that resolve the step between ticks and write
    /// every tick differently; scientific notation when the largest tick is
    /// at least 1e5 or below 1e-3 (but not 0).
    pub fn for_ticks(ticks: &[f64]) -> Self {
        let big = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
        let sci = big >= 1e5 || (big > 0.0 && big < 1e-3);
        let step = min_step(ticks).unwrap_or(if big > 0.0 { big } else { 1.0 });
        let digits_step = if sci {
            step / 10f64.powf(big.log10().floor())
        } else {
            step
        };
        let first = (-digits_step.log10() - 1e-9)
            .ceil()
            .clamp(0.0, MAX_DECIMALS as f64) as usize;
        let make = |decimals| Self {
            sci,
            decimals,
            zero_below: 1e-6 * step,
        };
        (first..=MAX_DECIMALS)
            .map(make)
            .find(|f| f.distinct(ticks))
            .unwrap_or(make(MAX_DECIMALS))
    }

    /// Whether every tick gets its own label.
    fn distinct(self, ticks: &[f64]) -> bool {
        let mut labels: Vec<String> = ticks.iter().map(|&t| self.format(t)).collect();
        labels.sort();
        labels.dedup();
        labels.len() == ticks.len()
    }

    /// The label of `v`: a true minus sign, and never a negative zero.
    pub fn format(self, v: f64) -> String {
        let d = self.decimals;
        let v = if v.abs() < self.zero_below { 0.0 } else { v };
        let s = if self.sci {
            format!("{v:.d$e}")
        } else {
            format!("{v:.d$}")
        };
        let mantissa = s.split('e').next().unwrap_or("");
        if mantissa.chars().all(|c| matches!(c, '-' | '0' | '.')) {
            // Zero, or a negative number that rounds to it: no sign.
            if self.sci {
                "0".to_string()
            } else {
                format!("{:.d$}", 0.0)
            }
        } else {
            s.replace('-', "\u{2212}")
        }
    }
}

/// The smallest positive gap between consecutive ticks.
fn min_step(ticks: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = ticks.iter().copied().filter(|t| t.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .min_by(f64::total_cmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG 2.1 relative luminance of an sRGB colour.
    fn luminance(c: RGBColor) -> f64 {
        let lin = |u: u8| {
            let c = f64::from(u) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
    }

    fn contrast_on_white(c: RGBColor) -> f64 {
        1.05 / (luminance(c) + 0.05)
    }

    #[test]
    fn every_series_colour_has_three_to_one_contrast_on_white() {
        for c in PALETTE.iter().chain([&REFERENCE]) {
            let r = contrast_on_white(*c);
            assert!(r >= 3.0, "{c:?}: {r:.2}:1");
        }
        // The reference values of the WCAG formula: yellow fails, as it should.
        assert!(contrast_on_white(RGBColor(0xF0, 0xE4, 0x42)) < 1.5);
        assert!((contrast_on_white(BLACK) - 21.0).abs() < 1e-9);
    }

    #[test]
    fn series_beyond_the_palette_are_dashed_so_ten_look_different() {
        let looks: Vec<(RGBColor, bool)> = (0..10).map(|i| (color(i), dashed(i))).collect();
        for (i, a) in looks.iter().enumerate() {
            for b in &looks[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_narrow_axis_gets_distinct_labels() {
        // The PPO β axis that printed "0.05" five times.
        let f = TickFormat::for_axis(0.0499, 0.0501, 6);
        let coord: RangedCoordf64 = (0.0499..0.0501).into();
        let ticks = coord.key_points(6);
        assert!(ticks.len() >= 3, "{ticks:?}");
        let labels: Vec<String> = ticks.iter().map(|&t| f.format(t)).collect();
        let mut uniq = labels.clone();
        uniq.dedup();
        assert_eq!(uniq, labels, "{labels:?}");
        assert!(labels.iter().all(|l| l.starts_with("0.0")), "{labels:?}");
        assert!(labels.iter().all(|l| l.len() <= 7), "{labels:?}");
    }

    fn shape(ticks: &[f64]) -> (bool, usize) {
        let f = TickFormat::for_ticks(ticks);
        (f.sci, f.decimals)
    }

    #[test]
    fn decimals_follow_the_tick_step() {
        assert_eq!(shape(&[0.0, 0.5, 1.0]), (false, 1));
        assert_eq!(shape(&[-10.0, 0.0, 10.0]), (false, 0));
        assert_eq!(shape(&[0.1, 0.15, 0.2]), (false, 2));
        assert_eq!(shape(&[1.0]), (false, 0));
        assert_eq!(shape(&[]), (false, 0));
        let tiny = TickFormat::for_ticks(&[-1e-27, 2e-11, 4e-11]);
        assert!(tiny.sci && tiny.decimals == 0, "{tiny:?}");
        assert_eq!(tiny.format(-1e-27), "0");
        assert_eq!(tiny.format(2e-11), "2e\u{2212}11");
        assert_eq!(TickFormat::fixed(1).format(-1.5), "\u{2212}1.5");
    }

    #[test]
    fn no_label_is_a_negative_zero() {
        let sci = TickFormat {
            sci: true,
            decimals: 1,
            zero_below: 1e-9,
        };
        for f in [
            TickFormat::fixed(0),
            TickFormat::fixed(1),
            TickFormat::fixed(3),
            sci,
        ] {
            for v in [-0.0, -1e-17, -0.00004, 1e-17] {
                let s = f.format(v);
                if f.sci && v == -0.00004 {
                    continue;
                }
                assert!(
                    !s.starts_with('-') && !s.starts_with('\u{2212}'),
                    "{f:?} {v}: {s}"
                );
            }
        }
        assert_eq!(TickFormat::fixed(1).format(-0.04), "0.0");
        // An axis whose key point comes out as -1e-17 from float steps.
        let f = TickFormat::for_axis(-0.3, 0.3, 6);
        let coord: RangedCoordf64 = (-0.3..0.3).into();
        for t in coord.key_points(6) {
            assert!(!f.format(t).contains("\u{2212}0.0") || t < -0.01, "{t}");
        }
    }
}
