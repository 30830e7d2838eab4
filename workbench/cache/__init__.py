"""A multi-level cache for bars and quotes: L1 in-process, L2 Redis (optional), L3 on disk (the default).

>>> from workbench.cache import CachedSource, cache_from_settings
>>> cache = cache_from_settings(settings)          # memory [+ redis] + disk, from the config  # doctest: +SKIP
>>> bars = CachedSource(SampleSource(), cache)     # any BarSource, cached                     # doctest: +SKIP
>>> spy = bars.history("SPY", "2015-01-01")        # first call reads the source               # doctest: +SKIP
>>> spy = bars.history("SPY", "2010-01-01")        # asks the source for 2010-2014 only        # doctest: +SKIP
>>> cache.invalidate_tag("symbol:SPY"); cache.stats()["memory"]["hits"]                       # doctest: +SKIP

* `TieredCache` looks levels up fastest first and copies a hit back into the faster levels; writes,
  invalidation (by key, by tag) and clearing reach every level.
* Levels: `MemoryCache` (cachetools TLRU, size-bounded), `RedisCache` (by URL), `DiskCache` (diskcache).
  Redis and disk store checksummed bytes (Arrow IPC for frames, JSON for small values; never pickles): a
  corrupted entry is counted, dropped and refetched.
* Lifetimes per data kind: `TTLPolicy` (closed days: long; today's bars: short; quotes: seconds).
* `CachedSource` extends a cached history incrementally, asking the source only for missing dates, and
  validates every fetched chunk with `validate_bars` before it is cached.
* ``stats()`` on each level and on the cache: hits, misses, writes, evictions, expirations, corrupt entries,
  errors, size (None where a level cannot count it).
"""

from importlib import import_module
from typing import Any

# public name -> defining module, imported on first use (`workbench cache ...` must start fast)
_EXPORTS = {
    "DiskCache": "workbench.cache.disk",
    "CacheLevel": "workbench.cache.entry",
    "Entry": "workbench.cache.entry",
    "cache_from_settings": "workbench.cache.factory",
    "CachedSource": "workbench.cache.history",
    "Coverage": "workbench.cache.history",
    "source_name": "workbench.cache.history",
    "MemoryCache": "workbench.cache.memory",
    "DataKind": "workbench.cache.policy",
    "TTLPolicy": "workbench.cache.policy",
    "RedisCache": "workbench.cache.redis_cache",
    "TieredCache": "workbench.cache.tiered",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench.cache' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
