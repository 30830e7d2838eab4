"""`load`: validated bars for one or several symbols from a named source, sliced to a time range."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from workbench.data.bars import Bars
from workbench.data.sources import (
    BarSource,
    DataSource,
    FolderSource,
    SampleSource,
    TimeBound,
    bars_in_range,
    time_bound,
)
from workbench.data.validate import NanPolicy, validate_bars

#: Source names `load` accepts.
SOURCES: tuple[str, ...] = ("sample", "csv", "yfinance", "alpaca")


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
    source : {"sample", "csv", "yfinance", "alpaca"}, DataSource or BarSource
        ``"sample"``: the bundled data (`SampleSource`); ``"csv"``: a folder of ``SYMBOL.csv``, ``.csv.gz`` or
        ``.parquet`` files given by `path` (`FolderSource`); ``"yfinance"``: Yahoo Finance daily bars, OHLC
        as Yahoo quotes them plus ``adj_close`` (`YahooSource` with ``adjusted=False``); ``"alpaca"``: Alpaca
        daily bars, split-adjusted, with the keys from the settings (`AlpacaDataSource.from_settings`). Or
        any source object: a `DataSource` is asked for the range (``history``), a plain `BarSource` is read
        whole and sliced. Configure a source object for other choices (adjusted prices, another feed).
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
        Unknown symbol (the message lists available ones where the source can), missing folder, or no bars
        in the range.
    DataValidationError
        The bars break a rule of `validate_bars`; the message names the source and the symbol.
    ConfigError
        ``"alpaca"`` without keys in the settings, or keys Alpaca rejects.
    WorkbenchError
        A network source still failing after its retries.
    ValueError
        Unknown source, ``"csv"`` without `path`, a bound that is not a time, or `start` after `end`.

    Examples
    --------
    >>> spy = load("SPY", start="2020-01-01", end="2020-01-31")
    >>> len(spy), spy.index[0].isoformat()
    (21, '2020-01-02T00:00:00+00:00')
    >>> load("SPY,QQQ", start="2020-01-01").symbols
    ['SPY', 'QQQ']
    """
    names = _parse_symbols(symbols)
    lo = time_bound(start, "start", whole_day=False)
    hi = time_bound(end, "end", whole_day=True)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"start {start} is after end {end}")
    bar_source = _open_source(source, path)
    origin = _origin(source, path, lo, hi, nan_policy)
    frames: dict[str, pd.DataFrame] = {}
    for name in names:
        sliced = _read_range(bar_source, name, lo, hi, nan_policy)
        symbol = sliced.attrs.setdefault("symbol", name)  # sweeps and reports label a single frame by it
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


def _read_range(
    source: BarSource, name: str, lo: pd.Timestamp | None, hi: pd.Timestamp | None, nan_policy: NanPolicy
) -> pd.DataFrame:
    """One symbol's validated bars in range, from a `DataSource` (asked for the range) or a `BarSource`."""
    if isinstance(source, DataSource):
        return source.history(name, lo, hi, nan_policy=nan_policy)
    canonical = {known.casefold(): known for known in source.symbols()}
    symbol = canonical.get(name.casefold(), name)
    sliced = bars_in_range(validate_bars(source.read(symbol), symbol=symbol, nan_policy=nan_policy), symbol, lo, hi)
    sliced.attrs["symbol"] = symbol
    return sliced


def _parse_symbols(symbols: str | Sequence[str]) -> list[str]:
    """Split ``"SPY,QQQ"`` or a sequence into stripped, non-empty names."""
    names = [name.strip() for name in (symbols.split(",") if isinstance(symbols, str) else symbols)]
    if not any(names):
        raise ValueError(f"no symbol given: {symbols!r}")
    return [name for name in names if name]


def _open_source(source: str | BarSource, path: str | os.PathLike[str] | None) -> BarSource:
    """Return the source a `load` call names (the network connectors are imported only when named)."""
    if isinstance(source, str) and source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)} or a BarSource")
    if source == "csv":
        if path is None:
            raise ValueError("source='csv' needs path=<folder of SYMBOL.csv, SYMBOL.csv.gz or SYMBOL.parquet files>")
        return FolderSource(path)
    if path is not None:
        raise ValueError(f"path={str(path)!r} is only read by source='csv', not by source={source!r}")
    if source == "yfinance":
        from workbench.data.yahoo import YahooSource

        return YahooSource(adjusted=False)
    if source == "alpaca":
        from workbench.config import load_settings
        from workbench.data.alpaca import AlpacaDataSource

        return AlpacaDataSource.from_settings(load_settings())
    return SampleSource() if isinstance(source, str) else source
