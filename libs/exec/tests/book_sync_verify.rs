//! `verify_capture` (the library behind `veloz data verify-book`) on the three
//! real captures, on captures split over several files, and on captures broken
//! on purpose: a removed diff, a duplicated diff, a garbage line, and a removed
//! diff followed by a later snapshot line (the resync then happens).
//!
//! Broken captures are written to the system temp folder, never into the repo.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use veloz_core::fixtures::fixture;
use veloz_core::MarketKind;
use veloz_exec::binance::book_sync::{SyncRules, SyncState};
use veloz_exec::binance::verify::{verify_capture, Problem, VerifyError, VerifyOptions};

struct Case {
    file: &'static str,
    kind: MarketKind,
    instrument: &'static str,
    depth: u64,
    tickers: u64,
    trades: u64,
    snapshot: u64,
    bridge: (u64, u64),
    ticker_checks: u64,
}

const CASES: [Case; 3] = [
    Case {
        file: "spot_btcusdt_20240808.gz",
        kind: MarketKind::Spot,
        instrument: "BINANCE.SPOT.BTCUSDT",
        depth: 3451,
        tickers: 28040,
        trades: 9757,
        snapshot: 50093239218,
        bridge: (50093239208, 50093239224),
        ticker_checks: 564,
    },
    Case {
        file: "usdm_btcusdt_20240808.gz",
        kind: MarketKind::UsdM,
        instrument: "BINANCE.USDM.BTCUSDT",
        depth: 6551,
        tickers: 66089,
        trades: 21313,
        snapshot: 5123107852948,
        bridge: (5123107850310, 5123107853551),
        ticker_checks: 629,
    },
    Case {
        file: "cm_btcusd_perp_20240808.gz",
        kind: MarketKind::CoinM,
        instrument: "BINANCE.COINM.BTCUSD_PERP",
        depth: 26847,
        tickers: 19136,
        trades: 2286,
        snapshot: 1007198635033,
        bridge: (1007198635026, 1007198635121),
        ticker_checks: 1124,
    },
];

fn capture(name: &str) -> PathBuf {
    fixture(&format!("binance/hftbacktest/{name}")).unwrap()
}

fn lines(name: &str) -> Vec<String> {
    let mut r = veloz_exec::binance::capture::CaptureReader::open(&[capture(name)]).unwrap();
    let mut out = Vec::new();
    while let Some(l) = r.next_line().unwrap() {
        out.push(format!("{} {}", l.local.0, l.json));
    }
    out
}

/// A file in the temp folder, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn write(name: &str, lines: &[String], gzip: bool) -> Self {
        let path = std::env::temp_dir().join(format!("veloz-verify-{}-{name}", std::process::id()));
        let mut text = lines.join("\n");
        text.push('\n');
        if gzip {
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(text.as_bytes()).unwrap();
            std::fs::write(&path, enc.finish().unwrap()).unwrap();
        } else {
            std::fs::write(&path, text).unwrap();
        }
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn is_depth(line: &str) -> bool {
    line.contains("@depth@")
}

#[test]
fn each_real_capture_verifies_clean() {
    for c in &CASES {
        let report = verify_capture(&[capture(c.file)], &VerifyOptions::default()).unwrap();
        let text = report.to_string();
        assert!(report.is_ok(), "{}:\n{text}", c.file);
        assert_eq!(report.kind, Some(c.kind), "inferred market");
        assert_eq!(report.gaps(), 0);
        assert_eq!(report.problem_count, 0);
        let n = &report.counts;
        assert_eq!(
            (
                n.depth,
                n.book_ticker,
                n.trades,
                n.snapshots,
                n.unknown,
                n.bad
            ),
            (c.depth, c.tickers, c.trades, 1, 0, 0),
            "{}",
            c.file
        );
        assert_eq!(report.instruments.len(), 1);
        let i = &report.instruments[0];
        assert_eq!(i.instrument.to_string(), c.instrument);
        assert_eq!(
            i.rules,
            if c.kind == MarketKind::Spot {
                SyncRules::Spot
            } else {
                SyncRules::Futures
            }
        );
        assert_eq!(i.bridges.len(), 1);
        let b = &i.bridges[0];
        assert_eq!(b.snapshot_id, c.snapshot);
        assert_eq!(b.by.map(|d| (d.first, d.last)), Some(c.bridge));
        assert_eq!(b.held, Some(true));
        assert_eq!(
            (i.ticker_checks, i.ticker_mismatches, i.crossed),
            (c.ticker_checks, 0, 0)
        );
        assert_eq!(i.final_state, SyncState::Synced);
        assert_eq!(i.resyncs_impossible, 0);
        let (bid, ask) = (i.best_bid.unwrap(), i.best_ask.unwrap());
        assert!(bid.price < ask.price);
        assert!(text.contains("gaps 0, resyncs done 0"), "{text}");
        assert!(text.contains(": held"), "{text}");
        assert!(text.ends_with("result: OK"), "{text}");
        assert!(
            text.contains(&format!("best bid {} x {}", bid.price, bid.qty)),
            "{text}"
        );
    }
}

#[test]
fn a_removed_message_is_reported_where_it_is_and_fails() {
    for c in &CASES {
        let mut all = lines(c.file);
        // Remove the 500th diff (well after the snapshot).
        let depth_lines: Vec<usize> = (0..all.len()).filter(|&i| is_depth(&all[i])).collect();
        let removed = depth_lines[500];
        let next = depth_lines[501];
        all.remove(removed);
        let t = Temp::write(&format!("removed-{}", c.file), &all, true);
        let report = verify_capture(&[t.path()], &VerifyOptions::default()).unwrap();
        let text = report.to_string();
        assert!(!report.is_ok(), "{text}");
        assert_eq!(report.gaps(), 1, "{text}");
        let i = &report.instruments[0];
        assert_eq!(i.final_state, SyncState::WaitingForSnapshot);
        assert_eq!(i.resyncs_impossible, 1);
        // The gap is at the line that followed the removed one (1-based, and one
        // line earlier now that a line is gone).
        let (at, _) = &i.gaps[0];
        assert_eq!(at.file, t.path());
        assert_eq!(at.line, next as u64);
        let place = format!("{}:{}", t.path().display(), next);
        assert!(
            text.contains(&format!("{place}: GAP in {}", c.instrument)),
            "{text}"
        );
        assert!(text.contains("no later snapshot"), "{text}");
        assert!(
            text.ends_with("result: BROKEN (see the problems above)"),
            "{text}"
        );
        assert!(matches!(report.problems[0], Problem::Gap { .. }));
    }
}

#[test]
fn a_later_snapshot_line_resyncs_after_a_gap() {
    // Spot: remove a diff, then put a copy of a correct snapshot further on. The
    // correct snapshot is the book as verify itself holds it on the unmodified
    // capture at that point, so build it by verifying the prefix.
    let c = &CASES[0];
    let all = lines(c.file);
    let depth_lines: Vec<usize> = (0..all.len()).filter(|&i| is_depth(&all[i])).collect();
    let (removed, resync_at) = (depth_lines[300], depth_lines[320]);
    // The book after line `resync_at` of the unmodified capture, as a REST body.
    let prefix = Temp::write("prefix.txt", &all[..=resync_at], false);
    let r = verify_capture(&[prefix.path()], &VerifyOptions::default()).unwrap();
    assert!(r.is_ok(), "{r}");
    let snapshot = book_body(&all[..=resync_at], r.instruments[0].final_book_id);
    let mut broken = all.clone();
    broken.insert(resync_at + 1, format!("1723161300000000000 {snapshot}"));
    broken.remove(removed);
    let t = Temp::write("resync.txt", &broken, false);
    let report = verify_capture(&[t.path()], &VerifyOptions::default()).unwrap();
    let text = report.to_string();
    let i = &report.instruments[0];
    assert_eq!(report.gaps(), 1, "{text}");
    assert_eq!(i.counters.resyncs, 1, "{text}");
    assert_eq!(i.resyncs_impossible, 0);
    assert_eq!(i.final_state, SyncState::Synced);
    assert_eq!(i.bridges.len(), 2);
    assert_eq!(i.bridges[1].held, Some(true));
    assert_eq!(i.ticker_mismatches, 0, "{text}");
    // Still a broken capture (a diff is missing), but the book recovered.
    assert!(!report.is_ok());
    let clean = verify_capture(&[capture(c.file)], &VerifyOptions::default()).unwrap();
    let ci = &clean.instruments[0];
    assert_eq!((i.best_bid, i.best_ask), (ci.best_bid, ci.best_ask));
    assert_eq!(i.final_book_id, ci.final_book_id);
    assert_eq!(i.levels, ci.levels);
}

/// The full book after replaying `lines` (spot), as a `GET /api/v3/depth` body,
/// computed independently of the code under test.
fn book_body(lines: &[String], last_update_id: u64) -> String {
    use std::collections::BTreeMap;
    let mut bids: BTreeMap<veloz_core::Price, String> = BTreeMap::new();
    let mut asks: BTreeMap<veloz_core::Price, String> = BTreeMap::new();
    let mut id = 0u64;
    let mut synced = false;
    let mut pending: Vec<serde_json::Value> = Vec::new();
    let apply = |d: &serde_json::Value,
                 bids: &mut BTreeMap<veloz_core::Price, String>,
                 asks: &mut BTreeMap<veloz_core::Price, String>| {
        for (side, key) in [(&mut *bids, "b"), (&mut *asks, "a")] {
            for l in d[key].as_array().unwrap() {
                let p: veloz_core::Price = l[0].as_str().unwrap().parse().unwrap();
                let q = l[1].as_str().unwrap();
                if veloz_core::Quantity::parse(q).unwrap().is_zero() {
                    side.remove(&p);
                } else {
                    side.insert(p, q.to_string());
                }
            }
        }
    };
    for line in lines {
        let json = line.split_once(' ').unwrap().1;
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        if v.get("lastUpdateId").is_some() {
            for (side, key) in [(&mut bids, "bids"), (&mut asks, "asks")] {
                side.clear();
                for l in v[key].as_array().unwrap() {
                    side.insert(
                        l[0].as_str().unwrap().parse().unwrap(),
                        l[1].as_str().unwrap().into(),
                    );
                }
            }
            id = v["lastUpdateId"].as_u64().unwrap();
            synced = true;
            for d in pending.drain(..) {
                if d["u"].as_u64().unwrap() > id {
                    apply(&d, &mut bids, &mut asks);
                    id = d["u"].as_u64().unwrap();
                }
            }
        } else if is_depth(json) {
            let d = v["data"].clone();
            if synced {
                apply(&d, &mut bids, &mut asks);
                id = d["u"].as_u64().unwrap();
            } else {
                pending.push(d);
            }
        }
    }
    assert_eq!(
        id, last_update_id,
        "independent replay disagrees on the book id"
    );
    let side = |m: &BTreeMap<veloz_core::Price, String>, rev: bool| {
        let mut v: Vec<String> = m
            .iter()
            .map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
            .collect();
        if rev {
            v.reverse();
        }
        v.join(",")
    };
    format!(
        "{{\"lastUpdateId\":{id},\"bids\":[{}],\"asks\":[{}]}}",
        side(&bids, true),
        side(&asks, false)
    )
}

#[test]
fn several_files_are_one_capture() {
    let c = &CASES[1];
    let all = lines(c.file);
    let half = all.len() / 2;
    let a = Temp::write("part1.gz", &all[..half], true);
    let b = Temp::write("part2.txt", &all[half..], false);
    let whole = verify_capture(&[capture(c.file)], &VerifyOptions::default()).unwrap();
    let split = verify_capture(&[a.path(), b.path()], &VerifyOptions::default()).unwrap();
    assert!(split.is_ok(), "{split}");
    assert_eq!(split.counts, whole.counts);
    assert_eq!(split.files.len(), 2);
    let (w, s) = (&whole.instruments[0], &split.instruments[0]);
    assert_eq!(
        (s.best_bid, s.best_ask, s.final_book_id),
        (w.best_bid, w.best_ask, w.final_book_id)
    );
    assert_eq!(s.counters, w.counters);
    // In the wrong order the second half comes first: diffs are buffered with no
    // snapshot, then the snapshot is older than them.
    let reversed = verify_capture(&[b.path(), a.path()], &VerifyOptions::default()).unwrap();
    assert!(!reversed.is_ok());
}

#[test]
fn duplicates_and_garbage_lines_are_reported() {
    let c = &CASES[2];
    let mut all = lines(c.file);
    let depth_lines: Vec<usize> = (0..all.len()).filter(|&i| is_depth(&all[i])).collect();
    let dup = depth_lines[1000];
    all.insert(dup + 1, all[dup].clone());
    all.insert(10, "not a capture line".into());
    all.insert(
        20,
        "1723161256172216566 {\"stream\":\"btcusd_perp@trade\",\"data\":{\"e\":\"trade\"".into(),
    );
    all.insert(
        30,
        r#"1723161256172216566 {"stream":"btcusd_perp@new","data":{"e":"someNewEvent","E":1}}"#
            .into(),
    );
    let t = Temp::write("dup.gz", &all, true);
    let report = verify_capture(&[t.path()], &VerifyOptions::default()).unwrap();
    let text = report.to_string();
    assert!(!report.is_ok());
    assert_eq!(report.gaps(), 0, "a duplicate is not a gap: {text}");
    assert_eq!(report.instruments[0].counters.stale, 1);
    assert_eq!(report.counts.bad, 2);
    assert_eq!(report.problem_count, 3, "{text}");
    assert!(
        text.contains(&format!("{}:11: bad line", t.path().display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}:21: unparsable frame", t.path().display())),
        "{text}"
    );
    // The duplicate is at 1-based line dup + 2 (+ 3 for the lines inserted above it).
    assert!(
        text.contains(&format!(
            "{}:{}: BINANCE.COINM.BTCUSD_PERP: diff",
            t.path().display(),
            dup + 5
        )),
        "{text}"
    );
    assert_eq!(report.instruments[0].final_state, SyncState::Synced);
    // Unknown event types are counted and listed, not problems.
    assert_eq!(report.counts.unknown, 1);
    assert_eq!(report.unknown_types, [("someNewEvent".to_string(), 1)]);
    assert!(
        text.contains("unknown event type \"someNewEvent\": 1"),
        "{text}"
    );
}

#[test]
fn missing_files_and_empty_input() {
    assert!(matches!(
        verify_capture::<&Path>(&[], &VerifyOptions::default()),
        Err(VerifyError::NoFiles)
    ));
    let e =
        verify_capture(&[Path::new("/nonexistent/x.gz")], &VerifyOptions::default()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.gz"));
    let t = Temp::write("empty.txt", &[], false);
    let r = verify_capture(&[t.path()], &VerifyOptions::default()).unwrap();
    assert!(!r.is_ok());
    assert!(r.to_string().contains("no depthUpdate"), "{r}");
}
