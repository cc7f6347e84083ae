//! Progress of long stages (ARCHITECTURE.md, "Progress"): a library loop
//! reports `done` of `total` items through its hooks; a [`Progress`] turns
//! that into plain lines for the stage log (every 10 % or 30 s, and at the
//! end) and forwards every update to a [`ProgressSink`] — the engine's live
//! terminal bars, or nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where live progress goes (the engine's terminal display).
pub trait ProgressSink: Send + Sync {
    /// Stage `stage` has done `done` of `total` items of phase `what`.
    fn update(&self, stage: &str, what: &str, done: u64, total: u64);
    /// Stage `stage` finished: its display goes away.
    fn finish(&self, stage: &str);
}

/// A sink that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSink;

impl ProgressSink for NoSink {
    fn update(&self, _stage: &str, _what: &str, _done: u64, _total: u64) {}
    fn finish(&self, _stage: &str) {}
}

/// How often a log line is written at most, besides every 10 %.
const LINE_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Phase {
    what: String,
    started: Instant,
    last_line: Instant,
    last_decile: u64,
}

/// One stage's progress: its sink and what the log has been told.
pub struct Progress {
    stage: String,
    sink: Arc<dyn ProgressSink>,
    phase: Mutex<Option<Phase>>,
}

impl Progress {
    /// Progress of `stage`, shown through `sink`.
    pub fn new(stage: &str, sink: Arc<dyn ProgressSink>) -> Self {
        Progress {
            stage: stage.to_string(),
            sink,
            phase: Mutex::new(None),
        }
    }

    /// Progress shown nowhere (tests, tools).
    pub fn quiet(stage: &str) -> Self {
        Progress::new(stage, Arc::new(NoSink))
    }

    /// Records `done` of `total` for phase `what`; returns a line for the
    /// log when one is due (a new phase, each 10 %, every 30 s, the end).
    pub fn update(&self, what: &str, done: u64, total: u64) -> Option<String> {
        self.sink.update(&self.stage, what, done, total);
        let now = Instant::now();
        let Ok(mut guard) = self.phase.lock() else {
            return None;
        };
        let fresh = guard.as_ref().is_none_or(|p| p.what != what);
        if fresh {
            *guard = Some(Phase {
                what: what.to_string(),
                started: now,
                last_line: now,
                last_decile: 0,
            });
        }
        let p = guard.as_mut()?;
        let decile = (done * 10).checked_div(total).unwrap_or(0);
        let due = fresh
            || done >= total
            || decile > p.last_decile
            || now.duration_since(p.last_line) >= LINE_EVERY;
        if !due {
            return None;
        }
        p.last_line = now;
        p.last_decile = decile;
        Some(line(what, done, total, now.duration_since(p.started)))
    }

    /// The stage is over: its live display goes away.
    pub fn finish(&self) {
        self.sink.finish(&self.stage);
    }
}

/// `what: done/total (pct %), rate/s, ETA …`.
pub fn line(what: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let pct = if total > 0 {
        100.0 * done as f64 / total as f64
    } else {
        0.0
    };
    let eta = if rate > 0.0 && total > done {
        format!(", ETA {}", duration((total - done) as f64 / rate))
    } else {
        String::new()
    };
    format!("progress {what}: {done}/{total} ({pct:.1} %), {rate:.1}/s{eta}")
}

/// `1h 02m`, `3m 07s`, `12s`.
pub fn duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(Mutex<Vec<(u64, u64)>>);
    impl ProgressSink for Count {
        fn update(&self, _s: &str, _w: &str, done: u64, total: u64) {
            self.0.lock().unwrap().push((done, total));
        }
        fn finish(&self, _s: &str) {}
    }

    #[test]
    fn every_update_reaches_the_sink_and_the_log_gets_one_line_per_decile() {
        let sink = Arc::new(Count(Mutex::new(Vec::new())));
        let p = Progress::new("s", sink.clone());
        let lines: Vec<String> = (0..=1000)
            .filter_map(|i| p.update("embed", i, 1000))
            .collect();
        assert_eq!(sink.0.lock().unwrap().len(), 1001);
        assert_eq!(lines.len(), 11, "{lines:?}");
        assert!(
            lines[10].starts_with("progress embed: 1000/1000 (100.0 %)"),
            "{}",
            lines[10]
        );
        assert!(
            p.update("score", 0, 10).is_some(),
            "a new phase is logged at once"
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(12.4), "12s");
        assert_eq!(duration(187.0), "3m 07s");
        assert_eq!(duration(3720.0), "1h 02m");
        assert!(line("x", 5, 10, Duration::from_secs(5)).ends_with("1.0/s, ETA 5s"));
    }
}
