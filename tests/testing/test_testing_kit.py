"""The test doubles users get in workbench.testing behave like the real ports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import workbench as wb
from workbench.clock import Clock
from workbench.data.feeds import DataFeed
from workbench.testing import FrozenClock, ListFeed, make_bars


def test_make_bars_is_seeded_valid_and_sweepable() -> None:
    a, b = make_bars(300, seed=4), make_bars(300, seed=4)
    assert a.equals(b) and not a.equals(make_bars(300, seed=5))
    wb.validate_bars(a, symbol="SYN")  # raises if any rule fails
    res = wb.sweep("sma_cross", a, fast=[5, 10], slow=[20, 40], progress=False)
    assert len(res.metrics) == 4 and res.symbols == ["SYN"]
    with pytest.raises(ValueError, match="n=0: need at least one bar"):
        make_bars(0)


def test_list_feed_replays_in_time_then_symbol_order() -> None:
    feed = ListFeed({"aaa": make_bars(3, freq="D"), "bbb": make_bars(2, freq="D", seed=1)})
    assert isinstance(feed, DataFeed)
    bars = list(feed)
    assert [(bar.symbol, bar.timestamp.day) for bar in bars] == [
        ("AAA", 1),
        ("BBB", 1),
        ("AAA", 2),
        ("BBB", 2),
        ("AAA", 3),
    ]
    assert bars[0].close == make_bars(3, freq="D")["close"].iloc[0]


def test_frozen_clock_moves_only_forward() -> None:
    clock = FrozenClock(datetime(2024, 1, 2, tzinfo=UTC))
    assert isinstance(clock, Clock)
    assert clock.advance(timedelta(hours=1)) == datetime(2024, 1, 2, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2024, 1, 1))
