"""Each cache level alone: the same contract for memory (L1), Redis (L2) and disk (L3), then each one's specifics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from cache_support import redis_level, redis_url_or_skip

from workbench.cache import DiskCache, Entry, MemoryCache, RedisCache
from workbench.cache.codec import encode
from workbench.cache.entry import COUNTERS
from workbench.testing import make_bars


@pytest.fixture(params=["memory", "redis", "disk"])
def level(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    if request.param == "memory":
        yield MemoryCache()
    elif request.param == "redis":
        yield from redis_level()
    else:
        disk = DiskCache(tmp_path / "l3")
        yield disk
        disk.close()


def _entry(value, *tags: str, ttl: float | None = 60.0, meta=None) -> Entry:
    return Entry(value, frozenset(tags), None if ttl is None else time.time() + ttl, meta or {})


def test_frames_and_small_values_round_trip_with_tags_expiry_and_meta(level) -> None:
    bars = make_bars(300, symbol="SPY")
    bars["adj_close"] = bars["close"] * 0.9
    stored = _entry(bars, "symbol:SPY", meta={"start": 1})
    level.set("bars:SPY", stored)
    level.set("quote:SPY", _entry({"bid": 99.5, "ask": 99.75}, "symbol:SPY"))
    got = level.get("bars:SPY")
    pd.testing.assert_frame_equal(got.value, bars, check_freq=False)
    assert got.value.index.tz is not None and got.value.index.name == "timestamp"
    assert got.value.attrs == {"symbol": "SPY"}
    assert (got.tags, got.expires_at, dict(got.meta)) == (stored.tags, stored.expires_at, {"start": 1})
    assert level.get("quote:SPY").value == {"bid": 99.5, "ask": 99.75}
    assert level.get("nothing") is None
    stats = level.stats()
    assert list(stats)[: len(COUNTERS)] == list(COUNTERS)
    assert (stats["hits"], stats["misses"], stats["writes"], stats["entries"]) == (2, 1, 2, 2)


def test_a_returned_frame_is_a_copy(level) -> None:
    level.set("bars:SPY", _entry(make_bars(10)))
    got = level.get("bars:SPY").value
    got.iloc[0, 0] = -1.0
    assert level.get("bars:SPY").value.iloc[0, 0] > 0


def test_entries_expire_at_their_own_time(level) -> None:
    level.set("short", _entry({"v": 1}, ttl=0.3))
    level.set("long", _entry({"v": 2}, ttl=60))
    level.set("never", _entry({"v": 3}, ttl=None))
    level.set("already", _entry({"v": 4}, ttl=-1))
    assert level.get("short").value == {"v": 1}
    assert level.get("already") is None
    time.sleep(0.5)
    assert level.get("short") is None
    assert level.get("long").value == {"v": 2}
    assert level.get("never").value == {"v": 3}


def test_invalidate_by_key_by_tag_and_clear(level) -> None:
    level.set("a", _entry({"v": "a"}, "symbol:SPY", "source:x"))
    level.set("b", _entry({"v": "b"}, "symbol:QQQ", "source:x"))
    level.set("c", _entry({"v": "c"}, "symbol:SPY", "source:y"))
    level.set("d", _entry({"v": "d"}))
    assert level.invalidate_tag("symbol:SPY") == 2
    assert [k for k in "abcd" if level.get(k) is not None] == ["b", "d"]
    assert level.invalidate_tag("symbol:SPY") == 0
    assert level.invalidate_tag("source:x") == 1
    assert (level.delete("d"), level.delete("d")) == (True, False)
    level.set("a", _entry({"v": "a"}, "symbol:SPY"))
    level.set("e", _entry({"v": "e"}))
    assert level.clear() == 2
    assert level.get("a") is None and level.get("e") is None


def test_rewriting_a_key_replaces_its_tags(level) -> None:
    level.set("a", _entry({"v": 1}, "symbol:SPY"))
    level.set("a", _entry({"v": 2}, "symbol:QQQ"))
    if level.name == "redis":  # documented: Redis keeps the key in its old tag's set, so one extra miss
        assert level.invalidate_tag("symbol:SPY") == 1 and level.get("a") is None
        return
    assert level.invalidate_tag("symbol:SPY") == 0
    assert level.get("a").value == {"v": 2}
    assert level.invalidate_tag("symbol:QQQ") == 1


# --- L1: size bound, eviction and expiry counters -------------------------------------------------------------


def test_memory_evicts_least_recently_used_past_its_size_bound() -> None:
    frame = make_bars(1_000)  # 48 kB with its index
    size = int(frame.memory_usage(index=True, deep=True).sum())
    l1 = MemoryCache(max_bytes=3 * size + 100)
    for key in "abc":
        l1.set(key, _entry(frame, f"tag:{key}"))
    l1.get("a")  # a is now more recent than b
    l1.set("d", _entry(frame))
    assert [k for k in "abcd" if l1.get(k) is not None] == ["a", "c", "d"]
    stats = l1.stats()
    assert (stats["evictions"], stats["entries"], stats["bytes"]) == (1, 3, 3 * size)
    assert l1.invalidate_tag("tag:b") == 0  # the evicted key left the tag index too
    l1.set("huge", _entry(make_bars(5_000)))  # larger than the bound on its own: not cached, nothing evicted
    assert l1.get("huge") is None and l1.stats()["evictions"] == 1


def test_memory_counts_expirations_with_an_injected_clock() -> None:
    now = [1_000.0]
    l1 = MemoryCache(timer=lambda: now[0])
    l1.set("q", Entry({"bid": 1.0}, frozenset({"symbol:SPY"}), expires_at=1_005.0))
    assert l1.get("q") is not None
    now[0] = 1_005.0
    assert l1.get("q") is None
    assert l1.stats()["expirations"] == 1
    assert l1.invalidate_tag("symbol:SPY") == 0


# --- L3: persistence, corruption ------------------------------------------------------------------------------


def test_disk_entries_and_tags_persist_across_processes_opening_the_folder(tmp_path: Path) -> None:
    first = DiskCache(tmp_path)
    first.set("bars:SPY", _entry(make_bars(10), "symbol:SPY"))
    first.set("bars:QQQ", _entry(make_bars(10), "symbol:QQQ"))
    first.close()
    second = DiskCache(tmp_path)
    assert second.get("bars:SPY") is not None
    assert second.invalidate_tag("symbol:SPY") == 1
    assert second.get("bars:SPY") is None and second.get("bars:QQQ") is not None
    assert second.stats()["lifetime_hits"] == 2  # diskcache's own counter, kept in the folder
    second.close()


def test_disk_detects_drops_and_counts_a_corrupted_file(tmp_path: Path) -> None:
    l3 = DiskCache(tmp_path)
    l3.set("bars:SPY", _entry(make_bars(2_000)))  # > 32 kB: diskcache keeps it in its own file
    [file] = [p for p in tmp_path.rglob("*.val")]
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    assert l3.get("bars:SPY") is None
    assert l3.stats()["corrupt"] == 1 and l3.stats()["entries"] == 0
    assert not file.exists()
    l3.close()


@pytest.mark.parametrize(
    "blob",
    [b"", b"WBC1", encode(_entry({"v": 1}))[:-3], b"\x80\x04pickled", b"XXXX" + encode(_entry({"v": 1}))[4:]],
    ids=["empty", "prefix-only", "truncated", "not-ours", "bad-magic"],
)
def test_disk_rejects_bytes_that_are_not_a_whole_entry(tmp_path: Path, blob: bytes) -> None:
    l3 = DiskCache(tmp_path)
    l3._cache.set("k", blob)  # written behind the level's back, as a damaged disk or another program would
    assert l3.get("k") is None
    assert l3.stats()["corrupt"] == 1
    l3.close()


# --- L2: corruption, tag-set lifetime, prefix isolation, unreachable server --------------------------------------


@pytest.fixture
def l2() -> Iterator[RedisCache]:
    yield from redis_level()


def test_redis_detects_and_drops_a_corrupted_value(l2: RedisCache) -> None:
    l2.set("k", _entry({"v": 1}))
    blob = l2._redis.get(f"{l2.prefix}e:k")
    l2._redis.set(f"{l2.prefix}e:k", blob[:-1] + bytes([blob[-1] ^ 1]))
    assert l2.get("k") is None
    assert l2.stats()["corrupt"] == 1
    assert not l2._redis.exists(f"{l2.prefix}e:k")


def test_redis_tag_sets_live_as_long_as_their_longest_lived_entry(l2: RedisCache) -> None:
    tag_key = f"{l2.prefix}t:symbol:SPY"
    l2.set("a", _entry({"v": 1}, "symbol:SPY", ttl=100))
    l2.set("b", _entry({"v": 2}, "symbol:SPY", ttl=10))
    assert 90_000 < l2._redis.pttl(tag_key) <= 100_000
    l2.set("c", _entry({"v": 3}, "symbol:SPY", ttl=1_000))
    assert l2._redis.pttl(tag_key) > 900_000
    l2.set("d", _entry({"v": 4}, "symbol:SPY", ttl=None))
    assert l2._redis.pttl(tag_key) == -1  # persistent, like its member d
    assert 0 < l2._redis.pttl(f"{l2.prefix}e:b") <= 10_000


def test_redis_clear_removes_only_its_own_prefix(l2: RedisCache) -> None:
    # "wbtest:<id>*[:": neither prefix is a glob match of the other once glob characters are escaped
    other = RedisCache(redis_url_or_skip(), prefix=l2.prefix[:-1] + "*[:")
    try:
        other.set("k", _entry({"v": 1}))
        l2.set("k", _entry({"v": 2}, "symbol:SPY"))
        assert l2.clear() == 1
        assert other.get("k").value == {"v": 1}
        assert l2.stats()["entries"] == 0
    finally:
        other.clear()
        other.close()


def test_unreachable_redis_is_a_counted_miss_not_an_error() -> None:
    l2 = RedisCache("redis://127.0.0.1:1/0", timeout=0.2, retry_after=60)  # nothing listens on port 1
    l2.set("k", _entry({"v": 1}))
    assert l2.get("k") is None
    assert l2.invalidate_tag("symbol:SPY") == 0
    stats = l2.stats()
    assert stats["errors"] == 1  # then skipped for retry_after seconds: no more attempts, no more waiting
    assert stats["entries"] is None and stats["writes"] == 0
    l2.close()
