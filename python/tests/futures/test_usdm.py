"""USD-M perpetuals through the official `binance-futures-connector` (4.2.0),
pointed at the simulator by base URL only: orders placed, queried and
cancelled, fills, positions, leverage, and the listenKey user-data stream."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance.error import ClientError
from binance.um_futures import UMFutures
from binance.websocket.um_futures.websocket_client import UMFuturesWebsocketClient
from binance.websocket.websocket_client import BinanceWebsocketClient

from conftest import ACCOUNTS, HTTP_TIMEOUT_S, dec, filter_of, floor_to

SYMBOL = "BTCUSDT"
ACC = ACCOUNTS["usdm"]
QTY = Decimal("0.002")


@pytest.fixture(scope="module")
def client(sim) -> UMFutures:
    return UMFutures(ACC.api_key, ACC.api_secret, base_url=sim.usdm_http, timeout=HTTP_TIMEOUT_S)


@pytest.fixture(scope="module")
def rules(client) -> dict:
    (info,) = [s for s in client.exchange_info()["symbols"] if s["symbol"] == SYMBOL]
    return info


def position_amt(client: UMFutures) -> Decimal:
    rows = [p for p in client.get_position_risk(symbol=SYMBOL) if p["positionSide"] == "BOTH"]
    return dec(rows[0]["positionAmt"]) if rows else Decimal(0)


def resting_buy_price(client: UMFutures, rules: dict) -> Decimal:
    tick = dec(filter_of(rules, "PRICE_FILTER")["tickSize"])
    best_bid = dec(client.depth(SYMBOL, limit=5)["bids"][0][0])
    return floor_to(best_bid * Decimal("0.97"), tick)


def test_time_and_exchange_info(client, rules):
    assert client.ping() == {}
    assert isinstance(client.time()["serverTime"], int)
    assert rules["contractType"] == "PERPETUAL"
    assert (rules["baseAsset"], rules["quoteAsset"], rules["marginAsset"]) == ("BTC", "USDT", "USDT")
    assert dec(filter_of(rules, "LOT_SIZE")["stepSize"]) == Decimal("0.001")


def test_limit_order_rests_then_query_and_cancel(client, rules):
    price = resting_buy_price(client, rules)
    placed = client.new_order(
        SYMBOL, "BUY", "LIMIT", timeInForce="GTC", quantity=str(QTY), price=str(price),
        newClientOrderId="py-um-rest-1",
    )
    assert placed["status"] == "NEW" and placed["clientOrderId"] == "py-um-rest-1"
    assert dec(placed["origQty"]) == QTY and dec(placed["executedQty"]) == 0
    assert dec(placed["price"]) == price
    oid = placed["orderId"]

    q = client.query_order(SYMBOL, orderId=oid)
    assert q["status"] == "NEW" and q["orderId"] == oid
    assert client.query_order(SYMBOL, origClientOrderId="py-um-rest-1")["orderId"] == oid
    assert [o["orderId"] for o in client.get_orders(symbol=SYMBOL)] == [oid]

    c = client.cancel_order(SYMBOL, orderId=oid)
    assert c["status"] == "CANCELED" and c["orderId"] == oid
    assert client.query_order(SYMBOL, orderId=oid)["status"] == "CANCELED"
    assert client.get_orders(symbol=SYMBOL) == []


def test_cancel_unknown_order_is_a_client_error(client):
    with pytest.raises(ClientError) as e:
        client.cancel_order(SYMBOL, orderId=987654321)
    assert e.value.status_code == 400
    assert e.value.error_code == -2011


def test_market_fill_opens_a_position(client):
    before = position_amt(client)
    o = client.new_order(SYMBOL, "BUY", "MARKET", quantity=str(QTY))
    assert o["status"] == "FILLED"
    assert dec(o["executedQty"]) == QTY
    assert dec(o["avgPrice"]) * QTY == dec(o["cumQuote"])
    assert client.query_order(SYMBOL, orderId=o["orderId"])["status"] == "FILLED"

    assert position_amt(client) == before + QTY
    (risk,) = [p for p in client.get_position_risk(symbol=SYMBOL) if p["positionSide"] == "BOTH"]
    if before == 0:
        assert dec(risk["entryPrice"]) == dec(o["avgPrice"])
    trades = [t for t in client.get_account_trades(SYMBOL) if t["orderId"] == o["orderId"]]
    assert sum(dec(t["qty"]) for t in trades) == QTY
    assert all(t["commissionAsset"] == "USDT" and dec(t["commission"]) > 0 for t in trades)


def test_balance_pays_the_taker_fee(client):
    usdt = lambda: [b for b in client.balance() if b["asset"] == "USDT"][0]  # noqa: E731
    before = dec(usdt()["balance"])
    o = client.new_order(SYMBOL, "BUY", "MARKET", quantity=str(QTY))
    assert o["status"] == "FILLED"
    fee = sum(
        dec(t["commission"]) for t in client.get_account_trades(SYMBOL) if t["orderId"] == o["orderId"]
    )
    # Opening a position realises nothing: the wallet only pays the fee.
    assert dec(usdt()["balance"]) == before - fee


def test_change_leverage_shows_in_position_risk(client):
    if position_amt(client) == 0:
        client.new_order(SYMBOL, "BUY", "MARKET", quantity=str(QTY))
    r = client.change_leverage(SYMBOL, 7)
    assert r["symbol"] == SYMBOL and int(r["leverage"]) == 7
    (risk,) = [p for p in client.get_position_risk(symbol=SYMBOL) if p["positionSide"] == "BOTH"]
    assert int(risk["leverage"]) == 7
    (acct,) = [p for p in client.account()["positions"] if p["symbol"] == SYMBOL]
    assert int(acct["leverage"]) == 7


def test_reduce_only_market_order_closes_the_position(client):
    amt = position_amt(client)
    if amt == 0:
        client.new_order(SYMBOL, "BUY", "MARKET", quantity=str(QTY))
        amt = QTY
    side = "SELL" if amt > 0 else "BUY"
    o = client.new_order(SYMBOL, side, "MARKET", quantity=str(abs(amt)), reduceOnly="true")
    assert o["status"] == "FILLED" and dec(o["executedQty"]) == abs(amt)
    assert position_amt(client) == 0


def _fill_and_expect_order_trade_update(client, inbox) -> None:
    o = client.new_order(SYMBOL, "SELL", "MARKET", quantity=str(QTY))
    oid = o["orderId"]

    def update(m):
        return (
            m.get("e") == "ORDER_TRADE_UPDATE"
            and m["o"].get("i") == oid
            and m["o"].get("X") == "FILLED"
        )

    u = inbox.wait_for(f"ORDER_TRADE_UPDATE FILLED for order {oid}", update)["o"]
    assert (u["s"], u["S"], u["o"], u["x"]) == (SYMBOL, "SELL", "MARKET", "TRADE")
    assert dec(u["z"]) == QTY and dec(u["q"]) == QTY
    assert dec(u["ap"]) == dec(o["avgPrice"])
    acct = inbox.wait_for("ACCOUNT_UPDATE", lambda m: m.get("e") == "ACCOUNT_UPDATE")["a"]
    assert any(p["s"] == SYMBOL for p in acct["P"])
    client.new_order(SYMBOL, "BUY", "MARKET", quantity=str(QTY), reduceOnly="true")


@pytest.mark.parametrize("path", ["/ws/{key}", "/private/ws/{key}", "/private/ws?listenKey={key}"])
def test_listen_key_stream_gets_order_trade_update(sim, client, inbox, ws_clients, path):
    key = client.new_listen_key()["listenKey"]
    assert key
    assert client.renew_listen_key(key).get("listenKey", key) == key
    ws = BinanceWebsocketClient(
        stream_url=sim.usdm_ws + path.format(key=key),
        on_message=inbox.on_message, on_error=inbox.on_error,
    )
    ws_clients.append(ws)
    ws.list_subscribe(id=77)  # barrier: registered once it answers
    inbox.wait_for("answer to LIST_SUBSCRIPTIONS", lambda m: m.get("id") == 77)
    _fill_and_expect_order_trade_update(client, inbox)


def test_listen_key_via_connector_user_data_subscribe(sim, client, inbox, ws_clients):
    key = client.new_listen_key()["listenKey"]
    ws = UMFuturesWebsocketClient(
        stream_url=sim.usdm_ws, on_message=inbox.on_message, on_error=inbox.on_error,
    )
    ws_clients.append(ws)
    ws.user_data(key, id=5)
    r = inbox.wait_for("answer to SUBSCRIBE", lambda m: m.get("id") == 5)
    assert r.get("result") is None and "error" not in r, r
    _fill_and_expect_order_trade_update(client, inbox)


def test_market_stream_via_connector(sim, inbox, ws_clients):
    ws = UMFuturesWebsocketClient(
        stream_url=sim.usdm_ws, on_message=inbox.on_message, on_error=inbox.on_error,
    )
    ws_clients.append(ws)
    ws.book_ticker(SYMBOL.lower(), id=9)
    assert inbox.wait_for("answer to SUBSCRIBE", lambda m: m.get("id") == 9)["result"] is None
    t = inbox.wait_for("bookTicker", lambda m: m.get("e") == "bookTicker")
    assert t["s"] == SYMBOL and dec(t["b"]) < dec(t["a"])
