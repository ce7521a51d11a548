//! The Binance wire protocol (see `shared/docs/binance-protocol.md`).
//!
//! * [`capture`]: reading recorded WebSocket captures (`<local ns> <json>` lines, gzip'd).
//! * [`stream`]: market-data stream messages into normalised events.

pub mod capture;
pub mod stream;
