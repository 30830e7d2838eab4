"""A live session whose broker stays rate limited past its deadline (the loopback Alpaca answering 429 to every
order): the order is recorded rejected (never left ``new``), the strategy is halted in the store with the reason,
people are told, nothing is flattened or sent afterwards, and the run ends ``halted``.

(Issue #15: the order stayed ``new`` until some later restart marked it canceled; no halt, no alert.)
"""

from __future__ import annotations

from datetime import UTC, datetime

from alpaca_fake import LoopbackServer, TradingApi

import workbench as wb
from workbench.brokers.alpaca import AlpacaBroker
from workbench.data.feeds import ReplayFeed
from workbench.orders.model import OrderStatus
from workbench.risk.manager import RiskEvent
from workbench.store import Store
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession

BARS = wb.load("SPY", start="2023-01-01", end="2023-03-31")
STRATEGY = wb.strategy("sma_cross")(fast=2, slow=4)


def test_a_broker_that_stays_rate_limited_halts_the_strategy_and_tells_people(tmp_path) -> None:
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=10_000.0)
        store = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
        broker = AlpacaBroker(
            server.api_key,
            server.secret_key,
            url_override=server.rest_url,
            stream_url_override=server.ws_url("/stream"),
            settle_timeout=2.0,
            deadline=1.5,
        ).start()
        alerts: list[object] = []
        live = LiveSession.open(
            store,
            STRATEGY,
            "SPY",
            broker,
            clock=FrozenClock(datetime(2023, 1, 1, tzinfo=UTC)),
            on_alert=alerts.append,
            override_reason="tests: the loopback Alpaca fake",
        )
        server.fail_next("/v2/orders", 429, times=100_000, headers={"Retry-After": "0.25"})
        bars = iter(ReplayFeed({"SPY": BARS}))
        for bar in bars:  # until the strategy wants an order
            trading.quote("SPY", bar.open)
            live.step(bar)
            if live.session.risk_manager.halted:
                break
        tried = sum(1 for r in server.requests if r.path == "/v2/orders" and r.method == "POST")
        for bar in bars:  # halted: the session goes on, sending nothing
            trading.quote("SPY", bar.open)
            live.step(bar)
        summary = live.run(iter(()))
        broker.close()

    assert summary.halted and summary.halt_reason.startswith("broker_unavailable at ")
    assert sum(1 for r in server.requests if r.path == "/v2/orders" and r.method == "POST") == tried >= 2
    assert not trading.orders  # nothing reached the account, nothing was flattened
    (halt,) = [e for e in alerts if isinstance(e, RiskEvent) and e.decision == "halt"]
    assert halt.rule == "broker_unavailable" and "HTTP 429" in halt.details["error"]
    assert halt.details["order_followed"] is False
    with store.unit_of_work(readonly=True) as uow:
        (order,) = uow.orders.find(run_id=live.run_id)
        strategy = uow.strategies.get(STRATEGY.name)
        state = uow.run_states.get(live.run_id)
        halts = uow.risk_events.find(live.run_id, decision="halt")
    assert order.status is OrderStatus.REJECTED and order.reject_reason.startswith("alpaca: not sent, ")
    assert strategy.halted and strategy.halted_reason.startswith("broker_unavailable at ")
    assert [e.rule for e in halts] == ["broker_unavailable"]
    assert (state.state, state.reason) == ("halted", strategy.halted_reason)


def test_resuming_after_the_broker_recovers_trades_again(tmp_path) -> None:
    """A person's resume lifts the halt (the broker is back); the session trades on without a flatten."""
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=10_000.0)
        store = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
        broker = AlpacaBroker(
            server.api_key,
            server.secret_key,
            url_override=server.rest_url,
            stream_url_override=server.ws_url("/stream"),
            settle_timeout=2.0,
            deadline=1.0,
        ).start()
        live = LiveSession.open(
            store, STRATEGY, "SPY", broker, clock=FrozenClock(datetime(2023, 1, 1, tzinfo=UTC)), override_reason="x"
        )
        server.fail_next("/v2/orders", 429, times=100_000, headers={"Retry-After": "0.25"})
        bars = iter(ReplayFeed({"SPY": BARS}))
        for bar in bars:
            trading.quote("SPY", bar.open)
            live.step(bar)
            if live.session.risk_manager.halted:
                break
        server.clear_faults()  # the broker is back
        with store.unit_of_work() as uow:
            uow.strategies.resume(STRATEGY.name)
        for bar in bars:
            trading.quote("SPY", bar.open)
            live.step(bar)
        live.shutdown()
        broker.close()

    assert trading.orders and not live.session.risk_manager.halted
