//! PKU-SafeRLHF rows from Parquet (the hub's Parquet export of the same schema:
//! harm categories as a struct of 19 booleans).

use std::path::Path;

use polars::prelude::*;

use super::error::DataError;
use super::pku_saferlhf::PkuRow;
use super::row::RowError;

/// One harm-category struct: (category name, value per row).
type HarmColumns = Vec<(String, Vec<Option<bool>>)>;

/// A row number with the row or its error.
pub type NumberedRow = (usize, Result<PkuRow, RowError>);

/// Column values of one file, read once and indexed per row.
struct Cols {
    prompt: Vec<Option<String>>,
    responses: [Vec<Option<String>>; 2],
    better: Vec<Option<i64>>,
    safer: Vec<Option<i64>>,
    safe: [Vec<Option<bool>>; 2],
    harm: [HarmColumns; 2],
}

fn column<'a>(df: &'a DataFrame, name: &str, path: &Path) -> Result<&'a Column, DataError> {
    df.column(name).map_err(|_| DataError::Column {
        file: path.to_path_buf(),
        column: name.into(),
        message: "missing column".into(),
    })
}

fn strs(df: &DataFrame, name: &str, path: &Path) -> Result<Vec<Option<String>>, DataError> {
    let c = column(df, name, path)?;
    let ca = c.str().map_err(|_| DataError::Column {
        file: path.to_path_buf(),
        column: name.into(),
        message: format!("expected strings, found {}", c.dtype()),
    })?;
    Ok(ca.iter().map(|v| v.map(str::to_string)).collect())
}

fn ints(df: &DataFrame, name: &str, path: &Path) -> Result<Vec<Option<i64>>, DataError> {
    let c = column(df, name, path)?;
    let bad = |m: String| DataError::Column {
        file: path.to_path_buf(),
        column: name.into(),
        message: m,
    };
    if !c.dtype().is_integer() {
        return Err(bad(format!("expected integers, found {}", c.dtype())));
    }
    let c = c.cast(&DataType::Int64).map_err(|e| bad(e.to_string()))?;
    Ok(c.i64().map_err(|e| bad(e.to_string()))?.iter().collect())
}

fn bools_of(s: &Series, name: &str, path: &Path) -> Result<Vec<Option<bool>>, DataError> {
    let ca = s.bool().map_err(|_| DataError::Column {
        file: path.to_path_buf(),
        column: name.into(),
        message: format!("expected booleans, found {}", s.dtype()),
    })?;
    Ok(ca.iter().collect())
}

fn harm(df: &DataFrame, name: &str, path: &Path) -> Result<HarmColumns, DataError> {
    let c = column(df, name, path)?;
    let st = c.struct_().map_err(|_| DataError::Column {
        file: path.to_path_buf(),
        column: name.into(),
        message: format!("expected a struct of booleans, found {}", c.dtype()),
    })?;
    st.fields_as_series()
        .iter()
        .map(|s| {
            let field = format!("{name}.{}", s.name());
            Ok((s.name().to_string(), bools_of(s, &field, path)?))
        })
        .collect()
}

fn read_cols(df: &DataFrame, path: &Path) -> Result<Cols, DataError> {
    let b = |n: &str| bools_of(column(df, n, path)?.as_materialized_series(), n, path);
    Ok(Cols {
        prompt: strs(df, "prompt", path)?,
        responses: [strs(df, "response_0", path)?, strs(df, "response_1", path)?],
        better: ints(df, "better_response_id", path)?,
        safer: ints(df, "safer_response_id", path)?,
        safe: [b("is_response_0_safe")?, b("is_response_1_safe")?],
        harm: [
            harm(df, "response_0_harm_category", path)?,
            harm(df, "response_1_harm_category", path)?,
        ],
    })
}

fn need<T: Clone>(v: &[Option<T>], i: usize, name: &str) -> Result<T, RowError> {
    v.get(i)
        .cloned()
        .flatten()
        .ok_or_else(|| RowError::new(name, "null value"))
}

fn id01(v: &[Option<i64>], i: usize, name: &str) -> Result<usize, RowError> {
    match need(v, i, name)? {
        0 => Ok(0),
        1 => Ok(1),
        x => Err(RowError::new(name, format!("expected 0 or 1, found {x}"))),
    }
}

impl Cols {
    fn row(&self, i: usize) -> Result<PkuRow, RowError> {
        let flagged = |k: usize| -> Result<Vec<String>, RowError> {
            let mut out = Vec::new();
            for (name, vals) in &self.harm[k] {
                if need(vals, i, &format!("response_{k}_harm_category.{name}"))? {
                    out.push(name.clone());
                }
            }
            Ok(out)
        };
        Ok(PkuRow {
            prompt: need(&self.prompt, i, "prompt")?,
            responses: [
                need(&self.responses[0], i, "response_0")?,
                need(&self.responses[1], i, "response_1")?,
            ],
            better: id01(&self.better, i, "better_response_id")?,
            safer: id01(&self.safer, i, "safer_response_id")?,
            safe: [
                need(&self.safe[0], i, "is_response_0_safe")?,
                need(&self.safe[1], i, "is_response_1_safe")?,
            ],
            harm: [flagged(0)?, flagged(1)?],
        })
    }
}

/// Reads every row of a PKU-SafeRLHF Parquet file: `(1-based row, row or its error)`.
///
/// Missing or mistyped columns are errors for the whole file; nulls and
/// out-of-range ids are per-row errors the caller may skip.
pub fn read_rows(path: &Path) -> Result<Vec<NumberedRow>, DataError> {
    let df = crate::parquet::read_frame(path)?;
    if df.height() == 0 {
        return Err(DataError::Empty {
            file: path.to_path_buf(),
        });
    }
    let cols = read_cols(&df, path)?;
    Ok((0..df.height()).map(|i| (i + 1, cols.row(i))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::pku_saferlhf::{CATEGORIES, row_from_json, tests::fixture_row};

    /// Writes JSON fixture rows as Parquet with the hub's column types.
    fn write_parquet(path: &Path, rows: &[serde_json::Value]) {
        let n = rows.len();
        let s = |k: &str| {
            Column::new(
                k.into(),
                rows.iter()
                    .map(|r| r[k].as_str().unwrap().to_string())
                    .collect::<Vec<_>>(),
            )
        };
        let i = |k: &str| {
            Column::new(
                k.into(),
                rows.iter()
                    .map(|r| r[k].as_i64().unwrap())
                    .collect::<Vec<_>>(),
            )
        };
        let b = |k: &str| {
            Column::new(
                k.into(),
                rows.iter()
                    .map(|r| r[k].as_bool().unwrap())
                    .collect::<Vec<_>>(),
            )
        };
        let h = |k: &str| {
            let fields: Vec<Series> = CATEGORIES
                .iter()
                .map(|c| {
                    Series::new(
                        (*c).into(),
                        rows.iter()
                            .map(|r| r[k][*c].as_bool().unwrap())
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            StructChunked::from_series(k.into(), n, fields.iter())
                .unwrap()
                .into_column()
        };
        let mut df = DataFrame::new(
            n,
            vec![
                s("prompt"),
                s("response_0"),
                s("response_1"),
                b("is_response_0_safe"),
                b("is_response_1_safe"),
                h("response_0_harm_category"),
                h("response_1_harm_category"),
                i("response_0_severity_level"),
                i("response_1_severity_level"),
                i("better_response_id"),
                i("safer_response_id"),
            ],
        )
        .unwrap();
        crate::parquet::write_df(path, &mut df).unwrap();
    }

    #[test]
    fn parquet_rows_equal_the_same_rows_from_json() {
        let rows = vec![
            fixture_row("a", [true, false], &[], &["Violence", "Drugs"], 1, 0),
            fixture_row("b", [false, false], &["Cybercrime"], &[], 0, 1),
            fixture_row("c", [true, true], &[], &[], 0, 0),
        ];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pku.parquet");
        write_parquet(&p, &rows);
        let got = read_rows(&p).unwrap();
        assert_eq!(got.len(), 3);
        for ((line, r), want) in got.into_iter().zip(&rows) {
            assert!(line >= 1);
            let mut r = r.unwrap();
            let mut w = row_from_json(want.as_object().unwrap()).unwrap();
            r.harm.iter_mut().for_each(|h| h.sort());
            w.harm.iter_mut().for_each(|h| h.sort());
            assert_eq!(r, w);
        }
    }

    #[test]
    fn a_missing_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.parquet");
        let mut df = DataFrame::new(1, vec![Column::new("prompt".into(), vec!["a"])]).unwrap();
        crate::parquet::write_df(&p, &mut df).unwrap();
        let e = read_rows(&p).unwrap_err().to_string();
        assert!(e.contains("column `response_0`: missing column"), "{e}");
    }
}
