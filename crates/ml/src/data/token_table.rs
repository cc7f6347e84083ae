//! Tokenized pairs as a Parquet table: what `data.tokenize` writes and the
//! trainers read.
//!
//! Columns: `id, category, source` (strings), `chosen_ids, rejected_ids`
//! (lists of u32 token ids, special tokens included, unpadded),
//! `chosen_response_start, rejected_response_start` (u32: index of the first
//! response token), `truncated` (bool: prompt tokens were cut on either side),
//! `response_truncated` (bool: a response alone exceeded `max_len`).

use std::path::Path;

use polars::prelude::*;

use super::error::DataError;
use super::tokenize::Encoded;

/// One tokenized pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Pair id.
    pub id: String,
    /// Category.
    pub category: String,
    /// Provenance.
    pub source: String,
    /// Encoded chosen transcript.
    pub chosen: Encoded,
    /// Encoded rejected transcript.
    pub rejected: Encoded,
}

fn ids_column(name: &str, rows: &[TokenRow], side: impl Fn(&TokenRow) -> &Encoded) -> Column {
    let total: usize = rows.iter().map(|r| side(r).ids.len()).sum();
    let mut b = ListPrimitiveChunkedBuilder::<UInt32Type>::new(
        name.into(),
        rows.len(),
        total,
        DataType::UInt32,
    );
    for r in rows {
        b.append_slice(&side(r).ids);
    }
    b.finish().into_series().into_column()
}

/// Writes `rows` to `path`.
pub fn write_tokens(path: &Path, rows: &[TokenRow]) -> Result<(), DataError> {
    let s = |name: &str, f: &dyn Fn(&TokenRow) -> &str| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<&str>>())
    };
    let u = |name: &str, f: &dyn Fn(&TokenRow) -> usize| {
        Column::new(
            name.into(),
            rows.iter().map(|r| f(r) as u32).collect::<Vec<u32>>(),
        )
    };
    let b = |name: &str, f: &dyn Fn(&TokenRow) -> bool| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<bool>>())
    };
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            s("id", &|r| &r.id),
            s("category", &|r| &r.category),
            s("source", &|r| &r.source),
            ids_column("chosen_ids", rows, |r| &r.chosen),
            ids_column("rejected_ids", rows, |r| &r.rejected),
            u("chosen_response_start", &|r| r.chosen.response_start),
            u("rejected_response_start", &|r| r.rejected.response_start),
            b("truncated", &|r| r.chosen.truncated || r.rejected.truncated),
            b("response_truncated", &|r| {
                r.chosen.response_truncated || r.rejected.response_truncated
            }),
        ],
    )
    .map_err(|e| DataError::parquet(path, e))?;
    Ok(crate::parquet::write_df(path, &mut df)?)
}

/// Reads the id lists of one side (`chosen_ids` or `rejected_ids`).
pub fn read_ids(path: &Path, column: &str) -> Result<Vec<Vec<u32>>, DataError> {
    let df = crate::parquet::read_frame(path)?;
    let bad = |m: String| DataError::Column {
        file: path.to_path_buf(),
        column: column.into(),
        message: m,
    };
    let c = df
        .column(column)
        .map_err(|_| bad("missing column".into()))?;
    let list = c
        .list()
        .map_err(|_| bad(format!("expected a list of u32, found {}", c.dtype())))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, s) in list.amortized_iter().enumerate() {
        let s = s.ok_or_else(|| DataError::row(path, i + 1, column, "null value"))?;
        let s = s.as_ref();
        let ca = s
            .u32()
            .map_err(|_| bad(format!("expected u32 ids, found {}", s.dtype())))?;
        out.push(ca.into_no_null_iter().collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lists_round_trip() {
        let e = |ids: Vec<u32>| Encoded {
            response_start: 1,
            full_len: ids.len(),
            ids,
            truncated: false,
            response_truncated: false,
        };
        let rows = vec![
            TokenRow {
                id: "a".into(),
                category: "c".into(),
                source: "s".into(),
                chosen: e(vec![1, 2, 3]),
                rejected: e(vec![4]),
            },
            TokenRow {
                id: "b".into(),
                category: "c".into(),
                source: "s".into(),
                chosen: e(vec![]),
                rejected: e(vec![5, 6]),
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        write_tokens(&p, &rows).unwrap();
        assert_eq!(
            read_ids(&p, "chosen_ids").unwrap(),
            vec![vec![1, 2, 3], vec![]]
        );
        assert_eq!(
            read_ids(&p, "rejected_ids").unwrap(),
            vec![vec![4], vec![5, 6]]
        );
    }
}
