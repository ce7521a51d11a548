//! Every market-data JSON fixture under `shared/fixtures/binance/nautilus/`
//! through the stream parser, with every field the parser reads checked against
//! the fixture's own value (so a wrong field name, a lost decimal place or a
//! missed field fails), plus a walk over *every* JSON file in that folder that
//! fails when a file is not classified here.
//!
//! Fixture provenance (fixtures README §3): these are Binance documentation
//! examples (DOCS) and a few derived variants, plus real captures where noted.

use std::path::{Path, PathBuf};

use veloz_core::events::{BookDeltas, EventTimes};
use veloz_core::fixtures::fixture;
use veloz_core::{AggressorSide, InstrumentId, MarketKind, Side, TradeId, UnixNanos};
use veloz_exec::binance::stream::{
    parse_depth_snapshot, parse_frame, parse_frame_reference, StreamMessage, StreamSource,
};
use veloz_exec::binance::user_data::parse_user_data;

const LOCAL: UnixNanos = UnixNanos(1_000_000_007);
const SPOT: StreamSource = StreamSource::binance(MarketKind::Spot);
const USDM: StreamSource = StreamSource::binance(MarketKind::UsdM);

fn read(rel: &str) -> String {
    let p = fixture(&format!("binance/nautilus/{rel}")).unwrap();
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"))
}

/// Parses with the public entry point and checks the reference parser agrees.
fn parse(src: &StreamSource, rel: &str) -> StreamMessage {
    let text = read(rel);
    let m = parse_frame(src, &text, LOCAL).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let r = parse_frame_reference(src, &text, LOCAL).unwrap();
    assert_eq!(m, r, "{rel}: fast and reference parsers differ");
    m
}

fn ms(t: u64) -> EventTimes {
    EventTimes::new(UnixNanos::from_millis(t), LOCAL)
}

fn levels(d: &BookDeltas, side: Side) -> Vec<(String, String)> {
    d.deltas
        .iter()
        .filter(|x| x.side == side)
        .map(|x| (x.level.price.to_string(), x.level.qty.to_string()))
        .collect()
}

fn pair(p: &str, q: &str) -> (String, String) {
    (p.to_string(), q.to_string())
}

#[test]
fn futures_depth_update_docs_examples() {
    for rel in [
        "crate_test_data/futures/market_data_json/depth_update_stream.json",
        "integration_resources/ws_messages/ws_futures_depth_diff_update.json",
    ] {
        let StreamMessage::Depth(d) = parse(&USDM, rel) else {
            panic!("{rel}: not a depth update")
        };
        assert_eq!(d.instrument.to_string(), "BINANCE.USDM.BTCUSDT");
        assert_eq!(d.first_update_id, 157);
        assert_eq!(d.last_update_id, 160);
        assert_eq!(d.prev_last_update_id, Some(149));
        assert_eq!(d.times, ms(123456788), "T wins over E");
        assert_eq!(levels(&d, Side::Buy), [pair("0.0024", "10")]);
        assert_eq!(levels(&d, Side::Sell), [pair("0.0026", "100")]);
    }
    // The docs' partial-depth example without a stream name reads as a diff.
    let StreamMessage::Depth(d) = parse(
        &USDM,
        "integration_resources/ws_messages/ws_futures_depth_update.json",
    ) else {
        panic!("not a depth update")
    };
    assert_eq!(
        (d.first_update_id, d.last_update_id, d.prev_last_update_id),
        (390497796, 390497878, Some(390497794))
    );
    assert_eq!(
        levels(&d, Side::Buy),
        [
            pair("7403.89", "0.002"),
            pair("7403.90", "3.906"),
            pair("7404.00", "1.428"),
            pair("7404.85", "5.239"),
            pair("7405.43", "2.562")
        ]
    );
    assert_eq!(
        levels(&d, Side::Sell),
        [
            pair("7405.96", "3.340"),
            pair("7406.63", "4.525"),
            pair("7407.08", "2.475"),
            pair("7407.15", "4.800"),
            pair("7407.20", "0.175")
        ]
    );
    assert_eq!(d.times, ms(1571889248276));
    // The same body under a partial-depth stream name is a top-N snapshot.
    let body = read("integration_resources/ws_messages/ws_futures_depth_update.json");
    let framed = format!(r#"{{"stream":"btcusdt@depth5@100ms","data":{body}}}"#);
    let StreamMessage::PartialDepth(s) = parse_frame(&USDM, &framed, LOCAL).unwrap() else {
        panic!("not a partial depth")
    };
    assert_eq!(s.last_update_id, 390497878);
    assert_eq!(s.bids.len(), 5);
    assert_eq!(s.asks[0].price.to_string(), "7405.96");
}

#[test]
fn futures_book_ticker_docs_examples() {
    for rel in [
        "crate_test_data/futures/market_data_json/book_ticker_stream.json",
        "integration_resources/ws_messages/ws_futures_book_ticker.json",
    ] {
        let StreamMessage::BookTicker(q) = parse(&USDM, rel) else {
            panic!("{rel}: not a bookTicker")
        };
        assert_eq!(q.instrument.to_string(), "BINANCE.USDM.BNBUSDT");
        assert_eq!(q.update_id, Some(400900217));
        assert_eq!(q.bid.price.to_string(), "25.35190000");
        assert_eq!(q.bid.qty.to_string(), "31.21000000");
        assert_eq!(q.ask.price.to_string(), "25.36520000");
        assert_eq!(q.ask.qty.to_string(), "40.66000000");
        assert_eq!(q.times, ms(1568014460891));
    }
}

#[test]
fn trades_and_agg_trades() {
    let StreamMessage::Trade(t) = parse(
        &USDM,
        "crate_test_data/futures/market_data_json/trade_stream.json",
    ) else {
        panic!("not a trade")
    };
    assert_eq!(t.trade_id, TradeId(5933014));
    assert_eq!(
        (t.price.to_string(), t.qty.to_string()),
        ("0.001".into(), "100".into())
    );
    assert_eq!(t.aggressor, AggressorSide::Seller, "m=true: buyer is maker");
    assert_eq!(t.times, ms(123456785));

    // Real 2021 spot trade, old format with buyer/seller order ids `b`/`a`.
    let StreamMessage::Trade(t) = parse(
        &SPOT,
        "integration_resources/ws_messages/ws_spot_trade.json",
    ) else {
        panic!("not a trade")
    };
    assert_eq!(t.instrument.to_string(), "BINANCE.SPOT.ETHUSDT");
    assert_eq!(t.trade_id, TradeId(705291099));
    assert_eq!(t.price.to_string(), "4149.74000000");
    assert_eq!(t.qty.to_string(), "0.43870000");
    assert_eq!(t.aggressor, AggressorSide::Seller);
    assert_eq!(t.times, ms(1639351062243));

    let StreamMessage::AggTrade(a) = parse(
        &USDM,
        "crate_test_data/futures/market_data_json/agg_trade_stream.json",
    ) else {
        panic!("not an aggTrade")
    };
    assert_eq!(a.trade.trade_id, TradeId(5933014));
    assert_eq!(
        (a.first_trade_id, a.last_trade_id),
        (TradeId(100), TradeId(105))
    );
    assert_eq!(a.trade.price.to_string(), "0.001");
    assert_eq!(a.trade.qty.to_string(), "100");
    assert_eq!(a.trade.aggressor, AggressorSide::Seller);
    assert_eq!(a.trade.times, ms(123456785));

    let StreamMessage::AggTrade(a) = parse(
        &SPOT,
        "integration_resources/ws_messages/ws_spot_agg_trade.json",
    ) else {
        panic!("not an aggTrade")
    };
    assert_eq!(a.trade.instrument.to_string(), "BINANCE.SPOT.ETHUSDT");
    assert_eq!(a.trade.trade_id, TradeId(226532));
    assert_eq!(
        (a.first_trade_id, a.last_trade_id),
        (TradeId(228423), TradeId(228423))
    );
    assert_eq!(a.trade.price.to_string(), "1632.46000000");
    assert_eq!(a.trade.qty.to_string(), "0.34305000");
    assert_eq!(a.trade.aggressor, AggressorSide::Buyer);
    assert_eq!(a.trade.times, ms(1675759520847));
}

#[test]
fn klines_open_and_closed() {
    for (rel, closed, low) in [
        (
            "crate_test_data/futures/market_data_json/kline_stream_closed.json",
            true,
            "0.0010",
        ),
        (
            "crate_test_data/futures/market_data_json/kline_stream_open.json",
            false,
            "0.0015",
        ),
    ] {
        let StreamMessage::Bar(b) = parse(&USDM, rel) else {
            panic!("{rel}: not a bar")
        };
        assert_eq!(b.instrument.to_string(), "BINANCE.USDM.BTCUSDT");
        assert_eq!(b.interval_secs, 60);
        assert_eq!(b.open_time, UnixNanos::from_millis(1638747660000));
        assert_eq!(b.open.to_string(), "0.0010");
        assert_eq!(b.high.to_string(), "0.0025");
        assert_eq!(b.low.to_string(), low);
        assert_eq!(b.close.to_string(), "0.0020");
        assert_eq!(b.volume.to_string(), "1000");
        assert_eq!(b.closed, closed);
        // Closed: stamped at the close boundary (T + 1 ms); open: at the event time.
        let exchange = if closed { 1638747720000 } else { 1638747660000 };
        assert_eq!(b.times, ms(exchange));
    }
}

#[test]
fn mark_price_and_liquidation() {
    let StreamMessage::MarkPrice(m) = parse(
        &USDM,
        "crate_test_data/futures/market_data_json/mark_price_stream.json",
    ) else {
        panic!("not a mark price")
    };
    assert_eq!(m.instrument.to_string(), "BINANCE.USDM.BTCUSDT");
    assert_eq!(m.mark.to_string(), "11794.15000000");
    assert_eq!(
        m.index.map(|p| p.to_string()).as_deref(),
        Some("11784.62659091")
    );
    assert_eq!(
        m.funding_rate.map(|p| p.to_string()).as_deref(),
        Some("0.00038167")
    );
    assert_eq!(
        m.next_funding_time,
        Some(UnixNanos::from_millis(1562306400000))
    );
    assert_eq!(m.times, ms(1562305380000));

    let StreamMessage::Liquidation(l) = parse(
        &USDM,
        "crate_test_data/futures/market_data_json/liquidation_stream.json",
    ) else {
        panic!("not a liquidation")
    };
    assert_eq!(l.instrument.to_string(), "BINANCE.USDM.BTCUSDT");
    assert_eq!(l.side, Side::Sell);
    assert_eq!(l.price.to_string(), "9910.00000000");
    assert_eq!(l.avg_price.to_string(), "9910.12345678");
    assert_eq!(l.qty.to_string(), "0.014");
    assert_eq!(l.times, ms(1568014460893));
}

#[test]
fn tickers_are_unknown_events_not_errors() {
    for (src, rel) in [
        (
            USDM,
            "crate_test_data/futures/market_data_json/ticker_stream.json",
        ),
        (
            USDM,
            "integration_resources/ws_messages/ws_futures_ticker_24hr.json",
        ),
        (
            SPOT,
            "integration_resources/ws_messages/ws_spot_ticker_24hr.json",
        ),
    ] {
        assert_eq!(
            parse(&src, rel),
            StreamMessage::Unknown {
                event_type: "24hrTicker".into()
            },
            "{rel}"
        );
    }
}

#[test]
fn rest_depth_snapshots() {
    let spot = InstrumentId::binance(MarketKind::Spot, "BTCUSDT").unwrap();
    let s = parse_depth_snapshot(
        spot,
        &read("crate_test_data/spot/http_json/depth_response.json"),
        LOCAL,
    )
    .unwrap();
    assert_eq!(s.last_update_id, 1027024);
    assert_eq!(
        (s.bids[0].price.to_string(), s.bids[0].qty.to_string()),
        ("4.00000000".into(), "431.00000000".into())
    );
    assert_eq!(s.asks[0].price.to_string(), "4.00000200");
    assert_eq!(
        s.times.exchange, LOCAL,
        "spot snapshots carry no venue time"
    );

    let usdm = InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap();
    let s = parse_depth_snapshot(
        usdm,
        &read("integration_resources/http_responses/http_futures_market_depth.json"),
        LOCAL,
    )
    .unwrap();
    assert_eq!(s.last_update_id, 1027024);
    assert_eq!(s.times, ms(1589436922959));
    assert_eq!(s.asks[0].qty.to_string(), "12.00000000");

    // Real 2021 spot snapshot: checked level by level against the JSON itself.
    let text = read("integration_resources/http_responses/http_spot_market_depth.json");
    let s = parse_depth_snapshot(spot, &text, LOCAL).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s.last_update_id, v["lastUpdateId"].as_u64().unwrap());
    for (side, ours) in [("bids", &s.bids), ("asks", &s.asks)] {
        let theirs = v[side].as_array().unwrap();
        assert_eq!(ours.len(), theirs.len());
        assert!(!ours.is_empty());
        for (o, t) in ours.iter().zip(theirs) {
            assert_eq!(o.price.to_string(), t[0].as_str().unwrap());
            assert_eq!(o.qty.to_string(), t[1].as_str().unwrap());
        }
    }
}

/// How each JSON file under `nautilus/` is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A market-data stream message (tested above).
    Stream,
    /// A user-data event (tested in `user_data_fixtures.rs`).
    UserData,
    /// A REST depth snapshot (tested above).
    DepthSnapshot,
    /// Another REST response (the REST parsers' tests own these); here it must
    /// not be mistaken for a stream or user-data event.
    Rest,
}

fn class(rel: &str) -> Class {
    let name = Path::new(rel).file_name().unwrap().to_str().unwrap();
    if name.contains("depth") && (rel.contains("/http_json/") || rel.contains("/http_responses/")) {
        Class::DepthSnapshot
    } else if rel.contains("/http_json/") || rel.contains("/http_responses/") {
        Class::Rest
    } else if rel.contains("/user_data_json/")
        || name.starts_with("ws_futures_algo_update")
        || name == "ws_futures_trade_lite.json"
    {
        Class::UserData
    } else if rel.contains("/market_data_json/") || rel.contains("/ws_messages/") {
        Class::Stream
    } else {
        panic!("{rel}: unclassified fixture; add it to this test")
    }
}

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

#[test]
fn every_nautilus_json_file_is_covered() {
    let root = fixture("binance/nautilus").unwrap();
    let mut files = Vec::new();
    json_files(&root, &mut files);
    files.sort();
    // Fixtures README §3: 57 crate test files, 46 HTTP responses, 12 WS messages.
    assert_eq!(
        files.len(),
        115,
        "the fixture set changed: review this test"
    );
    let mut tally = [0usize; 4];
    for p in &files {
        let rel = p
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        let text = std::fs::read_to_string(p).unwrap();
        let c = class(&rel);
        tally[c as usize] += 1;
        let src = if rel.contains("spot") {
            SPOT
        } else if rel.contains("delivery") {
            // A COIN-M quarterly contract (BTCUSD_240329).
            StreamSource::binance(MarketKind::CoinM)
        } else {
            USDM
        };
        // Nothing may panic, whatever the file.
        let stream = parse_frame(&src, &text, LOCAL);
        let user = parse_user_data(&src, &text, LOCAL);
        match c {
            Class::Stream => {
                let m = stream.unwrap_or_else(|e| panic!("{rel}: {e}"));
                let known = !m.clone().into_market_events().is_empty();
                let ticker = m
                    == StreamMessage::Unknown {
                        event_type: "24hrTicker".into(),
                    };
                assert!(known || ticker, "{rel}: {m:?}");
            }
            Class::UserData => {
                let m = user.unwrap_or_else(|e| panic!("{rel}: {e}"));
                assert!(
                    !matches!(
                        m,
                        veloz_exec::binance::user_data::UserDataMessage::Unknown { .. }
                    ),
                    "{rel}: {m:?}"
                );
            }
            Class::DepthSnapshot => {
                let id = InstrumentId::binance(src.kind, "BTCUSDT").unwrap();
                let s =
                    parse_depth_snapshot(id, &text, LOCAL).unwrap_or_else(|e| panic!("{rel}: {e}"));
                assert!(!s.bids.is_empty() && !s.asks.is_empty(), "{rel}");
            }
            Class::Rest => {
                if let Ok(m) = stream {
                    assert!(
                        m.clone().into_market_events().is_empty(),
                        "{rel}: a REST body read as a stream event: {m:?}"
                    );
                }
                if let Ok(m) = user {
                    assert!(
                        m.order_events().is_empty() && m.account_events().is_empty(),
                        "{rel}: a REST body read as a user-data event: {m:?}"
                    );
                }
            }
        }
    }
    // 16 stream files, 30 user-data files, 3 depth snapshots, 66 other REST bodies.
    assert_eq!(tally, [16, 30, 3, 66]);
}
