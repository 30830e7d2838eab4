"""Restart reconciliation against the loopback Alpaca: each state a crash can leave is settled by client_order_id,
and what cannot be explained halts trading."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alpaca.trading.client import TradingClient
from alpaca_fake import LoopbackServer, Plan, TradingApi

from workbench.brokers.alpaca import AlpacaBroker
from workbench.brokers.alpaca_wire import order_request
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order, OrderStatus
from workbench.runner.live import LiveSession
from workbench.runner.reconcile import NEVER_SENT, reconcile
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock

NOW = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def trading(server: LoopbackServer) -> TradingApi:
    api = TradingApi(server, cash=50_000.0)
    api.quote("SPY", 400.0)
    return api


@pytest.fixture
def journal(tmp_path) -> Iterator[OrderJournal]:
    store = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
    yield OrderJournal.start(store, "sma_cross", cash=50_000.0, config={"symbol": "SPY", "broker": "alpaca-paper"})
    store.close()


def broker(server: LoopbackServer) -> AlpacaBroker:
    return AlpacaBroker(
        server.api_key,
        server.secret_key,
        url_override=server.rest_url,
        stream_url_override=server.ws_url("/stream"),
        settle_timeout=2.0,
        reconnect=(0.05, 0.2),
    ).start()


def order(**fields: object) -> Order:
    return Order(**({"symbol": "SPY", "side": "buy", "qty": 10, "created_at": NOW, "strategy": "sma_cross"} | fields))


def stored(journal: OrderJournal, client_order_id: str) -> Order:
    with journal.store.unit_of_work(readonly=True) as uow:
        return uow.orders.by_client_order_id(client_order_id)


def test_orders_recorded_before_a_crash_are_resolved_by_client_order_id(
    server: LoopbackServer, trading: TradingApi, journal: OrderJournal
) -> None:
    unsent, answered_lost = order(), order(qty=5)
    journal.record_order(unsent)  # crash between "recorded" and "sent"
    journal.record_order(answered_lost)  # crash between "sent" and "answer handled"
    client = TradingClient(server.api_key, server.secret_key, url_override=server.rest_url)
    client.submit_order(order_request(answered_lost))

    with broker(server) as restarted:
        result = reconcile(journal, restarted, ["SPY"], NOW)

    assert (
        result.ok and result.never_sent == [unsent.client_order_id] and result.sent == [answered_lost.client_order_id]
    )
    never = stored(journal, unsent.client_order_id)
    assert never.status is OrderStatus.CANCELED and never.updated_at == NOW
    assert stored(journal, answered_lost.client_order_id).status is OrderStatus.FILLED
    state = journal.restore()
    assert unsent.client_order_id in state.client_order_ids and state.open_orders == []
    assert state.positions["SPY"].qty == 5.0 and state.cash == trading.cash == 48_000.0
    assert trading.submitted() == [answered_lost.client_order_id]  # the unsent one was not sent now either


def test_fills_made_while_the_session_was_down_are_recorded_once(
    server: LoopbackServer, trading: TradingApi, journal: OrderJournal
) -> None:
    with broker(server) as first:
        om = OrderManager(first, FrozenClock(NOW), journal=journal)
        resting = om.submit(order(type="limit", limit_price=390.0, time_in_force="gtc"))
        partly = om.submit(order(type="limit", limit_price=395.0, time_in_force="gtc"))
    trading.fill(resting.client_order_id, qty=4, price=389.0)  # while down
    trading.fill(resting.client_order_id, qty=6, price=388.0)
    trading.fill(partly.client_order_id, qty=3, price=395.0)

    with broker(server) as restarted:
        result = reconcile(journal, restarted, ["SPY"], NOW)
        again = reconcile(journal, restarted, ["SPY"], NOW)

    assert result.ok and result.events == 3 and again.ok and again.events == 0
    with journal.store.unit_of_work(readonly=True) as uow:
        fills = uow.fills.find(run_id=journal.run_id)
    assert sorted(f.fill_id for f in fills) == sorted(a["id"][-36:] for a in trading.activities)
    assert stored(journal, resting.client_order_id).status is OrderStatus.FILLED
    assert stored(journal, partly.client_order_id).status is OrderStatus.PARTIALLY_FILLED
    assert journal.restore().positions["SPY"].qty == 13.0


def test_a_bracket_whose_legs_appeared_while_down_is_tracked_with_them(
    server: LoopbackServer, trading: TradingApi, journal: OrderJournal
) -> None:
    entry = order(take_profit=420.0, stop_loss=380.0, time_in_force="gtc")
    journal.record_order(entry)
    trading.plan(Plan(hold=True))
    TradingClient(server.api_key, server.secret_key, url_override=server.rest_url).submit_order(order_request(entry))
    trading.fill(entry.client_order_id)  # the legs start working

    with broker(server) as restarted:
        result = reconcile(journal, restarted, ["SPY"], NOW)

    assert result.ok
    with journal.store.unit_of_work(readonly=True) as uow:
        legs = [o for o in uow.orders.find(run_id=journal.run_id) if o.parent_id == entry.id]
    assert sorted(leg.type.value for leg in legs) == ["limit", "stop"]
    assert all(leg.status is OrderStatus.ACCEPTED for leg in legs)


def test_what_cannot_be_explained_halts_trading_and_touches_nothing(
    server: LoopbackServer, trading: TradingApi, journal: OrderJournal
) -> None:
    client = TradingClient(server.api_key, server.secret_key, url_override=server.rest_url)
    client.submit_order(order_request(order(qty=7)))  # someone else bought SPY in this account
    trading.plan(Plan(hold=True))
    client.submit_order(order_request(order(qty=1, type="limit", limit_price=100.0)))
    lost = order(type="limit", limit_price=300.0)
    journal.record_order(lost)
    journal.record_event(lost.transition(OrderStatus.ACCEPTED, NOW), lost)  # working, yet Alpaca never had it

    with broker(server) as restarted:
        live = LiveSession.open(
            journal.store, "sma_cross", "SPY", restarted, clock=FrozenClock(NOW), run=journal.run_id
        )
        orders_at_the_broker = len(trading.orders)
        live.apply_controls()

    differences = live.reconciliation.differences
    assert len(differences) == 3
    assert "is accepted in the records but unknown to the broker" in differences[0]
    assert "at the broker is not in the records" in differences[1]
    assert differences[2] == "position SPY: 0 in the records, 7 at the broker"
    state = journal.restore()
    assert state.halted and state.halted_reason.startswith("reconcile at")
    assert live.session.risk_manager.halted and len(trading.orders) == orders_at_the_broker  # nothing flattened
    with journal.store.unit_of_work(readonly=True) as uow:
        assert [e.rule for e in uow.risk_events.find(journal.run_id, decision="halt")] == ["reconcile"]
        assert uow.audit.find(action="reconcile.halt")[0].details["differences"] == differences


def test_never_sent_orders_keep_their_reason(journal: OrderJournal, server: LoopbackServer, trading) -> None:
    unsent = order()
    journal.record_order(unsent)
    with broker(server) as restarted:
        reconcile(journal, restarted, ["SPY"], NOW)
    with journal.store.unit_of_work(readonly=True) as uow:
        events = uow.order_events.for_order(unsent.id)
    assert [(e.kind.value, e.reason) for e in events] == [("canceled", NEVER_SENT)]
