"""Risk rules as scalar kernels: the sweep applies them bar by bar, the RiskManager event by event.

Rules are configured by a float64 array indexed by the slots below; NaN switches a rule off. Thresholds
are fractions: ``stop_loss=0.05`` exits a long once the close is 5 % below the entry fill price.
"""

from __future__ import annotations

import numpy as np
from numba import njit

RISK_FIELDS = ("max_exposure", "stop_loss", "take_profit", "trailing_stop", "max_drawdown")
N_RISK = len(RISK_FIELDS)
MAX_EXPOSURE, STOP_LOSS, TAKE_PROFIT, TRAILING_STOP, MAX_DRAWDOWN = range(N_RISK)
# What ended a position (0 = nothing); MAX_DRAWDOWN also halts trading for the rest of the run.
EXIT_REASONS = ("", "stop_loss", "take_profit", "trailing_stop", "max_drawdown")
NO_EXIT, EXIT_STOP_LOSS, EXIT_TAKE_PROFIT, EXIT_TRAILING_STOP, EXIT_MAX_DRAWDOWN = range(5)


def risk_array(
    max_exposure: float | None = None,
    stop_loss: float | None = None,
    take_profit: float | None = None,
    trailing_stop: float | None = None,
    max_drawdown: float | None = None,
) -> np.ndarray:
    """The rule array the kernels take; each threshold a fraction in (0, 1] (``max_exposure`` in (0, 1]).

    Examples
    --------
    >>> risk_array(stop_loss=0.05)
    array([ nan, 0.05,  nan,  nan,  nan])
    """
    values = dict(zip(RISK_FIELDS, (max_exposure, stop_loss, take_profit, trailing_stop, max_drawdown), strict=True))
    out = np.full(N_RISK, np.nan)
    for i, (name, value) in enumerate(values.items()):
        if value is None:
            continue
        if isinstance(value, bool) or not np.isfinite(value) or not 0.0 < value <= (10.0 if i == TAKE_PROFIT else 1.0):
            limit = "10" if i == TAKE_PROFIT else "1"
            raise ValueError(f"{name}={value!r}: must be a fraction in (0, {limit}] (or None to switch it off)")
        out[i] = float(value)
    return out


@njit(cache=True, nogil=True)
def clamp_exposure_nb(target, max_exposure):
    """``target`` limited to [-max_exposure, max_exposure] (the position-size rule's resize)."""
    if np.isnan(max_exposure):
        return target
    return min(max(target, -max_exposure), max_exposure)


@njit(cache=True, nogil=True)
def exit_reason_nb(position, entry_price, extreme, price, equity, peak_equity, risk):
    """Which rule (``EXIT_*``) closes ``position`` at ``price``, checked in the order of ``RISK_FIELDS``.

    ``extreme`` is the best close since entry (highest for a long, lowest for a short); ``peak_equity`` the
    highest equity so far (NaN before the first bar).
    """
    if position != 0.0:
        direction = 1.0 if position > 0 else -1.0
        move = direction * (price / entry_price - 1.0)
        if move <= -risk[STOP_LOSS]:
            return EXIT_STOP_LOSS
        if move >= risk[TAKE_PROFIT]:
            return EXIT_TAKE_PROFIT
        if direction * (price / extreme - 1.0) <= -risk[TRAILING_STOP]:
            return EXIT_TRAILING_STOP
    if peak_equity > 0 and equity / peak_equity - 1.0 <= -risk[MAX_DRAWDOWN]:
        return EXIT_MAX_DRAWDOWN
    return NO_EXIT


@njit(cache=True, nogil=True)
def update_extreme_nb(position, extreme, price):
    """The best price since entry after ``price``: the highest for a long, the lowest for a short."""
    if position > 0:
        return max(extreme, price)
    if position < 0:
        return min(extreme, price)
    return np.nan
