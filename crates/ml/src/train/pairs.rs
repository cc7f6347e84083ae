//! The trainer's view of a `data.tokenize` stage: pair ids and category
//! indices of both splits (categories indexed in sorted order of the
//! training split's names), and the token ids when the backbone trains.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};

use crate::data::token_table::read_ids;
use crate::parquet::{read_frame, str_column};

/// One split's pairs.
#[derive(Debug, Clone, Default)]
pub struct Split {
    /// Pair ids.
    pub ids: Vec<String>,
    /// Category index of each pair.
    pub categories: Vec<usize>,
}

/// Both splits and the category names.
#[derive(Debug, Clone, Default)]
pub struct Pairs {
    /// Category names; index = position.
    pub names: Vec<String>,
    /// Training split.
    pub train: Split,
    /// Eval split.
    pub eval: Split,
}

const COLUMNS: &[&str] = &["id", "category", "chosen_ids", "rejected_ids"];

fn read_split(path: &Path) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let df = read_frame(path)?;
    let ids = str_column(&df, "id", path, COLUMNS)?;
    let cats = str_column(&df, "category", path, COLUMNS)?;
    Ok((ids, cats))
}

/// Reads `train.parquet` and `eval.parquet` of a `data.tokenize` output.
///
/// # Errors
/// A missing file or column, an empty training split, or an eval
/// category the training split lacks.
pub fn read_pairs(dir: &Path) -> anyhow::Result<Pairs> {
    let (train_ids, train_cats) = read_split(&dir.join("train.parquet"))
        .context("input `data` (expected a data.tokenize stage)")?;
    let (eval_ids, eval_cats) = read_split(&dir.join("eval.parquet"))
        .context("input `data` (expected a data.tokenize stage)")?;
    let names: Vec<String> = train_cats
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // One category is allowed here: plain BT (λ = 0) needs no second one;
    // TrainConfig::per_category refuses it with λ > 0.
    if names.is_empty() {
        bail!("input `data`: the training split has no pair");
    }
    let index = |c: &String, split: &str| {
        names.binary_search(c).map_err(|_| {
            anyhow::anyhow!("input `data`: {split} category `{c}` is not in the training split")
        })
    };
    let train = train_cats
        .iter()
        .map(|c| index(c, "train"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let eval = eval_cats
        .iter()
        .map(|c| index(c, "eval"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Pairs {
        names,
        train: Split {
            ids: train_ids,
            categories: train,
        },
        eval: Split {
            ids: eval_ids,
            categories: eval,
        },
    })
}

/// Token id sequences of one side of a split.
pub type Sequences = Vec<Vec<u32>>;

/// Token ids `(chosen, rejected)` of one split file.
///
/// # Errors
/// A missing or malformed id column.
pub fn read_tokens(path: &Path) -> anyhow::Result<(Sequences, Sequences)> {
    Ok((
        read_ids(path, "chosen_ids")?,
        read_ids(path, "rejected_ids")?,
    ))
}
