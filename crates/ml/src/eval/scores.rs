//! The contract of the reward-model trainer's per-response scores,
//! `scores.parquet`, which every reward evaluation reads.
//!
//! # Contract (`train.reward_model` writes it, `eval.*` and `report.paper` read it)
//! One row per scored response of the evaluation split, in any order:
//!
//! | column     | type            | meaning |
//! |------------|-----------------|---------|
//! | `pair_id`  | string, no null | the preference pair's `id` from `pairs.parquet` |
//! | `category` | string, no null | the pair's category (`helpful`, `harmless`, a PKU harm type…) |
//! | `side`     | string, no null | `chosen` or `rejected` (lower case) |
//! | `reward`   | float64, finite | the RM's scalar reward `r(x, y)`, in the RM's own units |
//!
//! - `(pair_id, side)` is unique; both rows of a pair carry the same category.
//!   A pair may have only one side (it then enters the distribution tests
//!   but not the preference accuracy).
//! - `reward` must be `Float64` (cast f32 rewards before writing), never NaN
//!   or infinite; a table with no row is an error.
//! - Extra columns are allowed and ignored.
//! - Written by [`write_scores`] (polars' default zstd Parquet); the file
//!   name under the stage's `$OUT` is [`SCORES_FILE`].

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::Column;

use crate::parquet::{TableError, check_finite, f64_column, read_frame, str_column, write_frame};

/// File name of the scores table under a trainer's `$OUT`.
pub const SCORES_FILE: &str = "scores.parquet";

/// Required columns, in the order [`write_scores`] writes them.
pub const SCORE_COLUMNS: [&str; 4] = ["pair_id", "category", "side", "reward"];

/// Which response of a pair a score belongs to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The preferred response.
    Chosen,
    /// The dispreferred response.
    Rejected,
}

impl Side {
    /// The spelling used in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Chosen => "chosen",
            Side::Rejected => "rejected",
        }
    }
}

/// One scored response.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    /// The pair's id.
    pub pair_id: String,
    /// The pair's category.
    pub category: String,
    /// Which response of the pair.
    pub side: Side,
    /// Scalar reward, finite.
    pub reward: f64,
}

/// Writes `rows` to `path` with the contract's columns.
///
/// # Errors
/// A non-finite reward (nothing is written), or an I/O or Parquet error.
pub fn write_scores(path: &Path, rows: &[ScoreRow]) -> Result<(), TableError> {
    let ids: Vec<String> = rows.iter().map(|r| r.pair_id.clone()).collect();
    let rewards: Vec<f64> = rows.iter().map(|r| r.reward).collect();
    check_finite(&rewards, &ids, "reward", path)?;
    let cat: Vec<&str> = rows.iter().map(|r| r.category.as_str()).collect();
    let side: Vec<&str> = rows.iter().map(|r| r.side.as_str()).collect();
    write_frame(
        path,
        rows.len(),
        vec![
            Column::new("pair_id".into(), ids),
            Column::new("category".into(), cat),
            Column::new("side".into(), side),
            Column::new("reward".into(), rewards),
        ],
    )
}

/// Reads and checks a scores table (see the module doc for the contract).
///
/// # Errors
/// Every breach of the contract, as a [`TableError`] naming file, column and row.
pub fn read_scores(path: &Path) -> Result<Vec<ScoreRow>, TableError> {
    let df = read_frame(path)?;
    let cols = &SCORE_COLUMNS;
    let ids = str_column(&df, "pair_id", path, cols)?;
    let cats = str_column(&df, "category", path, cols)?;
    let sides = str_column(&df, "side", path, cols)?;
    let rewards = f64_column(&df, "reward", path, cols)?;
    if ids.is_empty() {
        return Err(TableError::Empty {
            file: path.to_path_buf(),
        });
    }
    check_finite(&rewards, &ids, "reward", path)?;
    let mut seen: BTreeMap<(&str, Side), ()> = BTreeMap::new();
    let mut category_of: BTreeMap<&str, &str> = BTreeMap::new();
    let mut rows = Vec::with_capacity(ids.len());
    for (i, (((id, cat), side), reward)) in
        ids.iter().zip(&cats).zip(&sides).zip(&rewards).enumerate()
    {
        let row = i + 1;
        let side = match side.as_str() {
            "chosen" => Side::Chosen,
            "rejected" => Side::Rejected,
            other => {
                return Err(TableError::BadValue {
                    file: path.to_path_buf(),
                    column: "side".into(),
                    row,
                    found: other.to_string(),
                    allowed: "`chosen`, `rejected`",
                });
            }
        };
        if seen.insert((id.as_str(), side), ()).is_some() {
            return Err(TableError::Duplicate {
                file: path.to_path_buf(),
                row,
                what: "pair_id/side",
                key: format!("{id}/{}", side.as_str()),
            });
        }
        if let Some(prev) = category_of.insert(id.as_str(), cat.as_str())
            && prev != cat
        {
            return Err(TableError::Inconsistent {
                file: path.to_path_buf(),
                row,
                message: format!(
                    "pair `{id}` has category `{cat}` here but `{prev}` on its other side"
                ),
            });
        }
        rows.push(ScoreRow {
            pair_id: id.clone(),
            category: cat.clone(),
            side,
            reward: *reward,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, cat: &str, side: Side, reward: f64) -> ScoreRow {
        ScoreRow {
            pair_id: id.into(),
            category: cat.into(),
            side,
            reward,
        }
    }

    #[test]
    fn scores_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(SCORES_FILE);
        let rows = vec![
            row("p1", "helpful", Side::Chosen, 1.5),
            row("p1", "helpful", Side::Rejected, -0.25),
            row("p2", "harmless", Side::Chosen, 3.0e-3),
        ];
        write_scores(&p, &rows).unwrap();
        assert_eq!(read_scores(&p).unwrap(), rows);
    }

    fn write_raw(p: &Path, cols: Vec<Column>) {
        let h = cols[0].len();
        write_frame(p, h, cols).unwrap();
    }

    #[test]
    fn contract_breaches_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.parquet");
        // missing column
        write_raw(
            &p,
            vec![
                Column::new("pair_id".into(), ["a"]),
                Column::new("category".into(), ["c"]),
                Column::new("side".into(), ["chosen"]),
            ],
        );
        let e = read_scores(&p).unwrap_err();
        assert!(
            matches!(&e, TableError::MissingColumn { column, .. } if column == "reward"),
            "{e}"
        );
        // wrong type: f32 rewards
        write_raw(
            &p,
            vec![
                Column::new("pair_id".into(), ["a"]),
                Column::new("category".into(), ["c"]),
                Column::new("side".into(), ["chosen"]),
                Column::new("reward".into(), [1.0f32]),
            ],
        );
        let e = read_scores(&p).unwrap_err();
        assert!(
            matches!(&e, TableError::WrongType { column, .. } if column == "reward"),
            "{e}"
        );
        // NaN reward, named by row and pair
        write_raw(
            &p,
            vec![
                Column::new("pair_id".into(), ["a", "b"]),
                Column::new("category".into(), ["c", "c"]),
                Column::new("side".into(), ["chosen", "chosen"]),
                Column::new("reward".into(), [1.0, f64::NAN]),
            ],
        );
        let e = read_scores(&p).unwrap_err();
        assert!(
            matches!(&e, TableError::NonFinite { row: 2, id, .. } if id == "b"),
            "{e}"
        );
        // empty
        write_raw(
            &p,
            vec![
                Column::new("pair_id".into(), Vec::<String>::new()),
                Column::new("category".into(), Vec::<String>::new()),
                Column::new("side".into(), Vec::<String>::new()),
                Column::new("reward".into(), Vec::<f64>::new()),
            ],
        );
        assert!(matches!(read_scores(&p), Err(TableError::Empty { .. })));
        // bad side, duplicate, inconsistent category
        let cases: [(&[&str], &[&str], &[&str]); 3] = [
            (&["a"], &["c"], &["Chosen"]),
            (&["a", "a"], &["c", "c"], &["chosen", "chosen"]),
            (&["a", "a"], &["c", "d"], &["chosen", "rejected"]),
        ];
        let mut kinds = Vec::new();
        for (ids, cats, sides) in cases {
            write_raw(
                &p,
                vec![
                    Column::new("pair_id".into(), ids),
                    Column::new("category".into(), cats),
                    Column::new("side".into(), sides),
                    Column::new("reward".into(), vec![0.5; ids.len()]),
                ],
            );
            kinds.push(match read_scores(&p).unwrap_err() {
                TableError::BadValue { .. } => "bad",
                TableError::Duplicate { row: 2, .. } => "dup",
                TableError::Inconsistent { row: 2, .. } => "inc",
                other => panic!("unexpected {other}"),
            });
        }
        assert_eq!(kinds, ["bad", "dup", "inc"]);
    }

    #[test]
    fn writing_a_nan_reward_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(SCORES_FILE);
        let e = write_scores(&p, &[row("x", "c", Side::Chosen, f64::INFINITY)]).unwrap_err();
        assert!(matches!(e, TableError::NonFinite { .. }));
        assert!(!p.exists());
    }
}
