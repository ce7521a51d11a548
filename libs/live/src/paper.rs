//! Paper trading: the live market feed, the simulated venue.
//!
//! The simulated venue runs on the local clock: each market event reaches it
//! stamped with its receive time, commands arrive after the entry latency,
//! reports come back after the response latency. (Exchange timestamps are on
//! the exchange's clock, which can run ahead of ours; a venue on that clock
//! would answer "in the future".)
//!
//! [`PaperVenue`] is the kernel's venue in `veloz paper`: the matching
//! engine of `veloz-sim` (the one backtests and the simulator use: queue
//! position, partial fills, fees, futures margin) fed with the live market
//! events, on the wall clock. Commands reach the engine after the entry
//! latency and its reports reach the kernel after the response latency, as
//! in a backtest; the engine loop pumps it ([`PaperVenue::due`],
//! [`PaperVenue::pump`]) after every market event and when the next command
//! or report is due.
//!
//! Settings (`[paper]` in the config):
//!
//! ```toml
//! [paper]
//! balances = ["100000 USDT", "1 BTC"]  # spot and futures wallets alike
//! leverage = 5                           # futures instruments
//! entry_latency_ms = 5                   # order to the engine
//! response_latency_ms = 5                # engine report back
//! queue = "conservative"                 # or "probabilistic"
//! queue_power = 2
//! seed = 1
//! ```
//!
//! A paper session cannot resume from its journal (the simulated venue's
//! state is not journaled): every start is a fresh account.

use serde::Deserialize;
use veloz_core::events::{Command, MarketEvent};
use veloz_core::{ClientOrderId, Currency, Instrument, Money, UnixNanos};
use veloz_runtime::{Input, Venue};
use veloz_sim::backtest::{BacktestVenue, ConstantLatency};
use veloz_sim::{
    AccountId, ConservativeQueue, ProbabilisticQueue, QueueModel, SimConfig, SimExchange,
};

/// `[paper]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaperConfig {
    /// Starting balances, `"AMOUNT ASSET"`.
    pub balances: Vec<String>,
    /// Leverage of futures instruments.
    pub leverage: Option<u32>,
    /// Order entry latency, ms.
    pub entry_latency_ms: u64,
    /// Report latency, ms.
    pub response_latency_ms: u64,
    /// `conservative` or `probabilistic`.
    pub queue: String,
    /// Power of the probabilistic queue model.
    pub queue_power: u32,
    /// Seed of the probabilistic queue model.
    pub seed: u64,
}

impl Default for PaperConfig {
    fn default() -> Self {
        Self {
            balances: vec!["100000 USDT".into(), "1 BTC".into()],
            leverage: None,
            entry_latency_ms: 5,
            response_latency_ms: 5,
            queue: "conservative".into(),
            queue_power: 2,
            seed: 1,
        }
    }
}

/// Why a paper venue could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("[paper]: {0}")]
pub struct PaperError(pub String);

const ACCOUNT: AccountId = AccountId(1);

/// The simulated venue of a paper session (see the module docs).
#[derive(Debug)]
pub struct PaperVenue {
    venue: BacktestVenue,
    /// Commands sent, by client order id: submit time (for status).
    sent: std::collections::HashMap<ClientOrderId, UnixNanos>,
}

impl PaperVenue {
    /// A fresh account with the configured balances on `instruments`.
    pub fn new(cfg: &PaperConfig, instruments: &[Instrument]) -> Result<Self, PaperError> {
        let err = |m: String| PaperError(m);
        let queue: Box<dyn QueueModel> = match cfg.queue.as_str() {
            "conservative" => Box::new(ConservativeQueue),
            "probabilistic" => Box::new(
                ProbabilisticQueue::new(cfg.queue_power, cfg.seed)
                    .map_err(|e| err(e.to_string()))?,
            ),
            other => {
                return Err(err(format!(
                    "queue = {other:?}: use \"conservative\" or \"probabilistic\""
                )))
            }
        };
        let mut ex = SimExchange::new(SimConfig::default(), queue);
        ex.open_account(ACCOUNT);
        for i in instruments {
            ex.add_instrument(i.clone(), veloz_sim::InstrumentSettings::default())
                .map_err(|e| err(format!("{}: {e}", i.id)))?;
        }
        for b in &cfg.balances {
            let (amount, asset) = b.trim().split_once(' ').ok_or_else(|| {
                err(format!(
                    "balance {b:?}: write it as \"AMOUNT ASSET\", e.g. \"100000 USDT\""
                ))
            })?;
            let c = Currency::new(asset.trim()).map_err(|e| err(format!("balance {b:?}: {e}")))?;
            let m = Money::parse(amount, c).map_err(|e| err(format!("balance {b:?}: {e}")))?;
            if instruments
                .iter()
                .any(|i| i.id.kind == veloz_core::MarketKind::Spot && (i.base == c || i.quote == c))
            {
                ex.deposit_spot(ACCOUNT, m)
                    .map_err(|e| err(e.to_string()))?;
            }
            if instruments
                .iter()
                .any(|i| i.id.kind.is_futures() && i.margin_asset == c)
            {
                ex.deposit_futures(ACCOUNT, m)
                    .map_err(|e| err(e.to_string()))?;
            }
        }
        if let Some(lev) = cfg.leverage {
            for i in instruments.iter().filter(|i| i.id.kind.is_futures()) {
                ex.set_leverage(ACCOUNT, i.id, lev)
                    .map_err(|e| err(format!("leverage {lev} on {}: {e}", i.id)))?;
            }
        }
        let ms = |v: u64| Box::new(ConstantLatency(v.saturating_mul(1_000_000)));
        Ok(Self {
            venue: BacktestVenue::new(
                ex,
                ACCOUNT,
                ms(cfg.entry_latency_ms),
                ms(cfg.response_latency_ms),
            ),
            sent: std::collections::HashMap::new(),
        })
    }

    /// The matching engine (the paper account's truth).
    pub fn exchange(&self) -> &SimExchange {
        self.venue.exchange()
    }

    /// When a command or a report is next due.
    pub fn due(&self) -> Option<UnixNanos> {
        match (
            self.venue.next_inbound_time(),
            self.venue.next_outbound_time(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Feeds a live market event to the engine.
    pub fn on_market(&mut self, ev: &MarketEvent) -> Result<(), String> {
        self.venue.on_market(ev).map_err(|e| e.to_string())
    }

    /// Moves the engine to `now`: commands that have arrived are applied;
    /// returns the reports that have reached the kernel, as kernel inputs.
    pub fn pump(&mut self, now: UnixNanos) -> Vec<Input> {
        while self.venue.next_inbound_time().is_some_and(|t| t <= now) {
            self.venue.process_inbound();
        }
        self.venue.advance_time(now);
        let mut out = Vec::new();
        while let Some((_, msg)) = self.venue.pop_outbound(now) {
            out.extend(Input::from_venue(msg));
        }
        out
    }

    /// When an order was sent.
    pub fn sent_at(&self, id: &ClientOrderId) -> Option<UnixNanos> {
        self.sent.get(id).copied()
    }
}

impl Venue for PaperVenue {
    fn send(&mut self, command: &Command, now: UnixNanos) {
        if let Command::Submit(o) = command {
            self.sent.insert(o.client_order_id, now);
        }
        self.venue.send(command.clone(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_must_name_their_asset() {
        let i = veloz_sim::presets::usdm_btcusdt();
        let cfg = PaperConfig {
            balances: vec!["100000".into()],
            ..PaperConfig::default()
        };
        let e = PaperVenue::new(&cfg, std::slice::from_ref(&i))
            .unwrap_err()
            .to_string();
        assert!(e.contains("AMOUNT ASSET"), "{e}");
        let cfg = PaperConfig {
            queue: "fifo".into(),
            ..PaperConfig::default()
        };
        let e = PaperVenue::new(&cfg, &[i]).unwrap_err().to_string();
        assert!(e.contains("conservative"), "{e}");
    }

    #[test]
    fn deposits_reach_the_kernel_after_the_response_latency() {
        let i = veloz_sim::presets::usdm_btcusdt();
        let mut p = PaperVenue::new(&PaperConfig::default(), &[i]).unwrap();
        // The deposit reports were queued at time 0 + 5 ms.
        assert!(p.pump(UnixNanos(1_000_000)).is_empty());
        let reports = p.pump(UnixNanos(10_000_000));
        assert!(reports.iter().any(|r| matches!(
            r,
            Input::Account(veloz_core::events::AccountEvent::Balance(_))
        ) || matches!(r, Input::Account(_))));
    }
}
