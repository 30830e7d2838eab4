"""All three levels together: lookup order, write-back, invalidation, per-kind lifetimes, stats, the factory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from cache_support import redis_level, redis_url_or_skip

from workbench.cache import DiskCache, MemoryCache, RedisCache, TieredCache, TTLPolicy, cache_from_settings
from workbench.config import load_settings
from workbench.testing import make_bars


@pytest.fixture
def levels(tmp_path: Path) -> Iterator[tuple[MemoryCache, RedisCache, DiskCache]]:
    for l2 in redis_level():
        l3 = DiskCache(tmp_path / "l3")
        yield MemoryCache(), l2, l3
        l3.close()


@pytest.fixture
def cache(levels) -> TieredCache:
    return TieredCache(levels, TTLPolicy(history=60, today=5, quote=0.3))


def test_a_write_reaches_every_level_and_a_read_starts_at_the_fastest(cache: TieredCache, levels) -> None:
    bars = make_bars(500)
    cache.set("bars:SYN", bars, kind="history", tags=["symbol:SYN"])
    assert all(level.get("bars:SYN") is not None for level in levels)
    pd.testing.assert_frame_equal(cache.get("bars:SYN"), bars, check_freq=False)
    assert [level.stats()["hits"] for level in levels] == [2, 1, 1]  # the direct checks, then L1 alone
    assert cache.get("nothing", "default") == "default"
    assert [level.stats()["misses"] for level in levels] == [1, 1, 1]


def test_a_hit_on_a_slower_level_is_written_back_with_its_remaining_lifetime(cache: TieredCache, levels) -> None:
    l1, l2, l3 = levels
    cache.set("bars:SYN", make_bars(50), ttl=30, tags=["symbol:SYN"])
    expires_at = l3.get("bars:SYN").expires_at
    l1.clear()
    l2.clear()
    time.sleep(0.05)
    assert cache.get_entry("bars:SYN").expires_at == expires_at
    assert l1.get("bars:SYN").expires_at == expires_at
    assert 29_000 < l2._redis.pttl(f"{l2.prefix}e:bars:SYN") <= 29_950  # what was left, not 30 s again
    l1.clear()
    assert cache.get("bars:SYN") is not None
    assert [level.stats()["writes"] for level in levels] == [3, 2, 1]  # L2 served the last read: L1 only


def test_invalidate_and_clear_reach_every_level(cache: TieredCache, levels) -> None:
    cache.set("bars:SPY", make_bars(5), kind="history", tags=["symbol:SPY", "source:sample"])
    cache.set("bars:QQQ", make_bars(5), kind="history", tags=["symbol:QQQ", "source:sample"])
    cache.set("quote:SPY", {"bid": 1.0}, kind="quote", tags=["symbol:SPY"])
    assert cache.invalidate_tag("symbol:SPY") == 6
    assert all(level.get("bars:SPY") is None and level.get("quote:SPY") is None for level in levels)
    assert cache.invalidate("bars:QQQ") is True
    assert cache.invalidate("bars:QQQ") is False
    cache.set("x", [1, 2], ttl=60)
    assert cache.clear() == 3


def test_each_data_kind_gets_its_lifetime_from_the_policy(cache: TieredCache, levels) -> None:
    cache.set("quote:SPY", {"bid": 1.0}, kind="quote")
    cache.set("bars:SPY", make_bars(5), kind="history")
    cache.set("bars:QQQ", make_bars(5), ttl=0.3)
    now = time.time()
    assert levels[2].get("bars:SPY").expires_at == pytest.approx(now + 60, abs=1)
    time.sleep(0.5)
    assert cache.get("quote:SPY") is None and cache.get("bars:QQQ") is None
    assert all(level.get("quote:SPY") is None for level in levels)
    assert cache.get("bars:SPY") is not None


def test_stats_name_every_level(cache: TieredCache) -> None:
    cache.get("k")
    stats = cache.stats()
    assert list(stats) == ["memory", "redis", "disk"]
    assert stats["memory"]["misses"] == 1 and stats["redis"]["evictions"] is None
    assert stats["disk"]["lifetime_misses"] >= 1


def test_bad_arguments_are_refused(cache: TieredCache) -> None:
    with pytest.raises(ValueError, match="None means a miss"):
        cache.set("k", None, ttl=1)
    with pytest.raises(ValueError, match="ttl=0"):
        cache.set("k", 1, ttl=0)
    with pytest.raises(ValueError, match="unknown data kind 'tick'"):
        cache.set("k", 1, kind="tick")
    with pytest.raises(TypeError):
        cache.set("k", object(), ttl=1)  # neither a frame nor JSON: refused before anything is stored
    assert cache.levels[0].get("k") is None
    with pytest.raises(ValueError, match="at least one level"):
        TieredCache([])
    with pytest.raises(ValueError, match="distinct names"):
        TieredCache([MemoryCache(), MemoryCache()])
    with pytest.raises(ValueError, match=r"TTLPolicy\.today=0"):
        TTLPolicy(today=0)


def test_factory_builds_disk_always_and_redis_only_when_configured(tmp_path: Path) -> None:
    settings = load_settings(overrides={"cache_dir": str(tmp_path / "c")}, env={})
    with cache_from_settings(settings) as cache:
        assert [level.name for level in cache.levels] == ["memory", "disk"]
        assert cache.levels[1].location == str(tmp_path / "c")
    url = redis_url_or_skip()
    settings = load_settings(overrides={"home": str(tmp_path), "redis_url": url}, env={})
    with cache_from_settings(settings, TTLPolicy(quote=1)) as cache:
        assert [level.name for level in cache.levels] == ["memory", "redis", "disk"]
        assert cache.levels[2].location == str(tmp_path / "cache")
        assert cache.levels[1].location == "redis://127.0.0.1:6379/15 prefix 'workbench:'"
        assert cache.policy.quote == 1
