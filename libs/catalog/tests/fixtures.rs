//! Imports every real fixture (shared/fixtures/binance) and checks row counts and
//! first/last rows against the fixtures' README; round-trips the captures and the
//! market files through a catalog. Missing fixtures fail the tests.

use std::path::{Path, PathBuf};

use veloz_catalog::{
    open_source, Catalog, Layout, LocalClock, Query, Record, SourceOptions, Table, WriteOptions,
};
use veloz_core::events::{Bar, MarketEvent};
use veloz_core::fixtures::fixture;
use veloz_core::{InstrumentId, Price, Quantity, UnixNanos};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("veloz-catalog-fx-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn market(name: &str) -> PathBuf {
    fixture(&format!("binance/market/{name}")).unwrap()
}

fn records(path: &Path) -> Vec<Record> {
    open_source(path, &SourceOptions::default())
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn bars(path: &Path) -> Vec<Bar> {
    records(path)
        .into_iter()
        .map(|r| match r {
            Record::Event(MarketEvent::Bar(b)) => b,
            other => panic!("not a bar: {other:?}"),
        })
        .collect()
}

fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}

fn check_bar(b: &Bar, open_ms: u64, ohlcv: [&str; 5]) {
    assert_eq!(b.open_time, UnixNanos::from_millis(open_ms));
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.volume),
        (
            p(ohlcv[0]),
            p(ohlcv[1]),
            p(ohlcv[2]),
            p(ohlcv[3]),
            q(ohlcv[4])
        )
    );
    assert!(b.closed);
    // Close time = open + interval - 1 ms; no receive time in a file.
    let close = UnixNanos::from_millis(open_ms + u64::from(b.interval_secs) * 1000 - 1);
    assert_eq!(b.times.exchange, close);
    assert_eq!(b.times.local, close);
}

#[test]
fn usdm_1m_bars_match_the_readme() {
    let path = market("usdm_btcusdt_1m_20250504_20250603.csv.gz");
    let src = open_source(&path, &SourceOptions::default()).unwrap();
    assert_eq!(src.info().layout, Layout::Bars);
    assert_eq!(src.info().instrument.to_string(), "BINANCE.USDM.BTCUSDT");
    assert_eq!(src.info().local_clock, LocalClock::Exchange);
    let b = bars(&path);
    assert_eq!(b.len(), 43_199);
    assert!(b.iter().all(|x| x.interval_secs == 60));
    check_bar(
        &b[0],
        1_746_372_780_000,
        ["95505.4", "95505.5", "95502.7", "95502.7", "16.536"],
    );
    check_bar(
        &b[b.len() - 1],
        1_748_964_660_000,
        ["106687.9", "106695.3", "106580.1", "106588.4", "261.189"],
    );
    // Every step is exactly one minute.
    assert!(b
        .windows(2)
        .all(|w| w[1].open_time.as_nanos() - w[0].open_time.as_nanos() == 60_000_000_000));

    let e = bars(&market("usdm_ethusdt_1m_20250504_20250615.csv.gz"));
    assert_eq!(e.len(), 60_191);
    assert_eq!(e[0].instrument.to_string(), "BINANCE.USDM.ETHUSDT");
    check_bar(
        &e[0],
        1_746_372_780_000,
        ["1827.29", "1827.68", "1827.27", "1827.53", "763.561"],
    );
    check_bar(
        &e[e.len() - 1],
        1_749_984_180_000,
        ["2517.44", "2518.18", "2517.23", "2518.18", "1248.976"],
    );
}

#[test]
fn spot_close_datetime_bars_match_the_readme() {
    let b = bars(&market("spot_btcusdt_1m_20241130_20241229.csv.gz"));
    assert_eq!(b.len(), 41_761);
    assert_eq!(b[0].instrument.to_string(), "BINANCE.SPOT.BTCUSDT");
    // Closes 2024-12-01 00:00:59.999+01:00 = 2024-11-30 23:00:59.999 UTC.
    check_bar(
        &b[0],
        1_733_007_600_000,
        ["96466.11", "96495.52", "96440.0", "96440.0", "6.6158"],
    );
    // Last row closes 2024-12-30 00:00:59.999+01:00 = 2024-12-29 23:00:59.999 UTC.
    assert_eq!(
        b[b.len() - 1].times.exchange,
        UnixNanos::from_millis(1_735_513_259_999)
    );
    // The record high of 2024-12-17 14:57 UTC.
    let high = b.iter().max_by_key(|x| x.high).unwrap();
    assert_eq!(high.high, p("108353.00"));
    assert_eq!(high.open_time, UnixNanos::from_millis(1_734_447_420_000));

    let m15 = bars(&market("spot_btcusdt_15m_2024.csv.gz"));
    assert_eq!(m15.len(), 34_945);
    assert!(m15.iter().all(|x| x.interval_secs == 900));
    // Closes 2024-01-01 00:14:59.999+01:00 = 2023-12-31 23:14:59.999 UTC.
    assert_eq!(m15[0].open_time, UnixNanos::from_millis(1_704_063_600_000));
    assert_eq!(m15[0].open, p("42257.89"));
    assert_eq!(
        m15[0].times.exchange,
        UnixNanos::from_millis(1_704_064_499_999)
    );
    let last = &m15[m15.len() - 1];
    assert_eq!(last.open, p("93135.32"));
    assert_eq!(
        last.times.exchange,
        UnixNanos::from_millis(1_735_514_099_999)
    );
}

#[test]
fn funding_and_mark_price_files_match_the_readme() {
    for (sym, n, first, last) in [
        (
            "btcusdt",
            266,
            (1_741_276_800_000u64, "0.00006818"),
            (1_748_908_800_000u64, "0.00005005"),
        ),
        (
            "ethusdt",
            302,
            (1_741_276_800_000, "0.00002685"),
            (1_749_945_600_005, "0.00001767"),
        ),
    ] {
        let range = if sym == "btcusdt" {
            "20250306_20250603"
        } else {
            "20250306_20250615"
        };
        let f: Vec<_> = records(&market(&format!("usdm_{sym}_funding_{range}.csv.gz")))
            .into_iter()
            .map(|r| match r {
                Record::Funding(f) => f,
                other => panic!("not funding: {other:?}"),
            })
            .collect();
        assert_eq!(f.len(), n);
        assert_eq!(f[0].instrument.symbol.as_str(), sym.to_uppercase());
        assert_eq!(
            (f[0].times.exchange, f[0].rate),
            (UnixNanos::from_millis(first.0), p(first.1))
        );
        assert_eq!(
            (f[n - 1].times.exchange, f[n - 1].rate),
            (UnixNanos::from_millis(last.0), p(last.1))
        );
        assert!(f
            .iter()
            .all(|x| x.mark.is_none() && x.interval_hours.is_none()));

        let m = records(&market(&format!("usdm_{sym}_markprice_8h_{range}.csv.gz")));
        assert_eq!(m.len(), n);
        let Record::Event(MarketEvent::MarkPrice(m0)) = &m[0] else {
            panic!("not a mark price: {:?}", m[0])
        };
        assert_eq!(m0.times.exchange, UnixNanos::from_millis(1_741_276_800_000));
        let want = if sym == "btcusdt" {
            "90776.94748889"
        } else {
            "2256.59895238"
        };
        assert_eq!(m0.mark, p(want));
    }
    // Without the mark-price file, funding rows are not market events.
    let src = open_source(
        &market("usdm_btcusdt_funding_20250306_20250603.csv.gz"),
        &SourceOptions::default(),
    )
    .unwrap();
    assert_eq!(src.events().count(), 0);
}

#[test]
fn binance_vision_zips_parse_1440_rows_each() {
    for day in 1..=3u64 {
        let path = market(&format!(
            "binance_vision_spot_daily_klines_1m/BTCUSDT-1m-2020-01-0{day}.zip"
        ));
        let src = open_source(&path, &SourceOptions::default()).unwrap();
        assert_eq!(src.info().layout, Layout::VisionKlines);
        assert_eq!(src.info().instrument.to_string(), "BINANCE.SPOT.BTCUSDT");
        let b = bars(&path);
        assert_eq!(b.len(), 1440);
        let day_start = 1_577_836_800_000 + (day - 1) * 86_400_000;
        for (i, x) in b.iter().enumerate() {
            assert_eq!(x.interval_secs, 60);
            assert_eq!(
                x.open_time,
                UnixNanos::from_millis(day_start + i as u64 * 60_000)
            );
            assert_eq!(
                x.times.exchange,
                UnixNanos::from_millis(day_start + i as u64 * 60_000 + 59_999)
            );
        }
        if day == 1 {
            check_bar(
                &b[0],
                1_577_836_800_000,
                [
                    "7195.24000000",
                    "7196.25000000",
                    "7183.14000000",
                    "7186.68000000",
                    "51.64281200",
                ],
            );
        }
    }
}

#[test]
fn market_files_round_trip_through_the_catalog_and_funding_gets_its_mark() {
    let dir = temp_dir("market");
    let cat = Catalog::open(&dir).unwrap();
    let files = [
        "usdm_btcusdt_1m_20250504_20250603.csv.gz",
        "usdm_btcusdt_funding_20250306_20250603.csv.gz",
        "usdm_btcusdt_markprice_8h_20250306_20250603.csv.gz",
    ];
    let mut all = Vec::new();
    for f in files {
        let path = market(f);
        all.extend(records(&path));
        let s = cat
            .write(
                open_source(&path, &SourceOptions::default()).unwrap(),
                &WriteOptions::default(),
            )
            .unwrap();
        assert_eq!(s.tables.len(), 1);
    }
    let btc: InstrumentId = "BINANCE.USDM.BTCUSDT".parse().unwrap();
    // Every table read back alone gives the source rows exactly.
    for table in [Table::Bars, Table::Funding, Table::MarkPrice] {
        let want: Vec<&Record> = all.iter().filter(|r| r.table() == table).collect();
        let got: Vec<Record> = cat
            .read_records(&Query {
                instruments: vec![btc],
                tables: vec![table],
                ..Query::default()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got.len(), want.len());
        assert!(
            got.iter().zip(&want).all(|(a, b)| a == *b),
            "{table} differs"
        );
    }
    // Market events: every funding row finds the 8h mark at its time.
    let mut events = cat.read(&Query::default()).unwrap();
    let mut funding = Vec::new();
    let mut n = 0;
    let mut prev = UnixNanos::ZERO;
    for e in events.by_ref() {
        let e = e.unwrap();
        assert!(e.times().local >= prev, "not in time order");
        prev = e.times().local;
        n += 1;
        if let MarketEvent::MarkPrice(m) = e {
            if m.funding_rate.is_some() {
                funding.push(m);
            }
        }
    }
    assert_eq!(events.funding_without_mark(), 0);
    assert_eq!(n, 43_199 + 266 + 266);
    assert_eq!(funding.len(), 266);
    assert_eq!(funding[0].mark, p("90776.94748889"));
    assert_eq!(funding[0].funding_rate, Some(p("0.00006818")));
    // A time window.
    let window: Vec<_> = cat
        .read(&Query {
            tables: vec![Table::Bars],
            start: Some(UnixNanos::from_millis(1_746_372_839_999)),
            end: Some(UnixNanos::from_millis(1_746_372_839_999 + 600_000)),
            ..Query::default()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(window.len(), 10);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn captures_round_trip_exactly() {
    for (name, kind) in [
        ("spot_btcusdt_20240808.gz", "BINANCE.SPOT.BTCUSDT"),
        ("usdm_btcusdt_20240808.gz", "BINANCE.USDM.BTCUSDT"),
        ("cm_btcusd_perp_20240808.gz", "BINANCE.COINM.BTCUSD_PERP"),
    ] {
        let path = fixture(&format!("binance/hftbacktest/{name}")).unwrap();
        let src = open_source(&path, &SourceOptions::default()).unwrap();
        assert_eq!(src.info().layout, Layout::Capture);
        assert_eq!(src.info().instrument.to_string(), kind);
        assert_eq!(src.info().local_clock, LocalClock::Received);
        let want = records(&path);
        let count = |t: Table| want.iter().filter(|r| r.table() == t).count();
        let (book, quotes, trades) = (
            count(Table::Book),
            count(Table::Quotes),
            count(Table::Trades),
        );
        // Line counts from the fixtures README (depth frames + 1 snapshot).
        let expected = match name {
            "spot_btcusdt_20240808.gz" => (3_451 + 1, 28_040, 9_757),
            "usdm_btcusdt_20240808.gz" => (6_551 + 1, 66_089, 21_313),
            _ => (26_847 + 1, 19_136, 2_286),
        };
        assert_eq!((book, quotes, trades), expected, "{name}");
        assert!(want.iter().all(|r| r.instrument().to_string() == kind));
        assert_eq!(
            want.iter()
                .filter(|r| matches!(r, Record::Event(MarketEvent::BookSnapshot(_))))
                .count(),
            1
        );

        let dir = temp_dir(name);
        let cat = Catalog::open(&dir).unwrap();
        let opts = WriteOptions {
            local_clock: LocalClock::Received,
            row_group_rows: 20_000,
            ..WriteOptions::default()
        };
        let summary = cat
            .write(
                open_source(&path, &SourceOptions::default()).unwrap(),
                &opts,
            )
            .unwrap();
        assert_eq!(summary.records(), want.len() as u64);
        let got: Vec<Record> = cat
            .read_records(&Query::default())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a, b, "{name}: record {i} differs");
        }
        // And as market events.
        let events: Vec<MarketEvent> = cat
            .read(&Query::default())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let src_events: Vec<MarketEvent> = open_source(&path, &SourceOptions::default())
            .unwrap()
            .events()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(events, src_events);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn daily_files_chain_into_one_lane_and_windows_prune() {
    let dir = temp_dir("daily");
    let cat = Catalog::open(&dir).unwrap();
    let day = |d: u32| {
        market(&format!(
            "binance_vision_spot_daily_klines_1m/BTCUSDT-1m-2020-01-0{d}.zip"
        ))
    };
    // Imported out of order: three parts that do not overlap.
    for d in [3, 1, 2] {
        cat.write(
            open_source(&day(d), &SourceOptions::default()).unwrap(),
            &WriteOptions::default(),
        )
        .unwrap();
    }
    let read = |q: &Query| -> (usize, Vec<UnixNanos>) {
        let r = cat.read_records(q).unwrap();
        let lanes = r.lane_count();
        (lanes, r.map(|x| x.unwrap().times().local).collect())
    };
    let (lanes, times) = read(&Query::default());
    assert_eq!(lanes, 1);
    assert_eq!(times.len(), 3 * 1440);
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    // The same day again overlaps: a second lane, still one sorted stream.
    cat.write(
        open_source(&day(2), &SourceOptions::default()).unwrap(),
        &WriteOptions::default(),
    )
    .unwrap();
    let (lanes, times) = read(&Query::default());
    assert_eq!(lanes, 2);
    assert_eq!(times.len(), 4 * 1440);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    // A window inside day 3 opens only day 3's part.
    let start = UnixNanos::from_millis(1_578_009_600_000 + 59_999);
    let (lanes, times) = read(&Query {
        start: Some(start),
        end: Some(start.add_nanos(30 * 60_000_000_000)),
        ..Query::default()
    });
    assert_eq!(lanes, 1);
    assert_eq!(times.len(), 30);
    // Listing a table or instrument twice does not duplicate rows.
    let btc: veloz_core::InstrumentId = "BINANCE.SPOT.BTCUSDT".parse().unwrap();
    let (_, twice) = read(&Query {
        instruments: vec![btc, btc],
        tables: vec![Table::Bars, Table::Bars],
        start: Some(start),
        end: Some(start.add_nanos(30 * 60_000_000_000)),
    });
    assert_eq!(twice, times);
    assert_eq!(times[0], start);
    let _ = std::fs::remove_dir_all(&dir);
}
