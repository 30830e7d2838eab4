"""When a symbol may trade: the allowed-symbols and trading-hours rules as a per-bar session array.

Every kernel takes ``session[t]``: the trading day of bar t (the daily rules' boundary) or ``CLOSED`` when no
order may fill at bar t, because the bar lies outside the trading hours or the symbol is not allowed. The
sweep, the backtest's scheduler and the live RiskManager all decide through ``in_hours_nb``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from numba import njit

from workbench.engine.risk_rules import day_ids

CLOSED = -1
#: The non-numeric risk rules (the numeric ones are ``risk_rules.RISK_FIELDS``).
SESSION_RULES = ("allowed_symbols", "trading_hours", "timezone")
DEFAULT_TIMEZONE = "America/New_York"
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_hours(text: str) -> tuple[int, int]:
    """``"09:30-16:00"`` as minutes after midnight ``(570, 960)``; an end before the start spans midnight.

    Examples
    --------
    >>> parse_hours("09:30-16:00")
    (570, 960)
    """
    match = _HOURS.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"trading_hours={text!r}: must look like '09:30-16:00' (HH:MM-HH:MM, local time)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"trading_hours={text!r}: hours run 00-23 (24:00 for midnight), minutes 00-59")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"trading_hours={text!r}: the session is empty (start equals end)")
    return start, end


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone such as ``America/New_York``."""
    if not (isinstance(name, str) and _is_timezone(name)):
        raise ValueError(f"timezone={name!r}: not a time zone name (e.g. America/New_York, UTC)")
    return name


@functools.lru_cache(maxsize=256)
def _is_timezone(name: str) -> bool:
    """Whether pandas knows ``name`` as a time zone (remembered: every backtest checks its rules' zone)."""
    try:
        pd.Timestamp("2024-01-02", tz=name)
    except Exception:
        return False
    return True


def check_symbols(symbols: Iterable[str] | str) -> frozenset[str]:
    """The allowed symbols, upper case; a bare string is refused (it would be read letter by letter)."""
    if isinstance(symbols, str) or not all(isinstance(s, str) and s.strip() for s in symbols):
        raise ValueError(f"allowed_symbols={symbols!r}: must be a list of symbols such as ['SPY', 'QQQ']")
    out = frozenset(s.strip().upper() for s in symbols)
    if not out:
        raise ValueError("allowed_symbols=[]: would forbid every symbol; leave it unset to allow all")
    return out


@njit(cache=True, nogil=True)
def in_hours_nb(minute, start, end):
    """True when ``minute`` (after local midnight) is in the session ``[start, end)``, which may span midnight."""
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


@njit(cache=True, nogil=True)
def session_ids_nb(day, minute, start, end, allowed, out):
    """``out[t]``: ``day[t]`` where the bar may trade (an ``allowed`` symbol, ``minute[t]`` in the hours), else
    ``CLOSED``."""
    for t in range(day.shape[0]):
        open_ = allowed and in_hours_nb(minute[t], start, end)
        out[t] = day[t] if open_ else CLOSED


def session_ids(
    index: pd.Index,
    symbol: str = "",
    *,
    hours: tuple[int, int] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    allowed: frozenset[str] | None = None,
) -> np.ndarray:
    """The session array of one symbol's bars (see the module docstring); a bar's time is its timestamp."""
    day = day_ids(index)
    ok = allowed is None or symbol.upper() in allowed
    if hours is None:  # every bar of an allowed symbol trades: its day; of another, none
        return day if ok else np.full(len(index), CLOSED, dtype=np.int64)
    out = np.empty(len(index), dtype=np.int64)
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(f"trading_hours needs timestamped bars; {symbol or 'the bars'} have a {type(index).__name__}")
    local = index.tz_convert(timezone) if index.tz is not None else index.tz_localize("UTC").tz_convert(timezone)
    if len(index) and (index == index.normalize()).all():
        raise ValueError(f"trading_hours applies to intraday bars; {symbol or 'the bars'} are daily (all at midnight)")
    minute = np.ascontiguousarray(local.hour * 60 + local.minute, dtype=np.int64)
    session_ids_nb(day, minute, hours[0], hours[1], ok, out)
    return out
