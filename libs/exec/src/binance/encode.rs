//! Binance market-stream encoders: normalised `veloz-core` market events back into
//! the exact JSON text Binance sends (the inverse of [`super::stream`]).
//!
//! This module owns the wire shape of every market-data message a loopback venue
//! has to produce: `depthUpdate`, `bookTicker`, `trade`, `aggTrade`, `kline`,
//! `markPriceUpdate`, `forceOrder`, `serverShutdown`, the combined-stream wrapper
//! `{"stream":…,"data":…}`, stream names, and the REST depth snapshot bodies of
//! spot, USD-M and COIN-M. Key order follows the real captures (digest §5 and
//! `fixtures/binance/hftbacktest`), which differ per market: spot `depthUpdate`
//! is `e,E,s,U,u,b,a`, USD-M adds `T` and `pu`, COIN-M adds `ps`; the COIN-M
//! `bookTicker` starts with `u` before `e`.
//!
//! Numbers are written as strings with a fixed number of decimals, the way
//! Binance prints them: spot prints 8 decimals for every price and quantity,
//! futures print the contract's price and quantity precision (`"61800.20"`,
//! `"0.014"`, COIN-M `"1001"`). A value finer than the precision is printed with
//! all its digits rather than rounded (see [`veloz_core::fixed::write_raw`]).
//!
//! Every encoder appends to a caller-owned `String`, so one buffer can be reused
//! for every frame; nothing goes through `serde_json::Value`.
//!
//! Times: the normalised events carry one venue time (`times.exchange`), which
//! the parser takes from `T` when a frame has one and from `E` otherwise. The
//! encoders write `times.exchange` back to the same field, and take the frame's
//! send time `E` as an explicit `event_time_ms`; `None` means "same as the
//! exchange time".

use std::fmt::Write as _;

use veloz_core::events::{
    Bar, BookDeltas, BookSnapshot, Level, Liquidation, MarkPrice, Quote, Trade,
};
use veloz_core::fixed::write_raw;
use veloz_core::{AggressorSide, Instrument, MarketKind, Price, Quantity, Side, UnixNanos};

use super::stream::AggTrade;

/// Decimals Binance spot prints for every price and quantity on its streams.
pub const SPOT_WIRE_PRECISION: u8 = 8;

/// Decimals of the mark, index and settlement prices and the funding rate on
/// `markPriceUpdate` (both futures markets).
pub const MARK_PRICE_PRECISION: u8 = 8;

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A bar length has no Binance kline interval name.
    #[error("no Binance kline interval is {secs} seconds long; use 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d or 1w")]
    BadInterval {
        /// The bar length asked for.
        secs: u32,
    },
}

/// Which stream a subscription name refers to (see [`stream_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Diff depth `<s>@depth[@<ms>ms]`; `None` is the venue default speed
    /// (spot 1000 ms, futures 250 ms).
    Depth {
        /// Update speed in milliseconds (`Some(100)` gives `@depth@100ms`,
        /// `Some(0)` the futures real-time `@depth@0ms`).
        speed_ms: Option<u32>,
    },
    /// Partial depth `<s>@depth<levels>[@<ms>ms]` (levels 5, 10 or 20).
    PartialDepth {
        /// Number of levels.
        levels: u8,
        /// Update speed in milliseconds.
        speed_ms: Option<u32>,
    },
    /// `<s>@bookTicker`.
    BookTicker,
    /// `<s>@trade`.
    Trade,
    /// `<s>@aggTrade`.
    AggTrade,
    /// `<s>@kline_<interval>`.
    Kline {
        /// Bar length in seconds (must have a Binance interval name).
        interval_secs: u32,
    },
    /// `<s>@markPrice` (3 s) or `<s>@markPrice@1s`.
    MarkPrice {
        /// The one-second variant.
        every_second: bool,
    },
    /// `<s>@forceOrder`.
    ForceOrder,
}

/// The Binance name of a kline interval of `secs` seconds (`60` -> `1m`).
pub fn interval_name(secs: u32) -> Result<&'static str, EncodeError> {
    Ok(match secs {
        1 => "1s",
        60 => "1m",
        180 => "3m",
        300 => "5m",
        900 => "15m",
        1_800 => "30m",
        3_600 => "1h",
        7_200 => "2h",
        14_400 => "4h",
        21_600 => "6h",
        28_800 => "8h",
        43_200 => "12h",
        86_400 => "1d",
        259_200 => "3d",
        604_800 => "1w",
        _ => return Err(EncodeError::BadInterval { secs }),
    })
}

/// Appends the stream name of `kind` for `symbol` (lower-cased), e.g.
/// `btcusdt@depth@100ms`, `btcusd_perp@bookTicker`, `btcusdt@kline_1m`.
pub fn stream_name(out: &mut String, symbol: &str, kind: StreamKind) -> Result<(), EncodeError> {
    for c in symbol.chars() {
        out.push(c.to_ascii_lowercase());
    }
    let speed = |out: &mut String, ms: Option<u32>| {
        if let Some(ms) = ms {
            let _ = write!(out, "@{ms}ms");
        }
    };
    match kind {
        StreamKind::Depth { speed_ms } => {
            out.push_str("@depth");
            speed(out, speed_ms);
        }
        StreamKind::PartialDepth { levels, speed_ms } => {
            let _ = write!(out, "@depth{levels}");
            speed(out, speed_ms);
        }
        StreamKind::BookTicker => out.push_str("@bookTicker"),
        StreamKind::Trade => out.push_str("@trade"),
        StreamKind::AggTrade => out.push_str("@aggTrade"),
        StreamKind::Kline { interval_secs } => {
            out.push_str("@kline_");
            out.push_str(interval_name(interval_secs)?);
        }
        StreamKind::MarkPrice { every_second } => {
            out.push_str("@markPrice");
            if every_second {
                out.push_str("@1s");
            }
        }
        StreamKind::ForceOrder => out.push_str("@forceOrder"),
    }
    Ok(())
}

/// Appends the combined-stream wrapper `{"stream":<name>,"data":<payload>}`.
/// `payload` must already be a JSON value (the output of one of the encoders).
pub fn wrap_combined(out: &mut String, stream: &str, payload: &str) {
    out.push_str("{\"stream\":\"");
    out.push_str(stream);
    out.push_str("\",\"data\":");
    out.push_str(payload);
    out.push('}');
}

/// Appends `{"e":"serverShutdown","E":<ms>}`.
pub fn server_shutdown(out: &mut String, event_time: UnixNanos) {
    let _ = write!(
        out,
        "{{\"e\":\"serverShutdown\",\"E\":{}}}",
        event_time.as_millis()
    );
}

/// The COIN-M pair of a symbol: the part before `_` (`BTCUSD_PERP` -> `BTCUSD`).
pub fn pair_of(symbol: &str) -> &str {
    symbol.split('_').next().unwrap_or(symbol)
}

/// Encodes market events of one market (spot, USD-M or COIN-M) with fixed
/// price and quantity precisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoder {
    kind: MarketKind,
    price_precision: u8,
    qty_precision: u8,
}

impl Encoder {
    /// An encoder for `kind` printing prices with `price_precision` and
    /// quantities with `qty_precision` decimals.
    pub const fn new(kind: MarketKind, price_precision: u8, qty_precision: u8) -> Self {
        Self {
            kind,
            price_precision,
            qty_precision,
        }
    }

    /// The encoder Binance uses for `instrument`: spot prints 8 decimals
    /// ([`SPOT_WIRE_PRECISION`]) whatever the tick; futures print the
    /// instrument's price and quantity precision.
    pub fn for_instrument(instrument: &Instrument) -> Self {
        if instrument.id.kind.is_futures() {
            Self::new(
                instrument.id.kind,
                instrument.price_precision,
                instrument.qty_precision,
            )
        } else {
            Self::new(instrument.id.kind, SPOT_WIRE_PRECISION, SPOT_WIRE_PRECISION)
        }
    }

    /// The market this encoder writes for.
    pub const fn kind(&self) -> MarketKind {
        self.kind
    }

    fn price(&self, out: &mut String, p: Price) {
        let _ = write_raw(out, i128::from(p.raw()), self.price_precision);
    }

    fn qty(&self, out: &mut String, q: Quantity) {
        let _ = write_raw(out, i128::from(q.raw()), self.qty_precision);
    }

    fn str_price(&self, out: &mut String, key: &str, p: Price) {
        let _ = write!(out, ",\"{key}\":\"");
        self.price(out, p);
        out.push('"');
    }

    fn str_qty(&self, out: &mut String, key: &str, q: Quantity) {
        let _ = write!(out, ",\"{key}\":\"");
        self.qty(out, q);
        out.push('"');
    }

    fn level(&self, out: &mut String, l: &Level) {
        out.push_str("[\"");
        self.price(out, l.price);
        out.push_str("\",\"");
        self.qty(out, l.qty);
        out.push_str("\"]");
    }

    fn levels<'a>(&self, out: &mut String, levels: impl Iterator<Item = &'a Level>) {
        out.push('[');
        for (i, l) in levels.enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.level(out, l);
        }
        out.push(']');
    }

    fn symbol_fields(&self, out: &mut String, symbol: &str) {
        let _ = write!(out, ",\"s\":\"{symbol}\"");
        if self.kind == MarketKind::CoinM {
            let _ = write!(out, ",\"ps\":\"{}\"", pair_of(symbol));
        }
    }

    /// Appends a diff-depth `depthUpdate` payload.
    ///
    /// Spot: `e,E,s,U,u,b,a` with `E` = `event_time_ms` or the exchange time.
    /// Futures: `e,E,T,s,[ps,]U,u,pu,b,a` with `T` = the exchange time and `pu` =
    /// `prev_last_update_id` (0 when absent). Bids are written before asks, each
    /// in the order of `deltas`.
    pub fn depth_update(&self, out: &mut String, d: &BookDeltas, event_time_ms: Option<u64>) {
        let exchange = d.times.exchange.as_millis();
        let e = event_time_ms.unwrap_or(exchange);
        let _ = write!(out, "{{\"e\":\"depthUpdate\",\"E\":{e}");
        if self.kind.is_futures() {
            let _ = write!(out, ",\"T\":{exchange}");
        }
        self.symbol_fields(out, d.instrument.symbol.as_str());
        let _ = write!(
            out,
            ",\"U\":{},\"u\":{}",
            d.first_update_id, d.last_update_id
        );
        if self.kind.is_futures() {
            let _ = write!(out, ",\"pu\":{}", d.prev_last_update_id.unwrap_or(0));
        }
        out.push_str(",\"b\":");
        self.levels(
            out,
            d.deltas
                .iter()
                .filter(|x| x.side == Side::Buy)
                .map(|x| &x.level),
        );
        out.push_str(",\"a\":");
        self.levels(
            out,
            d.deltas
                .iter()
                .filter(|x| x.side == Side::Sell)
                .map(|x| &x.level),
        );
        out.push('}');
    }

    /// Appends a `bookTicker` payload.
    ///
    /// Spot: `u,s,b,B,a,A` (no times). USD-M: `e,u,s,b,B,a,A,T,E`. COIN-M:
    /// `u,e,s,ps,b,B,a,A,T,E`. `u` is `update_id` (0 when absent), `T` the
    /// exchange time.
    pub fn book_ticker(&self, out: &mut String, q: &Quote, event_time_ms: Option<u64>) {
        let u = q.update_id.unwrap_or(0);
        match self.kind {
            MarketKind::Spot => {
                let _ = write!(out, "{{\"u\":{u}");
            }
            MarketKind::UsdM => {
                let _ = write!(out, "{{\"e\":\"bookTicker\",\"u\":{u}");
            }
            MarketKind::CoinM => {
                let _ = write!(out, "{{\"u\":{u},\"e\":\"bookTicker\"");
            }
        }
        self.symbol_fields(out, q.instrument.symbol.as_str());
        self.str_price(out, "b", q.bid.price);
        self.str_qty(out, "B", q.bid.qty);
        self.str_price(out, "a", q.ask.price);
        self.str_qty(out, "A", q.ask.qty);
        if self.kind.is_futures() {
            let exchange = q.times.exchange.as_millis();
            let e = event_time_ms.unwrap_or(exchange);
            let _ = write!(out, ",\"T\":{exchange},\"E\":{e}");
        }
        out.push('}');
    }

    /// Appends a `trade` payload.
    ///
    /// Spot: `e,E,s,t,p,q,T,m,M` (`M` is always `true`). Futures:
    /// `e,E,T,s,t,p,q,X,m` with `X` always `"MARKET"`. `T` is the exchange time.
    pub fn trade(&self, out: &mut String, t: &Trade, event_time_ms: Option<u64>) {
        let exchange = t.times.exchange.as_millis();
        let e = event_time_ms.unwrap_or(exchange);
        let m = t.aggressor == AggressorSide::Seller;
        let _ = write!(out, "{{\"e\":\"trade\",\"E\":{e}");
        if self.kind.is_futures() {
            let _ = write!(out, ",\"T\":{exchange}");
        }
        let _ = write!(
            out,
            ",\"s\":\"{}\",\"t\":{}",
            t.instrument.symbol.as_str(),
            t.trade_id.0
        );
        self.str_price(out, "p", t.price);
        self.str_qty(out, "q", t.qty);
        if self.kind.is_futures() {
            let _ = write!(out, ",\"X\":\"MARKET\",\"m\":{m}}}");
        } else {
            let _ = write!(out, ",\"T\":{exchange},\"m\":{m},\"M\":true}}");
        }
    }

    /// Appends an `aggTrade` payload.
    ///
    /// Spot: `e,E,s,a,p,q,f,l,T,m,M`. USD-M: `e,E,s,a,p,q,nq,f,l,T,m` (`nq`, the
    /// quantity without RPI orders, equals `q`). COIN-M: `e,E,s,a,p,q,f,l,T,m`.
    pub fn agg_trade(&self, out: &mut String, a: &AggTrade, event_time_ms: Option<u64>) {
        let t = &a.trade;
        let exchange = t.times.exchange.as_millis();
        let e = event_time_ms.unwrap_or(exchange);
        let m = t.aggressor == AggressorSide::Seller;
        let _ = write!(
            out,
            "{{\"e\":\"aggTrade\",\"E\":{e},\"s\":\"{}\",\"a\":{}",
            t.instrument.symbol.as_str(),
            t.trade_id.0
        );
        self.str_price(out, "p", t.price);
        self.str_qty(out, "q", t.qty);
        if self.kind == MarketKind::UsdM {
            self.str_qty(out, "nq", t.qty);
        }
        let _ = write!(
            out,
            ",\"f\":{},\"l\":{},\"T\":{exchange},\"m\":{m}",
            a.first_trade_id.0, a.last_trade_id.0
        );
        if !self.kind.is_futures() {
            out.push_str(",\"M\":true");
        }
        out.push('}');
    }

    /// Appends a `kline` payload for `bar`.
    ///
    /// The bar's close time `k.T` is `open_time + interval - 1 ms`. `E` is
    /// `event_time_ms`, or the bar's exchange time for an open bar and its close
    /// time for a closed one. The fields a [`Bar`] does not carry (`f`, `L`,
    /// `n`, `q`, `V`, `Q`, `B`) come from `extra`.
    pub fn kline(
        &self,
        out: &mut String,
        bar: &Bar,
        extra: &KlineExtra,
        event_time_ms: Option<u64>,
    ) -> Result<(), EncodeError> {
        let interval = interval_name(bar.interval_secs)?;
        let open_ms = bar.open_time.as_millis();
        let close_ms = open_ms
            .saturating_add(u64::from(bar.interval_secs).saturating_mul(1000))
            .saturating_sub(1);
        let e = event_time_ms.unwrap_or_else(|| {
            if bar.closed {
                close_ms
            } else {
                bar.times.exchange.as_millis()
            }
        });
        let symbol = bar.instrument.symbol.as_str();
        let _ = write!(
            out,
            "{{\"e\":\"kline\",\"E\":{e},\"s\":\"{symbol}\",\"k\":{{\"t\":{open_ms},\"T\":{close_ms},\"s\":\"{symbol}\",\"i\":\"{interval}\",\"f\":{},\"L\":{}",
            extra.first_trade_id, extra.last_trade_id
        );
        self.str_price(out, "o", bar.open);
        self.str_price(out, "c", bar.close);
        self.str_price(out, "h", bar.high);
        self.str_price(out, "l", bar.low);
        self.str_qty(out, "v", bar.volume);
        let _ = write!(out, ",\"n\":{},\"x\":{}", extra.trades, bar.closed);
        self.str_price(out, "q", extra.quote_volume);
        self.str_qty(out, "V", extra.taker_buy_volume);
        self.str_price(out, "Q", extra.taker_buy_quote_volume);
        out.push_str(",\"B\":\"0\"}}");
        Ok(())
    }

    /// Appends a `markPriceUpdate` payload: `e,E,s,p,i,P,r,T`.
    ///
    /// Prices and the rate use [`MARK_PRICE_PRECISION`] decimals. `i` and `P`
    /// (estimated settle price) are the index price, or the mark when there is
    /// no index. A contract without funding gets `"r":""` and `"T":0`, as COIN-M
    /// delivery contracts do. `E` is the exchange time.
    pub fn mark_price(&self, out: &mut String, m: &MarkPrice) {
        let mark_fields = |out: &mut String, key: &str, p: Price| {
            let _ = write!(out, ",\"{key}\":\"");
            let _ = write_raw(out, i128::from(p.raw()), MARK_PRICE_PRECISION);
            out.push('"');
        };
        let _ = write!(
            out,
            "{{\"e\":\"markPriceUpdate\",\"E\":{},\"s\":\"{}\"",
            m.times.exchange.as_millis(),
            m.instrument.symbol.as_str()
        );
        let index = m.index.unwrap_or(m.mark);
        mark_fields(out, "p", m.mark);
        mark_fields(out, "i", index);
        mark_fields(out, "P", index);
        match m.funding_rate {
            Some(r) => mark_fields(out, "r", r),
            None => out.push_str(",\"r\":\"\""),
        }
        let next = m.next_funding_time.map_or(0, UnixNanos::as_millis);
        let _ = write!(out, ",\"T\":{next}}}");
    }

    /// Appends a `forceOrder` payload: `e,E,o:{s,[ps,]S,o,f,q,p,ap,X,l,z,T}`,
    /// a fully filled `LIMIT`/`IOC` liquidation order of `qty` (`q`, `l` and `z`
    /// are all `qty`). `T` is the exchange time.
    pub fn force_order(&self, out: &mut String, l: &Liquidation, event_time_ms: Option<u64>) {
        let exchange = l.times.exchange.as_millis();
        let e = event_time_ms.unwrap_or(exchange);
        let side = match l.side {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        };
        let _ = write!(out, "{{\"e\":\"forceOrder\",\"E\":{e},\"o\":{{");
        let symbol = l.instrument.symbol.as_str();
        let _ = write!(out, "\"s\":\"{symbol}\"");
        if self.kind == MarketKind::CoinM {
            let _ = write!(out, ",\"ps\":\"{}\"", pair_of(symbol));
        }
        let _ = write!(out, ",\"S\":\"{side}\",\"o\":\"LIMIT\",\"f\":\"IOC\"");
        self.str_qty(out, "q", l.qty);
        self.str_price(out, "p", l.price);
        self.str_price(out, "ap", l.avg_price);
        out.push_str(",\"X\":\"FILLED\"");
        self.str_qty(out, "l", l.qty);
        self.str_qty(out, "z", l.qty);
        let _ = write!(out, ",\"T\":{exchange}}}}}");
    }

    /// Appends a REST depth snapshot body (`GET /api/v3/depth`,
    /// `/fapi/v1/depth`, `/dapi/v1/depth`).
    ///
    /// Spot: `{lastUpdateId,bids,asks}`. USD-M: `{lastUpdateId,E,T,bids,asks}`.
    /// COIN-M: `{lastUpdateId,E,T,symbol,pair,bids,asks}`. `T` is the
    /// snapshot's exchange time. The same spot body is the spot partial-depth
    /// stream payload.
    pub fn depth_snapshot(&self, out: &mut String, s: &BookSnapshot, event_time_ms: Option<u64>) {
        let _ = write!(out, "{{\"lastUpdateId\":{}", s.last_update_id);
        if self.kind.is_futures() {
            let exchange = s.times.exchange.as_millis();
            let e = event_time_ms.unwrap_or(exchange);
            let _ = write!(out, ",\"E\":{e},\"T\":{exchange}");
        }
        if self.kind == MarketKind::CoinM {
            let symbol = s.instrument.symbol.as_str();
            let _ = write!(
                out,
                ",\"symbol\":\"{symbol}\",\"pair\":\"{}\"",
                pair_of(symbol)
            );
        }
        out.push_str(",\"bids\":");
        self.levels(out, s.bids.iter());
        out.push_str(",\"asks\":");
        self.levels(out, s.asks.iter());
        out.push('}');
    }
}

/// The kline fields a [`Bar`] does not carry. The default is a bar with no
/// trade ids (`-1`, as Binance sends for a bar without trades) and zero counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KlineExtra {
    /// First trade id in the bar (`f`).
    pub first_trade_id: i64,
    /// Last trade id in the bar (`L`).
    pub last_trade_id: i64,
    /// Number of trades (`n`).
    pub trades: u64,
    /// Quote-asset volume (`q`).
    pub quote_volume: Price,
    /// Taker-buy base volume (`V`).
    pub taker_buy_volume: Quantity,
    /// Taker-buy quote volume (`Q`).
    pub taker_buy_quote_volume: Price,
}

impl Default for KlineExtra {
    fn default() -> Self {
        Self {
            first_trade_id: -1,
            last_trade_id: -1,
            trades: 0,
            quote_volume: Price::ZERO,
            taker_buy_volume: Quantity::ZERO,
            taker_buy_quote_volume: Price::ZERO,
        }
    }
}
