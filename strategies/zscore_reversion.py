"""Z-score mean reversion, long and short: fade stretched moves back to the moving average."""

import numpy as np
from numba import njit

from workbench import Param, Strategy
from workbench.engine.indicators import rolling_std_nb, sma_nb


@njit(cache=True, nogil=True)
def zscore_reversion_signals_nb(open, high, low, close, volume, window, entry_z, exit_z):
    """-1 above +entry_z, +1 below -entry_z, back to 0 once |z| < exit_z; z = (close - SMA) / rolling std."""
    mean = sma_nb(close, window)
    std = rolling_std_nb(close, window)
    out = np.zeros(close.shape[0])
    side = 0.0
    for i in range(close.shape[0]):
        if np.isnan(mean[i]) or np.isnan(std[i]) or std[i] == 0.0:
            out[i] = side
            continue
        z = (close[i] - mean[i]) / std[i]
        if side == 0.0:
            if z > entry_z:
                side = -1.0
            elif z < -entry_z:
                side = 1.0
        elif abs(z) < exit_z:
            side = 0.0
        out[i] = side
    return out


class ZscoreReversion(Strategy):
    """Short when the close is more than ``entry_z`` rolling standard deviations above its ``window``-bar mean,
    long when as far below; back to flat when the z-score returns inside ``exit_z``.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("zscore_reversion", wb.load("XLK"), window=range(10, 60, 10), entry_z=[1.5, 2.0, 2.5])
    >>> res.best(3)  # doctest: +SKIP
    """

    window = Param(int, 20, min=2, max=1000, window=True, doc="look-back of the mean and deviation, bars")
    entry_z = Param(float, 2.0, min=0.0, max=10.0, doc="z-score that opens a position")
    exit_z = Param(float, 0.5, min=0.0, max=10.0, doc="z-score inside which the position closes")
    constraints = ("exit_z < entry_z",)
    sweep_ranges = {
        "window": range(10, 210, 10),
        "entry_z": [1.0, 1.5, 2.0, 2.5, 3.0],
        "exit_z": [0.0, 0.25, 0.5, 1.0],
    }
    signals = staticmethod(zscore_reversion_signals_nb)
