//! Line-by-line reading of text files, plain or gzip-compressed, with line numbers.
//!
//! Gzip is detected by its magic bytes, not the file name. Lines are capped at
//! [`MAX_LINE_BYTES`] so a corrupt file cannot make us allocate without bound, and a
//! gzip stream that ends early is an error that names the last good line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::error::DataError;

/// Longest line accepted, in bytes (HH-RLHF transcripts are a few KB).
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Largest whole file read into memory (nested JSON probes), in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Opens `path`, transparently decompressing gzip.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, DataError> {
    let io = |source| DataError::Io {
        file: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = read_prefix(&mut f, &mut magic).map_err(io)?;
    let f = File::open(path).map_err(io)?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::new(MultiGzDecoder::new(
            BufReader::new(f),
        ))))
    } else {
        Ok(Box::new(BufReader::new(f)))
    }
}

fn read_prefix(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

/// Reads the whole (possibly gzipped) file as UTF-8 text, up to [`MAX_FILE_BYTES`].
pub fn read_to_string(path: &Path) -> Result<String, DataError> {
    let mut r = open(path)?.take(MAX_FILE_BYTES + 1);
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| stream_error(path, 0, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(DataError::LineTooLong {
            file: path.to_path_buf(),
            line: 1,
            limit: MAX_FILE_BYTES as usize,
        });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::Empty {
            file: path.to_path_buf(),
        });
    }
    String::from_utf8(bytes)
        .map_err(|e| DataError::row(path, 1, "<file>", format!("not UTF-8: {e}")))
}

fn stream_error(path: &Path, line: usize, e: std::io::Error) -> DataError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::InvalidInput
        | std::io::ErrorKind::InvalidData => DataError::Gzip {
            file: path.to_path_buf(),
            line,
            source: e,
        },
        _ => DataError::Io {
            file: path.to_path_buf(),
            source: e,
        },
    }
}

/// Iterator over the non-blank lines of a file: `(1-based line number, text)`.
pub struct Lines {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    line: usize,
    buf: Vec<u8>,
    done: bool,
}

impl Lines {
    /// Opens `path` for line reading.
    pub fn open(path: &Path) -> Result<Self, DataError> {
        Ok(Lines {
            path: path.to_path_buf(),
            reader: open(path)?,
            line: 0,
            buf: Vec::new(),
            done: false,
        })
    }
}

impl Iterator for Lines {
    type Item = Result<(usize, String), DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            let limit = MAX_LINE_BYTES as u64 + 1;
            let r = (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.buf);
            match r {
                Err(e) => {
                    self.done = true;
                    return Some(Err(stream_error(&self.path, self.line, e)));
                }
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
            }
            self.line += 1;
            if self.buf.len() > MAX_LINE_BYTES {
                self.done = true;
                return Some(Err(DataError::LineTooLong {
                    file: self.path.clone(),
                    line: self.line,
                    limit: MAX_LINE_BYTES,
                }));
            }
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t.trim_end_matches(['\n', '\r']),
                Err(e) => {
                    return Some(Err(DataError::row(
                        &self.path,
                        self.line,
                        "<line>",
                        format!("not UTF-8: {e}"),
                    )));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(Ok((self.line, text.to_string())));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_plain_and_gzip_alike_skipping_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"a\n\nb\r\nc";
        std::fs::write(dir.path().join("x.jsonl"), text).unwrap();
        std::fs::write(dir.path().join("x.gz"), gz(text)).unwrap();
        for f in ["x.jsonl", "x.gz"] {
            let got: Vec<_> = Lines::open(&dir.path().join(f))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(got, vec![(1, "a".into()), (3, "b".into()), (4, "c".into())]);
        }
    }

    #[test]
    fn truncated_gzip_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut body = Vec::new();
        for i in 0..2000 {
            body.extend_from_slice(
                format!("{{\"line\": {i}, \"pad\": \"{}\"}}\n", i * 7919).as_bytes(),
            );
        }
        let z = gz(&body);
        let p = dir.path().join("cut.jsonl.gz");
        std::fs::write(&p, &z[..z.len() / 2]).unwrap();
        let err = Lines::open(&p)
            .unwrap()
            .find_map(|r| r.err())
            .expect("an error");
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        assert!(err.to_string().contains("cut.jsonl.gz"), "{err}");
    }
}
