"""`cache_from_settings`: the cache the configuration asks for."""

from __future__ import annotations

from workbench.cache.disk import DEFAULT_SIZE_LIMIT, DiskCache
from workbench.cache.entry import CacheLevel
from workbench.cache.memory import DEFAULT_MAX_BYTES, MemoryCache
from workbench.cache.policy import TTLPolicy
from workbench.cache.redis_cache import RedisCache
from workbench.cache.tiered import TieredCache
from workbench.config import Settings


def cache_from_settings(
    settings: Settings,
    policy: TTLPolicy | None = None,
    *,
    memory_bytes: int = DEFAULT_MAX_BYTES,
    disk_bytes: int = DEFAULT_SIZE_LIMIT,
) -> TieredCache:
    """L1 memory, L2 Redis when ``settings.redis_url`` is set, and L3 disk in ``settings.cache_path``.

    Parameters
    ----------
    settings
        The loaded settings (``cache_dir``/``home`` and ``redis_url`` are read).
    policy
        Lifetimes per data kind; `TTLPolicy`'s defaults if None.
    memory_bytes, disk_bytes
        Size bounds of L1 and L3.

    Examples
    --------
    >>> from workbench.config import load_settings
    >>> cache = cache_from_settings(load_settings(overrides={"cache_dir": tmp_path}))  # doctest: +SKIP
    >>> [level.name for level in cache.levels]  # doctest: +SKIP
    ['memory', 'disk']
    """
    levels: list[CacheLevel] = [MemoryCache(max_bytes=memory_bytes)]
    if settings.redis_url:
        levels.append(RedisCache(settings.redis_url))
    levels.append(DiskCache(settings.cache_path, size_limit=disk_bytes))
    return TieredCache(levels, policy)
