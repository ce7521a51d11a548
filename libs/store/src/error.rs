//! The store's errors: every one names the file (and byte offset where it
//! applies) and says what to do. [`StoreError`] converts into the runtime's
//! [`JournalError`] for the [`veloz_runtime::Journal`] trait.

use std::path::{Path, PathBuf};

use veloz_runtime::JournalError;

/// What is wrong with one record frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside a frame header.
    TruncatedHeader {
        /// Bytes of the header present.
        have: usize,
    },
    /// The file ends inside a payload.
    TruncatedPayload {
        /// Payload length from the header.
        want: u32,
        /// Bytes present.
        have: usize,
    },
    /// The first byte is not the record marker.
    BadMarker(u8),
    /// An encoding this build does not read.
    UnknownEncoding(u8),
    /// Reserved bytes not zero.
    Reserved,
    /// The length is above [`crate::MAX_PAYLOAD`].
    TooLong(u32),
    /// The checksum does not match.
    Checksum,
    /// A valid record with the wrong sequence number.
    Sequence {
        /// Expected seq.
        expected: u64,
        /// Seq found.
        found: u64,
    },
}

impl Damage {
    /// Whether the damage is the file ending inside a frame (a torn write).
    pub fn is_cut_off(&self) -> bool {
        matches!(
            self,
            Self::TruncatedHeader { .. } | Self::TruncatedPayload { .. }
        )
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TruncatedHeader { have } => {
                write!(f, "the file ends {have} bytes into a record header")
            }
            Self::TruncatedPayload { want, have } => write!(
                f,
                "the file ends {have} bytes into a {want}-byte record payload"
            ),
            Self::BadMarker(b) => write!(f, "byte 0x{b:02x} where a record marker was expected"),
            Self::UnknownEncoding(e) => write!(
                f,
                "record encoding {e} is not known to this build (a newer VeloZ wrote it, or the byte is damaged)"
            ),
            Self::Reserved => write!(f, "reserved record header bytes are not zero"),
            Self::TooLong(l) => write!(
                f,
                "record length {l} is above the {} byte limit",
                crate::MAX_PAYLOAD
            ),
            Self::Checksum => write!(f, "the record checksum does not match its contents"),
            Self::Sequence { expected, found } => {
                write!(f, "record has seq {found}, expected {expected}")
            }
        }
    }
}

/// Why the journal could not be opened, written or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("journal {path}: cannot {op}: {source}; check that the directory exists, is writable and the disk is not full")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// Another live process has the journal open for writing.
    #[error("journal {path} is in use by process {pid}; stop that process first (if it no longer runs, delete the LOCK file)")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The holder.
        pid: u32,
    },
    /// A record or header is damaged where it cannot be a torn tail.
    #[error("journal segment {path} is damaged at byte {offset}: {damage}. {hint}")]
    Corrupt {
        /// Segment file.
        path: PathBuf,
        /// Offset of the damaged frame.
        offset: u64,
        /// What is wrong.
        damage: Damage,
        /// What the user can do.
        hint: &'static str,
    },
    /// A segment's header is not valid.
    #[error("journal segment {path} has a bad header: {problem}. Keep the directory for inspection; the journal cannot be replayed past this file")]
    BadHeader {
        /// Segment file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Segments do not follow each other.
    #[error("journal segment {path} starts at seq {found}, expected {expected}: a segment is missing, renamed or from another journal. Keep the directory for inspection")]
    SegmentGap {
        /// Segment file.
        path: PathBuf,
        /// Expected first seq.
        expected: u64,
        /// First seq found (file name or header).
        found: u64,
    },
    /// A record's payload does not decode.
    #[error("journal segment {path} at byte {offset}: record {seq} has a valid checksum but does not decode ({source}); it was written by an incompatible VeloZ version")]
    Decode {
        /// Segment file.
        path: PathBuf,
        /// Offset of the frame.
        offset: u64,
        /// Frame seq.
        seq: u64,
        /// Cause.
        source: serde_json::Error,
    },
    /// A payload's seq differs from its frame's.
    #[error("journal segment {path} at byte {offset}: frame seq {frame} but payload seq {payload}; the journal was not written by this crate. Keep it for inspection")]
    PayloadSeq {
        /// Segment file.
        path: PathBuf,
        /// Offset of the frame.
        offset: u64,
        /// Seq in the frame.
        frame: u64,
        /// Seq in the payload.
        payload: u64,
    },
    /// `append` was given an entry out of sequence.
    #[error("journal {dir}: cannot append seq {got}, the next seq is {expected}; replay the journal into the kernel before attaching it, so that the kernel continues the sequence")]
    OutOfSequence {
        /// Journal directory.
        dir: PathBuf,
        /// Expected seq.
        expected: u64,
        /// Seq given.
        got: u64,
    },
    /// An entry could not be serialised.
    #[error("cannot encode journal entry {seq}: {source}")]
    Encode {
        /// Seq.
        seq: u64,
        /// Cause.
        source: serde_json::Error,
    },
    /// An entry is larger than a record may be.
    #[error(
        "journal entry {seq} is {len} bytes encoded, above the {} byte record limit",
        crate::MAX_PAYLOAD
    )]
    TooLarge {
        /// Seq.
        seq: u64,
        /// Encoded length.
        len: u64,
    },
    /// An earlier write or fsync failed; the file may end in a partial record.
    #[error("journal {path}: an earlier write or fsync failed ({cause}); nothing more is appended. Restart the process: opening the journal repairs its tail")]
    Failed {
        /// Segment file.
        path: PathBuf,
        /// The first failure.
        cause: String,
    },
    /// Options are not usable.
    #[error("journal options: {0}")]
    Options(String),
}

impl From<StoreError> for JournalError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Encode { seq, source } => JournalError::Encode { seq, source },
            StoreError::Io { path, op, source } => JournalError::Io {
                path,
                source: std::io::Error::new(source.kind(), format!("cannot {op}: {source}")),
            },
            other => {
                let path = match &other {
                    StoreError::Locked { path, .. }
                    | StoreError::Corrupt { path, .. }
                    | StoreError::BadHeader { path, .. }
                    | StoreError::SegmentGap { path, .. }
                    | StoreError::Decode { path, .. }
                    | StoreError::PayloadSeq { path, .. }
                    | StoreError::Failed { path, .. } => path.clone(),
                    StoreError::OutOfSequence { dir, .. } => dir.clone(),
                    _ => PathBuf::new(),
                };
                JournalError::Io {
                    path,
                    source: std::io::Error::other(other),
                }
            }
        }
    }
}

/// A closure turning an I/O error into [`StoreError::Io`] for `path`.
pub(crate) fn io_at<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}
