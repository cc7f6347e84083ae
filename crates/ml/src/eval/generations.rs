//! `generations.parquet`: one policy's responses to a prompt set (the output
//! of `eval.generate`, the input of `eval.parity` and `eval.diversity`).
//!
//! Columns: `prompt_id` (unique), `category`, `prompt`, `response` (decoded,
//! special tokens skipped), `tokens` (Int64: generated tokens, EOS not
//! counted). Rows keep the prompt set's order, so the generations of two
//! policies on one prompt set align row by row.

use std::collections::BTreeSet;
use std::path::Path;

use polars::prelude::{Column, DataType};

use crate::parquet::{TableError, read_frame, str_column, write_frame};

/// File name of the table.
pub const GENERATIONS_FILE: &str = "generations.parquet";

const COLUMNS: [&str; 5] = ["prompt_id", "category", "prompt", "response", "tokens"];

/// One generated response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRow {
    /// The prompt's id in its prompt set.
    pub prompt_id: String,
    /// The prompt's category (`helpful`, `harmless`, LIMA's source…).
    pub category: String,
    /// The prompt text (before any chat template).
    pub prompt: String,
    /// The decoded response.
    pub response: String,
    /// Generated tokens, EOS not counted.
    pub tokens: u32,
}

/// Writes `rows`.
///
/// # Errors
/// An I/O or Parquet error.
pub fn write_generations(path: &Path, rows: &[GenerationRow]) -> Result<(), TableError> {
    let s = |f: fn(&GenerationRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    write_frame(
        path,
        rows.len(),
        vec![
            Column::new("prompt_id".into(), s(|r| r.prompt_id.as_str())),
            Column::new("category".into(), s(|r| r.category.as_str())),
            Column::new("prompt".into(), s(|r| r.prompt.as_str())),
            Column::new("response".into(), s(|r| r.response.as_str())),
            Column::new(
                "tokens".into(),
                rows.iter()
                    .map(|r| i64::from(r.tokens))
                    .collect::<Vec<i64>>(),
            ),
        ],
    )
}

/// Reads and checks a generations table: every column present, no nulls,
/// at least one row, unique `prompt_id`s, `tokens` ≥ 0.
///
/// # Errors
/// Every breach, as a [`TableError`] naming the file, column and row.
pub fn read_generations(path: &Path) -> Result<Vec<GenerationRow>, TableError> {
    let df = read_frame(path)?;
    let ids = str_column(&df, "prompt_id", path, &COLUMNS)?;
    let cats = str_column(&df, "category", path, &COLUMNS)?;
    let prompts = str_column(&df, "prompt", path, &COLUMNS)?;
    let responses = str_column(&df, "response", path, &COLUMNS)?;
    let col = df.column("tokens").map_err(|_| TableError::MissingColumn {
        file: path.to_path_buf(),
        column: "tokens".into(),
        expected: COLUMNS.join(", "),
    })?;
    let wrong = || TableError::WrongType {
        file: path.to_path_buf(),
        column: "tokens".into(),
        expected: "integer",
        found: col.dtype().to_string(),
    };
    if !col.dtype().is_integer() {
        return Err(wrong());
    }
    let cast = col.cast(&DataType::Int64).map_err(|_| wrong())?;
    let tokens: Vec<Option<i64>> = cast.i64().map_err(|_| wrong())?.iter().collect();
    if ids.is_empty() {
        return Err(TableError::Empty {
            file: path.to_path_buf(),
        });
    }
    let mut seen = BTreeSet::new();
    let mut rows = Vec::with_capacity(ids.len());
    for (i, id) in ids.into_iter().enumerate() {
        let row = i + 1;
        let t = tokens[i].ok_or_else(|| TableError::Null {
            file: path.to_path_buf(),
            column: "tokens".into(),
            row,
        })?;
        let t = u32::try_from(t).map_err(|_| TableError::BadValue {
            file: path.to_path_buf(),
            column: "tokens".into(),
            row,
            found: t.to_string(),
            allowed: "0 ≤ tokens < 2^32",
        })?;
        if !seen.insert(id.clone()) {
            return Err(TableError::Duplicate {
                file: path.to_path_buf(),
                row,
                what: "prompt_id",
                key: id,
            });
        }
        rows.push(GenerationRow {
            prompt_id: id,
            category: cats[i].clone(),
            prompt: prompts[i].clone(),
            response: responses[i].clone(),
            tokens: t,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, tokens: u32) -> GenerationRow {
        GenerationRow {
            prompt_id: id.into(),
            category: "helpful".into(),
            prompt: "Hi?".into(),
            response: "Hello — ünïcode".into(),
            tokens,
        }
    }

    #[test]
    fn round_trip_and_duplicate_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(GENERATIONS_FILE);
        let rows = vec![row("a", 3), row("b", 0)];
        write_generations(&p, &rows).unwrap();
        assert_eq!(read_generations(&p).unwrap(), rows);
        write_generations(&p, &[row("a", 1), row("a", 2)]).unwrap();
        let e = read_generations(&p).unwrap_err().to_string();
        assert!(e.contains("prompt_id") && e.contains("row 2"), "{e}");
        write_generations(&p, &[]).unwrap();
        assert!(matches!(
            read_generations(&p),
            Err(TableError::Empty { .. })
        ));
    }
}
