"""VeloZ's Parquet files read by pyarrow and pandas: a catalog written by
`veloz data import` (checked by libs/catalog/python/check_catalog.py) and a
backtest run folder, with exact decimals."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from _veloz import REPO, fixtures, veloz


def test_catalog_reads_exactly_in_pandas(tmp_path: Path) -> None:
    f = fixtures() / "binance"
    cat = tmp_path / "catalog"
    veloz(
        "data", "import", "--catalog", str(cat),
        str(f / "market" / "usdm_btcusdt_1m_20250504_20250603.csv.gz"),
        str(f / "hftbacktest" / "spot_btcusdt_20240808.gz"),
    )
    spec = importlib.util.spec_from_file_location(
        "check_catalog", REPO / "libs" / "catalog" / "python" / "check_catalog.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(str(cat))


def test_backtest_run_folder_is_exact(tmp_path: Path) -> None:
    f = fixtures() / "binance" / "market"
    run = tmp_path / "run"
    veloz(
        "backtest", "--quiet", "--strategy", "ema_cross",
        "--config", str(REPO / "libs" / "strategies" / "examples" / "configs" / "ema_cross_usdm_btcusdt.toml"),
        "--data", str(f / "usdm_btcusdt_1m_20250504_20250603.csv.gz"),
        "--out", str(run),
    )
    fills = pq.read_table(run / "fills.parquet")
    assert fills.schema.field("price").type == pa.decimal128(38, 8)
    df = fills.to_pandas()
    assert len(df) > 100
    assert isinstance(df["price"].iloc[0], Decimal)
    # Parquet and CSV hold the same exact values.
    csv = pd.read_csv(run / "fills.csv", dtype=str)
    assert [Decimal(x) for x in csv["price"]] == list(df["price"])
    # The position after each fill is the running sum of signed quantities.
    signed = [q if s == "BUY" else -q for s, q in zip(df["side"], df["qty"])]
    running, acc = [], Decimal(0)
    for q in signed:
        acc += q
        running.append(acc)
    assert running == list(df["position_after"])
    # Equity = start + realised + unrealised + funding - fees, exactly.
    eq = pq.read_table(run / "equity.parquet").to_pandas()
    start = Decimal("100000")
    for row in eq.itertuples():
        assert row.equity == start + row.realized + row.unrealized + row.funding - row.fees
