//! The failure tail (issue 25, item 6): the last [`RING_BYTES`] of a stage's
//! output kept in memory as well as in its log, so `FAILED` can show the
//! stage's own last words even when the log could not be written (a full
//! disk), and the lines of a tail as they are printed, with a line too long
//! to show cut visibly instead of dropped.

use std::collections::VecDeque;
use std::io::{self, Write};

/// Bytes of a stage's output kept in memory (the window a failure tail is
/// read from, in memory or from the end of a log).
pub const RING_BYTES: usize = 64 << 10;

/// Longest line a tail shows whole; a longer one keeps its first and last
/// [`LINE_SHOWN`] / 2 bytes around a note saying how much was left out.
pub const LINE_SHOWN: usize = 2 << 10;

/// The last [`RING_BYTES`] of a stream.
#[derive(Debug, Clone, Default)]
pub struct TailRing {
    bytes: VecDeque<u8>,
    cut: bool,
}

impl TailRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `buf`, forgetting what falls out of the window.
    pub fn push(&mut self, buf: &[u8]) {
        let buf = if buf.len() > RING_BYTES {
            self.cut = true;
            self.bytes.clear();
            &buf[buf.len() - RING_BYTES..]
        } else {
            buf
        };
        self.bytes.extend(buf);
        let over = self.bytes.len().saturating_sub(RING_BYTES);
        if over > 0 {
            self.bytes.drain(..over);
            self.cut = true;
        }
    }

    /// What the ring holds, and whether the stream began before it.
    pub fn into_tail(self) -> Tail {
        Tail {
            bytes: self.bytes.into(),
            cut: self.cut,
        }
    }
}

/// The end of a stage's output, as kept in memory or read from its log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tail {
    /// The bytes (at most [`RING_BYTES`]).
    pub bytes: Vec<u8>,
    /// Whether the output began before these bytes (their first line is partial).
    pub cut: bool,
}

impl Tail {
    /// The last `n` lines, each at most about [`LINE_SHOWN`] bytes. A partial
    /// first line is dropped unless it is the only one (a last line longer
    /// than the whole window), which is then shown marked as cut.
    pub fn lines(&self, n: usize) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.bytes);
        let mut lines: Vec<&str> = text.lines().collect();
        let mut first_cut = false;
        if self.cut && !lines.is_empty() {
            if lines.len() > 1 {
                lines.remove(0);
            } else {
                first_cut = true;
            }
        }
        let start = lines.len().saturating_sub(n);
        lines[start..]
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let shown = shorten(l);
                if first_cut && i + start == 0 {
                    format!("[repro: this line began earlier] {shown}")
                } else {
                    shown
                }
            })
            .collect()
    }

    /// Whether nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// `line` whole when it is short, else its head and end around a note.
fn shorten(line: &str) -> String {
    if line.len() <= LINE_SHOWN {
        return line.to_string();
    }
    let half = LINE_SHOWN / 2;
    let mut head = half;
    while !line.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = line.len() - half;
    while !line.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{} [repro: {} bytes of this line left out] {}",
        &line[..head],
        tail - head,
        &line[tail..]
    )
}

/// A writer that keeps a [`TailRing`] of everything written through it, then
/// writes it on to `inner`; the ring has the bytes even when `inner` fails.
pub struct Tee<W: Write> {
    /// Where the bytes go on to (the log).
    pub inner: W,
    /// The last bytes written.
    pub ring: TailRing,
}

impl<W: Write> Tee<W> {
    /// Wraps `inner` with an empty ring.
    pub fn new(inner: W) -> Self {
        Tee {
            inner,
            ring: TailRing::new(),
        }
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The whole buffer is taken at once, so a retry after an error of
        // `inner` never puts the same bytes in the ring twice.
        self.ring.push(buf);
        self.inner.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_bytes() {
        let mut r = TailRing::new();
        for i in 0..20_000 {
            r.push(format!("line {i}\n").as_bytes());
        }
        let t = r.into_tail();
        assert!(t.cut && t.bytes.len() == RING_BYTES);
        assert_eq!(t.lines(2), ["line 19998", "line 19999"]);
    }

    #[test]
    fn a_last_line_longer_than_the_window_is_shown_cut() {
        let mut r = TailRing::new();
        r.push(b"before\n");
        r.push(&vec![b'x'; 100 << 10]);
        r.push(b" the end: No space left on device");
        let lines = r.into_tail().lines(20);
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert!(l.starts_with("[repro: this line began earlier] xxx"), "{l}");
        assert!(l.contains("bytes of this line left out"), "{l}");
        assert!(l.ends_with("No space left on device"), "{l}");
        assert!(l.len() < LINE_SHOWN + 200);
    }

    #[test]
    fn a_tee_keeps_what_its_writer_refused() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut t = Tee::new(Full);
        assert!(t.write_all(b"last words\n").is_err());
        assert_eq!(t.ring.into_tail().lines(5), ["last words"]);
    }
}
