//! The stereotype probes as reward models score them: one row per item of a
//! `data.probes` CrowS-Pairs / StereoSet table with the (prompt, more, less)
//! texts (the probe template of `model.features`), and `probes.parquet`, the
//! table of those rows that `model.features` writes and the reward-model
//! trainer reads back.

use std::path::Path;

use anyhow::Context;
use polars::prelude::{Column, DataFrame};

use super::probe::read_stereo;

/// One probe item as `probes.parquet` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRow {
    /// The item's id in its dataset.
    pub item_id: String,
    /// `crows_pairs` or `stereoset`.
    pub dataset: String,
    /// The dataset's bias type.
    pub bias_type: String,
    /// `stereo` or `antistereo`.
    pub direction: String,
}

/// The probe sentences of one `data.probes` input: rows plus the (prompt,
/// more, less) texts to score.
pub fn probe_items(
    slot: &str,
    dir: &Path,
) -> anyhow::Result<Vec<(ProbeRow, String, String, String)>> {
    let file = dir.join("probes.parquet");
    let (want_set, dataset) = match slot {
        "crows_pairs" => ("crows-pairs", "crows_pairs"),
        _ => ("stereoset", "stereoset"),
    };
    let items = read_stereo(&file)
        .with_context(|| format!("input `{slot}`: expected a data.probes stereotype table"))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.into_iter().enumerate() {
        anyhow::ensure!(
            it.set == want_set,
            "{} row {}: set `{}` in the `{slot}` input (expected `{want_set}`)",
            file.display(),
            i + 1,
            it.set
        );
        let direction = if dataset == "stereoset" {
            "stereo".to_string()
        } else {
            anyhow::ensure!(
                it.direction == "stereo" || it.direction == "antistereo",
                "{} row {}: direction `{}` (expected stereo or antistereo)",
                file.display(),
                i + 1,
                it.direction
            );
            it.direction.clone()
        };
        let prompt = if it.subset == "intersentence" {
            it.context.clone()
        } else {
            String::new()
        };
        out.push((
            ProbeRow {
                item_id: it.id,
                dataset: dataset.to_string(),
                bias_type: it.bias_type,
                direction,
            },
            prompt,
            it.stereotype,
            it.anti_stereotype,
        ));
    }
    Ok(out)
}

/// Writes `probes.parquet` (see the module doc).
pub fn write_probe_rows(path: &Path, rows: &[ProbeRow]) -> anyhow::Result<()> {
    let s = |f: fn(&ProbeRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            Column::new("item_id".into(), s(|r| &r.item_id)),
            Column::new("dataset".into(), s(|r| &r.dataset)),
            Column::new("bias_type".into(), s(|r| &r.bias_type)),
            Column::new("direction".into(), s(|r| &r.direction)),
        ],
    )
    .with_context(|| format!("building {}", path.display()))?;
    crate::parquet::write_df(path, &mut df)?;
    Ok(())
}

/// Reads `probes.parquet` written by [`write_probe_rows`].
pub fn read_probe_rows(path: &Path) -> anyhow::Result<Vec<ProbeRow>> {
    let df = crate::parquet::read_frame(path)?;
    let col = |n| crate::parquet::str_column(&df, n, path, &[n]);
    let (id, ds, bt, dir) = (
        col("item_id")?,
        col("dataset")?,
        col("bias_type")?,
        col("direction")?,
    );
    Ok(id
        .into_iter()
        .zip(ds)
        .zip(bt)
        .zip(dir)
        .map(|(((item_id, dataset), bias_type), direction)| ProbeRow {
            item_id,
            dataset,
            bias_type,
            direction,
        })
        .collect())
}
