"""A long/short pair: trade the spread of two symbols' log prices back to its mean."""

import numpy as np
from numba import njit

from workbench import Param, UniverseStrategy


@njit(cache=True, nogil=True)
def pair_zscore_weights_nb(open, high, low, close, volume, window, entry_z, exit_z):
    """On two symbols A and B, z = (s - mean) / std of the spread s = log(A / B) over ``window`` bars: from flat,
    z > ``entry_z`` shorts A and buys B (-0.5, +0.5), z < -``entry_z`` the opposite; back to flat (0, 0) once
    |z| < ``exit_z``. Weights only where the position changes (NaN elsewhere, and while either price is missing).
    pandas: ``s = np.log(a / b); z = (s - s.rolling(window).mean()) / s.rolling(window).std()``."""
    n, m = close.shape
    if m != 2:
        raise ValueError("a pair trades exactly two symbols")
    out = np.full((n, 2), np.nan)
    spread = np.full(n, np.nan)
    for t in range(n):
        if close[t, 0] > 0.0 and close[t, 1] > 0.0:
            spread[t] = np.log(close[t, 0] / close[t, 1])
    side = 0.0
    for t in range(window - 1, n):
        mean = 0.0
        ok = True
        for i in range(t - window + 1, t + 1):
            if np.isnan(spread[i]):
                ok = False
                break
            mean += spread[i]
        if not ok:
            continue
        mean /= window
        ss = 0.0
        for i in range(t - window + 1, t + 1):
            ss += (spread[i] - mean) * (spread[i] - mean)
        std = np.sqrt(ss / (window - 1))
        if std == 0.0:
            continue
        z = (spread[t] - mean) / std
        new = side
        if side == 0.0:
            if z > entry_z:
                new = -1.0
            elif z < -entry_z:
                new = 1.0
        elif abs(z) < exit_z:
            new = 0.0
        if new != side:
            side = new
            out[t, 0] = 0.5 * side
            out[t, 1] = -0.5 * side
    return out


class PairZscore(UniverseStrategy):
    """Trade two symbols' spread (the log of their price ratio) back to its ``window``-bar mean: short the rich leg
    and buy the cheap one, half the equity each, when the spread's z-score passes ``entry_z``; flat again inside
    ``exit_z``. A universe of exactly two symbols.

    Examples
    --------
    >>> import workbench as wb
    >>> bars = wb.load(["XOM", "CVX"], start="2010-01-01")
    >>> res = wb.sweep("pair_zscore", bars, window=range(20, 120, 20), entry_z=[1.5, 2.0, 2.5])  # doctest: +SKIP
    """

    window = Param(int, 60, min=2, max=5000, window=True, doc="bars of the spread's mean and deviation")
    entry_z = Param(float, 2.0, min=0.0, max=10.0, doc="z-score that opens the pair")
    exit_z = Param(float, 0.5, min=0.0, max=10.0, doc="z-score that closes it")
    constraints = ("exit_z < entry_z",)
    sweep_ranges = {"window": range(20, 140, 20), "entry_z": [1.5, 2.0, 2.5], "exit_z": [0.0, 0.5]}
    weights = staticmethod(pair_zscore_weights_nb)
