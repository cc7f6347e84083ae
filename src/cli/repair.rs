//! `repro verify --repair`: damaged or missing objects are fetched again from
//! the remote (rehashed before they enter the store), or, without a remote,
//! the stages that made them are rerun (the store replaces a damaged object
//! when the same bytes come again; a rerun whose bytes differ updates its
//! record and the lockfile, as `run --force` would).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use super::context::Ctx;
use super::error::CliError;
use crate::dag::Evaluation;
use crate::dag::plan::lock_entry;
use crate::exec::stage_run::{Keep, run_stage};
use crate::exec::{self, RealRunner, RunSettings};
use crate::remote::Remote;
use crate::remote::layout::object_key;
use crate::store::{Lockfile, Record};

/// Repairs `bad` (digest → holding stages); returns how many objects are
/// intact afterwards. The caller holds the store lock.
pub fn repair(
    ctx: &Ctx,
    lock: &mut Lockfile,
    evals: &[Evaluation],
    bad: &BTreeMap<String, BTreeSet<String>>,
    remote: Option<&str>,
    out: &mut dyn Write,
) -> Result<usize, CliError> {
    let url = super::transfer::remote_url(remote, ctx).ok();
    if let Some(url) = url {
        let r = Remote::open(&url, false)?;
        let staging = ctx.store.new_tmp("repair")?;
        let mut fixed = 0;
        for (d, stages) in bad {
            let dest = staging.join(d);
            let who = stages.iter().cloned().collect::<Vec<_>>().join(", ");
            match r.block_on(r.get_to_file(&object_key(d), &dest, None))? {
                Some((actual, _)) if actual == *d => {
                    ctx.store.put_file(&dest)?;
                    fixed += usize::from(ctx.store.verify_object(d).is_ok());
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
        ctx.store.clean_tmp()?;
        return Ok(fixed);
    }
    // No remote: rerun the stages that made the objects, in pipeline order.
    let wanted: BTreeSet<&String> = bad.values().flatten().collect();
    let records = crate::exec::rerun::fresh_records(&ctx.pipeline, evals);
    let cancel = exec::signals::install();
    for s in &ctx.pipeline.stages {
        if !wanted.contains(&s.name) {
            continue;
        }
        // The record the lockfile names (the plan may call the stage stale
        // because of the very objects being repaired).
        let locked = lock.stages.get(&s.name).map(|e| e.key.clone());
        let rec = match locked {
            Some(k) => Record::load(&ctx.store, &k).ok().flatten(),
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
        let material = &rec.material;
        let settings = RunSettings::new(
            rec.provenance.threads,
            ctx.backend,
            super::context::roots(&ctx.pipeline.file),
            cancel.clone(),
        );
        let _ = writeln!(out, "rerunning {} to repair its outputs", s.name);
        let rec = &rec;
        match run_stage(
            s,
            &rec.key,
            material,
            &ctx.pipeline,
            &records,
            &ctx.store,
            &RealRunner,
            &settings,
            Keep::Record,
        ) {
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
                    .insert(s.name.clone(), lock_entry(material, &fresh));
                lock.save(&ctx.lock_path)?;
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
    ctx.store.clean_tmp()?;
    Ok(bad
        .keys()
        .filter(|d| ctx.store.verify_object(d).is_ok())
        .count())
}
