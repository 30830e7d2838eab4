"""RiskMonitor: measures re-evaluated on every bar and fill, alerts on each level change, same live and in
backtests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.orders.manager import OrderManager
from workbench.risk.manager import RiskRules
from workbench.risk.monitor import RiskMonitor
from workbench.testing import FrozenClock

T0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def test_alerts_follow_a_hand_computed_account() -> None:
    clock = FrozenClock(T0)
    broker = SimBroker(clock, cash=10_000)
    rules = RiskRules(max_drawdown=0.06, daily_loss=0.05, max_gross_exposure=0.9)
    monitor = RiskMonitor(broker, rules, warn_at=0.5)
    seen = []
    monitor.subscribe(seen.append)
    om = OrderManager(broker, clock)
    om.subscribe(monitor.on_event)
    broker.quote("SPY", 100.0)
    om.target("SPY", 0.8, 100.0)  # 80 shares: gross 8,000 / 10,000 = 0.8 >= 0.5 x 0.9 -> warning
    assert [(a.measure, a.level, a.rule) for a in seen] == [("gross_exposure", "warning", "max_gross_exposure")]
    assert seen[0].value == pytest.approx(0.8) and seen[0].limit == 0.9
    # Same day, SPY 100 -> 95: equity 9,600, down 4 % from the peak and the day's start (10,000) -> both warn
    # (>= 3 % and 2.5 %); gross 7,600 / 9,600 = 0.79 still warning, so no new gross alert.
    monitor.on_bar(T0 + timedelta(minutes=1), {"SPY": 95.0})
    assert [(a.measure, a.level) for a in seen[1:]] == [("drawdown", "warning"), ("daily_loss", "warning")]
    assert seen[1].value == pytest.approx(0.04) and seen[2].value == pytest.approx(0.04)
    # SPY 85: equity 8,800, 12 % down: both breach.
    monitor.on_bar(T0 + timedelta(minutes=2), {"SPY": 85.0})
    assert [(a.measure, a.level) for a in seen[3:]] == [("drawdown", "breach"), ("daily_loss", "breach")]
    # Next day at 86: the day's loss is measured from 8,800, so it clears; the drawdown (11.2 %) stays.
    monitor.on_bar(T0 + timedelta(days=1), {"SPY": 86.0})
    assert [(a.measure, a.level) for a in seen[5:]] == [("daily_loss", "ok")]
    assert monitor.measures.tolist() == pytest.approx([0.112, 0.0, 6_880 / 8_880, 6_880 / 8_880])
    assert monitor.alerts == seen


def test_monitor_ignores_events_without_fills_and_checks_warn_at() -> None:
    clock = FrozenClock(T0)
    broker = SimBroker(clock, cash=10_000)
    with pytest.raises(ValueError, match=r"warn_at=1.5: must be a fraction of the limit in \(0, 1\]"):
        RiskMonitor(broker, RiskRules(max_drawdown=0.1), warn_at=1.5)
    monitor = RiskMonitor(broker, RiskRules())  # no limits: measures move, alerts never fire
    monitor.on_bar(T0, {"SPY": 1.0})
    assert monitor.alerts == []


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_backtest_alerts_equal_a_monitor_stepped_bar_by_bar(fill: str) -> None:
    bars = wb.load("QQQ", start="2005-01-01")
    rules = RiskRules(max_drawdown=0.35, daily_loss=0.04, max_gross_exposure=1.0, max_net_exposure=1.0)
    bt = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=40), bars, fill=fill, risk=rules)
    assert len(bt.alerts) >= 3 and {a.level for a in bt.alerts} >= {"warning", "ok"}
    monitor = RiskMonitor(SimBroker(FrozenClock(bars.index[0].to_pydatetime()), cash=10_000), rules)
    values = bt.position.to_numpy() * bars["close"].to_numpy()
    for when, equity, value in zip(bars.index, bt.equity.to_numpy(), values, strict=True):
        monitor.observe(when.to_pydatetime(), float(equity), abs(float(value)), float(value))
    assert monitor.alerts == bt.alerts


def test_portfolio_backtest_reports_alerts() -> None:
    bars = wb.load(["SPY", "QQQ", "XOM"], start="2006-01-01")
    bt = wb.backtest("sma_cross", bars, risk={"max_gross_exposure": 0.9})
    gross = [a for a in bt.alerts if a.measure == "gross_exposure"]
    assert gross and gross[0].level in {"warning", "breach"}
    held = (bt.positions * bars.close.reindex(bt.positions.index).ffill()).abs().sum(axis=1) / bt.equity
    assert np.isclose(gross[0].value, held.loc[gross[0].timestamp])


def test_a_measure_hovering_at_a_threshold_alerts_once_and_clears_ten_percent_below() -> None:
    monitor = RiskMonitor(SimBroker(FrozenClock(T0), cash=10_000), RiskRules(max_drawdown=0.10), warn_at=0.8)
    # drawdown 7.9 % (ok), 8.1 % (warning from 8 %), then hovering, then 10 % (breach), 9.5 % and 7.5 %
    # (held: above 9 % and 7.2 %), 8.5 % (breach cleared to warning below 9 %), 7 % (ok below 7.2 %).
    path = [0.079, 0.081, 0.079, 0.081, 0.0795, 0.1001, 0.095, 0.085, 0.075, 0.07]
    for k, dd in enumerate(path):
        monitor.observe(T0 + timedelta(minutes=k), 10_000 * (1 - dd), 0.0, 0.0)
    assert [(a.level, round(a.value, 4)) for a in monitor.alerts] == [
        ("warning", 0.081),
        ("breach", 0.1001),
        ("warning", 0.085),
        ("ok", 0.07),
    ]
