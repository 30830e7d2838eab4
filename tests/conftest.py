"""Shared fixtures: a few years of bundled daily bars and a seeded synthetic random walk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_walk(n: int = 600, seed: int = 0, symbol: str = "WALK", start: str = "2015-01-01") -> pd.DataFrame:
    """A valid OHLCV frame of ``n`` business-day bars from a seeded geometric random walk."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0.0, 0.003, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.01, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.01, n))
    volume = rng.integers(1_000, 100_000, n).astype(float)
    index = pd.bdate_range(start, periods=n, tz="UTC", name="timestamp")
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)
    frame.attrs["symbol"] = symbol
    return frame


@pytest.fixture(scope="session")
def spy() -> pd.DataFrame:
    """SPY daily bars 2015-2018 (about 1,000 bars); copy before modifying."""
    import workbench as wb

    return wb.load("SPY", start="2015-01-01", end="2018-12-31")


@pytest.fixture(scope="session")
def qqq() -> pd.DataFrame:
    """QQQ daily bars 2016-2018 (a different length from ``spy``); copy before modifying."""
    import workbench as wb

    return wb.load("QQQ", start="2016-01-01", end="2018-12-31")


@pytest.fixture(scope="session")
def walk() -> pd.DataFrame:
    """A seeded synthetic random walk of 600 bars, validated like loaded bars."""
    import workbench as wb

    return wb.validate_bars(make_walk(), symbol="WALK")


# The longest tests (a minute or more on two cores), started first: spread over the cores by pytest-xdist, a long
# test started last would run alone at the end of the suite.
_LONGEST = (
    "tests/docs/test_site.py",
    "tests/test_notebooks_in_jupyterlab.py",
    "tests/test_notebooks.py",
    "tests/store/test_journal.py::test_sigkill",
    "tests/trading/test_live_crash.py",
    "tests/strategies/test_registry_cache.py",
    "tests/research/test_parity_vectorbt.py",
    "tests/engine/test_portfolio.py",
    "tests/reports/test_reports.py",
    "tests/trading/test_universe_session.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(_LONGEST))  # stable: the rest keep their order
