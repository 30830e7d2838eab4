"""Indicator and signal kernels over 1-D float64 bar arrays; each returns a new array of the same length.

Warm-up bars are NaN. Signal at bar t uses values up to and including bar t only.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def sma_nb(a, window):
    """Simple moving average; NaN until ``window`` non-NaN values fill the window.

    pandas: ``pd.Series(a).rolling(window).mean()``, computed as differences of one running sum (like
    vectorbt's MA, bit for bit) in a single output array: sweeps call it millions of times.
    """
    n = a.shape[0]
    out = np.empty(n, dtype=np.float64)
    total = 0.0
    for i in range(n):
        if np.isnan(a[i]):
            return _sma_with_nan_nb(a, window)
        total = total + a[i]
        out[i] = total
    # out holds the running sum; walk backwards so out[i - window] is still a sum when out[i] needs it.
    for i in range(n - 1, window - 1, -1):
        out[i] = (out[i] - out[i - window]) / window
    if window <= n:
        out[window - 1] = out[window - 1] / window
    out[: min(window - 1, n)] = np.nan
    return out


@njit(cache=True, nogil=True)
def _sma_with_nan_nb(a, window):
    """``sma_nb`` for input with NaN: a window holding a NaN gives NaN."""
    n = a.shape[0]
    out = np.empty(n, dtype=np.float64)
    csum = np.empty(n, dtype=np.float64)
    nans = np.empty(n, dtype=np.int64)
    total = 0.0
    nan_count = 0
    for i in range(n):
        if np.isnan(a[i]):
            nan_count += 1
        else:
            total = total + a[i]
        csum[i] = total
        nans[i] = nan_count
        if i < window:
            count = i + 1 - nan_count
            wsum = total
        else:
            count = window - (nan_count - nans[i - window])
            wsum = total - csum[i - window]
        out[i] = wsum / count if count >= window else np.nan
    return out


@njit(cache=True, nogil=True)
def ema_nb(a, window):
    """Exponential moving average with alpha = 2 / (window + 1), seeded by the first ``window``-bar SMA.

    pandas: ``pd.Series(a).ewm(span=window, adjust=False).mean()`` after an SMA seed; NaN during warm-up.
    """
    n = a.shape[0]
    out = np.full(n, np.nan)
    alpha = 2.0 / (window + 1.0)
    if window > n:
        return out
    seed = 0.0
    for i in range(window):
        seed += a[i]
    value = seed / window
    out[window - 1] = value
    for i in range(window, n):
        value = alpha * a[i] + (1.0 - alpha) * value
        out[i] = value
    return out


@njit(cache=True, nogil=True)
def rolling_std_nb(a, window):
    """Rolling sample standard deviation (ddof=1). pandas: ``pd.Series(a).rolling(window).std()``."""
    n = a.shape[0]
    out = np.full(n, np.nan)
    for i in range(window - 1, n):
        mean = 0.0
        for j in range(i - window + 1, i + 1):
            mean += a[j]
        mean /= window
        ss = 0.0
        for j in range(i - window + 1, i + 1):
            ss += (a[j] - mean) ** 2
        out[i] = np.sqrt(ss / (window - 1)) if window > 1 else np.nan
    return out


@njit(cache=True, nogil=True)
def rolling_max_nb(a, window):
    """Rolling maximum over the last ``window`` bars. pandas: ``pd.Series(a).rolling(window).max()``."""
    n = a.shape[0]
    out = np.full(n, np.nan)
    for i in range(window - 1, n):
        m = a[i]
        for j in range(i - window + 1, i):
            if a[j] > m:
                m = a[j]
        out[i] = m
    return out


@njit(cache=True, nogil=True)
def rolling_min_nb(a, window):
    """Rolling minimum over the last ``window`` bars. pandas: ``pd.Series(a).rolling(window).min()``."""
    n = a.shape[0]
    out = np.full(n, np.nan)
    for i in range(window - 1, n):
        m = a[i]
        for j in range(i - window + 1, i):
            if a[j] < m:
                m = a[j]
        out[i] = m
    return out


@njit(cache=True, nogil=True)
def shift_nb(a, periods):
    """Shift forward by ``periods`` bars, NaN-filling the start. pandas: ``pd.Series(a).shift(periods)``."""
    n = a.shape[0]
    out = np.full(n, np.nan)
    for i in range(periods, n):
        out[i] = a[i - periods]
    return out


@njit(cache=True, nogil=True)
def rsi_nb(close, window):
    """Wilder's RSI in [0, 100]; NaN for the first ``window`` bars.

    pandas: gains/losses of ``close.diff()`` smoothed by ``ewm(alpha=1/window, adjust=False)`` after an SMA seed.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window >= n:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, window + 1):
        d = close[i] - close[i - 1]
        if d > 0:
            gain += d
        else:
            loss -= d
    gain /= window
    loss /= window
    out[window] = 100.0 if loss == 0.0 else 100.0 - 100.0 / (1.0 + gain / loss)
    for i in range(window + 1, n):
        d = close[i] - close[i - 1]
        gain = (gain * (window - 1) + max(d, 0.0)) / window
        loss = (loss * (window - 1) + max(-d, 0.0)) / window
        out[i] = 100.0 if loss == 0.0 else 100.0 - 100.0 / (1.0 + gain / loss)
    return out


@njit(cache=True, nogil=True)
def crossed_above_nb(a, b):
    """True on the bar where ``a`` moves above ``b`` after having been below it (vectorbt's ``crossed_above``).

    A bar with a == b re-arms the cross; a NaN in either input disarms it until ``a`` is below ``b`` again.
    """
    n = a.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    armed = False
    above = False
    for i in range(n):
        if np.isnan(a[i]) or np.isnan(b[i]):
            armed = False
            above = False
        elif a[i] > b[i]:
            out[i] = armed and not above
            above = True
        elif a[i] == b[i]:
            above = False
        else:
            armed = True
            above = False
    return out


@njit(cache=True, nogil=True)
def crossed_below_nb(a, b):
    """True on the bar where ``a`` moves below ``b`` after having been above it (mirror of ``crossed_above_nb``)."""
    return crossed_above_nb(b, a)


@njit(cache=True, nogil=True)
def crossover_exposure_nb(a, b, direction=1.0):
    """``hold_nb(crossed_above_nb(a, b), crossed_below_nb(a, b), direction)`` in one pass and one array."""
    n = a.shape[0]
    out = np.empty(n, dtype=np.float64)
    armed_up = armed_down = above = below = holding = False
    for i in range(n):
        entry = exit_ = False
        if np.isnan(a[i]) or np.isnan(b[i]):
            armed_up = armed_down = above = below = False
        elif a[i] > b[i]:
            entry = armed_up and not above
            above = armed_down = True
            below = False
        elif a[i] == b[i]:
            above = below = False
        else:
            exit_ = armed_down and not below
            below = armed_up = True
            above = False
        if entry != exit_:
            holding = entry
        out[i] = direction if holding else 0.0
    return out


@njit(cache=True, nogil=True)
def hold_nb(entries, exits, direction=1.0):
    """Exposure ``direction`` from an entry bar until (excluding) the next exit bar, else 0.

    Entries while holding and exits while flat are ignored; an entry and an exit on the same bar cancel
    (the state is kept), like ``vbt.Portfolio.from_signals`` with its defaults (``upon_long_conflict="ignore"``).
    """
    n = entries.shape[0]
    out = np.zeros(n, dtype=np.float64)
    holding = False
    for i in range(n):
        if entries[i] != exits[i]:
            holding = entries[i]
        out[i] = direction if holding else 0.0
    return out
