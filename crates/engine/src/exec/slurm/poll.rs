//! Job states from the scheduler: one `squeue -t all` call per poll for every
//! job in flight, `scontrol show job -o` for any it no longer lists, on a
//! background thread that polls sub-second at first and backs off to 10 s
//! (`sbatch --wait` polls every 10 s; `sacct` needs slurmdbd, often absent).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::JobId;

/// First poll interval after a submission.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// Longest poll interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(10);

/// What the scheduler says about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A state (`PENDING`, `RUNNING`, `TIMEOUT`, …) and its reason (`None`, `Resources`, …).
    State {
        /// The job state.
        state: String,
        /// The scheduler's reason.
        reason: String,
    },
    /// Neither `squeue` nor `scontrol` knows the job (purged, or lost).
    Gone,
}

/// States after which a job will not run again.
const ENDED: &[&str] = &[
    "COMPLETED",
    "CANCELLED",
    "FAILED",
    "TIMEOUT",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "OUT_OF_MEMORY",
    "REVOKED",
    "SPECIAL_EXIT",
];

/// Pending reasons that no amount of waiting resolves: the request exceeds
/// what the partition or cluster can ever give.
const NEVER: &[&str] = &[
    "PartitionConfig",
    "BadConstraints",
    "PartitionNodeLimit",
    "PartitionTimeLimit",
    "InvalidAccount",
    "InvalidQOS",
    "DependencyNeverSatisfied",
];

impl Seen {
    /// Whether the job has ended (or vanished).
    pub fn ended(&self) -> bool {
        match self {
            Seen::State { state, .. } => ENDED.contains(&state.as_str()),
            Seen::Gone => true,
        }
    }

    /// The reason when the job waits for something it can never get.
    pub fn never_runs(&self) -> Option<&str> {
        match self {
            Seen::State { state, reason }
                if state == "PENDING" && NEVER.contains(&reason.as_str()) =>
            {
                Some(reason)
            }
            _ => None,
        }
    }

    /// Whether the job is waiting in the queue.
    pub fn queued(&self) -> bool {
        matches!(self, Seen::State { state, .. } if state == "PENDING" || state == "REQUEUED")
    }

    /// `TIMEOUT`, `CANCELLED (reason)`, `gone`.
    pub fn describe(&self) -> String {
        match self {
            Seen::State { state, reason } if reason.is_empty() || reason == "None" => state.clone(),
            Seen::State { state, reason } => format!("{state} ({reason})"),
            Seen::Gone => "gone (unknown to squeue and scontrol)".into(),
        }
    }
}

/// `squeue -h -t all -j IDS -o '%i|%T|%r'`: the jobs it lists.
pub fn squeue(ids: &[JobId]) -> Result<HashMap<JobId, Seen>, String> {
    let out = Command::new("squeue")
        .args(["-h", "-t", "all", "-o", "%i|%T|%r", "-j", &ids.join(",")])
        .output()
        .map_err(|e| format!("cannot run squeue: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // Every id unknown: squeue fails instead of printing nothing.
        if stderr.contains("Invalid job id") {
            return Ok(HashMap::new());
        }
        return Err(format!("squeue: {}", stderr.trim()));
    }
    Ok(parse_squeue(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `%i|%T|%r` lines.
pub fn parse_squeue(text: &str) -> HashMap<JobId, Seen> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().splitn(3, '|');
            let id = f.next()?.trim().to_string();
            let state = f.next()?.trim().to_string();
            let reason = f.next().unwrap_or("").trim().to_string();
            (!id.is_empty() && !state.is_empty()).then_some((id, Seen::State { state, reason }))
        })
        .collect()
}

/// `scontrol show job -o ID`: the job's state, or [`Seen::Gone`].
pub fn scontrol(id: &str) -> Result<Seen, String> {
    let out = Command::new("scontrol")
        .args(["show", "job", "-o", id])
        .output()
        .map_err(|e| format!("cannot run scontrol: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stderr.contains("Invalid job id") {
            return Ok(Seen::Gone);
        }
        return Err(format!("scontrol: {}", stderr.trim()));
    }
    Ok(parse_scontrol(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses the `JobState=` and `Reason=` fields of `scontrol show job -o`.
pub fn parse_scontrol(text: &str) -> Seen {
    let field = |k: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or("")
            .to_string()
    };
    let state = field("JobState=");
    if state.is_empty() {
        return Seen::Gone;
    }
    Seen::State {
        state,
        reason: field("Reason="),
    }
}

/// The states of `ids`: one `squeue` call, then `scontrol` for the rest.
pub fn query(ids: &[JobId]) -> Result<HashMap<JobId, Seen>, String> {
    let mut seen = squeue(ids)?;
    for id in ids {
        if !seen.contains_key(id) {
            seen.insert(id.clone(), scontrol(id)?);
        }
    }
    Ok(seen)
}

#[derive(Default)]
struct Table {
    seen: HashMap<JobId, Option<Seen>>,
    rounds: u64,
    stop: bool,
    hurry: bool,
    failing_since: Option<Instant>,
    last_error: String,
}

#[derive(Default)]
struct Shared {
    table: Mutex<Table>,
    cond: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The polling thread and the states it last saw.
#[derive(Default)]
pub struct Poller {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Poller {
    /// Starts watching `id` (and polls soon).
    pub fn watch(&self, id: &JobId) {
        {
            let mut t = self.shared.lock();
            t.seen.insert(id.clone(), None);
            t.hurry = true;
        }
        self.shared.cond.notify_all();
        let mut th = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        if th.is_none() {
            let shared = self.shared.clone();
            *th = Some(std::thread::spawn(move || poll_loop(&shared)));
        }
    }

    /// Stops watching `id`.
    pub fn forget(&self, id: &JobId) {
        self.shared.lock().seen.remove(id);
    }

    /// The last state seen for `id`, if polled yet.
    pub fn seen(&self, id: &JobId) -> Option<Seen> {
        self.shared.lock().seen.get(id).cloned().flatten()
    }

    /// How long queries have failed in a row, with the last error.
    pub fn failing(&self) -> Option<(Duration, String)> {
        let t = self.shared.lock();
        t.failing_since.map(|s| (s.elapsed(), t.last_error.clone()))
    }

    /// Polls again soon (at the shortest interval), e.g. after an `scancel`.
    pub fn hurry(&self) {
        self.shared.lock().hurry = true;
        self.shared.cond.notify_all();
    }

    /// Waits for the next poll round, at most `limit`.
    pub fn wait_round(&self, limit: Duration) {
        let t = self.shared.lock();
        let start = t.rounds;
        let _ = self
            .shared
            .cond
            .wait_timeout_while(t, limit, |t| t.rounds == start && !t.stop);
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.cond.notify_all();
        if let Some(h) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = h.join();
        }
    }
}

fn poll_loop(shared: &Shared) {
    let mut interval = MIN_INTERVAL;
    loop {
        let ids: Vec<JobId> = {
            let mut t = shared.lock();
            while !t.stop && t.seen.is_empty() {
                t = shared.cond.wait(t).unwrap_or_else(|p| p.into_inner());
            }
            if t.stop {
                return;
            }
            t.hurry = false;
            t.seen.keys().cloned().collect()
        };
        let result = query(&ids);
        {
            let mut t = shared.lock();
            match result {
                Ok(states) => {
                    for (id, s) in states {
                        if let Some(slot) = t.seen.get_mut(&id) {
                            *slot = Some(s);
                        }
                    }
                    t.failing_since = None;
                }
                Err(e) => {
                    t.failing_since.get_or_insert_with(Instant::now);
                    t.last_error = e;
                }
            }
            t.rounds += 1;
        }
        shared.cond.notify_all();
        interval = interval.mul_f64(1.5).min(MAX_INTERVAL);
        let t = shared.lock();
        let (t, _) = shared
            .cond
            .wait_timeout_while(t, interval, |t| !t.stop && !t.hurry)
            .unwrap_or_else(|p| p.into_inner());
        if t.hurry {
            interval = MIN_INTERVAL;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_and_scontrol_output_parse() {
        let m =
            parse_squeue("12|RUNNING|None\n13|PENDING|PartitionConfig\n\n14|TIMEOUT|TimeLimit\n");
        assert_eq!(m.len(), 3);
        assert!(!m["12"].ended());
        assert_eq!(m["13"].never_runs(), Some("PartitionConfig"));
        assert!(m["14"].ended());
        assert_eq!(m["14"].describe(), "TIMEOUT (TimeLimit)");
        let s = parse_scontrol(
            "JobId=7 JobName=x UserId=root(0) JobState=OUT_OF_MEMORY Reason=OutOfMemory Dependency=(null)",
        );
        assert_eq!(
            s,
            Seen::State {
                state: "OUT_OF_MEMORY".into(),
                reason: "OutOfMemory".into()
            }
        );
        assert!(s.ended());
        assert_eq!(parse_scontrol(""), Seen::Gone);
        assert!(Seen::Gone.ended());
    }
}
