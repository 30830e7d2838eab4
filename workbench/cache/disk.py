"""L3: `DiskCache`, the persistent default level, on diskcache (SQLite index + files) with its expiry and tags."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import diskcache

from workbench.cache.codec import CorruptEntry, decode, encode
from workbench.cache.entry import Counters, Entry, level_stats
from workbench.logs import get_logger

log = get_logger(__name__)

#: Default bound of the on-disk cache (diskcache culls the least recently stored entries past it).
DEFAULT_SIZE_LIMIT = 2**30


class DiskCache:
    """L3: checksummed entries in a diskcache folder, shared by every process that opens the same folder.

    Expiry is diskcache's ``expire`` and invalidation by tag its ``evict(tag)``. A diskcache entry has a
    single tag, so an entry's whole tag set (e.g. ``["source:sample","symbol:SPY"]``) is that tag, and each
    distinct set is recorded in a small index (``tags/``, never culled); ``invalidate_tag("symbol:SPY")``
    evicts every recorded set that contains it.

    A corrupted entry (failed checksum, truncated file) is counted under ``corrupt``, deleted, and reported as a
    miss, so the caller refetches it. diskcache culls entries past `size_limit` without telling, so evictions
    and expirations are not counted (``None`` in `stats`); its own persistent hit and miss counters, summed
    over every process since the folder was created, are reported as ``lifetime_hits`` and
    ``lifetime_misses``.

    Parameters
    ----------
    directory
        The folder (created if missing), normally ``Settings.cache_path``.
    size_limit
        Approximate bound in bytes.

    Examples
    --------
    >>> l3 = DiskCache(tmp_path / "cache")  # doctest: +SKIP
    >>> l3.set("quote:SPY", Entry({"bid": 99.5}, frozenset({"symbol:SPY"}), expires_at=time.time() + 5))
    ... # doctest: +SKIP
    """

    name = "disk"

    def __init__(self, directory: str | os.PathLike[str], size_limit: int = DEFAULT_SIZE_LIMIT) -> None:
        self.directory = Path(directory)
        self.location = str(self.directory)
        self._cache = diskcache.Cache(str(self.directory), size_limit=size_limit, tag_index=True, statistics=True)
        self._tag_sets = diskcache.Index(str(self.directory / "tags"))
        self._counts = Counters("hits", "misses", "writes", "corrupt")

    def get(self, key: str) -> Entry | None:
        """The entry under `key`, or None if absent, expired or corrupted (then deleted)."""
        blob = self._cache.get(key)
        if blob is None:
            self._counts.incr("misses")
            return None
        try:
            entry = decode(blob)
        except CorruptEntry as exc:
            self._cache.delete(key)
            self._counts.incr("corrupt")
            self._counts.incr("misses")
            log.warning("cache entry corrupt, dropped", level=self.name, key=key, reason=str(exc))
            return None
        if entry.expires_at is not None and entry.expires_at <= time.time():
            self._counts.incr("misses")
            return None
        self._counts.incr("hits")
        return entry

    def set(self, key: str, entry: Entry) -> None:
        """Write `entry` with its remaining lifetime as diskcache's ``expire`` and its tag set as the tag."""
        ttl = entry.ttl(time.time())
        if ttl is not None and ttl <= 0:
            return
        tag_set = json.dumps(sorted(entry.tags), separators=(",", ":")) if entry.tags else None
        if tag_set is not None:
            self._tag_sets.setdefault(tag_set, True)  # recorded before the entry, so a tag can always find it
        self._cache.set(key, encode(entry), expire=ttl, tag=tag_set)
        self._counts.incr("writes")

    def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""
        return bool(self._cache.delete(key))

    def invalidate_tag(self, tag: str) -> int:
        """Evict every entry whose tag set contains `tag`; return how many were removed."""
        return sum(self._cache.evict(tag_set) for tag_set in list(self._tag_sets) if tag in json.loads(tag_set))

    def clear(self) -> int:
        """Remove every entry (and the record of tag sets); return how many entries there were."""
        count = self._cache.clear()
        self._tag_sets.clear()
        return count

    def stats(self) -> dict[str, int | None]:
        """This object's hits, misses, writes and corrupt entries; entries and bytes on disk; lifetime counts."""
        lifetime_hits, lifetime_misses = self._cache.stats()
        return level_stats(
            self._counts.snapshot(),
            entries=len(self._cache),
            bytes=int(self._cache.volume()),
            lifetime_hits=lifetime_hits,
            lifetime_misses=lifetime_misses,
        )

    def close(self) -> None:
        """Close the SQLite connections (the folder stays)."""
        self._cache.close()
        self._tag_sets.cache.close()
