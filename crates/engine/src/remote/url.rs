//! Remote addresses: `s3://bucket/prefix`, `http(s)://host/path` (read-only),
//! and a plain directory (`file:///abs` or a path).

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A parsed remote address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteUrl {
    /// An S3-compatible bucket; endpoint and credentials from `AWS_*`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix inside the bucket (no leading or trailing `/`; may be empty).
        prefix: String,
    },
    /// Static files over HTTP(S): read-only.
    Http {
        /// Base URL without a trailing `/`.
        url: String,
    },
    /// A directory on this machine.
    Dir {
        /// The directory.
        path: PathBuf,
    },
}

impl RemoteUrl {
    /// Parses `text`; a relative directory path is taken relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<RemoteUrl, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty remote (expected s3://BUCKET/PREFIX, http(s)://…, file:///DIR or a directory path)".into());
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = !bucket.is_empty()
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !bucket_ok {
                return Err(format!(
                    "bad S3 bucket `{bucket}` in `{text}` (expected s3://BUCKET/PREFIX, bucket of a-z 0-9 . -)"
                ));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|c| c == ".." || c == ".") {
                return Err(format!(
                    "bad S3 prefix in `{text}`: `.` and `..` are not allowed"
                ));
            }
            return Ok(RemoteUrl::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            let after = text.split_once("://").map(|(_, r)| r).unwrap_or("");
            if after.is_empty() || after.starts_with('/') {
                return Err(format!("no host in `{text}`"));
            }
            return Ok(RemoteUrl::Http {
                url: text.trim_end_matches('/').to_string(),
            });
        }
        if let Some(rest) = text.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(format!(
                    "`{text}`: a file:// remote needs an absolute path (file:///DIR)"
                ));
            }
            return Ok(RemoteUrl::Dir {
                path: PathBuf::from(rest),
            });
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(format!(
                "unsupported remote scheme `{scheme}://` in `{text}` (expected s3://, http://, https://, file:// or a directory path)"
            ));
        }
        let p = Path::new(text);
        let path = if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        };
        // Lexically normalised so messages and the sidecar show a clean path.
        let mut clean = PathBuf::new();
        for c in path.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir if clean.file_name().is_some() => {
                    clean.pop();
                }
                other => clean.push(other),
            }
        }
        Ok(RemoteUrl::Dir { path: clean })
    }

    /// Whether the remote can be written (`http(s)` cannot).
    pub fn writable(&self) -> bool {
        !matches!(self, RemoteUrl::Http { .. })
    }
}

impl fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            RemoteUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            RemoteUrl::Http { url } => f.write_str(url),
            RemoteUrl::Dir { path } => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<RemoteUrl, String> {
        RemoteUrl::parse(s, Path::new("/base/pipelines"))
    }

    #[test]
    fn the_four_forms_parse() {
        assert_eq!(
            parse("s3://test/runs/a/").unwrap(),
            RemoteUrl::S3 {
                bucket: "test".into(),
                prefix: "runs/a".into()
            }
        );
        assert_eq!(
            parse("s3://test").unwrap(),
            RemoteUrl::S3 {
                bucket: "test".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            parse("http://127.0.0.1:8000/x/").unwrap(),
            RemoteUrl::Http {
                url: "http://127.0.0.1:8000/x".into()
            }
        );
        assert_eq!(
            parse("file:///srv/remote").unwrap(),
            RemoteUrl::Dir {
                path: "/srv/remote".into()
            }
        );
        assert_eq!(
            parse("../remote").unwrap(),
            RemoteUrl::Dir {
                path: "/base/remote".into()
            }
        );
        assert!(!parse("https://h/x").unwrap().writable());
    }

    #[test]
    fn bad_remotes_say_what_was_expected() {
        for bad in [
            "",
            "s3://",
            "s3://Bad_Bucket/x",
            "s3://b/../x",
            "gs://bucket",
            "http://",
            "file://relative",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(
            parse("gs://b")
                .unwrap_err()
                .contains("unsupported remote scheme")
        );
    }
}
