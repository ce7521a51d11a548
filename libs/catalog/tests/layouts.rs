//! data.binance.vision layouts (aggTrades, trades, fundingRate, bookDepth,
//! klines in µs), with and without header rows, written by the test; the
//! exact table writer; and error messages on bad input.

use std::io::Write;
use std::path::{Path, PathBuf};

use veloz_catalog::{
    open_source, Catalog, CatalogError, ColumnType, Layout, Query, Record, SourceOptions, Table,
    TableWriter, Value, WriteOptions,
};
use veloz_core::events::MarketEvent;
use veloz_core::{AggressorSide, MarketKind, Price, Quantity, UnixNanos};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("veloz-catalog-lay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

fn all(p: &Path) -> Vec<Record> {
    open_source(p, &SourceOptions::default())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn agg_trades_with_and_without_header() {
    let d = temp_dir("agg");
    // Futures (USD-M) file, with header, ms.
    let fut = write(
        &d,
        "futures/um/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-08-08.csv",
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n\
         2232537765,56500.10,0.004,5117458870,5117458871,1723075200036,true\n\
         2232537766,56500.20,0.150,5117458872,5117458872,1723075200101,false\n",
    );
    let src = open_source(&fut, &SourceOptions::default()).unwrap();
    assert_eq!(src.info().layout, Layout::VisionAggTrades);
    assert_eq!(src.info().instrument.to_string(), "BINANCE.USDM.BTCUSDT");
    let r = all(&fut);
    assert_eq!(r.len(), 2);
    let Record::AggTrade(a) = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(a.trade.trade_id.0, 2_232_537_765);
    assert_eq!(
        (a.first_trade_id.0, a.last_trade_id.0),
        (5_117_458_870, 5_117_458_871)
    );
    assert_eq!(a.trade.price, Price::parse("56500.10").unwrap());
    assert_eq!(a.trade.qty, Quantity::parse("0.004").unwrap());
    assert_eq!(a.trade.aggressor, AggressorSide::Seller);
    assert_eq!(
        a.trade.times.exchange,
        UnixNanos::from_millis(1_723_075_200_036)
    );
    // Spot file, no header, 8 columns, µs timestamps (2025+).
    let spot = write(
        &d,
        "spot/BTCUSDT-aggTrades-2025-01-01.csv",
        "3346546576,93576.00000000,0.00010000,4359233150,4359233150,1735689600012345,True,True\n",
    );
    let r = all(&spot);
    let Record::AggTrade(a) = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(a.trade.instrument.kind, MarketKind::Spot);
    assert_eq!(
        a.trade.times.exchange,
        UnixNanos::from_micros(1_735_689_600_012_345)
    );
    // Round trip through the catalog keeps the aggregate ids.
    let cat = Catalog::open(d.join("cat")).unwrap();
    cat.write(
        open_source(&fut, &SourceOptions::default()).unwrap(),
        &WriteOptions::default(),
    )
    .unwrap();
    let back: Vec<Record> = cat
        .read_records(&Query::default())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, all(&fut));
}

#[test]
fn trades_funding_book_depth_and_micro_klines() {
    let d = temp_dir("misc");
    let trades = write(
        &d,
        "BTCUSDT-trades-2025-01-01.csv",
        "4359233150,93576.00000000,0.00010000,9.35760000,1735689600012345,False,True\n",
    );
    let r = all(&trades);
    let Record::Event(MarketEvent::Trade(t)) = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(t.trade_id.0, 4_359_233_150);
    assert_eq!(t.aggressor, AggressorSide::Buyer);
    assert_eq!(t.instrument.to_string(), "BINANCE.SPOT.BTCUSDT");

    let funding = write(
        &d,
        "BTCUSDT-fundingRate-2024-01.csv",
        "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.00037409\n",
    );
    let r = all(&funding);
    let Record::Funding(f) = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(f.interval_hours, Some(8));
    assert_eq!(f.rate, Price::parse("0.00037409").unwrap());
    assert_eq!(f.instrument.kind, MarketKind::UsdM);

    let depth = write(
        &d,
        "BTCUSDT-bookDepth-2024-01-01.csv",
        "timestamp,percentage,depth,notional\n2024-01-01 00:00:07,-5.00,3456.789,145678901.23456\n2024-01-01 00:00:07,1.00,12.5,530000.5\n",
    );
    let r = all(&depth);
    assert_eq!(r.len(), 2);
    let Record::BookDepth(b) = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(b.percentage, -500_000_000);
    assert_eq!(b.depth, 345_678_900_000);
    assert_eq!(b.notional, 14_567_890_123_456_000);
    assert_eq!(b.times.exchange, UnixNanos::from_secs(1_704_067_207));
    // bookDepth is not a market event, but is stored and read back exactly.
    let cat = Catalog::open(d.join("cat")).unwrap();
    cat.write(
        open_source(&depth, &SourceOptions::default()).unwrap(),
        &WriteOptions::default(),
    )
    .unwrap();
    assert_eq!(cat.read(&Query::default()).unwrap().count(), 0);
    let back: Vec<Record> = cat
        .read_records(&Query {
            tables: vec![Table::BookDepth],
            ..Query::default()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, r);

    // Spot klines from 2025 are in microseconds.
    let k = write(
        &d,
        "BTCUSDT-1m-2025-01-01.csv",
        "1735689600000000,93576.00,93610.93,93537.50,93610.93,8.21827000,1735689659999999,768978.67,1355,5.48,513000.1,0\n",
    );
    let r = all(&k);
    let Record::Event(MarketEvent::Bar(b)) = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(b.interval_secs, 60);
    assert_eq!(b.open_time, UnixNanos::from_secs(1_735_689_600));
    assert_eq!(
        b.times.exchange,
        UnixNanos::from_micros(1_735_689_659_999_999)
    );
}

#[test]
fn errors_name_the_file_and_line_and_say_what_to_do() {
    let d = temp_dir("err");
    let bad = write(
        &d,
        "usdm_btcusdt_funding_x.csv",
        "fundingTime,fundingRate\n1741276800000,0.00006818\n1741305600000,1e-5\n",
    );
    let mut src = open_source(&bad, &SourceOptions::default()).unwrap();
    assert!(src.next().unwrap().is_ok());
    let e = src.next().unwrap().unwrap_err();
    assert!(matches!(e, CatalogError::BadRow { line: 3, .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("usdm_btcusdt_funding_x.csv") && msg.contains("1e-5"),
        "{msg}"
    );
    assert!(src.next().is_none(), "a source stops after its first error");

    let unknown = write(&d, "prices.csv", "when,price\n1,2\n");
    let e = open_source(&unknown, &SourceOptions::default()).unwrap_err();
    assert!(e.to_string().contains("supported layouts"), "{e}");

    let short = write(
        &d,
        "usdm_btcusdt_1m_short.csv",
        "open_time,open,high,low,close,volume\n1,2,3\n",
    );
    let e = open_source(&short, &SourceOptions::default())
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().contains("3 columns"), "{e}");

    let no_interval = write(
        &d,
        "usdm_btcusdt_bars.csv",
        "open_time,open,high,low,close,volume\n",
    );
    let e = open_source(&no_interval, &SourceOptions::default()).unwrap_err();
    assert!(e.to_string().contains("interval"), "{e}");

    let no_symbol = write(
        &d,
        "klines.csv",
        "1577836800000,1,1,1,1,1,1577836859999,1,1,1,1,0\n",
    );
    let e = open_source(&no_symbol, &SourceOptions::default()).unwrap_err();
    assert!(matches!(e, CatalogError::NoInstrument { .. }), "{e}");
    let ok = open_source(
        &no_symbol,
        &SourceOptions {
            instrument: Some("BINANCE.SPOT.BTCUSDT".parse().unwrap()),
            ..SourceOptions::default()
        },
    )
    .unwrap();
    assert_eq!(ok.count(), 1);

    // A corrupt zip names the archive.
    let zip = write(&d, "BTCUSDT-1m-2020-01-01.zip", "PK\u{3}\u{4}garbage");
    let e = open_source(&zip, &SourceOptions::default()).unwrap_err();
    assert!(matches!(e, CatalogError::Zip { .. }), "{e}");
    assert!(open_source(&d.join("missing.csv"), &SourceOptions::default()).is_err());
}

#[test]
fn table_writer_writes_exact_parquet_and_csv() {
    let d = temp_dir("tw");
    let mut w = TableWriter::create(
        &d,
        "fills",
        &[
            ("time", ColumnType::Timestamp),
            ("id", ColumnType::I64),
            ("price", ColumnType::Decimal),
            ("note", ColumnType::Utf8),
            ("maker", ColumnType::Bool),
        ],
    )
    .unwrap();
    w.write_row(&[
        Value::Timestamp(UnixNanos(1_723_161_254_206_652_067)),
        Value::I64(-7),
        Value::Decimal(6_173_763_000_001),
        Value::Utf8("a, \"b\""),
        Value::Bool(true),
    ])
    .unwrap();
    w.write_row(&[
        Value::Null,
        Value::I64(1),
        Value::Null,
        Value::Null,
        Value::Bool(false),
    ])
    .unwrap();
    assert!(w.write_row(&[Value::I64(1)]).is_err());
    assert!(w
        .write_row(&[
            Value::I64(1),
            Value::I64(1),
            Value::Null,
            Value::Null,
            Value::Null
        ])
        .is_err());
    let (pq, csv) = w.finish().unwrap();
    let text = std::fs::read_to_string(csv).unwrap();
    assert_eq!(
        text,
        "time,id,price,note,maker\n\
         2024-08-08T23:54:14.206652067Z,-7,61737.63000001,\"a, \"\"b\"\"\",true\n\
         ,1,,,false\n"
    );
    // The Parquet side holds the same exact values.
    use arrow_array::{Array, Decimal128Array, TimestampNanosecondArray};
    let f = std::fs::File::open(pq).unwrap();
    let mut r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let b = r.next().unwrap().unwrap();
    assert_eq!(b.num_rows(), 2);
    let t = b
        .column(0)
        .as_any()
        .downcast_ref::<TimestampNanosecondArray>()
        .unwrap();
    assert_eq!(t.value(0), 1_723_161_254_206_652_067);
    assert!(t.is_null(1));
    let p = b
        .column(2)
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!((p.precision(), p.scale()), (38, 8));
    assert_eq!(p.value(0), 6_173_763_000_001);
}
