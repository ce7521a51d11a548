//! Synthetic events through the Binance encoders and back through the stream
//! parser: every event the generator makes has an exact wire form (the
//! simulator server sends them this way), on spot, USD-M and COIN-M.

use veloz_core::events::MarketEvent;
use veloz_core::UnixNanos;
use veloz_exec::binance::encode::{stream_name, wrap_combined, Encoder, StreamKind};
use veloz_exec::binance::stream::{parse_depth_snapshot, parse_frame, StreamMessage, StreamSource};
use veloz_sim::presets;
use veloz_sim::{SynthConfig, SynthMarket};

#[test]
fn synthetic_events_round_trip_through_the_wire_format() {
    for inst in [
        presets::spot_btcusdt(),
        presets::usdm_btcusdt(),
        presets::coinm_btcusd_perp(),
    ] {
        let enc = Encoder::for_instrument(&inst);
        let src = StreamSource::binance(inst.id.kind);
        let symbol = inst.id.symbol.as_str();
        let mut m = SynthMarket::new(inst.clone(), SynthConfig::default()).unwrap();
        let mut payload = String::new();
        let mut frame = String::new();
        let mut name = String::new();
        let mut kinds = [0usize; 5];
        for _ in 0..20_000 {
            let e = m.next_event();
            let local = e.times().local;
            payload.clear();
            frame.clear();
            name.clear();
            let (kind, expected) = match &e {
                MarketEvent::BookSnapshot(s) => {
                    enc.depth_snapshot(&mut payload, s, None);
                    let back = parse_depth_snapshot(inst.id, &payload, local).unwrap();
                    assert_eq!(back, *s);
                    kinds[0] += 1;
                    continue;
                }
                MarketEvent::BookDeltas(d) => {
                    enc.depth_update(&mut payload, d, None);
                    kinds[1] += 1;
                    (
                        StreamKind::Depth { speed_ms: Some(0) },
                        StreamMessage::Depth(d.clone()),
                    )
                }
                MarketEvent::Quote(q) => {
                    enc.book_ticker(&mut payload, q, None);
                    kinds[2] += 1;
                    (StreamKind::BookTicker, StreamMessage::BookTicker(*q))
                }
                MarketEvent::Trade(t) => {
                    enc.trade(&mut payload, t, None);
                    kinds[3] += 1;
                    (StreamKind::Trade, StreamMessage::Trade(*t))
                }
                MarketEvent::MarkPrice(p) => {
                    enc.mark_price(&mut payload, p);
                    kinds[4] += 1;
                    (
                        StreamKind::MarkPrice { every_second: true },
                        StreamMessage::MarkPrice(*p),
                    )
                }
                other => panic!("unexpected {other:?}"),
            };
            stream_name(&mut name, symbol, kind).unwrap();
            wrap_combined(&mut frame, &name, &payload);
            let back = parse_frame(&src, &frame, local).unwrap();
            assert_eq!(back, expected, "{frame}");
        }
        assert_eq!(kinds[0], 1);
        assert!(
            kinds[1] > 1_000 && kinds[2] > 1_000 && kinds[3] > 1_000,
            "{kinds:?}"
        );
        assert_eq!(kinds[4] > 0, inst.id.kind.is_futures(), "{kinds:?}");
        // A REST snapshot taken now encodes and parses back too.
        let snap = m.book_snapshot(1000);
        payload.clear();
        enc.depth_snapshot(&mut payload, &snap, None);
        let back = parse_depth_snapshot(inst.id, &payload, UnixNanos::ZERO).unwrap();
        assert_eq!(back.bids, snap.bids);
        assert_eq!(back.asks, snap.asks);
        assert_eq!(back.last_update_id, snap.last_update_id);
    }
}
