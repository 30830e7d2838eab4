"""Where bars come from: the `DataSource` interface every source implements, the vocabulary its requests share
(timeframes, time bounds, retries), and the local sources: the bundled sample and a folder of CSV/Parquet files.

`BarSource` is the minimal interface (``symbols()``, ``read(symbol)``: raw-but-normalized bars). `DataSource`
adds ``history(symbol, start, end, timeframe)``, which returns validated canonical bars for a range and names
the source in any `DataValidationError`; a `StreamingSource` also streams live bars. The network sources are
`workbench.data.yahoo.YahooSource` and `workbench.data.alpaca.AlpacaDataSource`.

>>> SampleSource().history("SPY", start="2020-01-02", end="2020-01-03")["close"].tolist()
[324.87, 322.41]
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar, runtime_checkable

import pandas as pd

from workbench.data._failures import format_timestamp
from workbench.data.schema import normalize_columns
from workbench.data.validate import NanPolicy, validate_bars
from workbench.errors import DataNotFoundError, DataValidationError, WorkbenchError

if TYPE_CHECKING:
    from workbench.data.feeds import DataFeed

#: Supported bar file suffixes; when one folder holds a symbol in several formats the first suffix wins.
SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".csv.gz")
# How many available symbols an unknown-symbol error lists.
_LISTED_SYMBOLS = 10

#: What `time_bound` accepts: a date or time as text, `datetime.date`, `datetime.datetime` or `pandas.Timestamp`.
TimeBound = str | date | datetime | pd.Timestamp | None

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@runtime_checkable
class BarSource(Protocol):
    """Anything that lists symbols and reads one symbol's bars as a normalized (not yet validated) frame."""

    def symbols(self) -> list[str]:
        """Return the symbols this source can read, sorted."""
        ...

    def read(self, symbol: str) -> pd.DataFrame:
        """Return `symbol`'s bars, normalized; raise `DataNotFoundError` for an unknown symbol."""
        ...


@runtime_checkable
class DataSource(BarSource, Protocol):
    """A `BarSource` that also answers range requests with validated bars: what `load` asks every source for.

    Network sources cannot list their universe: their ``symbols()`` is empty and ``read(symbol)`` fetches the
    default range (see each source).
    """

    def history(
        self,
        symbol: str,
        start: TimeBound = None,
        end: TimeBound = None,
        timeframe: str | None = None,
        nan_policy: NanPolicy = "raise",
    ) -> pd.DataFrame:
        """Return `symbol`'s validated canonical bars from `start` to `end` inclusive (see `time_bound`).

        `timeframe` is a `Timeframe` text such as ``"1Day"`` or ``"5Min"``; None means the source's own: what
        a file holds, daily bars for a network source. ``attrs["symbol"]`` of the result is the symbol as the
        source spells it. Raises `DataNotFoundError` (unknown symbol, no bars in the range) and
        `DataValidationError` naming the source and the symbol.
        """
        ...


@runtime_checkable
class StreamingSource(DataSource, Protocol):
    """A `DataSource` that also streams live bars."""

    def stream(self, symbols: Sequence[str], since: TimeBound = None) -> DataFeed:
        """Return a live `DataFeed` of `symbols`' bars: each bar once, in time order, gaps backfilled."""
        ...


_UNITS = {
    "min": "Min",
    "m": "Min",
    "minute": "Min",
    "h": "Hour",
    "hour": "Hour",
    "d": "Day",
    "day": "Day",
    "w": "Week",
    "wk": "Week",
    "week": "Week",
    "mo": "Month",
    "month": "Month",
}
_UNIT_DELTAS = {"Min": pd.Timedelta(minutes=1), "Hour": pd.Timedelta(hours=1), "Day": pd.Timedelta(days=1)}


@dataclass(frozen=True)
class Timeframe:
    """A bar length: `amount` of `unit` (``"Min"``, ``"Hour"``, ``"Day"``, ``"Week"`` or ``"Month"``).

    Written as Alpaca writes it (``"5Min"``, ``"1Hour"``, ``"1Day"``); `parse` also reads Yahoo's spelling
    (``"5m"``, ``"1h"``, ``"1d"``, ``"1wk"``, ``"1mo"``).

    Examples
    --------
    >>> tf = Timeframe.parse("5m")
    >>> str(tf), tf.intraday, tf.delta
    ('5Min', True, Timedelta('0 days 00:05:00'))
    """

    amount: int
    unit: Literal["Min", "Hour", "Day", "Week", "Month"]

    @classmethod
    def parse(cls, text: str | Timeframe) -> Timeframe:
        """Read ``"<n><unit>"``; ValueError naming the text and the accepted units otherwise."""
        if isinstance(text, Timeframe):
            return text
        match = re.fullmatch(r"\s*(\d+)\s*([a-z]+?)s?\s*", str(text).lower())
        if match is None or match.group(2) not in _UNITS or int(match.group(1)) < 1:
            raise ValueError(
                f"timeframe={text!r}: expected <n><unit> with unit Min, Hour, Day, Week or Month "
                "(or m, h, d, wk, mo), for example '1Day' or '5Min'"
            )
        return cls(int(match.group(1)), _UNITS[match.group(2)])  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def intraday(self) -> bool:
        """True for minute and hour bars (stamped with their start time, not a session date)."""
        return self.unit in ("Min", "Hour")

    @property
    def delta(self) -> pd.Timedelta | None:
        """The bar length as a `pandas.Timedelta` (None for months, whose length varies)."""
        if self.unit == "Week":
            return pd.Timedelta(weeks=self.amount)
        unit = _UNIT_DELTAS.get(self.unit)
        return None if unit is None else unit * self.amount


def time_bound(value: TimeBound, name: str, whole_day: bool) -> pd.Timestamp | None:
    """Parse a range bound to UTC (naive means UTC); with `whole_day`, a date alone means its last instant.

    A date alone is a `datetime.date` or text without a time of day (``"2020-01-31"``), so an end bound of
    ``"2020-01-31"`` includes that day's intraday bars. ValueError names the bound when it is not a time.

    Examples
    --------
    >>> time_bound("2020-01-31", "end", whole_day=True)
    Timestamp('2020-01-31 23:59:59.999999999+0000', tz='UTC')
    """
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={value!r} is not a date or time") from exc
    if ts is pd.NaT:
        raise ValueError(f"{name}={value!r} is not a date or time")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    date_only = (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and ":" not in value
    )
    return ts + pd.Timedelta(days=1) - pd.Timedelta(1, "ns") if whole_day and date_only else ts


def bars_in_range(
    bars: pd.DataFrame, symbol: str, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> pd.DataFrame:
    """Return the rows of validated `bars` from `start` to `end` inclusive (UTC, None = open).

    Raises `DataNotFoundError` naming `symbol`, the range and what the data covers when no row is left.
    """
    sliced = bars.loc[start:end]
    if sliced.empty:
        covered = f"{format_timestamp(bars.index[0])} .. {format_timestamp(bars.index[-1])}"
        wanted = f"from {describe_bound(start, 'the start')} to {describe_bound(end, 'the end')}"
        raise DataNotFoundError(f"{symbol}: no bars {wanted}; the data covers {covered}")
    return sliced


def describe_bound(bound: pd.Timestamp | None, open_end: str) -> str:
    """A parsed bound for a message: its date at midnight or at a day's last instant, else its time.

    Examples
    --------
    >>> describe_bound(time_bound("2020-01-31", "end", whole_day=True), "the end")
    '2020-01-31'
    """
    if bound is None:
        return open_end
    day_end = bound + pd.Timedelta(1, "ns")
    return format_timestamp(day_end - pd.Timedelta(days=1) if day_end == day_end.normalize() else bound)


def validated(raw: pd.DataFrame, symbol: str, source: str, nan_policy: NanPolicy = "raise") -> pd.DataFrame:
    """`validate_bars` for bars from `source`: a `DataValidationError` names the source, then the symbol.

    The error keeps ``symbol``, ``rule``, ``count`` and ``failures`` and gains ``source``.

    Examples
    --------
    >>> raw = SampleSource().read("SPY").iloc[:3]
    >>> try:
    ...     validated(raw.iloc[::-1], "SPY", source="sample")
    ... except DataValidationError as err:
    ...     print(err.source, err.rule)
    sample unsorted
    """
    try:
        return validate_bars(raw, symbol=symbol, nan_policy=nan_policy)
    except DataValidationError as err:
        named = DataValidationError(f"{source}: {err}")
        vars(named).update(vars(err), source=source)
        raise named from None


@dataclass(frozen=True)
class RetryPolicy:
    """How a network source retries transient failures (dropped connections, timeouts, rate limits).

    Up to `attempts` tries in all; before try n+1 it waits ``backoff * 2**(n-1)`` seconds, capped at
    `max_backoff`, plus up to `backoff` of random jitter, so clients failing together do not retry in step.
    Errors that cannot heal (bad symbol, bad keys) are never retried.

    Examples
    --------
    >>> RetryPolicy(attempts=2, backoff=0.0).call(lambda: 42, transient=lambda e: True, what="demo")
    42
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_backoff < self.backoff:
            raise ValueError(f"{self}: needs attempts >= 1 and 0 <= backoff <= max_backoff")

    def call(self, fn: Callable[[], _T], transient: Callable[[BaseException], bool], what: str) -> _T:
        """Return ``fn()``, retrying while `transient` says the error may heal.

        After the last attempt a transient error becomes a `WorkbenchError` naming `what` and the attempts;
        any other error propagates at once.
        """
        import tenacity  # only network sources retry; loading bundled or local files never imports it

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=tenacity.wait_exponential(multiplier=self.backoff, max=self.max_backoff)
            + tenacity.wait_random(0, self.backoff),
            retry=tenacity.retry_if_exception(transient),
            before_sleep=lambda state: _log.warning(
                "%s: attempt %d failed (%s); retrying", what, state.attempt_number, state.outcome.exception()
            ),
            reraise=True,
        )
        try:
            return retrying(fn)
        except Exception as exc:
            if not transient(exc):
                raise
            raise WorkbenchError(f"{what}: failed {self.attempts} times, last: {type(exc).__name__}: {exc}") from exc


def read_bar_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read one ``.csv``, ``.csv.gz`` or ``.parquet`` bar file and normalize its columns.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Its name without the suffix is the symbol used in error messages.

    Returns
    -------
    pandas.DataFrame
        Normalized bars (see `workbench.data.schema`), not yet validated.

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    ValueError
        If the suffix is not one of `SUFFIXES`.

    Examples
    --------
    >>> bars = read_bar_file("prices/SPY.csv")  # doctest: +SKIP
    >>> bars.columns.tolist()  # doctest: +SKIP
    ['open', 'high', 'low', 'close', 'volume', 'adj_close']
    """
    file = Path(path)
    split = _split_name(file.name)
    if split is None:
        raise ValueError(f"unsupported bar file {file}: expected a name ending in {', '.join(SUFFIXES)}")
    if not file.is_file():
        raise DataNotFoundError(f"bar file not found: {file}")
    raw = pd.read_parquet(file) if split[1] == ".parquet" else pd.read_csv(file)
    return normalize_columns(raw, symbol=split[0])


class _StoredBars:
    """`DataSource.history` for sources whose `read` returns a symbol's whole stored series."""

    #: How validation errors name this source.
    source_name = "file"

    def history(
        self,
        symbol: str,
        start: TimeBound = None,
        end: TimeBound = None,
        timeframe: str | None = None,
        nan_policy: NanPolicy = "raise",
    ) -> pd.DataFrame:
        """Return `symbol`'s validated bars from `start` to `end` inclusive (see `DataSource.history`).

        The bars are the stored ones: a `timeframe` other than theirs is a ValueError (nothing is resampled).
        """
        lo, hi = time_bound(start, "start", whole_day=False), time_bound(end, "end", whole_day=True)
        name = find_symbol(symbol, self.symbols(), where=self.source_name)
        bars = validated(self.read(name), name, self.source_name, nan_policy)
        if timeframe is not None:
            _check_stored_timeframe(bars, Timeframe.parse(timeframe), name, self.source_name)
        sliced = bars_in_range(bars, name, lo, hi)
        sliced.attrs["symbol"] = name
        return sliced


def _check_stored_timeframe(bars: pd.DataFrame, wanted: Timeframe, symbol: str, source: str) -> None:
    """ValueError unless the smallest step between `bars` equals `wanted`'s length."""
    steps = bars.index.to_series().diff().dropna()
    stored = steps.min() if len(steps) else None
    if stored != wanted.delta:
        held = "a single bar" if stored is None else f"bars {_step_text(stored)} apart"
        raise ValueError(f"{source}: {symbol} holds {held}, not {wanted} bars; stored bars are not resampled")


def _step_text(delta: pd.Timedelta) -> str:
    """A step in the largest whole unit: ``1 day``, ``5 minutes``, ``90 seconds``."""
    for unit, length in (
        ("day", pd.Timedelta(days=1)),
        ("hour", pd.Timedelta(hours=1)),
        ("minute", pd.Timedelta(minutes=1)),
    ):
        if delta >= length and delta % length == pd.Timedelta(0):
            count = delta // length
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{delta.total_seconds():g} seconds"


class FolderSource(_StoredBars):
    """Bars from a folder with one file per symbol: ``SYMBOL.csv``, ``SYMBOL.csv.gz`` or ``SYMBOL.parquet``.

    Symbols are the file names without the suffix, looked up case-insensitively. If a symbol has files in
    several formats, ``.parquet`` is read before ``.csv`` before ``.csv.gz``.

    Parameters
    ----------
    path : str or os.PathLike
        The folder; it must exist (else `DataNotFoundError` naming it).

    Examples
    --------
    >>> source = FolderSource("prices/")  # doctest: +SKIP
    >>> source.read("spy").index.name  # doctest: +SKIP
    'timestamp'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataNotFoundError(f"data folder not found: {self.path}")
        self.source_name = f"csv folder {self.path}"

    def __repr__(self) -> str:
        return f"FolderSource({str(self.path)!r})"

    def symbols(self) -> list[str]:
        """Return the symbols with a bar file in the folder, sorted."""
        return sorted(self._files())

    def read(self, symbol: str) -> pd.DataFrame:
        """Return `symbol`'s normalized bars; `DataNotFoundError` (listing symbols) if there is no file."""
        files_by_symbol = self._files()
        return read_bar_file(files_by_symbol[find_symbol(symbol, files_by_symbol, where=str(self.path))])

    def _files(self) -> dict[str, Path]:
        """Map each symbol to its file, preferring suffixes in `SUFFIXES` order."""
        ranked: dict[str, tuple[int, Path]] = {}
        for entry in self.path.iterdir():
            split = _split_name(entry.name)
            if split is not None and entry.is_file():
                rank = SUFFIXES.index(split[1])
                if split[0] not in ranked or rank < ranked[split[0]][0]:
                    ranked[split[0]] = (rank, entry)
        return {symbol: entry for symbol, (_, entry) in ranked.items()}


class SampleSource(_StoredBars):
    """The bars bundled with the workbench (see ``data/README.md``), read from the installed package.

    Symbols are the 38 daily symbols (``SPY``, ``AAPL``, ...; with ``adj_close``) and ``SPY_1min``: the SPY
    1-minute bars of January and March 2011 concatenated (31,757 rows, UTC, pre- and post-market included).
    Lookup is case-insensitive.

    Examples
    --------
    >>> len(SampleSource().read("SPY"))
    6642
    >>> len(SampleSource().read("spy_1min"))
    31757
    """

    source_name = "the bundled sample"

    def __init__(self) -> None:
        self._root = files("workbench.data") / "sample"

    def __repr__(self) -> str:
        return "SampleSource()"

    def symbols(self) -> list[str]:
        """Return the bundled symbols, sorted (the daily ones and ``SPY_1min``)."""
        return sorted(self._files())

    def read(self, symbol: str) -> pd.DataFrame:
        """Return `symbol`'s normalized bars; `DataNotFoundError` (listing symbols) if it is not bundled."""
        files_by_symbol = self._files()
        parts = files_by_symbol[find_symbol(symbol, files_by_symbol, where="the bundled sample")]
        return pd.concat([_read_resource(part) for part in parts])

    def _files(self) -> dict[str, list[Traversable]]:
        """Map each symbol to its files: ``daily/SYMBOL.csv``, or ``intraday/SYMBOL_<month>.csv`` in order."""
        table = {entry.name.removesuffix(".csv"): [entry] for entry in _csv_files(self._root / "daily")}
        for entry in sorted(_csv_files(self._root / "intraday"), key=lambda e: e.name):
            table.setdefault(entry.name.removesuffix(".csv").rsplit("_", 1)[0], []).append(entry)
        return table


def find_symbol(symbol: str, available: Iterable[str], where: str) -> str:
    """Return the entry of `available` equal to `symbol` ignoring case, else raise `DataNotFoundError`.

    The error names `where`, the closest matches and the first few available symbols.

    Examples
    --------
    >>> find_symbol("spy", ["QQQ", "SPY"], where="my folder")
    'SPY'
    """
    by_key = {name.casefold(): name for name in available}
    key = symbol.strip().casefold()
    if key in by_key:
        return by_key[key]
    names = sorted(by_key.values())
    closest = [by_key[k] for k in difflib.get_close_matches(key, by_key, n=3, cutoff=0.6)]
    listed = ", ".join(names[:_LISTED_SYMBOLS]) + (", ..." if len(names) > _LISTED_SYMBOLS else "")
    hint = f"; closest: {', '.join(closest)}" if closest else ""
    raise DataNotFoundError(f"unknown symbol {symbol!r} in {where}{hint}; available ({len(names)}): {listed or 'none'}")


def _split_name(name: str) -> tuple[str, str] | None:
    """Split a file name into (symbol, suffix) for a suffix in `SUFFIXES` (any case), else None."""
    lower = name.lower()
    for suffix in SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return None


def _csv_files(folder: Traversable) -> list[Traversable]:
    """The ``.csv`` files directly inside a package-data folder."""
    return [entry for entry in folder.iterdir() if entry.is_file() and entry.name.endswith(".csv")]


def _read_resource(resource: Traversable) -> pd.DataFrame:
    """Read a package-data bar file, extracting it to a temporary file first if the package is zipped."""
    with as_file(resource) as path:
        return read_bar_file(path)
