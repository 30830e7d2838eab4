"""`CachedSource`: incremental extension (the source is asked only for missing dates), today's bars, restated
history, bad data stopped by the validator, corrupted entries refetched, and `load` through the cache."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cache_support import CountingSource, redis_level

import workbench as wb
from workbench.cache import CachedSource, DiskCache, MemoryCache, RedisCache, TieredCache, TTLPolicy, source_name
from workbench.data.sources import FolderSource, SampleSource
from workbench.errors import DataNotFoundError, DataValidationError
from workbench.testing import FrozenClock, make_bars

NOW = datetime(2020, 6, 10, 15, 0, tzinfo=UTC)  # a Wednesday, mid-session


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def bars() -> pd.DataFrame:
    """Daily bars from 2015-01-01 to 2020-06-10 (that day's bar still forming at NOW)."""
    return wb.validate_bars(make_bars(1_420, start="2015-01-01").loc[:"2020-06-10"], symbol="SYN")


@pytest.fixture
def source(bars: pd.DataFrame) -> CountingSource:
    return CountingSource({"SYN": bars})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[TieredCache]:
    with TieredCache([MemoryCache(), DiskCache(tmp_path / "l3")], TTLPolicy(today=60)) as tiered:
        yield tiered


@pytest.fixture
def cached(source: CountingSource, cache: TieredCache, clock: FrozenClock) -> CachedSource:
    return CachedSource(source, cache, clock=clock)


def test_the_source_is_asked_only_for_the_missing_dates(cached, source, bars) -> None:
    def check(start: str, end: str | None) -> None:
        got = cached.history("SYN", start, end)
        pd.testing.assert_frame_equal(got, bars.loc[start:end], check_freq=False)
        assert got.attrs == {"symbol": "SYN"}

    check("2016-01-01", "2017-12-31")
    assert source.calls == [("SYN", ts("2016-01-01"), ts("2017-12-31 23:59:59.999999999"))]
    check("2016-06-01", "2017-06-30")
    check("2017-01-01", "2017-12-31")
    assert len(source.calls) == 1  # inside the coverage: no call
    check("2015-06-01", "2017-12-31")  # the head only, overlapping the cached first bar
    assert source.calls[1:] == [("SYN", ts("2015-06-01"), ts("2016-01-01"))]
    check("2015-06-01", "2019-03-31")  # the tail only, from the cached last bar
    assert source.calls[2:] == [("SYN", ts("2017-12-29"), ts("2019-03-31 23:59:59.999999999"))]
    check("2014-01-01", "2020-01-31")  # both ends
    assert source.calls[3:] == [
        ("SYN", ts("2014-01-01"), ts("2015-06-01")),
        ("SYN", ts("2019-03-29"), ts("2020-01-31 23:59:59.999999999")),
    ]
    check("2014-06-01", "2019-12-31")
    check("2010-01-01", "2020-01-31")  # before the first bar, but the coverage reaches back to 2014
    assert len(source.calls) == 6
    assert cached.stats() == {
        "fetches": 6,
        "rows_fetched": sum(len(f) for f in _fetched(source, bars)),
        "restatements": 0,
    }


def _fetched(source: CountingSource, bars: pd.DataFrame) -> list[pd.DataFrame]:
    return [bars.loc[lo:hi] for _, lo, hi in source.calls]


def test_a_gap_between_the_coverage_and_the_request_is_filled_so_the_coverage_stays_one_range(cached, source, bars):
    cached.history("SYN", "2019-01-01", "2019-06-30")
    cached.history("SYN", "2016-01-01", "2016-03-31")
    assert source.calls[1] == ("SYN", ts("2016-01-01"), ts("2019-01-01"))
    assert len(cached.history("SYN", "2016-01-01", "2019-06-30")) == len(bars.loc["2016-01-01":"2019-06-30"])
    assert len(source.calls) == 2


def test_an_open_end_covers_today_for_the_today_lifetime_then_refetches_from_the_last_closed_bar(
    cached, source, bars, clock
) -> None:
    assert cached.history("SYN", "2020-01-01").index[-1] == ts("2020-06-10")
    assert source.calls == [("SYN", ts("2020-01-01"), ts(NOW.isoformat()))]
    clock.advance(timedelta(seconds=59))
    cached.history("SYN", "2020-03-01")
    assert len(source.calls) == 1  # today's bar is still fresh
    source.frames["SYN"] = bars.assign(
        close=np.where(bars.index == ts("2020-06-10"), bars["close"] * 1.001, bars.close)
    )
    source.frames["SYN"]["high"] = source.frames["SYN"][["high", "close"]].max(axis=1)
    clock.advance(timedelta(seconds=2))
    got = cached.history("SYN", "2020-03-01")
    assert source.calls[1] == ("SYN", ts("2020-06-09"), ts(NOW.isoformat()) + pd.Timedelta(seconds=61))
    assert got["close"].iloc[-1] == pytest.approx(bars["close"].iloc[-1] * 1.001)  # today's bar refreshed
    assert cached.stats()["restatements"] == 0
    cached.history("SYN", "2019-01-01", "2020-06-09")  # closed days only: never stale
    assert len(source.calls) == 3 and source.calls[2][2] == ts("2020-01-01")  # the head, not the closed days


def test_the_next_day_the_bar_fetched_while_forming_is_fetched_again(cached, source, bars, clock) -> None:
    cached.history("SYN", "2020-01-01")
    clock.set(datetime(2020, 6, 11, 9, 0, tzinfo=UTC))
    source.frames["SYN"] = pd.concat([bars, make_bars(1, start="2020-06-11", seed=5)])
    got = cached.history("SYN", "2020-01-01")
    assert source.calls[1][1] == ts("2020-06-09")  # the last bar closed when it was fetched
    assert got.index[-1] == ts("2020-06-11")


def test_a_restated_history_is_detected_at_the_overlap_and_fetched_again_whole(cached, source, bars) -> None:
    cached.history("SYN", "2016-01-01", "2017-12-31")
    adjusted = bars.copy()
    adjusted[["open", "high", "low", "close"]] *= 0.5  # a 2:1 split, re-adjusting the whole history
    source.frames["SYN"] = adjusted
    got = cached.history("SYN", "2016-01-01", "2018-12-31")
    pd.testing.assert_frame_equal(got, adjusted.loc["2016-01-01":"2018-12-31"], check_freq=False)
    assert source.calls[1:] == [
        ("SYN", ts("2017-12-29"), ts("2018-12-31 23:59:59.999999999")),
        ("SYN", ts("2016-01-01"), ts("2018-12-31 23:59:59.999999999")),
    ]
    assert cached.stats()["restatements"] == 1
    cached.history("SYN", "2016-06-01", "2018-06-30")
    assert len(source.calls) == 3


def _nan(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(close=frame["close"].where(frame.index != frame.index[-3]))


def _negative(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(low=frame["low"].where(frame.index != frame.index[-3], -1.0))


def _duplicate(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[-1]]])


def _unordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[[*range(len(frame) - 3), -2, -3, -1]]


BAD = {"nan": _nan, "non_positive_price": _negative, "duplicate_timestamps": _duplicate, "unsorted": _unordered}


@pytest.mark.parametrize("rule", list(BAD))
def test_bad_data_is_stopped_by_the_validator_naming_the_source_and_never_cached(cached, source, bars, rule) -> None:
    source.frames["SYN"] = BAD[rule](bars.loc[:"2016-12-31"])
    with pytest.raises(DataValidationError) as err:
        cached.history("SYN", "2016-01-01", "2016-12-31")
    assert (err.value.source, err.value.symbol, err.value.rule) == ("CountingSource()", "SYN", rule)
    assert str(err.value).startswith(f"CountingSource(): SYN: rule {rule} failed")
    assert all(level.stats()["writes"] == 0 for level in cached.cache.levels)
    assert cached.cache.get_entry(cached.key("SYN")) is None


@pytest.mark.parametrize("rule", list(BAD))
def test_bad_data_in_an_extension_leaves_the_cached_history_as_it_was(cached, source, bars, rule) -> None:
    before = cached.history("SYN", "2016-01-01", "2016-12-31")
    source.frames["SYN"] = BAD[rule](bars.loc[:"2017-12-31"])
    with pytest.raises(DataValidationError, match=rule):
        cached.history("SYN", "2016-01-01", "2017-12-31")
    entry = cached.cache.get_entry(cached.key("SYN"))
    pd.testing.assert_frame_equal(entry.value, before)
    assert entry.meta["end"] == ts("2016-12-31 23:59:59.999999999").value


class PlainSource:
    """A `BarSource` without ``history``: it can only read a symbol whole."""

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = frames
        self.reads = 0

    def symbols(self) -> list[str]:
        return sorted(self.frames)

    def read(self, symbol: str) -> pd.DataFrame:
        self.reads += 1
        return self.frames[symbol]


def test_a_plain_bar_source_is_read_whole_validated_and_sliced(cache, clock, bars) -> None:
    plain = PlainSource({"Syn": bars.loc[:"2016-12-31"]})
    cached = CachedSource(plain, cache, name="plain", clock=clock)
    got = cached.history("SYN", "2016-03-01", "2016-03-31")
    pd.testing.assert_frame_equal(got, bars.loc["2016-03-01":"2016-03-31"], check_freq=False)
    assert got.attrs == {"symbol": "Syn"}  # as the source spells it
    assert (plain.reads, cached.stats()["rows_fetched"]) == (1, len(got))
    cached.history("SYN", "2016-02-01", "2016-03-31")
    assert plain.reads == 2
    assert cached.cache.invalidate_tag("source:plain") == 2  # memory and disk
    plain.frames["Syn"] = _negative(bars.loc[:"2016-12-31"])
    with pytest.raises(DataValidationError, match=r"^plain: Syn: rule non_positive_price failed on 1 row"):
        cached.history("SYN", "2016-03-01", "2016-03-31")


def test_a_folder_is_named_by_its_path_and_its_own_errors_name_it(tmp_path: Path, cache, clock, bars) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    bars.loc[:"2016-12-31"].to_csv(folder / "syn.csv")
    cached = CachedSource(FolderSource(folder), cache, clock=clock)
    assert cached.name == source_name(FolderSource(folder)) == f"csv:{folder.resolve()}"
    assert cached.history("SYN", "2016-03-01", "2016-03-31").attrs == {"symbol": "syn"}
    assert cache.invalidate_tag(f"source:csv:{folder.resolve()}") == 2
    _negative(bars.loc[:"2016-12-31"]).to_csv(folder / "syn.csv")
    with pytest.raises(
        DataValidationError, match=f"^{re.escape(f'csv folder {folder}')}: syn: rule non_positive_price"
    ):
        cached.history("SYN", "2016-03-01", "2016-03-31")


def test_a_corrupted_disk_entry_is_dropped_and_refetched(tmp_path: Path, source, bars, clock) -> None:
    disk = DiskCache(tmp_path / "l3")
    with TieredCache([disk]) as cache:
        cached = CachedSource(source, cache, clock=clock)
        cached.history("SYN", "2015-01-01", "2019-12-31")
        [file] = list((tmp_path / "l3").rglob("*.val"))
        data = bytearray(file.read_bytes())
        data[-100] ^= 0x55
        file.write_bytes(bytes(data))
        got = cached.history("SYN", "2015-01-01", "2019-12-31")
        pd.testing.assert_frame_equal(got, bars.loc["2015-01-01":"2019-12-31"], check_freq=False)
        assert len(source.calls) == 2 and source.calls[0] == source.calls[1]
        assert disk.stats()["corrupt"] == 1
        cached.history("SYN", "2015-01-01", "2019-12-31")
        assert len(source.calls) == 2


@pytest.fixture
def l2() -> Iterator[RedisCache]:
    yield from redis_level()


def test_all_three_levels_serve_a_new_process_from_redis(tmp_path: Path, source, clock, l2: RedisCache) -> None:
    first = CachedSource(source, TieredCache([MemoryCache(), l2, DiskCache(tmp_path / "a")]), clock=clock)
    first.history("SYN", "2016-01-01", "2016-12-31")
    # another process: its own memory and disk, the same Redis
    other_disk = DiskCache(tmp_path / "b")
    second = CachedSource(source, TieredCache([MemoryCache(), l2, other_disk]), clock=clock)
    second.history("SYN", "2016-03-01", "2016-06-30")
    assert len(source.calls) == 1
    stats = second.cache.stats()  # written back to the faster level only
    assert (stats["redis"]["hits"], stats["memory"]["writes"], stats["disk"]["writes"]) == (1, 1, 0)
    first.cache.invalidate_tag("symbol:SYN")  # first's levels and the shared Redis
    second.history("SYN", "2016-03-01", "2016-06-30")  # second's own memory still has it
    assert len(source.calls) == 1
    first.history("SYN", "2016-03-01", "2016-06-30")
    assert len(source.calls) == 2
    other_disk.close()
    first.cache.levels[2].close()


def test_unknown_symbols_empty_ranges_and_future_ranges_raise_and_cache_nothing(cached, source) -> None:
    with pytest.raises(DataNotFoundError, match="unknown symbol 'NOPE'"):
        cached.history("NOPE", "2016-01-01")
    with pytest.raises(DataNotFoundError, match="no bars"):
        cached.history("SYN", "2016-01-02 12:00", "2016-01-02 18:00")  # inside the day: no daily bar
    with pytest.raises(DataNotFoundError, match="in the future"):
        cached.history("SYN", "2021-01-01")
    assert all(level.stats()["writes"] == 0 for level in cached.cache.levels)
    cached.history("SYN", "2016-01-01", "2016-01-31")
    with pytest.raises(DataNotFoundError, match="no bars from 2016-01-16 to 2016-01-17; the data covers"):
        cached.history("SYN", "2016-01-16", "2016-01-17")  # a weekend inside the coverage: no call either
    assert len(source.calls) == 3  # the future range was refused without a call
    with pytest.raises(ValueError, match="is after end"):
        cached.history("SYN", "2016-02-01", "2016-01-01")


def test_load_reads_through_the_cache(tmp_path: Path) -> None:
    with TieredCache([MemoryCache(), DiskCache(tmp_path)]) as cache:
        cached = CachedSource(SampleSource(), cache)
        direct = wb.load("SPY,QQQ", start="2015-01-01", end="2019-12-31")
        through = wb.load("SPY,QQQ", start="2015-01-01", end="2019-12-31", source=cached)
        for symbol in ("SPY", "QQQ"):
            pd.testing.assert_frame_equal(through[symbol], direct[symbol], check_like=False)
        wb.load("spy", start="2016-01-01", end="2018-12-31", source=cached)
        assert cached.stats()["fetches"] == 2
        assert cache.stats()["memory"]["hits"] == 1
