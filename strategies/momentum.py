"""Cross-sectional momentum: hold the symbols with the best recent return, equal weight, rebalanced periodically."""

import numpy as np
from numba import njit

from workbench import Param, UniverseStrategy


@njit(cache=True, nogil=True)
def momentum_weights_nb(open, high, low, close, volume, lookback, top, every):
    """Every ``every`` bars from bar ``lookback`` on: 1 / k for the k = min(top, priced) symbols with the highest
    ``lookback``-bar return ``close[t] / close[t - lookback] - 1``, 0 for the other priced ones; NaN (no order)
    elsewhere and for a symbol without both closes. pandas: ``close.pct_change(lookback).rank(axis=1)``."""
    n, m = close.shape
    out = np.full((n, m), np.nan)
    ranked = np.empty(m)
    for t in range(lookback, n, every):
        priced = 0
        for j in range(m):
            then, now = close[t - lookback, j], close[t, j]
            if not (np.isnan(then) or np.isnan(now)) and then > 0.0:
                ranked[j] = now / then - 1.0
                out[t, j] = 0.0
                priced += 1
            else:
                ranked[j] = -np.inf
        k = min(top, priced)
        for _ in range(k):  # the k best, one pass each (ties: the first symbol)
            best = -1
            for j in range(m):
                if ranked[j] > -np.inf and (best < 0 or ranked[j] > ranked[best]):
                    best = j
            out[t, best] = 1.0 / k
            ranked[best] = -np.inf
    return out


class Momentum(UniverseStrategy):
    """Hold the ``top`` symbols with the best ``lookback``-bar return, equal weight, rebalanced every ``every``
    bars (sold to zero when they drop out of the top); symbols without a price then are left alone.

    Examples
    --------
    >>> import workbench as wb
    >>> bars = wb.load(["SPY", "QQQ", "IWM", "DIA", "XLK"], start="2010-01-01")
    >>> res = wb.sweep("momentum", bars, lookback=range(20, 260, 20), top=[1, 2, 3], every=[5, 21])
    >>> res.best(5)  # doctest: +SKIP
    """

    lookback = Param(int, 60, min=2, max=5000, window=True, doc="bars the return is measured over")
    top = Param(int, 2, min=1, max=1000, doc="symbols held")
    every = Param(int, 21, min=1, max=5000, doc="bars between rebalances")
    sweep_ranges = {"lookback": range(20, 260, 20), "top": [1, 2, 3], "every": [5, 21]}
    weights = staticmethod(momentum_weights_nb)
