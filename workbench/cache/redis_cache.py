"""L2: `RedisCache`, a cache shared between processes and machines, by URL (optional)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import TypeVar

from workbench.cache.codec import CorruptEntry, decode, encode
from workbench.cache.entry import Counters, Entry, level_stats
from workbench.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")

# Deletes a tag's members and the tag set in one atomic step, so an entry tagged while it runs is either
# deleted with the others or recorded in a fresh set for the next invalidation.
_INVALIDATE_TAG = """
local members = redis.call('SMEMBERS', KEYS[1])
local removed = 0
for i = 1, #members, 1000 do
    removed = removed + redis.call('UNLINK', unpack(members, i, math.min(i + 999, #members)))
end
redis.call('UNLINK', KEYS[1])
return removed
"""


class RedisCache:
    """L2: checksummed entries in Redis (``SET ... PX`` for expiry), tags as Redis sets.

    Keys are ``<prefix>e:<key>`` for entries and ``<prefix>t:<tag>`` for the set of keys carrying a tag; a tag
    set expires with the longest-lived entry in it (``PEXPIRE NX`` then ``GT``, Redis >= 7). Values are
    `workbench.cache.codec` bytes, never pickles. A key rewritten with other tags stays in its old tags' sets
    until they expire, so invalidating an old tag also drops it: one extra miss, never a stale hit (the
    workbench's own keys always keep their tags).

    Redis is optional and remote, so it must not take the workbench down: any Redis error is counted under
    ``errors``, logged once, and treated as a miss; Redis is then skipped for `retry_after` seconds. Redis
    expires and evicts keys on its own, so ``evictions`` and ``expirations`` cannot be counted per client
    (``None`` in `stats`; the server's ``INFO stats`` has ``expired_keys`` and ``evicted_keys`` for all clients).

    Parameters
    ----------
    url
        ``redis://[:password@]host:port/db``, normally ``Settings.redis_url``.
    prefix
        Namespace of every key this cache writes (`clear` removes exactly these).
    timeout
        Seconds to wait for a connection or a reply.
    retry_after
        Seconds to skip Redis after an error.

    Examples
    --------
    >>> l2 = RedisCache("redis://127.0.0.1:6379/0")  # doctest: +SKIP
    >>> l2.set("quote:SPY", Entry({"bid": 99.5}, frozenset({"symbol:SPY"}), expires_at=time.time() + 5))
    ... # doctest: +SKIP
    """

    name = "redis"

    def __init__(self, url: str, prefix: str = "workbench:", timeout: float = 1.0, retry_after: float = 30.0) -> None:
        import redis  # here, so `import workbench.cache` stays light when L2 is not configured

        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        kwargs = self._redis.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        self.location = f"redis://{where}/{kwargs.get('db', 0)} prefix {prefix!r}"  # no password
        self._invalidate_tag = self._redis.register_script(_INVALIDATE_TAG)
        self._redis_error = redis.RedisError
        self._retry_after = retry_after
        self._down_until = 0.0
        self._counts = Counters("hits", "misses", "writes", "corrupt", "errors")

    def get(self, key: str) -> Entry | None:
        """The entry under `key`, or None if absent, corrupted (then deleted) or Redis is unreachable."""
        blob = self._call(lambda: self._redis.get(self._entry_key(key)), None)
        if blob is None:
            self._counts.incr("misses")
            return None
        try:
            entry = decode(blob)
        except CorruptEntry as exc:
            self._call(lambda: self._redis.unlink(self._entry_key(key)), 0)
            self._counts.incr("corrupt")
            self._counts.incr("misses")
            log.warning("cache entry corrupt, dropped", level=self.name, key=key, reason=str(exc))
            return None
        self._counts.incr("hits")
        return entry

    def set(self, key: str, entry: Entry) -> None:
        """Write `entry` with its remaining lifetime and add `key` to the set of each of its tags."""
        ttl = entry.ttl(time.time())
        if ttl is not None and ttl <= 0:
            return
        ms = None if ttl is None else max(1, math.ceil(ttl * 1000))
        name = self._entry_key(key)
        blob = encode(entry)

        def write() -> bool:
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(name, blob, px=ms)
            for tag in entry.tags:
                tag_key = self._tag_key(tag)
                pipe.sadd(tag_key, name)
                if ms is None:
                    pipe.persist(tag_key)
                else:  # the set lives as long as its longest-lived member
                    pipe.pexpire(tag_key, ms, nx=True)
                    pipe.pexpire(tag_key, ms, gt=True)
            pipe.execute()
            return True

        if self._call(write, False):
            self._counts.incr("writes")

    def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""
        return bool(self._call(lambda: self._redis.unlink(self._entry_key(key)), 0))

    def invalidate_tag(self, tag: str) -> int:
        """Remove every entry tagged `tag` (atomically); return how many were removed."""
        return int(self._call(lambda: self._invalidate_tag(keys=[self._tag_key(tag)]), 0))

    def clear(self) -> int:
        """Remove every key under `prefix`; return how many entries there were."""

        def unlink_all() -> int:
            removed, batch = 0, []
            for name in self._redis.scan_iter(match=_glob_escape(self.prefix) + "*", count=1000):
                batch.append(name)
                if len(batch) == 1000:
                    removed += self._redis.unlink(*batch)
                    batch = []
            return removed + (self._redis.unlink(*batch) if batch else 0)

        before = self._count_entries()
        self._call(unlink_all, 0)
        return before or 0

    def stats(self) -> dict[str, int | None]:
        """This object's hits, misses, writes, corrupt entries and Redis errors; entries under the prefix."""
        return level_stats(self._counts.snapshot(), entries=self._count_entries(), bytes=None)

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()

    def _count_entries(self) -> int | None:
        """Entries under the prefix (a SCAN: O(keys) on the server), None if Redis is unreachable."""
        pattern = _glob_escape(self.prefix) + "e:*"
        return self._call(lambda: sum(1 for _ in self._redis.scan_iter(match=pattern, count=1000)), None)

    def _call(self, operation: Callable[[], T], fallback: T) -> T:
        """Run a Redis operation; on a Redis error count it, log it once, skip Redis for a while, return fallback."""
        if time.monotonic() < self._down_until:
            return fallback
        try:
            result = operation()
        except self._redis_error as exc:
            self._counts.incr("errors")
            if not self._down_until:
                log.warning("redis cache unavailable, skipping it", location=self.location, error=str(exc))
            self._down_until = time.monotonic() + self._retry_after
            return fallback
        if self._down_until:
            log.info("redis cache available again", location=self.location)
            self._down_until = 0.0
        return result

    def _entry_key(self, key: str) -> str:
        return f"{self.prefix}e:{key}"

    def _tag_key(self, tag: str) -> str:
        return f"{self.prefix}t:{tag}"


def _glob_escape(text: str) -> str:
    """`text` with Redis glob characters escaped, for SCAN MATCH."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
