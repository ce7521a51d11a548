//! Every decimal string in the shared Binance fixtures (JSON files, CSV files and
//! the three real WebSocket captures) must round-trip exactly through `Price` and
//! `Quantity`: parse, format, compare byte for byte.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use veloz_core::fixtures::fixture;
use veloz_core::{Price, Quantity};

/// Is `s` a plain decimal as Binance sends prices and quantities?
fn looks_decimal(s: &str) -> bool {
    let t = s.strip_prefix('-').unwrap_or(s);
    !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && t.bytes().filter(|&b| b == b'.').count() <= 1
        && t.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && t.bytes().last().is_some_and(|b| b.is_ascii_digit())
}

#[derive(Default)]
struct Tally {
    checked: usize,
    /// Integer-looking strings too large for the 1e-8 grid (ids, e.g. order ids
    /// sent as strings), which are not prices or quantities.
    skipped_large_ints: usize,
}

fn check(s: &str, origin: &str, t: &mut Tally) {
    if !looks_decimal(s) {
        return;
    }
    // Digit strings with no '.' that overflow the i64 1e-8 range are identifiers
    // (trade ids, timestamps as strings), not amounts.
    if !s.contains('.') && Quantity::parse(s).is_err() {
        t.skipped_large_ints += 1;
        return;
    }
    let p =
        Price::parse(s).unwrap_or_else(|e| panic!("{origin}: {s:?} does not parse as Price: {e}"));
    assert_eq!(p.to_string(), s, "{origin}: Price round trip");
    let q = Quantity::parse(s)
        .unwrap_or_else(|e| panic!("{origin}: {s:?} does not parse as Quantity: {e}"));
    assert_eq!(q.to_string(), s, "{origin}: Quantity round trip");
    t.checked += 1;
}

fn walk(v: &serde_json::Value, origin: &str, t: &mut Tally) {
    match v {
        serde_json::Value::String(s) => check(s, origin, t),
        serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, origin, t)),
        serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, origin, t)),
        _ => {}
    }
}

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {dir:?}: {e}")) {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_with_ext(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

#[test]
fn every_json_fixture_decimal_round_trips() {
    let root = fixture("binance").expect("shared fixtures");
    let mut files = Vec::new();
    files_with_ext(&root, "json", &mut files);
    assert!(
        files.len() >= 100,
        "expected the ~120 JSON fixtures, found {}",
        files.len()
    );
    let mut t = Tally::default();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        walk(&v, &f.display().to_string(), &mut t);
    }
    assert!(t.checked >= 1_000, "only {} decimals checked", t.checked);
    println!(
        "{} JSON files, {} decimal strings round-tripped, {} large integer ids skipped",
        files.len(),
        t.checked,
        t.skipped_large_ints
    );
}

#[test]
fn every_csv_fixture_decimal_round_trips() {
    let root = fixture("binance").expect("shared fixtures");
    let mut files = Vec::new();
    files_with_ext(&root, "csv", &mut files);
    files_with_ext(&root, "gz", &mut files);
    files.retain(|f| f.to_string_lossy().contains(".csv"));
    assert!(!files.is_empty());
    let mut t = Tally::default();
    for f in &files {
        let raw = std::fs::File::open(f).unwrap();
        let reader: Box<dyn Read> = if f.extension().is_some_and(|x| x == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        for (i, line) in BufReader::new(reader).lines().enumerate() {
            let line = line.unwrap();
            for field in line.split(',') {
                check(field.trim(), &format!("{}:{}", f.display(), i + 1), &mut t);
            }
        }
    }
    assert!(t.checked > 100_000, "only {} decimals checked", t.checked);
    println!(
        "{} CSV files, {} decimal strings round-tripped",
        files.len(),
        t.checked
    );
}

#[test]
fn every_capture_decimal_round_trips() {
    let mut total = 0;
    for name in [
        "spot_btcusdt_20240808.gz",
        "usdm_btcusdt_20240808.gz",
        "cm_btcusd_perp_20240808.gz",
    ] {
        let path = fixture(&format!("binance/hftbacktest/{name}")).expect("capture");
        let r = BufReader::new(flate2::read::MultiGzDecoder::new(
            std::fs::File::open(&path).unwrap(),
        ));
        let mut t = Tally::default();
        let mut lines = 0;
        for (i, line) in r.lines().enumerate() {
            let line = line.unwrap();
            let (_, json) = line.split_once(' ').expect("`<ns> <json>` line");
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            walk(&v, &format!("{name}:{}", i + 1), &mut t);
            lines += 1;
        }
        assert!(lines > 40_000, "{name}: {lines} lines");
        assert!(t.checked > 100_000, "{name}: only {} decimals", t.checked);
        total += t.checked;
    }
    println!("{total} capture decimal strings round-tripped");
}
