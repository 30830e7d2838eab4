"""Helpers shared by the cache tests (no tests here): a Redis URL or a skip, and a source that counts calls."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pandas as pd
import pytest

from workbench.errors import DataNotFoundError

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 15


def redis_url_or_skip() -> str:
    """URL of the Redis that developers' machines and CI run (database 15), or skip when nothing answers."""
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5).close()
    except OSError:
        pytest.skip(f"no Redis server on {REDIS_HOST}:{REDIS_PORT}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


def redis_level() -> Iterator:
    """A `RedisCache` under a fresh key prefix, cleared and closed afterwards (for fixtures)."""
    from workbench.cache import RedisCache

    level = RedisCache(redis_url_or_skip(), prefix=f"wbtest:{uuid.uuid4().hex}:")
    try:
        yield level
    finally:
        level.clear()
        level.close()


class CountingSource:
    """A `DataSource` over in-memory frames that records every ``history`` call as (symbol, start, end).

    It does not validate (so the cache's own validation is what catches bad bars), and tests may replace a
    symbol's frame to restate history or inject bad rows.
    """

    name = "counting"

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = dict(frames)
        self.calls: list[tuple[str, pd.Timestamp | None, pd.Timestamp | None]] = []

    def __repr__(self) -> str:
        return "CountingSource()"

    def symbols(self) -> list[str]:
        return sorted(self.frames)

    def read(self, symbol: str) -> pd.DataFrame:
        return self.history(symbol)

    def history(self, symbol, start=None, end=None, timeframe=None, nan_policy="raise") -> pd.DataFrame:
        self.calls.append((symbol, start, end))
        if symbol not in self.frames:
            raise DataNotFoundError(f"counting: unknown symbol {symbol!r}")
        frame = self.frames[symbol]
        index = frame.index
        mask = (index >= (start if start is not None else index.min())) & (
            index <= (end if end is not None else index.max())
        )
        sliced = frame[mask]  # a mask, not .loc: the frame may be deliberately out of order
        if sliced.empty:
            raise DataNotFoundError(f"counting: no bars for {symbol} in {start} .. {end}")
        sliced.attrs = {"symbol": symbol}
        return sliced
