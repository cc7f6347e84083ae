//! `verify --remote` (issue 25, item 5): what a reviewer runs before
//! announcing a bucket. Every stage output the lockfile names is read back
//! from the remote, streaming and never into the local store, each read
//! stopped one byte past the size the lock gives, and rehashed (a directory
//! output: its manifest, then each file).

use std::collections::BTreeMap;
use std::fmt;

use super::client::Remote;
use super::error::RemoteError;
use super::layout::object_key;
use crate::store::Lockfile;
use crate::store::objects::Manifest;

/// The most bytes read of a directory manifest (the lock does not give its size).
pub const MANIFEST_LIMIT: u64 = 64 << 20;

/// Where a bad object sits: stage, output and, inside a directory, file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The stage.
    pub stage: String,
    /// The output path.
    pub output: String,
    /// The file inside a directory output, if any.
    pub file: Option<String>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} output {}", self.stage, self.output)?;
        match &self.file {
            Some(rel) => write!(f, " file {}", rel.escape_debug()),
            None => Ok(()),
        }
    }
}

/// What is wrong with one published object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The remote has no object under the locked digest.
    Missing {
        /// The locked digest.
        digest: String,
    },
    /// The remote's bytes hash to another digest.
    Corrupt {
        /// The locked digest.
        digest: String,
        /// What the remote's bytes hash to.
        actual: String,
    },
    /// The remote's object is not the size the lock gives.
    Size {
        /// The locked digest.
        digest: String,
        /// Bytes read (one more than `locked` when it is larger: reading stopped).
        got: u64,
        /// The lock's size.
        locked: u64,
    },
    /// A directory manifest that does not parse, leaves its output, or
    /// whose files do not add up to the lock's size.
    Malformed {
        /// The manifest digest.
        digest: String,
        /// What is wrong.
        message: String,
    },
    /// The object could not be read (not a regular file, a failed request).
    Refused {
        /// Why.
        message: String,
    },
}

/// One bad object and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stage, output and file.
    pub place: Place,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.place;
        match &self.problem {
            Problem::Missing { digest } => {
                write!(f, "MISSING   {p}: object {digest} is not on the remote")
            }
            Problem::Corrupt { digest, actual } => write!(
                f,
                "CORRUPT   {p}: remote copy has digest {actual}, the lock gives {digest}"
            ),
            Problem::Size { got, locked, .. } if got > locked => write!(
                f,
                "CORRUPT   {p}: remote copy is larger than the {locked} bytes the lock gives \
                 (stopped after {got})"
            ),
            Problem::Size { got, locked, .. } => write!(
                f,
                "CORRUPT   {p}: remote copy has {got} bytes, the lock gives {locked}"
            ),
            Problem::Malformed { digest, message } => {
                write!(f, "MALFORMED {p}: manifest {digest}: {message}")
            }
            Problem::Refused { message } => write!(f, "REFUSED   {p}: {message}"),
        }
    }
}

/// What `verify --remote` found.
#[derive(Debug, Clone, Default)]
pub struct RemoteCheck {
    /// Stages in the lockfile.
    pub stages: usize,
    /// Outputs checked.
    pub outputs: usize,
    /// Objects looked for (manifests included).
    pub objects: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Every bad object, in lockfile order.
    pub findings: Vec<Finding>,
}

/// One object read back: its digest and size, or why it is bad.
async fn read_object(
    remote: &Remote,
    digest: &str,
    limit: u64,
    keep: Option<&mut Vec<u8>>,
) -> Result<(String, u64), Problem> {
    let mut keep = keep;
    let got = remote
        .get_streaming(&object_key(digest), Some(limit), &mut |b: &[u8]| {
            if let Some(v) = keep.as_deref_mut() {
                v.extend_from_slice(b);
            }
            Ok(())
        })
        .await;
    match got {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(Problem::Missing {
            digest: digest.to_string(),
        }),
        Err(e) => Err(Problem::Refused {
            message: e.to_string(),
        }),
    }
}

/// A file object: missing, of another size than `size`, or another digest.
async fn check_file(remote: &Remote, digest: &str, size: u64) -> (u64, Option<Problem>) {
    match read_object(remote, digest, size, None).await {
        Err(p) => (0, Some(p)),
        Ok((_, got)) if got != size => (
            got,
            Some(Problem::Size {
                digest: digest.to_string(),
                got,
                locked: size,
            }),
        ),
        Ok((actual, got)) if actual != digest => (
            got,
            Some(Problem::Corrupt {
                digest: digest.to_string(),
                actual,
            }),
        ),
        Ok((_, got)) => (got, None),
    }
}

/// A directory manifest whose bytes hash to `digest`, parsed and checked
/// (paths stay inside, files add up to `size`).
async fn read_manifest(remote: &Remote, digest: &str, size: u64) -> Result<Manifest, Problem> {
    let mut bytes = Vec::new();
    let (actual, got) = read_object(remote, digest, MANIFEST_LIMIT, Some(&mut bytes)).await?;
    let malformed = |message: String| Problem::Malformed {
        digest: digest.to_string(),
        message,
    };
    if got > MANIFEST_LIMIT {
        return Err(malformed(format!("larger than {MANIFEST_LIMIT} bytes")));
    }
    if actual != digest {
        return Err(Problem::Corrupt {
            digest: digest.to_string(),
            actual,
        });
    }
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| malformed(format!("does not parse: {e}")))?;
    if let Some(rel) = m.path_leaving() {
        return Err(malformed(format!(
            "path `{}` leaves the output",
            rel.escape_debug()
        )));
    }
    let total = m.files.values().fold(0u64, |t, f| t.saturating_add(f.size));
    if total != size {
        return Err(malformed(format!(
            "its files total {total} bytes, the lock gives {size}"
        )));
    }
    Ok(m)
}

/// Reads back and rehashes every output `lock` names from `remote`;
/// nothing is written locally. Errors only when the runtime fails: every
/// bad object is a [`Finding`].
pub fn verify_remote(remote: &Remote, lock: &Lockfile) -> Result<RemoteCheck, RemoteError> {
    let mut check = RemoteCheck {
        stages: lock.stages.len(),
        ..Default::default()
    };
    remote.block_on(async {
        for (stage, entry) in &lock.stages {
            for (output, e) in &entry.outputs {
                check.outputs += 1;
                let place = |file: Option<&str>| Place {
                    stage: stage.clone(),
                    output: output.clone(),
                    file: file.map(str::to_string),
                };
                let mut files: BTreeMap<String, (String, u64)> = BTreeMap::new();
                if e.dir {
                    check.objects += 1;
                    match read_manifest(remote, &e.digest, e.size).await {
                        Ok(m) => {
                            files.extend(m.files.into_iter().map(|(r, f)| (r, (f.digest, f.size))));
                        }
                        Err(problem) => {
                            check.findings.push(Finding {
                                place: place(None),
                                problem,
                            });
                            continue;
                        }
                    }
                } else {
                    files.insert(String::new(), (e.digest.clone(), e.size));
                }
                for (rel, (digest, size)) in &files {
                    check.objects += 1;
                    let (got, problem) = check_file(remote, digest, *size).await;
                    check.bytes = check.bytes.saturating_add(got);
                    if let Some(problem) = problem {
                        let file = (!rel.is_empty()).then_some(rel.as_str());
                        check.findings.push(Finding {
                            place: place(file),
                            problem,
                        });
                    }
                }
            }
        }
    });
    Ok(check)
}
