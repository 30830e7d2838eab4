"""A TradingSession fed bars one at a time places the orders a backtest places: the one rule, live."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.data.feeds import Bar, ReplayFeed
from workbench.testing import FrozenClock
from workbench.trading.records import records_frame
from workbench.trading.session import TradingSession


def _session(strategy, bars, **kwargs) -> TradingSession:
    clock = FrozenClock(bars.index[0].to_pydatetime())
    fees = kwargs.get("fees", 0.0)
    broker = SimBroker(clock, cash=10_000.0, fees=fees, slippage=kwargs.get("slippage", 0.0))
    return TradingSession(strategy, "SPY", broker, clock, **kwargs)


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("risk", [None, {"stop_loss": 0.03, "trailing_stop": 0.06, "max_drawdown": 0.2}])
def test_a_session_fed_bar_by_bar_trades_like_the_backtest(fill: str, risk) -> None:
    bars = wb.load("SPY", start="2012-01-01", end="2016-12-31")
    strategy = wb.strategy("sma_cross")(fast=5, slow=30)
    costs = dict(fees=0.001, slippage=0.0005, fill=fill)
    session = _session(strategy, bars, risk=risk, **costs)
    orders = session.run(ReplayFeed({"SPY": bars}))
    bt = wb.backtest(strategy, bars, risk=risk, **costs)
    columns = ["timestamp", "side", "qty", "price", "fee"]
    live = records_frame(session.om.fills)[columns]
    assert len(orders) == len(bt.orders) and len(live) > 20
    np.testing.assert_allclose(live[["qty", "price", "fee"]], bt.fills[["qty", "price", "fee"]], rtol=1e-12)
    assert live["timestamp"].tolist() == bt.fills["timestamp"].tolist()
    assert [(e.decision, e.rule) for e in session.risk_manager.events] == [(e.decision, e.rule) for e in bt.risk_events]
    assert session.broker.account().equity == pytest.approx(bt.equity.iloc[-1], rel=1e-12)


def test_history_warms_up_without_trading_and_bars_must_move_forward() -> None:
    bars = wb.load("SPY", start="2015-01-01", end="2016-12-31")
    history, live = bars.iloc[:300], bars.iloc[300:]
    session = _session(wb.strategy("sma_cross")(fast=5, slow=30), bars, history=history)
    assert session.om.orders == {}
    session.run(ReplayFeed({"SPY": live}))
    first_fill = session.om.fills[0].timestamp
    assert first_fill >= live.index[0]  # nothing traded on the history
    assert len(session.frame()) == len(bars)
    last = bars.index[-1].to_pydatetime()
    with pytest.raises(ValueError, match="is not after the previous one"):
        session.on_bar(Bar("SPY", last, 1.0, 1.0, 1.0, 1.0, 0.0))
    assert session.on_bar(Bar("QQQ", datetime(2030, 1, 1, tzinfo=UTC), 1.0, 1.0, 1.0, 1.0, 0.0)) == []


def test_paper_session_runs_on_the_wall_clock_without_keys() -> None:
    bars = wb.load("SPY", start="2024-01-01", end="2024-12-31")
    session = TradingSession.paper(wb.strategy("sma_cross")(fast=5, slow=20), "SPY", cash=5_000, fees=0.001)
    before = datetime.now(UTC)
    orders = session.run(ReplayFeed({"SPY": bars}))
    assert orders and all(o.created_at >= before for o in orders)  # stamped by the wall clock
    assert session.broker.account().cash != 5_000


def test_replay_feed_paces_bars_like_a_live_stream() -> None:
    waits = []
    bars = wb.load(["SPY", "QQQ"], start="2024-01-02", end="2024-01-05")
    feed = ReplayFeed({"SPY": bars["SPY"], "QQQ": bars["QQQ"]}, pace=0.5, sleep=waits.append)
    seen = [(b.timestamp.day, b.symbol) for b in feed]
    assert seen == [(2, "SPY"), (2, "QQQ"), (3, "SPY"), (3, "QQQ"), (4, "SPY"), (4, "QQQ"), (5, "SPY"), (5, "QQQ")]
    assert waits == [0.5, 0.5, 0.5]  # one wait per new bar time, none between symbols of the same time
    with pytest.raises(ValueError, match="pace=-1: must be seconds >= 0"):
        ReplayFeed({"SPY": bars["SPY"]}, pace=-1)
