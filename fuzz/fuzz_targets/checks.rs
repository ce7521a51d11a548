//! What the fuzz targets check, shared by the libFuzzer targets in this folder
//! and by `libs/exec/tests/fuzz_seed_corpus.rs` (which runs the same checks over
//! the fixture seeds and deterministic mutations of them, in CI).
//!
//! Every check feeds arbitrary bytes to a parser entry point and only requires:
//! no panic, and, for the market-data stream, that the fast scanner and the
//! reference parser agree (same value, or both refuse).
#![allow(dead_code)]

use veloz_core::{InstrumentId, MarketKind, UnixNanos};
use veloz_exec::binance::stream::{
    parse_depth_snapshot, parse_frame, parse_frame_reference, StreamSource,
};
use veloz_exec::binance::user_data::parse_user_data;

const KINDS: [MarketKind; 3] = [MarketKind::Spot, MarketKind::UsdM, MarketKind::CoinM];

/// A capture line (`<ns> <json>`) is reduced to its frame; anything else is
/// used whole.
fn frame(text: &str) -> &str {
    match veloz_exec::binance::capture::split_line(text) {
        Ok(line) => line.json,
        Err(_) => text,
    }
}

/// Market-data frames: `parse_frame` on every market kind, checked against the
/// serde-only reference parser.
pub fn stream_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let text = frame(text);
    for kind in KINDS {
        let src = StreamSource::binance(kind);
        let fast = parse_frame(&src, text, UnixNanos(1));
        let reference = parse_frame_reference(&src, text, UnixNanos(1));
        match (&fast, &reference) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "fast and reference parsers differ on {text:?}"),
            (Err(_), Err(_)) => {}
            _ => panic!("fast {fast:?} vs reference {reference:?} on {text:?}"),
        }
        if let Ok(m) = fast {
            let _ = m.into_market_events();
        }
    }
}

/// User-data frames on every market kind.
pub fn user_data(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in KINDS {
        if let Ok(m) = parse_user_data(&StreamSource::binance(kind), text, UnixNanos(1)) {
            let _ = (m.order_events(), m.account_events());
        }
    }
}

/// REST bodies: the depth snapshot parser, the error-body parser and the
/// response classifier, and the typed answers of the REST layer.
pub fn rest_response(data: &[u8]) {
    use veloz_exec::binance::error::{ApiErrorBody, BinanceError};
    use veloz_exec::binance::rest::exchange_info::ExchangeInfo;
    use veloz_exec::binance::rest::responses::DepthSnapshot;

    for status in [200, 400, 429, 503] {
        let _ = BinanceError::check_response(status, &[("Retry-After", "3")], data);
    }
    let _ = ApiErrorBody::parse(data);
    if let Ok(info) = serde_json::from_slice::<ExchangeInfo>(data) {
        for kind in KINDS {
            let _ = info.instruments(kind);
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in KINDS {
        let Ok(id) = InstrumentId::binance(kind, "BTCUSDT") else {
            return;
        };
        let _ = parse_depth_snapshot(id, text, UnixNanos(1));
        if let Ok(s) = serde_json::from_str::<DepthSnapshot>(text) {
            let _ = s.to_book_snapshot(id, UnixNanos(1));
        }
    }
}
