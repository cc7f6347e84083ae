//! Getting remote files: plain URLs into a download cache, hub files through
//! `hf-hub`'s synchronous API and the standard Hugging Face cache.
//!
//! - URL downloads go to `$REPRO_CACHE/url/<blake3(url)[..16]>/<file name>`
//!   (default `$XDG_CACHE_HOME/repro`, else `~/.cache/repro`), once: a later
//!   run reuses the copy, and the stage records its digest.
//! - Hub files live in the Hugging Face cache: `$HF_HUB_CACHE`, else
//!   `$HF_HOME/hub`, else `~/.cache/huggingface/hub`; `HF_ENDPOINT` picks a mirror.
//! - Offline (`HF_HUB_OFFLINE` or `REPRO_OFFLINE` set to `1`/`true`/`yes`/`on`)
//!   only those caches are consulted; a missing file is an error naming the URL
//!   or repo and the variable that points at a local copy.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::DataError;

/// Whether `name` is set to a true value.
fn env_true(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// Whether the network must not be used.
pub fn offline() -> bool {
    env_true("HF_HUB_OFFLINE") || env_true("REPRO_OFFLINE")
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// The variables that place [`url_cache_dir`], in order of precedence.
pub const URL_CACHE_VARS: &str = "REPRO_CACHE, XDG_CACHE_HOME or HOME";
/// The variables that place [`hf_cache_dir`], in order of precedence.
pub const HF_CACHE_VARS: &str = "HF_HUB_CACHE, HF_HOME or HOME";

/// Directory of URL downloads: `$REPRO_CACHE`, else `$XDG_CACHE_HOME/repro`, else
/// `$HOME/.cache/repro`; `None` when none is set (never a path relative to the
/// working directory: a fetch then fails with [`DataError::NoCacheDir`]).
pub fn url_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("REPRO_CACHE") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("repro"));
    }
    Some(home()?.join(".cache").join("repro"))
}

/// Directory of the Hugging Face hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `$HOME/.cache/huggingface/hub`; `None` when none is set (never a path relative to the
/// working directory).
pub fn hf_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("HF_HUB_CACHE") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("HF_HOME") {
        return Some(PathBuf::from(d).join("hub"));
    }
    Some(home()?.join(".cache").join("huggingface").join("hub"))
}

/// The environment a fetch runs in (read once, so tests can build their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchEnv {
    /// Never touch the network.
    pub offline: bool,
    /// Root of URL downloads ([`url_cache_dir`]; `None`: no directory can be named, and
    /// a URL fetch is refused).
    pub url_cache: Option<PathBuf>,
    /// Hugging Face hub cache ([`hf_cache_dir`]; `None`: no directory can be named, and a
    /// hub fetch is refused).
    pub hf_cache: Option<PathBuf>,
}

impl FetchEnv {
    /// From `HF_HUB_OFFLINE`/`REPRO_OFFLINE`, `REPRO_CACHE`, `HF_HUB_CACHE`/`HF_HOME`.
    pub fn from_env() -> Self {
        FetchEnv {
            offline: offline(),
            url_cache: url_cache_dir(),
            hf_cache: hf_cache_dir(),
        }
    }
}

/// Where the download of `url` is kept under `root`.
pub fn url_cache_path(root: &Path, url: &str) -> PathBuf {
    let h = blake3::hash(url.as_bytes()).to_hex();
    let name = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or("");
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = if name.is_empty() || name.starts_with('.') {
        format!("download{name}")
    } else {
        name
    };
    root.join("url").join(&h.as_str()[..16]).join(name)
}

/// The local copy of `url`, downloading it once if needed.
pub fn fetch_url(env: &FetchEnv, url: &str) -> Result<PathBuf, DataError> {
    let root = env
        .url_cache
        .as_deref()
        .ok_or_else(|| DataError::NoCacheDir {
            what: url.to_string(),
            vars: URL_CACHE_VARS,
        })?;
    let dest = url_cache_path(root, url);
    if dest.is_file() {
        return Ok(dest);
    }
    let unavailable = |message: String| DataError::Unavailable {
        what: format!("url {url}"),
        message,
        env: "REPRO_CACHE",
        hint: format!(
            " (looked for {}), or use a `path:` source under $REPRO_DATA",
            dest.display()
        ),
    };
    if env.offline {
        return Err(unavailable(
            "not downloaded yet and offline (HF_HUB_OFFLINE/REPRO_OFFLINE)".into(),
        ));
    }
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| DataError::Write {
        file: dir.to_path_buf(),
        source,
    })?;
    let resp = ureq::get(url)
        .call()
        .map_err(|e| unavailable(format!("download failed: {e}")))?;
    let tmp = dir.join(format!(".partial-{}", std::process::id()));
    let werr = |source| DataError::Write {
        file: tmp.clone(),
        source,
    };
    let mut f = File::create(&tmp).map_err(werr)?;
    std::io::copy(&mut resp.into_reader(), &mut f)
        .map_err(|e| unavailable(format!("download interrupted: {e}")))?;
    f.flush().map_err(werr)?;
    drop(f);
    std::fs::rename(&tmp, &dest).map_err(|source| DataError::Write {
        file: dest.clone(),
        source,
    })?;
    Ok(dest)
}

/// A file in a Hugging Face hub repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    /// `owner/name`.
    pub repo: String,
    /// Whether it is a dataset (else a model) repository.
    pub dataset: bool,
    /// Path inside the repository.
    pub file: String,
    /// Branch, tag or commit.
    pub revision: String,
}

impl HubFile {
    /// `hf dataset owner/name@rev file`, for messages and provenance.
    pub fn describe(&self) -> String {
        let t = if self.dataset { "dataset" } else { "model" };
        format!("hf {t} {}@{} {}", self.repo, self.revision, self.file)
    }
}

/// The local copy of a hub file, from the cache or (online) downloaded into it.
pub fn fetch_hf(env: &FetchEnv, f: &HubFile) -> Result<PathBuf, DataError> {
    use hf_hub::{Cache, Repo, RepoType};
    let dir = env.hf_cache.clone().ok_or_else(|| DataError::NoCacheDir {
        what: f.describe(),
        vars: HF_CACHE_VARS,
    })?;
    let ty = if f.dataset {
        RepoType::Dataset
    } else {
        RepoType::Model
    };
    let repo = || Repo::with_revision(f.repo.clone(), ty, f.revision.clone());
    let cache = Cache::new(dir.clone());
    if let Some(p) = cache.repo(repo()).get(&f.file) {
        return Ok(p);
    }
    let unavailable = |message: String| DataError::Unavailable {
        what: f.describe(),
        message,
        env: "HF_HUB_CACHE",
        hint: format!(" (looked in {}; HF_HOME/hub is the default)", dir.display()),
    };
    if env.offline {
        return Err(unavailable(
            "not in the Hugging Face cache and HF_HUB_OFFLINE is set".into(),
        ));
    }
    let mut builder = hf_hub::api::sync::ApiBuilder::from_cache(cache).with_progress(false);
    if let Some(ep) = std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()) {
        builder = builder.with_endpoint(ep);
    }
    let api = builder
        .build()
        .map_err(|e| unavailable(format!("hub client: {e}")))?;
    api.repo(repo())
        .get(&f.file)
        .map_err(|e| unavailable(format!("download failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LIMA's training file on the hub: the hub source the tests fetch.
    fn lima() -> HubFile {
        HubFile {
            repo: "GAIR/lima".into(),
            dataset: true,
            file: "train.jsonl".into(),
            revision: "main".into(),
        }
    }

    #[test]
    fn cache_paths_are_stable_and_safe() {
        let r = Path::new("/c");
        let a = url_cache_path(r, "https://example.org/x/data.jsonl.gz?dl=1");
        assert_eq!(
            a,
            url_cache_path(r, "https://example.org/x/data.jsonl.gz?dl=1")
        );
        assert_eq!(a.file_name().unwrap(), "data.jsonl.gz");
        assert!(a.starts_with("/c/url"));
        let b = url_cache_path(r, "https://example.org/../..");
        assert!(
            b.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("download")
        );
        assert_ne!(
            a.parent(),
            url_cache_path(r, "https://example.org/y/data.jsonl.gz").parent()
        );
    }

    #[test]
    fn offline_misses_name_the_source_and_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let env = FetchEnv {
            offline: true,
            url_cache: Some(dir.path().join("u")),
            hf_cache: Some(dir.path().join("hf")),
        };
        let e = fetch_url(&env, "https://example.org/a.jsonl")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("url https://example.org/a.jsonl") && e.contains("REPRO_CACHE"),
            "{e}"
        );
        let f = lima();
        let e = fetch_hf(&env, &f).unwrap_err().to_string();
        assert!(
            e.contains("hf dataset GAIR/lima@main train.jsonl") && e.contains("HF_HUB_CACHE"),
            "{e}"
        );
        // A copy already in the URL cache is used without the network.
        let p = url_cache_path(
            env.url_cache.as_deref().unwrap(),
            "https://example.org/a.jsonl",
        );
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "{}").unwrap();
        assert_eq!(fetch_url(&env, "https://example.org/a.jsonl").unwrap(), p);
    }

    /// Regression (issue 27): with `$HOME` unset the cache was `.cache/repro` under the
    /// working directory; now a fetch that needs a cache is refused, naming the variables.
    #[test]
    fn no_cache_directory_is_an_error_not_a_relative_path() {
        let env = FetchEnv {
            offline: true,
            url_cache: None,
            hf_cache: None,
        };
        let e = fetch_url(&env, "https://example.org/a.jsonl")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("https://example.org/a.jsonl") && e.contains(URL_CACHE_VARS),
            "{e}"
        );
        let f = lima();
        let e = fetch_hf(&env, &f).unwrap_err().to_string();
        assert!(e.contains("GAIR/lima") && e.contains(HF_CACHE_VARS), "{e}");
    }

    /// Serves `body` to one HTTP request on a local port; returns a URL.
    fn serve_once(body: Vec<u8>) -> String {
        use std::io::Read;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            }
        });
        format!("http://{addr}/data/pairs.jsonl")
    }

    #[test]
    fn downloads_once_into_the_cache_and_reports_unreachable_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let env = FetchEnv {
            offline: false,
            url_cache: Some(dir.path().join("u")),
            hf_cache: Some(dir.path().join("hf")),
        };
        let body = b"{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n".to_vec();
        let url = serve_once(body.clone());
        let p = fetch_url(&env, &url).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), body);
        // The server answered once and is gone: the second fetch is served from the cache.
        assert_eq!(fetch_url(&env, &url).unwrap(), p);
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let e = fetch_url(&env, &format!("http://{closed}/x.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("url http://{closed}/x.jsonl")) && e.contains("REPRO_CACHE"),
            "{e}"
        );
    }

    #[test]
    fn hub_cache_layout_is_found_offline() {
        // The standard cache layout: refs/<rev> holds a commit; snapshots/<commit>/<file>.
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("datasets--GAIR--lima");
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "abc123").unwrap();
        std::fs::create_dir_all(repo.join("snapshots/abc123")).unwrap();
        std::fs::write(repo.join("snapshots/abc123/train.jsonl"), "{}").unwrap();
        let env = FetchEnv {
            offline: true,
            url_cache: Some(dir.path().join("u")),
            hf_cache: Some(dir.path().to_path_buf()),
        };
        let f = lima();
        assert_eq!(
            fetch_hf(&env, &f).unwrap(),
            repo.join("snapshots/abc123/train.jsonl")
        );
    }
}
