//! Loading one preference source in one of the supported formats.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::drops::OnBadRows;
use super::error::DataError;
use super::hh_rlhf::{self, HhOptions};
use super::lines::Lines;
use super::load::{LoadStats, file_name, handle, load_jsonl};
use super::pair::PreferencePair;
use super::pku_saferlhf::{self, PkuOptions};
use super::preference_jsonl::{self, FieldMap};

/// Supported preference formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// HH-RLHF `{"chosen","rejected"}` transcripts.
    HhRlhf,
    /// `{"prompt","chosen","rejected"}` rows.
    PreferenceJsonl,
    /// PKU-SafeRLHF rows (JSON lines or Parquet).
    PkuSaferlhf,
    /// The seeded generator.
    Synthetic,
}

/// Per-format options besides the source.
#[derive(Debug, Clone, Default)]
pub struct FormatOptions {
    /// Category of every pair (HH-RLHF, preference-jsonl without a category field).
    pub category: Option<String>,
    /// Bad-row policy.
    pub on_bad_rows: OnBadRows,
    /// preference-jsonl field names.
    pub fields: FieldMap,
    /// HH-RLHF options.
    pub hh: HhOptions,
    /// PKU-SafeRLHF options.
    pub pku: PkuOptions,
}

/// Extra counts some formats report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FormatCounts {
    /// PKU: rows whose pair had several categories (before `multi_category`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_category_rows: Option<usize>,
}

/// Whether a file is Parquet (by its magic bytes `PAR1`).
pub fn is_parquet(path: &Path) -> Result<bool, DataError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|source| DataError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let mut m = [0u8; 4];
    match f.read_exact(&mut m) {
        Ok(()) => Ok(&m == b"PAR1"),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(source) => Err(DataError::Io {
            file: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads `path` in `format`; `label` fills the `source` column.
pub fn load(
    path: &Path,
    format: Format,
    opts: &FormatOptions,
    label: &str,
) -> Result<(Vec<PreferencePair>, LoadStats, FormatCounts), DataError> {
    let name = file_name(path);
    let source = format!("{}:{label}", format_name(format));
    let id = |line: usize| format!("{name}:{line}");
    let mut counts = FormatCounts::default();
    let (pairs, stats) = match format {
        Format::HhRlhf => {
            let cat = opts.category.as_deref().unwrap_or("hh-rlhf");
            load_jsonl(path, opts.on_bad_rows, |line, o| {
                hh_rlhf::parse_row(o, id(line), cat, &source, &opts.hh)
            })?
        }
        Format::PreferenceJsonl => load_jsonl(path, opts.on_bad_rows, |line, o| {
            preference_jsonl::parse_row(
                o,
                &opts.fields,
                id(line),
                opts.category.as_deref(),
                &source,
            )
        })?,
        Format::PkuSaferlhf => {
            let mut multi = 0usize;
            let mut step = |line: usize, row: Result<pku_saferlhf::PkuRow, _>| {
                row.map(|r| {
                    if pku_saferlhf::category_count(&r, &opts.pku) > 1 {
                        multi += 1;
                    }
                    pku_saferlhf::to_pairs(&r, &opts.pku, &id(line), &source)
                })
            };
            let res = if is_parquet(path)? {
                let mut out = Vec::new();
                let mut stats = LoadStats::default();
                for (line, row) in super::pku_parquet::read_rows(path)? {
                    stats.rows_read += 1;
                    let r = step(line, row);
                    handle(&mut out, &mut stats, r, path, &name, line, opts.on_bad_rows)?;
                }
                (out, stats)
            } else {
                load_jsonl(path, opts.on_bad_rows, |line, o| {
                    step(line, pku_saferlhf::row_from_json(o))
                })?
            };
            counts.multi_category_rows = Some(multi);
            res
        }
        Format::Synthetic => {
            return Err(DataError::Spec(
                "the synthetic format has no source file".into(),
            ));
        }
    };
    Ok((pairs, stats, counts))
}

/// The format's name as written in pipelines.
pub fn format_name(f: Format) -> &'static str {
    match f {
        Format::HhRlhf => "hh-rlhf",
        Format::PreferenceJsonl => "preference-jsonl",
        Format::PkuSaferlhf => "pku-saferlhf",
        Format::Synthetic => "synthetic",
    }
}

/// Pairs per category.
pub fn by_category(pairs: &[PreferencePair]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in pairs {
        *m.entry(p.category.clone()).or_default() += 1;
    }
    m
}

/// Counts the non-blank lines of a text file (for reports).
pub fn count_lines(path: &Path) -> Result<usize, DataError> {
    let mut n = 0;
    for l in Lines::open(path)? {
        l?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::pku_saferlhf::tests::fixture_row;

    #[test]
    fn pku_jsonl_counts_multi_category_rows_and_drops() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pku.jsonl");
        let rows = [
            fixture_row("a", [true, false], &[], &["Violence", "Drugs"], 1, 0),
            fixture_row("b", [true, true], &[], &[], 0, 0),
            fixture_row("c", [false, true], &["Cybercrime"], &[], 1, 1),
        ];
        let text: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        std::fs::write(&p, text.join("\n")).unwrap();
        let (pairs, stats, counts) = load(
            &p,
            Format::PkuSaferlhf,
            &FormatOptions::default(),
            "pku.jsonl",
        )
        .unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(stats.dropped.count(pku_saferlhf::BOTH_SAFE), 1);
        assert_eq!(counts.multi_category_rows, Some(1));
        assert_eq!(pairs[1].id, "pku.jsonl:3");
        assert_eq!(pairs[1].category, "Cybercrime");
        assert_eq!(pairs[0].source, "pku-saferlhf:pku.jsonl");
        assert!(!is_parquet(&p).unwrap());
    }
}
