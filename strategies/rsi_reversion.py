"""RSI mean reversion: buy oversold dips, sell when the bounce is overbought."""

import numpy as np
from numba import njit

from workbench import Param, Strategy
from workbench.engine.indicators import crossed_above_nb, crossed_below_nb, hold_nb, rsi_nb


@njit(cache=True, nogil=True)
def rsi_reversion_signals_nb(open, high, low, close, volume, window, lower, upper):
    """1 from the bar RSI(window) crosses below ``lower`` until the bar it crosses above ``upper``, else 0."""
    rsi = rsi_nb(close, window)
    entries = crossed_below_nb(rsi, np.full(close.shape[0], lower))
    exits = crossed_above_nb(rsi, np.full(close.shape[0], upper))
    return hold_nb(entries, exits, 1.0)


class RsiReversion(Strategy):
    """Long when Wilder's RSI(window) crosses below ``lower``; flat when it crosses above ``upper``.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("rsi_reversion", wb.load("QQQ"), window=range(5, 30, 5), lower=range(20, 40, 5))
    >>> res.best(3)  # doctest: +SKIP
    """

    window = Param(int, 14, min=2, max=500, window=True, doc="RSI length in bars")
    lower = Param(float, 30.0, min=0.0, max=100.0, doc="oversold level that triggers a buy")
    upper = Param(float, 70.0, min=0.0, max=100.0, doc="overbought level that triggers the exit")
    constraints = ("lower < upper",)
    sweep_ranges = {"window": range(5, 30), "lower": range(10, 45, 5), "upper": range(55, 95, 5)}
    signals = staticmethod(rsi_reversion_signals_nb)
