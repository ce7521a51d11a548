//! VeloZ performance analytics for a backtest run folder.
//!
//! [`analyze`] reads the files `veloz backtest` writes (`summary.json`,
//! `fills.csv`, `orders.csv`, `equity.csv`, `prices.csv`) and computes:
//!
//! * **PnL**, exactly from fills and marks: realised, unrealised, fees,
//!   funding and net per instrument and in total, and the decomposition into
//!   spread capture, inventory, fees and funding;
//! * **returns** at a chosen frequency and the **statistics** on them (total
//!   and annualised return, volatility, Sharpe, Sortino, Calmar, maximum
//!   drawdown and its duration), the trade statistics (win rate, profit
//!   factor, expectancy), turnover and time in the market;
//! * **trade quality**: fill ratio, maker share, slippage against the arrival
//!   mid, markouts, adverse selection, inventory statistics;
//! * **risk**: historical VaR and CVaR, maximum position, leverage;
//! * the **series** a report plots (equity, drawdown, returns, leverage,
//!   positions, per-fill metrics).
//!
//! Money is exact (`i128` raw `10^-8`, written as decimal strings); ratios
//! and statistics are `f64`. docs/ANALYTICS.md gives every formula and
//! convention.

pub mod pnl;
pub mod run;
pub mod stats;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Serialize, Serializer};
use veloz_core::{Rounding, Side};

use crate::pnl::{Book, Kind, Mids};
pub use crate::run::{EquityRow, FillRow, OrderRow, PriceRow, RunData, TimeNs};
use crate::stats::SECONDS_PER_YEAR;

/// Why a run folder could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source} (is this a `veloz backtest` run folder?)")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A CSV file is malformed.
    #[error("{path} line {line}: {msg} (re-run `veloz backtest` to rewrite the run folder)")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// `summary.json` is malformed.
    #[error("{path}: {msg} (re-run `veloz backtest` to rewrite the run folder)")]
    Summary {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// Amounts too large for exact arithmetic.
    #[error("arithmetic overflow replaying the fills of {instrument}; the run folder holds absurd values")]
    Overflow {
        /// The instrument whose fills overflowed.
        instrument: String,
    },
}

/// Options of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOptions {
    /// Return frequency. `None`: daily for runs of 3 days or more, hourly for
    /// runs of 3 hours or more, else every equity sample.
    /// `Some(Duration::ZERO)`: every equity sample.
    pub frequency: Option<Duration>,
    /// Annual risk-free rate (e.g. `0.04`), default 0.
    pub risk_free_rate_annual: f64,
    /// Markout horizons, default 1 s, 10 s, 60 s.
    pub markout_horizons: Vec<Duration>,
    /// Horizon whose markouts define adverse selection, default 10 s (must be
    /// one of `markout_horizons`, else adverse selection is empty).
    pub adverse_horizon: Duration,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            frequency: None,
            risk_free_rate_annual: 0.0,
            markout_horizons: vec![
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(60),
            ],
            adverse_horizon: Duration::from_secs(10),
        }
    }
}

/// An exact amount: raw `10^-8` units, serialised as a decimal string
/// (`"-2.69480019"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub i128);

impl Amount {
    /// Raw `10^-8` units.
    pub fn raw(self) -> i128 {
        self.0
    }

    /// As `f64` (for plotting only).
    pub fn to_f64(self) -> f64 {
        stats::raw_f64(self.0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        veloz_core::fixed::write_raw(f, self.0, 8)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The whole analysis (written as `analytics.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Account currency of equity and totals.
    pub currency: String,
    /// Run start (`summary.json` `start`), ns since the epoch.
    pub start: TimeNs,
    /// Last equity sample, ns since the epoch.
    pub end: TimeNs,
    /// Start equity.
    pub start_equity: Amount,
    /// Final equity.
    pub final_equity: Amount,
    /// PnL section.
    pub pnl: PnlSection,
    /// How returns were formed.
    pub returns: ReturnsInfo,
    /// Performance statistics.
    pub stats: Stats,
    /// Trade quality.
    pub trade_quality: TradeQuality,
    /// Risk.
    pub risk: Risk,
    /// Series for charts.
    pub series: Series,
}

/// PnL per instrument, in total, and its decomposition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PnlSection {
    /// Totals from the last equity sample (the kernel's exact accounting).
    pub total: PnlTotal,
    /// Per instrument, from replaying the fills.
    pub instruments: Vec<InstrumentPnl>,
    /// `net = spread_capture + inventory − fees + funding`.
    pub decomposition: Decomposition,
}

/// Account totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PnlTotal {
    /// Realised PnL.
    pub realized: Amount,
    /// Unrealised PnL at the kernel's reference prices.
    pub unrealized: Amount,
    /// Fees paid (positive = cost).
    pub fees: Amount,
    /// Funding received (negative = paid).
    pub funding: Amount,
    /// `realized + unrealized − fees + funding` (= final − start equity).
    pub net: Amount,
}

/// One instrument's PnL from its fills.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentPnl {
    /// Instrument id.
    pub instrument: String,
    /// `spot`, `linear` or `inverse`.
    pub kind: &'static str,
    /// Number of fills.
    pub fills: usize,
    /// Final signed position.
    pub position: Amount,
    /// Average entry price of the final position (0 when flat).
    pub entry_price: Amount,
    /// Last sampled mid (`None` without price samples).
    pub last_price: Option<Amount>,
    /// Realised PnL.
    pub realized: Amount,
    /// Unrealised PnL at the last sampled mid.
    pub unrealized: Amount,
    /// Fees in the account currency.
    pub fees: Amount,
    /// Funding: the account total when the run has one instrument, else
    /// `None` (the run folder does not attribute funding).
    pub funding: Option<Amount>,
    /// `realized + unrealized − fees (+ funding when known)`.
    pub net: Amount,
    /// Spread captured against the mid at each fill.
    pub spread_capture: Amount,
    /// Σ notional of the fills.
    pub turnover: Amount,
}

/// Decomposition of the account's net PnL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decomposition {
    /// Σ side × (mid at fill − price) × qty.
    pub spread_capture: Amount,
    /// `realized + unrealized − spread_capture`: what holding inventory
    /// while the mid moved earned.
    pub inventory: Amount,
    /// Fees (positive = cost).
    pub fees: Amount,
    /// Funding (positive = received).
    pub funding: Amount,
    /// Net PnL.
    pub net: Amount,
    /// Fills without a mid at or before them (no spread capture counted).
    pub fills_without_mid: usize,
}

/// How the return series was formed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReturnsInfo {
    /// Period length in seconds; 0 = every equity sample.
    pub frequency_secs: f64,
    /// Periods per year used to annualise.
    pub periods_per_year: f64,
    /// Number of returns.
    pub count: usize,
    /// Annual risk-free rate.
    pub risk_free_rate_annual: f64,
    /// Per-period risk-free rate `(1 + rf)^(1/n) − 1`.
    pub risk_free_rate_period: f64,
}

/// Performance statistics (`None` where undefined, e.g. zero volatility).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// `final / start − 1`.
    pub total_return: Option<f64>,
    /// `(1 + total)^(year / span) − 1`.
    pub annualised_return: Option<f64>,
    /// Annualised standard deviation of returns.
    pub volatility: Option<f64>,
    /// Annualised Sharpe ratio.
    pub sharpe: Option<f64>,
    /// Annualised Sortino ratio.
    pub sortino: Option<f64>,
    /// Annualised return / maximum drawdown.
    pub calmar: Option<f64>,
    /// Largest peak-to-trough fall of equity, as a fraction of the peak.
    pub max_drawdown: f64,
    /// Longest time under a previous peak, seconds.
    pub max_drawdown_duration_secs: f64,
    /// Trades: fills that reduce, close or flip a position.
    pub trades: usize,
    /// Trades with positive realised PnL.
    pub winning_trades: usize,
    /// Trades with negative realised PnL.
    pub losing_trades: usize,
    /// `winning / trades`.
    pub win_rate: Option<f64>,
    /// `Σ wins / |Σ losses|`.
    pub profit_factor: Option<f64>,
    /// Σ realised PnL of trades / trades (exact, half-even).
    pub expectancy: Option<Amount>,
    /// Σ realised PnL of winning trades.
    pub gross_profit: Amount,
    /// Σ realised PnL of losing trades (negative).
    pub gross_loss: Amount,
    /// Σ notional of all fills.
    pub turnover: Amount,
    /// `turnover / start equity`.
    pub turnover_ratio: Option<f64>,
    /// Share of the run's time with an open position in any instrument.
    pub exposure: f64,
}

/// Trade quality.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradeQuality {
    /// Orders in `orders.csv`.
    pub orders: usize,
    /// Orders rejected.
    pub rejected_orders: usize,
    /// Fills.
    pub fills: usize,
    /// Σ filled quantity / Σ quantity over orders not rejected.
    pub fill_ratio: Option<f64>,
    /// Share of non-rejected orders with some fill.
    pub filled_order_share: Option<f64>,
    /// Maker fills.
    pub maker_fills: usize,
    /// `maker fills / fills`.
    pub maker_share: Option<f64>,
    /// Slippage against the arrival mid.
    pub slippage: Slippage,
    /// Markouts, one per horizon.
    pub markouts: Vec<Markout>,
    /// Adverse selection at `adverse_horizon`.
    pub adverse_selection: AdverseSelection,
    /// Inventory per instrument.
    pub inventory: Vec<Inventory>,
}

/// Slippage: side × (fill price − arrival mid), positive = cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slippage {
    /// Fills with an arrival mid.
    pub fills: usize,
    /// Mean in price units.
    pub mean: Option<f64>,
    /// Mean in basis points of the arrival mid.
    pub mean_bps: Option<f64>,
    /// Σ side × (price − arrival) × qty, exact (in the PnL currency; inverse
    /// instruments use the contract formula).
    pub total_cost: Amount,
}

/// Markout at one horizon: side × (mid(t + h) − mid(t)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Markout {
    /// Horizon, seconds.
    pub horizon_secs: f64,
    /// Fills with both mids.
    pub fills: usize,
    /// Mean in price units.
    pub mean: Option<f64>,
    /// Mean in basis points of mid(t).
    pub mean_bps: Option<f64>,
}

/// Adverse selection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdverseSelection {
    /// Horizon, seconds.
    pub horizon_secs: f64,
    /// Fills with a markout at the horizon.
    pub fills: usize,
    /// Fills whose markout is negative.
    pub adverse_fills: usize,
    /// `adverse / fills`.
    pub share: Option<f64>,
    /// Mean markout of the adverse fills, bps.
    pub mean_adverse_bps: Option<f64>,
}

/// Inventory statistics of one instrument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    /// Instrument id.
    pub instrument: String,
    /// Largest |position|.
    pub max_abs_position: Amount,
    /// Time-weighted mean |position| over the run.
    pub mean_abs_position: f64,
    /// Mean |position| after each fill.
    pub mean_abs_position_at_fills: Option<f64>,
    /// Share of the run's time flat.
    pub time_flat_share: f64,
}

/// Risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Risk {
    /// Historical VaR 95 % of one period's return (positive = loss).
    pub var_95: Option<f64>,
    /// Historical CVaR 95 %.
    pub cvar_95: Option<f64>,
    /// Historical VaR 99 %.
    pub var_99: Option<f64>,
    /// Historical CVaR 99 %.
    pub cvar_99: Option<f64>,
    /// Largest |position| per instrument.
    pub max_position: Vec<(String, Amount)>,
    /// Largest exposure / equity over the equity samples.
    pub max_leverage: Option<f64>,
    /// Mean exposure / equity over the equity samples.
    pub mean_leverage: Option<f64>,
}

/// Series for charts: `(time_ns, value)` pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Equity: the start point, then every equity sample.
    pub equity: Vec<(TimeNs, Amount)>,
    /// Drawdown at each equity point (fraction of the peak).
    pub drawdown: Vec<(TimeNs, f64)>,
    /// Returns at the chosen frequency (stamped at the period end).
    pub returns: Vec<(TimeNs, f64)>,
    /// Exposure / equity at each equity sample.
    pub leverage: Vec<(TimeNs, f64)>,
    /// Position after each fill, per instrument.
    pub positions: Vec<PositionSeries>,
    /// Per-fill metrics.
    pub fills: Vec<FillMetrics>,
}

/// One instrument's position path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionSeries {
    /// Instrument id.
    pub instrument: String,
    /// `(time, position after)`.
    pub points: Vec<(TimeNs, Amount)>,
}

/// Metrics of one fill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillMetrics {
    /// Fill time.
    pub time: TimeNs,
    /// Instrument id.
    pub instrument: String,
    /// `BUY` or `SELL`.
    pub side: &'static str,
    /// Price.
    pub price: Amount,
    /// Quantity.
    pub qty: Amount,
    /// Maker fill?
    pub maker: bool,
    /// Realised PnL of the fill (0 when it only opens).
    pub realized: Amount,
    /// Spread capture against the mid at the fill.
    pub spread_capture: Option<Amount>,
    /// Mid at the fill.
    pub mid: Option<Amount>,
    /// Mid at the order's creation.
    pub arrival_mid: Option<Amount>,
    /// Slippage against the arrival mid, bps.
    pub slippage_bps: Option<f64>,
    /// Markout per horizon (same order as `trade_quality.markouts`), bps.
    pub markouts_bps: Vec<Option<f64>>,
}

/// Reads a run folder and analyses it.
pub fn analyze(run_dir: &Path, opts: &AnalysisOptions) -> Result<Analysis, AnalyticsError> {
    let data = RunData::load(run_dir)?;
    analyze_data(&data, opts)
}

fn side_sign(s: Side) -> i64 {
    match s {
        Side::Buy => 1,
        Side::Sell => -1,
    }
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den != 0.0).then(|| num / den).filter(|v| v.is_finite())
}

/// Σ that saturates instead of overflowing (amounts are bounded on input, so
/// this never triggers on a real run).
fn sat_sum(v: &[i128]) -> i128 {
    v.iter().fold(0i128, |a, b| a.saturating_add(*b))
}

fn mean_opt(v: &[f64]) -> Option<f64> {
    stats::mean(v)
}

const SCALE: i128 = 100_000_000;

/// Analyses run data already in memory.
pub fn analyze_data(data: &RunData, opts: &AnalysisOptions) -> Result<Analysis, AnalyticsError> {
    let mids = Mids::new(&data.prices);
    let start = data.start;
    let end = data
        .equity
        .last()
        .map(|e| e.time)
        .unwrap_or(start)
        .max(data.fills.last().map(|f| f.time).unwrap_or(start))
        .max(start);

    // --- equity curve and returns -------------------------------------
    let mut curve: Vec<(TimeNs, i128)> = vec![(start, data.start_equity)];
    curve.extend(data.equity.iter().map(|e| (e.time, e.equity)));
    // equity.csv is in time order; a sample stamped before the start moves first
    curve.sort_by_key(|p| p.0);
    let final_equity = curve.last().map(|p| p.1).unwrap_or(data.start_equity);
    let span_ns = end - start;
    let span_secs = span_ns as f64 / 1e9;
    let freq_ns: i64 = match opts.frequency {
        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        None if span_ns >= 3 * 86_400 * 1_000_000_000 => 86_400 * 1_000_000_000,
        None if span_ns >= 3 * 3_600 * 1_000_000_000 => 3_600 * 1_000_000_000,
        None => 0,
    };
    let sampled = stats::resample(&curve, freq_ns);
    let rets = stats::returns(&sampled);
    let r: Vec<f64> = rets.iter().map(|x| x.1).collect();
    let periods_per_year = if freq_ns > 0 {
        SECONDS_PER_YEAR / (freq_ns as f64 / 1e9)
    } else if !r.is_empty() && span_secs > 0.0 {
        SECONDS_PER_YEAR / (span_secs / r.len() as f64)
    } else {
        0.0
    };
    let rf = if periods_per_year > 0.0 {
        stats::periodic_rate(opts.risk_free_rate_annual, periods_per_year)
    } else {
        0.0
    };

    // --- replay fills ---------------------------------------------------
    let orders: HashMap<&str, &OrderRow> = data
        .orders
        .iter()
        .map(|o| (o.client_order_id.as_str(), o))
        .collect();
    let mut order_of_instruments: Vec<String> = data.instruments.clone();
    for f in &data.fills {
        if !order_of_instruments.contains(&f.instrument) {
            order_of_instruments.push(f.instrument.clone());
        }
    }
    let mut books: HashMap<String, Book> = HashMap::new();
    let mut trades: Vec<i128> = Vec::new();
    let mut fills_without_mid = 0usize;
    let mut fill_metrics = Vec::with_capacity(data.fills.len());
    let mut slip_px = Vec::new();
    let mut slip_bps = Vec::new();
    let mut slip_cost = 0i128;
    let mut mk_px: Vec<Vec<f64>> = vec![Vec::new(); opts.markout_horizons.len()];
    let mut mk_bps: Vec<Vec<f64>> = vec![Vec::new(); opts.markout_horizons.len()];
    for f in &data.fills {
        let book = books
            .entry(f.instrument.clone())
            .or_insert_with(|| Book::new(Kind::of(&f.instrument)));
        let mid = mids.at(&f.instrument, f.time);
        if mid.is_none() {
            fills_without_mid += 1;
        }
        let kind = book.kind;
        let p = book
            .apply(f, mid, &data.currency)
            .map_err(|_| AnalyticsError::Overflow {
                instrument: f.instrument.clone(),
            })?;
        if p.reducing {
            trades.push(p.realized);
        }
        let sign = side_sign(f.side);
        // slippage against the mid when the order was created
        let arrival = orders
            .get(f.client_order_id.as_str())
            .and_then(|o| mids.at(&f.instrument, o.created));
        let mut slippage_bps = None;
        if let Some(a) = arrival.filter(|a| *a > 0) {
            let d = i128::from(sign) * (i128::from(f.price) - i128::from(a));
            slip_px.push(d as f64 / 1e8);
            let bps = d as f64 / a as f64 * 1e4;
            slip_bps.push(bps);
            slippage_bps = Some(bps);
            // cost = −(pnl of the fill's signed qty from price to arrival)
            let c = match kind {
                Kind::Inverse(cs) => veloz_sim::futures::Contract::Inverse(cs),
                _ => veloz_sim::futures::Contract::Linear,
            };
            let pnl = c
                .pnl(sign * f.qty, f.price, a)
                .ok_or_else(|| AnalyticsError::Overflow {
                    instrument: f.instrument.clone(),
                })?;
            slip_cost = slip_cost.saturating_sub(pnl);
        }
        let mut markouts_bps = Vec::with_capacity(opts.markout_horizons.len());
        for (i, h) in opts.markout_horizons.iter().enumerate() {
            let h_ns = i64::try_from(h.as_nanos()).unwrap_or(i64::MAX);
            let later = f
                .time
                .checked_add(h_ns)
                .and_then(|t| mids.at_within(&f.instrument, t));
            let v = match (mid, later) {
                (Some(m0), Some(m1)) if m0 > 0 => {
                    let d = i128::from(sign) * (i128::from(m1) - i128::from(m0));
                    let bps = d as f64 / m0 as f64 * 1e4;
                    mk_px[i].push(d as f64 / 1e8);
                    mk_bps[i].push(bps);
                    Some(bps)
                }
                _ => None,
            };
            markouts_bps.push(v);
        }
        fill_metrics.push(FillMetrics {
            time: f.time,
            instrument: f.instrument.clone(),
            side: match f.side {
                Side::Buy => "BUY",
                Side::Sell => "SELL",
            },
            price: Amount(i128::from(f.price)),
            qty: Amount(i128::from(f.qty)),
            maker: f.maker,
            realized: Amount(p.realized),
            spread_capture: p.spread.map(Amount),
            mid: mid.map(|m| Amount(i128::from(m))),
            arrival_mid: arrival.map(|m| Amount(i128::from(m))),
            slippage_bps,
            markouts_bps,
        });
    }

    // --- PnL ------------------------------------------------------------
    let last_eq = data.equity.last();
    let g = |f: fn(&EquityRow) -> i128| Amount(last_eq.map(f).unwrap_or(0));
    let total = PnlTotal {
        realized: g(|e| e.realized),
        unrealized: g(|e| e.unrealized),
        fees: g(|e| e.fees),
        funding: g(|e| e.funding),
        net: Amount(final_equity - data.start_equity),
    };
    let single = order_of_instruments.len() == 1;
    let mut instruments = Vec::new();
    let mut spread_total = 0i128;
    let mut turnover = 0i128;
    for id in &order_of_instruments {
        let book = books
            .get(id)
            .cloned()
            .unwrap_or_else(|| Book::new(Kind::of(id)));
        let last = mids.last(id);
        let unrealized = last.and_then(|m| book.unrealized(m)).unwrap_or(0);
        let funding = single.then_some(total.funding);
        let net = book.realized + unrealized - book.fees + funding.map(|f| f.0).unwrap_or(0);
        spread_total = spread_total.saturating_add(book.spread);
        turnover = turnover.saturating_add(book.turnover);
        instruments.push(InstrumentPnl {
            instrument: id.clone(),
            kind: book.kind.name(),
            fills: book.fills,
            position: Amount(i128::from(book.qty)),
            entry_price: Amount(i128::from(book.entry)),
            last_price: last.map(|m| Amount(i128::from(m))),
            realized: Amount(book.realized),
            unrealized: Amount(unrealized),
            fees: Amount(book.fees),
            funding,
            net: Amount(net),
            spread_capture: Amount(book.spread),
            turnover: Amount(book.turnover),
        });
    }
    let decomposition = Decomposition {
        spread_capture: Amount(spread_total),
        inventory: Amount(total.realized.0 + total.unrealized.0 - spread_total),
        fees: total.fees,
        funding: total.funding,
        net: total.net,
        fills_without_mid,
    };

    // --- statistics -----------------------------------------------------
    let total_return = (data.start_equity > 0)
        .then(|| (final_equity - data.start_equity) as f64 / data.start_equity as f64);
    let annualised_return = total_return.and_then(|t| stats::annualise(t, span_secs));
    let (max_dd, dd_dur) = stats::max_drawdown(&curve);
    let wins: Vec<i128> = trades.iter().copied().filter(|p| *p > 0).collect();
    let losses: Vec<i128> = trades.iter().copied().filter(|p| *p < 0).collect();
    let gross_profit = sat_sum(&wins);
    let gross_loss = sat_sum(&losses);
    let trade_sum = sat_sum(&trades);
    let n_trades = trades.len();

    // position timelines: time in market and inventory
    let (exposure, inventory) = inventory_stats(data, &order_of_instruments, start, end);

    let stats_out = Stats {
        total_return,
        annualised_return,
        volatility: stats::volatility(&r, periods_per_year),
        sharpe: stats::sharpe(&r, rf, periods_per_year),
        sortino: stats::sortino(&r, rf, periods_per_year),
        calmar: annualised_return
            .and_then(|a| (max_dd > 0.0).then(|| a / max_dd))
            .filter(|v| v.is_finite()),
        max_drawdown: max_dd,
        max_drawdown_duration_secs: dd_dur as f64 / 1e9,
        trades: n_trades,
        winning_trades: wins.len(),
        losing_trades: losses.len(),
        win_rate: ratio(wins.len() as f64, n_trades as f64),
        profit_factor: (gross_loss != 0).then(|| gross_profit as f64 / (-gross_loss) as f64),
        expectancy: (n_trades > 0)
            .then(|| {
                veloz_core::fixed::div_round_i128(trade_sum, n_trades as i128, Rounding::HalfEven)
            })
            .flatten()
            .map(Amount),
        gross_profit: Amount(gross_profit),
        gross_loss: Amount(gross_loss),
        turnover: Amount(turnover),
        turnover_ratio: (data.start_equity > 0).then(|| turnover as f64 / data.start_equity as f64),
        exposure,
    };

    // --- trade quality --------------------------------------------------
    let live: Vec<&OrderRow> = data
        .orders
        .iter()
        .filter(|o| o.status != "Rejected")
        .collect();
    let q_sum: i128 = live.iter().map(|o| i128::from(o.quantity)).sum();
    let f_sum: i128 = live.iter().map(|o| i128::from(o.filled_qty)).sum();
    let maker_fills = data.fills.iter().filter(|f| f.maker).count();
    let markouts: Vec<Markout> = opts
        .markout_horizons
        .iter()
        .enumerate()
        .map(|(i, h)| Markout {
            horizon_secs: h.as_secs_f64(),
            fills: mk_bps[i].len(),
            mean: mean_opt(&mk_px[i]),
            mean_bps: mean_opt(&mk_bps[i]),
        })
        .collect();
    let adverse_i = opts
        .markout_horizons
        .iter()
        .position(|h| *h == opts.adverse_horizon);
    let adverse: Vec<f64> = adverse_i
        .map(|i| mk_bps[i].iter().copied().filter(|v| *v < 0.0).collect())
        .unwrap_or_default();
    let adverse_n = adverse_i.map(|i| mk_bps[i].len()).unwrap_or(0);
    let trade_quality = TradeQuality {
        orders: data.orders.len(),
        rejected_orders: data.orders.len() - live.len(),
        fills: data.fills.len(),
        fill_ratio: ratio(f_sum as f64, q_sum as f64),
        filled_order_share: ratio(
            live.iter().filter(|o| o.filled_qty > 0).count() as f64,
            live.len() as f64,
        ),
        maker_fills,
        maker_share: ratio(maker_fills as f64, data.fills.len() as f64),
        slippage: Slippage {
            fills: slip_bps.len(),
            mean: mean_opt(&slip_px),
            mean_bps: mean_opt(&slip_bps),
            total_cost: Amount(slip_cost),
        },
        markouts,
        adverse_selection: AdverseSelection {
            horizon_secs: opts.adverse_horizon.as_secs_f64(),
            fills: adverse_n,
            adverse_fills: adverse.len(),
            share: ratio(adverse.len() as f64, adverse_n as f64),
            mean_adverse_bps: mean_opt(&adverse),
        },
        inventory,
    };

    // --- risk -----------------------------------------------------------
    let v95 = stats::var_cvar(&r, 0.95);
    let v99 = stats::var_cvar(&r, 0.99);
    let leverage: Vec<(TimeNs, f64)> = data
        .equity
        .iter()
        .filter(|e| e.equity > 0)
        .map(|e| (e.time, e.exposure as f64 / e.equity as f64))
        .collect();
    let lev: Vec<f64> = leverage.iter().map(|x| x.1).collect();
    let risk = Risk {
        var_95: v95.map(|x| x.0),
        cvar_95: v95.map(|x| x.1),
        var_99: v99.map(|x| x.0),
        cvar_99: v99.map(|x| x.1),
        max_position: trade_quality
            .inventory
            .iter()
            .map(|i| (i.instrument.clone(), i.max_abs_position))
            .collect(),
        max_leverage: lev.iter().copied().reduce(f64::max),
        mean_leverage: mean_opt(&lev),
    };

    let positions = order_of_instruments
        .iter()
        .map(|id| PositionSeries {
            instrument: id.clone(),
            points: data
                .fills
                .iter()
                .filter(|f| &f.instrument == id)
                .map(|f| (f.time, Amount(i128::from(f.position_after))))
                .collect(),
        })
        .collect();

    Ok(Analysis {
        currency: data.currency.clone(),
        start,
        end,
        start_equity: Amount(data.start_equity),
        final_equity: Amount(final_equity),
        pnl: PnlSection {
            total,
            instruments,
            decomposition,
        },
        returns: ReturnsInfo {
            frequency_secs: freq_ns as f64 / 1e9,
            periods_per_year,
            count: r.len(),
            risk_free_rate_annual: opts.risk_free_rate_annual,
            risk_free_rate_period: rf,
        },
        stats: stats_out,
        trade_quality,
        risk,
        series: Series {
            drawdown: stats::drawdowns(&curve),
            equity: curve.iter().map(|&(t, v)| (t, Amount(v))).collect(),
            returns: rets,
            leverage,
            positions,
            fills: fill_metrics,
        },
    })
}

/// Time in the market (any instrument open) and per-instrument inventory
/// statistics from the positions after each fill, over `[start, end]`.
fn inventory_stats(
    data: &RunData,
    instruments: &[String],
    start: TimeNs,
    end: TimeNs,
) -> (f64, Vec<Inventory>) {
    let span = (end - start).max(0);
    let mut out = Vec::new();
    // (time, instrument index, position after) for the time-in-market sweep
    let mut events: Vec<(TimeNs, usize, i64)> = Vec::new();
    for (k, id) in instruments.iter().enumerate() {
        let path: Vec<(TimeNs, i64)> = data
            .fills
            .iter()
            .filter(|f| &f.instrument == id)
            .map(|f| (f.time.clamp(start, end), f.position_after))
            .collect();
        events.extend(path.iter().map(|&(t, p)| (t, k, p)));
        let (mut t0, mut pos) = (start, 0i64);
        let (mut weighted, mut flat) = (0i128, 0i128);
        for &(t, p) in &path {
            let dt = i128::from(t - t0);
            weighted = weighted.saturating_add(i128::from(pos.unsigned_abs()) * dt);
            if pos == 0 {
                flat += dt;
            }
            t0 = t;
            pos = p;
        }
        let dt = i128::from(end - t0);
        weighted = weighted.saturating_add(i128::from(pos.unsigned_abs()) * dt);
        if pos == 0 {
            flat += dt;
        }
        let abs: Vec<f64> = path
            .iter()
            .map(|p| p.1.unsigned_abs() as f64 / 1e8)
            .collect();
        out.push(Inventory {
            instrument: id.clone(),
            max_abs_position: Amount(
                path.iter()
                    .map(|p| i128::from(p.1.unsigned_abs()))
                    .max()
                    .unwrap_or(0),
            ),
            mean_abs_position: if span > 0 {
                weighted as f64 / (span as f64 * SCALE as f64)
            } else {
                0.0
            },
            mean_abs_position_at_fills: mean_opt(&abs),
            time_flat_share: if span > 0 {
                flat as f64 / span as f64
            } else {
                1.0
            },
        });
    }
    events.sort_by_key(|e| e.0);
    let mut pos = vec![0i64; instruments.len()];
    let (mut t0, mut open_time) = (start, 0i128);
    for (t, k, p) in events {
        if pos.iter().any(|q| *q != 0) {
            open_time += i128::from(t - t0);
        }
        t0 = t;
        pos[k] = p;
    }
    if pos.iter().any(|q| *q != 0) {
        open_time += i128::from(end - t0);
    }
    let exposure = if span > 0 {
        open_time as f64 / span as f64
    } else {
        0.0
    };
    (exposure, out)
}

#[cfg(test)]
mod tests;
