"""`CachedSource`: any bar source behind a `TieredCache`, its history extended incrementally."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.cache.entry import Counters
from workbench.cache.tiered import TieredCache
from workbench.clock import SystemClock
from workbench.data.sources import (
    BarSource,
    DataSource,
    FolderSource,
    SampleSource,
    TimeBound,
    Timeframe,
    bars_in_range,
    describe_bound,
    time_bound,
    validated,
)
from workbench.data.validate import NanPolicy
from workbench.errors import DataNotFoundError

if TYPE_CHECKING:
    from workbench.clock import Clock

_NS = pd.Timedelta(1, "ns")


@dataclass(frozen=True)
class Coverage:
    """The time range a cached history holds every bar of, and when its newest part was fetched.

    Bars of the UTC day of `fetched_at` (today's bars, when fetched) may still have been forming: they are
    trusted for the ``today`` lifetime only; bars of earlier days for as long as the entry lives.

    Attributes
    ----------
    start
        First instant covered; None when covered from the source's first bar.
    end
        Last instant covered; None when the fetch reached the present (`fetched_at`).
    fetched_at
        When the newest part was fetched.
    """

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    fetched_at: pd.Timestamp

    def covered_until(self, now: pd.Timestamp, today_ttl: float) -> pd.Timestamp:
        """Last instant whose bars can be served from the cache at `now`."""
        if now < self.fetched_at + pd.Timedelta(seconds=today_ttl):
            return now if self.end is None else self.end
        closed = self.fetched_at.normalize() - _NS  # the days before the fetch had ended: their bars are final
        return min(closed, self.fetched_at if self.end is None else self.end)

    def to_meta(self) -> dict[str, int | None]:
        """JSON-friendly form (nanoseconds since the epoch) stored with the cached frame."""
        return {name: None if ts is None else ts.value for name, ts in vars(self).items()}

    @classmethod
    def from_meta(cls, meta: Any) -> Coverage | None:
        """Read `to_meta`'s form back; None if it is not that (an entry written by something else)."""
        try:
            start, end, fetched_at = (
                None if meta[k] is None else pd.Timestamp(int(meta[k]), tz="UTC")
                for k in ("start", "end", "fetched_at")
            )
        except (KeyError, TypeError, ValueError):
            return None
        return None if fetched_at is None else cls(start, end, fetched_at)


class CachedSource:
    """A `DataSource` serving validated bars from a `TieredCache`, asking its source only for missing dates.

    Per (source, symbol, timeframe, nan policy) the cache holds one frame and its `Coverage`. A request inside
    the coverage is served from the cache; otherwise the source is asked for the head (before the covered
    start) and/or the tail (after the last instant still valid) only. Each of these fetches starts (or ends)
    at the cached bar next to the gap: if the source now reports that bar differently (a split or dividend
    re-adjusted the history) or not at all, the cached copy is stale and the whole range is fetched again
    (counted in ``stats()["restatements"]``).

    Every fetched chunk passes `validate_bars` before it is merged, so bad data (NaN, non-positive prices,
    duplicate or unordered timestamps, ...) raises a `DataValidationError` naming the source (``source`` and
    the message's start), the symbol and the rule, and nothing of that request is cached. Closed days live for
    ``cache.policy.history``, today's bars for ``cache.policy.today`` (see `TTLPolicy`). Bars are never asked
    for beyond the clock's "now". Threads may share one `CachedSource`; two that miss the same history at once
    both fetch it, and the later write wins (both are complete and valid).

    Parameters
    ----------
    source
        A `DataSource` (asked for ranges through ``history``) or a plain `BarSource` (read whole and sliced).
    cache
        Where the histories live (see `cache_from_settings`).
    name
        The source in cache keys, tags (``source:<name>``) and errors: by default ``sample``, ``csv:<folder>``
        for a `FolderSource`, else ``repr(source)`` (which tells configurations apart).
    clock
        Supplies "now" (tests pass a frozen one); the system clock by default.

    Examples
    --------
    >>> bars = CachedSource(SampleSource(), cache_from_settings(settings))  # doctest: +SKIP
    >>> spy = bars.history("SPY", "2015-01-01", "2019-12-31")  # reads the source  # doctest: +SKIP
    >>> spy = bars.history("SPY", "2014-01-01", "2019-12-31")  # asks for 2014 only  # doctest: +SKIP
    >>> spy = wb.load("SPY", start="2016-01-01", source=bars)  # load takes any DataSource  # doctest: +SKIP
    """

    def __init__(
        self, source: BarSource, cache: TieredCache, *, name: str | None = None, clock: Clock | None = None
    ) -> None:
        self.source = source
        self.cache = cache
        self.name = name or source_name(source)
        self._clock = clock or SystemClock()
        self._counts = Counters("fetches", "rows_fetched", "restatements")

    def __repr__(self) -> str:
        return f"CachedSource({self.source!r}, name={self.name!r})"

    def symbols(self) -> list[str]:
        """The source's symbols (not cached: listing is cheap for files, and empty for network sources)."""
        return self.source.symbols()

    def read(self, symbol: str) -> pd.DataFrame:
        """All of `symbol`'s bars up to now (validated), through the cache."""
        return self.history(symbol)

    def history(
        self,
        symbol: str,
        start: TimeBound = None,
        end: TimeBound = None,
        timeframe: str | None = None,
        nan_policy: NanPolicy = "raise",
    ) -> pd.DataFrame:
        """Validated bars of `symbol` from `start` to `end` inclusive, from the cache where it has them.

        Parameters and errors are those of `DataSource.history`: `end` as a date alone covers that day; None
        bounds mean the first bar and now; ``attrs["symbol"]`` is the symbol as the source spells it.

        Raises
        ------
        DataValidationError
            A fetched chunk broke a rule of `validate_bars` (the message starts with the source's name).
        DataNotFoundError
            Unknown symbol, or no bars in the range.
        """
        lo, hi = time_bound(start, "start", whole_day=False), time_bound(end, "end", whole_day=True)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"start {start} is after end {end}")
        tf = None if timeframe is None else str(Timeframe.parse(timeframe))
        now = pd.Timestamp(self._clock.now()).tz_convert("UTC")
        upto = now if hi is None else min(hi, now)
        if lo is not None and lo > upto:
            raise DataNotFoundError(f"{self.name}: no bars for {symbol} from {describe_bound(lo, '')}: in the future")
        frame = self._cached(_Request(symbol, lo, upto, now, tf, nan_policy))
        out = bars_in_range(frame, frame.attrs.get("symbol", symbol), lo, upto)
        out.attrs = {"symbol": frame.attrs.get("symbol", symbol)}
        return out

    def key(self, symbol: str, timeframe: str | None = None, nan_policy: NanPolicy = "raise") -> str:
        """The cache key of a history, e.g. ``bars:sample:SPY:native:raise``."""
        tf = "native" if timeframe is None else str(Timeframe.parse(timeframe))
        return f"bars:{self.name}:{symbol.strip().upper()}:{tf}:{nan_policy}"

    def stats(self) -> dict[str, int]:
        """Source calls (``fetches``), bars they returned (``rows_fetched``) and ``restatements`` detected."""
        return self._counts.snapshot()

    def _cached(self, req: _Request) -> pd.DataFrame:
        """The history of the request's symbol covering lo..upto: cached, extended, or fetched (then stored)."""
        key = self.key(req.symbol, req.timeframe, req.nan_policy)
        entry = self.cache.get_entry(key)
        coverage = None if entry is None else Coverage.from_meta(entry.meta)
        if coverage is None or not isinstance(entry.value, pd.DataFrame) or entry.value.empty:
            update = self._fetch(req, req.lo, req.upto), Coverage(req.lo, req.open_end, req.now)
        else:
            update = self._extend(req, entry.value, coverage)
            if update is None:
                return entry.value
        frame, coverage = update
        tags = (f"symbol:{req.symbol.strip().upper()}", f"source:{self.name}")
        self.cache.set(key, frame, kind="history", tags=tags, meta=coverage.to_meta())
        return frame

    def _extend(self, req: _Request, frame: pd.DataFrame, cov: Coverage) -> tuple[pd.DataFrame, Coverage] | None:
        """Fetch what `req` needs beyond `cov` and merge it; None when nothing is missing."""
        until = cov.covered_until(req.now, self.cache.policy.today)
        need_head = cov.start is not None and (req.lo is None or req.lo < cov.start)
        need_tail = req.upto > until
        if not (need_head or need_tail):
            return None
        start = req.lo if need_head else cov.start
        merged: pd.DataFrame | None = frame
        if need_head:
            first = frame.index[0]
            merged = _splice(self._fetch(req, req.lo, first, required=False), frame, first)
        if need_tail and merged is not None:
            closed = merged.index[merged.index <= until]
            last = closed[-1] if len(closed) else None  # None: every cached bar was a stale bar of today
            merged = None if last is None else _splice(merged, self._fetch(req, last, req.upto, required=False), last)
        if merged is None:  # the source restated a bar we hold (or lost it): fetch everything again
            self._counts.incr("restatements")
            upto = max(req.upto, until)
            return self._fetch(req, start, upto), Coverage(start, None if upto == req.now else upto, req.now)
        if need_tail:
            return merged, Coverage(start, req.open_end, req.now)
        return merged, Coverage(start, cov.end, cov.fetched_at)

    def _fetch(
        self, req: _Request, lo: pd.Timestamp | None, hi: pd.Timestamp, required: bool = True
    ) -> pd.DataFrame | None:
        """Validated bars from the source, `lo` to `hi` inclusive; None for none when not `required`."""
        self._counts.incr("fetches")
        try:
            if isinstance(self.source, DataSource):
                raw = self.source.history(req.symbol, lo, hi, timeframe=req.timeframe, nan_policy=req.nan_policy)
                symbol = raw.attrs.get("symbol", req.symbol)
            else:
                canonical = {known.casefold(): known for known in self.source.symbols()}
                symbol = canonical.get(req.symbol.strip().casefold(), req.symbol)
                raw = self.source.read(symbol)
        except DataNotFoundError:
            if required:
                raise
            return None
        # validated again even from a DataSource: nothing unvalidated may reach the cache
        bars = validated(raw, symbol, self.name, req.nan_policy).loc[lo:hi]
        if bars.empty:
            if not required:
                return None
            wanted = f"from {describe_bound(lo, 'the start')} to {describe_bound(hi, 'now')}"
            raise DataNotFoundError(f"{self.name}: no bars for {symbol} {wanted}")
        bars.attrs = {"symbol": symbol}
        self._counts.incr("rows_fetched", len(bars))
        return bars


@dataclass(frozen=True)
class _Request:
    """One `history` call, its bounds parsed: `upto` is the end clipped to `now`."""

    symbol: str
    lo: pd.Timestamp | None
    upto: pd.Timestamp
    now: pd.Timestamp
    timeframe: str | None
    nan_policy: NanPolicy

    @property
    def open_end(self) -> pd.Timestamp | None:
        """The coverage end this request gives: None when it reaches now."""
        return None if self.upto == self.now else self.upto


def source_name(source: BarSource) -> str:
    """The name a source goes by in cache keys and tags: ``sample``, ``csv:<folder>``, else its repr.

    Examples
    --------
    >>> source_name(SampleSource())
    'sample'
    """
    if isinstance(source, SampleSource):
        return "sample"
    if isinstance(source, FolderSource):
        return f"csv:{source.path.resolve()}"
    return repr(source)


def _splice(older: pd.DataFrame | None, newer: pd.DataFrame | None, at: pd.Timestamp) -> pd.DataFrame | None:
    """`older`'s bars before `at`, then `newer`'s from `at` on, if both hold the same bar at `at`; else None.

    The bar at `at` is the overlap of a fetch with the cache: a difference there means the source restated it.
    """
    if older is None or newer is None or at not in older.index or at not in newer.index:
        return None
    if list(older.columns) != list(newer.columns) or not older.loc[[at]].equals(newer.loc[[at]]):
        return None
    merged = pd.concat([older[older.index < at], newer[newer.index >= at]])
    merged.attrs = dict(newer.attrs)
    return merged
