"""Inverse-volatility risk parity: each symbol weighted by the inverse of its recent volatility."""

import numpy as np
from numba import njit

from workbench import Param, UniverseStrategy


@njit(cache=True, nogil=True)
def risk_parity_weights_nb(open, high, low, close, volume, window, every):
    """Every ``every`` bars from bar ``window`` on: each priced symbol's weight proportional to 1 / (the sample
    standard deviation of its last ``window`` close-to-close returns), the weights summing to 1; NaN elsewhere and
    for a symbol without ``window + 1`` closes. pandas: ``1 / close.pct_change().rolling(window).std()``,
    normalized across symbols."""
    n, m = close.shape
    out = np.full((n, m), np.nan)
    inverse = np.empty(m)
    for t in range(window, n, every):
        total = 0.0
        for j in range(m):
            inverse[j] = np.nan
            mean = 0.0
            ok = True
            for i in range(t - window + 1, t + 1):
                if np.isnan(close[i, j]) or np.isnan(close[i - 1, j]) or close[i - 1, j] <= 0.0:
                    ok = False
                    break
                mean += close[i, j] / close[i - 1, j] - 1.0
            if not ok or window < 2:
                continue
            mean /= window
            ss = 0.0
            for i in range(t - window + 1, t + 1):
                r = close[i, j] / close[i - 1, j] - 1.0
                ss += (r - mean) * (r - mean)
            std = np.sqrt(ss / (window - 1))
            if std > 0.0:
                inverse[j] = 1.0 / std
                total += inverse[j]
        if total > 0.0:
            for j in range(m):
                if not np.isnan(inverse[j]):
                    out[t, j] = inverse[j] / total
    return out


class RiskParity(UniverseStrategy):
    """Weight each symbol by the inverse of its ``window``-bar return volatility, fully invested, rebalanced every
    ``every`` bars: calm symbols get more capital, so each contributes a similar risk.

    Examples
    --------
    >>> import workbench as wb
    >>> bars = wb.load(["SPY", "QQQ", "IWM", "DIA", "XLK"], start="2010-01-01")
    >>> wb.backtest(wb.strategy("risk_parity")(window=60, every=21), bars, fees=0.001)  # doctest: +SKIP
    """

    window = Param(int, 60, min=2, max=5000, window=True, doc="bars of returns the volatility is measured over")
    every = Param(int, 21, min=1, max=5000, doc="bars between rebalances")
    sweep_ranges = {"window": range(20, 260, 20), "every": [5, 21, 63]}
    weights = staticmethod(risk_parity_weights_nb)
