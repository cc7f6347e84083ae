//! A table too wide for the page, shown as parts that fit: the HTML page
//! keeps every column, but a reader at 1,400 px should not have to scroll
//! sideways to reach the verdict. The row-label columns (the leading text
//! columns, at most [`MAX_KEYS`]) repeat in every part; the other columns
//! go, in order, into as few parts as fit [`PAGE_PX`]. Widths are
//! estimated from the text (a cell that must not wrap counts in full, a
//! long one at its wrapping width), which is all the page needs: the
//! Markdown, LaTeX and CSV renderings keep the table whole.

use super::html::is_numeric as numeric;
use super::table::{Cell, Table};

/// Width a part may take, px: a 1,400 px window less margins and scrollbar.
pub const PAGE_PX: f64 = 1300.0;
/// Row-label columns repeated in every part, at most.
pub const MAX_KEYS: usize = 2;
/// Average advance of a character of 14 px sans-serif text, px.
const CHAR_PX: f64 = 7.0;
/// Padding and border of a cell, px.
const CELL_PX: f64 = 14.0;
/// Characters a long text cell wraps at (`td.long{min-width:14em}`).
const LONG_CHARS: usize = 28;

/// The widest unbreakable run of a cell: a number in full up to an
/// interval, which breaks onto its own line; a long text at its wrapping
/// width; a short text in full.
fn cell_chars(c: &Cell) -> usize {
    let t = c.text.as_str();
    if numeric(t) {
        t.split(" [").map(|p| p.chars().count()).max().unwrap_or(0)
    } else {
        t.chars().count().min(LONG_CHARS.max(longest_word(t)))
    }
}

/// The longest word of a header (headers wrap between words).
fn longest_word(t: &str) -> usize {
    t.split_whitespace()
        .map(|w| w.chars().count())
        .max()
        .unwrap_or(0)
}

/// Estimated width of column `j`, px.
fn column_px(t: &Table, j: usize) -> f64 {
    let cells = t.rows.iter().filter_map(|r| r.get(j)).map(cell_chars);
    let header = t.header.get(j).map_or(0, |h| longest_word(h));
    cells.chain([header]).max().unwrap_or(0) as f64 * CHAR_PX + CELL_PX
}

/// The leading row-label columns: text that is never a number nor a
/// measured value, at most [`MAX_KEYS`].
fn key_columns(t: &Table) -> usize {
    (0..t.header.len().min(MAX_KEYS))
        .take_while(|&j| {
            t.rows
                .iter()
                .filter_map(|r| r.get(j))
                .all(|c| c.source.is_none() && !numeric(&c.text))
        })
        .count()
        .max(1)
        .min(t.header.len())
}

/// The table with only columns `cols`, named `stem`.
fn select(t: &Table, cols: &[usize], stem: String, caption: String) -> Table {
    let pick = |row: &[Cell]| -> Vec<Cell> {
        cols.iter()
            .map(|&j| row.get(j).cloned().unwrap_or_else(Cell::missing))
            .collect()
    };
    Table {
        stem,
        caption,
        header: cols
            .iter()
            // default: a column past the header (a ragged table) gets an empty heading.
            .map(|&j| t.header.get(j).cloned().unwrap_or_default())
            .collect(),
        rows: t.rows.iter().map(|r| pick(r)).collect(),
    }
}

/// `t` as parts that each fit [`PAGE_PX`]; one part (the table itself)
/// when it fits or cannot be split. Part k > 1 is named `<stem>-k`; the
/// caption goes with the last part, the others point to it.
pub fn split(t: &Table) -> Vec<Table> {
    let n = t.header.len();
    let widths: Vec<f64> = (0..n).map(|j| column_px(t, j)).collect();
    if widths.iter().sum::<f64>() <= PAGE_PX {
        return vec![t.clone()];
    }
    let keys = key_columns(t);
    let key_px: f64 = widths[..keys].iter().sum();
    let mut groups: Vec<Vec<usize>> = vec![];
    let mut current: Vec<usize> = vec![];
    let mut used = key_px;
    for (j, w) in widths.iter().enumerate().skip(keys) {
        if !current.is_empty() && used + w > PAGE_PX {
            groups.push(std::mem::take(&mut current));
            used = key_px;
        }
        current.push(j);
        used += w;
    }
    if !current.is_empty() {
        groups.push(current);
    }
    if groups.len() < 2 {
        return vec![t.clone()];
    }
    let last = groups.len();
    groups
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            let cols: Vec<usize> = (0..keys).chain(g).collect();
            let stem = if i == 0 {
                t.stem.clone()
            } else {
                format!("{}-{}", t.stem, i + 1)
            };
            let caption = if i + 1 == last {
                t.caption.clone()
            } else {
                format!(
                    "Part {} of {last}: the table's other columns follow, with its caption.",
                    i + 1
                )
            };
            select(t, &cols, stem, caption)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cols: usize, cell: &str) -> Table {
        let mut header = vec!["label".to_string()];
        header.extend((1..cols).map(|j| format!("column {j}")));
        let mut row = vec![Cell::text("row one")];
        row.extend((1..cols).map(|_| Cell::from_source(cell, 0)));
        Table {
            stem: "t".into(),
            caption: "the caption".into(),
            header,
            rows: vec![row.clone(), row],
        }
    }

    #[test]
    fn a_narrow_table_stays_whole() {
        let t = table(4, "0.25 ± 0.01");
        assert_eq!(split(&t), vec![t]);
    }

    #[test]
    fn a_wide_table_splits_with_its_labels_in_every_part() {
        // 16 columns of "0.0252 ± 0.0540 [-0.2072, 0.2576]": each breaks
        // before its interval, 18 characters ≈ 140 px; 15 of them ≈ 2,100 px.
        let t = table(16, "0.0252 ± 0.0540 [-0.2072, 0.2576]");
        let parts = split(&t);
        assert!(parts.len() >= 2, "{}", parts.len());
        let mut seen: Vec<String> = vec![];
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.header[0], "label", "part {i} keeps the row label");
            assert_eq!(p.rows[0][0].text, "row one");
            let px: f64 = (0..p.header.len()).map(|j| column_px(p, j)).sum();
            assert!(px <= PAGE_PX, "part {i}: {px} px");
            seen.extend(p.header[1..].iter().cloned());
        }
        assert_eq!(seen, t.header[1..].to_vec(), "every column once, in order");
        assert_eq!(parts[0].stem, "t");
        assert_eq!(parts[1].stem, "t-2");
        assert_eq!(parts.last().unwrap().caption, "the caption");
        assert!(parts[0].caption.starts_with("Part 1 of"));
    }

    #[test]
    fn measured_values_are_never_row_labels() {
        let t = table(16, "0.0252 ± 0.0540 [-0.2072, 0.2576]");
        assert_eq!(key_columns(&t), 1);
        let mut two = t.clone();
        for r in &mut two.rows {
            r[1] = Cell::text("KS");
        }
        assert_eq!(key_columns(&two), 2);
    }
}
