"""Seeded synthetic bars and a replay feed, for testing strategies without data files."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data.feeds import ReplayFeed


def make_bars(
    n: int = 1_000,
    *,
    seed: int = 0,
    start: str = "2020-01-01",
    freq: str = "B",
    symbol: str = "SYN",
    drift: float = 0.0002,
    volatility: float = 0.012,
) -> pd.DataFrame:
    """``n`` valid OHLCV bars of a seeded geometric random walk (UTC index), labelled ``symbol``.

    Examples
    --------
    >>> bars = make_bars(250, seed=1)
    >>> len(bars), bars.attrs["symbol"], bool((bars["high"] >= bars[["open", "close"]].max(axis=1)).all())
    (250, 'SYN', True)
    """
    if n < 1:
        raise ValueError(f"n={n}: need at least one bar")
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(drift, volatility, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0.0, volatility / 4, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, volatility / 2, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, volatility / 2, n))
    volume = rng.integers(1_000, 100_000, n).astype(float)
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp")
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)
    frame.attrs["symbol"] = symbol
    return frame


# The testing kit's name for the replay feed (``workbench.data.feeds.ReplayFeed``).
ListFeed = ReplayFeed
