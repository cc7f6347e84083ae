//! Live progress on a terminal (ARCHITECTURE.md, "Progress"): one bar per
//! running built-in stage that reports progress, drawn on stderr with
//! `indicatif`; the engine's own lines go through [`BarsOut`] so they print
//! above the bars instead of through them. Off a terminal nothing is drawn:
//! the stage logs carry the same progress as plain lines.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::util::progress::ProgressSink;

/// The bars of the stages running now.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    /// Bars on stderr when it is a terminal; `None` otherwise.
    pub fn on_terminal() -> Option<Bars> {
        if !io::stderr().is_terminal() {
            return None;
        }
        Some(Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `f` with the bars hidden (to print a line).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:.bold} {msg} [{wide_bar}] {pos}/{len} ({per_sec}, ETA {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

impl ProgressSink for Bars {
    fn update(&self, stage: &str, what: &str, done: u64, total: u64) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let bar = bars.entry(stage.to_string()).or_insert_with(|| {
            let b = self.multi.add(ProgressBar::new(total));
            b.set_style(style());
            b.set_prefix(stage.to_string());
            b
        });
        if bar.message() != what {
            bar.set_message(what.to_string());
            bar.reset();
        }
        bar.set_length(total);
        bar.set_position(done);
    }

    fn finish(&self, stage: &str) {
        if let Ok(mut bars) = self.bars.lock()
            && let Some(b) = bars.remove(stage)
        {
            b.finish_and_clear();
            self.multi.remove(&b);
        }
    }
}

/// A line writer that prints each complete line with the bars suspended.
pub struct BarsOut<'a, W: Write> {
    bars: &'a Bars,
    inner: W,
    pending: Vec<u8>,
}

impl<'a, W: Write> BarsOut<'a, W> {
    /// Wraps `inner` (stdout) around `bars`.
    pub fn new(bars: &'a Bars, inner: W) -> Self {
        BarsOut {
            bars,
            inner,
            pending: Vec::new(),
        }
    }
}

impl<W: Write> Write for BarsOut<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            let inner = &mut self.inner;
            self.bars.suspend(|| {
                inner.write_all(&lines)?;
                inner.flush()
            })?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let rest: Vec<u8> = std::mem::take(&mut self.pending);
        let inner = &mut self.inner;
        self.bars.suspend(|| {
            inner.write_all(&rest)?;
            inner.flush()
        })
    }
}

impl<W: Write> Drop for BarsOut<'_, W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
