"""Reads a catalog written by veloz-catalog with pyarrow and pandas and checks
the numbers exactly (decimal.Decimal, not floats) against the fixtures' README.

    cargo run -p veloz-catalog --example import -- /tmp/cat \
        ../shared/fixtures/binance/market/usdm_btcusdt_1m_20250504_20250603.csv.gz \
        ../shared/fixtures/binance/hftbacktest/spot_btcusdt_20240808.gz
    python libs/catalog/python/check_catalog.py /tmp/cat

Needs pyarrow and pandas. Exits non-zero on the first mismatch.
"""

import sys
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds


def main(root: str) -> None:
    bars = ds.dataset(f"{root}/bars", format="parquet").to_table()
    assert bars.schema.field("open").type == pa.decimal128(38, 8), bars.schema
    assert bars.schema.field("ts_local").type == pa.timestamp("ns", tz="UTC"), bars.schema
    df = bars.to_pandas().sort_values("ts_local").reset_index(drop=True)
    assert len(df) == 43_199, len(df)
    first = df.iloc[0]
    assert first["instrument"] == "BINANCE.USDM.BTCUSDT", first["instrument"]
    assert first["open_time"] == pd.Timestamp(1_746_372_780_000, unit="ms", tz="UTC")
    assert [first[c] for c in ("open", "high", "low", "close", "volume")] == [
        Decimal("95505.4"),
        Decimal("95505.5"),
        Decimal("95502.7"),
        Decimal("95502.7"),
        Decimal("16.536"),
    ], first
    assert isinstance(first["open"], Decimal)
    last = df.iloc[-1]
    assert last["close"] == Decimal("106588.4") and last["volume"] == Decimal("261.189"), last
    # Exact sums: Decimal arithmetic, no float rounding.
    total = sum(df["volume"], Decimal(0))
    assert total.as_tuple().exponent >= -8, total

    book = ds.dataset(f"{root}/book", format="parquet").to_table().to_pandas()
    snap = book[book["is_snapshot"]]
    assert snap["seq"].nunique() == 1, "one REST snapshot in the capture"
    assert set(snap["side"]) == {"BID", "ASK"}
    deltas = book[~book["is_snapshot"]]
    assert deltas["seq"].nunique() == 3_451, deltas["seq"].nunique()
    print(f"ok: {len(df)} bars, {len(book)} book rows, volume sum {total}")


if __name__ == "__main__":
    main(sys.argv[1])
