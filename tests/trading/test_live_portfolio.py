"""Live sessions of several symbols in one account (PortfolioSession, LiveSession) on the simulated broker: the
multi-symbol backtest's orders, in the same order, whatever the symbols' bar histories; a run stopped and resumed
(even one time a process) goes on as if it had not stopped; bars held for their time, late bars, the switches."""

from __future__ import annotations

import doctest
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.data.feeds import Bar, ReplayFeed
from workbench.orders.model import Order
from workbench.store import Store
from workbench.testing import FrozenClock
from workbench.trading import portfolio_session
from workbench.trading.live import LiveSession
from workbench.trading.portfolio_session import PortfolioSession

STRATEGY = wb.strategy("sma_cross")(fast=5, slow=20)
#: QQQ starts later, IWM misses a week, SPY ends earlier: times complete at their last bar, at a later time's bar
#: and at the end of the feed.
_SPY = wb.load("SPY", start="2022-01-01", end="2022-12-31")
GAPPY = {
    "SPY": _SPY.loc[:"2022-12-20"],
    "QQQ": wb.load("QQQ", start="2022-03-01", end="2022-12-31"),
    "IWM": wb.load("IWM", start="2022-01-01", end="2022-12-31").drop(_SPY.index[50:55]),
}
WEIGHTS = {"SPY": 0.5, "QQQ": 0.3, "IWM": 0.2}
T0 = datetime(2021, 12, 31, tzinfo=UTC)


def _orders(orders: list[Order]) -> list[tuple]:
    return [(o.symbol, o.side.value, o.qty, o.avg_fill_price, o.created_at, o.status.value) for o in orders]


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize(
    "risk",
    [None, {"stop_loss": 0.03, "max_drawdown": 0.08, "max_gross_exposure": 0.9, "max_orders_per_day": 2}],
    ids=["no-rules", "rules"],
)
def test_a_portfolio_session_places_the_backtests_orders_in_the_same_order(fill: str, risk: dict | None) -> None:
    bt = wb.backtest(STRATEGY, GAPPY, cash=10_000, fees=0.001, fill=fill, risk=risk, weights=WEIGHTS)
    clock = FrozenClock(T0)
    broker = SimBroker(clock, cash=10_000, fees=0.001)
    session = PortfolioSession(STRATEGY, list(GAPPY), broker, clock, fees=0.001, fill=fill, risk=risk, weights=WEIGHTS)

    placed = session.run(ReplayFeed(GAPPY))

    assert len(placed) > 20 and {o.symbol for o in placed} == set(GAPPY)
    assert _orders(placed) == _orders(bt.order_records)  # exactly: same kernels, same arithmetic, same order
    decisions = [(e.timestamp, e.symbol, e.decision, e.rule) for e in session.risk_manager.events]
    assert decisions == [(e.timestamp, e.symbol, e.decision, e.rule) for e in bt.risk_events]
    assert broker.account().equity == pytest.approx(bt.equity.iloc[-1], rel=1e-12)
    held = broker.positions()
    assert [held.get(s, 0.0) for s in GAPPY] == pytest.approx(bt.positions.iloc[-1].tolist(), rel=1e-12)


def _live(store: Store, bars: dict[str, pd.DataFrame], history: dict[str, pd.DataFrame] | None) -> LiveSession:
    """A paper session of the portfolio on a fresh simulated broker (restored from the store when resuming)."""
    clock = FrozenClock(T0)
    broker = SimBroker(clock, cash=10_000, fees=0.001)
    return LiveSession.open(
        store, STRATEGY, list(bars), broker, clock=clock, history=history, weights=WEIGHTS, fees=0.001
    )


@pytest.fixture
def stores(tmp_path) -> Iterator[tuple[Store, Store]]:
    one, other = Store.open(f"sqlite:///{tmp_path / 'one.db'}"), Store.open(f"sqlite:///{tmp_path / 'two.db'}")
    yield one, other
    one.close()
    other.close()


def test_a_run_stopped_and_resumed_goes_on_as_if_it_had_not_stopped(stores: tuple[Store, Store]) -> None:
    whole_store, stepped_store = stores
    times = pd.DatetimeIndex(sorted(set().union(*(f.index for f in GAPPY.values()))))
    bars = {s: f.loc[: times[140]] for s, f in GAPPY.items()}
    whole = _live(whole_store, bars, None)
    whole.run(ReplayFeed(bars))
    cuts = [times[60], times[61], times[62], times[100], times[140]]  # stops after these: one time a process too

    stepped, start, runs = [], None, set()
    for cut in cuts:
        history = None if start is None else {s: f.loc[:start] for s, f in bars.items()}
        live = _live(stepped_store, bars, history)
        assert live.last_bar == start
        upcoming = {s: f.loc[f.index > start] if start is not None else f for s, f in bars.items()}
        summary = live.run(ReplayFeed({s: f.loc[:cut] for s, f in upcoming.items()}))
        stepped += list(live.session.om.orders.values())[live._first_order :]
        start = live.last_bar
        runs.add(summary.run_id)
        assert start == cut

    assert len(stepped) > 10 and len(runs) == 1  # each segment continued the one run
    mine, theirs = _orders(stepped), _orders(list(whole.session.om.orders.values()))
    assert [o[:2] + o[4:] for o in mine] == [o[:2] + o[4:] for o in theirs]
    for a, b in zip(mine, theirs, strict=True):
        assert a[2:4] == pytest.approx(b[2:4], rel=1e-9)  # qty and price: the resumed cash is summed from fills


def _bar(symbol: str, day: int, price: float = 100.0) -> Bar:
    return Bar(symbol, datetime(2024, 1, day, tzinfo=UTC), price, price + 1, price - 1, price, 1_000.0)


def test_bars_wait_for_their_time_and_a_late_bar_is_dropped() -> None:
    clock = FrozenClock(T0)
    session = PortfolioSession(STRATEGY, ["SPY", "QQQ"], SimBroker(clock), clock)

    session.on_bar(_bar("SPY", 2))
    assert session.last_bar is None  # QQQ's bar of the 2nd may still come
    session.on_bar(_bar("QQQ", 2))
    assert session.last_bar == datetime(2024, 1, 2, tzinfo=UTC)  # both in: the time is done
    session.on_bar(_bar("SPY", 3))
    session.on_bar(_bar("SPY", 4))  # a later time: the 3rd is done without QQQ
    assert session.last_bar == datetime(2024, 1, 3, tzinfo=UTC)
    assert session.on_bar(_bar("QQQ", 3)) == []  # late: the 3rd was traded
    assert len(session.frame("QQQ")) == 1 and session.last_price("QQQ") == 100.0
    session.flush()  # the feed ended: the 4th is done
    assert session.last_bar == datetime(2024, 1, 4, tzinfo=UTC) and session.last_price("IWM") is None
    with pytest.raises(ValueError, match=r"SPY bar at 2024-01-04T00:00:00\+00:00 is not after the previous one"):
        session.on_bar(_bar("SPY", 4))
    with pytest.raises(ValueError, match=r"symbols=\['SPY', 'SPY'\]: expected one or more symbols, each once"):
        PortfolioSession(STRATEGY, ["SPY", "spy"], SimBroker(clock), clock)
    with pytest.raises(ValueError, match="weights must name exactly the symbols"):
        PortfolioSession(STRATEGY, ["SPY", "QQQ"], SimBroker(clock), clock, weights={"SPY": 1.0})


def test_the_stores_switches_pause_and_the_kill_switch_flattens_every_symbol(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'switches.db'}")
    live = _live(store, GAPPY, None)
    feed = iter(ReplayFeed(GAPPY))
    while len(live.session.broker.positions()) < 2:
        live.step(next(feed))
    with store.unit_of_work() as uow:
        uow.strategies.update(STRATEGY.name, enabled=False)
    orders = len(live.session.om.orders)
    for _ in range(150):
        live.step(next(feed))
    assert len(live.session.om.orders) == orders and len(live.session.broker.positions()) >= 1  # paused, held

    with store.unit_of_work() as uow:
        uow.strategies.update(STRATEGY.name, enabled=True)
        uow.strategies.halt(STRATEGY.name, "operator: kill switch")
    live.step(next(feed))
    assert live.session.broker.positions() == {} and live.session.risk_manager.halted
    flattened = len(live.session.om.orders)
    for _ in range(60):
        live.step(next(feed))
    assert len(live.session.om.orders) == flattened

    with store.unit_of_work() as uow:
        uow.strategies.resume(STRATEGY.name)
    live.step(next(feed))
    live.step(next(feed))
    live.step(next(feed))  # the next time completes: every target is traded toward again
    assert live.session.broker.positions() and not live.session.risk_manager.halted
    store.close()


def test_doctests() -> None:
    assert doctest.testmod(portfolio_session).failed == 0
