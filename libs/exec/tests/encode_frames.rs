//! The Binance stream encoders against real frames and the parser.
//!
//! * Byte for byte: every line of the three real captures in
//!   `shared/fixtures/binance/hftbacktest/` (spot, USD-M, COIN-M BTC,
//!   2024-08-08) is parsed, encoded back with the market's wire precision and the
//!   frame's own `E`, wrapped in the combined-stream wrapper, and compared with
//!   the original text. Every depthUpdate, bookTicker, trade and REST snapshot
//!   line reproduces exactly; the counts are asserted so a skipped line fails.
//! * Round trip: messages without a capture (aggTrade, kline, markPriceUpdate,
//!   forceOrder, serverShutdown) are encoded and parsed back to equal events.

use serde_json::Value;
use veloz_core::events::{Bar, EventTimes, Level, Liquidation, MarkPrice};
use veloz_core::fixtures::fixture;
use veloz_core::{
    AggressorSide, InstrumentId, MarketKind, Price, Quantity, Side, TradeId, UnixNanos,
};
use veloz_exec::binance::capture::CaptureReader;
use veloz_exec::binance::encode::{
    interval_name, server_shutdown, stream_name, wrap_combined, EncodeError, Encoder, KlineExtra,
    StreamKind, SPOT_WIRE_PRECISION,
};
use veloz_exec::binance::stream::{
    parse_depth_snapshot, parse_frame, unwrap_combined, AggTrade, StreamMessage, StreamSource,
};

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    depth: usize,
    book_ticker: usize,
    trade: usize,
    snapshot: usize,
}

fn event_time(payload: &str) -> Option<u64> {
    let v: Value = serde_json::from_str(payload).unwrap();
    v.get("E").and_then(Value::as_u64)
}

fn reencode_capture(file: &str, enc: Encoder, symbol: &str) -> Counts {
    let kind = enc.kind();
    let src = StreamSource::binance(kind);
    let path = fixture(&format!("binance/hftbacktest/{file}")).unwrap();
    let mut reader = CaptureReader::open(&[path]).unwrap();
    let mut counts = Counts::default();
    let mut out = String::new();
    let mut payload = String::new();
    while let Some(line) = reader.next_line().unwrap() {
        out.clear();
        payload.clear();
        if line.is_snapshot() {
            let id = InstrumentId::binance(kind, symbol).unwrap();
            let snap = parse_depth_snapshot(id, line.json, line.local).unwrap();
            enc.depth_snapshot(&mut out, &snap, event_time(line.json));
            assert_eq!(out, line.json, "{file}: snapshot differs");
            counts.snapshot += 1;
            continue;
        }
        let (stream, data) = unwrap_combined(line.json).unwrap();
        let stream = stream.unwrap().into_owned();
        let e = event_time(data);
        match parse_frame(&src, line.json, line.local).unwrap() {
            StreamMessage::Depth(d) => {
                enc.depth_update(&mut payload, &d, e);
                counts.depth += 1;
            }
            StreamMessage::BookTicker(q) => {
                enc.book_ticker(&mut payload, &q, e);
                counts.book_ticker += 1;
            }
            StreamMessage::Trade(t) => {
                enc.trade(&mut payload, &t, e);
                counts.trade += 1;
            }
            other => panic!("{file}: unexpected message {other:?}"),
        }
        wrap_combined(&mut out, &stream, &payload);
        assert_eq!(out, line.json, "{file}: frame differs");
    }
    counts
}

#[test]
fn spot_capture_reencodes_byte_for_byte() {
    let enc = Encoder::new(MarketKind::Spot, SPOT_WIRE_PRECISION, SPOT_WIRE_PRECISION);
    let counts = reencode_capture("spot_btcusdt_20240808.gz", enc, "BTCUSDT");
    assert_eq!(
        counts,
        Counts {
            depth: 3_451,
            book_ticker: 28_040,
            trade: 9_757,
            snapshot: 1
        }
    );
}

#[test]
fn usdm_capture_reencodes_byte_for_byte() {
    let enc = Encoder::for_instrument(&veloz_sim_free_usdm());
    let counts = reencode_capture("usdm_btcusdt_20240808.gz", enc, "BTCUSDT");
    assert_eq!(
        counts,
        Counts {
            depth: 6_551,
            book_ticker: 66_089,
            trade: 21_313,
            snapshot: 1
        }
    );
}

#[test]
fn coinm_capture_reencodes_byte_for_byte() {
    let enc = Encoder::new(MarketKind::CoinM, 1, 0);
    let counts = reencode_capture("cm_btcusd_perp_20240808.gz", enc, "BTCUSD_PERP");
    assert_eq!(
        counts,
        Counts {
            depth: 26_847,
            book_ticker: 19_136,
            trade: 2_286,
            snapshot: 1
        }
    );
}

/// A USD-M BTCUSDT instrument with Binance's precisions (2 price, 3 quantity),
/// built here because veloz-exec does not depend on the simulator's presets.
fn veloz_sim_free_usdm() -> veloz_core::Instrument {
    use veloz_core::{ContractKind, Currency, Instrument, LotLimits};
    Instrument {
        id: InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
        contract: ContractKind::LinearPerpetual,
        base: Currency::from_const("BTC"),
        quote: Currency::from_const("USDT"),
        margin_asset: Currency::from_const("USDT"),
        price_precision: 2,
        qty_precision: 3,
        tick_size: Price::parse("0.10").unwrap(),
        min_price: Price::parse("556.80").unwrap(),
        max_price: Price::parse("4529764").unwrap(),
        lot: LotLimits {
            min_qty: Quantity::parse("0.001").unwrap(),
            max_qty: Quantity::parse("1000").unwrap(),
            step: Quantity::parse("0.001").unwrap(),
        },
        market_lot: None,
        min_notional: None,
        max_notional: None,
        min_notional_applies_to_market: false,
        percent_band: None,
        maker_fee: Price::parse("0.0002").unwrap(),
        taker_fee: Price::parse("0.0005").unwrap(),
    }
}

fn times(ms: u64) -> EventTimes {
    EventTimes::new(UnixNanos::from_millis(ms), UnixNanos::from_millis(ms + 7))
}

fn parse(kind: MarketKind, frame: &str, local_ms: u64) -> StreamMessage {
    parse_frame(
        &StreamSource::binance(kind),
        frame,
        UnixNanos::from_millis(local_ms),
    )
    .unwrap()
}

#[test]
fn agg_trade_round_trips_on_every_market() {
    for (kind, symbol, pp, qp, expected) in [
        (
            MarketKind::Spot,
            "ETHUSDT",
            8,
            8,
            r#"{"e":"aggTrade","E":1675759520848,"s":"ETHUSDT","a":226532,"p":"1632.46000000","q":"0.34305000","f":228423,"l":228423,"T":1675759520847,"m":false,"M":true}"#,
        ),
        (
            MarketKind::UsdM,
            "ETHUSDT",
            2,
            3,
            r#"{"e":"aggTrade","E":1675759520848,"s":"ETHUSDT","a":226532,"p":"1632.46","q":"0.343","nq":"0.343","f":228423,"l":228423,"T":1675759520847,"m":false}"#,
        ),
    ] {
        let agg = AggTrade {
            trade: veloz_core::events::Trade {
                instrument: InstrumentId::binance(kind, symbol).unwrap(),
                trade_id: TradeId(226_532),
                price: Price::parse("1632.46").unwrap(),
                qty: Quantity::parse(if kind == MarketKind::Spot {
                    "0.34305"
                } else {
                    "0.343"
                })
                .unwrap(),
                aggressor: AggressorSide::Buyer,
                times: times(1_675_759_520_847),
            },
            first_trade_id: TradeId(228_423),
            last_trade_id: TradeId(228_423),
        };
        let mut out = String::new();
        Encoder::new(kind, pp, qp).agg_trade(&mut out, &agg, Some(1_675_759_520_848));
        assert_eq!(out, expected);
        assert_eq!(
            parse(kind, &out, 1_675_759_520_854),
            StreamMessage::AggTrade(agg)
        );
    }
}

#[test]
fn kline_round_trips_open_and_closed() {
    let enc = Encoder::new(MarketKind::UsdM, 4, 0);
    for closed in [false, true] {
        let open_ms = 1_638_747_660_000;
        let bar = Bar {
            instrument: InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
            interval_secs: 60,
            open_time: UnixNanos::from_millis(open_ms),
            open: Price::parse("0.0010").unwrap(),
            high: Price::parse("0.0025").unwrap(),
            low: Price::parse("0.0015").unwrap(),
            close: Price::parse("0.0020").unwrap(),
            volume: Quantity::parse("1000").unwrap(),
            closed,
            times: times(if closed {
                open_ms + 60_000
            } else {
                open_ms + 1_234
            }),
        };
        let mut out = String::new();
        enc.kline(&mut out, &bar, &KlineExtra::default(), None)
            .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["k"]["T"], open_ms + 59_999);
        assert_eq!(v["k"]["i"], "1m");
        assert_eq!(v["k"]["o"], "0.0010");
        assert_eq!(v["k"]["x"], closed);
        let local = bar.times.local.as_millis();
        assert_eq!(
            parse(MarketKind::UsdM, &out, local),
            StreamMessage::Bar(bar)
        );
    }
    let mut out = String::new();
    let bar = Bar {
        instrument: InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
        interval_secs: 61,
        open_time: UnixNanos::ZERO,
        open: Price::ZERO,
        high: Price::ZERO,
        low: Price::ZERO,
        close: Price::ZERO,
        volume: Quantity::ZERO,
        closed: false,
        times: times(0),
    };
    assert_eq!(
        enc.kline(&mut out, &bar, &KlineExtra::default(), None),
        Err(EncodeError::BadInterval { secs: 61 })
    );
}

#[test]
fn mark_price_matches_docs_layout_and_round_trips() {
    let m = MarkPrice {
        instrument: InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
        mark: Price::parse("11794.15").unwrap(),
        index: Some(Price::parse("11784.62659091").unwrap()),
        funding_rate: Some(Price::parse("0.00038167").unwrap()),
        next_funding_time: Some(UnixNanos::from_millis(1_562_306_400_000)),
        times: times(1_562_305_380_000),
    };
    let mut out = String::new();
    Encoder::new(MarketKind::UsdM, 2, 3).mark_price(&mut out, &m);
    assert_eq!(
        out,
        r#"{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.62659091","r":"0.00038167","T":1562306400000}"#
    );
    assert_eq!(
        parse(MarketKind::UsdM, &out, 1_562_305_380_007),
        StreamMessage::MarkPrice(m)
    );

    // No funding (COIN-M delivery): "r":"" and "T":0 parse back to None.
    let delivery = MarkPrice {
        instrument: InstrumentId::binance(MarketKind::CoinM, "BTCUSD_241227").unwrap(),
        funding_rate: None,
        next_funding_time: None,
        ..m
    };
    out.clear();
    Encoder::new(MarketKind::CoinM, 1, 0).mark_price(&mut out, &delivery);
    assert!(out.contains(r#""r":"","T":0}"#), "{out}");
    assert_eq!(
        parse(MarketKind::CoinM, &out, 1_562_305_380_007),
        StreamMessage::MarkPrice(delivery)
    );
}

#[test]
fn force_order_round_trips() {
    for kind in [MarketKind::UsdM, MarketKind::CoinM] {
        let symbol = if kind == MarketKind::UsdM {
            "BTCUSDT"
        } else {
            "BTCUSD_PERP"
        };
        let l = Liquidation {
            instrument: InstrumentId::binance(kind, symbol).unwrap(),
            side: Side::Sell,
            price: Price::parse("9910").unwrap(),
            avg_price: Price::parse("9910.12345678").unwrap(),
            qty: Quantity::parse("14").unwrap(),
            times: times(1_568_014_460_893),
        };
        let mut out = String::new();
        Encoder::new(kind, 2, 0).force_order(&mut out, &l, Some(1_568_014_460_894));
        if kind == MarketKind::CoinM {
            assert!(out.contains(r#""s":"BTCUSD_PERP","ps":"BTCUSD","S":"SELL""#));
        } else {
            assert_eq!(
                out,
                r#"{"e":"forceOrder","E":1568014460894,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"14","p":"9910.00","ap":"9910.12345678","X":"FILLED","l":"14","z":"14","T":1568014460893}}"#
            );
        }
        assert_eq!(
            parse(kind, &out, 1_568_014_460_900),
            StreamMessage::Liquidation(l)
        );
    }
}

#[test]
fn server_shutdown_and_combined_wrapper_round_trip() {
    let mut payload = String::new();
    server_shutdown(&mut payload, UnixNanos::from_millis(1_700_000_000_123));
    assert_eq!(payload, r#"{"e":"serverShutdown","E":1700000000123}"#);
    let mut out = String::new();
    wrap_combined(&mut out, "!serverShutdown", &payload);
    assert_eq!(
        parse(MarketKind::Spot, &out, 1_700_000_000_200),
        StreamMessage::ServerShutdown {
            times: EventTimes::new(
                UnixNanos::from_millis(1_700_000_000_123),
                UnixNanos::from_millis(1_700_000_000_200)
            )
        }
    );
}

#[test]
fn stream_names() {
    let name = |symbol: &str, kind: StreamKind| {
        let mut s = String::new();
        stream_name(&mut s, symbol, kind).unwrap();
        s
    };
    assert_eq!(
        name(
            "BTCUSDT",
            StreamKind::Depth {
                speed_ms: Some(100)
            }
        ),
        "btcusdt@depth@100ms"
    );
    assert_eq!(
        name("BTCUSD_PERP", StreamKind::Depth { speed_ms: Some(0) }),
        "btcusd_perp@depth@0ms"
    );
    assert_eq!(
        name("BTCUSDT", StreamKind::Depth { speed_ms: None }),
        "btcusdt@depth"
    );
    assert_eq!(
        name(
            "BTCUSDT",
            StreamKind::PartialDepth {
                levels: 20,
                speed_ms: Some(100)
            }
        ),
        "btcusdt@depth20@100ms"
    );
    assert_eq!(
        name("BTCUSDT", StreamKind::BookTicker),
        "btcusdt@bookTicker"
    );
    assert_eq!(name("BTCUSDT", StreamKind::Trade), "btcusdt@trade");
    assert_eq!(name("BTCUSDT", StreamKind::AggTrade), "btcusdt@aggTrade");
    assert_eq!(
        name("BTCUSDT", StreamKind::Kline { interval_secs: 900 }),
        "btcusdt@kline_15m"
    );
    assert_eq!(
        name("BTCUSDT", StreamKind::MarkPrice { every_second: true }),
        "btcusdt@markPrice@1s"
    );
    assert_eq!(
        name("BTCUSDT", StreamKind::ForceOrder),
        "btcusdt@forceOrder"
    );
    assert_eq!(interval_name(604_800), Ok("1w"));
    let mut s = String::new();
    assert_eq!(
        stream_name(&mut s, "BTCUSDT", StreamKind::Kline { interval_secs: 7 }),
        Err(EncodeError::BadInterval { secs: 7 })
    );
}

#[test]
fn spot_snapshot_body_round_trips_with_levels() {
    let id = InstrumentId::binance(MarketKind::Spot, "BTCUSDT").unwrap();
    let lvl = |p: &str, q: &str| Level {
        price: Price::parse(p).unwrap(),
        qty: Quantity::parse(q).unwrap(),
    };
    let snap = veloz_core::events::BookSnapshot {
        instrument: id,
        last_update_id: 42,
        bids: vec![lvl("100.01", "1.5"), lvl("100", "2")],
        asks: vec![lvl("100.02", "0.00001")],
        times: times(5),
    };
    let mut out = String::new();
    Encoder::new(MarketKind::Spot, 8, 8).depth_snapshot(&mut out, &snap, None);
    assert_eq!(
        out,
        r#"{"lastUpdateId":42,"bids":[["100.01000000","1.50000000"],["100.00000000","2.00000000"]],"asks":[["100.02000000","0.00001000"]]}"#
    );
    // Spot bodies carry no time: the parser stamps the receive time.
    let back = parse_depth_snapshot(id, &out, snap.times.local).unwrap();
    assert_eq!(back.bids, snap.bids);
    assert_eq!(back.asks, snap.asks);
    assert_eq!(back.last_update_id, 42);
}
