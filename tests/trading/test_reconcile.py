"""Restart reconciliation against the loopback Alpaca: each state a crash can leave is settled by client_order_id,
and what cannot be explained halts trading."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alpaca.trading.client import TradingClient
from alpaca_fake import LoopbackServer, Plan, TradingApi

import workbench as wb
from workbench.brokers.alpaca import AlpacaBroker
from workbench.brokers.alpaca_wire import order_request
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order, OrderStatus
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession
from workbench.trading.reconcile import NEVER_SENT, reconcile

NOW = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)
#: The parameters the runs below were made with: sma_cross's defaults, what LiveSession.open("sma_cross") uses.
SMA_DEFAULTS = wb.strategy("sma_cross")().values
#: Alpaca needs a promoted configuration; these sessions trade the loopback fake (audited as an override).
FAKE = "tests: the loopback Alpaca fake"


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
    config = {"symbol": "SPY", "broker": "alpaca-paper"}
    yield OrderJournal.start(store, "sma_cross", cash=50_000.0, params=SMA_DEFAULTS, config=config)
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
            journal.store,
            "sma_cross",
            "SPY",
            restarted,
            clock=FrozenClock(NOW),
            run=journal.run_id,
            override_reason=FAKE,
        )
        orders_at_the_broker = len(trading.orders)
        live.apply_controls()

    differences = live.reconciliation.differences
    assert len(differences) == 4
    assert "is accepted in the records but unknown to the broker" in differences[0]
    assert "at the broker is not in the records" in differences[1]
    assert differences[2] == "position SPY: 0 in the records, 7 at the broker"
    assert differences[3] == (
        "cash: 50,000.00 in the records, 47,200.00 at the broker (-2,800.00, more than the 1.00 tolerated)"
    )
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


@pytest.fixture
def pair(tmp_path, trading: TradingApi) -> Iterator[OrderJournal]:
    """The journal of a run of SPY and QQQ in one account (QQQ quoted at 300)."""
    trading.quote("QQQ", 300.0)
    store = Store.open(f"sqlite:///{tmp_path / 'pair.db'}")
    config = {"symbol": "SPY,QQQ", "symbols": ["SPY", "QQQ"], "weights": {"SPY": 0.5, "QQQ": 0.5}}
    yield OrderJournal.start(
        store, "sma_cross", cash=50_000.0, params=SMA_DEFAULTS, config={**config, "broker": "alpaca-paper"}
    )
    store.close()


def test_a_two_symbol_run_is_settled_order_by_order_and_resumes_trading_both(
    server: LoopbackServer, trading: TradingApi, pair: OrderJournal
) -> None:
    with broker(server) as first:
        om = OrderManager(first, FrozenClock(NOW), journal=pair)
        om.submit(order(qty=20))  # SPY filled at 400
        resting = om.submit(order(symbol="QQQ", qty=10, type="limit", limit_price=290.0, time_in_force="gtc"))
    unsent, answered_lost = order(symbol="QQQ", qty=4), order(qty=5)
    pair.record_order(unsent)  # crash between "recorded" and "sent"
    pair.record_order(answered_lost)  # crash between "sent" and "answer handled"
    TradingClient(server.api_key, server.secret_key, url_override=server.rest_url).submit_order(
        order_request(answered_lost)
    )
    trading.fill(resting.client_order_id, qty=6, price=289.0)  # while down

    with broker(server) as restarted:
        live = LiveSession.open(
            pair.store,
            "sma_cross",
            ["SPY", "QQQ"],
            restarted,
            clock=FrozenClock(NOW),
            run=pair.run_id,
            override_reason=FAKE,
        )
        result = live.reconciliation

    assert result.ok and result.never_sent == [unsent.client_order_id] and result.events == 3
    state = pair.restore()
    assert {s: p.qty for s, p in state.positions.items()} == {"SPY": 25.0, "QQQ": 6.0}
    assert state.cash == trading.cash == 50_000.0 - 25 * 400.0 - 6 * 289.0
    assert [o.client_order_id for o in state.open_orders] == [resting.client_order_id]  # 4 of 10 still working
    assert live.session.symbols == ("SPY", "QQQ") and not live.session.risk_manager.halted
    assert {s: p.qty for s, p in live.session.om.positions.items()} == {"SPY": 25.0, "QQQ": 6.0}
    assert trading.submitted().count(unsent.client_order_id) == 0


def test_a_difference_in_either_symbol_or_in_cash_halts_the_pair(
    server: LoopbackServer, trading: TradingApi, pair: OrderJournal
) -> None:
    client = TradingClient(server.api_key, server.secret_key, url_override=server.rest_url)
    client.submit_order(order_request(order(symbol="QQQ", qty=3)))  # someone bought QQQ in this account

    with broker(server) as restarted:
        result = reconcile(pair, restarted, ["SPY", "QQQ"], NOW)
        blind = reconcile(pair, restarted, ["SPY", "QQQ"], NOW, cash_tolerance=None)

    assert result.differences == [
        "position QQQ: 0 in the records, 3 at the broker",
        "cash: 50,000.00 in the records, 49,100.00 at the broker (-900.00, more than the 1.00 tolerated)",
    ]
    assert blind.differences == result.differences[:1]
    assert pair.restore().halted and pair.restore().halted_reason.startswith("reconcile at")


def test_a_cash_difference_alone_halts_unless_within_the_tolerance(
    server: LoopbackServer, trading: TradingApi, pair: OrderJournal
) -> None:
    trading.cash += 0.75  # cents a broker rounds: within the tolerance
    with broker(server) as restarted:
        assert reconcile(pair, restarted, ["SPY", "QQQ"], NOW).ok
    trading.cash += 250.0  # a deposit the records cannot explain, before the next restart
    with broker(server) as restarted:
        result = reconcile(pair, restarted, ["SPY", "QQQ"], NOW)
    assert result.differences == [
        "cash: 50,000.00 in the records, 50,250.75 at the broker (+250.75, more than the 1.00 tolerated)"
    ]
    assert result.halt is not None and result.halt.rule == "reconcile"
    with pair.store.unit_of_work(readonly=True) as uow:
        assert uow.audit.find(action="reconcile.halt")[0].details["differences"] == result.differences
