//! Reading a journal back for replay: [`JournalReader`] streams the records
//! of a directory segment by segment (one buffered file open at a time),
//! verifying every header, frame, checksum and seq on the way and decoding
//! each payload into a [`Stamped`]. It never repairs anything: damage is an
//! error (open the journal with [`crate::FileJournal::open`] first to repair
//! a torn tail after a crash).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use veloz_runtime::Stamped;

use crate::error::StoreError;
use crate::format::{list_segments, read_frame, Frame, SEGMENT_HEADER_LEN};
use crate::recover::{check_header, HINT_READER};

/// A streaming, verifying iterator over the records of a journal directory,
/// in seq order from 1. Yields `Err` once on damage and then ends.
#[derive(Debug)]
pub struct JournalReader {
    segments: std::vec::IntoIter<(u64, PathBuf)>,
    current: Option<(PathBuf, BufReader<File>)>,
    offset: u64,
    next_seq: u64,
    payload: Vec<u8>,
    done: bool,
}

impl JournalReader {
    /// A reader over the segments `dir` holds now.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let segments = list_segments(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            op: "list the journal directory",
            source,
        })?;
        Ok(Self {
            segments: segments.into_iter(),
            current: None,
            offset: 0,
            next_seq: 1,
            payload: Vec::new(),
            done: false,
        })
    }

    /// Seq of the last record yielded (0 = none yet).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    fn next_record(&mut self) -> Result<Option<Stamped>, StoreError> {
        loop {
            let Some((path, r)) = self.current.as_mut() else {
                let Some((name_seq, path)) = self.segments.next() else {
                    return Ok(None);
                };
                let f = File::open(&path).map_err(|source| StoreError::Io {
                    path: path.clone(),
                    op: "open the segment",
                    source,
                })?;
                let mut r = BufReader::with_capacity(1 << 16, f);
                check_header(&mut r, &path, name_seq, self.next_seq)?;
                self.offset = SEGMENT_HEADER_LEN as u64;
                self.current = Some((path, r));
                continue;
            };
            let frame = read_frame(r, &mut self.payload).map_err(|source| StoreError::Io {
                path: path.clone(),
                op: "read the segment",
                source,
            })?;
            match frame {
                Frame::End => {
                    self.current = None;
                }
                Frame::Damaged { damage, .. } => {
                    return Err(StoreError::Corrupt {
                        path: path.clone(),
                        offset: self.offset,
                        damage,
                        hint: HINT_READER,
                    });
                }
                Frame::Record { seq, len } => {
                    if seq != self.next_seq {
                        return Err(StoreError::Corrupt {
                            path: path.clone(),
                            offset: self.offset,
                            damage: crate::Damage::Sequence {
                                expected: self.next_seq,
                                found: seq,
                            },
                            hint: HINT_READER,
                        });
                    }
                    let entry: Stamped =
                        serde_json::from_slice(&self.payload).map_err(|source| {
                            StoreError::Decode {
                                path: path.clone(),
                                offset: self.offset,
                                seq,
                                source,
                            }
                        })?;
                    if entry.seq != seq {
                        return Err(StoreError::PayloadSeq {
                            path: path.clone(),
                            offset: self.offset,
                            frame: seq,
                            payload: entry.seq,
                        });
                    }
                    self.offset += len as u64;
                    self.next_seq += 1;
                    return Ok(Some(entry));
                }
            }
        }
    }
}

impl Iterator for JournalReader {
    type Item = Result<Stamped, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Reads every record of the journal in `dir` into memory (tests, small
/// journals; replay with [`JournalReader`] to stream).
pub fn read_all(dir: &Path) -> Result<Vec<Stamped>, StoreError> {
    JournalReader::open(dir)?.collect()
}
