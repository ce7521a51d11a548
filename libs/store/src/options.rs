//! Journal configuration: the fsync policy, the segment size and the
//! recovery mode. All serde-configurable, e.g. in TOML:
//!
//! ```toml
//! segment_bytes = 67108864
//! recovery = "strict"
//! [fsync]
//! policy = "group"
//! max_records = 256
//! max_delay_ms = 2
//! ```

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// When appended records are forced to stable storage (`fdatasync`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case", deny_unknown_fields)]
pub enum FsyncPolicy {
    /// `append` writes the record and fsyncs before it returns: an input is
    /// durable before the kernel applies it. The slowest policy (one fsync per
    /// input), and the only one under which no applied input can be lost to a
    /// power failure. The default.
    #[default]
    EveryRecord,
    /// Group commit. `append` writes the record to the file (so it survives a
    /// crash of the process) and returns; a flusher thread owned by the
    /// journal fsyncs once `max_records` records are pending or
    /// `max_delay_ms` milliseconds after the first pending record, whichever
    /// comes first. The kernel never waits for an fsync (except once per
    /// segment roll). [`crate::FileJournal::durable_seq`] tells how far the
    /// disk has caught up; a power failure can lose records after it.
    Group {
        /// Fsync when this many records are pending (at least 1).
        max_records: u32,
        /// Fsync at most this long after the first pending record was
        /// written (plus the flusher's wake-up latency).
        max_delay_ms: u64,
    },
    /// Never fsync on append; the operating system writes pages back when it
    /// chooses. Records still survive a crash of the process, not of the
    /// machine. For backtests and benchmarks. `flush` still fsyncs.
    Never,
}

/// What [`crate::FileJournal::open`] does with damage in the last segment
/// that is not a plain torn tail (valid records follow the damage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryMode {
    /// Refuse to open: a hard [`StoreError::Corrupt`].
    #[default]
    Strict,
    /// Cut the last segment at the first damaged record and report what was
    /// cut. Meant for a machine that lost power under a policy other than
    /// `EveryRecord`, where unsynced records may reach the disk out of order;
    /// an operator's explicit choice, never the default. Damage in earlier
    /// segments is still a hard error.
    TruncateDamagedTail,
}

/// Journal configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalOptions {
    /// Fsync policy.
    pub fsync: FsyncPolicy,
    /// Start a new segment when the current one would grow past this many
    /// bytes (at least 4096).
    pub segment_bytes: u64,
    /// Recovery mode.
    pub recovery: RecoveryMode,
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::EveryRecord,
            segment_bytes: 64 * 1024 * 1024,
            recovery: RecoveryMode::Strict,
        }
    }
}

impl JournalOptions {
    /// Default options with the given policy.
    pub fn with_fsync(fsync: FsyncPolicy) -> Self {
        Self {
            fsync,
            ..Self::default()
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.segment_bytes < 4096 {
            return Err(StoreError::Options(format!(
                "segment_bytes is {}, it must be at least 4096",
                self.segment_bytes
            )));
        }
        if let FsyncPolicy::Group { max_records, .. } = self.fsync {
            if max_records == 0 {
                return Err(StoreError::Options(
                    "group fsync max_records must be at least 1".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_json_and_validation() {
        let o: JournalOptions = serde_json::from_str(
            r#"{"fsync":{"policy":"group","max_records":64,"max_delay_ms":3},"segment_bytes":8192}"#,
        )
        .unwrap();
        assert_eq!(
            o.fsync,
            FsyncPolicy::Group {
                max_records: 64,
                max_delay_ms: 3
            }
        );
        assert_eq!(o.recovery, RecoveryMode::Strict);
        o.validate().unwrap();
        let o: JournalOptions = serde_json::from_str(r#"{"fsync":{"policy":"never"}}"#).unwrap();
        assert_eq!(o.fsync, FsyncPolicy::Never);
        assert!(serde_json::from_str::<JournalOptions>(r#"{"fsinc":{}}"#).is_err());
        let bad = JournalOptions {
            segment_bytes: 10,
            ..JournalOptions::default()
        };
        assert!(bad.validate().is_err());
        let bad = JournalOptions::with_fsync(FsyncPolicy::Group {
            max_records: 0,
            max_delay_ms: 1,
        });
        assert!(bad.validate().is_err());
    }
}
