//! The file journal's behaviour: round trips, segment rolling, sequence
//! checks, recovery of torn tails, hard errors on damage that is not a torn
//! tail, the lock, the fsync policies' durable point, the documented byte
//! format, and a kernel restart through replay.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{fresh_dir, stamped};
use veloz_runtime::{Input, Journal, Kernel, KernelConfig, RecordingVenue};
use veloz_store::{
    read_all, Damage, FileJournal, FsyncPolicy, JournalOptions, JournalReader, RecoveryMode,
    StoreError,
};

fn write_n(dir: &Path, options: JournalOptions, n: u64) -> FileJournal {
    let mut j = FileJournal::open(dir, options).unwrap();
    let start = j.last_seq() + 1;
    for seq in start..start + n {
        Journal::append(&mut j, &stamped(seq)).unwrap();
    }
    j
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// Frame offsets and lengths of a segment, parsed from the documented
/// format (24-byte header; 20-byte frame header with the length at 4..8).
fn frames(path: &Path) -> Vec<(usize, usize)> {
    let b = fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut off = 24;
    while off + 20 <= b.len() {
        let len = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
        out.push((off, 20 + len));
        off += 20 + len;
    }
    assert_eq!(
        off,
        b.len(),
        "segment {} does not end on a frame",
        path.display()
    );
    out
}

fn flip(path: &Path, at: usize) {
    let mut b = fs::read(path).unwrap();
    b[at] ^= 0x40;
    fs::write(path, b).unwrap();
}

fn expect_seqs(dir: &Path, n: u64) {
    let all = read_all(dir).unwrap();
    assert_eq!(all.len() as u64, n);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(*e, stamped(i as u64 + 1));
    }
}

#[test]
fn round_trip_and_reopen_continues() {
    let dir = fresh_dir("roundtrip");
    let j = write_n(&dir, JournalOptions::default(), 100);
    assert_eq!(j.last_seq(), 100);
    assert_eq!(j.durable_seq(), 100);
    drop(j);
    expect_seqs(&dir, 100);

    let mut j = FileJournal::open(&dir, JournalOptions::default()).unwrap();
    let r = j.recovery().clone();
    assert_eq!((r.records, r.last_seq, r.segments), (100, 100, 1));
    assert!(!r.repaired(), "{r}");
    j.append_entry(&stamped(101)).unwrap();
    drop(j);
    expect_seqs(&dir, 101);
    // The reader streams the same records.
    let mut reader = JournalReader::open(&dir).unwrap();
    assert_eq!(reader.next().unwrap().unwrap(), stamped(1));
    assert_eq!(reader.by_ref().count(), 100);
    assert_eq!(reader.last_seq(), 101);
}

#[test]
fn segments_roll_and_are_named_by_first_seq() {
    let dir = fresh_dir("roll");
    let options = JournalOptions {
        segment_bytes: 4096,
        ..JournalOptions::with_fsync(FsyncPolicy::Never)
    };
    let j = write_n(&dir, options.clone(), 600);
    drop(j);
    let segs = segments(&dir);
    assert!(segs.len() > 10, "only {} segments", segs.len());
    let mut next = 1u64;
    for s in &segs {
        let name = s.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, format!("journal-{next:020}.log"));
        let size = fs::metadata(s).unwrap().len();
        assert!(size <= 4096, "{name} is {size} bytes");
        next += frames(s).len() as u64;
    }
    assert_eq!(next, 601);
    expect_seqs(&dir, 600);
    let j = write_n(&dir, options, 10);
    assert_eq!(j.recovery().segments, segs.len());
    drop(j);
    expect_seqs(&dir, 610);
}

#[test]
fn appends_out_of_sequence_are_refused() {
    let dir = fresh_dir("seq");
    let mut j = FileJournal::open(&dir, JournalOptions::default()).unwrap();
    let e = j.append_entry(&stamped(2)).unwrap_err();
    assert!(matches!(
        e,
        StoreError::OutOfSequence {
            expected: 1,
            got: 2,
            ..
        }
    ));
    j.append_entry(&stamped(1)).unwrap();
    assert!(j.append_entry(&stamped(1)).is_err());
    let err = Journal::append(&mut j, &stamped(3)).unwrap_err();
    assert!(err.to_string().contains("the next seq is 2"), "{err}");
    j.append_entry(&stamped(2)).unwrap();
    drop(j);
    expect_seqs(&dir, 2);
}

#[test]
fn torn_tail_is_cut_and_appends_continue() {
    // Cut the last record at every kind of place: inside its header, inside
    // its payload, one byte short.
    for cut_into in [1usize, 7, 19, 20, 33, usize::MAX] {
        let dir = fresh_dir("torn");
        drop(write_n(&dir, JournalOptions::default(), 50));
        let seg = segments(&dir).pop().unwrap();
        let (off, len) = *frames(&seg).last().unwrap();
        let keep = off + cut_into.min(len - 1);
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(keep as u64)
            .unwrap();
        let mut j = FileJournal::open(&dir, JournalOptions::default()).unwrap();
        let r = j.recovery().clone();
        assert_eq!(r.records, 49, "cut {cut_into}");
        assert_eq!(r.last_seq, 49);
        assert_eq!(r.truncated_bytes, (keep - off) as u64);
        assert_eq!(r.truncated_at, Some((seg.clone(), off as u64)));
        assert!(r.damage.as_ref().unwrap().is_cut_off(), "{r}");
        assert_eq!(fs::metadata(&seg).unwrap().len(), off as u64);
        for seq in 50..=60 {
            j.append_entry(&stamped(seq)).unwrap();
        }
        drop(j);
        expect_seqs(&dir, 60);
    }
}

#[test]
fn zeros_and_a_damaged_last_record_at_the_tail_are_torn_writes() {
    // Zeros after the last record (a file system extended the file).
    let dir = fresh_dir("zeros");
    drop(write_n(&dir, JournalOptions::default(), 20));
    let seg = segments(&dir).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(&[0u8; 4096])
        .unwrap();
    let j = FileJournal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!(j.recovery().truncated_bytes, 4096);
    assert_eq!(j.recovery().damage, Some(Damage::BadMarker(0)));
    assert_eq!(fs::metadata(&seg).unwrap().len(), len);
    drop(j);
    expect_seqs(&dir, 20);

    // The last record's payload damaged (its pages never reached the disk).
    let dir = fresh_dir("lastbad");
    drop(write_n(&dir, JournalOptions::default(), 20));
    let seg = segments(&dir).pop().unwrap();
    let (off, len) = *frames(&seg).last().unwrap();
    flip(&seg, off + len - 3);
    let j = FileJournal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!(j.recovery().records, 19);
    assert_eq!(j.recovery().damage, Some(Damage::Checksum));
    assert_eq!(j.recovery().truncated_bytes, len as u64);
}

#[test]
fn damage_before_valid_records_is_a_hard_error_naming_file_and_offset() {
    let dir = fresh_dir("middle");
    drop(write_n(&dir, JournalOptions::default(), 50));
    let seg = segments(&dir).pop().unwrap();
    let (off, _) = frames(&seg)[9];
    flip(&seg, off + 25);
    let before = fs::read(&seg).unwrap();
    let err = FileJournal::open(&dir, JournalOptions::default()).unwrap_err();
    match &err {
        StoreError::Corrupt {
            path,
            offset,
            damage,
            ..
        } => {
            assert_eq!(path, &seg);
            assert_eq!(*offset, off as u64);
            assert_eq!(*damage, Damage::Checksum);
        }
        other => panic!("{other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&seg.display().to_string()), "{msg}");
    assert!(msg.contains(&format!("byte {off}")), "{msg}");
    assert!(msg.contains("truncate_damaged_tail"), "{msg}");
    // Nothing was cut.
    assert_eq!(fs::read(&seg).unwrap(), before);
    // The reader stops at the same place, after the nine good records.
    let mut reader = JournalReader::open(&dir).unwrap();
    for seq in 1..=9 {
        assert_eq!(reader.next().unwrap().unwrap().seq, seq);
    }
    assert!(matches!(
        reader.next(),
        Some(Err(StoreError::Corrupt { offset, .. })) if offset == off as u64
    ));
    assert!(reader.next().is_none());

    // The operator's explicit choice cuts the last segment at the damage.
    let options = JournalOptions {
        recovery: RecoveryMode::TruncateDamagedTail,
        ..JournalOptions::default()
    };
    let mut j = FileJournal::open(&dir, options).unwrap();
    assert_eq!(j.recovery().records, 9);
    assert_eq!(j.recovery().truncated_at, Some((seg.clone(), off as u64)));
    j.append_entry(&stamped(10)).unwrap();
    drop(j);
    expect_seqs(&dir, 10);
}

#[test]
fn damage_in_an_earlier_segment_is_a_hard_error_in_every_mode() {
    let dir = fresh_dir("earlier");
    let options = JournalOptions {
        segment_bytes: 4096,
        recovery: RecoveryMode::TruncateDamagedTail,
        ..JournalOptions::with_fsync(FsyncPolicy::Never)
    };
    drop(write_n(&dir, options.clone(), 200));
    let segs = segments(&dir);
    let seg = &segs[1];
    let (off, len) = *frames(seg).last().unwrap();
    // Even the last record of a segment that is not the last is not a tail.
    flip(seg, off + len - 1);
    let err = FileJournal::open(&dir, options).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { path, offset, .. } if path == seg && *offset == off as u64),
        "{err}"
    );
    assert!(err.to_string().contains("not the last"), "{err}");
}

#[test]
fn missing_or_renamed_segments_are_detected() {
    let dir = fresh_dir("gap");
    let options = JournalOptions {
        segment_bytes: 4096,
        ..JournalOptions::with_fsync(FsyncPolicy::Never)
    };
    drop(write_n(&dir, options.clone(), 200));
    let segs = segments(&dir);
    fs::remove_file(&segs[2]).unwrap();
    let err = FileJournal::open(&dir, options.clone()).unwrap_err();
    assert!(
        matches!(&err, StoreError::SegmentGap { path, .. } if path == &segs[3]),
        "{err}"
    );
    assert!(matches!(read_all(&dir), Err(StoreError::SegmentGap { .. })));

    // A first segment that does not start at 1.
    let dir = fresh_dir("nostart");
    drop(write_n(&dir, options.clone(), 200));
    let segs = segments(&dir);
    fs::remove_file(&segs[0]).unwrap();
    let err = FileJournal::open(&dir, options.clone()).unwrap_err();
    assert!(
        matches!(err, StoreError::SegmentGap { expected: 1, .. }),
        "{err}"
    );

    // A segment renamed so that its name and header disagree.
    let dir = fresh_dir("rename");
    drop(write_n(&dir, options.clone(), 200));
    let segs = segments(&dir);
    let last = segs.last().unwrap();
    fs::rename(last, dir.join("journal-00000000000000099999.log")).unwrap();
    let err = FileJournal::open(&dir, options).unwrap_err();
    assert!(matches!(err, StoreError::BadHeader { .. }), "{err}");
}

#[test]
fn a_valid_record_with_the_wrong_seq_is_a_hard_error() {
    // Splice record 7's frame in place of record 6 (both valid frames).
    let dir = fresh_dir("splice");
    drop(write_n(&dir, JournalOptions::default(), 10));
    let seg = segments(&dir).pop().unwrap();
    let b = fs::read(&seg).unwrap();
    let fr = frames(&seg);
    let (o6, _) = fr[5];
    let (o7, l7) = fr[6];
    let mut spliced = b[..o6].to_vec();
    spliced.extend_from_slice(&b[o7..o7 + l7]);
    fs::write(&seg, &spliced).unwrap();
    let err = FileJournal::open(&dir, JournalOptions::default()).unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Corrupt {
                damage: Damage::Sequence {
                    expected: 6,
                    found: 7
                },
                offset,
                ..
            } if *offset == o6 as u64
        ),
        "{err}"
    );
}

#[test]
fn checksum_flips_anywhere_in_a_record_are_detected() {
    let dir = fresh_dir("flips");
    drop(write_n(&dir, JournalOptions::default(), 5));
    let seg = segments(&dir).pop().unwrap();
    let clean = fs::read(&seg).unwrap();
    let (off, len) = frames(&seg)[2];
    for at in off..off + len {
        fs::write(&seg, &clean).unwrap();
        flip(&seg, at);
        let got = read_all(&dir);
        assert!(
            matches!(got, Err(StoreError::Corrupt { offset, .. }) if offset == off as u64),
            "flip at byte {at} not detected: {got:?}"
        );
    }
}

#[test]
fn an_incomplete_new_segment_is_removed() {
    for content in [&b""[..], &b"VELOZJ"[..], &[0u8; 24][..], &[0u8; 100][..]] {
        let dir = fresh_dir("newseg");
        drop(write_n(&dir, JournalOptions::default(), 20));
        let stray = dir.join("journal-00000000000000000021.log");
        fs::write(&stray, content).unwrap();
        let mut j = FileJournal::open(&dir, JournalOptions::default()).unwrap();
        assert_eq!(j.recovery().removed_segments, vec![stray.clone()]);
        assert_eq!(j.recovery().truncated_bytes, content.len() as u64);
        assert_eq!(j.last_seq(), 20);
        j.append_entry(&stamped(21)).unwrap();
        drop(j);
        expect_seqs(&dir, 21);
    }
    // A complete header that is damaged is not silently removed.
    let dir = fresh_dir("badheader");
    drop(write_n(&dir, JournalOptions::default(), 3));
    let seg = segments(&dir).pop().unwrap();
    flip(&seg, 14);
    assert!(matches!(
        FileJournal::open(&dir, JournalOptions::default()),
        Err(StoreError::BadHeader { .. })
    ));
}

#[test]
fn one_writer_per_directory() {
    let dir = fresh_dir("lock");
    let j = FileJournal::open(&dir, JournalOptions::default()).unwrap();
    let err = FileJournal::open(&dir, JournalOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::Locked { pid, .. } if pid == std::process::id()),
        "{err}"
    );
    drop(j);
    drop(FileJournal::open(&dir, JournalOptions::default()).unwrap());
    // A lock left by a process that no longer exists is taken over.
    fs::write(dir.join("LOCK"), "4294967295\n").unwrap();
    drop(FileJournal::open(&dir, JournalOptions::default()).unwrap());
    assert!(!dir.join("LOCK").exists());
}

/// Polls `f` (bounded: at most ~20 s) until it holds.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..2000 {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

#[test]
fn durable_point_under_each_policy() {
    // Every record: durable when append returns.
    let dir = fresh_dir("dur-every");
    let mut j = FileJournal::open(&dir, JournalOptions::default()).unwrap();
    for seq in 1..=5 {
        j.append_entry(&stamped(seq)).unwrap();
        assert_eq!(j.durable_seq(), seq);
    }
    drop(j);

    // Group, batch size reached (the delay is an hour).
    let dir = fresh_dir("dur-group-n");
    let options = JournalOptions::with_fsync(FsyncPolicy::Group {
        max_records: 10,
        max_delay_ms: 3_600_000,
    });
    let mut j = FileJournal::open(&dir, options).unwrap();
    let handle = j.durability();
    for seq in 1..=25 {
        j.append_entry(&stamped(seq)).unwrap();
        assert!(handle.get() <= seq);
    }
    assert!(eventually(|| handle.get() >= 20), "{}", handle.get());
    // Flush forces the rest.
    Journal::flush(&mut j).unwrap();
    assert_eq!(handle.get(), 25);
    drop(j);

    // Group, delay reached (the batch is never full).
    let dir = fresh_dir("dur-group-t");
    let options = JournalOptions::with_fsync(FsyncPolicy::Group {
        max_records: 1_000_000,
        max_delay_ms: 5,
    });
    let mut j = FileJournal::open(&dir, options.clone()).unwrap();
    for seq in 1..=3 {
        j.append_entry(&stamped(seq)).unwrap();
    }
    let handle = j.durability();
    assert!(eventually(|| handle.get() == 3), "{}", handle.get());
    j.append_entry(&stamped(4)).unwrap();
    assert!(eventually(|| handle.get() == 4), "{}", handle.get());
    // Dropping syncs what is pending and stops the flusher.
    j.append_entry(&stamped(5)).unwrap();
    drop(j);
    let j = FileJournal::open(&dir, options).unwrap();
    assert_eq!(j.durable_seq(), 5);
    drop(j);
    expect_seqs(&dir, 5);

    // Never: only flush advances the durable point.
    let dir = fresh_dir("dur-never");
    let mut j = FileJournal::open(&dir, JournalOptions::with_fsync(FsyncPolicy::Never)).unwrap();
    j.append_entry(&stamped(1)).unwrap();
    j.append_entry(&stamped(2)).unwrap();
    assert_eq!(j.durable_seq(), 0);
    j.sync().unwrap();
    assert_eq!(j.durable_seq(), 2);
}

/// Writes a journal by hand from the byte layout in the crate docs and reads
/// it with the library; and checks that the library writes exactly that.
#[test]
fn the_byte_format_is_as_documented() {
    let dir = fresh_dir("format");
    fs::create_dir_all(&dir).unwrap();
    let mut file = Vec::new();
    file.extend_from_slice(b"VELOZJNL");
    file.extend_from_slice(&1u16.to_le_bytes());
    file.extend_from_slice(&[0, 0]);
    file.extend_from_slice(&1u64.to_le_bytes());
    let crc = crc32fast::hash(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    for seq in 1..=3u64 {
        let payload = serde_json::to_vec(&stamped(seq)).unwrap();
        let mut head = vec![b'R', 1, 0, 0];
        head.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        head.extend_from_slice(&seq.to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&head);
        h.update(&payload);
        head.extend_from_slice(&h.finalize().to_le_bytes());
        file.extend_from_slice(&head);
        file.extend_from_slice(&payload);
    }
    let path = dir.join("journal-00000000000000000001.log");
    fs::write(&path, &file).unwrap();
    expect_seqs(&dir, 3);

    let dir2 = fresh_dir("format2");
    drop(write_n(&dir2, JournalOptions::default(), 3));
    assert_eq!(
        fs::read(dir2.join("journal-00000000000000000001.log")).unwrap(),
        file
    );

    // A valid checksum over a payload that is not a Stamped: a decode error.
    let mut bad = file[..24].to_vec();
    let payload = br#"{"seq":1}"#;
    let mut head = vec![b'R', 1, 0, 0];
    head.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    head.extend_from_slice(&1u64.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&head);
    h.update(payload);
    head.extend_from_slice(&h.finalize().to_le_bytes());
    bad.extend_from_slice(&head);
    bad.extend_from_slice(payload);
    fs::write(&path, &bad).unwrap();
    assert!(matches!(
        read_all(&dir),
        Err(StoreError::Decode {
            seq: 1,
            offset: 24,
            ..
        })
    ));
}

/// The restart path: a kernel journals its inputs; a new kernel replays the
/// journal, takes it over and continues the sequence; its state equals the
/// state of a kernel that saw every input without a restart.
#[test]
fn kernel_restart_replays_and_continues() {
    let dir = fresh_dir("kernel");
    let config = KernelConfig::default();
    let mut venue = RecordingVenue::default();
    let inputs: Vec<Input> = (1..=40)
        .map(|i| {
            if i == 1 {
                Input::Start
            } else {
                common::input(i)
            }
        })
        .collect();
    let time = |i: usize| veloz_core::UnixNanos::from_millis(1_700_000_000_000 + i as u64);

    let mut k1 = Kernel::new(&config).unwrap();
    k1.set_journal(Box::new(
        FileJournal::open(&dir, JournalOptions::default()).unwrap(),
    ));
    for (i, input) in inputs[..25].iter().enumerate() {
        k1.handle(time(i), input.clone(), &mut venue).unwrap();
    }
    drop(k1); // the crash

    let mut k2 = Kernel::new(&config).unwrap();
    let journal = FileJournal::open(&dir, JournalOptions::default()).unwrap();
    for entry in journal.reader().unwrap() {
        let entry = entry.unwrap();
        k2.replay(std::iter::once(&entry), &mut venue).unwrap();
    }
    k2.set_journal(Box::new(journal));
    for (i, input) in inputs.iter().enumerate().skip(25) {
        k2.handle(time(i), input.clone(), &mut venue).unwrap();
    }

    let mut k3 = Kernel::new(&config).unwrap();
    for (i, input) in inputs.iter().enumerate() {
        k3.handle(time(i), input.clone(), &mut venue).unwrap();
    }
    assert_eq!(k2.state(), k3.state());
    drop(k2);
    assert_eq!(read_all(&dir).unwrap().len(), 40);
}
