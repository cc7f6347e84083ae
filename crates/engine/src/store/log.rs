//! Stage logs (`logs/<stage>/<stamp>.log`): bounded in size, read from the
//! end. A log keeps the first [`HEAD_BYTES`] and the last [`TAIL_BYTES`] of
//! what a stage printed, with one line saying how much was left out between
//! them, so a runaway stage cannot fill the disk and printing a failure's
//! tail never reads a whole file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Bytes kept from the start of a stage's output.
pub const HEAD_BYTES: u64 = 1 << 20;
/// Bytes kept from the end of a stage's output.
pub const TAIL_BYTES: usize = 4 << 20;
/// Suffix of the logs of failed runs (`gc` keeps the newest few per stage).
pub const FAILED_SUFFIX: &str = ".failed.log";
/// Failed-run logs `gc` keeps per stage.
pub const FAILED_KEPT: usize = 5;

/// A writer that keeps the head of a log in the file and a ring buffer of
/// its tail in memory, written out by [`CappedLog::finish`] (or on drop).
pub struct CappedLog<W: Write> {
    inner: W,
    written: u64,
    tail: VecDeque<u8>,
    dropped: u64,
    finished: bool,
}

impl<W: Write> CappedLog<W> {
    /// Wraps `inner` (positioned where the stage's output starts).
    pub fn new(inner: W) -> Self {
        CappedLog {
            inner,
            written: 0,
            tail: VecDeque::new(),
            dropped: 0,
            finished: false,
        }
    }

    /// Writes the kept tail (after a line saying how much was left out).
    pub fn finish(&mut self) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if self.dropped > 0 {
            writeln!(
                self.inner,
                "\n[repro: {} bytes of output left out here; a log keeps its first {} and last {} bytes]",
                self.dropped, HEAD_BYTES, TAIL_BYTES
            )?;
        }
        let (a, b) = self.tail.as_slices();
        self.inner.write_all(a)?;
        self.inner.write_all(b)?;
        self.tail.clear();
        self.inner.flush()
    }
}

impl<W: Write> Write for CappedLog<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A full disk, simulated (issue 25, item 6): the log cannot be written.
        crate::util::failpoint::check("log-write")?;
        let room = HEAD_BYTES.saturating_sub(self.written) as usize;
        let head = room.min(buf.len());
        if head > 0 {
            self.inner.write_all(&buf[..head])?;
            self.written += head as u64;
        }
        let rest = &buf[head..];
        if !rest.is_empty() {
            self.tail.extend(rest);
            let over = self.tail.len().saturating_sub(TAIL_BYTES);
            if over > 0 {
                self.tail.drain(..over);
                self.dropped += over as u64;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for CappedLog<W> {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The last `n` lines of a log, reading at most its last
/// [`RING_BYTES`](super::tail_ring::RING_BYTES); a last line longer than
/// that is shown cut, not dropped.
pub fn tail(path: &Path, n: usize) -> Option<Vec<String>> {
    const WINDOW: u64 = super::tail_ring::RING_BYTES as u64;
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(WINDOW);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    f.take(WINDOW).read_to_end(&mut bytes).ok()?;
    let t = super::tail_ring::Tail {
        bytes,
        cut: start > 0,
    };
    Some(t.lines(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_keeps_its_head_and_tail_and_says_what_it_left_out() {
        let mut out = Vec::new();
        {
            let mut log = CappedLog::new(&mut out);
            let line = [b'x'; 1023];
            for i in 0..8192u32 {
                log.write_all(format!("{i:08}").as_bytes()).unwrap();
                log.write_all(&line[..1015]).unwrap();
                log.write_all(b"\n").unwrap();
            }
            log.finish().unwrap();
        }
        let total = 8192 * 1024u64;
        let kept = HEAD_BYTES + TAIL_BYTES as u64;
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("00000000"));
        assert!(text.contains(&format!("{} bytes of output left out", total - kept)));
        assert!(text.trim_end().ends_with('x'));
        assert!(text.contains("00008191"));
        assert!(out.len() as u64 <= kept + 200);
    }

    #[test]
    fn a_short_log_is_kept_whole() {
        let mut out = Vec::new();
        {
            let mut log = CappedLog::new(&mut out);
            log.write_all(b"one\ntwo\n").unwrap();
        }
        assert_eq!(out, b"one\ntwo\n");
    }

    #[test]
    fn the_tail_reads_only_the_end() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l.log");
        let mut text = String::new();
        for i in 0..100_000 {
            text.push_str(&format!("line {i}\n"));
        }
        std::fs::write(&p, text).unwrap();
        assert_eq!(tail(&p, 2).unwrap(), ["line 99998", "line 99999"]);
    }
}
