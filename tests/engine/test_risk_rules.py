"""Risk rules in the simulation kernel, against hand-computed paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.engine.inputs import check_costs
from workbench.engine.risk_rules import EXIT_REASONS, exit_reason_nb, risk_array
from workbench.engine.single import simulate_exposure

CASH = 10_000.0


def bars(close, open_=None) -> pd.DataFrame:
    close = np.asarray(close, float)
    open_ = close if open_ is None else np.asarray(open_, float)
    index = pd.date_range("2024-01-01", periods=len(close), freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + 1,
            "low": np.minimum(open_, close) - 1,
            "close": close,
            "volume": 1.0,
        },
        index=index,
    )


def run(exposure, frame, fill="close", **risk):
    return simulate_exposure(np.asarray(exposure, float), frame, check_costs(CASH, 0.0, 0.0, fill, risk), 252.0)


def test_stop_loss_exits_at_the_close_that_breaches_it_and_waits_for_a_new_signal() -> None:
    frame = bars([100, 100, 97, 94, 96, 99, 101])
    r = run([0, 1, 1, 1, 1, 1, 1], frame, stop_loss=0.05)
    # entry at 100 (bar 1); 94 <= 95 on bar 3 -> out at 94; the target stays 1 so no re-entry
    assert list(r.position.to_numpy() > 0) == [False, True, True, False, False, False, False]
    assert r.equity.iloc[-1] == pytest.approx(CASH / 100 * 94)
    assert r.trades["exit_bar"].tolist() == [3]


def test_stop_loss_with_next_open_fills_the_exit_at_the_following_open() -> None:
    frame = bars(close=[100, 100, 97, 94, 96, 99], open_=[100, 100, 99, 96, 92, 97])
    r = run([1, 1, 1, 1, 1, 1], frame, fill="next_open", stop_loss=0.05)
    # signal bar 0 -> buy at open[1]=100; close[3]=94 breaches -> sell at open[4]=92
    assert r.trades["entry_price"].tolist() == [100.0] and r.trades["exit_price"].tolist() == [92.0]
    assert r.equity.iloc[-1] == pytest.approx(CASH / 100 * 92)


def test_take_profit_and_trailing_stop() -> None:
    frame = bars([100, 100, 104, 111, 108, 120])
    tp = run([0, 1, 1, 1, 1, 1], frame, take_profit=0.10)
    assert tp.trades["exit_price"].tolist() == [111.0]
    trail = run([0, 1, 1, 1, 1, 1], frame, trailing_stop=0.02)
    # best close 111 on bar 3; 108 <= 111 * 0.98 = 108.78 on bar 4
    assert trail.trades["exit_bar"].tolist() == [4] and trail.trades["exit_price"].tolist() == [108.0]


def test_short_stop_loss_is_above_the_entry() -> None:
    frame = bars([100, 100, 103, 106, 90])
    r = run([0, -1, -1, -1, -1], frame, stop_loss=0.05)
    assert r.trades["exit_price"].tolist() == [106.0] and r.trades["direction"].tolist() == [-1.0]


def test_max_drawdown_flattens_and_halts_for_good() -> None:
    frame = bars([100, 100, 90, 85, 80, 100, 50, 120])
    r = run([0, 1, 1, 1, 1, 0, 1, 1], frame, max_drawdown=0.12)
    # equity peaks at 10,000; 85 / 100 - 1 = -15 % <= -12 % on bar 3 -> out at 85 and no later entry
    assert r.position.iloc[3:].eq(0).all()
    assert r.equity.iloc[-1] == pytest.approx(CASH * 0.85)
    assert r.metrics["trades"] == 1


def test_max_exposure_resizes_the_target() -> None:
    frame = bars([100, 100, 110])
    r = run([0, 1, 1], frame, max_exposure=0.5)
    assert r.position.iloc[1] == pytest.approx(CASH * 0.5 / 100)
    assert r.equity.iloc[-1] == pytest.approx(CASH * 0.5 + CASH * 0.5 / 100 * 110)


def test_rules_off_change_nothing() -> None:
    spy = wb.load("SPY", start="2015-01-01")
    plain = wb.sweep("sma_cross", spy, fast=[10, 20], slow=[50, 100], progress=False, fees=0.0).metrics
    off = wb.sweep(
        "sma_cross", spy, fast=[10, 20], slow=[50, 100], risk={"stop_loss": None}, progress=False, fees=0.0
    ).metrics
    pd.testing.assert_frame_equal(plain, off)


def test_sweep_with_a_stop_loss_matches_a_single_run_and_trades_more() -> None:
    spy = wb.load("SPY", start="2005-01-01")
    res = wb.sweep(
        "sma_cross", spy, fast=[10], slow=[100], fill="close", risk={"stop_loss": 0.03}, progress=False, fees=0.0
    )
    plain = wb.sweep("sma_cross", spy, fast=[10], slow=[100], fill="close", progress=False, fees=0.0)
    assert res.metrics["trades"].iloc[0] >= plain.metrics["trades"].iloc[0]
    single = run(wb.strategy("sma_cross")(fast=10, slow=100).exposure(spy), spy, stop_loss=0.03)
    np.testing.assert_allclose(res.metrics.iloc[0].to_numpy(), single.metrics.to_numpy(), rtol=1e-12, equal_nan=True)


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown risk rule stop_los; rules: max_exposure, stop_loss"):
        check_costs(CASH, 0.0, 0.0, "close", {"stop_los": 0.1})
    with pytest.raises(ValueError, match=r"stop_loss=1.5: must be a fraction in \(0, 1\]"):
        risk_array(stop_loss=1.5)
    with pytest.raises(ValueError, match=r"max_drawdown=-0.1"):
        risk_array(max_drawdown=-0.1)


def test_exit_reason_kernel_order_and_names() -> None:
    rules = risk_array(stop_loss=0.05, take_profit=0.1, trailing_stop=0.03, max_drawdown=0.2)
    assert EXIT_REASONS[exit_reason_nb(1.0, 100.0, 100.0, 94.0, 1e4, 1e4, np.nan, rules)] == "stop_loss"
    assert EXIT_REASONS[exit_reason_nb(1.0, 100.0, 111.0, 111.0, 1e4, 1e4, np.nan, rules)] == "take_profit"
    assert EXIT_REASONS[exit_reason_nb(1.0, 100.0, 108.0, 104.0, 1e4, 1e4, np.nan, rules)] == "trailing_stop"
    assert EXIT_REASONS[exit_reason_nb(0.0, 100.0, np.nan, 100.0, 7e3, 1e4, np.nan, rules)] == "max_drawdown"
    assert exit_reason_nb(1.0, 100.0, 101.0, 100.0, 1e4, 1e4, np.nan, rules) == 0
    daily = risk_array(daily_loss=0.02)
    assert EXIT_REASONS[exit_reason_nb(1.0, 100.0, 101.0, 100.0, 9_790.0, 1e4, 1e4, daily)] == "daily_loss"
    assert exit_reason_nb(1.0, 100.0, 101.0, 100.0, 9_810.0, 1e4, 1e4, daily) == 0


def intraday(closes_by_day: list[list[float]]) -> pd.DataFrame:
    """Minute bars over several days: one list of closes per day, opens equal to closes."""
    stamps, closes = [], []
    for d, day in enumerate(closes_by_day):
        base = pd.Timestamp("2024-03-04 14:30", tz="UTC") + pd.Timedelta(days=d)
        stamps += [base + pd.Timedelta(minutes=i) for i in range(len(day))]
        closes += day
    frame = bars(closes)
    frame.index = pd.DatetimeIndex(stamps, name="timestamp")
    return frame


def test_daily_loss_flattens_and_pauses_until_the_next_day() -> None:
    frame = intraday([[100, 100, 99, 97, 99, 101], [101, 102, 103]])
    # long from bar 1; day-start equity is the starting cash; 97 is 3 % down -> out at 97, no re-entry that day
    r = run([0, 1, 1, 1, 0, 1, 1, 1, 1], frame, daily_loss=0.025)
    assert r.trades["exit_bar"].tolist()[0] == 3 and r.trades["exit_price"].tolist()[0] == 97.0
    assert r.position.iloc[4:6].eq(0).all()  # bar 5's new signal is ignored for the rest of day 1
    assert r.position.iloc[6] == 0  # day 2 trades again only when the target changes...
    r2 = run([0, 1, 1, 1, 0, 1, 0, 1, 1], frame, daily_loss=0.025)
    assert r2.position.iloc[7] > 0 and r2.trades["entry_bar"].tolist()[-1] == 7  # ...as it does here


def test_max_orders_per_day_denies_openings_but_never_exits() -> None:
    frame = intraday([[100, 101, 102, 103, 104, 105], [106, 107]])
    exposure = [1, 0, 1, 0, 1, 0, 1, 0]
    r = run(exposure, frame, max_orders_per_day=2)
    # day 1: buy (1), sell (2), the third order (buy at bar 2) is denied; the flat target at 3 has nothing to do,
    # bar 4's buy is denied again; day 2: bar 6 buys, bar 7 sells
    assert r.trades["entry_bar"].tolist() == [0, 6] and r.trades["exit_bar"].tolist() == [1, 7]
    always_exit = run([1, 1, 1, 0], intraday([[100, 99, 98, 97]]), max_orders_per_day=1)
    assert always_exit.trades["exit_bar"].tolist() == [3]


def test_daily_rules_are_validated() -> None:
    with pytest.raises(ValueError, match=r"max_orders_per_day=2.5: must be a whole number of orders"):
        risk_array(max_orders_per_day=2.5)
    with pytest.raises(ValueError, match=r"daily_loss=2: must be a fraction in \(0, 1\]"):
        risk_array(daily_loss=2)
