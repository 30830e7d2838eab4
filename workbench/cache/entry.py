"""What every cache level stores and exposes: `Entry`, the `CacheLevel` protocol and per-level `Counters`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: The counters every level reports in ``stats()``; a level reports None for one it cannot count.
COUNTERS: tuple[str, ...] = ("hits", "misses", "writes", "evictions", "expirations", "corrupt", "errors")


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached value with its tags, its expiry and free metadata, the same on every level.

    Parameters
    ----------
    value
        A pandas DataFrame, or a JSON-serializable object (dict, list, str, number, bool) such as a quote.
    tags
        Labels to invalidate it by, e.g. ``{"symbol:SPY", "source:sample"}``.
    expires_at
        Wall-clock expiry in epoch seconds (``time.time()``), or None for "never" (size bounds still apply).
        Levels carry the absolute time, so a value copied to a faster level keeps its remaining lifetime.
    meta
        JSON-serializable extras stored alongside (`CachedSource` keeps the covered date range there).

    Examples
    --------
    >>> Entry({"bid": 1.0}, frozenset({"symbol:SPY"}), expires_at=100.0).ttl(now=98.5)
    1.5
    """

    value: Any
    tags: frozenset[str] = frozenset()
    expires_at: float | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def ttl(self, now: float) -> float | None:
        """Seconds left at `now` (<= 0 once expired), or None if the entry never expires."""
        return None if self.expires_at is None else self.expires_at - now


@runtime_checkable
class CacheLevel(Protocol):
    """One level of the cache (`MemoryCache`, `RedisCache`, `DiskCache`), usable alone or in a `TieredCache`.

    A level never raises for a missing, expired or corrupted entry: `get` returns None and the level counts it.
    """

    #: Short name used as the key in ``TieredCache.stats()``: ``"memory"``, ``"redis"`` or ``"disk"``.
    name: str
    #: Where the data lives, for people (never a password).
    location: str

    def get(self, key: str) -> Entry | None:
        """The live entry stored under `key`, or None."""
        ...

    def set(self, key: str, entry: Entry) -> None:
        """Store `entry` under `key` until ``entry.expires_at``; an already expired entry is not stored."""
        ...

    def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""
        ...

    def invalidate_tag(self, tag: str) -> int:
        """Remove every entry carrying `tag`; return how many were removed."""
        ...

    def clear(self) -> int:
        """Remove every entry of this cache; return how many were removed."""
        ...

    def stats(self) -> dict[str, int | None]:
        """`COUNTERS` since this object was created (None where not countable), plus ``entries`` and
        ``bytes`` (None where unknown)."""
        ...

    def close(self) -> None:
        """Release connections and file handles."""
        ...


class Counters:
    """Named integer counters that threads may bump concurrently (the event bus delivers from threads).

    Examples
    --------
    >>> c = Counters("hits", "misses")
    >>> c.incr("hits"); c.incr("hits", 2); c.snapshot()
    {'hits': 3, 'misses': 0}
    """

    def __init__(self, *names: str) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(names, 0)

    def incr(self, name: str, n: int = 1) -> None:
        """Add `n` to counter `name`."""
        with self._lock:
            self._counts[name] += n

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter."""
        with self._lock:
            return dict(self._counts)


def level_stats(counts: Mapping[str, int], **extra: int | None) -> dict[str, int | None]:
    """A level's ``stats()``: every name of `COUNTERS` in order (None where `counts` lacks it), then `extra`.

    Examples
    --------
    >>> level_stats({"hits": 2, "misses": 1}, entries=1)["evictions"] is None
    True
    """
    return {**{name: counts.get(name) for name in COUNTERS}, **extra}
