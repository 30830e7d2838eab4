"""SMA crossover: long from a golden cross to the next death cross."""

from numba import njit

from workbench import Param, Strategy
from workbench.engine.indicators import crossover_exposure_nb, sma_nb


@njit(cache=True, nogil=True)
def sma_cross_signals_nb(open, high, low, close, volume, fast, slow):
    """1 from the bar SMA(fast) crosses above SMA(slow) until the bar it crosses below, else 0."""
    return crossover_exposure_nb(sma_nb(close, fast), sma_nb(close, slow), 1.0)


class SmaCross(Strategy):
    """Long from the bar where SMA(fast) crosses above SMA(slow) until the bar where it crosses below.

    Crossings follow vectorbt's ``crossed_above``: no entry merely because fast > slow when both averages
    first exist; the fast average has to be below (or touch) the slow one and then rise above it.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("sma_cross", wb.load("SPY"), fast=range(5, 30, 5), slow=range(50, 200, 50))
    >>> res.best(3)  # doctest: +SKIP
    """

    fast = Param(int, 10, min=1, max=1000, window=True, doc="fast SMA length in bars")
    slow = Param(int, 50, min=2, max=5000, window=True, doc="slow SMA length in bars")
    constraints = ("fast < slow",)
    sweep_ranges = {"fast": range(5, 60), "slow": range(20, 250, 5)}
    signals = staticmethod(sma_cross_signals_nb)
