//! How a row is timed: warm-up calls, then the median of timed calls.

use std::time::Instant;

/// Warm-up and timed calls of one measurement (`BENCH_WARMUP`, `BENCH_ITERS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Untimed calls first (≥ 0; default 1).
    pub warmup: usize,
    /// Timed calls whose median is reported (≥ 1; default 3).
    pub iters: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            warmup: 1,
            iters: 3,
        }
    }
}

impl Timing {
    /// From `BENCH_WARMUP` and `BENCH_ITERS`, the defaults where unset or unreadable.
    pub fn from_env() -> Self {
        let d = Timing::default();
        let get = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Timing {
            warmup: get("BENCH_WARMUP", d.warmup),
            iters: get("BENCH_ITERS", d.iters).max(1),
        }
    }

    /// Median seconds per call of `f` after the warm-up calls.
    pub fn median_secs<F: FnMut()>(&self, mut f: F) -> f64 {
        for _ in 0..self.warmup {
            f();
        }
        let mut t: Vec<f64> = (0..self.iters.max(1))
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed().as_secs_f64()
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    }
}

/// This process's peak resident set in KiB (getrusage), -1 if unknown.
pub fn peak_rss_kb() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } == 0 {
        u.ru_maxrss
    } else {
        -1
    }
}

/// Threads the rows compute on: `RAYON_NUM_THREADS` where set and positive,
/// else the CPUs this process may use.
pub fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
