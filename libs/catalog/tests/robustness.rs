//! Damaged input never panics: truncated and byte-flipped copies of every
//! layout (plain, gzip'd and zipped) either import or fail with an error.

use std::io::Write;
use std::path::Path;

use veloz_catalog::{open_source, SourceOptions};
use veloz_core::fixtures::fixture;

/// A small deterministic generator (no test randomness).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Imports `bytes` as `name`; returns whether it read without error.
fn try_import(dir: &Path, name: &str, bytes: &[u8]) -> bool {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    let ok = match open_source(&p, &SourceOptions::default()) {
        Ok(src) => src.into_iter().all(|r| r.is_ok()),
        Err(_) => false,
    };
    std::fs::remove_file(&p).unwrap();
    ok
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn mutate_all(dir: &Path, name: &str, good: &[u8], rng: &mut Lcg) {
    assert!(try_import(dir, name, good), "{name} should import");
    for i in 0..60 {
        let mut b = good.to_vec();
        match i % 3 {
            0 => b.truncate(rng.next() as usize % b.len()),
            1 => {
                for _ in 0..1 + rng.next() % 4 {
                    let at = rng.next() as usize % b.len();
                    b[at] = (rng.next() & 0xff) as u8;
                }
            }
            _ => {
                let at = rng.next() as usize % b.len();
                b.insert(
                    at,
                    [b',', b'\n', 0xff, b'-', b'.', b'"'][rng.next() as usize % 6],
                );
            }
        }
        let _ = try_import(dir, name, &b);
    }
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let dir = std::env::temp_dir().join(format!("veloz-catalog-rob-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Lcg(7);
    let texts: [(&str, &str); 8] = [
        ("usdm_btcusdt_1m_x.csv", "open_time,open,high,low,close,volume\n1746372780000,95505.4,95505.5,95502.7,95502.7,16.536\n1746372840000,95502.7,95510,95500.1,95509.9,20.1\n"),
        ("spot_btcusdt_1m_x.csv", "open,high,low,close,volume,quote_volume,trades,close_datetime\n96466.11,96495.52,96440.0,96440.0,6.6158,638250.2950308,3577,2024-12-01 00:00:59.999000+01:00\n"),
        ("usdm_btcusdt_funding_x.csv", "fundingTime,fundingRate\n1741276800000,0.00006818\n"),
        ("usdm_btcusdt_markprice_8h_x.csv", "open_time,open,high,low,close\n1741276800000,90776.94748889,91023.10873333,87808.72914815,89887.9\n"),
        ("BTCUSDT-aggTrades-2025-01-01.csv", "3346546576,93576.00000000,0.00010000,4359233150,4359233150,1735689600012345,True,True\n"),
        ("BTCUSDT-trades-2025-01-01.csv", "id,price,qty,quote_qty,time,is_buyer_maker\n4359233150,93576.0,0.0001,9.3576,1735689600012,false\n"),
        ("BTCUSDT-bookDepth-2024-01-01.csv", "timestamp,percentage,depth,notional\n2024-01-01 00:00:07,-5.00,3456.789,145678901.23456\n"),
        ("BTCUSDT-fundingRate-2024-01.csv", "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.00037409\n"),
    ];
    for (name, text) in texts {
        mutate_all(&dir, name, text.as_bytes(), &mut rng);
        mutate_all(
            &dir,
            &format!("{name}.gz"),
            &gzip(text.as_bytes()),
            &mut rng,
        );
    }
    // The first 200 lines of a real capture, plain and gzip'd.
    let cap = fixture("binance/hftbacktest/usdm_btcusdt_20240808.gz").unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(cap).unwrap()),
        &mut text,
    )
    .unwrap();
    let head: String = text.lines().take(200).flat_map(|l| [l, "\n"]).collect();
    mutate_all(&dir, "usdm_btcusdt_cap.txt", head.as_bytes(), &mut rng);
    mutate_all(
        &dir,
        "usdm_btcusdt_cap.gz",
        &gzip(head.as_bytes()),
        &mut rng,
    );
    // A real data.binance.vision zip; a flipped byte in the deflate data is
    // always caught (deflate error or CRC mismatch), never read as rows.
    let zip = std::fs::read(
        fixture("binance/market/binance_vision_spot_daily_klines_1m/BTCUSDT-1m-2020-01-01.zip")
            .unwrap(),
    )
    .unwrap();
    mutate_all(&dir, "spot-BTCUSDT-1m-2020-01-01.zip", &zip, &mut rng);
    for at in [200, 5_000, 30_000, 60_000] {
        let mut b = zip.clone();
        b[at] ^= 0x10;
        assert!(
            !try_import(&dir, "BTCUSDT-1m-2020-01-01.zip", &b),
            "flip at {at} went unnoticed"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
