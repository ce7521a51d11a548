"""Shared fixtures of the connector suite: the running simulator and helpers.

This module owns the lifetime of one `veloz sim` process per pytest session
(started from an already built binary, never built here), the accounts it is
configured with, and the bounded helpers the tests use to wait for
WebSocket messages. It imports nothing from the `binance` package, so the
spot and the futures suites (each run in its own virtual environment, see
`python/README.md`) share it.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

#: How long the simulator may take to print its addresses and answer a ping.
STARTUP_TIMEOUT_S = 30.0
#: How long a test waits for one expected WebSocket message before failing.
WS_TIMEOUT_S = 10.0
#: How long a test listens to prove that a message does *not* arrive.
WS_SILENCE_S = 2.0
#: Timeout of every REST call the connectors make (their `timeout=` option).
HTTP_TIMEOUT_S = 10


@dataclass(frozen=True)
class Account:
    """One simulator account: its HMAC API key and secret."""

    name: str
    api_key: str
    api_secret: str


#: One account per product so that the balance assertions of one product's
#: tests are not disturbed by the others.
ACCOUNTS = {
    "spot": Account("spot", "spot-test-key", "spot-test-secret"),
    "usdm": Account("usdm", "usdm-test-key", "usdm-test-secret"),
    "coinm": Account("coinm", "coinm-test-key", "coinm-test-secret"),
}

#: Starting balances of every account (spot wallet and futures margin).
START_BALANCES = {"USDT": Decimal("100000"), "BTC": Decimal("1")}


def _config_toml() -> str:
    balances = ", ".join(
        f'{{ asset = "{a}", amount = "{v}" }}' for a, v in START_BALANCES.items()
    )
    lines = [
        'host = "127.0.0.1"',
        "spot_port = 0",
        "usdm_port = 0",
        "coinm_port = 0",
        "spot_listen_key = true",
        "",
    ]
    for acc in ACCOUNTS.values():
        lines += [
            "[[accounts]]",
            f'name = "{acc.name}"',
            f'api_key = "{acc.api_key}"',
            f'hmac_secret = "{acc.api_secret}"',
            f"spot_balances = [{balances}]",
            f"futures_balances = [{balances}]",
            "",
        ]
    lines += [
        "[market]",
        'source = "synthetic"',
        "speed = 1",
        "[market.synth]",
        "seed = 7",
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Sim:
    """A running simulator: the `host:port` of each product."""

    spot: str
    usdm: str
    coinm: str

    @property
    def spot_http(self) -> str:
        return f"http://{self.spot}"

    @property
    def usdm_http(self) -> str:
        return f"http://{self.usdm}"

    @property
    def coinm_http(self) -> str:
        return f"http://{self.coinm}"

    @property
    def spot_ws(self) -> str:
        return f"ws://{self.spot}"

    @property
    def usdm_ws(self) -> str:
        return f"ws://{self.usdm}"

    @property
    def coinm_ws(self) -> str:
        return f"ws://{self.coinm}"


_ADDR = re.compile(r"^veloz sim: (spot|usdm|coinm)\s+http://(\S+)")


def _veloz_bin() -> Path:
    raw = os.environ.get("VELOZ_BIN", "target/debug/veloz")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def _stop(proc: subprocess.Popen) -> None:
    """Stops the simulator: Ctrl-C first (it shuts down cleanly), then kill."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory):
    """Starts `veloz sim` on ephemeral ports and stops it after the session."""
    binary = _veloz_bin()
    if not binary.is_file():
        pytest.fail(
            f"simulator binary not found at {binary}: build it with "
            "`cargo build -p veloz` (scripts/python-tests does) or set VELOZ_BIN",
            pytrace=False,
        )
    workdir = tmp_path_factory.mktemp("sim")
    config = workdir / "sim.toml"
    config.write_text(_config_toml())
    stderr_path = workdir / "stderr.log"
    stderr = stderr_path.open("w")
    proc = subprocess.Popen(
        [str(binary), "sim", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    atexit.register(_stop, proc)  # also when the session dies abnormally
    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def pump() -> None:
        # Drains stdout for the whole run so the pipe never fills up.
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        addrs: dict[str, str] = {}
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while len(addrs) < 3:
            left = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                line = None
            if line is None:
                stderr.flush()
                pytest.fail(
                    "the simulator did not print its three addresses "
                    f"(exit status {proc.poll()}); stderr:\n{stderr_path.read_text()}",
                    pytrace=False,
                )
            m = _ADDR.match(line)
            if m:
                addrs[m.group(1)] = m.group(2)
        s = Sim(spot=addrs["spot"], usdm=addrs["usdm"], coinm=addrs["coinm"])
        _wait_ready(f"{s.spot_http}/api/v3/ping", proc, deadline)
        _wait_ready(f"{s.usdm_http}/fapi/v1/ping", proc, deadline)
        _wait_ready(f"{s.coinm_http}/dapi/v1/ping", proc, deadline)
        yield s
    finally:
        _stop(proc)
        stderr.close()


def _wait_ready(url: str, proc: subprocess.Popen, deadline: float) -> None:
    last: Any = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the simulator exited with status {proc.returncode}", pytrace=False)
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200 and json.loads(r.read()) == {}:
                    return
                last = f"HTTP {r.status}"
        except (urllib.error.URLError, OSError, ValueError) as e:
            last = e
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {STARTUP_TIMEOUT_S}s (last: {last})", pytrace=False)


class Inbox:
    """Collects the text messages of a connector WebSocket client.

    Pass `inbox.on_message` as the client's `on_message`, and `inbox.on_error`
    as its `on_error`. `wait_for` returns the first message (parsed JSON)
    matching a predicate, or fails the test after `WS_TIMEOUT_S`.
    """

    def __init__(self) -> None:
        self._q: "queue.Queue[Any]" = queue.Queue()
        self.seen: list[Any] = []
        self.errors: list[BaseException] = []

    def on_message(self, _socket_manager: Any, text: str) -> None:
        self._q.put(json.loads(text))

    def on_error(self, _socket_manager: Any, err: BaseException) -> None:
        self.errors.append(err)

    def wait_for(
        self, what: str, pred: Callable[[Any], bool], timeout: float = WS_TIMEOUT_S
    ) -> Any:
        for m in self.seen:
            if pred(m):
                self.seen.remove(m)
                return m
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(
                    f"no {what} within {timeout}s; received {len(self.seen)} other "
                    f"messages (last: {self.seen[-3:]}); client errors: {self.errors}"
                )
            try:
                m = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if pred(m):
                return m
            self.seen.append(m)

    def none_within(self, pred: Callable[[Any], bool], timeout: float = WS_SILENCE_S) -> bool:
        """True if no matching message arrives within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        if any(pred(m) for m in self.seen):
            return False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            try:
                m = self._q.get(timeout=left)
            except queue.Empty:
                return True
            self.seen.append(m)
            if pred(m):
                return False


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def ws_clients():
    """A list the test appends its connector WebSocket clients to; each is
    closed at teardown with a bounded wait (never `stop()`, which joins the
    reader thread without a timeout)."""
    clients: list[Any] = []
    yield clients
    for c in clients:
        sm = c.socket_manager
        try:
            if sm.ws.connected:
                sm.ws.send_close()
        except Exception:  # noqa: BLE001 - teardown must go on
            pass
        sm.join(timeout=5)
        if sm.is_alive():
            sm.ws.shutdown()
            sm.join(timeout=5)


def dec(x: Any) -> Decimal:
    """Parses a wire number (string or int) exactly."""
    return Decimal(str(x))


def floor_to(x: Decimal, step: Decimal) -> Decimal:
    """Rounds `x` down to a multiple of `step`, keeping `step`'s exponent."""
    return (x / step).to_integral_value(rounding=ROUND_DOWN) * step


def filter_of(symbol_info: dict, kind: str) -> dict:
    """The filter of `filterType == kind` in an exchangeInfo symbol."""
    for f in symbol_info["filters"]:
        if f["filterType"] == kind:
            return f
    raise AssertionError(f"{symbol_info['symbol']} has no {kind} filter: {symbol_info['filters']}")
