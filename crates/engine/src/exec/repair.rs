//! `repro verify --repair`: damaged or missing objects are fetched again from
//! a remote (rehashed before they enter the store), or, without one, the
//! stages that made them are rerun (the store replaces a damaged object when
//! the same bytes come again; a rerun whose bytes differ updates its record
//! and the lockfile, as `run --force` would). One line per object or stage
//! goes to `out`; the caller holds the store's exclusive lock.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use super::rerun::{Reexec, fresh_records};
use super::stage_run::Keep;
use crate::dag::Evaluation;
use crate::dag::plan::lock_entry;
use crate::remote::layout::object_key;
use crate::remote::{Remote, RemoteError};
use crate::spec::Pipeline;
use crate::store::{Lockfile, Record, Store, StoreError};

/// Damaged or missing objects (digest → the stages whose outputs reach
/// them, as `exec::audit` finds them) in a store, to mend.
pub struct Repair<'a> {
    /// The pipeline.
    pub pipeline: &'a Pipeline,
    /// Its plan against `store`.
    pub evals: &'a [Evaluation],
    /// The store.
    pub store: &'a Store,
    /// What to mend.
    pub bad: &'a BTreeMap<String, BTreeSet<String>>,
}

impl Repair<'_> {
    /// Fetches every object from `remote`; returns how many are intact
    /// afterwards.
    ///
    /// # Errors
    /// The remote cannot be read or the store written.
    pub fn from_remote(&self, remote: &Remote, out: &mut dyn Write) -> Result<usize, RemoteError> {
        let url = remote.url();
        let staging = self.store.new_tmp("repair")?;
        let mut fixed = 0;
        for (d, stages) in self.bad {
            let dest = staging.join(d);
            let who = stages.iter().cloned().collect::<Vec<_>>().join(", ");
            match remote.block_on(remote.get_to_file(&object_key(d), &dest, None))? {
                Some((actual, _)) if actual == *d => {
                    self.store.put_file(&dest)?;
                    fixed += usize::from(self.store.verify_object(d).is_ok());
                    let _ = writeln!(out, "REPAIRED  {who}: object {d} from {url}");
                }
                Some((actual, _)) => {
                    let _ = writeln!(
                        out,
                        "UNREPAIRED {who}: object {d}: the remote's bytes hash to {actual}"
                    );
                }
                None => {
                    let _ = writeln!(out, "UNREPAIRED {who}: object {d} is not on {url}");
                }
            }
        }
        self.store.clean_tmp()?;
        Ok(fixed)
    }

    /// Reruns the stages that made the objects, in pipeline order, from the
    /// records `lock` names, saving `lock` to `lock_path` after each; returns
    /// how many objects are intact afterwards.
    ///
    /// # Errors
    /// The store or the lockfile cannot be written.
    pub fn by_rerun(
        &self,
        lock: &mut Lockfile,
        lock_path: &Path,
        how: &Reexec,
        out: &mut dyn Write,
    ) -> Result<usize, StoreError> {
        let wanted: BTreeSet<&String> = self.bad.values().flatten().collect();
        let records = fresh_records(self.pipeline, self.evals);
        for s in &self.pipeline.stages {
            if !wanted.contains(&s.name) {
                continue;
            }
            // The record the lockfile names (the plan may call the stage stale
            // because of the very objects being repaired).
            let locked = lock.stages.get(&s.name).map(|e| e.key.clone());
            let rec = match locked {
                Some(k) => Record::load(self.store, &k).ok().flatten(),
                None => None,
            };
            let Some(rec) = rec else {
                let _ = writeln!(
                    out,
                    "UNREPAIRED {}: no record to rerun; run it instead",
                    s.name
                );
                continue;
            };
            let _ = writeln!(out, "rerunning {} to repair its outputs", s.name);
            match how.run(s, &rec, self.pipeline, &records, self.store, Keep::Record) {
                Ok(fresh) => {
                    if fresh.outputs != rec.outputs {
                        let _ = writeln!(
                            out,
                            "REPAIRED  {}: rerun; its outputs differ from the old record, the lockfile is updated",
                            s.name
                        );
                    } else {
                        let _ = writeln!(out, "REPAIRED  {}: rerun, same bytes", s.name);
                    }
                    lock.stages
                        .insert(s.name.clone(), lock_entry(&rec.material, &fresh));
                    lock.save(lock_path)?;
                }
                Err(f) => {
                    let _ = writeln!(
                        out,
                        "UNREPAIRED {}: rerun failed: {}",
                        s.name, f.error.message
                    );
                }
            }
        }
        self.store.clean_tmp()?;
        Ok(self
            .bad
            .keys()
            .filter(|d| self.store.verify_object(d).is_ok())
            .count())
    }
}
