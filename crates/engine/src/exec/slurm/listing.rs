//! `repro status` while a Slurm run is in progress: the jobs in flight
//! (queued or running), with their ids, from one `squeue` call.

use std::io::Write;

use super::recover;
use crate::store::Store;

/// Prints a line per job in flight; nothing when there are none.
pub fn print(store: &Store, out: &mut dyn Write) {
    let left = recover::find(store);
    let ids: Vec<String> = left.iter().filter_map(|l| l.id.clone()).collect();
    if ids.is_empty() {
        return;
    }
    let seen = match super::poll::squeue(&ids) {
        Ok(seen) => seen,
        Err(e) => {
            let _ = writeln!(
                out,
                "slurm  cannot list the {} job(s) in flight: {e}",
                ids.len()
            );
            return;
        }
    };
    for l in &left {
        let Some(id) = &l.id else { continue };
        let Some(s) = seen.get(id) else { continue };
        if s.ended() {
            continue;
        }
        let what = if s.queued() { "queued " } else { "running" };
        let _ = writeln!(
            out,
            "slurm  {what}  {}  job {id}  {}",
            l.job.stage,
            s.describe()
        );
    }
}
