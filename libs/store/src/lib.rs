//! # veloz-store
//!
//! The crash-safe journal of the kernel's inputs: an append-only log of
//! [`veloz_runtime::Stamped`] records in a directory, every record framed and
//! checksummed, with a configurable fsync policy and a recovery procedure
//! that runs whenever the journal is opened. No server is needed: the log is
//! a set of plain files.
//!
//! * [`FileJournal`]: the writer; implements [`veloz_runtime::Journal`], so
//!   the kernel records every input before it applies it;
//! * [`JournalReader`]: a streaming, verifying reader for replay;
//! * [`JournalOptions`], [`FsyncPolicy`], [`RecoveryMode`]: configuration
//!   (serde);
//! * [`RecoveryReport`]: what opening the journal found and what it cut;
//! * [`StoreError`]: every failure, with the file and byte offset.
//!
//! ## Files
//!
//! A journal directory holds segment files named
//! `journal-<first seq, 20 decimal digits>.log` (for example
//! `journal-00000000000000000001.log`) and, while a writer has it open, a
//! `LOCK` file holding the writer's process id. Other files are ignored.
//! Segments are read in the order of their first sequence number; the first
//! segment starts at seq 1 and each next segment starts at the previous
//! segment's last seq + 1. A new segment is started when appending a record
//! would make the current one larger than [`JournalOptions::segment_bytes`]
//! (a segment always holds at least one record, so one record larger than
//! the limit gets a segment of its own).
//!
//! ## Segment header (24 bytes)
//!
//! | bytes | content |
//! |---|---|
//! | 0..8 | magic `VELOZJNL` (ASCII) |
//! | 8..10 | format version, u16 little-endian; this crate writes and reads `1` |
//! | 10..12 | reserved, zero |
//! | 12..20 | first sequence number of the segment, u64 LE (equals the file name's) |
//! | 20..24 | CRC-32 (IEEE, as zlib) of bytes 0..20, u32 LE |
//!
//! ## Record frame (20-byte header + payload), repeated to the end of the file
//!
//! | bytes | content |
//! |---|---|
//! | 0 | record marker `0x52` (ASCII `R`) |
//! | 1 | payload encoding: `1` = JSON of [`veloz_runtime::Stamped`] (UTF-8) |
//! | 2..4 | reserved, zero |
//! | 4..8 | payload length in bytes, u32 LE (at most [`MAX_PAYLOAD`]) |
//! | 8..16 | the record's sequence number, u64 LE (equals `seq` inside the payload) |
//! | 16..20 | CRC-32 of frame bytes 0..16 followed by the payload, u32 LE |
//! | 20.. | payload |
//!
//! The checksum covers the length and the sequence number as well as the
//! payload, so a damaged length or seq is detected like damaged data. The
//! sequence number sits in the frame so that recovery can check continuity
//! without decoding payloads; the reader decodes every payload and checks
//! that its `seq` equals the frame's.
//!
//! ## Recovery rules (run by [`FileJournal::open`])
//!
//! * Every segment header and every record is verified: marker, encoding,
//!   length, checksum, and `seq = previous seq + 1` from seq 1.
//! * Damage in the **last** segment that is a torn write — a record cut off
//!   by the end of the file, or a damaged record after which no valid record
//!   follows (the tail of an interrupted write, or zeros the file system
//!   left) — is truncated away, and [`RecoveryReport`] says where and how
//!   many bytes. A last segment whose header itself is incomplete (a crash
//!   while starting a new segment) is removed.
//! * Any other damage — in a segment that is not the last, or followed by
//!   valid records, or a valid record with the wrong sequence number — is a
//!   hard [`StoreError::Corrupt`] naming the file and offset. Nothing is
//!   skipped silently. [`RecoveryMode::TruncateDamagedTail`] lets the
//!   operator explicitly cut the last segment at the damage instead (for a
//!   machine that lost power under [`FsyncPolicy::Group`] or
//!   [`FsyncPolicy::Never`], where unsynced records may reach the disk out of
//!   order).
//!
//! See `docs/STORE.md` for the policies' trade-offs and how a restart works.

#![warn(missing_docs)]

mod error;
mod format;
mod lock;
mod options;
mod reader;
mod recover;
mod writer;

pub use error::{Damage, StoreError};
pub use format::{FORMAT_VERSION, MAX_PAYLOAD};
pub use options::{FsyncPolicy, JournalOptions, RecoveryMode};
pub use reader::{read_all, JournalReader};
pub use recover::RecoveryReport;
pub use writer::{DurableSeq, FileJournal};
