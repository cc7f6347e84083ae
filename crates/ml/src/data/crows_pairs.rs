//! CrowS-Pairs (Nangia et al., 2020): `crows_pairs_anonymized.csv` with columns
//! `sent_more, sent_less, stereo_antistereo, bias_type, …` (first column: index).
//!
//! `sent_more` is the more stereotypical sentence of the pair whatever the
//! direction: the reference metric (nyu-mll/crows-pairs `metric.py`) counts a
//! model as biased on a pair when it scores `sent_more` above `sent_less`, for
//! `stereo` and `antistereo` pairs alike. So `stereotype = sent_more`,
//! `anti_stereotype = sent_less`, and the direction is kept for breakdowns.

use std::path::Path;

use super::drops::OnBadRows;
use super::error::DataError;
use super::lines::open;
use super::load::{LoadStats, Parsed, file_name, handle};
use super::probe::StereoItem;
use super::row::RowError;

/// Columns that must be present.
pub const REQUIRED: [&str; 4] = ["sent_more", "sent_less", "stereo_antistereo", "bias_type"];

/// Reads CrowS-Pairs pairs.
pub fn load(path: &Path, on_bad: OnBadRows) -> Result<(Vec<StereoItem>, LoadStats), DataError> {
    let name = file_name(path);
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(open(path)?);
    let headers = rdr
        .headers()
        .map_err(|e| DataError::row(path, 1, "<header>", e.to_string()))?
        .clone();
    if headers.is_empty() {
        return Err(DataError::Empty {
            file: path.to_path_buf(),
        });
    }
    let mut idx = Vec::with_capacity(REQUIRED.len());
    for col in REQUIRED {
        let i = headers
            .iter()
            .position(|h| h == col)
            .ok_or_else(|| DataError::row(path, 1, col, "missing column in the header"))?;
        idx.push(i);
    }
    let id_col = headers.iter().position(str::is_empty);
    let mut out = Vec::new();
    let mut stats = LoadStats::default();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                let res: Result<Parsed<StereoItem>, RowError> =
                    Err(RowError::new("<line>", format!("malformed CSV: {e}")));
                stats.rows_read += 1;
                handle(&mut out, &mut stats, res, path, &name, line, on_bad)?;
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(DataError::Gzip {
                        file: path.to_path_buf(),
                        line,
                        source: std::io::Error::other(e.to_string()),
                    });
                }
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line() as usize);
        stats.rows_read += 1;
        let res = (|| {
            let get = |k: usize| -> Result<&str, RowError> {
                let v = rec
                    .get(idx[k])
                    .ok_or_else(|| RowError::new(REQUIRED[k], "missing field"))?;
                if v.trim().is_empty() {
                    return Err(RowError::new(REQUIRED[k], "empty value"));
                }
                Ok(v)
            };
            let (more, less, dir, bias) = (get(0)?, get(1)?, get(2)?, get(3)?);
            if dir != "stereo" && dir != "antistereo" {
                return Err(RowError::new(
                    "stereo_antistereo",
                    format!("expected `stereo` or `antistereo`, found `{dir}`"),
                ));
            }
            let id = id_col
                .and_then(|i| rec.get(i))
                .filter(|s| !s.is_empty())
                .map_or_else(|| line.to_string(), str::to_string);
            Ok(Parsed::Keep(vec![StereoItem {
                id: format!("crows-pairs:{id}"),
                set: "crows-pairs".into(),
                subset: "crows-pairs".into(),
                bias_type: bias.to_string(),
                stereotype: more.to_string(),
                anti_stereotype: less.to_string(),
                direction: dir.to_string(),
                ..Default::default()
            }]))
        })();
        handle(&mut out, &mut stats, res, path, &name, line, on_bad)?;
    }
    if stats.rows_read == 0 {
        return Err(DataError::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = ",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n";

    #[test]
    fn reads_quoted_rows_and_names_bad_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        let body = "0,\"He was poor, so lazy.\",\"He was rich, so lazy.\",stereo,socioeconomic,\"[['socioeconomic']]\",a0,\"['a1']\"\n\
                    1,Women can't drive.,Men can't drive.,antistereo,gender,[],a1,[]\n\
                    2,x,y,sideways,gender,[],a2,[]\n";
        std::fs::write(&p, format!("{HEADER}{body}")).unwrap();
        let e = load(&p, OnBadRows::Error).unwrap_err().to_string();
        assert!(e.contains("c.csv:4: field `stereo_antistereo`"), "{e}");
        let (items, st) = load(&p, OnBadRows::Skip).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(st.bad_rows.total(), 1);
        assert_eq!(items[0].stereotype, "He was poor, so lazy.");
        assert_eq!(
            (items[1].id.as_str(), items[1].direction.as_str()),
            ("crows-pairs:1", "antistereo")
        );
        std::fs::write(&p, ",sent_more,sent_less\n").unwrap();
        assert!(
            load(&p, OnBadRows::Skip)
                .unwrap_err()
                .to_string()
                .contains("stereo_antistereo")
        );
        std::fs::write(&p, HEADER).unwrap();
        assert!(matches!(
            load(&p, OnBadRows::Skip).unwrap_err(),
            DataError::Empty { .. }
        ));
    }
}
