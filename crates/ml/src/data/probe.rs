//! Evaluation probe rows and their Parquet tables (`probes.parquet`).
//!
//! Two shapes, told apart by `metrics.json`'s `table` field:
//! - stereotype probes (CrowS-Pairs, StereoSet): `id, set, subset, bias_type,
//!   target, context, stereotype, anti_stereotype, unrelated, direction`;
//! - prompt sets (LIMA, prompts drawn from preference tables):
//!   `id, set, prompt, category`.

use std::path::Path;

use polars::prelude::*;

use super::error::DataError;

/// One stereotype probe: a more and a less stereotypical sentence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StereoItem {
    /// Stable id (`crows-pairs:<index>`, StereoSet's item id or `<file>:<line>`).
    pub id: String,
    /// `crows-pairs` or `stereoset`.
    pub set: String,
    /// `crows-pairs`, `intrasentence` or `intersentence`.
    pub subset: String,
    /// Bias type (`race-color`, `gender`, `profession`…).
    pub bias_type: String,
    /// StereoSet target term (empty for CrowS-Pairs).
    pub target: String,
    /// StereoSet context (empty for CrowS-Pairs).
    pub context: String,
    /// The more stereotypical sentence (CrowS-Pairs `sent_more`).
    pub stereotype: String,
    /// The less stereotypical sentence (CrowS-Pairs `sent_less`).
    pub anti_stereotype: String,
    /// StereoSet's unrelated option (empty for CrowS-Pairs).
    pub unrelated: String,
    /// CrowS-Pairs `stereo_antistereo` (empty for StereoSet).
    pub direction: String,
}

/// One evaluation prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptItem {
    /// Stable id.
    pub id: String,
    /// `lima` or `prompts`.
    pub set: String,
    /// The prompt text.
    pub prompt: String,
    /// Category (`helpful`, `harmless`; LIMA's `source`).
    pub category: String,
}

fn strings<T>(name: &str, rows: &[T], f: impl Fn(&T) -> &str) -> Column {
    Column::new(name.into(), rows.iter().map(f).collect::<Vec<&str>>())
}

/// Writes stereotype probes.
pub fn write_stereo(path: &Path, rows: &[StereoItem]) -> Result<(), DataError> {
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            strings("id", rows, |r| &r.id),
            strings("set", rows, |r| &r.set),
            strings("subset", rows, |r| &r.subset),
            strings("bias_type", rows, |r| &r.bias_type),
            strings("target", rows, |r| &r.target),
            strings("context", rows, |r| &r.context),
            strings("stereotype", rows, |r| &r.stereotype),
            strings("anti_stereotype", rows, |r| &r.anti_stereotype),
            strings("unrelated", rows, |r| &r.unrelated),
            strings("direction", rows, |r| &r.direction),
        ],
    )
    .map_err(|e| DataError::parquet(path, e))?;
    Ok(crate::parquet::write_df(path, &mut df)?)
}

/// Writes a prompt set.
pub fn write_prompts(path: &Path, rows: &[PromptItem]) -> Result<(), DataError> {
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            strings("id", rows, |r| &r.id),
            strings("set", rows, |r| &r.set),
            strings("prompt", rows, |r| &r.prompt),
            strings("category", rows, |r| &r.category),
        ],
    )
    .map_err(|e| DataError::parquet(path, e))?;
    Ok(crate::parquet::write_df(path, &mut df)?)
}

/// Reads a prompt set written by [`write_prompts`].
pub fn read_prompts(path: &Path) -> Result<Vec<PromptItem>, DataError> {
    let df = crate::parquet::read_frame(path)?;
    let col = |n| crate::parquet::str_column(&df, n, path, &[n]);
    let (id, set, prompt, category) = (col("id")?, col("set")?, col("prompt")?, col("category")?);
    Ok(id
        .into_iter()
        .zip(set)
        .zip(prompt)
        .zip(category)
        .map(|(((id, set), prompt), category)| PromptItem {
            id,
            set,
            prompt,
            category,
        })
        .collect())
}

/// Reads stereotype probes written by [`write_stereo`].
pub fn read_stereo(path: &Path) -> Result<Vec<StereoItem>, DataError> {
    let df = crate::parquet::read_frame(path)?;
    let col = |n| crate::parquet::str_column(&df, n, path, &[n]);
    let names = [
        "id",
        "set",
        "subset",
        "bias_type",
        "target",
        "context",
        "stereotype",
        "anti_stereotype",
        "unrelated",
        "direction",
    ];
    let mut cols = Vec::with_capacity(names.len());
    for n in names {
        cols.push(col(n)?);
    }
    Ok((0..df.height())
        .map(|i| {
            let g = |k: usize| cols[k][i].clone();
            StereoItem {
                id: g(0),
                set: g(1),
                subset: g(2),
                bias_type: g(3),
                target: g(4),
                context: g(5),
                stereotype: g(6),
                anti_stereotype: g(7),
                unrelated: g(8),
                direction: g(9),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_tables_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = vec![StereoItem {
            id: "1".into(),
            set: "crows-pairs".into(),
            stereotype: "a".into(),
            anti_stereotype: "b".into(),
            ..Default::default()
        }];
        write_stereo(&dir.path().join("s.parquet"), &s).unwrap();
        assert_eq!(read_stereo(&dir.path().join("s.parquet")).unwrap(), s);
        let p = vec![PromptItem {
            id: "x".into(),
            set: "lima".into(),
            prompt: "hi".into(),
            category: "stackexchange".into(),
        }];
        write_prompts(&dir.path().join("p.parquet"), &p).unwrap();
        assert_eq!(read_prompts(&dir.path().join("p.parquet")).unwrap(), p);
    }
}
