"""Spot through the official `binance-connector` (3.13.0), pointed at the
simulator by base URL only: market data, orders placed, queried and
cancelled over REST and over the WebSocket API, balances, and user data
(WebSocket API subscription and the legacy listenKey stream)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from binance.error import ClientError
from binance.lib.utils import websocket_api_signature
from binance.spot import Spot
from binance.websocket.spot.websocket_api import SpotWebsocketAPIClient
from binance.websocket.spot.websocket_stream import SpotWebsocketStreamClient
from binance.websocket.websocket_client import BinanceWebsocketClient

from conftest import ACCOUNTS, HTTP_TIMEOUT_S, dec, filter_of, floor_to

SYMBOL = "BTCUSDT"
ACC = ACCOUNTS["spot"]
QTY = Decimal("0.00100")


@pytest.fixture(scope="module")
def client(sim) -> Spot:
    return Spot(ACC.api_key, ACC.api_secret, base_url=sim.spot_http, timeout=HTTP_TIMEOUT_S)


@pytest.fixture(scope="module")
def rules(client) -> dict:
    (info,) = client.exchange_info(symbol=SYMBOL)["symbols"]
    return info


def balances(client: Spot) -> dict[str, tuple[Decimal, Decimal]]:
    """asset -> (free, locked)"""
    return {b["asset"]: (dec(b["free"]), dec(b["locked"])) for b in client.account()["balances"]}


def resting_buy_price(client: Spot, rules: dict) -> Decimal:
    """A bid 5 % under the best bid: on the book, inside PERCENT_PRICE, never filled
    by the synthetic market's small moves."""
    tick = dec(filter_of(rules, "PRICE_FILTER")["tickSize"])
    best_bid = dec(client.depth(SYMBOL, limit=5)["bids"][0][0])
    return floor_to(best_bid * Decimal("0.95"), tick)


def test_ping_and_server_time(client):
    assert client.ping() == {}
    server = client.time()["serverTime"]
    assert isinstance(server, int)
    # The simulator runs on the wall clock: same minute as this machine.
    assert abs(server - int(time.time() * 1000)) < 60_000


def test_exchange_info_describes_btcusdt(rules):
    assert rules["symbol"] == SYMBOL
    assert rules["status"] == "TRADING"
    assert (rules["baseAsset"], rules["quoteAsset"]) == ("BTC", "USDT")
    assert dec(filter_of(rules, "PRICE_FILTER")["tickSize"]) == Decimal("0.01")
    assert dec(filter_of(rules, "LOT_SIZE")["stepSize"]) == Decimal("0.00001")
    assert {"LIMIT", "MARKET"} <= set(rules["orderTypes"])


def test_depth_is_a_sorted_uncrossed_book(client):
    d = client.depth(SYMBOL, limit=5)
    assert len(d["bids"]) == 5 and len(d["asks"]) == 5
    bids = [dec(p) for p, _ in d["bids"]]
    asks = [dec(p) for p, _ in d["asks"]]
    assert bids == sorted(bids, reverse=True) and len(set(bids)) == 5
    assert asks == sorted(asks) and len(set(asks)) == 5
    assert bids[0] < asks[0]
    assert all(dec(q) > 0 for _, q in d["bids"] + d["asks"])
    assert d["lastUpdateId"] > 0


def test_limit_order_rests_then_query_and_cancel(client, rules):
    price = resting_buy_price(client, rules)
    before = balances(client)
    placed = client.new_order(
        SYMBOL, "BUY", "LIMIT", timeInForce="GTC", quantity=str(QTY), price=str(price),
        newClientOrderId="py-spot-rest-1",
    )
    assert placed["status"] == "NEW"
    assert placed["clientOrderId"] == "py-spot-rest-1"
    assert dec(placed["origQty"]) == QTY and dec(placed["executedQty"]) == 0
    assert dec(placed["price"]) == price
    oid = placed["orderId"]

    by_id = client.get_order(SYMBOL, orderId=oid)
    by_cid = client.get_order(SYMBOL, origClientOrderId="py-spot-rest-1")
    assert by_id["status"] == by_cid["status"] == "NEW"
    assert by_id["orderId"] == by_cid["orderId"] == oid
    assert [o["orderId"] for o in client.get_open_orders(SYMBOL)] == [oid]

    # The quote is reserved: price × quantity moves from free to locked.
    during = balances(client)
    assert during["USDT"][1] - before["USDT"][1] == price * QTY
    assert before["USDT"][0] - during["USDT"][0] == price * QTY

    cancelled = client.cancel_order(SYMBOL, orderId=oid)
    assert cancelled["status"] == "CANCELED" and cancelled["orderId"] == oid
    assert client.get_order(SYMBOL, orderId=oid)["status"] == "CANCELED"
    assert client.get_open_orders(SYMBOL) == []
    assert balances(client)["USDT"] == before["USDT"]


def test_cancel_unknown_order_is_a_client_error(client):
    with pytest.raises(ClientError) as e:
        client.cancel_order(SYMBOL, orderId=987654321)
    assert e.value.status_code == 400
    assert e.value.error_code == -2011


def test_wrong_secret_is_refused(sim):
    bad = Spot(ACC.api_key, "not-the-secret", base_url=sim.spot_http, timeout=HTTP_TIMEOUT_S)
    with pytest.raises(ClientError) as e:
        bad.account()
    assert e.value.error_code == -1022


def test_market_buy_fills_and_moves_balances(client):
    before = balances(client)
    o = client.new_order(SYMBOL, "BUY", "MARKET", quantity=str(QTY))
    assert o["status"] == "FILLED"
    assert dec(o["executedQty"]) == QTY
    fills = o["fills"]
    assert fills, o
    assert sum(dec(f["qty"]) for f in fills) == QTY
    quote = sum(dec(f["price"]) * dec(f["qty"]) for f in fills)
    assert dec(o["cummulativeQuoteQty"]) == quote
    assert {f["commissionAsset"] for f in fills} == {"BTC"}  # paid in the asset received
    fee = sum(dec(f["commission"]) for f in fills)
    assert fee > 0

    after = balances(client)
    assert after["BTC"][0] == before["BTC"][0] + QTY - fee
    assert after["USDT"][0] == before["USDT"][0] - quote
    assert after["BTC"][1] == before["BTC"][1] and after["USDT"][1] == before["USDT"][1]

    assert client.get_order(SYMBOL, orderId=o["orderId"])["status"] == "FILLED"
    mine = [t for t in client.my_trades(SYMBOL) if t["orderId"] == o["orderId"]]
    assert sorted(t["id"] for t in mine) == sorted(f["tradeId"] for f in fills)
    assert all(t["isBuyer"] is True for t in mine)


def _subscribe_ws_api(sim, inbox, ws_clients) -> SpotWebsocketAPIClient:
    ws = SpotWebsocketAPIClient(
        stream_url=f"{sim.spot_ws}/ws-api/v3", api_key=ACC.api_key, api_secret=ACC.api_secret,
        on_message=inbox.on_message, on_error=inbox.on_error, timeout=HTTP_TIMEOUT_S,
    )
    ws_clients.append(ws)
    # 3.13.0 has no helper for userDataStream.subscribe.signature; its generic
    # `send` and its own WS API signer build the request.
    ws.send({
        "id": "sub-1",
        "method": "userDataStream.subscribe.signature",
        "params": websocket_api_signature(ACC.api_key, ACC.api_secret, {}),
    })
    r = inbox.wait_for("answer to userDataStream.subscribe.signature", lambda m: m.get("id") == "sub-1")
    assert r["status"] == 200, r
    assert isinstance(r["result"]["subscriptionId"], int)
    return ws


def test_user_data_via_ws_api_subscription_gets_the_fill(sim, client, inbox, ws_clients):
    _subscribe_ws_api(sim, inbox, ws_clients)
    o = client.new_order(SYMBOL, "SELL", "MARKET", quantity=str(QTY))
    assert o["status"] == "FILLED"
    oid = o["orderId"]

    def report(m):
        e = m.get("event", {})
        return e.get("e") == "executionReport" and e.get("i") == oid and e.get("X") == "FILLED"

    ev = inbox.wait_for(f"executionReport FILLED for order {oid}", report)
    assert isinstance(ev["subscriptionId"], int)
    e = ev["event"]
    assert (e["s"], e["S"], e["o"], e["x"]) == (SYMBOL, "SELL", "MARKET", "TRADE")
    assert dec(e["z"]) == QTY and dec(e["q"]) == QTY
    assert dec(e["Z"]) == dec(o["cummulativeQuoteQty"])
    pos = inbox.wait_for(
        "outboundAccountPosition", lambda m: m.get("event", {}).get("e") == "outboundAccountPosition"
    )["event"]
    assets = {b["a"] for b in pos["B"]}
    assert "USDT" in assets


def test_ws_api_place_status_cancel(sim, client, rules, inbox, ws_clients):
    ws = SpotWebsocketAPIClient(
        stream_url=f"{sim.spot_ws}/ws-api/v3", api_key=ACC.api_key, api_secret=ACC.api_secret,
        on_message=inbox.on_message, on_error=inbox.on_error, timeout=HTTP_TIMEOUT_S,
    )
    ws_clients.append(ws)
    price = resting_buy_price(client, rules)
    ws.new_order(
        id="place-1", symbol=SYMBOL, side="BUY", type="LIMIT", timeInForce="GTC",
        quantity=str(QTY), price=str(price), newClientOrderId="py-ws-1",
    )
    r = inbox.wait_for("answer to order.place", lambda m: m.get("id") == "place-1")
    assert r["status"] == 200, r
    oid = r["result"]["orderId"]
    assert r["result"]["clientOrderId"] == "py-ws-1"
    assert r["result"]["status"] == "NEW"

    ws.get_order(id="status-1", symbol=SYMBOL, orderId=oid)
    r = inbox.wait_for("answer to order.status", lambda m: m.get("id") == "status-1")
    assert r["status"] == 200, r
    assert r["result"]["status"] == "NEW" and dec(r["result"]["price"]) == price

    ws.cancel_order(id="cancel-1", symbol=SYMBOL, orderId=oid)
    r = inbox.wait_for("answer to order.cancel", lambda m: m.get("id") == "cancel-1")
    assert r["status"] == 200, r
    assert r["result"]["status"] == "CANCELED"
    assert client.get_order(SYMBOL, orderId=oid)["status"] == "CANCELED"


def test_legacy_listen_key_stream_gets_the_fill(sim, client, inbox, ws_clients):
    key = client.new_listen_key()["listenKey"]
    assert key
    assert client.renew_listen_key(key) == {}
    # The path form `/ws/<listenKey>`, opened with the connector's base client.
    ws = BinanceWebsocketClient(
        stream_url=f"{sim.spot_ws}/ws/{key}", on_message=inbox.on_message, on_error=inbox.on_error,
    )
    ws_clients.append(ws)
    # Barrier: the connection is registered once it answers a control request.
    ws.list_subscribe(id=77)
    inbox.wait_for("answer to LIST_SUBSCRIPTIONS", lambda m: m.get("id") == 77)
    o = client.new_order(SYMBOL, "BUY", "MARKET", quantity=str(QTY))
    oid = o["orderId"]
    e = inbox.wait_for(
        f"executionReport FILLED for {oid}",
        lambda m: m.get("e") == "executionReport" and m.get("i") == oid and m.get("X") == "FILLED",
    )
    assert dec(e["z"]) == QTY and e["S"] == "BUY"
    assert client.close_listen_key(key) == {}


def test_legacy_listen_key_via_connector_user_data_subscribe(sim, client, inbox, ws_clients):
    key = client.new_listen_key()["listenKey"]
    ws = SpotWebsocketStreamClient(
        stream_url=sim.spot_ws, on_message=inbox.on_message, on_error=inbox.on_error,
    )
    ws_clients.append(ws)
    ws.user_data(key, id=5)
    r = inbox.wait_for("answer to SUBSCRIBE", lambda m: m.get("id") == 5)
    assert r.get("result") is None and "error" not in r, r
    o = client.new_order(SYMBOL, "BUY", "MARKET", quantity=str(QTY))
    oid = o["orderId"]
    e = inbox.wait_for(
        f"executionReport FILLED for {oid}",
        lambda m: m.get("e") == "executionReport" and m.get("i") == oid and m.get("X") == "FILLED",
    )
    assert dec(e["z"]) == QTY


@pytest.mark.parametrize(
    "path",
    ["/ws", "/ws-api/v3"],
)
def test_client_close_is_answered_with_close(sim, path):
    closed, errors = [], []
    ws = BinanceWebsocketClient(
        stream_url=sim.spot_ws + path,
        on_close=lambda _sm: closed.append(True),
        on_error=lambda _sm, e: errors.append(e),
    )
    sm = ws.socket_manager
    sm.close()  # sends Close; the reader thread ends on the answer or on EOF
    sm.join(timeout=5)
    alive = sm.is_alive()
    if alive:
        sm.ws.shutdown()
        sm.join(timeout=5)
    assert not alive, "the server neither answered Close nor closed the connection"
    assert errors == [] and closed == [True], f"errors: {errors}"
