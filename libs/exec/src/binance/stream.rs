//! Binance market-data stream messages, parsed into normalised `veloz-core` events.
//!
//! Entry point: [`parse_frame`] takes one WebSocket text frame (raw stream or the
//! combined-stream wrapper `{"stream":…,"data":…}`) and returns a
//! [`StreamMessage`]. [`parse_depth_snapshot`] parses a REST depth snapshot body.
//!
//! Rules: unknown fields are ignored; an unknown event type is returned as
//! [`StreamMessage::Unknown`] (the caller counts and logs it); malformed input is
//! a [`StreamError`], never a panic. Prices and quantities are parsed exactly into
//! fixed point.

use std::borrow::Cow;

use serde::Deserialize;
use veloz_core::events::{BookDelta, BookDeltas, BookSnapshot, EventTimes, Level, Quote, Trade};
use veloz_core::{
    AggressorSide, FixedError, IdError, InstrumentId, MarketKind, Price, Quantity, Side, Symbol,
    TradeId, UnixNanos, Venue,
};

/// Why a frame could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Not valid JSON, or a field has the wrong JSON type.
    #[error("malformed {what} message: {source}")]
    Json {
        /// Which message was being parsed.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A price or quantity string is not an exact decimal.
    #[error("bad number in {what} message: {source}")]
    Number {
        /// Which message.
        what: &'static str,
        /// The decimal error.
        #[source]
        source: FixedError,
    },
    /// A symbol is not a valid identifier.
    #[error("bad symbol in {what} message: {source}")]
    Symbol {
        /// Which message.
        what: &'static str,
        /// The id error.
        #[source]
        source: IdError,
    },
    /// A required part is missing.
    #[error("{what} message has no {field}")]
    Missing {
        /// Which message.
        what: &'static str,
        /// What is missing.
        field: &'static str,
    },
}

/// One parsed stream message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamMessage {
    /// A diff-depth update (`depthUpdate`), spot or futures.
    Depth(BookDeltas),
    /// A partial-depth snapshot (spot `@depth5/10/20`: `{lastUpdateId,bids,asks}`).
    PartialDepth(BookSnapshot),
    /// Best bid/offer (`bookTicker`).
    BookTicker(Quote),
    /// A public trade (`trade`).
    Trade(Trade),
    /// The reply to a live SUBSCRIBE/UNSUBSCRIBE (`{"result":…,"id":…}`).
    Response {
        /// The request id, as JSON text.
        id: String,
        /// The result, as JSON text (`null` on success).
        result: String,
    },
    /// An error reply (`{"code":…,"msg":…}`).
    Error {
        /// Error code.
        code: i64,
        /// Message.
        msg: String,
    },
    /// An event type this parser does not know: count and log it, never fail.
    Unknown {
        /// The `e` field, or the stream name when there is none.
        event_type: String,
    },
}

/// Where frames come from: the market kind and venue used to build instrument ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSource {
    /// Venue (Binance).
    pub venue: Venue,
    /// Spot, USD-M or COIN-M.
    pub kind: MarketKind,
}

impl StreamSource {
    /// A Binance source of the given kind.
    pub const fn binance(kind: MarketKind) -> Self {
        Self {
            venue: Venue::BINANCE,
            kind,
        }
    }

    fn instrument(&self, what: &'static str, symbol: &str) -> Result<InstrumentId, StreamError> {
        let symbol = Symbol::new(symbol).map_err(|source| StreamError::Symbol { what, source })?;
        Ok(InstrumentId::new(self.venue, self.kind, symbol))
    }
}

/// Splits a combined-stream wrapper: `(stream name, payload)`, or `(None, frame)`
/// for a raw stream frame.
pub fn unwrap_combined(frame: &str) -> Result<(Option<Cow<'_, str>>, &str), StreamError> {
    #[derive(Deserialize)]
    struct Wrapper<'a> {
        #[serde(borrow)]
        stream: Cow<'a, str>,
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    let t = frame.trim_start();
    if t.starts_with("{\"stream\"")
        || (t.starts_with('{') && t.contains("\"stream\"") && t.contains("\"data\""))
    {
        let w: Wrapper<'_> = serde_json::from_str(frame).map_err(|source| StreamError::Json {
            what: "combined stream",
            source,
        })?;
        return Ok((Some(w.stream), w.data.get()));
    }
    Ok((None, frame))
}

/// Finds the top-level `"e":"…"` value cheaply. The typed parse that follows
/// checks the guess, so a wrong guess costs a slower path, never a wrong result.
fn guess_event_type(data: &str) -> Option<&str> {
    let i = data.find("\"e\":\"")? + 5;
    let rest = &data[i..];
    let j = rest.find('"')?;
    Some(&rest[..j])
}

fn exact_event_type(data: &str) -> Result<Option<String>, StreamError> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(borrow, rename = "e")]
        e: Option<Cow<'a, str>>,
    }
    let p: Peek<'_> = serde_json::from_str(data).map_err(|source| StreamError::Json {
        what: "stream",
        source,
    })?;
    Ok(p.e.map(Cow::into_owned))
}

fn num<T>(what: &'static str, r: Result<T, FixedError>) -> Result<T, StreamError> {
    r.map_err(|source| StreamError::Number { what, source })
}

fn json<'a, T: Deserialize<'a>>(what: &'static str, s: &'a str) -> Result<T, StreamError> {
    serde_json::from_str(s).map_err(|source| StreamError::Json { what, source })
}

/// A `["price","qty"]` pair as sent on the wire.
type WireLevel<'a> = [Cow<'a, str>; 2];

fn level(what: &'static str, l: &WireLevel<'_>) -> Result<Level, StreamError> {
    Ok(Level {
        price: num(what, Price::parse(&l[0]))?,
        qty: num(what, Quantity::parse(&l[1]))?,
    })
}

fn levels(what: &'static str, side: &[WireLevel<'_>]) -> Result<Vec<Level>, StreamError> {
    side.iter().map(|l| level(what, l)).collect()
}

#[derive(Deserialize)]
struct WireDepthUpdate<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "T")]
    transaction_time: Option<u64>,
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(rename = "U")]
    first: u64,
    #[serde(rename = "u")]
    last: u64,
    #[serde(rename = "pu")]
    prev: Option<u64>,
    #[serde(borrow, rename = "b")]
    bids: Vec<WireLevel<'a>>,
    #[serde(borrow, rename = "a")]
    asks: Vec<WireLevel<'a>>,
}

fn parse_depth_update(
    src: &StreamSource,
    data: &str,
    local: UnixNanos,
) -> Result<BookDeltas, StreamError> {
    const WHAT: &str = "depthUpdate";
    let w: WireDepthUpdate<'_> = json(WHAT, data)?;
    let mut deltas = Vec::with_capacity(w.bids.len() + w.asks.len());
    for l in &w.bids {
        deltas.push(BookDelta {
            side: Side::Buy,
            level: level(WHAT, l)?,
        });
    }
    for l in &w.asks {
        deltas.push(BookDelta {
            side: Side::Sell,
            level: level(WHAT, l)?,
        });
    }
    Ok(BookDeltas {
        instrument: src.instrument(WHAT, &w.symbol)?,
        first_update_id: w.first,
        last_update_id: w.last,
        prev_last_update_id: w.prev,
        deltas,
        times: EventTimes::new(
            UnixNanos::from_millis(w.transaction_time.unwrap_or(w.event_time)),
            local,
        ),
    })
}

#[derive(Deserialize)]
struct WireBookTicker<'a> {
    #[serde(rename = "u")]
    update_id: u64,
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "b")]
    bid: Cow<'a, str>,
    #[serde(borrow, rename = "B")]
    bid_qty: Cow<'a, str>,
    #[serde(borrow, rename = "a")]
    ask: Cow<'a, str>,
    #[serde(borrow, rename = "A")]
    ask_qty: Cow<'a, str>,
    #[serde(rename = "T")]
    transaction_time: Option<u64>,
    #[serde(rename = "E")]
    event_time: Option<u64>,
}

fn parse_book_ticker(
    src: &StreamSource,
    data: &str,
    local: UnixNanos,
) -> Result<Quote, StreamError> {
    const WHAT: &str = "bookTicker";
    let w: WireBookTicker<'_> = json(WHAT, data)?;
    // Spot bookTicker carries no venue time: the receive time stands in for it.
    let exchange = w
        .transaction_time
        .or(w.event_time)
        .map_or(local, UnixNanos::from_millis);
    Ok(Quote {
        instrument: src.instrument(WHAT, &w.symbol)?,
        bid: Level {
            price: num(WHAT, Price::parse(&w.bid))?,
            qty: num(WHAT, Quantity::parse(&w.bid_qty))?,
        },
        ask: Level {
            price: num(WHAT, Price::parse(&w.ask))?,
            qty: num(WHAT, Quantity::parse(&w.ask_qty))?,
        },
        update_id: Some(w.update_id),
        times: EventTimes::new(exchange, local),
    })
}

#[derive(Deserialize)]
struct WireTrade<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "T")]
    trade_time: Option<u64>,
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(rename = "t")]
    trade_id: u64,
    #[serde(borrow, rename = "p")]
    price: Cow<'a, str>,
    #[serde(borrow, rename = "q")]
    qty: Cow<'a, str>,
    #[serde(rename = "m")]
    buyer_is_maker: bool,
}

fn parse_trade(src: &StreamSource, data: &str, local: UnixNanos) -> Result<Trade, StreamError> {
    const WHAT: &str = "trade";
    let w: WireTrade<'_> = json(WHAT, data)?;
    Ok(Trade {
        instrument: src.instrument(WHAT, &w.symbol)?,
        trade_id: TradeId(w.trade_id),
        price: num(WHAT, Price::parse(&w.price))?,
        qty: num(WHAT, Quantity::parse(&w.qty))?,
        aggressor: if w.buyer_is_maker {
            AggressorSide::Seller
        } else {
            AggressorSide::Buyer
        },
        times: EventTimes::new(
            UnixNanos::from_millis(w.trade_time.unwrap_or(w.event_time)),
            local,
        ),
    })
}

#[derive(Deserialize)]
struct WireSnapshot<'a> {
    #[serde(rename = "lastUpdateId")]
    last_update_id: u64,
    #[serde(rename = "E")]
    event_time: Option<u64>,
    #[serde(rename = "T")]
    transaction_time: Option<u64>,
    #[serde(borrow)]
    bids: Vec<WireLevel<'a>>,
    #[serde(borrow)]
    asks: Vec<WireLevel<'a>>,
}

/// Parses a REST depth snapshot (`GET /api/v3/depth`, `/fapi/v1/depth`,
/// `/dapi/v1/depth`) or a spot partial-depth frame for `instrument`.
pub fn parse_depth_snapshot(
    instrument: InstrumentId,
    body: &str,
    local: UnixNanos,
) -> Result<BookSnapshot, StreamError> {
    const WHAT: &str = "depth snapshot";
    let w: WireSnapshot<'_> = json(WHAT, body)?;
    let exchange = w
        .transaction_time
        .or(w.event_time)
        .map_or(local, UnixNanos::from_millis);
    Ok(BookSnapshot {
        instrument,
        last_update_id: w.last_update_id,
        bids: levels(WHAT, &w.bids)?,
        asks: levels(WHAT, &w.asks)?,
        times: EventTimes::new(exchange, local),
    })
}

/// The symbol part of a stream name (`btcusdt@depth@100ms` -> `BTCUSDT`).
fn symbol_of_stream(stream: &str) -> String {
    stream
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

fn dispatch(
    src: &StreamSource,
    event_type: &str,
    data: &str,
    local: UnixNanos,
) -> Result<Option<StreamMessage>, StreamError> {
    Ok(Some(match event_type {
        "depthUpdate" => StreamMessage::Depth(parse_depth_update(src, data, local)?),
        "bookTicker" => StreamMessage::BookTicker(parse_book_ticker(src, data, local)?),
        "trade" => StreamMessage::Trade(parse_trade(src, data, local)?),
        _ => return Ok(None),
    }))
}

/// Parses one WebSocket text frame from a market-data connection.
pub fn parse_frame(
    src: &StreamSource,
    frame: &str,
    local: UnixNanos,
) -> Result<StreamMessage, StreamError> {
    let (stream, data) = unwrap_combined(frame)?;
    if let Some(guess) = guess_event_type(data) {
        match dispatch(src, guess, data, local) {
            Ok(Some(m)) => return Ok(m),
            Ok(None) => {}
            // The guess may have picked a nested "e"; confirm before failing.
            Err(e) => {
                let exact = exact_event_type(data)?;
                if exact.as_deref() == Some(guess) {
                    return Err(e);
                }
            }
        }
    }
    let exact = exact_event_type(data)?;
    if let Some(e) = exact.as_deref() {
        if let Some(m) = dispatch(src, e, data, local)? {
            return Ok(m);
        }
        return Ok(StreamMessage::Unknown {
            event_type: e.to_string(),
        });
    }
    // No event type: spot bookTicker, spot partial depth, control replies.
    parse_untyped(src, stream.as_deref(), data, local)
}

fn parse_untyped(
    src: &StreamSource,
    stream: Option<&str>,
    data: &str,
    local: UnixNanos,
) -> Result<StreamMessage, StreamError> {
    #[derive(Deserialize)]
    struct Keys<'a> {
        u: Option<u64>,
        #[serde(rename = "B")]
        bid_qty: Option<serde::de::IgnoredAny>,
        #[serde(rename = "lastUpdateId")]
        last_update_id: Option<u64>,
        #[serde(borrow)]
        id: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow)]
        result: Option<&'a serde_json::value::RawValue>,
        code: Option<i64>,
        #[serde(borrow)]
        msg: Option<Cow<'a, str>>,
    }
    let k: Keys<'_> = json("stream", data)?;
    if k.u.is_some() && k.bid_qty.is_some() {
        return Ok(StreamMessage::BookTicker(parse_book_ticker(
            src, data, local,
        )?));
    }
    if k.last_update_id.is_some() {
        let symbol = stream.map(symbol_of_stream).ok_or(StreamError::Missing {
            what: "partial depth",
            field: "stream name (subscribe through /stream to get it)",
        })?;
        let instrument = src.instrument("partial depth", &symbol)?;
        return Ok(StreamMessage::PartialDepth(parse_depth_snapshot(
            instrument, data, local,
        )?));
    }
    if let Some(code) = k.code {
        return Ok(StreamMessage::Error {
            code,
            msg: k.msg.map(Cow::into_owned).unwrap_or_default(),
        });
    }
    if k.id.is_some() || k.result.is_some() {
        return Ok(StreamMessage::Response {
            id: k.id.map_or_else(|| "null".into(), |v| v.get().to_string()),
            result: k
                .result
                .map_or_else(|| "null".into(), |v| v.get().to_string()),
        });
    }
    Ok(StreamMessage::Unknown {
        event_type: stream.unwrap_or("(no event type)").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const USDM: StreamSource = StreamSource::binance(MarketKind::UsdM);
    const SPOT: StreamSource = StreamSource::binance(MarketKind::Spot);

    #[test]
    fn futures_depth_update() {
        let f = r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":5,"u":9,"pu":4,"b":[["58710.20","0.014"],["61510.90","0.000"]],"a":[["61800.30","1.5"]]}}"#;
        let StreamMessage::Depth(d) = parse_frame(&USDM, f, UnixNanos(7)).unwrap() else {
            panic!("not a depth update")
        };
        assert_eq!(d.instrument.to_string(), "BINANCE.USDM.BTCUSDT");
        assert_eq!(
            (d.first_update_id, d.last_update_id, d.prev_last_update_id),
            (5, 9, Some(4))
        );
        assert_eq!(d.deltas.len(), 3);
        assert_eq!(d.deltas[1].level.qty, Quantity::ZERO);
        assert_eq!(d.deltas[0].level.price.to_string(), "58710.20");
        assert_eq!(d.deltas[2].side, Side::Sell);
        assert_eq!(
            d.times,
            EventTimes::new(UnixNanos::from_millis(1723161256298), UnixNanos(7))
        );
    }

    #[test]
    fn spot_book_ticker_without_event_type() {
        let f = r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#;
        let StreamMessage::BookTicker(q) = parse_frame(&SPOT, f, UnixNanos(1)).unwrap() else {
            panic!("not a bookTicker")
        };
        assert_eq!(q.bid.price.to_string(), "61837.63000000");
        assert_eq!(q.ask.qty.to_string(), "1.54698000");
        assert_eq!(q.update_id, Some(50093239212));
        assert_eq!(q.times.exchange, UnixNanos(1));
    }

    #[test]
    fn trades_and_control_messages() {
        let f = r#"{"e":"trade","E":1,"T":2,"s":"BTCUSD_PERP","t":849714402,"p":"61804.8","q":"4","X":"MARKET","m":false}"#;
        let StreamMessage::Trade(t) =
            parse_frame(&StreamSource::binance(MarketKind::CoinM), f, UnixNanos(3)).unwrap()
        else {
            panic!("not a trade")
        };
        assert_eq!(t.aggressor, AggressorSide::Buyer);
        assert_eq!(t.trade_id, TradeId(849714402));
        assert_eq!(
            parse_frame(&SPOT, r#"{"result":null,"id":1}"#, UnixNanos(0)).unwrap(),
            StreamMessage::Response {
                id: "1".into(),
                result: "null".into()
            }
        );
        assert!(matches!(
            parse_frame(&SPOT, r#"{"code":2,"msg":"Invalid request"}"#, UnixNanos(0)).unwrap(),
            StreamMessage::Error { code: 2, .. }
        ));
        assert!(matches!(
            parse_frame(&SPOT, r#"{"e":"somethingNew","E":1}"#, UnixNanos(0)).unwrap(),
            StreamMessage::Unknown { .. }
        ));
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["x","1"]],"a":[]}"#,
            r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1"]],"a":[]}"#,
            r#"{"e":"trade","E":1,"s":"btc usdt","t":1,"p":"1","q":"1","m":true}"#,
            r#"{"stream":"x","data":"#,
        ] {
            assert!(parse_frame(&SPOT, bad, UnixNanos(0)).is_err(), "{bad}");
        }
    }
}
