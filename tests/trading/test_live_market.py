"""The market is part of the model: with Alpaca's market closed (the loopback fake queues market orders until it
opens), an order not filled yet counts in every sizing decision, so a session never stacks a second order on a
symbol's working one; a new target replaces it (cancel, then one order). (Issue #15: three ~$100k market buys of
QQQ sat open at once, each bar sizing a fresh order as if the earlier ones did not exist.)"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from alpaca_fake import LoopbackServer, TradingApi

import workbench as wb
from workbench.brokers.alpaca import AlpacaBroker
from workbench.brokers.sim import SimBroker
from workbench.clock import SimClock
from workbench.data.feeds import ReplayFeed
from workbench.orders.manager import OrderManager
from workbench.store import Store
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession

BARS = {s: wb.load(s, start="2019-01-01", end="2019-02-28") for s in ("SPY", "QQQ", "IWM", "DIA")}
MOMENTUM = wb.strategy("momentum")(lookback=5, top=2, every=1)  # new weights every bar
FAKE = "tests: the loopback Alpaca fake"
CASH = 100_000.0


def alpaca(server: LoopbackServer) -> AlpacaBroker:
    return AlpacaBroker(
        server.api_key,
        server.secret_key,
        url_override=server.rest_url,
        stream_url_override=server.ws_url("/stream"),
        settle_timeout=2.0,
        reconnect=(0.05, 0.2),
        requests_per_minute=100_000,  # a replay asks faster than Alpaca's budget lets a live session ask
    ).start()


def open_and_fill(trading: TradingApi, broker: AlpacaBroker, orders) -> None:
    """Open the market and wait (10 s at most) until the queued ``orders`` have filled."""
    trading.open_market()
    deadline = time.monotonic() + 10.0
    while any(o.is_open for o in orders) and time.monotonic() < deadline:
        broker.pump(timeout=0.1)


def posts(server: LoopbackServer) -> int:
    return sum(1 for r in server.requests if r.path == "/v2/orders" and r.method == "POST")


def test_a_working_order_counts_as_held_and_a_new_target_replaces_it() -> None:
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=CASH)
        trading.quote("SPY", 100.0)
        trading.close_market()
        broker = alpaca(server)
        om = OrderManager(broker, FrozenClock(datetime(2024, 1, 2, tzinfo=UTC)))

        first = om.target("SPY", 1.0, 100.0)  # queued for the open: returned working at once
        assert first.is_open and first.qty == pytest.approx(1000.0) and om.working("SPY") == pytest.approx(1000.0)
        assert om.target("SPY", 1.0, 100.0) is None and posts(server) == 1  # the working order already gets there

        half = om.target("SPY", 0.5, 100.0)  # a new target: the working order is canceled, one order replaces it
        assert first.status.value == "canceled" and half.is_open and half.qty == pytest.approx(500.0)
        assert posts(server) == 2 and om.working("SPY") == pytest.approx(500.0)

        assert om.target("SPY", 0.0, 100.0) is None  # flat wanted, nothing held: the cancel is all it takes
        assert half.status.value == "canceled" and posts(server) == 2 and om.working("SPY") == 0.0
        assert not [o for o in trading.orders.values() if o.is_open]

        again = om.target("SPY", 1.0, 100.0)
        open_and_fill(trading, broker, [again])
        broker.close()
    assert again.status.value == "filled" and om.working("SPY") == 0.0
    assert trading.positions["SPY"][0] == pytest.approx(1000.0)


def test_a_universe_session_with_the_market_closed_never_stacks_orders(tmp_path) -> None:
    """New weights every bar while the market is closed: at most one working order per symbol at any time, and
    when the market opens the account holds the last weights once, not once per bar."""
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=CASH)
        trading.close_market()
        broker = alpaca(server)
        store = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
        clock = SimClock(datetime(2018, 12, 31, tzinfo=UTC))
        live = LiveSession.open(store, MOMENTUM, list(BARS), broker, clock=clock, override_reason=FAKE, notify=False)
        most_working = 0
        for bar in ReplayFeed(BARS):
            trading.quote(bar.symbol, bar.open)
            live.step(bar)
            working = Counter(o.symbol for o in trading.orders.values() if o.is_open)
            most_working = max(most_working, *working.values(), 0)
        assert live.market_open is False
        sent = posts(server)
        open_and_fill(trading, broker, live.session.om.orders.values())
        held = dict(trading.positions)
        equity = trading.equity()
        live.shutdown()
        broker.close()
        store.close()
    assert most_working == 1 and sent > 8  # the weights moved: orders were replaced, never stacked
    gross = sum(abs(qty) * trading.quotes[s] for s, (qty, _) in held.items())
    assert 0.9 * equity < gross <= equity * 1.001  # the last weights (two symbols, all in), once
    assert sum(1 for qty, _ in held.values() if qty) == 2  # top=2


def test_a_simulated_venue_is_open_whenever_it_is_told_a_price() -> None:
    clock = SimClock(datetime(2024, 1, 2, 15, tzinfo=UTC))
    market = SimBroker(clock).market_clock()
    assert (market.is_open, market.timestamp, market.next_open, market.next_close) == (True, clock.now(), None, None)


def test_a_cancel_meeting_transient_failures_is_tried_again_until_it_is_done() -> None:
    """503s and an answer lost on the way back (the cancel made, Alpaca then refusing the second one as not
    cancelable) end with the order canceled, not with a working order believed gone or an error."""
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=CASH)
        trading.quote("SPY", 100.0)
        trading.close_market()
        broker = alpaca(server)
        om = OrderManager(broker, FrozenClock(datetime(2024, 1, 2, tzinfo=UTC)))
        first = om.target("SPY", 1.0, 100.0)
        (remote,) = trading.orders
        server.fail_next(f"/v2/orders/{remote}", 503, times=2)
        assert broker.cancel(first.id).status.value == "canceled"
        second = om.target("SPY", 1.0, 100.0)
        (remote,) = [r for r, o in trading.orders.items() if o.is_open]
        trading.lose_next_cancel_reply()
        assert broker.cancel(second.id).status.value == "canceled"
        deletes = [r.path for r in server.requests if r.method == "DELETE"]
        broker.close()
    assert len(deletes) == 5 and not [o for o in trading.orders.values() if o.is_open]
