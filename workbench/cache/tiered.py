"""`TieredCache`: one cache interface over L1 (memory), L2 (Redis, optional) and L3 (disk)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workbench.cache.entry import CacheLevel, Entry
from workbench.cache.policy import DataKind, TTLPolicy


class TieredCache:
    """Levels from fastest to slowest: a lookup tries each in turn and copies a hit back into the faster ones.

    Writes go to every level (write-through); invalidation by key or tag and clearing reach every level. An
    entry keeps its absolute expiry wherever it is copied, so a value written back from disk to memory expires
    at the same moment on both.

    Parameters
    ----------
    levels
        One or more `CacheLevel`s, fastest first, e.g. ``[MemoryCache(), RedisCache(url), DiskCache(path)]``.
    policy
        Lifetimes per data kind, used by ``set(..., kind=...)``.

    Examples
    --------
    >>> cache = TieredCache([MemoryCache(), DiskCache(tmp_path)])  # doctest: +SKIP
    >>> cache.set("quote:SPY", {"bid": 99.5}, kind="quote", tags=["symbol:SPY"])  # doctest: +SKIP
    >>> cache.get("quote:SPY")  # doctest: +SKIP
    {'bid': 99.5}
    >>> cache.invalidate_tag("symbol:SPY")  # doctest: +SKIP
    2
    """

    def __init__(self, levels: Sequence[CacheLevel], policy: TTLPolicy | None = None) -> None:
        if not levels:
            raise ValueError("TieredCache needs at least one level")
        names = [level.name for level in levels]
        if len(set(names)) != len(names):
            raise ValueError(f"cache levels must have distinct names, got {names}")
        self.levels: tuple[CacheLevel, ...] = tuple(levels)
        self.policy = policy or TTLPolicy()

    def get(self, key: str, default: Any = None) -> Any:
        """The value under `key` from the fastest level that has it, else `default`."""
        entry = self.get_entry(key)
        return default if entry is None else entry.value

    def get_entry(self, key: str) -> Entry | None:
        """The `Entry` under `key` (value, tags, expiry, meta), copied back into the faster levels on a hit."""
        for depth, level in enumerate(self.levels):
            entry = level.get(key)
            if entry is not None:
                for faster in self.levels[:depth]:
                    faster.set(key, entry)
                return entry
        return None

    def set(
        self,
        key: str,
        value: Any,
        *,
        kind: DataKind | None = None,
        ttl: float | None = None,
        tags: Iterable[str] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """Store `value` on every level for `ttl` seconds, else the `policy` lifetime of `kind`, else forever.

        Parameters
        ----------
        value
            A pandas DataFrame or a JSON-serializable value (None is not cacheable: it means "missing").
        kind
            ``"history"``, ``"today"`` or ``"quote"``: the lifetime comes from `policy`.
        ttl
            Seconds, overriding `kind`.
        tags
            Labels for `invalidate_tag`, e.g. ``["symbol:SPY", "source:sample"]``.
        meta
            JSON-serializable extras returned with the entry by `get_entry`.
        """
        if value is None:
            raise ValueError(f"cannot cache None under {key!r}: None means a miss")
        if ttl is None and kind is not None:
            ttl = self.policy.ttl(kind)
        if ttl is not None and not ttl > 0:
            raise ValueError(f"ttl={ttl!r} for {key!r}: expected seconds > 0")
        expires_at = None if ttl is None else time.time() + ttl
        entry = Entry(value, frozenset(tags), expires_at, dict(meta or {}))
        for level in reversed(self.levels):  # slowest (serializing) first: a value it refuses is stored nowhere
            level.set(key, entry)

    def invalidate(self, key: str) -> bool:
        """Remove `key` from every level; True if any level had it."""
        return any([level.delete(key) for level in self.levels])

    def invalidate_tag(self, tag: str) -> int:
        """Remove every entry tagged `tag` from every level; return the number removed, summed over levels."""
        return sum(level.invalidate_tag(tag) for level in self.levels)

    def clear(self) -> int:
        """Remove every entry from every level; return the number removed, summed over levels."""
        return sum(level.clear() for level in self.levels)

    def stats(self) -> dict[str, dict[str, int | None]]:
        """Each level's counters and size, keyed by level name (``memory``, ``redis``, ``disk``).

        Examples
        --------
        >>> cache.stats()["memory"]["hits"]  # doctest: +SKIP
        50
        """
        return {level.name: level.stats() for level in self.levels}

    def close(self) -> None:
        """Close every level."""
        for level in self.levels:
            level.close()

    def __enter__(self) -> TieredCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
