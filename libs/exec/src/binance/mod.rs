//! The Binance wire protocol (see `shared/docs/binance-protocol.md`).
//!
//! * [`capture`]: reading recorded WebSocket captures (`<local ns> <json>` lines, gzip'd).
//! * [`stream`]: market-data stream messages into normalised events.
//! * [`encode`]: normalised market events back into Binance stream frames and depth bodies.
//! * [`user_data`]: user-data stream events into order and account events.
//! * [`user_stream`]: reaching user data: spot WS API requests (`session.logon`,
//!   `userDataStream.subscribe.signature`), futures listenKey URLs and keepalive schedule.
//! * [`book_sync`]: keeping a local L2 book in sync with diff-depth streams.
//! * [`verify`]: replaying a recorded capture through the book sync (`veloz data verify-book`).
//! * [`config`]: environments, base URLs, credentials (secrets never printed).
//! * [`signing`]: HMAC / Ed25519 / RSA request signing and server-time tracking.
//! * [`rest`]: REST request builders (spot, USD-M, COIN-M) and typed answers.
//! * [`error`]: Binance errors with retry classes.
//! * [`ratelimit`]: rate-limit accounting and the client-side limiter.
//! * [`transport`]: the live tokio transport: HTTP/1.1 REST client, market and
//!   user-data WebSocket clients with reconnect, book-sync driver, recorder.

pub mod book_sync;
pub mod capture;
pub mod config;
pub mod encode;
pub mod error;
pub mod ratelimit;
pub mod rest;
pub mod signing;
pub mod stream;
pub mod transport;
pub mod user_data;
pub mod user_stream;
pub mod verify;
