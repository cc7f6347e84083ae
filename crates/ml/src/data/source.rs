//! `source:` specs — a local path, a URL or a hub file, optionally pinned — and
//! their resolution to a local file whose digest is recorded.
//!
//! ```yaml
//! source: { path: hh-rlhf/harmless-base/test.jsonl.gz }          # relative to $REPRO_DATA
//! source: { url: https://…/test.jsonl.gz, sha256: ebfa… }
//! source: { hf: { repo: GAIR/lima, type: dataset, file: train.jsonl, revision: main }, blake3: … }
//! ```
//! Keying (ARCHITECTURE.md, "Life of a stage run"): a `path:` source is a file dependency the engine hashes;
//! a pinned remote source is keyed by its pin, so `repro status` needs no
//! network; an unpinned remote source is hashed when read and the digest goes
//! into `metrics.json`, so a changed upstream file shows there.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::DataError;
use super::fetch::{FetchEnv, HubFile, fetch_hf, fetch_url};
use super::pin::{Algo, FileDigest, Pin, digest};

/// Kind of hub repository.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum HubType {
    /// A dataset repository.
    #[default]
    Dataset,
    /// A model repository.
    Model,
}

/// `hf:` part of a source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HfSpec {
    /// `owner/name`.
    pub repo: String,
    /// `dataset` (default) or `model`.
    #[serde(rename = "type", default)]
    pub kind: HubType,
    /// Path inside the repository.
    pub file: String,
    /// Branch, tag or commit (default `main`).
    #[serde(default = "main")]
    pub revision: String,
}

fn main() -> String {
    "main".into()
}

/// A `source:` map as written in the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Local file: absolute, or relative to `$REPRO_DATA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Remote file, downloaded once into `$REPRO_CACHE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// File in a Hugging Face hub repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<HfSpec>,
    /// Expected SHA-256 of the file (64 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Expected BLAKE3 of the file (64 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
}

/// Where a source lives, after checking the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local file (already joined with `$REPRO_DATA` if relative).
    Path(PathBuf),
    /// A URL.
    Url(String),
    /// A hub file.
    Hub(HubFile),
}

/// A source read from disk.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    /// Local file to read.
    #[serde(skip)]
    pub path: PathBuf,
    /// How the pipeline named it (`path:…`, `url:…`, `hf dataset …`).
    pub what: String,
    /// Digests of the bytes read.
    pub digest: FileDigest,
    /// The pin it was checked against, if any.
    pub pin: Option<String>,
}

impl SourceSpec {
    /// A `path:` source.
    pub fn path(p: impl Into<String>) -> Self {
        SourceSpec {
            path: Some(p.into()),
            url: None,
            hf: None,
            sha256: None,
            blake3: None,
        }
    }

    /// The pin, if one is given (errors if both or malformed).
    pub fn pin(&self) -> Result<Option<Pin>, DataError> {
        match (&self.sha256, &self.blake3) {
            (Some(_), Some(_)) => Err(DataError::Spec(
                "give at most one of `sha256` and `blake3`".into(),
            )),
            (Some(h), None) => Pin::new(Algo::Sha256, h).map(Some),
            (None, Some(h)) => Pin::new(Algo::Blake3, h).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Checks the spec and says where the file is; `data_root` is `$REPRO_DATA`.
    pub fn location(&self, data_root: Option<&Path>) -> Result<Location, DataError> {
        self.pin()?;
        match (&self.path, &self.url, &self.hf) {
            (Some(p), None, None) => {
                let p = Path::new(p);
                if p.is_absolute() {
                    Ok(Location::Path(p.to_path_buf()))
                } else if let Some(root) = data_root {
                    Ok(Location::Path(root.join(p)))
                } else {
                    Err(DataError::Spec(format!(
                        "relative path `{}` needs $REPRO_DATA (the data root) to be set",
                        p.display()
                    )))
                }
            }
            (None, Some(u), None) => {
                if !(u.starts_with("https://") || u.starts_with("http://")) {
                    return Err(DataError::Spec(format!(
                        "url `{u}`: expected http:// or https://"
                    )));
                }
                Ok(Location::Url(u.clone()))
            }
            (None, None, Some(h)) => Ok(Location::Hub(HubFile {
                repo: h.repo.clone(),
                dataset: h.kind == HubType::Dataset,
                file: h.file.clone(),
                revision: h.revision.clone(),
            })),
            _ => Err(DataError::Spec(
                "give exactly one of `path`, `url` and `hf`".into(),
            )),
        }
    }

    /// Resolves to a local file, fetching if remote, checks the pin and digests it.
    pub fn resolve(&self, data_root: Option<&Path>, env: &FetchEnv) -> Result<Resolved, DataError> {
        let (path, what) = match self.location(data_root)? {
            Location::Path(p) => {
                if !p.is_file() {
                    return Err(DataError::Io {
                        file: p.clone(),
                        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                    });
                }
                // default: never taken; a `Location::Path` comes from `path:`.
                let what = format!("path:{}", self.path.as_deref().unwrap_or_default());
                (p, what)
            }
            Location::Url(u) => (fetch_url(env, &u)?, format!("url:{u}")),
            Location::Hub(h) => (fetch_hf(env, &h)?, h.describe()),
        };
        let pin = self.pin()?;
        if let Some(p) = &pin {
            p.verify(&path, &what)?;
        }
        Ok(Resolved {
            digest: digest(&path)?,
            path,
            what,
            pin: pin.map(|p| p.label()),
        })
    }

    /// A short label for the `source` column (`test.jsonl.gz`, `GAIR/lima/train.jsonl`).
    pub fn label(&self) -> String {
        if let Some(p) = &self.path {
            return p.clone();
        }
        if let Some(u) = &self.url {
            return u.clone();
        }
        self.hf
            .as_ref()
            .map_or_else(String::new, |h| format!("{}/{}", h.repo, h.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: &Path) -> FetchEnv {
        FetchEnv {
            offline: true,
            url_cache: Some(dir.join("u")),
            hf_cache: Some(dir.join("hf")),
        }
    }

    #[test]
    fn relative_paths_resolve_under_the_data_root_and_pins_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/x.jsonl"), b"abc").unwrap();
        let mut s = SourceSpec::path("d/x.jsonl");
        let r = s.resolve(Some(dir.path()), &env(dir.path())).unwrap();
        assert_eq!(r.path, dir.path().join("d/x.jsonl"));
        assert_eq!(r.digest.bytes, 3);
        assert!(
            s.resolve(None, &env(dir.path()))
                .unwrap_err()
                .to_string()
                .contains("REPRO_DATA")
        );
        s.sha256 = Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into());
        assert_eq!(
            s.resolve(Some(dir.path()), &env(dir.path()))
                .unwrap()
                .pin
                .unwrap(),
            format!("sha256:{}", s.sha256.as_ref().unwrap())
        );
        s.sha256 = Some("0".repeat(64));
        let e = s.resolve(Some(dir.path()), &env(dir.path())).unwrap_err();
        assert!(matches!(e, DataError::PinMismatch { .. }), "{e}");
        let e = SourceSpec::path("d/missing")
            .resolve(Some(dir.path()), &env(dir.path()))
            .unwrap_err();
        assert!(e.to_string().contains("d/missing"), "{e}");
    }

    #[test]
    fn spec_shape_is_checked() {
        let v = serde_json::json!({"path": "a", "url": "https://x/y"});
        let s: SourceSpec = serde_json::from_value(v).unwrap();
        assert!(s.location(None).is_err());
        let v = serde_json::json!({"hf": {"repo": "GAIR/lima", "file": "train.jsonl"}});
        let s: SourceSpec = serde_json::from_value(v).unwrap();
        let Location::Hub(h) = s.location(None).unwrap() else {
            panic!()
        };
        assert!(h.dataset);
        assert_eq!(h.revision, "main");
        assert!(serde_json::from_value::<SourceSpec>(serde_json::json!({"pth": "a"})).is_err());
        let v = serde_json::json!({"url": "ftp://x"});
        assert!(
            serde_json::from_value::<SourceSpec>(v)
                .unwrap()
                .location(None)
                .is_err()
        );
    }
}
