"""``Moments``: bar ``i``'s timestamp as an aware ``datetime``, made only for the bars where something happens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Moments:
    """The timestamps of ``index`` from its int64 nanoseconds (cheaper than pandas' per-element indexing, which
    dominated a backtest's bookkeeping)."""

    def __init__(self, index: pd.DatetimeIndex) -> None:
        self._micros = index.as_unit("ns").asi8 // 1_000

    def __getitem__(self, i: int) -> datetime:
        return _EPOCH + timedelta(microseconds=int(self._micros[i]))
