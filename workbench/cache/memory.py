"""L1: `MemoryCache`, an in-process, size-bounded, per-entry-TTL cache (cachetools' TLRU) with tags."""

from __future__ import annotations

import copy
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd
from cachetools import TLRUCache

from workbench.cache.entry import Counters, Entry, level_stats

#: Default bound of the in-process cache.
DEFAULT_MAX_BYTES = 512 * 2**20


class MemoryCache:
    """L1: entries in this process, least recently used evicted once their total size passes `max_bytes`.

    Values are kept as objects (no serialization), so a hit costs a dictionary lookup and a shallow copy: a
    DataFrame is handed out as ``frame.copy(deep=False)``, which pandas' copy-on-write keeps independent of
    the cached one (other values are deep-copied). Sizes are ``DataFrame.memory_usage(deep=True)`` for frames
    and ``sys.getsizeof`` (shallow, so approximate) for anything else.

    Parameters
    ----------
    max_bytes
        Size bound; an entry larger than this is not cached at all.
    timer
        Wall clock in epoch seconds, compared with ``Entry.expires_at`` (tests pass a fake one).

    Examples
    --------
    >>> l1 = MemoryCache(max_bytes=2**20)
    >>> l1.set("quote:SPY", Entry({"bid": 99.5}, frozenset({"symbol:SPY"})))
    >>> l1.get("quote:SPY").value, l1.invalidate_tag("symbol:SPY"), l1.get("quote:SPY")
    ({'bid': 99.5}, 1, None)
    """

    name = "memory"

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, timer: Callable[[], float] = time.time) -> None:
        self.location = f"in-process, at most {max_bytes / 2**20:,.1f} MiB"
        self._max_bytes, self._timer = max_bytes, timer
        self._lock = threading.RLock()
        self._counts = Counters("hits", "misses", "writes", "evictions", "expirations")
        self._tags_of: dict[str, frozenset[str]] = {}
        self._keys_by_tag: dict[str, set[str]] = {}
        self._lru = _TLRU(max_bytes, timer, self._forget)

    def get(self, key: str) -> Entry | None:
        """The entry under `key` (its value copied), or None if absent or expired."""
        with self._lock:
            entry = self._lru.get(key)
        if entry is None:
            self._counts.incr("misses")
            return None
        self._counts.incr("hits")
        return replace(entry, value=_private(entry.value), meta=dict(entry.meta))

    def set(self, key: str, entry: Entry) -> None:
        """Store a private copy of `entry`; evict least recently used entries to stay under the bound."""
        stored = replace(entry, value=_private(entry.value), meta=dict(entry.meta))
        with self._lock:
            self._unindex(key)
            try:
                self._lru[key] = stored
            except ValueError:  # larger than max_bytes on its own: not cached
                self._lru.pop(key, None)
                return
            if key not in self._lru:  # already expired: TLRUCache did not store it
                return
            self._tags_of[key] = stored.tags
            for tag in stored.tags:
                self._keys_by_tag.setdefault(tag, set()).add(key)
        self._counts.incr("writes")

    def delete(self, key: str) -> bool:
        """Remove `key`; True if a live entry was there."""
        with self._lock:
            self._unindex(key)
            try:
                del self._lru[key]
            except KeyError:  # absent, or expired (TLRUCache removes it and raises)
                return False
            return True

    def invalidate_tag(self, tag: str) -> int:
        """Remove every entry tagged `tag`; return how many live ones were removed."""
        with self._lock:
            keys = list(self._keys_by_tag.get(tag, ()))
            return sum(self.delete(key) for key in keys)

    def clear(self) -> int:
        """Remove every entry; return how many there were."""
        with self._lock:
            self._lru.expire()
            count = len(self._lru)
            # a new TLRU rather than .clear(), which pops item by item and would count evictions
            self._lru = _TLRU(self._max_bytes, self._timer, self._forget)
            self._tags_of.clear()
            self._keys_by_tag.clear()
            return count

    def stats(self) -> dict[str, int | None]:
        """Hits, misses, writes, evictions (size bound) and expirations of this object; live entries and bytes."""
        with self._lock:
            self._lru.expire()
            return level_stats(self._counts.snapshot(), entries=len(self._lru), bytes=int(self._lru.currsize))

    def close(self) -> None:
        """Drop every entry (nothing else to release)."""
        self.clear()

    def _forget(self, key: str, reason: str) -> None:
        """TLRU callback: `key` was evicted or expired."""
        self._counts.incr(reason)
        self._unindex(key)

    def _unindex(self, key: str) -> None:
        for tag in self._tags_of.pop(key, ()):
            keys = self._keys_by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_by_tag[tag]


class _TLRU(TLRUCache):
    """cachetools' TLRU cache reporting each eviction and expiry to a callback (for counters and tag index)."""

    def __init__(self, max_bytes: int, timer: Callable[[], float], forget: Callable[[str, str], None]) -> None:
        super().__init__(max_bytes, ttu=_expires, timer=timer, getsizeof=_sizeof)
        self._forget = forget

    def popitem(self) -> tuple[str, Entry]:
        key, entry = super().popitem()
        self._forget(key, "evictions")
        return key, entry

    def expire(self, time: float | None = None) -> list[tuple[str, Entry]]:
        expired = list(super().expire(time))
        for key, _ in expired:
            self._forget(key, "expirations")
        return expired


def _expires(key: str, entry: Entry, now: float) -> float:
    """TLRU time-to-use: the entry's own expiry (wall clock), or never."""
    return math.inf if entry.expires_at is None else entry.expires_at


def _sizeof(entry: Entry) -> int:
    value = entry.value
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=True, deep=True).sum())
    return sys.getsizeof(value)


def _private(value: Any) -> Any:
    """A copy the caller may modify without touching the cached value (cheap for frames: copy-on-write)."""
    return value.copy(deep=False) if isinstance(value, pd.DataFrame) else copy.deepcopy(value)
