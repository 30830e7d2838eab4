"""Allowed symbols and trading hours: one session array decides for the sweep, the backtest and the live
RiskManager; outside a session nothing fills and the strategy waits for the first bar that can."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.engine.inputs import check_costs
from workbench.engine.sessions import CLOSED, parse_hours, session_ids
from workbench.engine.single import simulate_exposure
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order, OrderStatus, OrderType, Side
from workbench.risk.manager import RiskManager, RiskRules
from workbench.testing import FrozenClock

HOURS = {"trading_hours": "09:30-16:00", "timezone": "America/New_York"}


@pytest.fixture(scope="module")
def minute_bars() -> pd.DataFrame:
    return wb.load("SPY_1min", end="2011-02-15")


def test_parse_hours_reads_local_minutes_and_refuses_bad_text() -> None:
    assert parse_hours("09:30-16:00") == (570, 960)
    assert parse_hours("18:00-17:00") == (1080, 1020)  # spans midnight (futures)
    assert parse_hours("00:00-24:00") == (0, 1440)
    for bad, why in (
        ("9-16", "must look like '09:30-16:00'"),
        ("25:00-26:00", "hours run 00-23"),
        ("10:00-10:00", "the session is empty"),
        (930, "must look like"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_hours(bad)


def test_session_ids_close_bars_outside_hours_in_local_time() -> None:
    # 2024-07-01 is EDT (UTC-4): 13:29 UTC = 09:29 local (closed), 13:30 = 09:30 (open), 20:00 = 16:00 (closed).
    index = pd.DatetimeIndex(["2024-07-01 13:29", "2024-07-01 13:30", "2024-07-01 19:59", "2024-07-01 20:00"], tz="UTC")
    hours = parse_hours("09:30-16:00")
    day = index.as_unit("ns").asi8 // 86_400_000_000_000
    assert session_ids(index, "SPY", hours=hours).tolist() == [CLOSED, day[1], day[2], CLOSED]
    # In January (EST, UTC-5) the same local session is 14:30-21:00 UTC.
    winter = pd.DatetimeIndex(["2024-01-02 14:29", "2024-01-02 14:30"], tz="UTC")
    assert session_ids(winter, "SPY", hours=hours)[0] == CLOSED and session_ids(winter, "SPY", hours=hours)[1] >= 0
    assert (session_ids(index, "QQQ", allowed=frozenset({"SPY"})) == CLOSED).all()
    assert (session_ids(index, "spy", allowed=frozenset({"SPY"})) >= 0).all()


def test_session_rules_refuse_bad_settings_with_the_reason() -> None:
    with pytest.raises(ValueError, match="allowed_symbols='SPY': must be a list of symbols"):
        RiskRules(allowed_symbols="SPY")
    with pytest.raises(ValueError, match=r"allowed_symbols=\[\]: would forbid every symbol"):
        check_costs(10_000, 0, 0, "close", {"allowed_symbols": []})
    with pytest.raises(ValueError, match="timezone='Mars/Olympus': not a time zone name"):
        RiskRules(trading_hours="09:30-16:00", timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="trading_hours applies to intraday bars; SPY are daily"):
        wb.backtest("sma_cross", wb.load("SPY"), risk={"trading_hours": "09:30-16:00"})
    with pytest.raises(ValueError, match="unknown risk rule trading_hour;"):
        wb.sweep("sma_cross", wb.load("SPY"), fast=[10], slow=[50], risk={"trading_hour": "09:30-16:00"})


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_trading_hours_equal_a_signal_that_waits_for_the_session(minute_bars: pd.DataFrame, fill: str) -> None:
    """Oracle: with the rule, a run equals the rule-free run of the same signal with every bar whose order
    could not fill masked to NaN (NaN keeps the previous target, a semantics pinned against vectorbt)."""
    strategy = wb.strategy("sma_cross")(fast=5, slow=30)
    exposure = strategy.exposure(minute_bars).to_numpy()
    ruled = check_costs(10_000.0, 0.0005, 0.0, fill, HOURS)
    session = ruled.sessions(minute_bars.index, "SPY")
    fills_at = session if fill == "close" else np.append(session[1:], CLOSED)
    masked = np.where(fills_at == CLOSED, np.nan, exposure)
    want = simulate_exposure(masked, minute_bars, check_costs(10_000.0, 0.0005, 0.0, fill), 98_000.0)
    got = simulate_exposure(exposure, minute_bars, ruled, 98_000.0)
    np.testing.assert_allclose(got.equity.to_numpy(), want.equity.to_numpy(), rtol=1e-12)
    assert len(got.trades) == len(want.trades) > 10
    # Every fill happened inside 09:30-16:00 New York time.
    local = minute_bars.index.tz_convert("America/New_York")
    minutes = local.hour * 60 + local.minute
    for bar in np.concatenate([got.trades["entry_bar"], got.trades["exit_bar"][got.trades["exit_bar"] >= 0]]):
        assert 570 <= minutes[bar] < 960


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("extra", [{}, {"stop_loss": 0.002, "daily_loss": 0.003}])
def test_backtest_equals_sweep_under_session_rules(minute_bars: pd.DataFrame, fill: str, extra: dict) -> None:
    rules = {**HOURS, **extra}
    costs = dict(cash=10_000.0, fees=0.0002, fill=fill)
    bars = minute_bars.copy()
    bars.attrs["symbol"] = "SPY"
    bt = wb.backtest(wb.strategy("sma_cross")(fast=5, slow=30), bars, risk=rules, **costs)
    row = wb.sweep("sma_cross", {"SPY": bars}, progress=False, risk=rules, fast=[5], slow=[30], **costs).metrics
    np.testing.assert_allclose(bt.metrics.to_numpy(), row.iloc[0].to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True)
    local = pd.DatetimeIndex(bt.fills["timestamp"]).tz_convert("America/New_York")
    assert len(local) and ((local.hour * 60 + local.minute >= 570) & (local.hour * 60 + local.minute < 960)).all()
    free = wb.backtest(wb.strategy("sma_cross")(fast=5, slow=30), bars, risk=extra or None, **costs)
    assert len(free.fills) > len(bt.fills)  # the rule changed something


def test_a_symbol_not_allowed_is_never_traded_in_sweeps_and_backtests() -> None:
    bars = wb.load(["SPY", "QQQ"], start="2015-01-01")
    sweep = wb.sweep("sma_cross", bars, fast=[10], slow=[50], progress=False, risk={"allowed_symbols": ["SPY"]})
    free = wb.sweep("sma_cross", bars, fast=[10], slow=[50], progress=False)
    by_symbol = sweep.to_frame().set_index("symbol")
    assert by_symbol.loc["QQQ", "trades"] == 0 and by_symbol.loc["QQQ", "total_return"] == 0.0
    free_by_symbol = free.to_frame().set_index("symbol")
    assert by_symbol.loc["SPY", "total_return"] == free_by_symbol.loc["SPY", "total_return"]

    single = wb.backtest("sma_cross", bars["QQQ"], risk={"allowed_symbols": ["SPY"]})
    assert single.fills.empty and single.metrics["end_value"] == 10_000.0

    portfolio = wb.backtest("sma_cross", bars, risk={"allowed_symbols": ["SPY"]})
    assert set(portfolio.fills["symbol"]) == {"SPY"}
    denial = next(e for e in portfolio.risk_events if e.rule == "allowed_symbols")
    assert (denial.symbol, denial.decision, denial.details) == ("QQQ", "deny", {"weight": 0.5, "limit": ("SPY",)})


def test_risk_manager_denies_orders_outside_the_session_and_names_the_rule() -> None:
    rules = RiskRules(allowed_symbols=("SPY",), trading_hours="09:30-16:00")
    rm = RiskManager(rules)
    open_ = datetime(2024, 7, 1, 14, 0, tzinfo=UTC)  # 10:00 New York
    after = datetime(2024, 7, 1, 20, 5, tzinfo=UTC)  # 16:05 New York
    assert rm.allows(open_, "SPY", 10, 0)
    assert rm.events == []
    assert not rm.allows(after, "SPY", 10, 0)
    event = rm.events[-1]
    assert (event.decision, event.rule) == ("deny", "trading_hours")
    assert event.details == {"size": 10.0, "minute": 965.0, "open": 570.0, "close": 960.0}
    assert not rm.allows(open_, "QQQ", 5, 0)
    assert (rm.events[-1].rule, rm.events[-1].details) == ("allowed_symbols", {"size": 5.0, "position": 0.0})
    assert rm.allows(open_, "QQQ", -5, 5)  # closing a position in a symbol no longer allowed is fine
    assert not rm.allows(open_, "QQQ", -10, 5)  # ...but not reversing through it


def test_order_manager_rejects_a_denied_order_without_sending_it() -> None:
    clock = FrozenClock(datetime(2024, 7, 1, 21, 0, tzinfo=UTC))  # 17:00 New York: after the close
    broker = SimBroker(clock, cash=10_000)
    broker.quote("SPY", 500.0)
    risk = RiskManager(RiskRules(trading_hours="09:30-16:00"))
    om = OrderManager(broker, clock, risk=risk)
    order = om.submit(Order(symbol="SPY", side=Side.BUY, qty=1, type=OrderType.MARKET, created_at=clock.now()))
    assert order.status is OrderStatus.REJECTED
    assert broker.list_orders() == [] and broker.positions() == {}
    assert [e.kind.value for e in om.events] == ["rejected"]
    assert risk.events[-1].rule == "trading_hours"
    assert om.target("SPY", 0.5, 500.0) is not None and om.orders  # target() goes the same path
    assert all(o.status is OrderStatus.REJECTED for o in om.orders.values())
    clock.set(datetime(2024, 7, 2, 15, 0, tzinfo=UTC))  # 11:00 New York the next day
    assert om.target("SPY", 0.5, 500.0).status is OrderStatus.FILLED


def test_risk_file_reads_session_rules(tmp_path) -> None:
    path = tmp_path / "risk.toml"
    path.write_text('allowed_symbols = ["spy", "QQQ"]\ntrading_hours = "09:30-16:00"\nstop_loss = 0.05\n')
    rules = RiskRules.from_toml(path)
    assert rules.allowed_symbols == ("QQQ", "SPY")
    assert rules.active() == {
        "stop_loss": 0.05,
        "allowed_symbols": ("QQQ", "SPY"),
        "trading_hours": "09:30-16:00",
        "timezone": "America/New_York",
    }
