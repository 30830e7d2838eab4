"""Resuming a recorded live or paper run: ``latest`` finds only a run of the same strategy, parameters, symbols
and broker kind, and an explicit run id with another configuration is refused, naming what differs (trading on
would record orders under parameters that did not make them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession, latest_run
from workbench.trading.paper_step import paper_step

pytest_plugins = ["store_fixtures"]

T0 = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)
SMA = wb.strategy("sma_cross")


def _open(store: Store, strategy, run) -> LiveSession:
    clock = FrozenClock(T0)
    return LiveSession.open(store, strategy, "SPY", SimBroker(clock, cash=10_000.0), clock=clock, run=run)


def _run_of(store: Store, strategy, run) -> int:
    live = _open(store, strategy, run)
    live.shutdown()
    return live.run_id


def test_latest_resumes_only_a_run_of_the_same_parameters(store: Store) -> None:
    first = _run_of(store, SMA(fast=3, slow=10), None)
    other = _run_of(store, SMA(fast=4, slow=10), "latest")  # another parameter set: a run of its own
    assert other != first
    assert _run_of(store, SMA(fast=3, slow=10), "latest") == first
    assert _run_of(store, SMA(fast=4, slow=10), "latest") == other
    assert latest_run(store, "sma_cross", "SPY", "sim", {"fast": 3, "slow": 10}) == first
    assert latest_run(store, "sma_cross", "SPY", "sim") == other  # without params: the newest of any
    assert latest_run(store, "sma_cross", "SPY", "alpaca-paper", {"fast": 3, "slow": 10}) is None


def test_a_run_id_with_other_parameters_or_strategy_is_refused(store: Store) -> None:
    run = _run_of(store, SMA(fast=3, slow=10), None)
    message = (
        f"run {run} traded sma_cross with fast=3, slow=10, not fast=4, slow=10: resume it with those parameters, "
        "or start a new run"
    )
    with pytest.raises(ValueError) as info:
        _open(store, SMA(fast=4, slow=10), run)
    assert str(info.value) == message
    with pytest.raises(ValueError, match=rf"run {run} traded sma_cross, not rsi_reversion: start a new run"):
        _open(store, wb.strategy("rsi_reversion")(), run)
    with store.unit_of_work(readonly=True) as uow:  # nothing was recorded by the refused attempts
        assert [r.id for r in uow.runs.find(kind="live", limit=None)] == [run]


def test_paper_steps_resume_their_own_configuration_only(store: Store) -> None:
    kwargs = dict(store=store, start="2023-01-03", notify=False)
    first = paper_step("sma_cross", "SPY", params={"fast": 5, "slow": 20}, run_id="latest", steps=5, **kwargs)
    other = paper_step("sma_cross", "SPY", params={"fast": 6, "slow": 20}, run_id="latest", steps=5, **kwargs)
    again = paper_step("sma_cross", "SPY", params={"fast": 5, "slow": 20}, run_id="latest", steps=2, **kwargs)
    assert other.run_id != first.run_id == again.run_id
    with pytest.raises(ValueError, match=rf"run {first.run_id} traded sma_cross with fast=5, slow=20, not fast=7"):
        paper_step("sma_cross", "SPY", params={"fast": 7, "slow": 20}, run_id=first.run_id, **kwargs)


def test_paper_steps_never_resume_an_alpaca_run(store: Store) -> None:
    params = {"fast": 5, "slow": 20}
    config = {"symbol": "SPY", "broker": "alpaca-paper"}
    alpaca = OrderJournal.start(store, "sma_cross", cash=10_000.0, params=params, config=config).run_id
    step = paper_step("sma_cross", "SPY", params=params, run_id="latest", store=store, start="2023-01-03", notify=False)
    assert step.run_id != alpaca
    with pytest.raises(ValueError, match=rf"run {alpaca} traded SPY via alpaca-paper, not SPY via sim"):
        paper_step("sma_cross", "SPY", params=params, run_id=alpaca, store=store, notify=False)


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_a_resumed_run_keeps_its_drawdown_peak_and_its_days_orders(store: Store, fill: str) -> None:
    """Stopped every 50 bars and resumed: the same orders and risk decisions as the backtest under account rules -
    the drawdown is measured from the run's recorded peak, not from the restart, and a halt stays a halt."""
    from workbench.clock import SimClock
    from workbench.data.feeds import ReplayFeed
    from workbench.trading.build import paper_venue

    bars = wb.load("SPY", start="2019-10-01", end="2020-09-30")
    rules = {"max_drawdown": 0.05, "daily_loss": 0.03}
    strategy = SMA(fast=5, slow=20)
    placed, decisions = [], []
    for start in range(0, len(bars), 50):
        venue = paper_venue(10_000.0, fees=0.001, clock=SimClock(datetime(2018, 12, 31, tzinfo=UTC)))
        history = bars.iloc[:start] if start else None
        live = LiveSession.open(
            store, strategy, "SPY", venue.broker, clock=venue.clock, history=history, fees=0.001, fill=fill,
            risk=rules, notify=False,
        )  # fmt: skip
        live.run(ReplayFeed({"SPY": bars.iloc[start : start + 50]}))
        placed += [(o.side.value, o.qty, o.avg_fill_price, o.created_at) for o in live.session.om.orders.values()]
        decisions += [(e.timestamp, e.decision, e.rule) for e in live.session.risk_manager.events]
    bt = wb.backtest(strategy, bars, fees=0.001, fill=fill, risk=rules)
    assert sorted(placed, key=lambda o: o[3]) == [
        (o.side.value, o.qty, o.avg_fill_price, o.created_at) for o in bt.order_records
    ]
    expected = [(e.timestamp, e.decision, e.rule) for e in bt.risk_events if e.decision != "approve"]
    assert [d for d in decisions if d[1] != "approve"] == expected
    assert ("halt", "max_drawdown") in {d[1:] for d in expected}  # after a restart: from the recorded peak
