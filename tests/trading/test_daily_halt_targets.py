"""A target given while a daily-loss halt lasts, hand-computed: the sweep's ``run_nb``, the N-symbol core in
``wb.backtest`` (precomputed rows, quiet bars compiled) and a paper ``TradingSession`` fed the bars one by one (rows
made as bars arrive) hold the latest one for the next day and trade it there unless a rule stopped a position out of
that very target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numba import njit

import workbench as wb
from workbench.clock import SimClock
from workbench.data.feeds import ReplayFeed
from workbench.engine.inputs import check_costs
from workbench.engine.single import simulate
from workbench.strategies.base import Strategy
from workbench.trading.session import TradingSession


@njit(cache=True, nogil=True)
def _volume_nb(open, high, low, close, volume, lag):
    """The exposure is written in the volume column (``lag`` unused): a scripted strategy."""
    return volume.copy()


class Scripted(Strategy):
    """Holds what the volume column says."""

    lag = wb.Param(int, 1, min=1)
    signals = staticmethod(_volume_nb)


def _bars(prices: list[float], exposure: list[float]) -> pd.DataFrame:
    """Minute bars over two UTC days (four, then the rest), open = close = the price, volume = the exposure."""
    day1 = pd.date_range("2024-03-04 15:00", periods=4, freq="min", tz="UTC")
    day2 = pd.date_range("2024-03-05 15:00", periods=len(prices) - 4, freq="min", tz="UTC")
    index = day1.append(day2).rename("timestamp")
    p = np.array(prices)
    frame = pd.DataFrame({"open": p, "high": p, "low": p, "close": p, "volume": np.array(exposure)}, index=index)
    return wb.validate_bars(frame, symbol="X")


def _three(bars: pd.DataFrame, fill: str) -> list[pd.Series]:
    """Each path's position per bar: the sweep's kernel, the backtest, a paper session fed the bars."""
    rules = {"daily_loss": 0.05}
    kernel = simulate(Scripted(), bars, check_costs(10_000.0, 0.0, 0.0, fill, rules), 98_000.0).position
    core = wb.backtest(Scripted(), bars, fees=0.0, slippage=0.0, fill=fill, risk=rules, periods_per_year=98_000.0)
    clock = SimClock(bars.index[0].to_pydatetime())
    session = TradingSession.paper(Scripted(), "X", cash=10_000.0, fill=fill, risk=rules, clock=clock)
    session.run(ReplayFeed({"X": bars}))
    fills = session.om.fills
    signed = pd.Series([f.qty * f.side.sign for f in fills], index=pd.DatetimeIndex([f.timestamp for f in fills]))
    driver = signed.groupby(level=0).sum().reindex(bars.index, fill_value=0.0).cumsum()
    return [kernel, core.position, driver]


def test_a_target_dropped_by_the_halt_while_flat_is_traded_the_next_day() -> None:
    """next-open fills: bought at 100 (bar 1), sold at 90 (bar 2): the day is down 10 %, the halt drops the buy
    decided at bar 2; the strategy says 0 during the halt, 1 again on day two: bought at bar 5's open (92)."""
    bars = _bars([100, 100, 90, 90, 91, 92, 93], [1, 0, 1, 0, 1, 1, 1])
    for position in _three(bars, "next_open"):
        held = position.to_numpy()
        assert (held[:5] > 0).tolist() == [False, True, False, False, False]
        assert held[5] == pytest.approx(10_000.0 * 0.9 / 92.0) and held[6] == held[5]


def test_a_position_the_halt_closed_is_not_reentered_at_the_same_target() -> None:
    """close fills: long from 100, the close at 90 breaks the daily loss and closes it; the strategy still says 1
    the next day (it said 0 and 1 again meanwhile): no re-entry until it gives another target."""
    bars = _bars([100, 100, 90, 90, 91, 92, 93], [1, 1, 1, 0, 1, 1, 0])
    for position in _three(bars, "close"):
        assert (position.to_numpy() > 0).tolist() == [True, True, False, False, False, False, False]


def test_the_latest_target_of_the_halted_day_is_traded_at_the_next_days_first_bar() -> None:
    """close fills: flat at the halt (sold at 90 by the strategy), 1 given during the halt, nothing new on day two:
    the held 1 is bought at day two's first close (91)."""
    bars = _bars([100, 90, 90, 90, 91, 92], [1, 0, 0, 1, 1, 1])
    for position in _three(bars, "close"):
        held = position.to_numpy()
        assert (held[:4] > 0).tolist() == [True, False, False, False]
        assert held[4] == pytest.approx(10_000.0 * 0.9 / 91.0) and held[5] == held[4]
