"""Donchian channel breakout: ride new highs, leave on new lows."""

from numba import njit

from workbench import Param, Strategy
from workbench.engine.indicators import hold_nb, rolling_max_nb, rolling_min_nb, shift_nb


@njit(cache=True, nogil=True)
def donchian_breakout_signals_nb(open, high, low, close, volume, entry, exit):
    """1 from a close above the prior ``entry``-bar high until a close below the prior ``exit``-bar low."""
    upper = shift_nb(rolling_max_nb(high, entry), 1)
    lower = shift_nb(rolling_min_nb(low, exit), 1)
    return hold_nb(close > upper, close < lower, 1.0)


class DonchianBreakout(Strategy):
    """Long on a close above the highest high of the prior ``entry`` bars; flat on a close below the lowest
    low of the prior ``exit`` bars (the turtle traders' channel rule, long side).

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("donchian_breakout", wb.load("SPY"), entry=range(20, 120, 20), exit=range(10, 60, 10))
    >>> res.best(3)  # doctest: +SKIP
    """

    entry = Param(int, 55, min=1, max=1000, window=True, doc="breakout look-back in bars")
    exit = Param(int, 20, min=1, max=1000, window=True, doc="exit look-back in bars")
    sweep_ranges = {"entry": range(10, 260, 10), "exit": range(5, 130, 5)}
    signals = staticmethod(donchian_breakout_signals_nb)
