"""How long each kind of data stays cached: `TTLPolicy`."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal, get_args

#: The kinds of data the cache gives a lifetime to.
DataKind = Literal["history", "today", "quote"]


@dataclass(frozen=True)
class TTLPolicy:
    """Seconds an entry of each data kind stays valid.

    Parameters
    ----------
    history
        Bars of closed days (7 days by default). They do not change unless the provider restates them (a split or
        dividend re-adjusts prices); `CachedSource` also detects that when it extends the history.
    today
        Bars of the current UTC day, still forming (60 s by default).
    quote
        Quotes and other tick-level values (5 s by default).

    Examples
    --------
    >>> TTLPolicy(today=30).ttl("today")
    30
    """

    history: float = 7 * 24 * 3600.0
    today: float = 60.0
    quote: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"TTLPolicy.{f.name}={value!r}: expected a finite number of seconds > 0")

    def ttl(self, kind: DataKind) -> float:
        """Seconds an entry of `kind` lives; ValueError for an unknown kind."""
        if kind not in get_args(DataKind):
            raise ValueError(f"unknown data kind {kind!r}; expected one of {', '.join(get_args(DataKind))}")
        return getattr(self, kind)
