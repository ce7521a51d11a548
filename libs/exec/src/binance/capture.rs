//! Reading recorded Binance WebSocket captures.
//!
//! A capture is a text file, optionally gzip-compressed, with one received frame
//! per line: `<local receive time in ns since the epoch><space><raw JSON text>`.
//! This is the format of hftbacktest's collector and of the real captures in
//! `shared/fixtures/binance/hftbacktest/`. WebSocket frames are combined-stream
//! wrappers (`{"stream":…,"data":…}`); a line without `"stream"` is a REST depth
//! snapshot body.
//!
//! The reader streams: memory stays bounded whatever the length of the capture.
//! Several files can be chained as one continuous capture.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use veloz_core::UnixNanos;

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("cannot read capture {path:?}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `<ns> <json>`.
    #[error("{path:?} line {line}: {reason}; expected `<receive time ns> <json frame>`")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// One line of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureLine<'a> {
    /// Local receive time.
    pub local: UnixNanos,
    /// The raw frame text.
    pub json: &'a str,
}

impl CaptureLine<'_> {
    /// Is this line a REST depth snapshot rather than a stream frame?
    pub fn is_snapshot(&self) -> bool {
        !self.json.contains("\"stream\"") && self.json.contains("\"lastUpdateId\"")
    }
}

/// Splits one capture line. Returns a reason on malformed input.
pub fn split_line(line: &str) -> Result<CaptureLine<'_>, &'static str> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (ts, json) = line
        .split_once(' ')
        .ok_or("no space between the timestamp and the frame")?;
    let local = ts
        .parse::<u64>()
        .map_err(|_| "the timestamp is not a whole number of nanoseconds")?;
    if json.is_empty() {
        return Err("the frame is empty");
    }
    Ok(CaptureLine {
        local: UnixNanos(local),
        json,
    })
}

/// Streams the lines of one or more capture files, in order, as one capture.
///
/// ```no_run
/// # use veloz_exec::binance::capture::CaptureReader;
/// let mut r = CaptureReader::open(&["capture.gz"]).unwrap();
/// while let Some(line) = r.next_line().unwrap() {
///     println!("{} {}", line.local, line.json.len());
/// }
/// ```
#[derive(Debug)]
pub struct CaptureReader {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<BufReader<Box<dyn ReadDebug>>>,
    path: PathBuf,
    line_no: u64,
    buf: String,
}

trait ReadDebug: Read + std::fmt::Debug + Send {}
impl<T: Read + std::fmt::Debug + Send> ReadDebug for T {}

fn open_file(path: &Path) -> Result<Box<dyn ReadDebug>, CaptureError> {
    let io = |source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io)?;
    let f = File::open(path).map_err(io)?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(MultiGzDecoder::new(f)))
    } else {
        Ok(Box::new(f))
    }
}

impl CaptureReader {
    /// Opens the files (gzip is detected by its magic bytes). Fails at once if
    /// any file is missing.
    pub fn open<P: AsRef<Path>>(files: &[P]) -> Result<Self, CaptureError> {
        let files: Vec<PathBuf> = files.iter().map(|p| p.as_ref().to_path_buf()).collect();
        for f in &files {
            if let Err(source) = std::fs::metadata(f) {
                return Err(CaptureError::Io {
                    path: f.clone(),
                    source,
                });
            }
        }
        Ok(Self {
            files,
            next_file: 0,
            current: None,
            path: PathBuf::new(),
            line_no: 0,
            buf: String::with_capacity(64 * 1024),
        })
    }

    /// The file and 1-based line number of the last line returned.
    pub fn position(&self) -> (&Path, u64) {
        (&self.path, self.line_no)
    }

    /// Abandons the current file (after an unreadable stretch, e.g. a truncated
    /// gzip member) so the next call continues with the next file.
    pub fn skip_rest_of_file(&mut self) {
        self.current = None;
    }

    /// The next non-empty line, or `None` at the end of the last file.
    pub fn next_line(&mut self) -> Result<Option<CaptureLine<'_>>, CaptureError> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.files.get(self.next_file) else {
                    return Ok(None);
                };
                self.current = Some(BufReader::with_capacity(1 << 16, open_file(path)?));
                self.path = path.clone();
                self.line_no = 0;
                self.next_file += 1;
            }
            let Some(reader) = self.current.as_mut() else {
                continue;
            };
            self.buf.clear();
            let n = reader
                .read_line(&mut self.buf)
                .map_err(|source| CaptureError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                self.current = None;
                continue;
            }
            self.line_no += 1;
            if self.buf.trim().is_empty() {
                continue;
            }
            let (path, line_no) = (&self.path, self.line_no);
            return split_line(&self.buf)
                .map(Some)
                .map_err(|reason| CaptureError::BadLine {
                    path: path.clone(),
                    line: line_no,
                    reason,
                });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines() {
        let l = split_line("1723161254206652067 {\"lastUpdateId\":1,\"bids\":[],\"asks\":[]}\n")
            .unwrap();
        assert_eq!(l.local, UnixNanos(1_723_161_254_206_652_067));
        assert!(l.is_snapshot());
        assert!(split_line("abc {}").is_err());
        assert!(split_line("123").is_err());
        assert!(split_line("123 ").is_err());
    }

    #[test]
    fn missing_file_is_an_error() {
        let e = CaptureReader::open(&["/nonexistent/capture.gz"]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/capture.gz"));
    }
}
