//! Parquet tables, read and written in one place (polars, zstd): typed
//! column access with one error type that names the file, the column and the
//! row at fault. Every table the stages exchange (`pairs.parquet`, token
//! tables, `scores.parquet`, probe tables, …) goes through here.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

/// Why a score table could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file could not be opened or created.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Polars could not decode or encode the Parquet file.
    #[error("{}: not a readable Parquet table: {message}", file.display())]
    Parquet {
        /// The file.
        file: PathBuf,
        /// Polars' message.
        message: String,
    },
    /// A required column is absent.
    #[error("{}: missing column `{column}` (expected columns: {expected})", file.display())]
    MissingColumn {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// Every required column, comma-separated.
        expected: String,
    },
    /// A column has the wrong data type.
    #[error("{}: column `{column}` has type {found}, expected {expected}", file.display())]
    WrongType {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// The type required by the contract.
        expected: &'static str,
        /// The type found.
        found: String,
    },
    /// A cell is null.
    #[error("{}: row {row}, column `{column}`: null value", file.display())]
    Null {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// 1-based row.
        row: usize,
    },
    /// A score is NaN or infinite.
    #[error("{}: row {row} (`{id}`), column `{column}`: non-finite value {value}", file.display())]
    NonFinite {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// 1-based row.
        row: usize,
        /// The row's identifier.
        id: String,
        /// The value.
        value: f64,
    },
    /// A string cell is outside its allowed set.
    #[error("{}: row {row}, column `{column}`: `{found}` is not one of {allowed}", file.display())]
    BadValue {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// 1-based row.
        row: usize,
        /// The value found.
        found: String,
        /// The allowed values, in words.
        allowed: &'static str,
    },
    /// The table has no row.
    #[error("{}: the table has no row", file.display())]
    Empty {
        /// The file.
        file: PathBuf,
    },
    /// A key that must be unique appears twice.
    #[error("{}: row {row}: {what} `{key}` appears twice", file.display())]
    Duplicate {
        /// The file.
        file: PathBuf,
        /// 1-based row of the second occurrence.
        row: usize,
        /// What the key is (`pair_id/side`).
        what: &'static str,
        /// The key.
        key: String,
    },
    /// Two rows that must agree do not.
    #[error("{}: row {row}: {message}", file.display())]
    Inconsistent {
        /// The file.
        file: PathBuf,
        /// 1-based row.
        row: usize,
        /// What disagrees.
        message: String,
    },
}

impl TableError {
    /// A polars error on `file`.
    pub fn parquet(file: &Path, e: PolarsError) -> Self {
        TableError::Parquet {
            file: file.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// Reads a whole Parquet file (callers check for [`TableError::Empty`]).
pub fn read_frame(path: &Path) -> Result<DataFrame, TableError> {
    let f = File::open(path).map_err(|source| TableError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let df = ParquetReader::new(f)
        .finish()
        .map_err(|e| TableError::parquet(path, e))?;
    Ok(df)
}

/// Writes `columns` as one Parquet table (polars' default zstd compression).
pub fn write_frame(path: &Path, height: usize, columns: Vec<Column>) -> Result<(), TableError> {
    let mut df = DataFrame::new(height, columns).map_err(|e| TableError::parquet(path, e))?;
    write_df(path, &mut df)
}

/// Writes a data frame as one Parquet table (polars' default zstd compression).
pub fn write_df(path: &Path, df: &mut DataFrame) -> Result<(), TableError> {
    let f = File::create(path).map_err(|source| TableError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    ParquetWriter::new(f)
        .finish(df)
        .map_err(|e| TableError::parquet(path, e))?;
    Ok(())
}

/// The column `name` of `df`, or [`TableError::MissingColumn`].
fn column<'a>(
    df: &'a DataFrame,
    name: &str,
    path: &Path,
    expected: &[&str],
) -> Result<&'a Column, TableError> {
    df.column(name).map_err(|_| TableError::MissingColumn {
        file: path.to_path_buf(),
        column: name.to_string(),
        expected: expected.join(", "),
    })
}

/// A UTF-8 column as owned strings; nulls are errors naming the row.
pub fn str_column(
    df: &DataFrame,
    name: &str,
    path: &Path,
    expected: &[&str],
) -> Result<Vec<String>, TableError> {
    let c = column(df, name, path, expected)?;
    let ca = c.str().map_err(|_| TableError::WrongType {
        file: path.to_path_buf(),
        column: name.to_string(),
        expected: "string (UTF-8)",
        found: c.dtype().to_string(),
    })?;
    ca.iter()
        .enumerate()
        .map(|(i, v)| {
            v.map(str::to_string).ok_or_else(|| TableError::Null {
                file: path.to_path_buf(),
                column: name.to_string(),
                row: i + 1,
            })
        })
        .collect()
}

/// A `Float64` column; nulls are errors, NaN and infinities are checked by
/// the caller (which knows the row's identifier).
pub fn f64_column(
    df: &DataFrame,
    name: &str,
    path: &Path,
    expected: &[&str],
) -> Result<Vec<f64>, TableError> {
    let c = column(df, name, path, expected)?;
    let ca = c.f64().map_err(|_| TableError::WrongType {
        file: path.to_path_buf(),
        column: name.to_string(),
        expected: "float64",
        found: c.dtype().to_string(),
    })?;
    ca.iter()
        .enumerate()
        .map(|(i, v)| {
            v.ok_or_else(|| TableError::Null {
                file: path.to_path_buf(),
                column: name.to_string(),
                row: i + 1,
            })
        })
        .collect()
}

/// Errors out on the first non-finite value of `values`.
pub fn check_finite(
    values: &[f64],
    ids: &[String],
    column: &str,
    path: &Path,
) -> Result<(), TableError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(TableError::NonFinite {
            file: path.to_path_buf(),
            column: column.to_string(),
            row: i + 1,
            // default: a table without ids names the row by its number only.
            id: ids.get(i).cloned().unwrap_or_default(),
            value: values[i],
        }),
    }
}
