"""`RemoteSource`: the `DataSource` side every network source shares, so each connector only fetches a range.

A network source cannot list its universe and answers every request by fetching it: the bounds are parsed,
the fetched bars validated (naming the source), sliced to the range, and an empty result is a
`DataNotFoundError` naming the source, timeframe, symbol and range. `YahooSource` and `AlpacaDataSource` differ
only in how they fetch (`RemoteSource._fetch_range`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import pandas as pd

from workbench.data.sources import TimeBound, Timeframe, describe_bound, time_bound, validated
from workbench.data.validate import NanPolicy
from workbench.errors import DataNotFoundError


class RemoteSource(ABC):
    """`symbols`, `read` and `history` of a source that fetches bars over the network (daily unless asked)."""

    #: How errors name this source (``alpaca``, ``yfinance``).
    source_name: str

    def symbols(self) -> list[str]:
        """Return ``[]``: a network source's universe is not listed here; ask for any symbol."""
        return []

    def read(self, symbol: str) -> pd.DataFrame:
        """Return `symbol`'s daily bars over the source's whole default range (validated)."""
        return self.history(symbol)

    def history(
        self,
        symbol: str,
        start: TimeBound = None,
        end: TimeBound = None,
        timeframe: str | None = None,
        nan_policy: NanPolicy = "raise",
    ) -> pd.DataFrame:
        """Return `symbol`'s validated bars from `start` to `end` inclusive (see `DataSource.history`).

        `symbol` is upper-cased (ValueError when empty); `timeframe` defaults to ``"1Day"``. ``attrs`` keeps what
        the fetch noted (Yahoo's ``notes``) and gains ``symbol``. Raises `DataNotFoundError` (unknown symbol, no
        bars in the range), `DataValidationError` (bad bars, naming the source and the symbol), and whatever
        the source's fetch raises (see each source).
        """
        name = symbol.strip().upper()
        if not name:
            raise ValueError(f"symbol={symbol!r}: empty")
        tf = Timeframe.parse(timeframe or "1Day")
        lo, hi = time_bound(start, "start", whole_day=False), time_bound(end, "end", whole_day=True)
        raw = self._fetch_range(name, tf, lo, hi)
        bars = validated(raw, name, self.source_name, nan_policy).loc[lo:hi] if len(raw) else raw
        if bars.empty:
            wanted = f"from {describe_bound(lo, 'the start')} to {describe_bound(hi, 'now')}"
            raise DataNotFoundError(f"{self.source_name}: no {tf} bars for {name} {wanted}")
        bars.attrs = {**raw.attrs, "symbol": name}
        return bars

    @abstractmethod
    def _fetch_range(
        self, symbol: str, tf: Timeframe, lo: pd.Timestamp | None, hi: pd.Timestamp | None
    ) -> pd.DataFrame:
        """`symbol`'s bars covering `lo` to `hi` (UTC; None: the source's default start, now) as a normalized
        frame on canonical stamps, not yet validated; it may hold bars outside the range (they are sliced off)."""
