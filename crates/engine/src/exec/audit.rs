//! The checks of `repro verify` that read and never run: every stage's key
//! against the lockfile, every lock entry against its record, every object
//! rehashed and every output reached. The CLI prints the [`Audit`]'s findings,
//! mends broken objects on `--repair` and re-executes stages on `--rerun`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use crate::dag::{Evaluation, Reason};
use crate::spec::{Pipeline, Stage};
use crate::store::{Lockfile, Record, Store, StoreError};

/// One thing `verify` found wrong, printed as one line.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// A stage of the pipeline that the lockfile lacks.
    NotLocked {
        /// Expanded stage name.
        stage: String,
    },
    /// A stage whose key is not the lockfile's, and why.
    Stale {
        /// Expanded stage name.
        stage: String,
        /// The reason: the stage's own, or the first upstream stage that is
        /// stale for a reason of its own.
        why: String,
    },
    /// A lock entry's record that cannot be read as a record.
    MalformedRecord {
        /// Expanded stage name.
        stage: String,
        /// The record, relative to the store.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A lock entry with no record for its key.
    MissingRecord {
        /// Expanded stage name.
        stage: String,
        /// The locked key.
        key: String,
    },
    /// A record whose outputs are not the lock entry's.
    RecordMismatch {
        /// Expanded stage name.
        stage: String,
    },
    /// A directory output whose manifest names a path that leaves it.
    ManifestLeaves {
        /// Expanded stage name.
        stage: String,
        /// The declared output.
        output: String,
        /// The offending relative path.
        rel: String,
    },
    /// An object whose bytes no longer hash to its name.
    CorruptObject {
        /// `stage S output P; …: ` for an object the lockfile reaches, else empty.
        holders: String,
        /// What the rehash found.
        error: String,
    },
    /// An object a record reaches that the store lacks.
    MissingObject {
        /// `stage S output P; …: `, or `S: ` for a record the lockfile does not name.
        holders: String,
        /// Its digest.
        digest: String,
    },
}

impl Finding {
    /// Whether this is a damaged or missing object (what `--repair` mends).
    pub fn is_object(&self) -> bool {
        matches!(
            self,
            Finding::CorruptObject { .. } | Finding::MissingObject { .. }
        )
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::NotLocked { stage } => write!(f, "STALE     {stage}: not in the lockfile"),
            Finding::Stale { stage, why } => write!(f, "STALE     {stage}: {why}"),
            Finding::MalformedRecord {
                stage,
                path,
                message,
            } => write!(f, "MALFORMED {stage}: record {}: {message}", path.display()),
            Finding::MissingRecord { stage, key } => {
                write!(f, "MISSING   {stage}: no record for key {key}")
            }
            Finding::RecordMismatch { stage } => write!(
                f,
                "MISMATCH  {stage}: record outputs differ from the lockfile"
            ),
            Finding::ManifestLeaves { stage, output, rel } => write!(
                f,
                "MALFORMED {stage} output {output}: manifest path `{}` leaves the output",
                rel.escape_debug()
            ),
            Finding::CorruptObject { holders, error } => write!(f, "CORRUPT   {holders}{error}"),
            Finding::MissingObject { holders, digest } => {
                write!(f, "MISSING   {holders}object {digest}")
            }
        }
    }
}

/// What the read-only checks found.
#[derive(Debug, Default)]
pub struct Audit {
    /// Every finding, in the order the checks ran.
    pub findings: Vec<Finding>,
    /// Damaged or missing objects → the stages whose outputs reach them
    /// (what `--repair` restores).
    pub broken: BTreeMap<String, BTreeSet<String>>,
    /// Objects rehashed.
    pub objects: usize,
}

impl Audit {
    /// Findings that are not damaged or missing objects.
    pub fn other_problems(&self) -> usize {
        self.findings.iter().filter(|f| !f.is_object()).count()
    }

    /// Damaged or missing objects found.
    pub fn object_problems(&self) -> usize {
        self.findings.iter().filter(|f| f.is_object()).count()
    }
}

/// Runs the checks on `store` for `pipeline` planned as `evals` against `lock`.
///
/// # Errors
/// A store that cannot be read (other than a malformed record, which is a
/// finding).
pub fn audit(
    pipeline: &Pipeline,
    evals: &[Evaluation],
    lock: &Lockfile,
    store: &Store,
) -> Result<Audit, StoreError> {
    let mut a = Audit::default();
    // (1) keys vs lock.
    for (s, e) in pipeline.stages.iter().zip(evals) {
        let locked = lock.stages.get(&s.name).map(|l| l.key.as_str());
        match (&e.key, locked) {
            (Some(k), Some(l)) if k == l => {}
            (_, None) => a.findings.push(Finding::NotLocked {
                stage: s.name.clone(),
            }),
            _ => {
                // A key that cannot be made because an upstream stage is not
                // fresh names that stage and its reason (a malformed record,
                // say), not just the slot (issue 25, item 11).
                let why = match upstream_cause(pipeline, evals, s) {
                    Some((up, reason)) => format!("upstream `{up}`: {reason}"),
                    None => e
                        .reason
                        .as_ref()
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "key differs from the lockfile".into()),
                };
                a.findings.push(Finding::Stale {
                    stage: s.name.clone(),
                    why,
                });
            }
        }
    }
    // (2) lock vs records.
    for (name, entry) in &lock.stages {
        match Record::load(store, &entry.key) {
            // Named by the stage that owns it (a truncated file, a directory
            // where the file should be), and verify goes on.
            Err(StoreError::Malformed { path, message }) => {
                let shown = path.strip_prefix(store.root()).unwrap_or(&path);
                a.findings.push(Finding::MalformedRecord {
                    stage: name.clone(),
                    path: shown.to_path_buf(),
                    message,
                });
            }
            Err(e) => return Err(e),
            Ok(None) => a.findings.push(Finding::MissingRecord {
                stage: name.clone(),
                key: entry.key.clone(),
            }),
            Ok(Some(r)) if r.outputs != entry.outputs => {
                a.findings.push(Finding::RecordMismatch {
                    stage: name.clone(),
                });
            }
            Ok(Some(_)) => {}
        }
    }
    // (3) rehash every object, then every object a record reaches.
    let objects = store.all_objects()?;
    a.objects = objects.len();
    let held = holders(store, lock);
    for d in &objects {
        if let Err(e) = store.verify_object(d) {
            if let Some(h) = held.get(d) {
                let stages = h.iter().map(|h| h.stage.clone()).collect();
                a.broken.insert(d.clone(), stages);
            }
            a.findings.push(Finding::CorruptObject {
                holders: prefix(&held, d),
                error: e.to_string(),
            });
        }
    }
    for (name, entry) in &lock.stages {
        // A malformed record was reported above.
        let Ok(Some(r)) = Record::load(store, &entry.key) else {
            continue;
        };
        // A missing manifest hides its files: it is reported itself.
        let mut reached = Vec::new();
        for (o, e) in &r.outputs {
            reached.push(e.digest.clone());
            if e.dir
                && let Ok(m) = store.manifest(&e.digest)
            {
                // Issue 25, item 7: refused here as export and pull refuse it.
                if let Some(rel) = m.path_leaving() {
                    a.findings.push(Finding::ManifestLeaves {
                        stage: name.clone(),
                        output: o.clone(),
                        rel: rel.to_string(),
                    });
                }
                reached.extend(m.files.into_values().map(|f| f.digest));
            }
        }
        for d in reached {
            if !store.has(&d) {
                a.broken.entry(d.clone()).or_default().insert(name.clone());
                let holders = match prefix(&held, &d) {
                    p if p.is_empty() => format!("{name}: "),
                    p => p,
                };
                a.findings
                    .push(Finding::MissingObject { holders, digest: d });
            }
        }
    }
    Ok(a)
}

/// For a stage whose key waits on an upstream stage that is not fresh: the
/// first such upstream stage, followed up the graph to one that is stale for
/// its own reason, and that reason.
fn upstream_cause(
    pipeline: &Pipeline,
    evals: &[Evaluation],
    stage: &Stage,
) -> Option<(String, String)> {
    let mut at = stage;
    // Each step goes strictly upstream; the bound only guards a bad graph.
    for _ in 0..=pipeline.stages.len() {
        let up = at
            .inputs
            .values()
            .flat_map(|r| r.stages())
            .filter_map(|u| pipeline.index.get(u).copied())
            .find(|&u| evals.get(u).is_some_and(|e| !e.fresh()))?;
        match &evals.get(up)?.reason {
            Some(Reason::UpstreamStale(_)) => at = &pipeline.stages[up],
            Some(r) => return Some((pipeline.stages[up].name.clone(), r.to_string())),
            None => return None,
        }
    }
    None
}

/// One place a lockfile reaches an object: the stage, and the artifact in
/// words (`stage S output P`, `… (its manifest)`, `… file F`).
struct Holder {
    stage: String,
    what: String,
}

/// Digest → every place in `lock` that reaches it, so a damaged object is
/// named by the artifact it belongs to and repaired through the stages that
/// made it.
fn holders(store: &Store, lock: &Lockfile) -> HashMap<String, Vec<Holder>> {
    let mut out: HashMap<String, Vec<Holder>> = HashMap::new();
    let mut add = |digest: &str, stage: &str, what: String| {
        out.entry(digest.to_string()).or_default().push(Holder {
            stage: stage.to_string(),
            what,
        });
    };
    for (stage, entry) in &lock.stages {
        for (output, e) in &entry.outputs {
            let what = format!("stage {stage} output {output}");
            if !e.dir {
                add(&e.digest, stage, what);
                continue;
            }
            add(&e.digest, stage, format!("{what} (its manifest)"));
            // A damaged manifest hides its files; it is reported itself.
            if let Ok(m) = store.manifest(&e.digest) {
                for (rel, f) in m.files {
                    add(&f.digest, stage, format!("{what} file {rel}"));
                }
            }
        }
    }
    out
}

/// `stage S output P; …: ` for a digest in `holders`, else empty.
fn prefix(holders: &HashMap<String, Vec<Holder>>, digest: &str) -> String {
    match holders.get(digest) {
        Some(v) => {
            let what: Vec<&str> = v.iter().map(|h| h.what.as_str()).collect();
            format!("{}: ", what.join("; "))
        }
        None => String::new(),
    }
}
