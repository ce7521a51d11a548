//! Crash test: a child process (this test binary re-executed in writer mode)
//! appends records as fast as it can and prints each seq after `append`
//! returned; the parent kills it with SIGKILL at seeded-random moments —
//! during start-up and recovery, mid-stream, during segment rolls — restarts
//! it on the same directory, and checks after every restart and at the end
//! that every acknowledged record is there, seqs run from 1 without gaps or
//! duplicates, and every record verifies and decodes to what was written.
//!
//! Segments are kept small (4 KiB) so that many kills land near a roll.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use common::{fresh_dir, stamped, Rng};
use veloz_store::{read_all, FileJournal, FsyncPolicy, JournalOptions};

const DIR_ENV: &str = "VELOZ_STORE_CRASH_DIR";
const POLICY_ENV: &str = "VELOZ_STORE_CRASH_POLICY";
/// Guards against a hung child; not a performance bound.
const STALL: Duration = Duration::from_secs(60);

fn options(policy: &str) -> JournalOptions {
    let fsync = match policy {
        "every" => FsyncPolicy::EveryRecord,
        "group" => FsyncPolicy::Group {
            max_records: 8,
            max_delay_ms: 1,
        },
        other => panic!("unknown crash policy {other}"),
    };
    JournalOptions {
        segment_bytes: 4096,
        ..JournalOptions::with_fsync(fsync)
    }
}

/// The writer. Run by the parent tests in a child process (it is ignored in
/// a normal run and fails if started without the parent's environment).
#[test]
#[ignore = "the crash tests run it in a child process"]
fn crash_writer_child() {
    let dir = std::env::var(DIR_ENV).expect("run by the crash tests, which set the directory");
    let policy = std::env::var(POLICY_ENV).expect("run by the crash tests, which set the policy");
    let mut j = FileJournal::open(Path::new(&dir), options(&policy)).unwrap();
    let mut out = std::io::stdout().lock();
    // The harness's "test ... " line has no newline yet: start a fresh line.
    let r = j.recovery();
    writeln!(
        out,
        "\nOPEN {} {} {}",
        j.last_seq(),
        r.truncated_bytes,
        r.removed_segments.len()
    )
    .unwrap();
    out.flush().unwrap();
    let mut durable = j.durable_seq();
    // Bounded even if the parent never kills it.
    for _ in 0..2_000_000 {
        let seq = j.last_seq() + 1;
        j.append_entry(&stamped(seq)).unwrap();
        writeln!(out, "ACK {seq}").unwrap();
        let d = j.durable_seq();
        if d > durable {
            durable = d;
            writeln!(out, "DUR {d}").unwrap();
        }
        out.flush().unwrap();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Recovered last seq, bytes cut, segments removed.
    Open(u64, u64, u64),
    Ack(u64),
    Dur(u64),
}

fn spawn(dir: &Path, policy: &str) -> (Child, Receiver<Line>, std::thread::JoinHandle<()>) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "crash_writer_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir)
        .env(POLICY_ENV, policy)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut parts = line.split_whitespace();
            let tag = parts.next();
            let nums: Vec<u64> = parts.filter_map(|p| p.parse().ok()).collect();
            let parsed = match (tag, nums.as_slice()) {
                (Some("OPEN"), [n, cut, removed]) => Line::Open(*n, *cut, *removed),
                (Some("ACK"), [n]) => Line::Ack(*n),
                (Some("DUR"), [n]) => Line::Dur(*n),
                // The test harness's own output.
                _ => continue,
            };
            if tx.send(parsed).is_err() {
                break;
            }
        }
    });
    (child, rx, reader)
}

/// What the parent learned over all rounds.
#[derive(Debug, Default)]
struct Seen {
    max_ack: u64,
    max_durable: u64,
    acks: u64,
    opens: u64,
    /// Restarts whose recovery cut a torn tail or removed a segment.
    repairs: u64,
}

/// Checks one round's lines: the writer resumed at or after everything
/// acknowledged (and everything reported durable) before, and acknowledged
/// consecutive seqs from there; a durable point never ran ahead of the
/// acknowledged records.
fn check_round(lines: &[Line], seen: &mut Seen, round: usize) {
    let mut next = None;
    for l in lines {
        match *l {
            Line::Open(last, cut, removed) => {
                if cut > 0 || removed > 0 {
                    seen.repairs += 1;
                }
                assert!(next.is_none(), "round {round}: two OPEN lines");
                assert!(
                    last >= seen.max_ack && last >= seen.max_durable,
                    "round {round}: recovered up to seq {last}, but seq {} was acknowledged and {} reported durable",
                    seen.max_ack,
                    seen.max_durable
                );
                next = Some(last + 1);
                seen.opens += 1;
            }
            Line::Ack(seq) => {
                let want = next.expect("ACK before OPEN");
                assert_eq!(
                    seq, want,
                    "round {round}: acknowledged seqs not consecutive"
                );
                next = Some(seq + 1);
                seen.max_ack = seq;
                seen.acks += 1;
            }
            Line::Dur(d) => {
                assert!(
                    d <= seen.max_ack,
                    "round {round}: durable {d} ahead of acknowledged {}",
                    seen.max_ack
                );
                seen.max_durable = seen.max_durable.max(d);
            }
        }
    }
}

fn crash_rounds(policy: &str, seed: u64, rounds: usize) {
    let dir = fresh_dir(&format!("sigkill-{policy}"));
    let mut rng = Rng(seed);
    let mut seen = Seen::default();
    for round in 0..rounds {
        let (mut child, rx, reader) = spawn(&dir, policy);
        let mut lines = Vec::new();
        let early = round % 3 == 0;
        if early {
            // Kill during start-up or recovery.
            std::thread::sleep(Duration::from_micros(rng.range(0, 30_000)));
        } else {
            // Wait until it has acknowledged at least one record, then let
            // it run for a random while.
            loop {
                match rx.recv_timeout(STALL) {
                    Ok(l) => {
                        lines.push(l);
                        if matches!(l, Line::Ack(_)) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        let _ = child.kill();
                        panic!("round {round}: the writer acknowledged nothing for {STALL:?}")
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        let status = child.wait().unwrap();
                        panic!("round {round}: the writer exited ({status}) before acknowledging a record")
                    }
                }
            }
            std::thread::sleep(Duration::from_micros(rng.range(0, 150_000)));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the writer finished instead of being killed"
        );
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        check_round(&lines, &mut seen, round);
    }
    assert!(seen.acks > 0 && seen.opens > 0, "{seen:?}");

    // A final recovery, then every record from 1, contiguous, as written.
    let j = FileJournal::open(&dir, options(policy)).unwrap();
    let report = j.recovery().clone();
    drop(j);
    assert!(report.last_seq >= seen.max_ack, "{report} vs {seen:?}");
    let all = read_all(&dir).unwrap();
    assert_eq!(all.len() as u64, report.last_seq);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(*e, stamped(i as u64 + 1), "record {}", i + 1);
    }
    eprintln!(
        "{policy}: {rounds} kills, {} restarts repaired a tail, {} records acknowledged, {} kept, durable reported up to {}",
        seen.repairs, seen.max_ack, report.last_seq, seen.max_durable
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_every_record_loses_nothing_acknowledged() {
    crash_rounds("every", 0x5EED_0001, 20);
}

#[test]
fn sigkill_group_commit_keeps_everything_reported_durable() {
    crash_rounds("group", 0x5EED_0002, 20);
}
