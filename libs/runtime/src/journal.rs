//! The journal hook: every input is handed to a [`Journal`] before the kernel
//! applies it. [`MemoryJournal`] keeps inputs in memory (tests, replays of a
//! finished run); [`JsonLinesJournal`] appends one JSON object per line to a
//! file. The crash-safe, checksummed journal with an fsync policy belongs to
//! the store crate; this module only defines the hook and simple sinks.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::input::Stamped;

/// Why a journal could not record or read an input.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// File I/O failed.
    #[error("journal {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A line is not a journal entry.
    #[error("journal {path}:{line}: not a journal entry ({source}); the file is damaged or is not a VeloZ journal")]
    Decode {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Cause.
        source: serde_json::Error,
    },
    /// Serialising an entry failed.
    #[error("cannot encode journal entry {seq}: {source}")]
    Encode {
        /// Sequence number.
        seq: u64,
        /// Cause.
        source: serde_json::Error,
    },
}

/// Records inputs before they are applied.
pub trait Journal: std::fmt::Debug + Send {
    /// Records one input. An error stops the kernel before it applies it.
    fn append(&mut self, entry: &Stamped) -> Result<(), JournalError>;
    /// Makes everything appended so far durable (as far as the sink can).
    fn flush(&mut self) -> Result<(), JournalError> {
        Ok(())
    }
    /// The entries, for sinks that keep them in memory.
    fn entries(&self) -> Option<&[Stamped]> {
        None
    }
}

/// Keeps every entry in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryJournal {
    entries: Vec<Stamped>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Journal for MemoryJournal {
    fn append(&mut self, entry: &Stamped) -> Result<(), JournalError> {
        self.entries.push(entry.clone());
        Ok(())
    }
    fn entries(&self) -> Option<&[Stamped]> {
        Some(&self.entries)
    }
}

/// Appends one JSON object per line.
#[derive(Debug)]
pub struct JsonLinesJournal {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonLinesJournal {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<Self, JournalError> {
        let f = File::create(path).map_err(|source| JournalError::Io {
            path: path.into(),
            source,
        })?;
        Ok(Self {
            path: path.into(),
            out: BufWriter::new(f),
        })
    }

    /// Reads every entry of a journal file.
    pub fn read(path: &Path) -> Result<Vec<Stamped>, JournalError> {
        let f = File::open(path).map_err(|source| JournalError::Io {
            path: path.into(),
            source,
        })?;
        let mut out = Vec::new();
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|source| JournalError::Io {
                path: path.into(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            out.push(
                serde_json::from_str(&line).map_err(|source| JournalError::Decode {
                    path: path.into(),
                    line: i + 1,
                    source,
                })?,
            );
        }
        Ok(out)
    }
}

impl Journal for JsonLinesJournal {
    fn append(&mut self, entry: &Stamped) -> Result<(), JournalError> {
        serde_json::to_writer(&mut self.out, entry).map_err(|source| JournalError::Encode {
            seq: entry.seq,
            source,
        })?;
        self.out
            .write_all(b"\n")
            .map_err(|source| JournalError::Io {
                path: self.path.clone(),
                source,
            })
    }
    fn flush(&mut self) -> Result<(), JournalError> {
        self.out.flush().map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })
    }
}
