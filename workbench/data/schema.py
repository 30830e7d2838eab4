"""The canonical bar schema, and `normalize_columns` which maps a raw table onto it.

Canonical bars are a pandas DataFrame with

* columns ``open, high, low, close, volume``, all ``float64`` (volume too, so partial shares and NaN fit);
* any extra columns kept after them (``adj_close`` is cast to ``float64``, others are left as they are);
* a tz-aware ``DatetimeIndex`` named ``timestamp``, in UTC, nanosecond resolution. An intraday bar is
  stamped with the **start** of its interval; a daily bar with its session date at **00:00 UTC** (so
  2020-01-02's daily bar is ``2020-01-02 00:00:00+00:00``, whatever the exchange's time zone).

`normalize_columns` only renames, parses and casts; the rules (ordering, OHLC consistency, NaN, ...) are
checked by `workbench.data.validate.validate_bars`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_integer_dtype, is_numeric_dtype

from workbench.data._failures import Failure, first, format_timestamp, validation_error

INDEX_NAME = "timestamp"
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
BAR_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
#: Columns cast to float64: the canonical ones plus the optional dividend-adjusted close.
FLOAT_COLUMNS: tuple[str, ...] = (*BAR_COLUMNS, "adj_close")

#: Names accepted for the time column, as alias keys (see `alias_key`).
TIME_ALIASES: frozenset[str] = frozenset({"date", "datetime", "timestamp", "time"})
#: Alias key -> canonical column name.
COLUMN_ALIASES: dict[str, str] = {
    "open": "open",
    "o": "open",
    "high": "high",
    "h": "high",
    "low": "low",
    "l": "low",
    "close": "close",
    "c": "close",
    "adjclose": "adj_close",
    "volume": "volume",
    "vol": "volume",
    "v": "volume",
}

# Integers in this range are dates written as YYYYMMDD (as epoch seconds they would all fall in 1970).
_YYYYMMDD_RANGE = (19000101, 21991231)
# Largest absolute epoch value read as seconds, milliseconds, microseconds; anything larger is nanoseconds.
# 1e11 s is the year 5138 while 1e11 ms is 1973, so the magnitudes never overlap for real market data.
_EPOCH_UNITS: tuple[tuple[float, str], ...] = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))


def alias_key(name: object) -> str:
    """Return the key a column name is matched on: lower case, without whitespace, ``_`` or ``-``.

    Examples
    --------
    >>> alias_key(" Adj Close")
    'adjclose'
    """
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


def normalize_columns(df: pd.DataFrame, symbol: str = "?") -> pd.DataFrame:
    """Return a copy of `df` renamed, indexed and typed as canonical bars (no rule is checked).

    Column names are matched through `COLUMN_ALIASES` and `TIME_ALIASES` (case, whitespace and underscores
    ignored). The time comes from the one time column, else from the index if it is a `DatetimeIndex` or is
    named like a time column. Strings are parsed as ISO 8601 (any other format falls back to per-element
    parsing, month first). Integers from 19000101 to 21991231 are ``YYYYMMDD`` dates; other integers and
    floats are Unix epoch seconds, milliseconds, microseconds or nanoseconds, chosen by magnitude. Naive
    times are taken as UTC; aware ones are converted to UTC.

    Parameters
    ----------
    df : pandas.DataFrame
        Raw bars, for example straight from ``pandas.read_csv``. Not modified.
    symbol : str
        Name used in error messages.

    Returns
    -------
    pandas.DataFrame
        ``open, high, low, close, volume`` (those present) as float64, then the other columns, on a UTC
        ``DatetimeIndex`` named ``timestamp``.

    Raises
    ------
    DataValidationError
        Rule ``duplicate_columns`` (two columns map to one name), ``missing_columns`` (no time column),
        ``bad_timestamp`` (an unparseable or missing time) or ``non_numeric`` (a value that is not a number).

    Examples
    --------
    >>> raw = pd.DataFrame({"Date": ["2020-01-02"], "Open": [1], "High": [2], "Low": [1], "Close": [2],
    ...                     "Volume": [100]})
    >>> normalize_columns(raw).index[0]
    Timestamp('2020-01-02 00:00:00+0000', tz='UTC')
    """
    if _is_canonical(df):  # already normalized (e.g. from `load`): a cheap copy, nothing to parse
        return df.copy()
    renamed = df.rename(columns=lambda c: COLUMN_ALIASES.get(alias_key(c), c))
    duplicated = sorted({str(c) for c in renamed.columns[renamed.columns.duplicated()]})
    if duplicated:
        detail = f"several columns map to {duplicated}; columns: {list(df.columns)}"
        raise validation_error(symbol, [Failure("duplicate_columns", len(duplicated), detail, unit="column")])

    time_columns = [c for c in renamed.columns if alias_key(c) in TIME_ALIASES]
    if len(time_columns) > 1:
        detail = f"several time columns {time_columns}; keep one"
        raise validation_error(symbol, [Failure("duplicate_columns", len(time_columns), detail, unit="column")])
    if time_columns:
        times = renamed.pop(time_columns[0])
    elif isinstance(renamed.index, pd.DatetimeIndex) or alias_key(renamed.index.name) in TIME_ALIASES:
        times = renamed.index.to_series()
    else:
        detail = f"no time column (Date, Datetime, timestamp, time), no DatetimeIndex; columns: {list(df.columns)}"
        raise validation_error(symbol, [Failure("missing_columns", 1, detail, unit="column")])

    out = renamed.set_axis(_to_utc_index(times, symbol), axis=0)
    ordered = [c for c in BAR_COLUMNS if c in out.columns]
    out = out[ordered + [c for c in out.columns if c not in ordered]]
    for col in (c for c in FLOAT_COLUMNS if c in out.columns):
        out[col] = _to_float(out[col], col, symbol)
    return out


def bar_arrays(bars: pd.DataFrame) -> list[np.ndarray]:
    """``open, high, low, close, volume`` of validated ``bars`` as contiguous float64 arrays (views where
    possible), the inputs of every signal function and kernel.

    A frame of float columns only is read as one block, which costs microseconds; pandas' per-column lookups
    cost far more than the backtest of a few years of daily bars.

    >>> import workbench as wb
    >>> [len(a) for a in bar_arrays(wb.load("SPY").iloc[:3])]
    [3, 3, 3, 3, 3]
    """
    columns = bars.columns.tolist()
    if columns[: len(BAR_COLUMNS)] == list(BAR_COLUMNS) and all(d == np.float64 for d in bars.dtypes.tolist()):
        block = bars.to_numpy()
        return [np.ascontiguousarray(block[:, i]) for i in range(len(BAR_COLUMNS))]
    return [np.ascontiguousarray(bars[c].to_numpy(dtype=np.float64)) for c in BAR_COLUMNS]


def _is_canonical(df: pd.DataFrame) -> bool:
    """True for a frame `normalize_columns` would return unchanged: UTC ns ``timestamp`` index, bar columns
    first and in order, float64 numbers."""
    index = df.index
    if not (isinstance(index, pd.DatetimeIndex) and index.name == INDEX_NAME and str(index.tz) == "UTC"):
        return False
    if index.unit != "ns" or df.columns.has_duplicates:
        return False
    columns = df.columns.tolist()
    ordered = [c for c in BAR_COLUMNS if c in columns]
    if columns[: len(ordered)] != ordered:
        return False
    dtypes = dict(zip(columns, df.dtypes.tolist(), strict=True))
    return all(dtypes[c] == np.float64 for c in FLOAT_COLUMNS if c in dtypes)


def _to_utc_index(times: pd.Series, symbol: str) -> pd.DatetimeIndex:
    """Parse `times` (strings, datetimes or epoch numbers) to a UTC ns `DatetimeIndex` named ``timestamp``."""
    values = times.reset_index(drop=True)
    if is_integer_dtype(values) and values.between(*_YYYYMMDD_RANGE).all():
        parsed = pd.to_datetime(values.astype(str), format="%Y%m%d", utc=True, errors="coerce")
    elif is_numeric_dtype(values) and not is_bool_dtype(values):
        magnitude = float(np.nanmax(np.abs(values.to_numpy(dtype="float64")), initial=0.0))
        unit = next((u for limit, u in _EPOCH_UNITS if magnitude < limit), "ns")
        parsed = pd.to_datetime(values, unit=unit, utc=True, errors="coerce")
    elif is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
        if parsed.isna().sum() > values.isna().sum():
            parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        shown = first((f"row {i} {times.name}={values[i]!r}" for i in np.flatnonzero(bad)), int(bad.sum()))
        raise validation_error(symbol, [Failure("bad_timestamp", int(bad.sum()), shown)])
    return pd.DatetimeIndex(parsed, name=INDEX_NAME).as_unit("ns")


def _to_float(column: pd.Series, name: str, symbol: str) -> pd.Series:
    """Cast `column` to float64, raising ``non_numeric`` for values that are present but not numbers."""
    if is_numeric_dtype(column) and not is_bool_dtype(column):
        return column.astype("float64")
    numbers = pd.to_numeric(column, errors="coerce")
    bad = (numbers.isna() & column.notna()).to_numpy()
    if bad.any():
        shown = first((f"{format_timestamp(ts)} {name}={value!r}" for ts, value in column[bad].items()), int(bad.sum()))
        raise validation_error(symbol, [Failure("non_numeric", int(bad.sum()), shown)])
    return numbers.astype("float64")
