//! The writer: [`FileJournal`] appends framed records to the last segment,
//! rolls segments, applies the fsync policy and publishes the durable point
//! ([`DurableSeq`]).
//!
//! Each `append` is one `write` system call of a whole frame straight to the
//! file (no user-space buffer), so a record that `append` acknowledged
//! survives a crash of the process under every policy; the policy only
//! decides when the operating system is told to put it on the disk.
//!
//! Group commit runs a small flusher thread owned by the journal. It shares
//! the current segment's file handle (`Arc<File>`; `fdatasync` through any
//! handle syncs the file) and a counter of pending records. `append` writes,
//! then bumps the counter under a mutex and wakes the flusher only when the
//! first record of a batch arrives or the batch is full — it never reads the
//! clock and never waits for an fsync. The flusher reads the clock, waits
//! for the batch to fill or `max_delay_ms` to pass, fsyncs, and advances
//! [`DurableSeq`]. If an fsync fails, the next `append` returns the error.
//! Rolling to a new segment fsyncs the old one on the caller's thread (once
//! per `segment_bytes`), under every policy.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use veloz_runtime::{Journal, JournalError, Stamped};

use crate::error::{io_at as io, StoreError};
use crate::format::{encode_segment_header, seal_frame, segment_name, FRAME_HEADER_LEN};
use crate::lock::DirLock;
use crate::options::{FsyncPolicy, JournalOptions};
use crate::reader::JournalReader;
use crate::recover::{recover, sync_dir, RecoveryReport};

/// The durable point of a journal, shareable across threads: every record
/// with a seq at or below [`DurableSeq::get`] has been fsynced.
#[derive(Debug, Clone, Default)]
pub struct DurableSeq(Arc<AtomicU64>);

impl DurableSeq {
    /// The highest seq known to be on stable storage (0 = none).
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn advance(&self, seq: u64) {
        self.0.fetch_max(seq, Ordering::AcqRel);
    }
}

/// State shared with the group-commit flusher.
#[derive(Debug)]
struct FlushState {
    file: Arc<File>,
    path: PathBuf,
    /// Seq of the last record written.
    written: u64,
    /// Records written since the flusher last took a batch.
    pending: u64,
    stop: bool,
    /// The first fsync failure.
    error: Option<String>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<FlushState>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FlushState> {
        // A panic while holding this lock cannot leave the counters in a
        // state worse than "fsync a bit more", so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug)]
struct Flusher {
    shared: Arc<Shared>,
    max_records: u64,
    thread: Option<JoinHandle<()>>,
}

fn flusher_loop(shared: Arc<Shared>, durable: DurableSeq, max_records: u64, max_delay: Duration) {
    let mut st = shared.lock();
    let mut batch_started: Option<Instant> = None;
    loop {
        if st.error.is_some() {
            return;
        }
        if st.pending == 0 {
            batch_started = None;
            if st.stop {
                return;
            }
            st = shared
                .wake
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            continue;
        }
        if st.pending < max_records && !st.stop {
            let started = *batch_started.get_or_insert_with(Instant::now);
            let waited = started.elapsed();
            if waited < max_delay {
                st = shared
                    .wake
                    .wait_timeout(st, max_delay - waited)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
                continue;
            }
        }
        let file = Arc::clone(&st.file);
        let target = st.written;
        st.pending = 0;
        batch_started = None;
        drop(st);
        let result = file.sync_data();
        st = shared.lock();
        match result {
            Ok(()) => durable.advance(target),
            Err(e) => {
                st.error = Some(format!("fsync of {} failed: {e}", st.path.display()));
                return;
            }
        }
    }
}

/// The crash-safe journal writer (see the crate docs for the format and the
/// recovery rules). Implements [`Journal`]: give it to
/// `Kernel::set_journal` after replaying what it holds.
#[derive(Debug)]
pub struct FileJournal {
    dir: PathBuf,
    options: JournalOptions,
    file: Arc<File>,
    path: PathBuf,
    segment_len: u64,
    segment_records: u64,
    last_seq: u64,
    buf: Vec<u8>,
    durable: DurableSeq,
    flusher: Option<Flusher>,
    failed: Option<String>,
    recovery: RecoveryReport,
    _lock: DirLock,
}

/// Creates a new segment starting at `first_seq`, with its header, synced
/// (file and directory).
fn create_segment(dir: &Path, first_seq: u64) -> Result<(PathBuf, File), StoreError> {
    let path = dir.join(segment_name(first_seq));
    let mut f = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(io(&path, "create a new segment"))?;
    f.write_all(&encode_segment_header(first_seq))
        .map_err(io(&path, "write the segment header"))?;
    f.sync_all().map_err(io(&path, "sync the new segment"))?;
    sync_dir(dir)?;
    Ok((path, f))
}

impl FileJournal {
    /// Opens (creating if needed) the journal in `dir`: takes the directory's
    /// lock, runs recovery (see the crate docs) and positions the writer
    /// after the last good record. What recovery found is in
    /// [`FileJournal::recovery`]; the records are read with
    /// [`FileJournal::reader`].
    pub fn open(dir: &Path, options: JournalOptions) -> Result<Self, StoreError> {
        options.validate()?;
        std::fs::create_dir_all(dir).map_err(io(dir, "create the journal directory"))?;
        let lock = DirLock::acquire(dir)?;
        let (recovery, tail) = recover(dir, options.recovery)?;
        let (path, file, segment_len) = match tail {
            Some(t) => {
                let f = OpenOptions::new()
                    .append(true)
                    .open(&t.path)
                    .map_err(io(&t.path, "open the last segment for appending"))?;
                // What a killed process wrote may still be only in the page
                // cache: make it durable before calling it durable.
                f.sync_data()
                    .map_err(io(&t.path, "sync the last segment"))?;
                (t.path, f, t.len)
            }
            None => {
                let (p, f) = create_segment(dir, 1)?;
                (p, f, crate::format::SEGMENT_HEADER_LEN as u64)
            }
        };
        let segment_records = if segment_len > crate::format::SEGMENT_HEADER_LEN as u64 {
            1
        } else {
            0
        };
        let last_seq = recovery.last_seq;
        let durable = DurableSeq::default();
        durable.advance(last_seq);
        let file = Arc::new(file);
        let flusher = match options.fsync {
            FsyncPolicy::Group {
                max_records,
                max_delay_ms,
            } => {
                let shared = Arc::new(Shared {
                    state: Mutex::new(FlushState {
                        file: Arc::clone(&file),
                        path: path.clone(),
                        written: last_seq,
                        pending: 0,
                        stop: false,
                        error: None,
                    }),
                    wake: Condvar::new(),
                });
                let (s, d) = (Arc::clone(&shared), durable.clone());
                let max_records = u64::from(max_records);
                let delay = Duration::from_millis(max_delay_ms);
                let thread = std::thread::Builder::new()
                    .name("veloz-journal-flush".into())
                    .spawn(move || flusher_loop(s, d, max_records, delay))
                    .map_err(io(dir, "start the journal flusher thread"))?;
                Some(Flusher {
                    shared,
                    max_records,
                    thread: Some(thread),
                })
            }
            FsyncPolicy::EveryRecord | FsyncPolicy::Never => None,
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            options,
            file,
            path,
            segment_len,
            segment_records,
            last_seq,
            buf: Vec::with_capacity(1024),
            durable,
            flusher,
            failed: None,
            recovery,
            _lock: lock,
        })
    }

    /// What recovery found when the journal was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options in force.
    pub fn options(&self) -> &JournalOptions {
        &self.options
    }

    /// The segment being appended to.
    pub fn segment_path(&self) -> &Path {
        &self.path
    }

    /// Seq of the last record written (0 = empty); the next `append` must
    /// carry this + 1.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The highest seq on stable storage (see [`DurableSeq`]).
    pub fn durable_seq(&self) -> u64 {
        self.durable.get()
    }

    /// A handle to the durable point that stays valid after the journal is
    /// moved into the kernel (`Box<dyn Journal>`).
    pub fn durability(&self) -> DurableSeq {
        self.durable.clone()
    }

    /// A verifying, streaming reader over the records in this journal (for
    /// replay). Records appended later are not guaranteed to be seen.
    pub fn reader(&self) -> Result<JournalReader, StoreError> {
        JournalReader::open(&self.dir)
    }

    fn fail(&mut self, e: StoreError) -> StoreError {
        if self.failed.is_none() {
            self.failed = Some(e.to_string());
        }
        e
    }

    fn check_failed(&self) -> Result<(), StoreError> {
        if let Some(cause) = &self.failed {
            return Err(StoreError::Failed {
                path: self.path.clone(),
                cause: cause.clone(),
            });
        }
        if let Some(fl) = &self.flusher {
            if let Some(cause) = &fl.shared.lock().error {
                return Err(StoreError::Failed {
                    path: self.path.clone(),
                    cause: cause.clone(),
                });
            }
        }
        Ok(())
    }

    /// Closes the current segment (fsynced) and starts the next one at
    /// `first_seq`.
    fn roll(&mut self, first_seq: u64) -> Result<(), StoreError> {
        self.file
            .sync_data()
            .map_err(io(&self.path, "sync the segment before rolling"))?;
        self.durable.advance(self.last_seq);
        let (path, file) = create_segment(&self.dir, first_seq)?;
        self.file = Arc::new(file);
        self.path = path;
        self.segment_len = crate::format::SEGMENT_HEADER_LEN as u64;
        self.segment_records = 0;
        if let Some(fl) = &self.flusher {
            let mut st = fl.shared.lock();
            st.file = Arc::clone(&self.file);
            st.path = self.path.clone();
        }
        Ok(())
    }

    /// Appends one record (see [`Journal::append`]): `entry.seq` must be
    /// [`FileJournal::last_seq`] + 1.
    pub fn append_entry(&mut self, entry: &Stamped) -> Result<(), StoreError> {
        self.check_failed()?;
        let expected = self.last_seq + 1;
        if entry.seq != expected {
            return Err(StoreError::OutOfSequence {
                dir: self.dir.clone(),
                expected,
                got: entry.seq,
            });
        }
        self.buf.clear();
        self.buf.resize(FRAME_HEADER_LEN, 0);
        serde_json::to_writer(&mut self.buf, entry).map_err(|source| StoreError::Encode {
            seq: entry.seq,
            source,
        })?;
        seal_frame(&mut self.buf, entry.seq).map_err(|len| StoreError::TooLarge {
            seq: entry.seq,
            len,
        })?;
        let frame_len = self.buf.len() as u64;
        if self.segment_records > 0 && self.segment_len + frame_len > self.options.segment_bytes {
            if let Err(e) = self.roll(entry.seq) {
                return Err(self.fail(e));
            }
        }
        if let Err(e) = (&*self.file).write_all(&self.buf) {
            let e = io(&self.path, "append a record")(e);
            return Err(self.fail(e));
        }
        self.segment_len += frame_len;
        self.segment_records += 1;
        self.last_seq = entry.seq;
        match self.options.fsync {
            FsyncPolicy::EveryRecord => {
                if let Err(e) = self.file.sync_data() {
                    let e = io(&self.path, "fsync a record")(e);
                    return Err(self.fail(e));
                }
                self.durable.advance(entry.seq);
            }
            FsyncPolicy::Group { .. } => {
                if let Some(fl) = &self.flusher {
                    let mut st = fl.shared.lock();
                    st.written = entry.seq;
                    st.pending += 1;
                    let notify = st.pending == 1 || st.pending >= fl.max_records;
                    drop(st);
                    if notify {
                        fl.shared.wake.notify_one();
                    }
                }
            }
            FsyncPolicy::Never => {}
        }
        Ok(())
    }

    /// Fsyncs everything appended so far, under every policy; on return
    /// [`FileJournal::durable_seq`] equals [`FileJournal::last_seq`].
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.check_failed()?;
        if let Err(e) = self.file.sync_data() {
            let e = io(&self.path, "fsync the segment")(e);
            return Err(self.fail(e));
        }
        self.durable.advance(self.last_seq);
        Ok(())
    }
}

impl Journal for FileJournal {
    fn append(&mut self, entry: &Stamped) -> Result<(), JournalError> {
        self.append_entry(entry).map_err(JournalError::from)
    }

    fn flush(&mut self) -> Result<(), JournalError> {
        self.sync().map_err(JournalError::from)
    }
}

impl Drop for FileJournal {
    fn drop(&mut self) {
        if let Some(fl) = self.flusher.as_mut() {
            fl.shared.lock().stop = true;
            fl.shared.wake.notify_one();
            if let Some(t) = fl.thread.take() {
                // The flusher syncs what is pending before it stops; a
                // panic in it has nothing left to report here.
                let _ = t.join();
            }
        }
    }
}
