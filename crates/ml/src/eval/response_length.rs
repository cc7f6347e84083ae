//! Response lengths in tokens from a tokenized table (`data.tokenize`'s
//! `eval.parquet`, see [`crate::data::token_table`]), joined onto scored
//! responses: the audit's confound baseline (App. A.7) asks how much of the
//! category the length alone already reveals.
//!
//! Length of a response = `len(<side>_ids) - <side>_response_start`: its
//! tokens after the prompt, special tokens at the end included, after the
//! tokenizer's truncation (so capped by `max_len`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use super::scores::{ScoreRow, Side};
use crate::data::error::DataError;
use crate::data::token_table::read_ids;
use crate::parquet::{read_frame, str_column};

/// Why lengths could not be read or joined.
#[derive(Debug, thiserror::Error)]
pub enum LengthError {
    /// The table could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The table could not be read as Parquet.
    #[error(transparent)]
    Table(#[from] crate::parquet::TableError),
    /// A start column is missing or has the wrong type.
    #[error("{}: column `{column}`: {message}", file.display())]
    Column {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A response starts after its last token, or a value is null.
    #[error("{}: row {row} (`{id}`): {message}", file.display())]
    BadRow {
        /// The file.
        file: PathBuf,
        /// 1-based row.
        row: usize,
        /// The pair id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The same pair id appears twice.
    #[error("{}: row {row}: pair id `{id}` appears twice", file.display())]
    Duplicate {
        /// The file.
        file: PathBuf,
        /// 1-based row.
        row: usize,
        /// The pair id.
        id: String,
    },
    /// A scored pair is not in the table.
    #[error(
        "{}: pair id `{id}` ({side} response, category `{category}`) is in the scores but not in this table; connect the `data` stage that tokenized the scored split",
        file.display()
    )]
    Missing {
        /// The table.
        file: PathBuf,
        /// The pair id.
        id: String,
        /// Which response.
        side: &'static str,
        /// Its category in the scores.
        category: String,
    },
    /// A pair has another category in the table than in the scores.
    #[error(
        "{}: pair id `{id}` has category `{table}` here but `{scores}` in the scores",
        file.display()
    )]
    CategoryMismatch {
        /// The table.
        file: PathBuf,
        /// The pair id.
        id: String,
        /// Its category in the table.
        table: String,
        /// Its category in the scores.
        scores: String,
    },
}

/// One pair's category and response lengths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairLengths {
    /// The pair's category in the table.
    pub category: String,
    /// Tokens of the chosen response.
    pub chosen: usize,
    /// Tokens of the rejected response.
    pub rejected: usize,
}

fn u32_column(df: &DataFrame, name: &str, path: &Path) -> Result<Vec<Option<u32>>, LengthError> {
    let bad = |message: String| LengthError::Column {
        file: path.to_path_buf(),
        column: name.into(),
        message,
    };
    let c = df.column(name).map_err(|_| bad("missing column".into()))?;
    let ca = c
        .u32()
        .map_err(|_| bad(format!("expected u32, found {}", c.dtype())))?;
    Ok(ca.iter().collect())
}

/// Reads pair id → category and response lengths from a tokenized table.
///
/// # Errors
/// An unreadable file, a missing or mistyped column, a null, a response
/// start beyond its ids, or a duplicate pair id.
pub fn read_lengths(path: &Path) -> Result<BTreeMap<String, PairLengths>, LengthError> {
    let df = read_frame(path)?;
    let ids = str_column(&df, "id", path, &["id", "category"])?;
    let cats = str_column(&df, "category", path, &["id", "category"])?;
    let mut sides = Vec::with_capacity(2);
    for side in ["chosen", "rejected"] {
        let lists = read_ids(path, &format!("{side}_ids"))?;
        let starts = u32_column(&df, &format!("{side}_response_start"), path)?;
        sides.push((lists, starts));
    }
    let mut out = BTreeMap::new();
    for (i, (id, cat)) in ids.into_iter().zip(cats).enumerate() {
        let mut len = [0usize; 2];
        for (s, (lists, starts)) in sides.iter().enumerate() {
            let bad = |message: String| LengthError::BadRow {
                file: path.to_path_buf(),
                row: i + 1,
                id: id.clone(),
                message,
            };
            let total = lists
                .get(i)
                .map(Vec::len)
                .ok_or_else(|| bad("token list missing".into()))?;
            let start = starts
                .get(i)
                .copied()
                .flatten()
                .ok_or_else(|| bad("null response start".into()))? as usize;
            len[s] = total.checked_sub(start).ok_or_else(|| {
                bad(format!(
                    "response starts at token {start} but there are only {total}"
                ))
            })?;
        }
        let row = PairLengths {
            category: cat,
            chosen: len[0],
            rejected: len[1],
        };
        if out.insert(id.clone(), row).is_some() {
            return Err(LengthError::Duplicate {
                file: path.to_path_buf(),
                row: i + 1,
                id,
            });
        }
    }
    Ok(out)
}

/// The length of each scored response, in row order, from `table` (read
/// from `path`, named in errors).
///
/// # Errors
/// A scored pair missing from the table, or listed there under another category.
pub fn join_lengths(
    rows: &[ScoreRow],
    table: &BTreeMap<String, PairLengths>,
    path: &Path,
) -> Result<Vec<f64>, LengthError> {
    rows.iter()
        .map(|r| {
            let p = table.get(&r.pair_id).ok_or_else(|| LengthError::Missing {
                file: path.to_path_buf(),
                id: r.pair_id.clone(),
                side: r.side.as_str(),
                category: r.category.clone(),
            })?;
            if p.category != r.category {
                return Err(LengthError::CategoryMismatch {
                    file: path.to_path_buf(),
                    id: r.pair_id.clone(),
                    table: p.category.clone(),
                    scores: r.category.clone(),
                });
            }
            Ok(match r.side {
                Side::Chosen => p.chosen,
                Side::Rejected => p.rejected,
            } as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::token_table::{TokenRow, write_tokens};
    use crate::data::tokenize::Encoded;

    fn enc(total: usize, start: usize) -> Encoded {
        Encoded {
            ids: (0..total as u32).collect(),
            response_start: start,
            full_len: total,
            truncated: false,
            response_truncated: false,
        }
    }

    fn token_row(
        id: &str,
        cat: &str,
        chosen: (usize, usize),
        rejected: (usize, usize),
    ) -> TokenRow {
        TokenRow {
            id: id.into(),
            category: cat.into(),
            source: "s".into(),
            chosen: enc(chosen.0, chosen.1),
            rejected: enc(rejected.0, rejected.1),
        }
    }

    fn score(id: &str, cat: &str, side: Side) -> ScoreRow {
        ScoreRow {
            pair_id: id.into(),
            category: cat.into(),
            side,
            reward: 0.0,
        }
    }

    #[test]
    fn lengths_are_tokens_after_the_prompt_joined_by_id_and_side() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eval.parquet");
        write_tokens(
            &p,
            &[
                token_row("a", "x", (10, 4), (7, 4)),
                token_row("b", "y", (3, 3), (9, 1)),
            ],
        )
        .unwrap();
        let t = read_lengths(&p).unwrap();
        assert_eq!(
            t["a"],
            PairLengths {
                category: "x".into(),
                chosen: 6,
                rejected: 3
            }
        );
        let rows = [
            score("b", "y", Side::Rejected),
            score("a", "x", Side::Chosen),
            score("b", "y", Side::Chosen),
        ];
        assert_eq!(join_lengths(&rows, &t, &p).unwrap(), vec![8.0, 6.0, 0.0]);
        let e = join_lengths(&[score("zz", "x", Side::Chosen)], &t, &p).unwrap_err();
        assert!(matches!(&e, LengthError::Missing { id, .. } if id == "zz"));
        assert!(e.to_string().contains("eval.parquet"), "{e}");
        let e = join_lengths(&[score("a", "y", Side::Chosen)], &t, &p).unwrap_err();
        assert!(matches!(e, LengthError::CategoryMismatch { .. }));
    }

    #[test]
    fn malformed_tables_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eval.parquet");
        write_tokens(&p, &[token_row("a", "x", (3, 5), (7, 4))]).unwrap();
        assert!(matches!(
            read_lengths(&p),
            Err(LengthError::BadRow { row: 1, .. })
        ));
        write_tokens(
            &p,
            &[
                token_row("a", "x", (5, 1), (7, 4)),
                token_row("a", "x", (5, 1), (7, 4)),
            ],
        )
        .unwrap();
        assert!(matches!(
            read_lengths(&p),
            Err(LengthError::Duplicate { row: 2, .. })
        ));
        assert!(read_lengths(&dir.path().join("absent.parquet")).is_err());
    }
}
