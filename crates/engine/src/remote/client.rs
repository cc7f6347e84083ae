//! One remote behind `object_store`, driven by a small current-thread tokio
//! runtime so that the rest of `repro` stays synchronous.

use std::fs::File;
use std::future::Future;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, ClientConfigKey, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig, WriteMultipart,
};

use super::error::{RemoteError, chain};
use super::url::RemoteUrl;
use crate::store::StoreError;
use crate::store::error::IoContext;

/// Tries per request, the first included (the bound: ≤ 3).
pub const MAX_TRIES: usize = 3;
/// Longest a request is retried for, from its first try (≤ 30 s).
pub const RETRY_BOUND: Duration = Duration::from_secs(30);
/// Connect timeout per try.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request timeout per try (large bodies need more than the retry bound).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Objects at least this large are uploaded in parts, streamed from disk.
pub const MULTIPART_THRESHOLD: u64 = 64 << 20;
/// Part size of a multipart upload.
const PART_SIZE: usize = 16 << 20;

/// An opened remote.
pub struct Remote {
    url: RemoteUrl,
    store: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
    /// The root of a directory remote: its objects are read by `repro`
    /// itself, through a descriptor it judged with `fstat` (a FIFO there
    /// must not hang a pull), not through `object_store`.
    dir: Option<std::path::PathBuf>,
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: MAX_TRIES - 1,
        retry_timeout: RETRY_BOUND,
    }
}

fn humantime(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

impl Remote {
    /// Opens `url`; `write` creates a missing directory remote and refuses
    /// read-only ones.
    pub fn open(url: &RemoteUrl, write: bool) -> Result<Remote, RemoteError> {
        let name = url.to_string();
        if write && !url.writable() {
            return Err(RemoteError::ReadOnly { remote: name });
        }
        let open_err = |message: String| RemoteError::Open {
            remote: name.clone(),
            message,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RemoteError::Runtime)?;
        let store: Arc<dyn ObjectStore> = match url {
            RemoteUrl::S3 { bucket, prefix } => {
                // Endpoint, region, credentials and AWS_ALLOW_HTTP from the
                // standard AWS_* variables; path-style requests (the default).
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry_config())
                    .with_config(
                        AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                        humantime(CONNECT_TIMEOUT),
                    )
                    .with_config(
                        AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                        humantime(REQUEST_TIMEOUT),
                    )
                    .build()
                    .map_err(|e| open_err(chain(&e)))?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix.as_str()))
                }
            }
            RemoteUrl::Http { url: base } => {
                let options = ClientOptions::new()
                    .with_allow_http(base.starts_with("http://"))
                    .with_connect_timeout(CONNECT_TIMEOUT)
                    .with_timeout(REQUEST_TIMEOUT);
                Arc::new(
                    HttpBuilder::new()
                        .with_url(base.as_str())
                        .with_client_options(options)
                        .with_retry(retry_config())
                        .build()
                        .map_err(|e| open_err(chain(&e)))?,
                )
            }
            RemoteUrl::Dir { path } => {
                if write {
                    std::fs::create_dir_all(path)
                        .map_err(|e| open_err(format!("cannot create the directory: {e}")))?;
                } else if !path.is_dir() {
                    return Err(open_err("no such directory".into()));
                }
                Arc::new(LocalFileSystem::new_with_prefix(path).map_err(|e| open_err(chain(&e)))?)
            }
        };
        let dir = match url {
            RemoteUrl::Dir { path } => Some(path.clone()),
            _ => None,
        };
        Ok(Remote {
            url: url.clone(),
            store,
            rt,
            dir,
        })
    }

    /// The remote's address.
    pub fn url(&self) -> &RemoteUrl {
        &self.url
    }

    /// Runs a future to completion on the remote's runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn fail(&self, op: &'static str, key: &str, e: &object_store::Error) -> RemoteError {
        RemoteError::Request {
            remote: self.url.to_string(),
            op,
            key: key.to_string(),
            message: chain(e),
        }
    }

    /// For a directory remote, refuses `key` when it or any directory on its
    /// way is a symbolic link: a push never follows a link out of the remote.
    fn refuse_links(&self, op: &'static str, key: &str) -> Result<(), RemoteError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let mut p = dir.clone();
        for part in key.split('/') {
            p.push(part);
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(RemoteError::Request {
                    remote: self.url.to_string(),
                    op,
                    key: key.to_string(),
                    message: format!(
                        "{} is a symbolic link inside the directory remote; links there are \
                         never followed (remove it)",
                        p.display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The size of the object at `key`, or `None` when absent.
    pub async fn head(&self, key: &str) -> Result<Option<u64>, RemoteError> {
        self.refuse_links("HEAD", key)?;
        match self.store.head(&Key::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail("HEAD", key, &e)),
        }
    }

    /// Uploads bytes to `key` (a plain PUT: atomic on every backend).
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), RemoteError> {
        self.refuse_links("PUT", key)?;
        self.store
            .put(&Key::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.fail("PUT", key, &e))
    }

    /// Uploads a local object file to `key`, checking on the way that its
    /// bytes hash to `digest` (a corrupt local object is never published).
    pub async fn put_object_file(
        &self,
        key: &str,
        file: &Path,
        digest: &str,
    ) -> Result<u64, RemoteError> {
        self.refuse_links("PUT", key)?;
        let size = std::fs::metadata(file).at(file)?.len();
        let corrupt = |actual: String| {
            RemoteError::Store(StoreError::Corrupt {
                digest: digest.to_string(),
                actual,
                path: file.to_path_buf(),
            })
        };
        if size < MULTIPART_THRESHOLD {
            let bytes = std::fs::read(file).at(file)?;
            let actual = blake3::hash(&bytes).to_hex().to_string();
            if actual != digest {
                return Err(corrupt(actual));
            }
            self.put(key, Bytes::from(bytes)).await?;
            return Ok(size);
        }
        let upload = self
            .store
            .put_multipart(&Key::from(key))
            .await
            .map_err(|e| self.fail("PUT", key, &e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut f = File::open(file).at(file)?;
        let mut h = blake3::Hasher::new();
        let mut buf = vec![0u8; PART_SIZE];
        loop {
            let n = f.read(&mut buf).at(file)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            w.wait_for_capacity(4)
                .await
                .map_err(|e| self.fail("PUT", key, &e))?;
            w.write(&buf[..n]);
        }
        let actual = h.finalize().to_hex().to_string();
        if actual != digest {
            let _ = w.abort().await;
            return Err(corrupt(actual));
        }
        w.finish().await.map_err(|e| self.fail("PUT", key, &e))?;
        Ok(size)
    }

    /// For a directory remote, `key` opened without following a final
    /// link and without blocking, refused unless it is a regular file:
    /// `Some(None)` when absent; `None` for other remotes.
    fn open_local(&self, key: &str) -> Result<Option<Option<File>>, RemoteError> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let path = key.split('/').fold(dir.clone(), |p, part| p.join(part));
        match crate::util::hash::open_regular(&path) {
            Ok(f) => Ok(Some(Some(f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(None)),
            Err(e) => Err(RemoteError::Request {
                remote: self.url.to_string(),
                op: "GET",
                key: key.to_string(),
                message: format!("{}: {e}", path.display()),
            }),
        }
    }

    /// Downloads `key` whole, or `None` when absent.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>, RemoteError> {
        if let Some(local) = self.open_local(key)? {
            let Some(mut f) = local else {
                return Ok(None);
            };
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)
                .map_err(|e| self.fail_io("GET", key, &e))?;
            return Ok(Some(Bytes::from(bytes)));
        }
        let r = match self.store.get(&Key::from(key)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.fail("GET", key, &e)),
        };
        r.bytes()
            .await
            .map(Some)
            .map_err(|e| self.fail("GET", key, &e))
    }

    fn fail_io(&self, op: &'static str, key: &str, e: &std::io::Error) -> RemoteError {
        RemoteError::Request {
            remote: self.url.to_string(),
            op,
            key: key.to_string(),
            message: e.to_string(),
        }
    }

    /// Streams `key` into a new file `dest`, hashing on the way; returns
    /// the blake3 digest and size of what arrived, or `None` when absent.
    /// With `limit`, stops as soon as more than `limit` bytes arrived (the
    /// size returned is then over the limit and the digest is of a prefix).
    pub async fn get_to_file(
        &self,
        key: &str,
        dest: &Path,
        limit: Option<u64>,
    ) -> Result<Option<(String, u64)>, RemoteError> {
        let mut out: Option<File> = None;
        let got = self
            .get_streaming(key, limit, &mut |b: &[u8]| {
                let f = match &mut out {
                    Some(f) => f,
                    None => out.insert(File::create(dest).at(dest)?),
                };
                f.write_all(b).at(dest)?;
                Ok(())
            })
            .await?;
        if got.is_some() {
            let f = match out {
                Some(f) => f,
                None => File::create(dest).at(dest)?,
            };
            f.sync_all().at(dest)?;
        }
        Ok(got)
    }

    /// Streams `key` through `sink`, hashing on the way; returns the blake3
    /// digest and size of what arrived, or `None` when absent. Never reads
    /// more than one byte past `limit`; a directory remote's object must be
    /// a regular file (opened without blocking, links not followed).
    pub async fn get_streaming(
        &self,
        key: &str,
        limit: Option<u64>,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), RemoteError>,
    ) -> Result<Option<(String, u64)>, RemoteError> {
        let limit = limit.unwrap_or(u64::MAX);
        let mut h = blake3::Hasher::new();
        let mut size = 0u64;
        if let Some(local) = self.open_local(key)? {
            let Some(mut f) = local else {
                return Ok(None);
            };
            let mut buf = vec![0u8; 1 << 20];
            loop {
                // Never more than one byte past the limit.
                let room = limit.saturating_add(1).saturating_sub(size);
                let cap = usize::try_from(room).unwrap_or(usize::MAX).min(buf.len());
                let n = f
                    .read(&mut buf[..cap])
                    .map_err(|e| self.fail_io("GET", key, &e))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                sink(&buf[..n])?;
                size = size.saturating_add(n as u64);
                if size > limit {
                    break;
                }
            }
            return Ok(Some((h.finalize().to_hex().to_string(), size)));
        }
        let r = match self.store.get(&Key::from(key)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.fail("GET", key, &e)),
        };
        let mut body = r.into_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.fail("GET", key, &e))?;
            let room = limit.saturating_add(1).saturating_sub(size);
            let chunk = &chunk[..usize::try_from(room).unwrap_or(usize::MAX).min(chunk.len())];
            h.update(chunk);
            sink(chunk)?;
            size = size.saturating_add(chunk.len() as u64);
            if size > limit {
                break;
            }
        }
        Ok(Some((h.finalize().to_hex().to_string(), size)))
    }
}
