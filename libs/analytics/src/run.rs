//! Reading a backtest run folder: a small CSV reader for the files `veloz
//! backtest` writes (`fills.csv`, `orders.csv`, `equity.csv`, `prices.csv`),
//! RFC 3339 timestamps, exact decimals, and `summary.json`.
//!
//! This module owns the typed rows ([`FillRow`], [`OrderRow`], [`EquityRow`],
//! [`PriceRow`]) and [`RunData`], everything the analysis reads. Every value is
//! parsed exactly (decimals into raw `10^-8` units); a malformed file is a
//! typed error naming the file, the line and the column.

use std::collections::HashMap;
use std::path::Path;

use veloz_core::Side;

use crate::AnalyticsError;

/// Nanoseconds since the Unix epoch.
pub type TimeNs = i64;

/// One row of `fills.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRow {
    /// Local (kernel) time of the fill.
    pub time: TimeNs,
    /// Instrument id, e.g. `BINANCE.USDM.BTCUSDT`.
    pub instrument: String,
    /// Client order id of the order that filled.
    pub client_order_id: String,
    /// Buy or sell.
    pub side: Side,
    /// Fill price, raw `10^-8`.
    pub price: i64,
    /// Fill quantity (unsigned), raw `10^-8`.
    pub qty: i64,
    /// Fee, raw `10^-8` of `fee_asset`.
    pub fee: i128,
    /// Asset the fee was charged in.
    pub fee_asset: String,
    /// Maker (`true`) or taker.
    pub maker: bool,
    /// Signed position after the fill, raw `10^-8`.
    pub position_after: i64,
}

/// One row of `orders.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    /// Client order id.
    pub client_order_id: String,
    /// Instrument id.
    pub instrument: String,
    /// Buy or sell.
    pub side: Side,
    /// Order quantity, raw `10^-8`.
    pub quantity: i64,
    /// Final status as written (`Filled`, `Canceled`, `Rejected`, ...).
    pub status: String,
    /// Filled quantity, raw `10^-8`.
    pub filled_qty: i64,
    /// Creation time.
    pub created: TimeNs,
}

/// One row of `equity.csv` (money in raw `10^-8` of the account currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EquityRow {
    /// Sample time.
    pub time: TimeNs,
    /// Equity.
    pub equity: i128,
    /// Realised PnL so far.
    pub realized: i128,
    /// Unrealised PnL at the reference prices.
    pub unrealized: i128,
    /// Fees so far.
    pub fees: i128,
    /// Funding so far (positive = received).
    pub funding: i128,
    /// Gross exposure.
    pub exposure: i128,
}

/// One row of `prices.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRow {
    /// Sample time.
    pub time: TimeNs,
    /// Instrument id.
    pub instrument: String,
    /// Mid price, raw `10^-8`.
    pub price: i64,
}

/// Everything read from a run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunData {
    /// Account currency (`summary.json` `currency`).
    pub currency: String,
    /// Start equity, raw (`summary.json` `start_equity`).
    pub start_equity: i128,
    /// Run start (`summary.json` `start`, whole seconds).
    pub start: TimeNs,
    /// Instruments of the run, in `summary.json` order.
    pub instruments: Vec<String>,
    /// Fills in file order.
    pub fills: Vec<FillRow>,
    /// Orders in file order.
    pub orders: Vec<OrderRow>,
    /// Equity samples in file order.
    pub equity: Vec<EquityRow>,
    /// Price samples in file order.
    pub prices: Vec<PriceRow>,
}

impl RunData {
    /// Reads `summary.json`, `fills.csv`, `orders.csv`, `equity.csv` and
    /// `prices.csv` from a run folder.
    pub fn load(dir: &Path) -> Result<Self, AnalyticsError> {
        let summary_path = dir.join("summary.json");
        let text = read(&summary_path)?;
        let summary: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| AnalyticsError::Summary {
                path: summary_path.clone(),
                msg: e.to_string(),
            })?;
        let field = |name: &str| -> Result<&str, AnalyticsError> {
            summary[name]
                .as_str()
                .ok_or_else(|| AnalyticsError::Summary {
                    path: summary_path.clone(),
                    msg: format!("missing string field `{name}`"),
                })
        };
        let currency = field("currency")?.to_string();
        let start_equity =
            parse_dec(field("start_equity")?).ok_or_else(|| AnalyticsError::Summary {
                path: summary_path.clone(),
                msg: "`start_equity` is not a decimal".into(),
            })?;
        let start = parse_summary_time(field("start")?).ok_or_else(|| AnalyticsError::Summary {
            path: summary_path.clone(),
            msg: "`start` is not a `YYYY-MM-DD HH:MM:SS` time".into(),
        })?;
        let instruments = summary["instruments"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();

        let fills = read_csv(&dir.join("fills.csv"), |r| {
            Ok(FillRow {
                time: r.time("time")?,
                instrument: r.str("instrument")?.to_string(),
                client_order_id: r.str("client_order_id")?.to_string(),
                side: r.side("side")?,
                price: r.dec64("price")?,
                qty: r.dec64("qty")?,
                fee: r.dec("fee")?,
                fee_asset: r.str("fee_asset")?.to_string(),
                maker: match r.str("liquidity")? {
                    "maker" => true,
                    "taker" => false,
                    _ => return Err(r.bad("liquidity", "expected maker or taker")),
                },
                position_after: r.dec64("position_after")?,
            })
        })?;
        let orders = read_csv(&dir.join("orders.csv"), |r| {
            Ok(OrderRow {
                client_order_id: r.str("client_order_id")?.to_string(),
                instrument: r.str("instrument")?.to_string(),
                side: r.side("side")?,
                quantity: r.dec64("quantity")?,
                status: r.str("status")?.to_string(),
                filled_qty: r.dec64("filled_qty")?,
                created: r.time("created")?,
            })
        })?;
        let equity = read_csv(&dir.join("equity.csv"), |r| {
            Ok(EquityRow {
                time: r.time("time")?,
                equity: r.dec("equity")?,
                realized: r.dec("realized")?,
                unrealized: r.dec("unrealized")?,
                fees: r.dec("fees")?,
                funding: r.dec("funding")?,
                exposure: r.dec("exposure")?,
            })
        })?;
        let prices = read_csv(&dir.join("prices.csv"), |r| {
            Ok(PriceRow {
                time: r.time("time")?,
                instrument: r.str("instrument")?.to_string(),
                price: r.dec64("price")?,
            })
        })?;
        Ok(Self {
            currency,
            start_equity,
            start,
            instruments,
            fills,
            orders,
            equity,
            prices,
        })
    }
}

fn read(path: &Path) -> Result<String, AnalyticsError> {
    std::fs::read_to_string(path).map_err(|source| AnalyticsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// One CSV record with access by column name.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    path: &'a Path,
    line: usize,
    columns: &'a HashMap<String, usize>,
    fields: Vec<String>,
}

impl Record<'_> {
    fn bad(&self, column: &str, msg: &str) -> AnalyticsError {
        AnalyticsError::Csv {
            path: self.path.to_path_buf(),
            line: self.line,
            msg: format!("column `{column}`: {msg}"),
        }
    }

    fn str(&self, column: &str) -> Result<&str, AnalyticsError> {
        let i = *self
            .columns
            .get(column)
            .ok_or_else(|| self.bad(column, "missing from the header"))?;
        self.fields
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| self.bad(column, "row has too few fields"))
    }

    fn dec(&self, column: &str) -> Result<i128, AnalyticsError> {
        let s = self.str(column)?;
        parse_dec(s).ok_or_else(|| self.bad(column, &format!("`{s}` is not a decimal")))
    }

    fn dec64(&self, column: &str) -> Result<i64, AnalyticsError> {
        let v = self.dec(column)?;
        i64::try_from(v).map_err(|_| self.bad(column, "value out of range"))
    }

    fn time(&self, column: &str) -> Result<TimeNs, AnalyticsError> {
        let s = self.str(column)?;
        parse_rfc3339(s).ok_or_else(|| self.bad(column, &format!("`{s}` is not an RFC 3339 time")))
    }

    fn side(&self, column: &str) -> Result<Side, AnalyticsError> {
        match self.str(column)? {
            "BUY" => Ok(Side::Buy),
            "SELL" => Ok(Side::Sell),
            s => Err(self.bad(column, &format!("`{s}` is not BUY or SELL"))),
        }
    }
}

/// Reads a CSV file with a header line, mapping each record with `f`.
pub(crate) fn read_csv<T>(
    path: &Path,
    mut f: impl FnMut(&Record<'_>) -> Result<T, AnalyticsError>,
) -> Result<Vec<T>, AnalyticsError> {
    let text = read(path)?;
    parse_csv(path, &text, &mut f)
}

fn parse_csv<T>(
    path: &Path,
    text: &str,
    f: &mut impl FnMut(&Record<'_>) -> Result<T, AnalyticsError>,
) -> Result<Vec<T>, AnalyticsError> {
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Err(AnalyticsError::Csv {
            path: path.to_path_buf(),
            line: 1,
            msg: "empty file (no header)".into(),
        });
    };
    let columns: HashMap<String, usize> = split_fields(header)
        .into_iter()
        .enumerate()
        .map(|(i, c)| (c, i))
        .collect();
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let rec = Record {
            path,
            line: i + 1,
            columns: &columns,
            fields: split_fields(line),
        };
        out.push(f(&rec)?);
    }
    Ok(out)
}

/// Splits one CSV line; double-quoted fields may hold commas and `""`.
fn split_fields(line: &str) -> Vec<String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Largest magnitude accepted for a decimal: 10^18 units (raw 10^26), far
/// beyond any real amount, so that sums of many rows cannot overflow `i128`.
pub const MAX_ABS_RAW: i128 = 100_000_000_000_000_000_000_000_000;

/// Exact decimal text to raw `10^-8` units (`None` if malformed, more than 8
/// decimals, or beyond ±10^18).
pub fn parse_dec(s: &str) -> Option<i128> {
    veloz_core::fixed::parse_raw(s.trim())
        .ok()
        .map(|(raw, _)| raw)
        .filter(|raw| raw.unsigned_abs() <= MAX_ABS_RAW as u128)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn date_time_ns(date: &str, time: &str) -> Option<TimeNs> {
    let mut d = date.split('-');
    let (y, mo, da) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    // Runs happen after 1970: times are non-negative, so differences of two
    // times never overflow.
    if d.next().is_some()
        || !(1970..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&da)
    {
        return None;
    }
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let mut t = hms.split(':');
    let (h, mi, se) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if t.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut nanos = 0i64;
    if let Some(f) = frac {
        if f.len() > 9 {
            return None;
        }
        nanos = num(f)? * 10i64.pow(9 - f.len() as u32);
    }
    let days = veloz_core::days_from_civil(y, u32::try_from(mo).ok()?, u32::try_from(da).ok()?);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// `2024-08-08T23:54:16.299000000Z` (UTC, `Z` only) to nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<TimeNs> {
    let s = s.trim().strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    date_time_ns(date, time)
}

/// `summary.json`'s `2024-08-08 23:54:16` (UTC) to nanoseconds.
pub fn parse_summary_time(s: &str) -> Option<TimeNs> {
    let (date, time) = s.trim().split_once(' ')?;
    date_time_ns(date, time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_exactly() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-08-08T23:54:16.299000000Z"),
            Some(1_723_161_256_299_000_000)
        );
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:01.5Z"),
            Some(951_868_801_500_000_000)
        );
        assert_eq!(
            parse_summary_time("2024-08-08 23:54:16"),
            Some(1_723_161_256_000_000_000)
        );
        assert_eq!(parse_rfc3339("2024-08-08T23:54:16+01:00"), None);
        assert_eq!(parse_rfc3339("2024-13-08T23:54:16Z"), None);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59Z"), None); // beyond i64 ns
        assert_eq!(parse_dec("1000000000000000000"), Some(MAX_ABS_RAW));
        assert_eq!(parse_dec("-1000000000000000000.00000001"), None);
        assert_eq!(parse_rfc3339("2024-08-08T23:54:16.1234567891Z"), None);
    }

    #[test]
    fn csv_fields_and_errors() {
        assert_eq!(
            split_fields("a,\"b,c\",\"d\"\"e\","),
            vec!["a", "b,c", "d\"e", ""]
        );
        let p = Path::new("x.csv");
        let rows = parse_csv(p, "n,v\na,1.5\nb,-2\n", &mut |r| {
            Ok((r.str("n")?.to_string(), r.dec("v")?))
        })
        .unwrap();
        assert_eq!(
            rows,
            vec![("a".into(), 150_000_000), ("b".into(), -200_000_000)]
        );
        let err = parse_csv(p, "n,v\na,1e5\n", &mut |r| r.dec("v")).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = parse_csv(p, "n\na\n", &mut |r| r.dec("v")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
