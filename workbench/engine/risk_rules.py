"""Risk rules as scalar kernels: the sweep applies them bar by bar, the RiskManager event by event.

Rules are configured by a float64 array indexed by the slots below; NaN switches a rule off. Thresholds
are fractions: ``stop_loss=0.05`` exits a long once the close is 5 % below the entry fill price; the size
caps are amounts: ``max_shares`` units held, ``max_order_value`` currency per order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
from numba import njit

RISK_FIELDS = (
    "max_exposure",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_drawdown",
    "max_shares",
    "max_order_value",
    "daily_loss",
    "max_orders_per_day",
    "max_gross_exposure",
    "max_net_exposure",
)
N_RISK = len(RISK_FIELDS)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # day_ids counts days from the Unix epoch
(
    MAX_EXPOSURE,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    MAX_DRAWDOWN,
    MAX_SHARES,
    MAX_ORDER_VALUE,
    DAILY_LOSS,
    MAX_ORDERS_PER_DAY,
    MAX_GROSS_EXPOSURE,
    MAX_NET_EXPOSURE,
) = range(N_RISK)
# Upper bound of each threshold (the size caps and the order count are amounts without a bound).
_UPPER = (1.0, 1.0, 10.0, 1.0, 1.0, np.inf, np.inf, 1.0, np.inf, 10.0, 10.0)
# What ended a position (0 = nothing); MAX_DRAWDOWN also halts trading for the rest of the run.
# DAILY_LOSS halts until the next day.
EXIT_REASONS = ("", "stop_loss", "take_profit", "trailing_stop", "max_drawdown", "daily_loss")
NO_EXIT, EXIT_STOP_LOSS, EXIT_TAKE_PROFIT, EXIT_TRAILING_STOP, EXIT_MAX_DRAWDOWN, EXIT_DAILY_LOSS = range(6)


def risk_array(
    max_exposure: float | None = None,
    stop_loss: float | None = None,
    take_profit: float | None = None,
    trailing_stop: float | None = None,
    max_drawdown: float | None = None,
    max_shares: float | None = None,
    max_order_value: float | None = None,
    daily_loss: float | None = None,
    max_orders_per_day: int | None = None,
    max_gross_exposure: float | None = None,
    max_net_exposure: float | None = None,
) -> np.ndarray:
    """The rule array the kernels take: fractions in (0, 1] (``take_profit`` up to 10), caps any positive amount.

    Examples
    --------
    >>> risk_array(stop_loss=0.05)[:3]
    array([ nan, 0.05,  nan])
    """
    values = (
        max_exposure,
        stop_loss,
        take_profit,
        trailing_stop,
        max_drawdown,
        max_shares,
        max_order_value,
        daily_loss,
        max_orders_per_day,
        max_gross_exposure,
        max_net_exposure,
    )
    out = np.full(N_RISK, np.nan)
    for i, (name, value) in enumerate(zip(RISK_FIELDS, values, strict=True)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value <= _UPPER[i]:
            what = "a positive amount" if _UPPER[i] == np.inf else f"a fraction in (0, {_UPPER[i]:g}]"
            raise ValueError(f"{name}={value!r}: must be {what} (or None to switch it off)")
        if i == MAX_ORDERS_PER_DAY and value != int(value):
            raise ValueError(f"{name}={value!r}: must be a whole number of orders")
        out[i] = float(value)
    return out


@njit(cache=True, nogil=True, inline="always")
def order_allowed_nb(orders_today, target, risk):
    """False when ``max_orders_per_day`` is used up; an order to go flat (``target`` 0) is always allowed."""
    return target == 0.0 or not orders_today >= risk[MAX_ORDERS_PER_DAY]


@njit(cache=True, nogil=True, inline="always")
def cap_order_size_nb(size, position, price, risk):
    """``size`` cut so the position stays within ``max_shares`` and the order within ``max_order_value``.

    The cut keeps the order's direction; a position already beyond the cap may only shrink.
    """
    if size == 0.0:
        return size
    cap = risk[MAX_SHARES]
    if not np.isnan(cap):
        new = min(max(position + size, -cap), cap)
        if (size > 0) != (new - position > 0):  # the cap would reverse the order: do nothing
            return 0.0
        size = new - position
    cap = risk[MAX_ORDER_VALUE]
    if not np.isnan(cap) and abs(size) * price > cap:
        size = (cap / price) if size > 0 else -(cap / price)
    return size


@njit(cache=True, nogil=True, inline="always")
def exposure_limit_nb(risk):
    """The tightest of ``max_exposure``, ``max_gross_exposure`` and ``max_net_exposure`` (NaN: no limit);
    for one symbol the three coincide."""
    limit = np.nan
    for slot in (MAX_EXPOSURE, MAX_GROSS_EXPOSURE, MAX_NET_EXPOSURE):
        if not np.isnan(risk[slot]) and not limit <= risk[slot]:
            limit = risk[slot]
    return limit


@njit(cache=True, nogil=True, inline="always")
def clamp_exposure_nb(target, max_exposure):
    """``target`` limited to [-max_exposure, max_exposure] (the position-size rule's resize)."""
    if np.isnan(max_exposure):
        return target
    return min(max(target, -max_exposure), max_exposure)


@njit(cache=True, nogil=True, inline="always")
def exit_reason_nb(position, entry_price, extreme, price, equity, peak_equity, day_start_equity, risk):
    """Which rule (``EXIT_*``) closes ``position`` at ``price``: the account's rules first (``max_drawdown``,
    then ``daily_loss``: they also stop trading, so they win a tie), then the position's (stop-loss,
    take-profit, trailing stop).

    ``extreme`` is the best close since entry (highest for a long, lowest for a short); ``peak_equity`` the
    highest equity so far (NaN before the first bar); ``day_start_equity`` the equity at the previous day's
    last close.
    """
    if not np.isnan(risk[MAX_DRAWDOWN]) and peak_equity > 0 and equity / peak_equity - 1.0 <= -risk[MAX_DRAWDOWN]:
        return EXIT_MAX_DRAWDOWN
    if not np.isnan(risk[DAILY_LOSS]) and day_start_equity > 0 and equity / day_start_equity - 1.0 <= -risk[DAILY_LOSS]:
        return EXIT_DAILY_LOSS
    if position != 0.0:
        direction = 1.0 if position > 0 else -1.0
        if not (np.isnan(risk[STOP_LOSS]) and np.isnan(risk[TAKE_PROFIT])):
            move = direction * (price / entry_price - 1.0)
            if move <= -risk[STOP_LOSS]:
                return EXIT_STOP_LOSS
            if move >= risk[TAKE_PROFIT]:
                return EXIT_TAKE_PROFIT
        if not np.isnan(risk[TRAILING_STOP]) and direction * (price / extreme - 1.0) <= -risk[TRAILING_STOP]:
            return EXIT_TRAILING_STOP
    return NO_EXIT


@njit(cache=True, nogil=True, inline="always")
def exit_rules_active_nb(risk):
    """True when any rule that can close a position (``exit_reason_nb``) is switched on."""
    for slot in (STOP_LOSS, TAKE_PROFIT, TRAILING_STOP, MAX_DRAWDOWN, DAILY_LOSS):  # noqa: SIM110 - numba loop
        if not np.isnan(risk[slot]):
            return True
    return False


def day_ids(index) -> np.ndarray:
    """Calendar day (UTC) of each bar as an int64 id: the day boundary of the daily rules.

    A non-datetime index counts every bar as its own day.
    """
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        return np.ascontiguousarray(index.as_unit("ns").asi8 // 86_400_000_000_000, dtype=np.int64)
    return np.arange(len(index), dtype=np.int64)


def day_id(moment: datetime) -> int:
    """``day_ids`` of one time, without building an index: a live driver asks it once per bar."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.toordinal() - _EPOCH_ORDINAL


@njit(cache=True, nogil=True, inline="always")
def update_extreme_nb(position, extreme, price):
    """The best price since entry after ``price``: the highest for a long, the lowest for a short."""
    if position > 0:
        return max(extreme, price)
    if position < 0:
        return min(extreme, price)
    return np.nan
