"""veloz-analytics cross-checked with numpy and pandas: real backtests on fixture
data (a USD-M market maker on an L2 capture, a COIN-M grid, an EMA cross on a
month of 1m bars with funding, a spot grid), analysed by the crate's `analyze`
example, and every statistic recomputed here from the run folder's CSV files
with the formulas of docs/ANALYTICS.md; floats agree to 1e-9 relative, money
exactly."""

from __future__ import annotations

import json
import math
import os
import subprocess
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _veloz import REPO, fixtures, veloz
CONFIGS = REPO / "libs" / "strategies" / "examples" / "configs"
YEAR = 365 * 86400
NS = 1_000_000_000
Q8 = Decimal("0.00000001")


def analyze(run: Path, *extra: str) -> dict:
    """The crate's analysis of a run folder: the `analyze` example, built with
    cargo (or the binary named by $VELOZ_ANALYZE_BIN)."""
    binary = os.environ.get("VELOZ_ANALYZE_BIN")
    cmd = [binary] if binary else ["cargo", "run", "-q", "-p", "veloz-analytics", "--example", "analyze", "--"]
    out = subprocess.run([*cmd, str(run), *extra], cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def close(got, want, what: str) -> None:
    if want is None:
        assert got is None, f"{what}: got {got}, want None"
        return
    assert got is not None, f"{what}: got None, want {want}"
    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-15), f"{what}: got {got!r}, want {want!r}"


def ns(s: str) -> int:
    return int(np.datetime64(s.rstrip("Z"), "ns").astype(np.int64))


def read(run: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(run / name, dtype=str, keep_default_na=False)


def floor8(x: Decimal) -> Decimal:
    return x.quantize(Q8, rounding=ROUND_FLOOR)


def half_even8(x: Decimal) -> Decimal:
    return x.quantize(Q8, rounding=ROUND_HALF_EVEN)


def contract_size(instrument: str) -> Decimal | None:
    _, market, symbol = instrument.split(".")
    if market != "COINM":
        return None
    return Decimal(100) if symbol == "BTCUSD_PERP" else Decimal(10)


def pnl(cs: Decimal | None, q: Decimal, entry: Decimal, exit_: Decimal) -> Decimal:
    if cs is None:
        return floor8(q * (exit_ - entry))
    return floor8(q * cs * (exit_ - entry) / (entry * exit_))


def entry_after_add(cs, held: Decimal, entry: Decimal, add: Decimal, price: Decimal) -> Decimal:
    if held == 0:
        return price
    if cs is None:
        return half_even8((held * entry + add * price) / (held + add))
    return half_even8((held + add) * entry * price / (held * price + add * entry))


class Mids:
    """Latest price sample at or before a time, per instrument."""

    def __init__(self, prices: pd.DataFrame) -> None:
        self.t: dict[str, np.ndarray] = {}
        self.p: dict[str, list[Decimal]] = {}
        for inst, g in prices.groupby("instrument", sort=False):
            t = np.array([ns(x) for x in g["time"]], dtype=np.int64)
            order = np.argsort(t, kind="stable")
            self.t[inst] = t[order]
            self.p[inst] = [Decimal(g["price"].iloc[i]) for i in order]

    def at(self, inst: str, t: int, within: bool = False) -> Decimal | None:
        ts = self.t.get(inst)
        if ts is None or (within and t > ts[-1]):
            return None
        i = int(np.searchsorted(ts, t, side="right")) - 1
        return self.p[inst][i] if i >= 0 else None

    def last(self, inst: str) -> Decimal | None:
        return self.p[inst][-1] if inst in self.p else None


def recompute_and_compare(run: Path, a: dict, freq_secs: int | None = None, rf_annual: float = 0.0) -> None:
    with localcontext() as ctx:
        ctx.prec = 60
        _recompute(run, a, freq_secs, rf_annual)


def _recompute(run: Path, a: dict, freq_secs: int | None, rf_annual: float) -> None:
    summary = json.loads((run / "summary.json").read_text())
    currency = summary["currency"]
    start_eq = Decimal(summary["start_equity"])
    start = ns(summary["start"].replace(" ", "T"))
    eq = read(run, "equity.csv")
    fills = read(run, "fills.csv")
    orders = read(run, "orders.csv")
    mids = Mids(read(run, "prices.csv"))

    # ---- equity curve, returns, statistics ----------------------------
    times = np.array([start] + [ns(t) for t in eq["time"]], dtype=np.int64)
    values = [start_eq] + [Decimal(v) for v in eq["equity"]]
    end = int(times[-1])
    if len(fills):
        end = max(end, ns(fills["time"].iloc[-1]))
    span = end - start
    if freq_secs is None:
        freq = 86400 * NS if span >= 3 * 86400 * NS else 3600 * NS if span >= 3 * 3600 * NS else 0
    else:
        freq = freq_secs * NS
    if freq > 0:
        st, sv = [int(times[0])], [values[0]]
        b = int(times[0]) - int(times[0]) % freq + freq
        while b < int(times[-1]):
            i = int(np.searchsorted(times, b, side="right")) - 1
            st.append(b)
            sv.append(values[i])
            b += freq
        st.append(int(times[-1]))
        sv.append(values[-1])
    else:
        st, sv = list(times), values
    r = np.array([float((sv[i] - sv[i - 1]) / sv[i - 1]) for i in range(1, len(sv)) if sv[i - 1] > 0])
    assert a["returns"]["count"] == len(r)
    assert [x[1] for x in a["series"]["returns"]] == pytest.approx(list(r), rel=1e-9, abs=1e-15)
    n = YEAR / (freq / NS) if freq > 0 else YEAR / ((span / NS) / len(r))
    close(a["returns"]["periods_per_year"], n, "periods_per_year")
    rf = (1 + rf_annual) ** (1 / n) - 1
    close(a["returns"]["risk_free_rate_period"], rf, "rf")
    st_ = a["stats"]
    total = float((values[-1] - start_eq) / start_eq)
    close(st_["total_return"], total, "total_return")
    ann = (1 + total) ** (YEAR / (span / NS)) - 1
    ann = ann if math.isfinite(ann) else None
    close(st_["annualised_return"], ann, "annualised_return")
    sd = float(np.std(r, ddof=1))
    close(st_["volatility"], sd * math.sqrt(n), "volatility")
    close(st_["sharpe"], (float(np.mean(r)) - rf) / sd * math.sqrt(n) if sd > 0 else None, "sharpe")
    dd = math.sqrt(float(np.mean(np.minimum(r - rf, 0.0) ** 2)))
    close(st_["sortino"], (float(np.mean(r)) - rf) / dd * math.sqrt(n) if dd > 0 else None, "sortino")
    dds, top = [], values[0]
    for v in values:
        top = max(top, v)
        dds.append(float((top - v) / top) if top > 0 else 0.0)
    assert [x[1] for x in a["series"]["drawdown"]] == pytest.approx(dds, rel=1e-9, abs=1e-15)
    max_dd = max(dds)
    close(st_["max_drawdown"], max_dd, "max_drawdown")
    close(st_["calmar"], ann / max_dd if ann is not None and max_dd > 0 else None, "calmar")
    # longest time under a peak
    pk, pk_t, under, longest = None, 0, False, 0
    for t, v in zip(times, values):
        if pk is None or v >= pk:
            if under:
                longest = max(longest, int(t) - pk_t)
                under = False
            pk, pk_t = v, int(t)
        else:
            under = True
    if under:
        longest = max(longest, int(times[-1]) - pk_t)
    close(st_["max_drawdown_duration_secs"], longest / NS, "max_drawdown_duration_secs")
    # historical VaR / CVaR
    rs = np.sort(r)
    for level, pct in (("95", 5), ("99", 1)):
        k = min(max(1, -(-pct * len(rs) // 100)), len(rs))
        close(a["risk"][f"var_{level}"], float(-rs[k - 1]), f"var_{level}")
        close(a["risk"][f"cvar_{level}"], float(-np.mean(rs[:k])), f"cvar_{level}")
    # leverage = exposure / equity
    lev = [float(Decimal(x) / Decimal(e)) for x, e in zip(eq["exposure"], eq["equity"])]
    assert [x[1] for x in a["series"]["leverage"]] == pytest.approx(lev, rel=1e-9, abs=1e-15)
    close(a["risk"]["max_leverage"], max(lev), "max_leverage")
    close(a["risk"]["mean_leverage"], float(np.mean(lev)), "mean_leverage")

    # ---- fills replayed with Decimal ----------------------------------
    created = {o: ns(c) for o, c in zip(orders["client_order_id"], orders["created"])}
    books: dict[str, dict] = {}
    trades: list[Decimal] = []
    slip_px, slip_bps, slip_cost = [], [], Decimal(0)
    horizons = [1, 10, 60]
    mk_px = {h: [] for h in horizons}
    mk_bps = {h: [] for h in horizons}
    for row in fills.itertuples(index=False):
        inst, t = row.instrument, ns(row.time)
        cs = contract_size(inst)
        b = books.setdefault(inst, dict(qty=Decimal(0), entry=Decimal(0), realized=Decimal(0),
                                        fees=Decimal(0), turnover=Decimal(0), spread=Decimal(0), n=0))
        price, qty, sign = Decimal(row.price), Decimal(row.qty), (1 if row.side == "BUY" else -1)
        signed = sign * qty
        held = b["qty"]
        if held == 0 or (held > 0) == (signed > 0):
            b["entry"] = entry_after_add(cs, abs(held), b["entry"], qty, price)
            b["qty"] = held + signed
        else:
            closing = min(qty, abs(held))
            p = pnl(cs, closing * (1 if held > 0 else -1), b["entry"], price)
            trades.append(p)
            b["realized"] += p
            rest = held + signed
            b["qty"] = rest
            if rest == 0:
                b["entry"] = Decimal(0)
            elif (rest > 0) != (held > 0):
                b["entry"] = price
        fee = Decimal(row.fee)
        b["fees"] += fee if row.fee_asset == currency else half_even8(fee * price)
        b["turnover"] += half_even8(qty * price if cs is None else qty * cs / price)
        b["n"] += 1
        m0 = mids.at(inst, t)
        if m0 is not None:
            b["spread"] += pnl(cs, signed, price, m0)
        arrival = mids.at(inst, created[row.client_order_id])
        if arrival is not None:
            d = sign * (price - arrival)
            slip_px.append(float(d))
            slip_bps.append(float(d / arrival * 10_000))
            slip_cost -= pnl(cs, signed, price, arrival)
        for h in horizons:
            m1 = mids.at(inst, t + h * NS, within=True)
            if m0 is not None and m1 is not None:
                d = sign * (m1 - m0)
                mk_px[h].append(float(d))
                mk_bps[h].append(float(d / m0 * 10_000))

    last = eq.iloc[-1]
    total = a["pnl"]["total"]
    for k in ("realized", "unrealized", "fees", "funding"):
        assert Decimal(total[k]) == Decimal(last[k]), k
    assert Decimal(total["net"]) == values[-1] - start_eq
    instruments = list(summary["instruments"])
    spread_total = Decimal(0)
    for ip in a["pnl"]["instruments"]:
        b = books[ip["instrument"]]
        cs = contract_size(ip["instrument"])
        assert Decimal(ip["realized"]) == b["realized"]
        assert Decimal(ip["fees"]) == b["fees"]
        assert Decimal(ip["turnover"]) == b["turnover"]
        assert Decimal(ip["spread_capture"]) == b["spread"]
        assert Decimal(ip["position"]) == b["qty"]
        assert Decimal(ip["entry_price"]) == b["entry"]
        mark = mids.last(ip["instrument"])
        unreal = Decimal(0) if b["qty"] == 0 else pnl(cs, b["qty"], b["entry"], mark)
        assert Decimal(ip["unrealized"]) == unreal
        spread_total += b["spread"]
    if len(instruments) == 1:
        # the replay reproduces the kernel's realised PnL to the last unit
        assert sum(b["realized"] for b in books.values()) == Decimal(last["realized"])
    dc = a["pnl"]["decomposition"]
    assert Decimal(dc["spread_capture"]) == spread_total
    assert Decimal(dc["inventory"]) == Decimal(last["realized"]) + Decimal(last["unrealized"]) - spread_total
    assert (Decimal(dc["spread_capture"]) + Decimal(dc["inventory"]) - Decimal(dc["fees"])
            + Decimal(dc["funding"])) == Decimal(dc["net"])

    wins = [p for p in trades if p > 0]
    losses = [p for p in trades if p < 0]
    assert st_["trades"] == len(trades)
    assert (st_["winning_trades"], st_["losing_trades"]) == (len(wins), len(losses))
    close(st_["win_rate"], len(wins) / len(trades) if trades else None, "win_rate")
    close(st_["profit_factor"], float(sum(wins) / -sum(losses)) if losses else None, "profit_factor")
    if trades:
        assert Decimal(st_["expectancy"]) == half_even8(sum(trades) / len(trades))
    assert Decimal(st_["turnover"]) == sum(b["turnover"] for b in books.values())

    # ---- trade quality --------------------------------------------------
    tq = a["trade_quality"]
    live = orders[orders["status"] != "Rejected"]
    q_sum = sum(Decimal(x) for x in live["quantity"])
    f_sum = sum(Decimal(x) for x in live["filled_qty"])
    close(tq["fill_ratio"], float(f_sum / q_sum) if q_sum else None, "fill_ratio")
    filled = int((live["filled_qty"].map(Decimal) > 0).sum())
    close(tq["filled_order_share"], filled / len(live) if len(live) else None, "filled_order_share")
    maker = int((fills["liquidity"] == "maker").sum())
    assert tq["maker_fills"] == maker
    close(tq["maker_share"], maker / len(fills) if len(fills) else None, "maker_share")
    assert tq["slippage"]["fills"] == len(slip_bps)
    close(tq["slippage"]["mean"], float(np.mean(slip_px)) if slip_px else None, "slippage")
    close(tq["slippage"]["mean_bps"], float(np.mean(slip_bps)) if slip_bps else None, "slippage bps")
    assert Decimal(tq["slippage"]["total_cost"]) == slip_cost
    for m, h in zip(tq["markouts"], horizons):
        assert m["horizon_secs"] == h and m["fills"] == len(mk_bps[h])
        close(m["mean"], float(np.mean(mk_px[h])) if mk_px[h] else None, f"markout {h}s")
        close(m["mean_bps"], float(np.mean(mk_bps[h])) if mk_bps[h] else None, f"markout {h}s bps")
    adverse = [v for v in mk_bps[10] if v < 0]
    ad = tq["adverse_selection"]
    assert (ad["fills"], ad["adverse_fills"]) == (len(mk_bps[10]), len(adverse))
    close(ad["share"], len(adverse) / len(mk_bps[10]) if mk_bps[10] else None, "adverse share")
    close(ad["mean_adverse_bps"], float(np.mean(adverse)) if adverse else None, "adverse mean")

    # inventory and time in the market, from the positions after each fills
    seen = instruments + [i for i in dict.fromkeys(fills["instrument"]) if i not in instruments]
    events = []
    for k, inv in zip(seen, tq["inventory"]):
        assert inv["instrument"] == k
        g = fills[fills["instrument"] == k]
        path = [(min(max(ns(t), start), end), Decimal(p)) for t, p in zip(g["time"], g["position_after"])]
        events += [(t, k, p) for t, p in path]
        t0, pos, weighted, flat = start, Decimal(0), Decimal(0), 0
        for t, p in path + [(end, None)]:
            weighted += abs(pos) * (t - t0)
            flat += (t - t0) if pos == 0 else 0
            t0 = t
            if p is not None:
                pos = p
        assert Decimal(inv["max_abs_position"]) == max((abs(p) for _, p in path), default=Decimal(0))
        close(inv["mean_abs_position"], float(weighted / span), f"{k} mean |position|")
        close(inv["time_flat_share"], flat / span, f"{k} time flat")
        at = [float(abs(p)) for _, p in path]
        close(inv["mean_abs_position_at_fills"], float(np.mean(at)) if at else None, f"{k} at fills")
    events.sort(key=lambda e: e[0])
    pos, t0, open_time = {k: Decimal(0) for k in seen}, start, 0
    for t, k, p in events + [(end, None, None)]:
        if any(v != 0 for v in pos.values()):
            open_time += t - t0
        t0 = t
        if k is not None:
            pos[k] = p
    close(st_["exposure"], open_time / span, "exposure")


def run_backtest(tmp_path: Path, name: str, strategy: str, config: str, *data: Path) -> Path:
    run = tmp_path / name
    veloz("backtest", "--quiet", "--strategy", strategy, "--config", str(CONFIGS / config),
          "--data", *map(str, data), "--out", str(run))
    return run


def test_market_maker_usdm_l2(tmp_path: Path) -> None:
    f = fixtures() / "binance" / "hftbacktest"
    run = run_backtest(tmp_path, "mm", "market_maker", "mm_usdm_btcusdt.toml", f / "usdm_btcusdt_20240808.gz")
    a = analyze(run)
    assert a["returns"]["frequency_secs"] == 0.0  # a 6-minute run: every equity sample
    assert a["stats"]["trades"] > 50 and a["trade_quality"]["markouts"][1]["fills"] > 50
    recompute_and_compare(run, a)


def test_grid_coinm_inverse(tmp_path: Path) -> None:
    f = fixtures() / "binance" / "hftbacktest"
    run = run_backtest(tmp_path, "grid", "grid", "grid_coinm_btcusd_perp.toml", f / "cm_btcusd_perp_20240808.gz")
    a = analyze(run)
    assert a["pnl"]["instruments"][0]["kind"] == "inverse"
    recompute_and_compare(run, a)


def test_ema_cross_usdm_bars_with_funding(tmp_path: Path) -> None:
    f = fixtures() / "binance" / "market"
    run = run_backtest(
        tmp_path, "ema", "ema_cross", "ema_cross_usdm_btcusdt.toml",
        f / "usdm_btcusdt_1m_20250504_20250603.csv.gz",
        f / "usdm_btcusdt_funding_20250306_20250603.csv.gz",
        f / "usdm_btcusdt_markprice_8h_20250306_20250603.csv.gz",
    )
    a = analyze(run)
    assert a["returns"]["frequency_secs"] == 86400.0 and a["returns"]["periods_per_year"] == 365.0
    assert Decimal(a["pnl"]["total"]["funding"]) != 0
    assert a["stats"]["trades"] > 1000
    recompute_and_compare(run, a)
    # hourly returns with a 4 % risk-free rate
    recompute_and_compare(run, analyze(run, "3600", "0.04"), freq_secs=3600, rf_annual=0.04)


def test_grid_spot_bars(tmp_path: Path) -> None:
    f = fixtures() / "binance" / "market"
    run = run_backtest(tmp_path, "spot", "grid", "grid_spot_btcusdt.toml",
                       f / "spot_btcusdt_1m_20241130_20241229.csv.gz")
    a = analyze(run)
    assert a["pnl"]["instruments"][0]["kind"] == "spot"
    recompute_and_compare(run, a)
