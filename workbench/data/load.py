"""`load`: validated bars for one or several symbols from a named source, sliced to a time range."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from workbench.data._failures import format_timestamp
from workbench.data.bars import Bars
from workbench.data.sources import BarSource, FolderSource, SampleSource
from workbench.data.validate import NanPolicy, validate_bars
from workbench.errors import DataNotFoundError

#: Source names `load` accepts.
SOURCES: tuple[str, ...] = ("sample", "csv", "yfinance", "alpaca")

TimeBound = str | date | datetime | pd.Timestamp | None


def load(
    symbols: str | Sequence[str],
    start: TimeBound = None,
    end: TimeBound = None,
    source: str | BarSource = "sample",
    path: str | os.PathLike[str] | None = None,
    nan_policy: NanPolicy = "raise",
) -> pd.DataFrame | Bars:
    """Load validated bars for one symbol (a DataFrame) or several (`Bars`), from `start` to `end` inclusive.

    Parameters
    ----------
    symbols : str or sequence of str
        ``"SPY"`` gives a DataFrame; ``["SPY", "QQQ"]`` or ``"SPY,QQQ"`` (any string with a comma) gives
        `Bars`. Case is ignored; repeated symbols are loaded once.
    start, end : str, datetime.date, datetime.datetime or pandas.Timestamp, optional
        Inclusive bounds; naive values are UTC. An `end` given as a date alone (a `datetime.date`, or a string
        without a time of day such as ``"2011-01-31"``) includes that whole day, intraday bars too.
    source : {"sample", "csv", "yfinance", "alpaca"} or BarSource
        ``"sample"``: the bundled data (`SampleSource`); ``"csv"``: a folder of ``SYMBOL.csv``, ``.csv.gz`` or
        ``.parquet`` files given by `path` (`FolderSource`); or any object with ``symbols()`` and ``read()``.
    path : str or os.PathLike, optional
        The folder for ``source="csv"`` (and only for it).
    nan_policy : {"raise", "drop", "ffill"}
        How `validate_bars` treats NaN; validation always runs.

    Returns
    -------
    pandas.DataFrame or Bars
        Canonical bars (see `workbench.data.schema`).

    Raises
    ------
    DataNotFoundError
        Unknown symbol (the message lists available ones), missing folder, or no bars in the range.
    DataValidationError
        The bars break a rule of `validate_bars`.
    ValueError
        Unknown source, ``"csv"`` without `path`, a bound that is not a time, or `start` after `end`.
    NotImplementedError
        ``"yfinance"`` and ``"alpaca"``, whose connectors are not there yet.

    Examples
    --------
    >>> spy = load("SPY", start="2020-01-01", end="2020-01-31")
    >>> len(spy), spy.index[0].isoformat()
    (21, '2020-01-02T00:00:00+00:00')
    >>> load("SPY,QQQ", start="2020-01-01").symbols
    ['SPY', 'QQQ']
    """
    names = _parse_symbols(symbols)
    bar_source = _open_source(source, path)
    lo = _bound(start, "start", whole_day=False)
    hi = _bound(end, "end", whole_day=True)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"start {start} is after end {end}")
    canonical = {name.casefold(): name for name in bar_source.symbols()}
    origin = _origin(source, path, lo, hi, nan_policy)
    frames: dict[str, pd.DataFrame] = {}
    for name in names:
        symbol = canonical.get(name.casefold(), name)
        bars = validate_bars(bar_source.read(symbol), symbol=symbol, nan_policy=nan_policy)
        sliced = bars.loc[lo:hi]
        if sliced.empty:
            covered = f"{format_timestamp(bars.index[0])} .. {format_timestamp(bars.index[-1])}"
            wanted = f"from {'the start' if start is None else start} to {'the end' if end is None else end}"
            raise DataNotFoundError(f"{symbol}: no bars {wanted}; the data covers {covered}")
        sliced.attrs["symbol"] = symbol  # sweeps and reports label a single frame by it
        if origin is not None:
            sliced.attrs["origin"] = origin  # run records reload the same bars from it
        frames[symbol] = sliced
    if isinstance(symbols, str) and "," not in symbols:
        return frames[next(iter(frames))]
    return Bars(frames)


def _origin(
    source: str | BarSource,
    path: str | os.PathLike[str] | None,
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
    nan_policy: str,
) -> dict[str, str | None] | None:
    """The ``load`` arguments that give these bars again (None for a custom ``BarSource`` object)."""
    if not isinstance(source, str):
        return None
    return {
        "source": source,
        "path": None if path is None else str(Path(path).expanduser().resolve()),
        "start": None if lo is None else lo.isoformat(),
        "end": None if hi is None else hi.isoformat(),
        "nan_policy": nan_policy,
    }


def _parse_symbols(symbols: str | Sequence[str]) -> list[str]:
    """Split ``"SPY,QQQ"`` or a sequence into stripped, non-empty names."""
    names = [name.strip() for name in (symbols.split(",") if isinstance(symbols, str) else symbols)]
    if not any(names):
        raise ValueError(f"no symbol given: {symbols!r}")
    return [name for name in names if name]


def _open_source(source: str | BarSource, path: str | os.PathLike[str] | None) -> BarSource:
    """Return the `BarSource` a `load` call names."""
    if source in ("yfinance", "alpaca"):
        raise NotImplementedError(f"source={source!r}: this connector arrives later (issue #7); use 'sample' or 'csv'")
    if isinstance(source, str) and source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)} or a BarSource")
    if source == "csv":
        if path is None:
            raise ValueError("source='csv' needs path=<folder of SYMBOL.csv, SYMBOL.csv.gz or SYMBOL.parquet files>")
        return FolderSource(path)
    if path is not None:
        raise ValueError(f"path={str(path)!r} is only read by source='csv', not by source={source!r}")
    return SampleSource() if isinstance(source, str) else source


def _bound(value: TimeBound, name: str, whole_day: bool) -> pd.Timestamp | None:
    """Parse a `load` bound to UTC; with `whole_day`, a date alone stands for the last instant of that day."""
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
