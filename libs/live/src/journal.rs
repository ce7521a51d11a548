//! The journal folder of a live or paper session.
//!
//! * `journal/`: the crash-safe input log (`veloz-store`'s [`FileJournal`]);
//!   every kernel input is appended before it is applied.
//! * `run.json`: the session's identity, written once when the folder is
//!   new: the client-order-id epoch. A restart reuses it, so the replay
//!   produces exactly the ids the first run produced and the ids that follow
//!   continue the same sequence; a new folder gets a new epoch, so ids never
//!   repeat across sessions.
//! * `audit.log`: one line per audit finding (reconciliation mismatches,
//!   external orders, connection changes, unknown outcomes), with its time.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use veloz_core::UnixNanos;
use veloz_runtime::{Journal, Stamped};
use veloz_store::{FileJournal, FsyncPolicy, JournalOptions};

use crate::config::{FsyncChoice, JournalConfig};

/// A journal-folder problem.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// `run.json` is unreadable.
    #[error(
        "{path}: {message}; if this folder is not a VeloZ journal, point [journal] dir elsewhere"
    )]
    Meta {
        /// Path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The journal itself.
    #[error("journal in {dir}: {source}")]
    Store {
        /// Folder.
        dir: PathBuf,
        /// Cause.
        source: veloz_store::StoreError,
    },
}

/// `run.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Client-order-id epoch (the first start, in ms).
    pub epoch_ms: u64,
}

impl RunMeta {
    /// Reads `run.json`, or creates the folder and writes it.
    pub fn load_or_create(dir: &Path, now: UnixNanos) -> Result<Self, FolderError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FolderError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join("run.json");
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            return serde_json::from_str(&text).map_err(|e| FolderError::Meta {
                path,
                message: e.to_string(),
            });
        }
        let meta = Self {
            epoch_ms: now.as_millis(),
        };
        let tmp = dir.join("run.json.tmp");
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(serde_json::to_string(&meta).unwrap_or_default().as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(meta)
    }
}

fn options(cfg: &JournalConfig) -> JournalOptions {
    JournalOptions::with_fsync(match cfg.fsync {
        FsyncChoice::Always => FsyncPolicy::EveryRecord,
        FsyncChoice::Group => FsyncPolicy::Group {
            max_records: cfg.group_records.max(1),
            max_delay_ms: u64::from(cfg.group_delay_ms),
        },
        FsyncChoice::Never => FsyncPolicy::Never,
    })
}

/// Opens (recovering if needed) the journal of `dir` and reads what it holds.
pub fn open(
    dir: &Path,
    cfg: &JournalConfig,
) -> Result<(Box<dyn Journal>, Vec<Stamped>), FolderError> {
    let jdir = dir.join("journal");
    let store = |source| FolderError::Store {
        dir: jdir.clone(),
        source,
    };
    let journal = FileJournal::open(&jdir, options(cfg)).map_err(store)?;
    let earlier = veloz_store::read_all(&jdir).map_err(store)?;
    Ok((Box::new(journal), earlier))
}

/// Every journaled input of the folder `dir`.
pub fn read_all(dir: &Path) -> Result<Vec<Stamped>, FolderError> {
    let jdir = dir.join("journal");
    veloz_store::read_all(&jdir).map_err(|source| FolderError::Store { dir: jdir, source })
}

/// `audit.log`.
#[derive(Debug)]
pub struct AuditLog {
    file: File,
    path: PathBuf,
}

impl AuditLog {
    /// Opens `dir/audit.log` for appending.
    pub fn open(dir: &Path) -> Result<Self, FolderError> {
        let path = dir.join("audit.log");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| FolderError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(Self { file, path })
    }

    /// Appends one line.
    pub fn write(&mut self, time: UnixNanos, line: &str) -> Result<(), FolderError> {
        writeln!(self.file, "{} {}", time.0, line.replace('\n', " ")).map_err(|source| {
            FolderError::Io {
                path: self.path.clone(),
                source,
            }
        })
    }
}
