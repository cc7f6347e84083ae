//! Transfer progress: a one-line bar with rate and ETA on a terminal, plain
//! lines (at most one every few seconds, and a last one) otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Seconds between plain progress lines.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// Seconds between bar redraws.
const BAR_EVERY: Duration = Duration::from_millis(200);

/// Counts objects and bytes of one transfer and prints them.
pub struct Progress {
    label: &'static str,
    objects: usize,
    bytes: u64,
    done_objects: usize,
    done_bytes: u64,
    start: Instant,
    last: Instant,
    tty: bool,
}

/// `12.3 MB`.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

impl Progress {
    /// A transfer of `objects` objects and `bytes` bytes in all.
    pub fn new(label: &'static str, objects: usize, bytes: u64) -> Progress {
        let now = Instant::now();
        Progress {
            label,
            objects,
            bytes,
            done_objects: 0,
            done_bytes: 0,
            start: now,
            last: now,
            tty: std::io::stdout().is_terminal(),
        }
    }

    /// One object of `bytes` bytes done (transferred or already there).
    pub fn add(&mut self, bytes: u64, out: &mut dyn Write) {
        self.done_objects += 1;
        self.done_bytes = self.done_bytes.saturating_add(bytes);
        let every = if self.tty { BAR_EVERY } else { PLAIN_EVERY };
        if self.last.elapsed() >= every && self.done_objects < self.objects {
            self.last = Instant::now();
            self.print(out);
        }
    }

    /// Prints the final state (ending the bar's line on a terminal).
    pub fn finish(&mut self, out: &mut dyn Write) {
        if self.objects == 0 {
            return;
        }
        self.print(out);
        if self.tty {
            let _ = writeln!(out);
        }
    }

    fn print(&self, out: &mut dyn Write) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done_bytes as f64 / secs;
        let counts = format!(
            "{}/{} objects, {}/{}, {}/s",
            self.done_objects,
            self.objects,
            human_bytes(self.done_bytes),
            human_bytes(self.bytes),
            human_bytes(rate as u64)
        );
        if self.tty {
            let frac = if self.bytes > 0 {
                self.done_bytes as f64 / self.bytes as f64
            } else {
                self.done_objects as f64 / self.objects.max(1) as f64
            };
            let filled = (frac.clamp(0.0, 1.0) * 30.0).round() as usize;
            let eta = if rate > 0.0 && self.done_bytes < self.bytes {
                format!(", ETA {:.0}s", (self.bytes - self.done_bytes) as f64 / rate)
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "\r{} [{}{}] {counts}{eta}   ",
                self.label,
                "#".repeat(filled),
                "-".repeat(30 - filled)
            );
        } else {
            let _ = writeln!(out, "{}: {counts}", self.label);
        }
        let _ = out.flush();
    }
}
