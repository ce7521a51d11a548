"""COIN-M perpetuals through the official `binance-futures-connector` (4.2.0),
pointed at the simulator by base URL only: orders placed, queried and
cancelled, a fill, the position and its coin-margined fee, and the
listenKey user-data stream."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance.cm_futures import CMFutures
from binance.websocket.websocket_client import BinanceWebsocketClient

from conftest import ACCOUNTS, HTTP_TIMEOUT_S, dec, filter_of, floor_to

SYMBOL = "BTCUSD_PERP"
ACC = ACCOUNTS["coinm"]
CONTRACTS = 1


@pytest.fixture(scope="module")
def client(sim) -> CMFutures:
    return CMFutures(ACC.api_key, ACC.api_secret, base_url=sim.coinm_http, timeout=HTTP_TIMEOUT_S)


@pytest.fixture(scope="module")
def rules(client) -> dict:
    (info,) = [s for s in client.exchange_info()["symbols"] if s["symbol"] == SYMBOL]
    return info


def position_amt(client: CMFutures) -> Decimal:
    rows = [
        p for p in client.get_position_risk(pair="BTCUSD")
        if p["symbol"] == SYMBOL and p["positionSide"] == "BOTH"
    ]
    return dec(rows[0]["positionAmt"]) if rows else Decimal(0)


def btc_wallet(client: CMFutures) -> Decimal:
    (a,) = [a for a in client.account()["assets"] if a["asset"] == "BTC"]
    return dec(a["walletBalance"])


def test_exchange_info(client, rules):
    assert client.ping() == {}
    assert rules["contractType"] == "PERPETUAL"
    assert rules["marginAsset"] == "BTC"
    assert dec(rules["contractSize"]) == 100


def test_limit_order_rests_then_query_and_cancel(client, rules):
    tick = dec(filter_of(rules, "PRICE_FILTER")["tickSize"])
    price = floor_to(dec(client.depth(SYMBOL, limit=5)["bids"][0][0]) * Decimal("0.97"), tick)
    placed = client.new_order(
        SYMBOL, "BUY", "LIMIT", timeInForce="GTC", quantity=CONTRACTS, price=str(price),
        newClientOrderId="py-cm-rest-1",
    )
    assert placed["status"] == "NEW" and placed["clientOrderId"] == "py-cm-rest-1"
    assert dec(placed["origQty"]) == CONTRACTS and dec(placed["price"]) == price
    oid = placed["orderId"]
    q = client.query_order(SYMBOL, orderId=oid)
    assert q["status"] == "NEW" and q["orderId"] == oid
    assert [o["orderId"] for o in client.get_orders(symbol=SYMBOL)] == [oid]
    c = client.cancel_order(SYMBOL, orderId=oid)
    assert c["status"] == "CANCELED"
    assert client.query_order(SYMBOL, orderId=oid)["status"] == "CANCELED"
    assert client.get_orders(symbol=SYMBOL) == []


def test_market_sell_opens_a_short_and_pays_the_fee_in_btc(client):
    before_amt = position_amt(client)
    before_wallet = btc_wallet(client)
    o = client.new_order(SYMBOL, "SELL", "MARKET", quantity=CONTRACTS)
    assert o["status"] == "FILLED" and dec(o["executedQty"]) == CONTRACTS
    # cumBase is the base-coin value of the contracts: 100 USD each at avgPrice.
    assert dec(o["cumBase"]) > 0
    assert position_amt(client) == before_amt - CONTRACTS
    trades = [t for t in client.get_account_trades(symbol=SYMBOL) if t["orderId"] == o["orderId"]]
    assert sum(dec(t["qty"]) for t in trades) == CONTRACTS
    assert {t["commissionAsset"] for t in trades} == {"BTC"}
    fee = sum(dec(t["commission"]) for t in trades)
    assert fee > 0
    assert btc_wallet(client) == before_wallet - fee


def test_listen_key_stream_gets_order_trade_update(sim, client, inbox, ws_clients):
    key = client.new_listen_key()["listenKey"]
    assert key
    ws = BinanceWebsocketClient(
        stream_url=f"{sim.coinm_ws}/ws/{key}", on_message=inbox.on_message, on_error=inbox.on_error,
    )
    ws_clients.append(ws)
    ws.list_subscribe(id=77)  # barrier: registered once it answers
    inbox.wait_for("answer to LIST_SUBSCRIPTIONS", lambda m: m.get("id") == 77)
    o = client.new_order(SYMBOL, "BUY", "MARKET", quantity=CONTRACTS)
    oid = o["orderId"]
    u = inbox.wait_for(
        f"ORDER_TRADE_UPDATE FILLED for order {oid}",
        lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"].get("i") == oid and m["o"].get("X") == "FILLED",
    )["o"]
    assert (u["s"], u["S"], u["x"]) == (SYMBOL, "BUY", "TRADE")
    assert dec(u["z"]) == CONTRACTS
    client.close_listen_key(key)
