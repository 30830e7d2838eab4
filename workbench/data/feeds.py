"""Bars as they arrive: ``Bar`` (one OHLCV bar of one symbol), the ``DataFeed`` port (bars in time order) and
``ReplayFeed``, a feed of recorded bars at full speed (tests, backtests) or paced like a live feed (local paper
trading that needs no keys)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import pandas as pd


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar of one symbol; ``timestamp`` is the bar's start (UTC)."""

    symbol: str
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@runtime_checkable
class DataFeed(Protocol):
    """Bars in time order: a replay of history or a live stream."""

    def __iter__(self) -> Iterator[Bar]: ...


class ReplayFeed:
    """Bars of one or more symbols in time order (ties in symbol order); with ``pace`` (seconds), one bar
    timestamp every ``pace`` seconds of wall time, so a session sees them arrive as it would live.

    Examples
    --------
    >>> from workbench.testing import make_bars
    >>> feed = ReplayFeed({"SYN": make_bars(3)})
    >>> [bar.timestamp.day for bar in feed]
    [1, 2, 3]
    """

    def __init__(
        self,
        frames: Mapping[str, pd.DataFrame],
        pace: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if pace is not None and not pace >= 0:
            raise ValueError(f"pace={pace!r}: must be seconds >= 0 between bar times (or None for no waiting)")
        self.frames = frames
        self.pace = pace
        self._sleep = sleep

    def __iter__(self) -> Iterator[Bar]:
        rows = []
        for order, (symbol, frame) in enumerate(self.frames.items()):
            for ts, o, h, lo, c, v in frame[["open", "high", "low", "close", "volume"]].itertuples():
                rows.append((ts, order, Bar(symbol.upper(), ts.to_pydatetime(), o, h, lo, c, v)))
        rows.sort(key=lambda r: (r[0], r[1]))
        previous = None
        for ts, _, bar in rows:
            if self.pace and previous is not None and ts != previous:
                self._sleep(self.pace)
            previous = ts
            yield bar
