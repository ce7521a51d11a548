//! Binance market-data stream messages, parsed into normalised `veloz-core` events.
//!
//! Entry points: [`FrameParser::parse`] (one parser value per connection, owned
//! by the caller, with a cache of the instrument ids of the symbols it has seen)
//! and the free function [`parse_frame`] (same results, no cache) take one
//! WebSocket text frame (raw stream or the combined-stream wrapper
//! `{"stream":…,"data":…}`) and return a [`StreamMessage`].
//! [`parse_depth_snapshot`] parses a REST depth snapshot body.
//!
//! Messages understood (digest §5): `depthUpdate` (spot `U`/`u`, futures with
//! `pu`), spot partial depth (`{lastUpdateId,bids,asks}`) and futures partial depth
//! (recognised by its `@depth<N>` stream name), `bookTicker` (spot form without
//! event type, futures form with `e`/`E`/`T`), `trade`, `aggTrade`, `kline`,
//! `markPriceUpdate`, `forceOrder`, `serverShutdown`, array streams such as
//! `!markPrice@arr`, and the control replies to SUBSCRIBE (`{"result","id"}`) and
//! errors (`{"code","msg"}`).
//!
//! Rules: unknown fields are ignored; an unknown event type is returned as
//! [`StreamMessage::Unknown`] (the caller counts and logs it); malformed input is
//! a [`StreamError`], never a panic. Prices and quantities are parsed exactly into
//! fixed point.
//!
//! # Two parsers, one result
//!
//! The three high-rate messages (`depthUpdate`, `bookTicker`, `trade`) first go
//! through a hand-written byte scanner (module `fast`) that reads decimals straight
//! into fixed point without building intermediate strings. It accepts only the
//! strict shape Binance sends (no string escapes, `b` before `a`, ...) and gives
//! up on anything else, in which case the serde-based reference parser
//! ([`parse_frame_reference`]) decides, including every error. Before it, a
//! fixed-layout scanner takes `bookTicker` frames in exactly Binance's member
//! order, reading 8 bytes at a time. Tests check that all of them give
//! identical results on every captured frame and on mutated frames.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use veloz_core::events::{
    Bar, BookDelta, BookDeltas, BookSnapshot, EventTimes, Level, Liquidation, MarkPrice, Quote,
    Trade,
};
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
    /// A field has a value outside the set this parser knows.
    #[error("{what} message: field {field} has the unexpected value {value:?}")]
    BadValue {
        /// Which message.
        what: &'static str,
        /// Which field.
        field: &'static str,
        /// The value received.
        value: String,
    },
}

/// An aggregated trade (`aggTrade`): trades of one taker order at one price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggTrade {
    /// The trade; its `trade_id` is the aggregate trade id (`a`).
    pub trade: Trade,
    /// First trade id in the aggregate (`f`).
    pub first_trade_id: TradeId,
    /// Last trade id in the aggregate (`l`).
    pub last_trade_id: TradeId,
}

/// One parsed stream message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamMessage {
    /// A diff-depth update (`depthUpdate`), spot or futures.
    Depth(BookDeltas),
    /// A partial-depth snapshot: spot `@depth5/10/20` (`{lastUpdateId,bids,asks}`),
    /// or futures `@depth5/10/20` (a `depthUpdate` body whose stream name says it
    /// is a top-N snapshot; `last_update_id` is its `u`).
    PartialDepth(BookSnapshot),
    /// Best bid/offer (`bookTicker`).
    BookTicker(Quote),
    /// A public trade (`trade`).
    Trade(Trade),
    /// An aggregated public trade (`aggTrade`).
    AggTrade(AggTrade),
    /// A kline/candlestick (`kline`), open or closed.
    Bar(Bar),
    /// Mark price and funding (`markPriceUpdate`).
    MarkPrice(MarkPrice),
    /// A liquidation order (`forceOrder`).
    Liquidation(Liquidation),
    /// The server will close this connection soon (`serverShutdown`): reconnect.
    ServerShutdown {
        /// Clocks (`E`).
        times: EventTimes,
    },
    /// An array stream (`!markPrice@arr`, ...): one message per element.
    Batch(Vec<StreamMessage>),
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

/// Counts event types a parser did not know, so the caller can log each new one
/// once and report totals (unknown events are never errors).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnknownEvents {
    counts: std::collections::BTreeMap<String, u64>,
}

impl UnknownEvents {
    /// Counts one unknown event type; `true` the first time this type is seen
    /// (log it then).
    pub fn record(&mut self, event_type: &str) -> bool {
        match self.counts.get_mut(event_type) {
            Some(n) => {
                *n += 1;
                false
            }
            None => {
                self.counts.insert(event_type.to_string(), 1);
                true
            }
        }
    }

    /// Counts the unknown event types in `m` (a batch counts each element);
    /// returns those seen for the first time.
    pub fn record_message(&mut self, m: &StreamMessage) -> Vec<String> {
        match m {
            StreamMessage::Unknown { event_type } if self.record(event_type) => {
                vec![event_type.clone()]
            }
            StreamMessage::Batch(v) => v.iter().flat_map(|m| self.record_message(m)).collect(),
            _ => Vec::new(),
        }
    }

    /// Each unknown type with its count, by name.
    pub fn counts(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counts.iter().map(|(k, &n)| (k.as_str(), n))
    }

    /// Total unknown events.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

impl StreamMessage {
    /// The normalised market events this message carries (none for control
    /// messages and unknown events; several for a batch).
    pub fn into_market_events(self) -> Vec<veloz_core::events::MarketEvent> {
        use veloz_core::events::MarketEvent as M;
        match self {
            Self::Depth(d) => vec![M::BookDeltas(d)],
            Self::PartialDepth(s) => vec![M::BookSnapshot(s)],
            Self::BookTicker(q) => vec![M::Quote(q)],
            Self::Trade(t) => vec![M::Trade(t)],
            Self::AggTrade(a) => vec![M::Trade(a.trade)],
            Self::Bar(b) => vec![M::Bar(b)],
            Self::MarkPrice(m) => vec![M::MarkPrice(m)],
            Self::Liquidation(l) => vec![M::Liquidation(l)],
            Self::Batch(v) => v
                .into_iter()
                .flat_map(StreamMessage::into_market_events)
                .collect(),
            Self::ServerShutdown { .. }
            | Self::Response { .. }
            | Self::Error { .. }
            | Self::Unknown { .. } => Vec::new(),
        }
    }
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

    /// The instrument id of `symbol` on this source.
    pub(crate) fn instrument(
        &self,
        what: &'static str,
        symbol: &str,
    ) -> Result<InstrumentId, StreamError> {
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

fn num<T>(what: &'static str, r: Result<T, FixedError>) -> Result<T, StreamError> {
    r.map_err(|source| StreamError::Number { what, source })
}

fn json<'a, T: Deserialize<'a>>(what: &'static str, s: &'a str) -> Result<T, StreamError> {
    serde_json::from_str(s).map_err(|source| StreamError::Json { what, source })
}

fn price(what: &'static str, s: &str) -> Result<Price, StreamError> {
    num(what, Price::parse(s))
}

fn qty(what: &'static str, s: &str) -> Result<Quantity, StreamError> {
    num(what, Quantity::parse(s))
}

/// `BUY`/`SELL` into a [`Side`].
pub(crate) fn side(what: &'static str, field: &'static str, s: &str) -> Result<Side, StreamError> {
    match s {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(StreamError::BadValue {
            what,
            field,
            value: s.to_string(),
        }),
    }
}

/// A `["price","qty"]` pair as sent on the wire.
type WireLevel<'a> = [Cow<'a, str>; 2];

fn level(what: &'static str, l: &WireLevel<'_>) -> Result<Level, StreamError> {
    Ok(Level {
        price: price(what, &l[0])?,
        qty: qty(what, &l[1])?,
    })
}

fn levels(what: &'static str, side: &[WireLevel<'_>]) -> Result<Vec<Level>, StreamError> {
    side.iter().map(|l| level(what, l)).collect()
}

/// Is `stream` a partial-depth stream name (`btcusdt@depth5`, `…@depth20@100ms`)?
fn is_partial_depth_stream(stream: Option<&str>) -> bool {
    stream
        .and_then(|s| s.split('@').nth(1))
        .and_then(|p| p.strip_prefix("depth"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A futures partial-depth frame is a `depthUpdate` body holding the top N levels.
fn partial_from_deltas(d: BookDeltas) -> BookSnapshot {
    let (bids, asks): (Vec<BookDelta>, Vec<BookDelta>) =
        d.deltas.into_iter().partition(|x| x.side == Side::Buy);
    BookSnapshot {
        instrument: d.instrument,
        last_update_id: d.last_update_id,
        bids: bids.into_iter().map(|x| x.level).collect(),
        asks: asks.into_iter().map(|x| x.level).collect(),
        times: d.times,
    }
}

fn depth_message(stream: Option<&str>, d: BookDeltas) -> StreamMessage {
    if is_partial_depth_stream(stream) {
        StreamMessage::PartialDepth(partial_from_deltas(d))
    } else {
        StreamMessage::Depth(d)
    }
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
        deltas: deltas.into(),
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
            price: price(WHAT, &w.bid)?,
            qty: qty(WHAT, &w.bid_qty)?,
        },
        ask: Level {
            price: price(WHAT, &w.ask)?,
            qty: qty(WHAT, &w.ask_qty)?,
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

const fn aggressor(buyer_is_maker: bool) -> AggressorSide {
    if buyer_is_maker {
        AggressorSide::Seller
    } else {
        AggressorSide::Buyer
    }
}

fn parse_trade(src: &StreamSource, data: &str, local: UnixNanos) -> Result<Trade, StreamError> {
    const WHAT: &str = "trade";
    let w: WireTrade<'_> = json(WHAT, data)?;
    Ok(Trade {
        instrument: src.instrument(WHAT, &w.symbol)?,
        trade_id: TradeId(w.trade_id),
        price: price(WHAT, &w.price)?,
        qty: qty(WHAT, &w.qty)?,
        aggressor: aggressor(w.buyer_is_maker),
        times: EventTimes::new(
            UnixNanos::from_millis(w.trade_time.unwrap_or(w.event_time)),
            local,
        ),
    })
}

#[derive(Deserialize)]
struct WireAggTrade<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "T")]
    trade_time: Option<u64>,
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(rename = "a")]
    agg_id: u64,
    #[serde(rename = "f")]
    first: u64,
    #[serde(rename = "l")]
    last: u64,
    #[serde(borrow, rename = "p")]
    price: Cow<'a, str>,
    #[serde(borrow, rename = "q")]
    qty: Cow<'a, str>,
    #[serde(rename = "m")]
    buyer_is_maker: bool,
}

fn parse_agg_trade(
    src: &StreamSource,
    data: &str,
    local: UnixNanos,
) -> Result<AggTrade, StreamError> {
    const WHAT: &str = "aggTrade";
    let w: WireAggTrade<'_> = json(WHAT, data)?;
    Ok(AggTrade {
        trade: Trade {
            instrument: src.instrument(WHAT, &w.symbol)?,
            trade_id: TradeId(w.agg_id),
            price: price(WHAT, &w.price)?,
            qty: qty(WHAT, &w.qty)?,
            aggressor: aggressor(w.buyer_is_maker),
            times: EventTimes::new(
                UnixNanos::from_millis(w.trade_time.unwrap_or(w.event_time)),
                local,
            ),
        },
        first_trade_id: TradeId(w.first),
        last_trade_id: TradeId(w.last),
    })
}

#[derive(Deserialize)]
struct WireKline<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "k")]
    k: WireKlineBody<'a>,
}

#[derive(Deserialize)]
struct WireKlineBody<'a> {
    #[serde(rename = "t")]
    open_time: u64,
    #[serde(rename = "T")]
    close_time: u64,
    #[serde(borrow, rename = "i")]
    interval: Cow<'a, str>,
    #[serde(borrow, rename = "o")]
    open: Cow<'a, str>,
    #[serde(borrow, rename = "h")]
    high: Cow<'a, str>,
    #[serde(borrow, rename = "l")]
    low: Cow<'a, str>,
    #[serde(borrow, rename = "c")]
    close: Cow<'a, str>,
    #[serde(borrow, rename = "v")]
    volume: Cow<'a, str>,
    #[serde(rename = "x")]
    closed: bool,
}

/// Seconds in a Binance kline interval (`1s`, `15m`, `4h`, `1d`, `1w`, `1M`).
/// A month has no fixed length: it is measured from the bar's own open and close
/// times.
fn interval_secs(interval: &str, open_ms: u64, close_ms: u64) -> Option<u32> {
    let unit = interval.bytes().last()?;
    let n: u32 = interval.get(..interval.len() - 1)?.parse().ok()?;
    let per = match unit {
        b's' => 1,
        b'm' => 60,
        b'h' => 3_600,
        b'd' => 86_400,
        b'w' => 604_800,
        b'M' => {
            // Binance's close time is the last millisecond of the bar.
            let ms = close_ms.checked_add(1)?.checked_sub(open_ms)?;
            return u32::try_from(ms / 1000).ok().filter(|&s| s > 0);
        }
        _ => return None,
    };
    n.checked_mul(per).filter(|&s| s > 0)
}

fn parse_kline(src: &StreamSource, data: &str, local: UnixNanos) -> Result<Bar, StreamError> {
    const WHAT: &str = "kline";
    let w: WireKline<'_> = json(WHAT, data)?;
    let k = &w.k;
    let interval = interval_secs(&k.interval, k.open_time, k.close_time).ok_or_else(|| {
        StreamError::BadValue {
            what: WHAT,
            field: "k.i",
            value: k.interval.to_string(),
        }
    })?;
    // A closed bar is stamped with its close boundary; a bar in progress with the
    // event time (its close time is still in the future).
    let exchange = if k.closed {
        UnixNanos::from_millis(k.close_time.saturating_add(1))
    } else {
        UnixNanos::from_millis(w.event_time)
    };
    Ok(Bar {
        instrument: src.instrument(WHAT, &w.symbol)?,
        interval_secs: interval,
        open_time: UnixNanos::from_millis(k.open_time),
        open: price(WHAT, &k.open)?,
        high: price(WHAT, &k.high)?,
        low: price(WHAT, &k.low)?,
        close: price(WHAT, &k.close)?,
        volume: qty(WHAT, &k.volume)?,
        closed: k.closed,
        times: EventTimes::new(exchange, local),
    })
}

#[derive(Deserialize)]
struct WireMarkPrice<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "p")]
    mark: Cow<'a, str>,
    #[serde(borrow, rename = "i")]
    index: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "r")]
    funding_rate: Option<Cow<'a, str>>,
    #[serde(rename = "T")]
    next_funding: Option<u64>,
}

fn parse_mark_price(
    src: &StreamSource,
    data: &str,
    local: UnixNanos,
) -> Result<MarkPrice, StreamError> {
    const WHAT: &str = "markPriceUpdate";
    let w: WireMarkPrice<'_> = json(WHAT, data)?;
    // COIN-M delivery contracts send `"r":""` and `"T":0`: no funding.
    let opt_price = |s: &Option<Cow<'_, str>>| -> Result<Option<Price>, StreamError> {
        match s.as_deref() {
            None | Some("") => Ok(None),
            Some(v) => price(WHAT, v).map(Some),
        }
    };
    Ok(MarkPrice {
        instrument: src.instrument(WHAT, &w.symbol)?,
        mark: price(WHAT, &w.mark)?,
        index: opt_price(&w.index)?,
        funding_rate: opt_price(&w.funding_rate)?,
        next_funding_time: w
            .next_funding
            .filter(|&t| t > 0)
            .map(UnixNanos::from_millis),
        times: EventTimes::new(UnixNanos::from_millis(w.event_time), local),
    })
}

#[derive(Deserialize)]
struct WireForceOrder<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(borrow, rename = "o")]
    o: WireForceOrderBody<'a>,
}

#[derive(Deserialize)]
struct WireForceOrderBody<'a> {
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "S")]
    side: Cow<'a, str>,
    #[serde(borrow, rename = "p")]
    price: Cow<'a, str>,
    #[serde(borrow, rename = "ap")]
    avg_price: Cow<'a, str>,
    #[serde(borrow, rename = "z")]
    filled: Cow<'a, str>,
    #[serde(rename = "T")]
    trade_time: Option<u64>,
}

fn parse_force_order(
    src: &StreamSource,
    data: &str,
    local: UnixNanos,
) -> Result<Liquidation, StreamError> {
    const WHAT: &str = "forceOrder";
    let w: WireForceOrder<'_> = json(WHAT, data)?;
    let o = &w.o;
    Ok(Liquidation {
        instrument: src.instrument(WHAT, &o.symbol)?,
        side: side(WHAT, "o.S", &o.side)?,
        price: price(WHAT, &o.price)?,
        avg_price: price(WHAT, &o.avg_price)?,
        // The accumulated filled quantity: what traded at `avg_price`.
        qty: qty(WHAT, &o.filled)?,
        times: EventTimes::new(
            UnixNanos::from_millis(o.trade_time.unwrap_or(w.event_time)),
            local,
        ),
    })
}

#[derive(Deserialize)]
struct WireShutdown {
    #[serde(rename = "E")]
    event_time: u64,
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

fn exact_event_type(data: &str) -> Result<Option<Cow<'_, str>>, StreamError> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(borrow, rename = "e")]
        e: Option<Cow<'a, str>>,
    }
    let p: Peek<'_> = json("stream", data)?;
    Ok(p.e)
}

fn dispatch(
    src: &StreamSource,
    stream: Option<&str>,
    event_type: &str,
    data: &str,
    local: UnixNanos,
) -> Result<StreamMessage, StreamError> {
    Ok(match event_type {
        "depthUpdate" => depth_message(stream, parse_depth_update(src, data, local)?),
        "bookTicker" => StreamMessage::BookTicker(parse_book_ticker(src, data, local)?),
        "trade" => StreamMessage::Trade(parse_trade(src, data, local)?),
        "aggTrade" => StreamMessage::AggTrade(parse_agg_trade(src, data, local)?),
        "kline" => StreamMessage::Bar(parse_kline(src, data, local)?),
        "markPriceUpdate" => StreamMessage::MarkPrice(parse_mark_price(src, data, local)?),
        "forceOrder" => StreamMessage::Liquidation(parse_force_order(src, data, local)?),
        "serverShutdown" => {
            let w: WireShutdown = json("serverShutdown", data)?;
            StreamMessage::ServerShutdown {
                times: EventTimes::new(UnixNanos::from_millis(w.event_time), local),
            }
        }
        other => StreamMessage::Unknown {
            event_type: other.to_string(),
        },
    })
}

/// The market-data frame parser of one connection.
///
/// Owned by the caller (one per WebSocket connection, no shared or hidden
/// state): it keeps a small cache from the symbols seen on the wire to their
/// [`InstrumentId`]s, so a frame for a known symbol compares a few bytes
/// instead of validating and building the id again. Results are exactly those
/// of [`parse_frame`], which is the same parser without the cache.
#[derive(Debug, Clone)]
pub struct FrameParser {
    src: StreamSource,
    symbols: fast::SymbolCache,
}

impl FrameParser {
    /// How many distinct symbols the cache holds; beyond that, the entry
    /// filled longest ago is replaced (still correct, only slower).
    pub const SYMBOL_CACHE_CAPACITY: usize = 64;

    /// A parser for frames from `src`, with an empty symbol cache.
    pub fn new(src: StreamSource) -> Self {
        Self {
            src,
            symbols: fast::SymbolCache::new(Self::SYMBOL_CACHE_CAPACITY),
        }
    }

    /// Where the frames come from.
    pub fn source(&self) -> StreamSource {
        self.src
    }

    /// Parses one WebSocket text frame (see [`parse_frame`]).
    pub fn parse(&mut self, frame: &str, local: UnixNanos) -> Result<StreamMessage, StreamError> {
        parse_with(&self.src, &mut self.symbols, frame, local)
    }
}

fn parse_with(
    src: &StreamSource,
    symbols: &mut fast::SymbolCache,
    frame: &str,
    local: UnixNanos,
) -> Result<StreamMessage, StreamError> {
    if let Some(q) = fast::book_ticker_frame(src, symbols, frame, local) {
        return Ok(StreamMessage::BookTicker(q));
    }
    if let Some(m) = fast::parse_frame(src, symbols, frame, local) {
        return Ok(m);
    }
    parse_frame_reference(src, frame, local)
}

/// Parses one WebSocket text frame from a market-data connection.
///
/// A long-lived connection should use a [`FrameParser`] instead: same results,
/// and it remembers the instrument ids of the symbols it has seen.
pub fn parse_frame(
    src: &StreamSource,
    frame: &str,
    local: UnixNanos,
) -> Result<StreamMessage, StreamError> {
    parse_with(src, &mut fast::SymbolCache::new(0), frame, local)
}

/// The parser as it was before the fixed-shape `bookTicker` scanner and the
/// symbol cache (generic byte scanner, then the reference parser): same
/// results. Kept as the baseline the benchmarks compare against, and as a third
/// opinion in tests.
#[doc(hidden)]
pub fn parse_frame_generic(
    src: &StreamSource,
    frame: &str,
    local: UnixNanos,
) -> Result<StreamMessage, StreamError> {
    if let Some(m) = fast::parse_frame(src, &mut fast::SymbolCache::new(0), frame, local) {
        return Ok(m);
    }
    parse_frame_reference(src, frame, local)
}

/// The serde-only parser behind [`parse_frame`]: same results, slower. Public so
/// tests and fuzz targets can check that the fast scanner agrees with it.
#[doc(hidden)]
pub fn parse_frame_reference(
    src: &StreamSource,
    frame: &str,
    local: UnixNanos,
) -> Result<StreamMessage, StreamError> {
    let (stream, data) = unwrap_combined(frame)?;
    parse_payload(src, stream.as_deref(), data, local)
}

fn parse_payload(
    src: &StreamSource,
    stream: Option<&str>,
    data: &str,
    local: UnixNanos,
) -> Result<StreamMessage, StreamError> {
    if data.trim_start().starts_with('[') {
        let items: Vec<&serde_json::value::RawValue> = json("array stream", data)?;
        return items
            .into_iter()
            .map(|item| parse_payload(src, stream, item.get(), local))
            .collect::<Result<Vec<_>, _>>()
            .map(StreamMessage::Batch);
    }
    match exact_event_type(data)? {
        Some(e) => dispatch(src, stream, &e, data, local),
        // No event type: spot bookTicker, spot partial depth, control replies.
        None => parse_untyped(src, stream, data, local),
    }
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
        bid_qty: Option<IgnoredAny>,
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

/// The fast scanner for `depthUpdate`, `bookTicker` and `trade` frames.
///
/// Every function returns `None` as soon as the input leaves the strict shape it
/// handles; the caller then runs the reference parser, which produces the same
/// value or the typed error. So this module never decides that input is bad.
mod fast {
    use veloz_core::events::{BookDelta, BookDeltas, EventTimes, Level, Quote, Trade};
    use veloz_core::fixed::POW10;
    use veloz_core::{InstrumentId, Price, Quantity, Side, Symbol, TradeId, UnixNanos};

    use super::{aggressor, depth_message, StreamMessage, StreamSource};

    /// Nesting depth beyond which skipping an ignored value gives up.
    const MAX_DEPTH: u32 = 64;

    /// A position in the frame.
    struct Cur<'a> {
        s: &'a str,
        i: usize,
    }

    impl<'a> Cur<'a> {
        fn new(s: &'a str) -> Self {
            Self { s, i: 0 }
        }

        #[inline]
        fn peek(&self) -> Option<u8> {
            self.s.as_bytes().get(self.i).copied()
        }

        #[inline]
        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
                self.i += 1;
            }
        }

        #[inline(always)]
        fn eat(&mut self, c: u8) -> Option<()> {
            // Binance sends no whitespace: test the byte before skipping any.
            if self.peek() == Some(c) {
                self.i += 1;
                return Some(());
            }
            self.ws();
            if self.peek() == Some(c) {
                self.i += 1;
                Some(())
            } else {
                None
            }
        }

        /// Only whitespace is left.
        fn end(&mut self) -> Option<()> {
            self.ws();
            (self.i == self.s.len()).then_some(())
        }

        /// A string without escapes or control characters.
        #[inline]
        fn str(&mut self) -> Option<&'a str> {
            self.eat(b'"')?;
            let b = self.s.as_bytes();
            let start = self.i;
            let mut j = start;
            loop {
                match *b.get(j)? {
                    b'"' => break,
                    b'\\' | 0..=0x1f => return None,
                    _ => j += 1,
                }
            }
            self.i = j + 1;
            // The quotes are ASCII, so both ends are character boundaries.
            self.s.get(start..j)
        }

        /// A quoted decimal `"D+(.D{1,8})?"` (at most 10 integer digits) read
        /// straight into raw units and precision in one pass; any other string
        /// content goes through the exact general parser.
        #[inline(always)]
        fn decimal(&mut self) -> Option<(i64, u8)> {
            let start = self.i;
            self.eat(b'"')?;
            let b = self.s.as_bytes();
            let digit = |i: usize| b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9);
            let mut i = self.i;
            // Wrapping arithmetic: too many digits are refused below, after the
            // loops, so the loops stay short.
            let mut v: u64 = 0;
            while let Some(d) = digit(i) {
                v = v.wrapping_mul(10).wrapping_add(u64::from(d));
                i += 1;
            }
            let int_digits = i - self.i;
            let mut prec = 0;
            let mut dot = false;
            if b.get(i) == Some(&b'.') {
                dot = true;
                i += 1;
                let frac_start = i;
                while let Some(d) = digit(i) {
                    v = v.wrapping_mul(10).wrapping_add(u64::from(d));
                    i += 1;
                }
                prec = i - frac_start;
            }
            if int_digits == 0
                || int_digits > 10
                || (dot && prec == 0)
                || prec > 8
                || b.get(i) != Some(&b'"')
            {
                return self.decimal_slow(start);
            }
            self.i = i + 1;
            // At most 10 + 8 digits: below 10^18, so no wrap happened and the
            // scaled value fits an i64.
            Some((v as i64 * POW10[8 - prec], prec as u8))
        }

        #[cold]
        fn decimal_slow(&mut self, start: usize) -> Option<(i64, u8)> {
            self.i = start;
            let s = self.str()?;
            Price::parse(s).ok().map(|p| (p.raw(), p.precision()))
        }

        #[inline]
        fn price(&mut self) -> Option<Price> {
            self.decimal().map(|(raw, p)| Price::from_raw(raw, p))
        }

        #[inline]
        fn qty(&mut self) -> Option<Quantity> {
            self.decimal().map(|(raw, p)| Quantity::from_raw(raw, p))
        }

        /// An object key and its colon.
        #[inline]
        fn key(&mut self) -> Option<&'a str> {
            let k = self.str()?;
            self.eat(b':')?;
            Some(k)
        }

        /// A JSON integer that fits a `u64` (what serde accepts for `u64`).
        fn u64(&mut self) -> Option<u64> {
            self.ws();
            let b = self.s.as_bytes();
            let start = self.i;
            let mut i = start;
            let mut v: u64 = 0;
            while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9) {
                v = v.wrapping_mul(10).wrapping_add(u64::from(d));
                i += 1;
            }
            let len = i - start;
            if len == 0
                || (len > 1 && b[start] == b'0')
                || matches!(b.get(i), Some(b'.' | b'e' | b'E'))
            {
                return None;
            }
            if len > 19 {
                // 20 digits may not fit: redo it exactly (an overflow is None).
                v = self.s.get(start..i)?.parse().ok()?;
            }
            self.i = i;
            Some(v)
        }

        /// `null` (for `Option` fields) or an integer.
        fn opt_u64(&mut self) -> Option<Option<u64>> {
            self.ws();
            if self.s.as_bytes()[self.i..].starts_with(b"null") {
                self.i += 4;
                return Some(None);
            }
            self.u64().map(Some)
        }

        fn bool(&mut self) -> Option<bool> {
            self.ws();
            let rest = &self.s.as_bytes()[self.i..];
            if rest.starts_with(b"true") {
                self.i += 4;
                Some(true)
            } else if rest.starts_with(b"false") {
                self.i += 5;
                Some(false)
            } else {
                None
            }
        }

        /// Skips any JSON value (an ignored field), strictly.
        fn skip(&mut self, depth: u32) -> Option<()> {
            if depth > MAX_DEPTH {
                return None;
            }
            self.ws();
            match self.peek()? {
                b'"' => self.str().map(drop),
                b'{' => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        return Some(());
                    }
                    loop {
                        self.key()?;
                        self.skip(depth + 1)?;
                        self.ws();
                        match self.peek()? {
                            b',' => self.i += 1,
                            b'}' => {
                                self.i += 1;
                                return Some(());
                            }
                            _ => return None,
                        }
                    }
                }
                b'[' => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        return Some(());
                    }
                    loop {
                        self.skip(depth + 1)?;
                        self.ws();
                        match self.peek()? {
                            b',' => self.i += 1,
                            b']' => {
                                self.i += 1;
                                return Some(());
                            }
                            _ => return None,
                        }
                    }
                }
                b't' => self.literal(b"true"),
                b'f' => self.literal(b"false"),
                b'n' => self.literal(b"null"),
                _ => self.number(),
            }
        }

        fn literal(&mut self, lit: &[u8]) -> Option<()> {
            if self.s.as_bytes()[self.i..].starts_with(lit) {
                self.i += lit.len();
                Some(())
            } else {
                None
            }
        }

        /// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
        fn number(&mut self) -> Option<()> {
            let b = self.s.as_bytes();
            let digits = |i: &mut usize| {
                let s = *i;
                while b.get(*i).is_some_and(u8::is_ascii_digit) {
                    *i += 1;
                }
                *i - s
            };
            let mut i = self.i;
            if b.get(i) == Some(&b'-') {
                i += 1;
            }
            let s = i;
            let n = digits(&mut i);
            if n == 0 || (n > 1 && b[s] == b'0') {
                return None;
            }
            if b.get(i) == Some(&b'.') {
                i += 1;
                if digits(&mut i) == 0 {
                    return None;
                }
            }
            if matches!(b.get(i), Some(b'e' | b'E')) {
                i += 1;
                if matches!(b.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
                if digits(&mut i) == 0 {
                    return None;
                }
            }
            self.i = i;
            Some(())
        }

        /// Walks the members of the object whose `{` is next; `f` must consume
        /// each value it is given. Returns after the closing `}`.
        ///
        /// With `resume`, the cursor is just after the object's first member
        /// (already read by the caller) rather than before its `{`.
        #[inline]
        fn object(
            &mut self,
            resume: bool,
            mut f: impl FnMut(&str, &mut Self) -> Option<()>,
        ) -> Option<()> {
            if resume {
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        return Some(());
                    }
                    _ => return None,
                }
            } else {
                self.eat(b'{')?;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Some(());
                }
            }
            loop {
                let k = self.key()?;
                f(k, self)?;
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        return Some(());
                    }
                    _ => return None,
                }
            }
        }
    }

    /// Instrument ids of the symbols seen on one connection (see
    /// [`super::FrameParser`]). With capacity 0 it caches nothing and never
    /// allocates: every lookup validates the symbol and builds the id.
    #[derive(Debug, Clone)]
    pub(super) struct SymbolCache {
        entries: Vec<CachedSymbol>,
        capacity: usize,
        /// The entry that matched last (tried first).
        last: usize,
        /// The entry replaced next once the cache is full.
        victim: usize,
    }

    #[derive(Debug, Clone, Copy)]
    struct CachedSymbol {
        /// The symbol's bytes (valid symbol characters only, so never a quote
        /// or a backslash).
        bytes: [u8; Symbol::MAX_LEN],
        len: usize,
        /// For symbols of at most 15 bytes: the symbol and its closing quote
        /// as a little-endian 16-byte word, and the mask of those bytes, to
        /// compare with the frame in one go.
        probe: Option<(u128, u128)>,
        id: InstrumentId,
    }

    impl CachedSymbol {
        fn new(symbol: &str, id: InstrumentId) -> Option<Self> {
            let mut bytes = [0u8; Symbol::MAX_LEN];
            // A valid symbol is at most `MAX_LEN` bytes long.
            bytes
                .get_mut(..symbol.len())?
                .copy_from_slice(symbol.as_bytes());
            let probe = (symbol.len() < 16).then(|| {
                let mut w = [0u8; 16];
                w[..symbol.len()].copy_from_slice(symbol.as_bytes());
                w[symbol.len()] = b'"';
                let mask = u128::MAX >> (8 * (15 - symbol.len()));
                (u128::from_le_bytes(w), mask)
            });
            Some(Self {
                bytes,
                len: symbol.len(),
                probe,
                id,
            })
        }

        #[inline]
        fn key(&self) -> &[u8] {
            // `len` never exceeds the array; `get` keeps this panic-free anyway.
            self.bytes.get(..self.len).unwrap_or_default()
        }

        /// Is the string at `at` in `b` (after its opening quote) this symbol,
        /// closing quote included?
        #[inline(always)]
        fn is_at(&self, b: &[u8], at: usize) -> bool {
            if let (Some((probe, mask)), Some(Ok(w))) =
                (self.probe, b.get(at..at + 16).map(<[u8; 16]>::try_from))
            {
                return u128::from_le_bytes(w) & mask == probe;
            }
            let end = at + self.len;
            b.get(at..end) == Some(self.key()) && b.get(end) == Some(&b'"')
        }
    }

    impl SymbolCache {
        /// How many symbols are cached.
        #[cfg(test)]
        pub(super) fn len(&self) -> usize {
            self.entries.len()
        }

        /// A cache of at most `capacity` symbols (0: no caching).
        pub(super) const fn new(capacity: usize) -> Self {
            Self {
                entries: Vec::new(),
                capacity,
                last: 0,
                victim: 0,
            }
        }

        /// The instrument id of `symbol` on `src`, or `None` if it is not a
        /// valid symbol (the reference parser then reports the error).
        #[inline]
        pub(super) fn get(&mut self, src: &StreamSource, symbol: &str) -> Option<InstrumentId> {
            if let Some(e) = self.entries.get(self.last) {
                if e.key() == symbol.as_bytes() {
                    return Some(e.id);
                }
            }
            self.find_or_insert(src, symbol)
        }

        /// The symbol string starting at byte `at` of `s` (just after its
        /// opening quote): its instrument id and the position after the closing
        /// quote. `None` when it is not a valid symbol string.
        #[inline]
        fn get_at(
            &mut self,
            src: &StreamSource,
            s: &str,
            at: usize,
        ) -> Option<(InstrumentId, usize)> {
            let b = s.as_bytes();
            // The usual case: the same symbol as last time, compared in place.
            // A cached symbol holds no quote or backslash, so the quote after
            // it ends the string.
            if let Some(e) = self.entries.get(self.last) {
                if e.is_at(b, at) {
                    return Some((e.id, at + e.len + 1));
                }
            }
            let rest = b.get(at..)?;
            let len = rest
                .iter()
                .take(Symbol::MAX_LEN + 1)
                .position(|&c| c == b'"')?;
            // Up to an ASCII quote after an ASCII quote: character boundaries.
            let symbol = s.get(at..at + len)?;
            let id = self.find_or_insert(src, symbol)?;
            Some((id, at + len + 1))
        }

        #[inline(never)]
        fn find_or_insert(&mut self, src: &StreamSource, symbol: &str) -> Option<InstrumentId> {
            if let Some(i) = self
                .entries
                .iter()
                .position(|e| e.key() == symbol.as_bytes())
            {
                self.last = i;
                return self.entries.get(i).map(|e| e.id);
            }
            let id = src.instrument("stream", symbol).ok()?;
            if self.capacity > 0 {
                let e = CachedSymbol::new(symbol, id)?;
                if self.entries.len() < self.capacity {
                    self.last = self.entries.len();
                    self.entries.push(e);
                } else if let Some(slot) = self.entries.get_mut(self.victim) {
                    *slot = e;
                    self.last = self.victim;
                    self.victim = (self.victim + 1) % self.capacity;
                }
            }
            Some(id)
        }
    }

    /// `0x01` in every byte.
    const ONES: u64 = 0x0101_0101_0101_0101;
    /// The top bit of every byte.
    const TOPS: u64 = 0x8080_8080_8080_8080;

    /// The 8 bytes of `b` from `i` as a little-endian word (the byte at `i` is
    /// the lowest); past the end of `b` the bytes are 0.
    #[inline(always)]
    fn load8(b: &[u8], i: usize) -> u64 {
        // (`i` is at most a few words past the end of a slice: no overflow.)
        match b.get(i..i + 8).map(<[u8; 8]>::try_from) {
            Some(Ok(w)) => u64::from_le_bytes(w),
            _ => load8_near_end(b, i),
        }
    }

    /// [`load8`] when fewer than 8 bytes are left.
    #[cold]
    #[inline(never)]
    fn load8_near_end(b: &[u8], i: usize) -> u64 {
        let mut w = [0u8; 8];
        let rest = b.get(i..).unwrap_or_default();
        let n = rest.len().min(8);
        w[..n].copy_from_slice(&rest[..n]);
        u64::from_le_bytes(w)
    }

    /// How many of the lowest bytes of `w` are ASCII digits (0 to 8), and the
    /// number they spell. No branch depends on the digits.
    #[inline(always)]
    fn digits8(w: u64) -> (u64, usize) {
        // Digits become 0..=9; a byte is not a digit if its high nibble is set
        // now or after adding 6 (0x0A..=0x0F). A carry out of a byte can only
        // mark a byte above the first non-digit, which is never used.
        let d = w ^ (ONES * u64::from(b'0'));
        let not_digit = (d | d.wrapping_add(ONES * 6)) & (ONES * 0xF0);
        let n = (not_digit.trailing_zeros() / 8) as usize;
        if n == 0 {
            return (0, 0);
        }
        // Keep the n digits, moved to the top (the first digit is the lowest
        // byte, the most significant): the bytes below become leading zeros.
        let d = d << (8 * (8 - n));
        // Pairs, then quads, then all eight: each step multiplies the more
        // significant part and adds the other; the masks drop mixed lanes.
        let d = (d.wrapping_mul(10) + (d >> 8)) & 0x00FF_00FF_00FF_00FF;
        let d = (d.wrapping_mul(100) + (d >> 16)) & 0x0000_FFFF_0000_FFFF;
        ((d.wrapping_mul(10_000) + (d >> 32)) & 0xFFFF_FFFF, n)
    }

    /// `10^n` for `n` in `0..=8`.
    #[inline(always)]
    fn pow10(n: usize) -> u64 {
        POW10.get(n).map_or(0, |&p| p as u64)
    }

    /// A cursor for the fixed-shape scanner: the frame must follow one exact
    /// byte layout, member by member, or the scanner gives up.
    struct Fixed<'a> {
        s: &'a str,
        i: usize,
    }

    impl Fixed<'_> {
        /// The exact bytes `l` come next.
        #[inline(always)]
        fn lit<const N: usize>(&mut self, l: &[u8; N]) -> Option<()> {
            let end = self.i + N;
            if self.s.as_bytes().get(self.i..end)? == l {
                self.i = end;
                Some(())
            } else {
                None
            }
        }

        /// The rest of a string whose opening quote was read: no escapes, no
        /// control characters. The cursor ends after the closing quote.
        #[inline(always)]
        fn string_rest(&mut self) -> Option<()> {
            let b = self.s.as_bytes();
            let mut i = self.i;
            loop {
                // Eight bytes at a time, marking quotes, backslashes and bytes
                // below 0x20 (`x - 1` borrows only where a byte is 0, and a
                // false mark can only sit above a true one).
                let w = load8(b, i);
                let zero = |x: u64| x.wrapping_sub(ONES) & !x & TOPS;
                let special = zero(w ^ (ONES * u64::from(b'"')))
                    | zero(w ^ (ONES * u64::from(b'\\')))
                    | (w.wrapping_sub(ONES * 0x20) & !w & TOPS);
                if special != 0 {
                    i += (special.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            // Past the end `load8` reads zeros, which are control bytes: `i`
            // never runs more than 8 past the end, and `get` checks it.
            if b.get(i) != Some(&b'"') {
                return None;
            }
            self.i = i + 1;
            Some(())
        }

        /// A JSON integer of at most 19 digits (so it fits a `u64`), without
        /// sign or leading zero. What follows is checked by the next literal.
        #[inline(always)]
        fn u64(&mut self) -> Option<u64> {
            let b = self.s.as_bytes();
            let start = self.i;
            let (mut v, mut n) = digits8(load8(b, start));
            let mut total = n;
            // Ids and millisecond times have 10 to 16 digits.
            while n == 8 && total <= 19 {
                let (w, m) = digits8(load8(b, start + total));
                v = v.wrapping_mul(pow10(m)).wrapping_add(w);
                total += m;
                n = m;
            }
            if total == 0 || total > 19 || (total > 1 && b.get(start) == Some(&b'0')) {
                return None;
            }
            // At most 19 digits: below 10^19, so nothing wrapped.
            self.i = start + total;
            Some(v)
        }

        /// The body of a quoted decimal whose opening quote was read:
        /// `D{1,10}(.D{1,8})?` then the closing quote, in raw fixed-point units
        /// and precision (what `Price::parse` gives for that text).
        #[inline(always)]
        fn decimal(&mut self) -> Option<(i64, u8)> {
            let b = self.s.as_bytes();
            let mut i = self.i;
            let (mut v, mut int_digits) = digits8(load8(b, i));
            if int_digits == 8 {
                let (w, m) = digits8(load8(b, i + 8));
                v = v.wrapping_mul(pow10(m)).wrapping_add(w);
                int_digits += m;
            }
            if int_digits == 0 || int_digits > 10 {
                return None;
            }
            i += int_digits;
            let mut prec = 0;
            if b.get(i) == Some(&b'.') {
                let (f, m) = digits8(load8(b, i + 1));
                if m == 0 {
                    return None;
                }
                // A ninth fraction digit fails the closing-quote test below.
                v = v.wrapping_mul(pow10(m)).wrapping_add(f);
                prec = m;
                i += 1 + m;
            }
            if b.get(i) != Some(&b'"') {
                return None;
            }
            self.i = i + 1;
            // At most 10 + 8 digits: below 10^18, so nothing wrapped and the
            // scaled value fits an i64.
            Some(((v * pow10(8 - prec)) as i64, prec as u8))
        }

        #[inline(always)]
        fn price(&mut self) -> Option<Price> {
            self.decimal().map(|(raw, p)| Price::from_raw(raw, p))
        }

        #[inline(always)]
        fn qty(&mut self) -> Option<Quantity> {
            self.decimal().map(|(raw, p)| Quantity::from_raw(raw, p))
        }

        /// Only whitespace is left.
        #[inline]
        fn end(&self) -> Option<()> {
            let rest = self.s.as_bytes().get(self.i..)?;
            rest.iter()
                .all(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
                .then_some(())
        }
    }

    /// A `bookTicker` frame in exactly the layout Binance sends, with or without
    /// the combined-stream wrapper:
    ///
    /// * futures: `{"e":"bookTicker","u":…,"s":"…","b":"…","B":"…","a":"…","A":"…","T":…,"E":…}`
    /// * spot: `{"u":…,"s":"…","b":"…","B":"…","a":"…","A":"…"}`
    ///
    /// Members are matched at fixed offsets one after the other, so each key is
    /// compared once and no other key can appear (no duplicates, no unknown
    /// fields). Any other layout gives `None` and the general scanner decides.
    #[inline]
    pub(super) fn book_ticker_frame(
        src: &StreamSource,
        symbols: &mut SymbolCache,
        frame: &str,
        local: UnixNanos,
    ) -> Option<Quote> {
        let mut c = Fixed { s: frame, i: 0 };
        let wrapped = c.lit(b"{\"stream\":\"").is_some();
        if wrapped {
            c.string_rest()?;
            c.lit(b",\"data\":")?;
        }
        if c.lit(b"{\"e\":\"bookTicker\",\"u\":").is_none() {
            c.lit(b"{\"u\":")?;
        }
        let update_id = c.u64()?;
        c.lit(b",\"s\":\"")?;
        let (instrument, after) = symbols.get_at(src, frame, c.i)?;
        c.i = after;
        c.lit(b",\"b\":\"")?;
        let bid = c.price()?;
        c.lit(b",\"B\":\"")?;
        let bid_qty = c.qty()?;
        c.lit(b",\"a\":\"")?;
        let ask = c.price()?;
        c.lit(b",\"A\":\"")?;
        let ask_qty = c.qty()?;
        // Spot sends no venue time: the receive time stands in for it.
        let exchange = if c.lit(b"}").is_some() {
            local
        } else {
            c.lit(b",\"T\":")?;
            let t = c.u64()?;
            c.lit(b",\"E\":")?;
            c.u64()?;
            c.lit(b"}")?;
            UnixNanos::from_millis(t)
        };
        if wrapped {
            c.lit(b"}")?;
        }
        c.end()?;
        Some(Quote {
            instrument,
            bid: Level {
                price: bid,
                qty: bid_qty,
            },
            ask: Level {
                price: ask,
                qty: ask_qty,
            },
            update_id: Some(update_id),
            times: EventTimes::new(exchange, local),
        })
    }

    /// Sets a field once; a repeated known key is left to serde (which rejects it).
    #[inline]
    fn once<T>(slot: &mut Option<T>, v: Option<T>) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(v?);
        Some(())
    }

    /// `[["p","q"],…]` appended to `out`.
    fn levels(c: &mut Cur<'_>, side: Side, out: &mut Vec<BookDelta>) -> Option<()> {
        c.eat(b'[')?;
        c.ws();
        if c.peek() == Some(b']') {
            c.i += 1;
            return Some(());
        }
        loop {
            c.eat(b'[')?;
            let price = c.price()?;
            c.eat(b',')?;
            let qty = c.qty()?;
            c.eat(b']')?;
            out.push(BookDelta {
                side,
                level: Level { price, qty },
            });
            c.ws();
            match c.peek()? {
                b',' => c.i += 1,
                b']' => {
                    c.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `resume`: the caller has read the leading `"e":"depthUpdate"` member.
    fn depth(
        src: &StreamSource,
        symbols: &mut SymbolCache,
        c: &mut Cur<'_>,
        local: UnixNanos,
        size_hint: usize,
        resume: bool,
    ) -> Option<BookDeltas> {
        let mut e = resume.then_some("depthUpdate");
        let (mut big_e, mut t, mut s) = (None, None, None);
        let (mut first, mut last, mut prev) = (None, None, None);
        let (mut bids_done, mut asks_done) = (false, false);
        // About 20 bytes per level on the wire.
        let mut deltas = Vec::with_capacity(size_hint / 20 + 2);
        c.object(resume, |k, c| match k {
            "e" => once(&mut e, c.str().filter(|&v| v == "depthUpdate")),
            "E" => once(&mut big_e, c.u64()),
            "T" => once(&mut t, c.opt_u64()),
            "s" => once(&mut s, c.str()),
            "U" => once(&mut first, c.u64()),
            "u" => once(&mut last, c.u64()),
            "pu" => once(&mut prev, c.opt_u64()),
            "b" if !bids_done && !asks_done => {
                bids_done = true;
                levels(c, Side::Buy, &mut deltas)
            }
            "a" if bids_done && !asks_done => {
                asks_done = true;
                levels(c, Side::Sell, &mut deltas)
            }
            "b" | "a" => None,
            // A payload with these keys may be a mis-shaped wrapper: the
            // reference parser decides.
            "stream" | "data" => None,
            _ => c.skip(0),
        })?;
        if !(bids_done && asks_done) {
            return None;
        }
        Some(BookDeltas {
            instrument: symbols.get(src, s?)?,
            first_update_id: first?,
            last_update_id: last?,
            prev_last_update_id: prev.flatten(),
            deltas: deltas.into(),
            times: EventTimes::new(UnixNanos::from_millis(t.flatten().unwrap_or(big_e?)), local),
        })
    }

    /// `resume`: the caller has read the leading `"e":"bookTicker"` member.
    fn book_ticker(
        src: &StreamSource,
        symbols: &mut SymbolCache,
        c: &mut Cur<'_>,
        local: UnixNanos,
        resume: bool,
    ) -> Option<Quote> {
        let mut e = resume.then_some("bookTicker");
        let (mut u, mut s) = (None, None);
        let (mut b, mut bq, mut a, mut aq) = (None, None, None, None);
        let (mut t, mut big_e) = (None, None);
        c.object(resume, |k, c| match k {
            "e" => once(&mut e, c.str().filter(|&v| v == "bookTicker")),
            "u" => once(&mut u, c.u64()),
            "s" => once(&mut s, c.str()),
            "b" => once(&mut b, c.price()),
            "B" => once(&mut bq, c.qty()),
            "a" => once(&mut a, c.price()),
            "A" => once(&mut aq, c.qty()),
            "T" => once(&mut t, c.opt_u64()),
            "E" => once(&mut big_e, c.opt_u64()),
            // A payload with these keys may be a mis-shaped wrapper: the
            // reference parser decides.
            "stream" | "data" => None,
            _ => c.skip(0),
        })?;
        let exchange = t
            .flatten()
            .or(big_e.flatten())
            .map_or(local, UnixNanos::from_millis);
        Some(Quote {
            instrument: symbols.get(src, s?)?,
            bid: Level {
                price: b?,
                qty: bq?,
            },
            ask: Level {
                price: a?,
                qty: aq?,
            },
            update_id: Some(u?),
            times: EventTimes::new(exchange, local),
        })
    }

    /// `resume`: the caller has read the leading `"e":"trade"` member.
    fn trade(
        src: &StreamSource,
        symbols: &mut SymbolCache,
        c: &mut Cur<'_>,
        local: UnixNanos,
        resume: bool,
    ) -> Option<Trade> {
        let mut e = resume.then_some("trade");
        let (mut big_e, mut t, mut s) = (None, None, None);
        let (mut id, mut p, mut q, mut m) = (None, None, None, None);
        c.object(resume, |k, c| match k {
            "e" => once(&mut e, c.str().filter(|&v| v == "trade")),
            "E" => once(&mut big_e, c.u64()),
            "T" => once(&mut t, c.opt_u64()),
            "s" => once(&mut s, c.str()),
            "t" => once(&mut id, c.u64()),
            "p" => once(&mut p, c.price()),
            "q" => once(&mut q, c.qty()),
            "m" => once(&mut m, c.bool()),
            // A payload with these keys may be a mis-shaped wrapper: the
            // reference parser decides.
            "stream" | "data" => None,
            _ => c.skip(0),
        })?;
        Some(Trade {
            instrument: symbols.get(src, s?)?,
            trade_id: TradeId(id?),
            price: p?,
            qty: q?,
            aggressor: aggressor(m?),
            times: EventTimes::new(UnixNanos::from_millis(t.flatten().unwrap_or(big_e?)), local),
        })
    }

    /// Parses the payload object at the cursor, if it is one of the fast kinds.
    fn payload(
        src: &StreamSource,
        symbols: &mut SymbolCache,
        stream: Option<&str>,
        c: &mut Cur<'_>,
        local: UnixNanos,
    ) -> Option<StreamMessage> {
        // The first member chooses the parser: `"e"` (read here, the parser
        // resumes after it) or `"u"` (spot bookTicker, parsed from `{`).
        let start = c.i;
        c.eat(b'{')?;
        match c.key()? {
            "e" => match c.str()? {
                "depthUpdate" => {
                    let hint = c.s.len() - start;
                    depth(src, symbols, c, local, hint, true).map(|d| depth_message(stream, d))
                }
                "bookTicker" => {
                    book_ticker(src, symbols, c, local, true).map(StreamMessage::BookTicker)
                }
                "trade" => trade(src, symbols, c, local, true).map(StreamMessage::Trade),
                _ => None,
            },
            "u" => {
                c.i = start;
                book_ticker(src, symbols, c, local, false).map(StreamMessage::BookTicker)
            }
            _ => None,
        }
    }

    /// The fast path of [`super::parse_frame`].
    pub(super) fn parse_frame(
        src: &StreamSource,
        symbols: &mut SymbolCache,
        frame: &str,
        local: UnixNanos,
    ) -> Option<StreamMessage> {
        let mut c = Cur::new(frame);
        c.eat(b'{')?;
        if c.key()? == "stream" {
            let stream = c.str()?;
            c.eat(b',')?;
            if c.key()? != "data" {
                return None;
            }
            let m = payload(src, symbols, Some(stream), &mut c, local)?;
            c.eat(b'}')?;
            c.end()?;
            return Some(m);
        }
        let mut c = Cur::new(frame);
        let m = payload(src, symbols, None, &mut c, local)?;
        c.end()?;
        Some(m)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn decimals_match_the_exact_parser() {
            let dec = |s: &str| {
                let q = format!("\"{s}\"");
                let mut c = Cur::new(&q);
                let r = c.decimal();
                (r, c.end().is_some())
            };
            for s in [
                "0",
                "1",
                "61737.63000000",
                "0.010",
                "0.00000001",
                "9999999999.99999999",
                "92233720368.54775807",
                "1001",
                "0.000",
                "5.",
                ".5",
                "-1.5",
                "+1",
                "00012.5",
            ] {
                let exact = Price::parse(s).unwrap();
                assert_eq!(
                    dec(s),
                    (Some((exact.raw(), exact.precision())), true),
                    "{s}"
                );
            }
            // Refused here too; the reference parser reports the typed error.
            for s in [
                "",
                "1e5",
                "1.123456789",
                "92233720368.54775808",
                "1,5",
                "\\u0031",
            ] {
                assert!(Price::parse(s).is_err());
                assert_eq!(dec(s).0, None, "{s}");
            }
        }

        #[test]
        fn digits8_matches_a_digit_loop() {
            let naive = |b: &[u8; 8]| -> (u64, usize) {
                let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let v = b[..n]
                    .iter()
                    .fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
                (v, n)
            };
            let mut cases: Vec<[u8; 8]> = vec![
                *b"00000000",
                *b"99999999",
                *b"12345678",
                *b"51231078",
                *b"1234567:",
                *b"/2345678",
                *b"12345\"78",
                *b"1234.678",
                *b"9999999\xff",
                *b"\xff9999999",
                *b"0\x00\x00\x00\x00\x00\x00\x00",
            ];
            // Every byte value in every position, the rest digits.
            for pos in 0..8 {
                for v in 0..=255u8 {
                    let mut c = *b"31415926";
                    c[pos] = v;
                    cases.push(c);
                }
            }
            for c in cases {
                assert_eq!(
                    digits8(u64::from_le_bytes(c)),
                    naive(&c),
                    "{:?}",
                    String::from_utf8_lossy(&c)
                );
            }
            // Past the end of the input: zeros, which are not digits.
            assert_eq!(digits8(load8(b"1234567", 0)), (1_234_567, 7));
            assert_eq!(digits8(load8(b"12", 1)), (2, 1));
            assert_eq!(load8(b"12", 2), 0);
            assert_eq!(load8(b"12", 9), 0);
            assert_eq!(digits8(load8(b"0123456789", 5)), (56_789, 5));
            assert_eq!(load8(b"0123456789", 9), u64::from(b'9'));
            assert_eq!(load8(b"0123456789", 10), 0);
            assert_eq!(load8(b"0123456789", 30), 0);
            assert_eq!(load8_near_end(b"0123456789", usize::MAX), 0);
        }

        const SPOT: StreamSource = StreamSource::binance(veloz_core::MarketKind::Spot);

        fn fixed(symbols: &mut SymbolCache, f: &str) -> Option<Quote> {
            book_ticker_frame(&SPOT, symbols, f, UnixNanos(3))
        }

        #[test]
        fn fixed_layout_takes_both_real_forms_and_refuses_the_rest() {
            let futures = r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256314}}"#;
            let spot = r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#;
            let raw = r#"{"u":1,"s":"ETHUSDT","b":"1","B":"0","a":"2.5","A":"0.00000001"}"#;
            let mut symbols = SymbolCache::new(4);
            for accepted in [futures, spot, raw, &format!("{spot} \r\n\t")] {
                let q = fixed(&mut symbols, accepted).expect(accepted);
                let r = super::super::parse_frame_reference(&SPOT, accepted, UnixNanos(3));
                assert_eq!(Some(StreamMessage::BookTicker(q)), r.ok(), "{accepted}");
            }
            let q = fixed(&mut symbols, futures).unwrap();
            assert_eq!(q.update_id, Some(5123107839020));
            assert_eq!(q.times.exchange, UnixNanos::from_millis(1723161256313));
            assert_eq!(q.bid.price, Price::from_raw(6_180_020_000_000, 2));
            assert_eq!(q.ask.qty, Quantity::from_raw(251_000_000, 3));
            let q = fixed(&mut symbols, spot).unwrap();
            assert_eq!(q.times.exchange, UnixNanos(3));
            assert_eq!(q.bid.qty.to_string(), "3.78826000");

            // Each of these leaves the exact layout: the general scanner or
            // the reference parser decides.
            let refused = [
                // Member order, extra members, missing members, whitespace.
                futures.replace(
                    r#""b":"61800.20","B":"2.507""#,
                    r#""B":"2.507","b":"61800.20""#,
                ),
                futures.replace(r#""T":1723161256313,"E""#, r#""E":1,"T":1723161256313,"E""#),
                futures.replace(r#","E":1723161256314"#, ""),
                futures.replace(r#""u":"#, r#""x":1,"u":"#),
                spot.replace(r#""A":"1.54698000""#, r#""A":"1.54698000","x":1"#),
                spot.replace(r#","A":"1.54698000""#, ""),
                spot.replace(r#""s":"#, r#""s" :"#),
                spot.replace(r#"{"u""#, r#"{ "u""#),
                format!(" {spot}"),
                // Values the strict readers do not take.
                futures.replace("1723161256313", "null"),
                futures.replace("5123107839020", "05123107839020"),
                futures.replace("5123107839020", "18446744073709551616"),
                futures.replace("5123107839020", "12345678901234567890"),
                futures.replace("5123107839020", "-1"),
                futures.replace("5123107839020", "1.0"),
                futures.replace("5123107839020", "1e3"),
                futures.replace("5123107839020", "\"1\""),
                futures.replace("61800.20", "61800."),
                futures.replace("61800.20", ".20"),
                futures.replace("61800.20", "-61800.20"),
                futures.replace("61800.20", "1e5"),
                futures.replace("61800.20", "12345678901.5"),
                futures.replace("61800.20", "1.123456789"),
                futures.replace("61800.20", "6\\u00310"),
                futures.replace("61800.20", ""),
                futures.replace("BTCUSDT", "BTC\\u0055SDT"),
                futures.replace("BTCUSDT", "btcusdt"),
                futures.replace("BTCUSDT", ""),
                futures.replace("BTCUSDT", &"X".repeat(40)),
                // The wrapper.
                futures.replace("btcusdt@bookTicker", "btc\\\"usdt"),
                futures.replace("btcusdt@bookTicker", "btc\tusdt"),
                futures.replace(r#""data":"#, r#""data" :"#),
                format!("{futures}}}"),
                format!("{futures}x"),
                futures[..futures.len() - 1].to_string(),
                spot.replace("\"stream\"", "\"Stream\""),
                String::new(),
            ];
            for (i, f) in refused.iter().enumerate() {
                assert!(fixed(&mut symbols, f).is_none(), "case {i}: {f}");
            }
        }

        #[test]
        fn symbol_cache_tells_similar_symbols_apart() {
            let frame = |s: &str| format!(r#"{{"u":1,"s":"{s}","b":"1","B":"1","a":"2","A":"1"}}"#);
            let names = [
                "BTCUSDT",
                "BTCUSD",
                "BTCUSDTX",
                "ETHUSDT",
                "BTCUSD_PERP",
                "1000SATSUSDT",
                // Around the 15 bytes compared as one word.
                "ABCDEFGHIJKLMN",
                "ABCDEFGHIJKLMNO",
                "ABCDEFGHIJKLMNOP",
                "ABCDEFGHIJKLMNOPQ",
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
            ];
            for capacity in [0, 1, 2, 3, 64] {
                let mut symbols = SymbolCache::new(capacity);
                for round in 0..3 {
                    for (i, s) in names.iter().enumerate() {
                        // Varying order, so hits, misses and replacements mix.
                        let s = names[(i * (round + 1)) % names.len()].min(s);
                        let q = fixed(&mut symbols, &frame(s)).expect(s);
                        assert_eq!(q.instrument.symbol.as_str(), s);
                        assert_eq!(q.instrument.kind, veloz_core::MarketKind::Spot);
                        assert_eq!(
                            symbols.get(&SPOT, s).map(|id| id.to_string()),
                            Some(format!("BINANCE.SPOT.{s}"))
                        );
                    }
                }
                assert!(symbols.entries.len() <= capacity);
                assert!(symbols.get(&SPOT, "btcusdt").is_none());
                assert!(fixed(&mut symbols, &frame("BTCUSD\\u0054")).is_none());
            }
        }

        #[test]
        fn skips_every_json_value_kind() {
            let mut c = Cur::new(r#"{"a":[1,-2.5e3,{"x":null}],"b":true,"c":"s"} "#);
            let mut keys = Vec::new();
            c.object(false, |k, c| {
                keys.push(k.to_string());
                c.skip(0)
            })
            .unwrap();
            c.end().unwrap();
            assert_eq!(keys, ["a", "b", "c"]);
            for bad in ["01", "1.", "-", "1e", "tru", "\"a\\\"b\""] {
                let mut c = Cur::new(bad);
                assert!(c.skip(0).is_none() || c.end().is_none(), "{bad}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USDM: StreamSource = StreamSource::binance(MarketKind::UsdM);
    const SPOT: StreamSource = StreamSource::binance(MarketKind::Spot);

    fn both(src: &StreamSource, f: &str) -> StreamMessage {
        let fast = parse_frame(src, f, UnixNanos(7)).unwrap();
        let slow = parse_frame_reference(src, f, UnixNanos(7)).unwrap();
        assert_eq!(fast, slow, "fast and reference parsers differ on {f}");
        fast
    }

    #[test]
    fn futures_depth_update() {
        let f = r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":5,"u":9,"pu":4,"b":[["58710.20","0.014"],["61510.90","0.000"]],"a":[["61800.30","1.5"]]}}"#;
        assert!(
            fast::parse_frame(&USDM, &mut fast::SymbolCache::new(0), f, UnixNanos(7)).is_some()
        );
        let StreamMessage::Depth(d) = both(&USDM, f) else {
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
    fn futures_partial_depth_by_stream_name() {
        let f = r#"{"stream":"btcusdt@depth5@100ms","data":{"e":"depthUpdate","E":1,"T":2,"s":"BTCUSDT","U":5,"u":9,"pu":4,"b":[["2","1"]],"a":[["3","1"],["4","2"]]}}"#;
        let StreamMessage::PartialDepth(s) = both(&USDM, f) else {
            panic!("not a partial depth")
        };
        assert_eq!((s.last_update_id, s.bids.len(), s.asks.len()), (9, 1, 2));
        assert!(is_partial_depth_stream(Some("btcusdt@depth20")));
        assert!(!is_partial_depth_stream(Some("btcusdt@depth@100ms")));
        assert!(!is_partial_depth_stream(None));
    }

    #[test]
    fn spot_book_ticker_without_event_type() {
        let f = r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#;
        let StreamMessage::BookTicker(q) = both(&SPOT, f) else {
            panic!("not a bookTicker")
        };
        assert_eq!(q.bid.price.to_string(), "61837.63000000");
        assert_eq!(q.ask.qty.to_string(), "1.54698000");
        assert_eq!(q.update_id, Some(50093239212));
        assert_eq!(q.times.exchange, UnixNanos(7));
    }

    /// A long-lived parser (symbol cache warm, entries replaced) against the
    /// reference parser on mutated `bookTicker` frames: same value, or both
    /// refuse.
    #[test]
    fn frame_parser_agrees_with_the_reference_on_mutated_book_tickers() {
        use rand_chacha::rand_core::{RngCore, SeedableRng};
        let seeds = [
            r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}}"#,
            r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#,
            r#"{"e":"bookTicker","u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000","T":1568014460891,"E":1568014460893}"#,
        ];
        const SPECIAL: &[u8] = b"\"\\{}[],:-+.0e9 \x00\xffX_";
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0xB00C_71C4);
        for src in [USDM, SPOT] {
            let mut parser = FrameParser::new(src);
            let mut checked = 0;
            for seed in seeds {
                let b = seed.as_bytes();
                for n in 0..3000 {
                    let mut m = b.to_vec();
                    // Symbol edits that stay valid fill and churn the cache.
                    if n % 7 == 0 {
                        let p = seed.find(r#""s":""#).unwrap() + 5 + (n % 6);
                        m[p] = b'A' + (n % 26) as u8;
                    }
                    let i = rng.next_u32() as usize % m.len();
                    match n % 4 {
                        0 => m[i] ^= 1 << (rng.next_u32() % 8),
                        1 => m[i] = SPECIAL[rng.next_u32() as usize % SPECIAL.len()],
                        2 => m.insert(i, SPECIAL[rng.next_u32() as usize % SPECIAL.len()]),
                        _ => m.truncate(i),
                    }
                    let Ok(text) = std::str::from_utf8(&m) else {
                        continue;
                    };
                    for f in [text, seed] {
                        let ours = parser.parse(f, UnixNanos(9));
                        let reference = parse_frame_reference(&src, f, UnixNanos(9));
                        match (&ours, &reference) {
                            (Ok(a), Ok(b)) => assert_eq!(a, b, "{f}"),
                            (Err(_), Err(_)) => {}
                            _ => panic!("{ours:?} vs reference {reference:?} on {f}"),
                        }
                        checked += 1;
                    }
                }
            }
            assert!(checked > 10_000, "{checked}");
            assert_eq!(parser.symbols.len(), FrameParser::SYMBOL_CACHE_CAPACITY);
        }
    }

    /// Every line of the three captures through one long-lived parser per
    /// capture, against the parser as it was before the fixed-layout scanner
    /// and the cache (the integration tests hold that one to the reference).
    #[test]
    fn frame_parser_agrees_with_the_old_path_on_every_captured_line() {
        use crate::binance::capture::CaptureReader;
        for (file, kind) in [
            ("spot_btcusdt_20240808.gz", MarketKind::Spot),
            ("usdm_btcusdt_20240808.gz", MarketKind::UsdM),
            ("cm_btcusd_perp_20240808.gz", MarketKind::CoinM),
        ] {
            let src = StreamSource::binance(kind);
            let mut parser = FrameParser::new(src);
            let path =
                veloz_core::fixtures::fixture(&format!("binance/hftbacktest/{file}")).unwrap();
            let mut r = CaptureReader::open(&[path]).unwrap();
            let (mut n, mut tickers) = (0, 0);
            while let Some(line) = r.next_line().unwrap() {
                if line.is_snapshot() {
                    continue;
                }
                let ours = parser.parse(line.json, line.local).unwrap();
                let old = parse_frame_generic(&src, line.json, line.local).unwrap();
                assert_eq!(ours, old, "{file}: {}", line.json);
                tickers += usize::from(matches!(ours, StreamMessage::BookTicker(_)));
                n += 1;
            }
            assert!(n > 10_000, "{file}: {n} lines");
            assert!(tickers > 10_000, "{file}: {tickers} bookTicker frames");
        }
    }

    #[test]
    fn trades_and_control_messages() {
        let f = r#"{"e":"trade","E":1,"T":2,"s":"BTCUSD_PERP","t":849714402,"p":"61804.8","q":"4","X":"MARKET","m":false}"#;
        let StreamMessage::Trade(t) = both(&StreamSource::binance(MarketKind::CoinM), f) else {
            panic!("not a trade")
        };
        assert_eq!(t.aggressor, AggressorSide::Buyer);
        assert_eq!(t.trade_id, TradeId(849714402));
        assert_eq!(
            both(&SPOT, r#"{"result":null,"id":1}"#),
            StreamMessage::Response {
                id: "1".into(),
                result: "null".into()
            }
        );
        assert!(matches!(
            both(&SPOT, r#"{"code":2,"msg":"Invalid request"}"#),
            StreamMessage::Error { code: 2, .. }
        ));
        assert_eq!(
            both(&SPOT, r#"{"e":"somethingNew","E":1}"#),
            StreamMessage::Unknown {
                event_type: "somethingNew".into()
            }
        );
        assert_eq!(
            both(
                &SPOT,
                r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":5}}"#
            ),
            StreamMessage::ServerShutdown {
                times: EventTimes::new(UnixNanos::from_millis(5), UnixNanos(7))
            }
        );
    }

    #[test]
    fn mark_price_array_and_delivery_contract_without_funding() {
        let f = r#"{"stream":"!markPrice@arr","data":[{"e":"markPriceUpdate","E":1,"s":"BTCUSD_240927","p":"61000.1","i":"60990.5","P":"0","r":"","T":0},{"e":"markPriceUpdate","E":2,"s":"BTCUSD_PERP","p":"61000.2","i":"60990.6","P":"0","r":"0.00010000","T":1723190400000}]}"#;
        let StreamMessage::Batch(v) = both(&StreamSource::binance(MarketKind::CoinM), f) else {
            panic!("not a batch")
        };
        let [StreamMessage::MarkPrice(a), StreamMessage::MarkPrice(b)] = &v[..] else {
            panic!("not two mark prices: {v:?}")
        };
        assert_eq!((a.funding_rate, a.next_funding_time), (None, None));
        assert_eq!(b.funding_rate.unwrap().to_string(), "0.00010000");
        assert_eq!(
            b.next_funding_time,
            Some(UnixNanos::from_millis(1723190400000))
        );
        assert_eq!(a.index.unwrap().to_string(), "60990.5");
    }

    #[test]
    fn unknown_events_are_counted_once_each() {
        let mut u = UnknownEvents::default();
        let m = both(
            &SPOT,
            r#"{"stream":"!x@arr","data":[{"e":"a"},{"e":"b"},{"e":"a"}]}"#,
        );
        assert_eq!(u.record_message(&m), ["a", "b"]);
        assert!(u.record_message(&m).is_empty());
        assert_eq!(u.counts().collect::<Vec<_>>(), [("a", 4), ("b", 2)]);
        assert_eq!(u.total(), 6);
    }

    #[test]
    fn kline_intervals() {
        assert_eq!(interval_secs("1s", 0, 999), Some(1));
        assert_eq!(interval_secs("15m", 0, 0), Some(900));
        assert_eq!(interval_secs("4h", 0, 0), Some(14_400));
        assert_eq!(interval_secs("1w", 0, 0), Some(604_800));
        // August 2024: 31 days.
        assert_eq!(
            interval_secs("1M", 1_722_470_400_000, 1_725_148_799_999),
            Some(31 * 86_400)
        );
        assert_eq!(interval_secs("1y", 0, 0), None);
        assert_eq!(interval_secs("m", 0, 0), None);
        assert_eq!(interval_secs("0m", 0, 0), None);
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            "",
            "{",
            "[]x",
            r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["x","1"]],"a":[]}"#,
            r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1"]],"a":[]}"#,
            r#"{"e":"depthUpdate","E":1,"E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}"#,
            r#"{"e":"trade","E":1,"s":"btc usdt","t":1,"p":"1","q":"1","m":true}"#,
            r#"{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"HOLD","p":"1","ap":"1","z":"1"}}"#,
            r#"{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":0,"T":1,"i":"7y","o":"1","h":"1","l":"1","c":"1","v":"1","x":true}}"#,
            r#"{"stream":"x","data":"#,
            r#"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":true,"stream":1,"data":2}"#,
        ] {
            assert!(parse_frame(&SPOT, bad, UnixNanos(0)).is_err(), "{bad}");
        }
    }
}
