//! `pairs.parquet` and friends: preference pairs as a Parquet table (via polars).
//!
//! Columns, all UTF-8 strings: `id, prompt, chosen, rejected, category, source`.

use std::path::Path;

use polars::prelude::*;

use super::error::DataError;
use super::pair::PreferencePair;

/// Column names, in file order.
pub const PAIR_COLUMNS: [&str; 6] = ["id", "prompt", "chosen", "rejected", "category", "source"];

/// Builds the frame of `pairs`.
pub fn pairs_frame(pairs: &[PreferencePair]) -> Result<DataFrame, PolarsError> {
    let col = |name: &str, f: &dyn Fn(&PreferencePair) -> &str| {
        Column::new(name.into(), pairs.iter().map(f).collect::<Vec<&str>>())
    };
    DataFrame::new(
        pairs.len(),
        vec![
            col("id", &|p| &p.id),
            col("prompt", &|p| &p.prompt),
            col("chosen", &|p| &p.chosen),
            col("rejected", &|p| &p.rejected),
            col("category", &|p| &p.category),
            col("source", &|p| &p.source),
        ],
    )
}

/// Writes `pairs` to `path`.
pub fn write_pairs(path: &Path, pairs: &[PreferencePair]) -> Result<(), DataError> {
    let mut df = pairs_frame(pairs).map_err(|e| DataError::parquet(path, e))?;
    Ok(crate::parquet::write_df(path, &mut df)?)
}

/// Reads a pairs table written by [`write_pairs`].
pub fn read_pairs(path: &Path) -> Result<Vec<PreferencePair>, DataError> {
    let df = crate::parquet::read_frame(path)?;
    let col = |name| crate::parquet::str_column(&df, name, path, &PAIR_COLUMNS);
    let (id, prompt, chosen) = (col("id")?, col("prompt")?, col("chosen")?);
    let (rejected, category, source) = (col("rejected")?, col("category")?, col("source")?);
    let rows = id
        .into_iter()
        .zip(prompt)
        .zip(chosen)
        .zip(rejected)
        .zip(category)
        .zip(source);
    Ok(rows
        .map(
            |(((((id, prompt), chosen), rejected), category), source)| PreferencePair {
                id,
                prompt,
                chosen,
                rejected,
                category,
                source,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pairs.parquet");
        let pairs: Vec<_> = (0..3)
            .map(|i| PreferencePair {
                id: format!("f:{i}"),
                prompt: format!("\n\nHuman: q{i} ünïcode\n\nAssistant:"),
                chosen: "yes".into(),
                rejected: String::new(),
                category: if i % 2 == 0 { "helpful" } else { "harmless" }.into(),
                source: "test".into(),
            })
            .collect();
        write_pairs(&p, &pairs).unwrap();
        assert_eq!(read_pairs(&p).unwrap(), pairs);
        let df = crate::parquet::read_frame(&p).unwrap();
        assert_eq!(
            df.get_column_names()
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            PAIR_COLUMNS.to_vec()
        );
    }

    #[test]
    fn a_missing_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.parquet");
        let mut df = DataFrame::new(1, vec![Column::new("id".into(), vec!["a"])]).unwrap();
        crate::parquet::write_df(&p, &mut df).unwrap();
        let e = read_pairs(&p).unwrap_err().to_string();
        assert!(e.contains("missing column `prompt`"), "{e}");
    }
}
