//! The fuzz targets' checks (`fuzz/fuzz_targets/checks.rs`), run in CI over the
//! seed corpus and deterministic mutations of it, without libFuzzer or nightly.
//!
//! Seeds, read from `shared/fixtures` at run time: every JSON file under
//! `binance/nautilus/`, and lines of the three real captures (the first 300 of
//! each, which include the REST snapshot, and every 500th after that). Each seed
//! is checked as is, then truncated at many points, with bytes flipped, and with
//! JSON-significant characters inserted. The checks: no panic anywhere, and the
//! fast stream scanner agrees with the reference parser on every input.

use std::path::{Path, PathBuf};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use veloz_core::fixtures::fixture;
use veloz_exec::binance::capture::CaptureReader;

#[path = "../../../fuzz/fuzz_targets/checks.rs"]
mod checks;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
        let p = e.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

struct Seeds {
    json: Vec<(String, Vec<u8>)>,
    lines: Vec<(String, Vec<u8>)>,
}

fn seeds() -> Seeds {
    let root = fixture("binance/nautilus").unwrap();
    let mut files = Vec::new();
    json_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 100,
        "expected the nautilus fixtures, found {}",
        files.len()
    );
    let json = files
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
        .collect();
    let mut lines = Vec::new();
    for name in [
        "spot_btcusdt_20240808.gz",
        "usdm_btcusdt_20240808.gz",
        "cm_btcusd_perp_20240808.gz",
    ] {
        let mut r =
            CaptureReader::open(&[fixture(&format!("binance/hftbacktest/{name}")).unwrap()])
                .unwrap();
        let mut n = 0u64;
        let mut snapshots = 0;
        while let Some(l) = r.next_line().unwrap() {
            n += 1;
            if n <= 300 || n % 500 == 0 {
                snapshots += usize::from(l.is_snapshot());
                lines.push((format!("{name}:{n}"), l.json.as_bytes().to_vec()));
            }
        }
        assert_eq!(snapshots, 1, "{name}: the snapshot line is among the seeds");
    }
    Seeds { json, lines }
}

/// The seed itself, then deterministic mutations of it.
fn mutants(seed: &[u8], rng: &mut ChaCha8Rng, per_kind: usize) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec()];
    if seed.is_empty() {
        return out;
    }
    let len = seed.len();
    // Truncations: every prefix of the first 64 bytes, then spread points.
    for cut in (0..len.min(64)).chain((0..per_kind).map(|i| i * len / per_kind)) {
        out.push(seed[..cut].to_vec());
    }
    let pick = |rng: &mut ChaCha8Rng| (rng.next_u32() as usize) % len;
    for _ in 0..per_kind {
        let mut m = seed.to_vec();
        let i = pick(rng);
        m[i] ^= 1 << (rng.next_u32() % 8);
        out.push(m);
    }
    const SPECIAL: &[u8] = b"\"\\{}[],:-+.0e9 \x00\xff";
    for _ in 0..per_kind {
        let mut m = seed.to_vec();
        let i = pick(rng);
        let c = SPECIAL[(rng.next_u32() as usize) % SPECIAL.len()];
        if rng.next_u32() % 2 == 0 {
            m[i] = c;
        } else {
            m.insert(i, c);
        }
        out.push(m);
    }
    // Delete a random span.
    for _ in 0..per_kind / 4 {
        let mut m = seed.to_vec();
        let i = pick(rng);
        let j = (i + 1 + (rng.next_u32() as usize) % 16).min(len);
        m.drain(i..j);
        out.push(m);
    }
    out
}

#[test]
fn stream_and_user_data_checks_over_seeds_and_mutations() {
    let s = seeds();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5EED_0001);
    let mut inputs = 0usize;
    for (name, seed) in s.json.iter().chain(&s.lines) {
        // Big frames (the 1000-level snapshots) get fewer mutations.
        let per_kind = if seed.len() > 8192 { 4 } else { 24 };
        for m in mutants(seed, &mut rng, per_kind) {
            let r = std::panic::catch_unwind(|| {
                checks::stream_frame(&m);
                checks::user_data(&m);
            });
            assert!(
                r.is_ok(),
                "seed {name}: a mutant broke a check: {:?}",
                String::from_utf8_lossy(&m)
            );
            inputs += 1;
        }
    }
    assert!(inputs > 50_000, "only {inputs} inputs");
}

#[test]
fn rest_checks_over_seeds_and_mutations() {
    let s = seeds();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5EED_0002);
    for (name, seed) in s.json.iter().chain(
        s.lines
            .iter()
            .filter(|(_, l)| !l.starts_with(b"{\"stream\"")),
    ) {
        let per_kind = if seed.len() > 8192 { 4 } else { 16 };
        for m in mutants(seed, &mut rng, per_kind) {
            let r = std::panic::catch_unwind(|| checks::rest_response(&m));
            assert!(
                r.is_ok(),
                "seed {name}: a mutant broke a check: {:?}",
                String::from_utf8_lossy(&m)
            );
        }
    }
}

#[test]
fn the_checks_can_fail() {
    // A check that never fails proves nothing: the differential check must
    // catch a disagreement, which it does by panicking. Feed it a frame both
    // parsers accept and make sure the value is really compared (a valid
    // frame parses the same through both).
    let f = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":3,"p":"1.5","q":"2","m":true}}"#;
    checks::stream_frame(f);
    let src = veloz_exec::binance::stream::StreamSource::binance(veloz_core::MarketKind::Spot);
    let text = std::str::from_utf8(f).unwrap();
    let a = veloz_exec::binance::stream::parse_frame(&src, text, veloz_core::UnixNanos(1)).unwrap();
    let b =
        veloz_exec::binance::stream::parse_frame_reference(&src, text, veloz_core::UnixNanos(2))
            .unwrap();
    assert_ne!(a, b, "different receive times must make different values");
}
