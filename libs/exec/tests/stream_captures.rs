//! Every line of the three real captures in `shared/fixtures/binance/hftbacktest/`
//! (spot, USD-M, COIN-M BTC, 2024-08-08) through the stream parser, each field
//! compared with an independent reading of the same line as a generic JSON tree
//! (`serde_json::Value`): symbol, update ids, `pu`, venue times, and every price
//! and quantity string byte for byte (so a lost trailing zero fails too). The
//! fast scanner and the reference parser must also agree on every line.

use serde_json::Value;
use veloz_core::events::{BookDeltas, EventTimes, Level};
use veloz_core::fixtures::fixture;
use veloz_core::{AggressorSide, InstrumentId, MarketKind, Side, UnixNanos};
use veloz_exec::binance::capture::CaptureReader;
use veloz_exec::binance::stream::{
    parse_depth_snapshot, parse_frame, parse_frame_reference, StreamMessage, StreamSource,
};

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected an integer, got {v}"))
}

fn check_level(l: &Level, wire: &Value) {
    assert_eq!(l.price.to_string(), s(&wire[0]));
    assert_eq!(l.qty.to_string(), s(&wire[1]));
}

fn check_depth(d: &BookDeltas, data: &Value, kind: MarketKind, local: UnixNanos) {
    assert_eq!(d.instrument.symbol.as_str(), s(&data["s"]));
    assert_eq!(d.instrument.kind, kind);
    assert_eq!(d.first_update_id, u(&data["U"]));
    assert_eq!(d.last_update_id, u(&data["u"]));
    assert_eq!(d.prev_last_update_id, data.get("pu").map(u));
    assert_eq!(d.prev_last_update_id.is_some(), kind.is_futures());
    let t = data.get("T").map_or_else(|| u(&data["E"]), u);
    assert_eq!(d.times, EventTimes::new(UnixNanos::from_millis(t), local));
    let bids = data["b"].as_array().unwrap();
    let asks = data["a"].as_array().unwrap();
    assert_eq!(d.deltas.len(), bids.len() + asks.len());
    for (delta, wire) in d.deltas.iter().zip(bids.iter().chain(asks)) {
        check_level(&delta.level, wire);
    }
    assert!(d.deltas[..bids.len()].iter().all(|x| x.side == Side::Buy));
    assert!(d.deltas[bids.len()..].iter().all(|x| x.side == Side::Sell));
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    depth: usize,
    book_ticker: usize,
    trade: usize,
    snapshot: usize,
}

fn check_capture(file: &str, kind: MarketKind, symbol: &str) -> Counts {
    let src = StreamSource::binance(kind);
    let instrument = InstrumentId::binance(kind, symbol).unwrap();
    let path = fixture(&format!("binance/hftbacktest/{file}")).unwrap();
    let mut r = CaptureReader::open(&[path]).unwrap();
    let mut n = Counts::default();
    let mut last_local = UnixNanos(0);
    while let Some(line) = r.next_line().unwrap() {
        let (local, text) = (line.local, line.json);
        assert!(local >= last_local, "{file}: receive times go back");
        last_local = local;
        let v: Value = serde_json::from_str(text).unwrap();
        if line.is_snapshot() {
            n.snapshot += 1;
            let snap = parse_depth_snapshot(instrument, text, local).unwrap();
            assert_eq!(snap.last_update_id, u(&v["lastUpdateId"]));
            let exchange = v.get("T").map_or(local, |t| UnixNanos::from_millis(u(t)));
            assert_eq!(snap.times.exchange, exchange);
            for (ours, side) in [(&snap.bids, "bids"), (&snap.asks, "asks")] {
                let wire = v[side].as_array().unwrap();
                // limit=1000 (fixtures README §2, digest §11).
                assert_eq!(ours.len(), 1000, "{file} {side}");
                assert_eq!(wire.len(), ours.len());
                for (l, w) in ours.iter().zip(wire) {
                    check_level(l, w);
                }
            }
            // Best first, strictly.
            assert!(snap.bids.windows(2).all(|w| w[0].price > w[1].price));
            assert!(snap.asks.windows(2).all(|w| w[0].price < w[1].price));
            assert!(snap.bids[0].price < snap.asks[0].price);
            continue;
        }
        let stream = s(&v["stream"]);
        let data = &v["data"];
        let m = parse_frame(&src, text, local).unwrap_or_else(|e| panic!("{file}: {e}: {text}"));
        let reference = parse_frame_reference(&src, text, local).unwrap();
        assert_eq!(
            m, reference,
            "{file}: fast and reference parsers differ on {text}"
        );
        match m {
            StreamMessage::Depth(d) => {
                assert!(stream.contains("@depth@"), "{stream}");
                n.depth += 1;
                check_depth(&d, data, kind, local);
            }
            StreamMessage::BookTicker(q) => {
                assert!(stream.ends_with("@bookTicker"), "{stream}");
                n.book_ticker += 1;
                assert_eq!(q.instrument, instrument);
                assert_eq!(q.update_id, Some(u(&data["u"])));
                assert_eq!(q.bid.price.to_string(), s(&data["b"]));
                assert_eq!(q.bid.qty.to_string(), s(&data["B"]));
                assert_eq!(q.ask.price.to_string(), s(&data["a"]));
                assert_eq!(q.ask.qty.to_string(), s(&data["A"]));
                // Spot bookTicker has no venue time (fixtures README §2).
                let exchange = data
                    .get("T")
                    .map_or(local, |t| UnixNanos::from_millis(u(t)));
                assert_eq!(q.times, EventTimes::new(exchange, local));
                assert_eq!(data.get("e").is_some(), kind.is_futures());
                assert!(q.bid.price < q.ask.price, "{text}");
            }
            StreamMessage::Trade(t) => {
                assert!(stream.ends_with("@trade"), "{stream}");
                n.trade += 1;
                assert_eq!(t.instrument, instrument);
                assert_eq!(t.trade_id.0, u(&data["t"]));
                assert_eq!(t.price.to_string(), s(&data["p"]));
                assert_eq!(t.qty.to_string(), s(&data["q"]));
                let maker = data["m"].as_bool().unwrap();
                let want = if maker {
                    AggressorSide::Seller
                } else {
                    AggressorSide::Buyer
                };
                assert_eq!(t.aggressor, want);
                assert_eq!(t.times.exchange, UnixNanos::from_millis(u(&data["T"])));
            }
            other => panic!("{file}: unexpected message {other:?} from {text}"),
        }
    }
    n
}

// Stream counts from the fixtures README §2.

#[test]
fn spot_capture_every_line() {
    let n = check_capture("spot_btcusdt_20240808.gz", MarketKind::Spot, "BTCUSDT");
    assert_eq!(
        n,
        Counts {
            depth: 3451,
            book_ticker: 28040,
            trade: 9757,
            snapshot: 1
        }
    );
}

#[test]
fn usdm_capture_every_line() {
    let n = check_capture("usdm_btcusdt_20240808.gz", MarketKind::UsdM, "BTCUSDT");
    assert_eq!(
        n,
        Counts {
            depth: 6551,
            book_ticker: 66089,
            trade: 21313,
            snapshot: 1
        }
    );
}

#[test]
fn coinm_capture_every_line() {
    let n = check_capture(
        "cm_btcusd_perp_20240808.gz",
        MarketKind::CoinM,
        "BTCUSD_PERP",
    );
    assert_eq!(
        n,
        Counts {
            depth: 26847,
            book_ticker: 19136,
            trade: 2286,
            snapshot: 1
        }
    );
}
