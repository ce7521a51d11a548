"""What the data suite's tests share: where the fixtures are, and running
the `veloz` binary (`VELOZ_BIN`, set by scripts/python-tests)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def fixtures() -> Path:
    root = Path(os.environ.get("VELOZ_FIXTURES", REPO.parent / "shared" / "fixtures"))
    assert root.is_dir(), f"fixtures not found at {root}; set VELOZ_FIXTURES"
    return root


def veloz(*args: str) -> str:
    binary = os.environ["VELOZ_BIN"]
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout
