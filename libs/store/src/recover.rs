//! Recovery: the scan [`crate::FileJournal::open`] runs over every segment
//! (headers, frames, checksums, sequence continuity), the repair of a torn
//! tail of the last segment, and the [`RecoveryReport`] saying what was found
//! and cut. The rules are in the crate docs.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{io_at as io_err, Damage, StoreError};
use crate::format::{
    decode_segment_header, list_segments, read_frame, valid_frame_follows, Frame,
    SEGMENT_HEADER_LEN,
};
use crate::options::RecoveryMode;

/// Hint for damage that cannot be repaired automatically.
pub(crate) const HINT_MIDDLE: &str = "Valid records follow the damage, so it is not a torn tail \
and nothing after it can be replayed safely. Keep the directory for inspection. If the machine \
lost power while the journal used the `group` or `never` fsync policy (unsynced records can reach \
the disk out of order), reopen with recovery = \"truncate_damaged_tail\" to cut the last segment \
here; otherwise move the directory aside, start a new journal and reconcile positions, balances \
and open orders with the venue";
/// Hint for damage in a segment that is not the last.
pub(crate) const HINT_EARLIER: &str = "The damage is in a segment that is not the last, so it is \
not a torn tail and later records cannot be replayed safely. Keep the directory for inspection, \
move it aside, start a new journal and reconcile positions, balances and open orders with the venue";
/// Hint for the reader meeting a torn tail.
pub(crate) const HINT_READER: &str = "If the writer crashed, open the journal with \
FileJournal::open first: it truncates a torn tail of the last segment";

/// What opening a journal found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments kept.
    pub segments: usize,
    /// Verified records kept.
    pub records: u64,
    /// Seq of the last record kept (0 = the journal is empty).
    pub last_seq: u64,
    /// Bytes cut from the end of the last segment (and of removed segments).
    pub truncated_bytes: u64,
    /// The segment that was cut and the offset it was cut at.
    pub truncated_at: Option<(PathBuf, u64)>,
    /// Why it was cut.
    pub damage: Option<Damage>,
    /// Segments removed because their header was never completely written
    /// (a crash while starting a segment).
    pub removed_segments: Vec<PathBuf>,
}

impl RecoveryReport {
    /// Whether recovery changed anything on disk.
    pub fn repaired(&self) -> bool {
        self.truncated_bytes > 0 || !self.removed_segments.is_empty()
    }
}

impl std::fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records in {} segments, last seq {}",
            self.records, self.segments, self.last_seq
        )?;
        if let (Some((path, offset)), Some(damage)) = (&self.truncated_at, &self.damage) {
            write!(
                f,
                "; cut {} bytes of {} at byte {offset} ({damage})",
                self.truncated_bytes,
                path.display()
            )?;
        }
        for p in &self.removed_segments {
            write!(f, "; removed incomplete segment {}", p.display())?;
        }
        Ok(())
    }
}

/// The result of scanning one segment.
#[derive(Debug)]
pub(crate) struct SegmentScan {
    pub records: u64,
    pub last_seq: u64,
    /// Length of the verified prefix.
    pub good_len: u64,
    pub file_len: u64,
    /// First damaged frame: offset, what.
    pub damage: Option<(u64, Damage)>,
}

/// Reads and checks a segment header against the file name and the
/// expected first seq.
pub(crate) fn check_header(
    file: &mut impl Read,
    path: &Path,
    name_seq: u64,
    expected_first: u64,
) -> Result<(), StoreError> {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    file.read_exact(&mut h).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            StoreError::BadHeader {
                path: path.to_path_buf(),
                problem: "the file is shorter than a segment header".into(),
            }
        } else {
            io_err(path, "read the segment header")(e)
        }
    })?;
    let first = decode_segment_header(&h).map_err(|p| StoreError::BadHeader {
        path: path.to_path_buf(),
        problem: p.to_string(),
    })?;
    if first != name_seq {
        return Err(StoreError::BadHeader {
            path: path.to_path_buf(),
            problem: format!("its header says first seq {first} but its name says {name_seq}"),
        });
    }
    if first != expected_first {
        return Err(StoreError::SegmentGap {
            path: path.to_path_buf(),
            expected: expected_first,
            found: first,
        });
    }
    Ok(())
}

/// Scans one segment whose first record must be `expected_first`.
pub(crate) fn scan_segment(
    path: &Path,
    name_seq: u64,
    expected_first: u64,
) -> Result<SegmentScan, StoreError> {
    let file = File::open(path).map_err(io_err(path, "open the segment"))?;
    let file_len = file
        .metadata()
        .map_err(io_err(path, "read the segment's size"))?
        .len();
    let mut r = BufReader::with_capacity(1 << 16, file);
    check_header(&mut r, path, name_seq, expected_first)?;
    let mut offset = SEGMENT_HEADER_LEN as u64;
    let mut records = 0;
    let mut last_seq = expected_first - 1;
    let mut payload = Vec::new();
    loop {
        match read_frame(&mut r, &mut payload).map_err(io_err(path, "read the segment"))? {
            Frame::End => break,
            Frame::Record { seq, len } => {
                if seq != last_seq + 1 {
                    return Ok(SegmentScan {
                        records,
                        last_seq,
                        good_len: offset,
                        file_len,
                        damage: Some((
                            offset,
                            Damage::Sequence {
                                expected: last_seq + 1,
                                found: seq,
                            },
                        )),
                    });
                }
                last_seq = seq;
                records += 1;
                offset += len as u64;
            }
            Frame::Damaged { damage, .. } => {
                return Ok(SegmentScan {
                    records,
                    last_seq,
                    good_len: offset,
                    file_len,
                    damage: Some((offset, damage)),
                })
            }
        }
    }
    Ok(SegmentScan {
        records,
        last_seq,
        good_len: offset,
        file_len,
        damage: None,
    })
}

/// Whether a last segment's header was never completely written: shorter
/// than a header, or nothing but zeros.
fn header_never_written(path: &Path) -> Result<Option<u64>, StoreError> {
    let mut f = File::open(path).map_err(io_err(path, "open the segment"))?;
    let len = f
        .metadata()
        .map_err(io_err(path, "read the segment's size"))?
        .len();
    if len < SEGMENT_HEADER_LEN as u64 {
        return Ok(Some(len));
    }
    if len > 1 << 20 {
        return Ok(None);
    }
    let mut all = Vec::new();
    f.read_to_end(&mut all)
        .map_err(io_err(path, "read the segment"))?;
    Ok(all.iter().all(|b| *b == 0).then_some(len))
}

/// Syncs a directory so that created or removed entries are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    // Opening a directory read-only and fsyncing it is how its entries are
    // made durable on Unix; elsewhere this is best effort.
    match File::open(dir) {
        Ok(d) => match d.sync_all() {
            Ok(()) => Ok(()),
            Err(e) if cfg!(unix) => Err(io_err(dir, "sync the directory")(e)),
            Err(_) => Ok(()),
        },
        Err(e) if cfg!(unix) => Err(io_err(dir, "open the directory")(e)),
        Err(_) => Ok(()),
    }
}

/// The last segment after recovery, ready for appending.
#[derive(Debug)]
pub(crate) struct Tail {
    pub path: PathBuf,
    pub len: u64,
}

/// Scans and repairs `dir`. Returns the report and the last segment (none
/// if the directory holds no segment).
pub(crate) fn recover(
    dir: &Path,
    mode: RecoveryMode,
) -> Result<(RecoveryReport, Option<Tail>), StoreError> {
    let mut report = RecoveryReport::default();
    let mut segments = list_segments(dir).map_err(io_err(dir, "list the journal directory"))?;

    // A crash while starting a segment leaves a last file without a header.
    while let Some((_, path)) = segments.last() {
        match header_never_written(path)? {
            Some(len) => {
                fs::remove_file(path).map_err(io_err(path, "remove an incomplete segment"))?;
                report.truncated_bytes += len;
                report.removed_segments.push(path.clone());
                segments.pop();
            }
            None => break,
        }
    }
    if !report.removed_segments.is_empty() {
        sync_dir(dir)?;
    }

    let n = segments.len();
    let mut last_seq = 0u64;
    let mut tail = None;
    for (i, (name_seq, path)) in segments.iter().enumerate() {
        let is_last = i + 1 == n;
        let scan = scan_segment(path, *name_seq, last_seq + 1)?;
        report.records += scan.records;
        if scan.records > 0 {
            last_seq = scan.last_seq;
        }
        let mut len = scan.file_len;
        if let Some((offset, damage)) = scan.damage {
            if !is_last {
                return Err(StoreError::Corrupt {
                    path: path.clone(),
                    offset,
                    damage,
                    hint: HINT_EARLIER,
                });
            }
            let torn = match damage {
                Damage::Sequence { .. } => false,
                _ => {
                    let mut f = File::open(path).map_err(io_err(path, "open the segment"))?;
                    f.seek(SeekFrom::Start(offset + 1))
                        .map_err(io_err(path, "read the segment"))?;
                    let mut rest = Vec::new();
                    f.read_to_end(&mut rest)
                        .map_err(io_err(path, "read the segment"))?;
                    valid_frame_follows(&rest, last_seq).is_none()
                }
            };
            if !torn && mode == RecoveryMode::Strict {
                return Err(StoreError::Corrupt {
                    path: path.clone(),
                    offset,
                    damage,
                    hint: HINT_MIDDLE,
                });
            }
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io_err(path, "open the segment to cut its torn tail"))?;
            f.set_len(offset)
                .map_err(io_err(path, "cut the segment's torn tail"))?;
            f.sync_all()
                .map_err(io_err(path, "sync the segment after cutting its tail"))?;
            report.truncated_bytes += scan.file_len - offset;
            report.truncated_at = Some((path.clone(), offset));
            report.damage = Some(damage);
            len = offset;
        }
        debug_assert_eq!(len, scan.good_len);
        if is_last {
            tail = Some(Tail {
                path: path.clone(),
                len,
            });
        }
    }
    report.segments = n;
    report.last_seq = last_seq;
    Ok((report, tail))
}
