"""Write-ahead trading records: orders stored before they are sent, each event stored whole, state rebuilt from
the database alone after a restart or a SIGKILL — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from writer_process import Writer

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.data.feeds import ReplayFeed
from workbench.engine.ledger import position_after_fill_nb
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order, OrderStatus
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock
from workbench.trading.session import TradingSession

WRITER = Path(__file__).parents[1] / "journal_writer.py"

pytest_plugins = ["store_fixtures"]


class Injected(Exception):
    """The failure a test injects inside a unit of work."""


class StoredBeforeSent:
    """A SimBroker that checks, as each order reaches it, that the order is already in the database."""

    def __init__(self, inner: SimBroker, store: Store) -> None:
        self.inner, self.store, self.checked = inner, store, 0

    def submit(self, order: Order) -> Order:
        with self.store.unit_of_work(readonly=True) as uow:
            stored = uow.orders.by_client_order_id(order.client_order_id)
        assert stored is not None and stored.status is OrderStatus.NEW
        self.checked += 1
        return self.inner.submit(order)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_orders_are_stored_before_the_broker_sees_them(store: Store) -> None:
    clock = FrozenClock(datetime(2024, 1, 2, 15, tzinfo=UTC))
    broker = StoredBeforeSent(SimBroker(clock, cash=10_000.0), store)
    journal = OrderJournal.start(store, "manual", cash=10_000.0)
    om = OrderManager(broker, clock, journal=journal)
    broker.quote("SPY", 100.0)
    om.target("SPY", 0.5, 100.0)
    om.target("SPY", 0.0, 100.0)
    assert broker.checked == 2
    with store.unit_of_work(readonly=True) as uow:
        orders = uow.orders.find(run_id=journal.run_id)
        assert [o.status for o in orders] == [OrderStatus.FILLED, OrderStatus.FILLED]
        assert [e.kind.value for e in uow.order_events.for_order(orders[0].id)] == ["accepted", "fill"]
        assert uow.positions.get(journal.run_id, "SPY").qty == 0.0


def test_a_fill_is_stored_with_its_order_and_position_or_not_at_all(store: Store, monkeypatch) -> None:
    clock = FrozenClock(datetime(2024, 1, 2, 15, tzinfo=UTC))
    broker = SimBroker(clock, cash=10_000.0)
    journal = OrderJournal.start(store, "manual", cash=10_000.0)
    om = OrderManager(broker, clock, journal=journal)
    broker.quote("SPY", 100.0)
    from workbench.store.repositories import PositionRepository

    def fail(self, run_id, fill):
        raise Injected("disk full")

    monkeypatch.setattr(PositionRepository, "apply_fill", fail)
    with pytest.raises(Injected):
        om.target("SPY", 0.5, 100.0)
    with store.unit_of_work(readonly=True) as uow:
        (order,) = uow.orders.find(run_id=journal.run_id)
        assert order.status is OrderStatus.ACCEPTED and order.filled_qty == 0.0  # the fill's update rolled back
        assert uow.fills.find(run_id=journal.run_id) == []
        assert uow.positions.current(journal.run_id, include_flat=True) == {}


def test_a_paper_session_restarts_from_the_database_alone(store: Store) -> None:
    bars = wb.load("SPY", start="2015-01-01", end="2018-12-31")
    first, second = bars.iloc[:500], bars.iloc[500:]
    strategy = wb.strategy("sma_cross")(fast=5, slow=20)
    journal = OrderJournal.start(store, "sma_cross", cash=10_000.0, params=strategy.values)
    clock = FrozenClock(bars.index[0].to_pydatetime())
    before = TradingSession.paper(strategy, "SPY", cash=10_000.0, fees=0.001, clock=clock, journal=journal)
    before.run(ReplayFeed({"SPY": first}))
    assert len(before.om.fills) > 10

    resumed = OrderJournal.resume(store, journal.run_id)
    after = TradingSession.paper(strategy, "SPY", cash=0.0, fees=0.001, clock=clock, journal=resumed, history=first)
    assert after.broker.account().cash == pytest.approx(before.broker.account().cash, abs=1e-6)
    assert after.broker.positions() == pytest.approx(before.broker.positions(), rel=1e-12)
    assert after.om.positions["SPY"].realized_pnl == pytest.approx(before.om.positions["SPY"].realized_pnl, rel=1e-9)
    after.run(ReplayFeed({"SPY": second}))  # no client_order_id of the first half is reused (the store refuses)
    with store.unit_of_work(readonly=True) as uow:
        fills = uow.fills.find(run_id=journal.run_id)
        assert len(fills) == len(before.om.fills) + len(after.om.fills)
        stored = uow.positions.get(journal.run_id, "SPY")
    assert stored.qty == pytest.approx(after.broker.positions().get("SPY", 0.0), abs=1e-9)


def test_a_halt_is_stored_and_a_restarted_session_stays_halted(store: Store) -> None:
    bars = wb.load("QQQ", start="2007-06-01", end="2009-06-30")
    strategy = wb.strategy("sma_cross")(fast=5, slow=20)
    journal = OrderJournal.start(store, "sma_cross", cash=10_000.0)
    clock = FrozenClock(bars.index[0].to_pydatetime())
    risk = {"max_drawdown": 0.08}
    session = TradingSession.paper(strategy, "QQQ", cash=10_000.0, clock=clock, journal=journal, risk=risk)
    session.run(ReplayFeed({"QQQ": bars.iloc[:300]}))
    assert session.risk_manager.halted
    state = OrderJournal.resume(store, journal.run_id).restore()
    assert state.halted and state.halted_reason.startswith("max_drawdown at ")
    assert state.enabled_strategies == ["sma_cross"]
    with store.unit_of_work(readonly=True) as uow:
        assert uow.strategies.get("sma_cross").halted
        assert [e.decision for e in uow.risk_events.find(journal.run_id, decision="halt")] == ["halt"]
    again = TradingSession.paper(
        strategy,
        "QQQ",
        clock=clock,
        journal=OrderJournal.resume(store, journal.run_id),
        risk=risk,
        history=bars.iloc[:300],
    )
    assert again.risk_manager.halted and again.run(ReplayFeed({"QQQ": bars.iloc[300:]})) == []


def _check_integrity(store: Store, run_id: int) -> tuple[int, int]:
    """Every fill belongs to an order whose filled qty it adds up to; positions equal the sum of fills."""
    with store.unit_of_work(readonly=True) as uow:
        orders = {o.id: o for o in uow.orders.find(run_id=run_id)}
        fills = uow.fills.find(run_id=run_id)
        positions = uow.positions.current(run_id, include_flat=True)
    by_order: dict[str, float] = {}
    ledger: dict[str, tuple[float, float, float]] = {}
    for fill in fills:
        assert fill.order_id in orders
        by_order[fill.order_id] = by_order.get(fill.order_id, 0.0) + fill.qty
        qty, avg, realized = ledger.get(fill.symbol, (0.0, 0.0, 0.0))
        ledger[fill.symbol] = position_after_fill_nb(
            qty, avg, realized, fill.qty * fill.side.sign, fill.price, fill.fee
        )
    for order in orders.values():
        assert order.filled_qty == pytest.approx(by_order.get(order.id, 0.0), abs=1e-9)
        assert (order.status is OrderStatus.FILLED) == (
            order.filled_qty > 0 and order.remaining_qty <= 1e-9 * order.qty
        )
    assert set(positions) == set(ledger)
    for symbol, (qty, _avg, realized) in ledger.items():
        assert positions[symbol].qty == pytest.approx(qty, abs=1e-9)
        assert positions[symbol].realized_pnl == pytest.approx(realized, abs=1e-6)
    return len(orders), len(fills)


def test_sigkill_at_random_moments_leaves_a_consistent_store(db_url: str, tmp_path) -> None:
    store = Store.open(db_url)
    journal = OrderJournal.start(store, "crash", cash=1_000_000.0)
    rng = random.Random(7)
    writer = Writer(WRITER, [db_url, str(journal.run_id)], tmp_path / "writer.log")
    counts = []
    try:
        writer.expect("ready")
        for kill in range(20):
            writer.send(str(kill))
            (pid,) = writer.expect("trading")
            time.sleep(rng.uniform(0.0, 0.4))  # it trades meanwhile; the kill lands anywhere in its work
            os.kill(int(pid), signal.SIGKILL)
            assert writer.expect("exited") == [pid, str(-signal.SIGKILL)]
            counts.append(_check_integrity(store, journal.run_id))
            state = OrderJournal.resume(store, journal.run_id).restore()
            assert np.isfinite(state.cash)
    finally:
        writer.close()
    orders, fills = counts[-1]
    assert orders > 40 and fills > 40 and len({c for c in counts}) > 10  # work went on between the kills
    store.close()


def test_paper_steps_resume_the_latest_run_and_match_one_long_step(store: Store, tmp_path) -> None:
    from workbench.trading.paper_step import paper_step

    kwargs = dict(params={"fast": 5, "slow": 20}, start="2023-01-03", fees=0.001, risk={"stop_loss": 0.04})
    steps = [paper_step("sma_cross", "SPY", store=store, run_id="latest", steps=n, **kwargs) for n in (120, 1, 129)]
    assert len({s.run_id for s in steps}) == 1 and [s.bars for s in steps] == [120, 1, 129]
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    whole = paper_step("sma_cross", "SPY", store=other, steps=250, **kwargs)
    assert steps[-1].equity == pytest.approx(whole.equity, rel=1e-12)
    assert sum(len(s.fills) for s in steps) == len(whole.fills) > 5
    assert steps[-1].last_bar == whole.last_bar
    with store.unit_of_work(readonly=True) as uow:  # no channel is configured: nothing queued to dead-letter
        assert uow.notifications.pending(limit=None) == []
    with pytest.raises(ValueError, match="steps=0: must be at least 1 bar"):
        paper_step("sma_cross", "SPY", store=store, steps=0)
    other.close()


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_a_session_restarted_at_every_bar_trades_like_the_backtest(store: Store, fill: str) -> None:
    """One bar per process (``workbench live --once``, a scheduled paper step): each restart resumes from the
    store with the bars so far as history, and the orders equal an uninterrupted backtest's. With next-open
    fills the last history bar's signal is still due when the next bar opens, and must not be lost."""
    bars = wb.load("SPY", start="2016-01-01", end="2016-06-30")
    strategy = wb.strategy("sma_cross")(fast=3, slow=10)
    journal = OrderJournal.start(store, "sma_cross", cash=10_000.0, params=strategy.values)
    clock = FrozenClock(bars.index[0].to_pydatetime())
    fills = []
    for k in range(len(bars)):
        if k:
            journal = OrderJournal.resume(store, journal.run_id)
        session = TradingSession.paper(
            strategy, "SPY", cash=10_000.0, fees=0.001, fill=fill, clock=clock, journal=journal,
            history=bars.iloc[:k] if k else None,
        )  # fmt: skip
        session.run(ReplayFeed({"SPY": bars.iloc[k : k + 1]}))
        fills += session.om.fills
    bt = wb.backtest(strategy, bars, fees=0.001, fill=fill)
    assert len(bt.fills) >= 8
    assert [f.timestamp for f in fills] == [t.to_pydatetime() for t in bt.fills["timestamp"]]
    np.testing.assert_allclose([f.qty for f in fills], bt.fills["qty"], rtol=1e-9)
    np.testing.assert_allclose([f.price for f in fills], bt.fills["price"], rtol=1e-12)
