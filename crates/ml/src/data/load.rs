//! The row loop shared by every line-based format: read, parse, keep, drop or skip.

use std::path::Path;

use serde::Serialize;

use super::drops::{Drops, OnBadRows};
use super::error::DataError;
use super::lines::Lines;
use super::row::RowError;

/// What a format made of one well-formed row.
#[derive(Debug)]
pub enum Parsed<T> {
    /// Keep these items (usually one; PKU `explode` may give several).
    Keep(Vec<T>),
    /// A well-formed row that the format's rules drop, with the reason.
    Drop(String),
}

/// Counts of one load.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadStats {
    /// Non-blank lines (or rows) read.
    pub rows_read: usize,
    /// Items kept.
    pub kept: usize,
    /// Well-formed rows dropped by the format's rules, by reason.
    pub dropped: Drops,
    /// Malformed rows skipped under `on_bad_rows: skip`, by field and reason.
    pub bad_rows: Drops,
}

/// Reads a JSON-lines file (plain or gzip) through `parse`, one object per line.
///
/// A malformed row is an error naming `file:line` and the field, unless
/// `on_bad` is [`OnBadRows::Skip`], in which case it is counted in
/// [`LoadStats::bad_rows`]. A file with no rows at all is [`DataError::Empty`].
pub fn load_jsonl<T>(
    path: &Path,
    on_bad: OnBadRows,
    mut parse: impl FnMut(
        usize,
        &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Parsed<T>, RowError>,
) -> Result<(Vec<T>, LoadStats), DataError> {
    let name = file_name(path);
    let mut out = Vec::new();
    let mut stats = LoadStats::default();
    for item in Lines::open(path)? {
        let (line, text) = item?;
        stats.rows_read += 1;
        let res = super::row::parse_object(&text).and_then(|obj| parse(line, &obj));
        handle(&mut out, &mut stats, res, path, &name, line, on_bad)?;
    }
    if stats.rows_read == 0 {
        return Err(DataError::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok((out, stats))
}

/// Applies one row's outcome to the running output and counts.
pub fn handle<T>(
    out: &mut Vec<T>,
    stats: &mut LoadStats,
    res: Result<Parsed<T>, RowError>,
    path: &Path,
    name: &str,
    line: usize,
    on_bad: OnBadRows,
) -> Result<(), DataError> {
    match res {
        Ok(Parsed::Keep(items)) => {
            stats.kept += items.len();
            out.extend(items);
        }
        Ok(Parsed::Drop(reason)) => stats.dropped.add(&reason, format!("{name}:{line}")),
        Err(e) => match on_bad {
            OnBadRows::Error => return Err(DataError::row(path, line, e.field, e.message)),
            OnBadRows::Skip => stats.bad_rows.add(&e.reason(), format!("{name}:{line}")),
        },
    }
    Ok(())
}

/// The last component of `path`, for ids and examples.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
