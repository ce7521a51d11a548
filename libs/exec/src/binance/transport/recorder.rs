//! Recording what the adapter receives, in the capture format that
//! [`crate::binance::capture`] reads: one `<local receive ns> <json>` line per
//! stream frame, and the REST depth snapshot bodies the book driver used, at
//! the place in the stream where they were applied. A recording can be
//! checked with [`crate::binance::verify::verify_capture`]
//! (`veloz data verify-book`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use veloz_core::UnixNanos;

/// Writes a capture file (plain text, not compressed).
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    frames: u64,
    snapshots: u64,
}

impl Recorder {
    /// Creates (or truncates) `path`.
    pub fn create(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let out = BufWriter::new(File::create(&path)?);
        Ok(Self {
            path,
            out,
            frames: 0,
            snapshots: 0,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn line(&mut self, local: UnixNanos, json: &str) -> std::io::Result<()> {
        write!(self.out, "{} ", local.as_nanos())?;
        if json.contains(['\n', '\r']) {
            // JSON allows whitespace between tokens and Binance never puts raw
            // newlines inside strings: keep one line per frame.
            self.out
                .write_all(json.replace(['\n', '\r'], " ").as_bytes())?;
        } else {
            self.out.write_all(json.as_bytes())?;
        }
        self.out.write_all(b"\n")
    }

    /// Records one received stream frame.
    pub fn frame(&mut self, local: UnixNanos, text: &str) -> std::io::Result<()> {
        self.frames += 1;
        self.line(local, text)
    }

    /// Records one REST depth snapshot body.
    pub fn snapshot(&mut self, local: UnixNanos, body: &str) -> std::io::Result<()> {
        self.snapshots += 1;
        self.line(local, body)
    }

    /// Frames recorded.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Snapshots recorded.
    pub fn snapshots(&self) -> u64 {
        self.snapshots
    }

    /// Writes everything buffered to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binance::capture::CaptureReader;

    #[test]
    fn recording_reads_back_as_a_capture() {
        let dir = std::env::temp_dir().join(format!("veloz-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("rec.txt");
        let mut r = Recorder::create(&p).unwrap();
        r.frame(UnixNanos(5), "{\"stream\":\"a\",\"data\":{}}")
            .unwrap();
        r.snapshot(
            UnixNanos(6),
            "{\"lastUpdateId\":1,\n\"bids\":[],\"asks\":[]}",
        )
        .unwrap();
        r.flush().unwrap();
        assert_eq!((r.frames(), r.snapshots()), (1, 1));
        let mut c = CaptureReader::open(&[&p]).unwrap();
        let l = c.next_line().unwrap().unwrap();
        assert_eq!(l.local, UnixNanos(5));
        assert!(!l.is_snapshot());
        let l = c.next_line().unwrap().unwrap();
        assert!(l.is_snapshot());
        assert_eq!(l.json, "{\"lastUpdateId\":1, \"bids\":[],\"asks\":[]}");
        assert!(c.next_line().unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
