//! Return statistics on an equity curve: resampling to a frequency, returns,
//! annualisation, volatility, Sharpe, Sortino, Calmar, drawdowns, historical
//! VaR and CVaR.
//!
//! Equity values are exact (raw `10^-8` in `i128`); everything derived here
//! (returns, ratios, statistics) is real-valued and computed in `f64`. This is
//! the only place besides the trade-quality ratios where floats appear, and
//! nothing here feeds back into money (see docs/ANALYTICS.md).

use crate::run::TimeNs;

/// Seconds in the year used for annualisation: 365 days of 24 hours (crypto
/// trades every day).
pub const SECONDS_PER_YEAR: f64 = 365.0 * 86_400.0;

/// `i128` raw `10^-8` to `f64` (one rounding).
pub fn raw_f64(raw: i128) -> f64 {
    raw as f64 / 1e8
}

/// Exact equity curve resampled to `freq_ns` (epoch-aligned boundaries): the
/// first point, then the last value at or before each boundary strictly
/// between the first and the last time, then the last point. `freq_ns == 0`
/// keeps every point. `points` must be sorted by time.
pub fn resample(points: &[(TimeNs, i128)], freq_ns: i64) -> Vec<(TimeNs, i128)> {
    let (Some(&first), Some(&last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    if freq_ns <= 0 {
        return points.to_vec();
    }
    let mut out = vec![first];
    let mut next = (first.0 - first.0.rem_euclid(freq_ns)).checked_add(freq_ns);
    let mut i = 0;
    while let Some(b) = next.filter(|b| *b < last.0) {
        while i + 1 < points.len() && points[i + 1].0 <= b {
            i += 1;
        }
        out.push((b, points[i].1));
        next = b.checked_add(freq_ns);
    }
    if points.len() > 1 {
        out.push(last);
    }
    out
}

/// Simple returns `E_t / E_{t-1} − 1` (computed as the exact difference over
/// the previous value), stamped with the end of each period. A period that
/// starts at non-positive equity has no defined return and is skipped.
pub fn returns(points: &[(TimeNs, i128)]) -> Vec<(TimeNs, f64)> {
    points
        .windows(2)
        .filter(|w| w[0].1 > 0)
        .map(|w| (w[1].0, (w[1].1 - w[0].1) as f64 / w[0].1 as f64))
        .collect()
}

/// Arithmetic mean (`None` when empty).
pub fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}

/// Sample standard deviation (ddof = 1; `None` below two values).
pub fn std_dev(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (x.len() - 1) as f64).sqrt())
}

/// Per-period risk-free rate from an annual rate: `(1 + r)^(1/n) − 1`.
pub fn periodic_rate(annual: f64, periods_per_year: f64) -> f64 {
    (1.0 + annual).powf(1.0 / periods_per_year) - 1.0
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Annualised volatility: `std(r, ddof=1) × sqrt(n)`.
pub fn volatility(r: &[f64], periods_per_year: f64) -> Option<f64> {
    finite(std_dev(r)? * periods_per_year.sqrt())
}

/// Sharpe ratio: `mean(r − rf) / std(r, ddof=1) × sqrt(n)` (`None` if the
/// standard deviation is zero).
pub fn sharpe(r: &[f64], rf: f64, periods_per_year: f64) -> Option<f64> {
    let sd = std_dev(r)?;
    if sd == 0.0 {
        return None;
    }
    finite((mean(r)? - rf) / sd * periods_per_year.sqrt())
}

/// Sortino ratio: `mean(r − rf) / DD × sqrt(n)` with the downside deviation
/// `DD = sqrt(Σ min(0, r − rf)² / N)` over all `N` periods (`None` if there
/// is no period below `rf`).
pub fn sortino(r: &[f64], rf: f64, periods_per_year: f64) -> Option<f64> {
    let m = mean(r)?;
    let dd2 = r.iter().map(|v| (v - rf).min(0.0).powi(2)).sum::<f64>() / r.len() as f64;
    if dd2 == 0.0 {
        return None;
    }
    finite((m - rf) / dd2.sqrt() * periods_per_year.sqrt())
}

/// Historical value at risk and conditional value at risk at `level` (e.g.
/// 0.95), as positive losses: with the returns sorted ascending and
/// `k = ceil((1 − level) × N)` (at least 1), VaR is `−r_(k)` and CVaR is
/// `−mean(r_(1..=k))`.
pub fn var_cvar(r: &[f64], level: f64) -> Option<(f64, f64)> {
    if r.is_empty() {
        return None;
    }
    let mut s = r.to_vec();
    s.sort_by(f64::total_cmp);
    let k = tail_count(s.len(), level);
    let var = -s[k - 1];
    let cvar = -(s[..k].iter().sum::<f64>() / k as f64);
    Some((var, cvar))
}

/// `ceil((1 − level) × n)` clamped to `1..=n`, computed in basis points to
/// avoid float surprises (`(1 − 0.95) × 100` is not exactly 5 in `f64`).
fn tail_count(n: usize, level: f64) -> usize {
    let tail_bp = ((1.0 - level) * 10_000.0).round() as u128;
    let k = (tail_bp * n as u128).div_ceil(10_000) as usize;
    k.clamp(1, n)
}

/// Drawdown at each point, `1 − E_t / max(E_0..=E_t)` (0 at a peak or when the
/// peak is not positive).
pub fn drawdowns(points: &[(TimeNs, i128)]) -> Vec<(TimeNs, f64)> {
    let mut peak = i128::MIN;
    points
        .iter()
        .map(|&(t, v)| {
            peak = peak.max(v);
            let dd = if peak > 0 {
                (peak - v) as f64 / peak as f64
            } else {
                0.0
            };
            (t, dd)
        })
        .collect()
}

/// Maximum drawdown (exact comparison, one rounding) and the longest time
/// under water: from a peak to the first time equity is back at or above it,
/// or to the last point if it never is.
pub fn max_drawdown(points: &[(TimeNs, i128)]) -> (f64, i64) {
    let (mut peak, mut peak_t) = (i128::MIN, 0);
    let (mut num, mut den) = (0i128, 1i128);
    let mut longest = 0i64;
    let mut under = false;
    for &(t, v) in points {
        if v >= peak {
            if under {
                longest = longest.max(t - peak_t);
                under = false;
            }
            peak = v;
            peak_t = t;
            continue;
        }
        under = true;
        let dd = peak - v;
        // dd / peak > num / den, exactly while the products fit
        let deeper = match (dd.checked_mul(den), num.checked_mul(peak)) {
            (Some(a), Some(b)) => a > b,
            _ => dd as f64 / peak as f64 > num as f64 / den as f64,
        };
        if peak > 0 && deeper {
            num = dd;
            den = peak;
        }
    }
    if let (true, Some(&(t, _))) = (under, points.last()) {
        longest = longest.max(t - peak_t);
    }
    (num as f64 / den as f64, longest)
}

/// Annualised return from a total return over `span_secs`:
/// `(1 + total)^(year / span) − 1` (`None` if not finite).
pub fn annualise(total: f64, span_secs: f64) -> Option<f64> {
    if span_secs <= 0.0 || total <= -1.0 {
        return None;
    }
    finite((1.0 + total).powf(SECONDS_PER_YEAR / span_secs) - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: i128 = 100_000_000;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
    }

    #[test]
    fn resample_takes_last_value_at_or_before_each_boundary() {
        // points at 5, 12, 14, 31 (freq 10): boundaries 10, 20, 30 inside (5, 31).
        let p = [(5, 100), (12, 110), (14, 120), (31, 90)];
        assert_eq!(
            resample(&p, 10),
            vec![(5, 100), (10, 100), (20, 120), (30, 120), (31, 90)]
        );
        assert_eq!(resample(&p, 0), p.to_vec());
        // a period longer than the curve: first and last only
        assert_eq!(resample(&p, i64::MAX), vec![(5, 100), (31, 90)]);
        // a last point on a boundary is kept once
        assert_eq!(
            resample(&[(0, 1), (20, 2)], 10),
            vec![(0, 1), (10, 1), (20, 2)]
        );
    }

    #[test]
    fn returns_mean_std() {
        // 100 -> 110 -> 99 -> 99: r = 0.1, -0.1, 0
        let p = [(0, 100 * U), (1, 110 * U), (2, 99 * U), (3, 99 * U)];
        let r: Vec<f64> = returns(&p).into_iter().map(|x| x.1).collect();
        assert!(close(r[0], 0.1) && close(r[1], -0.1) && r[2] == 0.0);
        assert!(mean(&r).unwrap().abs() < 1e-17);
        // std ddof=1: sqrt((0.01 + 0.01 + 0) / 2) = 0.1
        assert!(close(std_dev(&r).unwrap(), 0.1));
        assert!(close(volatility(&r, 4.0).unwrap(), 0.2));
    }

    #[test]
    fn sharpe_and_sortino_by_hand() {
        // r = [0.02, -0.01, 0.03, 0.00]; mean = 0.01
        // std ddof=1 = sqrt((0.0001+0.0004+0.0004+0.0001)/3) = sqrt(0.001/3)
        // Sharpe(n = 4) = 0.01 / 0.018257418583505537 × 2 = 1.0954451150103321
        let r = [0.02, -0.01, 0.03, 0.0];
        assert!(close(sharpe(&r, 0.0, 4.0).unwrap(), 1.0954451150103321));
        // downside: only -0.01 -> DD = sqrt(0.0001/4) = 0.005; Sortino = 0.01/0.005×2 = 4
        assert!(close(sortino(&r, 0.0, 4.0).unwrap(), 4.0));
        // with rf = 0.01 per period: excess mean 0; downside = [-0.02, -0.01] → still defined
        assert!(sharpe(&r, 0.01, 4.0).unwrap().abs() < 1e-15);
        // DD = sqrt((0.0004 + 0.0001)/4) = sqrt(0.000125)
        assert!(sortino(&r, 0.01, 4.0).unwrap().abs() < 1e-12);
        assert_eq!(sharpe(&[0.01, 0.01], 0.0, 4.0), None);
        assert_eq!(sortino(&[0.01, 0.02], 0.0, 4.0), None);
        assert!(close(periodic_rate(0.21, 2.0), 0.1));
    }

    #[test]
    fn var_cvar_by_hand() {
        // 20 returns -0.10, -0.09, ..., 0.09: 95 % → k = ceil(0.05×20) = 1;
        // 90 % → k = 2: VaR = 0.09, CVaR = (0.10+0.09)/2 = 0.095
        let r: Vec<f64> = (0..20).map(|i| (i as f64 - 10.0) / 100.0).collect();
        let (v, c) = var_cvar(&r, 0.95).unwrap();
        assert!(close(v, 0.10) && close(c, 0.10));
        let (v, c) = var_cvar(&r, 0.90).unwrap();
        assert!(close(v, 0.09) && close(c, 0.095));
        // 99 % on 3 values: k = ceil(0.03) = 1
        assert_eq!(var_cvar(&[0.5, -0.2, 0.1], 0.99), Some((0.2, 0.2)));
        assert_eq!(var_cvar(&[], 0.99), None);
        assert_eq!(tail_count(100, 0.95), 5);
        assert_eq!(tail_count(101, 0.95), 6);
    }

    #[test]
    fn drawdown_depth_and_duration() {
        // 100 @0, 120 @10, 90 @20, 110 @30, 125 @40, 100 @50
        // max dd = 30/120 = 0.25; under water 10→40 (30 s) and 40→50 (10, open)
        let p = [
            (0, 100 * U),
            (10, 120 * U),
            (20, 90 * U),
            (30, 110 * U),
            (40, 125 * U),
            (50, 100 * U),
        ];
        let (dd, dur) = max_drawdown(&p);
        assert!(close(dd, 0.25));
        assert_eq!(dur, 30);
        let s = drawdowns(&p);
        assert_eq!(s[1].1, 0.0);
        assert!(close(s[2].1, 0.25) && close(s[5].1, 0.2));
        // never recovers: duration runs to the end
        assert_eq!(max_drawdown(&[(0, 10), (5, 9), (100, 9)]), (0.1, 100));
        // a flat curve is never under water
        assert_eq!(max_drawdown(&[(0, 10), (5, 10)]), (0.0, 0));
    }

    #[test]
    fn annualisation() {
        // +10 % over half a year -> 1.1^2 − 1 = 0.21
        assert!(close(annualise(0.1, SECONDS_PER_YEAR / 2.0).unwrap(), 0.21));
        assert_eq!(annualise(0.1, 0.0), None);
        assert_eq!(annualise(1.0, 1.0), None); // 2^31536000 overflows
    }
}
