"""The bar-by-bar simulation against hand-computed fills, and its metrics against quantstats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import quantstats as qs

import workbench as wb
from workbench.engine.inputs import check_costs
from workbench.engine.single import simulate, simulate_exposure

CASH = 10_000.0


def frame(open_, close) -> pd.DataFrame:
    open_, close = np.asarray(open_, float), np.asarray(close, float)
    index = pd.date_range("2024-01-01", periods=len(close), freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + 1,
            "low": np.minimum(open_, close) - 1,
            "close": close,
            "volume": 100.0,
        },
        index=index,
    )


def run(exposure, bars, fees=0.0, slippage=0.0, fill="close"):
    return simulate_exposure(np.asarray(exposure, float), bars, check_costs(CASH, fees, slippage, fill), 252.0)


def test_all_in_long_at_close_with_fees_by_hand() -> None:
    bars = frame(open_=[10, 10, 12, 12, 12, 13], close=[10, 11, 12, 11, 13, 14])
    f = 0.01
    r = run([0, 1, 1, 0, 1, 1], bars, fees=f)
    shares = CASH / (1 + f) / 11
    cash_after_exit = shares * 11 * (1 - f)
    shares2 = cash_after_exit / (1 + f) / 13
    expected = [CASH, shares * 11, shares * 12, cash_after_exit, shares2 * 13, shares2 * 14]
    np.testing.assert_allclose(r.equity.to_numpy(), expected, rtol=1e-12)
    assert list(r.trades["entry_bar"]) == [1, 4] and list(r.trades["exit_bar"]) == [3, -1]
    assert r.trades["pnl"].iloc[0] == pytest.approx(cash_after_exit - CASH, rel=1e-12)
    assert r.metrics["trades"] == 2
    assert r.metrics["total_return"] == pytest.approx(shares2 * 14 / CASH - 1, rel=1e-12)


def test_next_open_fills_the_following_bar() -> None:
    bars = frame(open_=[10, 10.5, 12.5, 11.5, 12.5, 13.5], close=[10, 11, 12, 11, 13, 14])
    r = run([1, 0, 0, 0, 0, 0], bars, fill="next_open")
    shares = CASH / 10.5  # the signal of bar 0 fills at bar 1's open
    assert r.position.iloc[0] == 0.0 and r.position.iloc[1] == pytest.approx(shares)
    # exit signalled at bar 1, filled at bar 2's open
    assert r.equity.iloc[2] == pytest.approx(shares * 12.5)
    assert r.position.iloc[2] == 0.0


def test_signal_on_last_bar_never_fills_with_next_open() -> None:
    bars = frame(open_=[10, 10, 10], close=[10, 10, 10])
    r = run([0, 0, 1], bars, fill="next_open")
    assert r.metrics["trades"] == 0 and r.equity.iloc[-1] == CASH


def test_short_and_reversal_by_hand() -> None:
    bars = frame(open_=[10] * 4, close=[10, 8, 9, 12])
    f = 0.001
    r = run([-1, -1, 1, 1], bars, fees=f)
    short = CASH / (1 + f) / 10  # value = -E / (1 + f) from flat
    cash = CASH + short * 10 * (1 - f)
    assert r.position.iloc[0] == pytest.approx(-short)
    assert r.equity.iloc[1] == pytest.approx(cash - short * 8)
    # reversal at 9: the target value V solves V = E_after_fees, buying |V0| + V units
    equity = cash - short * 9
    value = (equity + f * (-short * 9)) / (1 + f)
    assert r.position.iloc[2] == pytest.approx(value / 9, rel=1e-12)
    assert r.metrics["trades"] == 2
    assert r.trades["direction"].tolist() == [-1.0, 1.0]


def test_slippage_moves_fill_prices_against_the_trade() -> None:
    bars = frame(open_=[10] * 3, close=[10, 10, 10])
    r = run([1, 0, 0], bars, slippage=0.01)
    assert r.trades["entry_price"].iloc[0] == pytest.approx(10.1)
    assert r.trades["exit_price"].iloc[0] == pytest.approx(9.9)
    assert r.equity.iloc[-1] == pytest.approx(CASH / 10.1 * 9.9)


def test_nan_keeps_the_previous_target_and_values_are_clipped() -> None:
    bars = frame(open_=[10] * 4, close=[10, 11, 12, 13])
    r = run([1, np.nan, np.nan, 0], bars)
    assert (r.position.iloc[:3] > 0).all() and r.position.iloc[3] == 0


def test_dust_orders_below_min_size_are_rejected() -> None:
    bars = frame(open_=[1e13] * 3, close=[1e13, 1e13, 1e13])  # 10,000 cash buys 1e-9 units: below 1e-8
    r = run([1, 1, 1], bars)
    assert r.metrics["trades"] == 0 and r.equity.iloc[-1] == CASH


@pytest.fixture(scope="module")
def spy_run():
    bars = wb.load("SPY", start="2005-01-01")
    return simulate(wb.strategy("sma_cross")(fast=20, slow=100), bars, check_costs(CASH, 0.001, 0.0, "close"), 252.0)


def test_metrics_match_quantstats(spy_run) -> None:
    returns = spy_run.returns.tz_localize(None)
    m = spy_run.metrics
    assert m["sharpe"] == pytest.approx(qs.stats.sharpe(returns, periods=252), rel=1e-9)
    assert m["volatility"] == pytest.approx(qs.stats.volatility(returns, periods=252), rel=1e-9)
    assert m["sortino"] == pytest.approx(qs.stats.sortino(returns, periods=252), rel=1e-9)
    assert m["max_drawdown"] == pytest.approx(qs.stats.max_drawdown(returns), rel=1e-9)


def test_metrics_by_definition(spy_run) -> None:
    m, eq, n = spy_run.metrics, spy_run.equity, len(spy_run.equity)
    assert m["total_return"] == pytest.approx(eq.iloc[-1] / CASH - 1, rel=1e-12)
    assert m["cagr"] == pytest.approx((eq.iloc[-1] / CASH) ** (252 / n) - 1, rel=1e-12)
    assert m["calmar"] == pytest.approx(m["cagr"] / abs(m["max_drawdown"]), rel=1e-12)
    assert m["exposure"] == pytest.approx((spy_run.position != 0).mean(), rel=1e-12)
    pnl = spy_run.trades["pnl"]
    assert m["trades"] == len(pnl)
    assert m["win_rate"] == pytest.approx((pnl > 0).mean(), rel=1e-12)
    assert m["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum(), rel=1e-9)
    # trade P&L adds up to the total gain
    assert pnl.sum() == pytest.approx(eq.iloc[-1] - CASH, rel=1e-9)


def test_periods_per_year_inference() -> None:
    from workbench.engine.inputs import periods_per_year

    daily = pd.bdate_range("2020-01-01", periods=500, tz="UTC")
    minutes = pd.date_range("2020-01-01", periods=10_000, freq="min", tz="UTC")
    weekly = pd.date_range("2020-01-01", periods=100, freq="W", tz="UTC")
    assert periods_per_year(daily) == 252.0
    assert periods_per_year(weekly) == 52.0
    assert periods_per_year(minutes) == pytest.approx(365.25 * 24 * 60)
