"""`Bars`: validated bars of several symbols, and conversion of bars to polars."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import pandas as pd

from workbench.data._failures import format_timestamp
from workbench.data.schema import INDEX_NAME
from workbench.data.validate import validate_bars

if TYPE_CHECKING:
    import polars as pl


class Bars(Mapping[str, pd.DataFrame]):
    """Validated bars for several symbols: a read-only mapping symbol -> canonical bar DataFrame.

    Each frame is validated on construction (`validate_bars`, ``nan_policy="raise"``). Item access returns a
    copy-on-write view, so changing it never changes the container. Symbols keep their insertion order.

    Parameters
    ----------
    frames : Mapping[str, pandas.DataFrame]
        At least one symbol's bars.

    Examples
    --------
    >>> from workbench.data import load
    >>> bars = load(["SPY", "QQQ"], start="2020-01-01", end="2020-12-31")
    >>> bars.symbols, len(bars["SPY"]), bars.close.shape
    (['SPY', 'QQQ'], 253, (253, 2))
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        if not frames:
            raise ValueError("Bars needs at least one symbol")
        self._frames = {str(symbol): validate_bars(frame, symbol=str(symbol)) for symbol, frame in frames.items()}

    @property
    def symbols(self) -> list[str]:
        """The symbols, in insertion order."""
        return list(self._frames)

    def __getitem__(self, symbol: str) -> pd.DataFrame:
        return self._frames[symbol].copy(deep=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bars):
            return NotImplemented
        return self.symbols == other.symbols and all(f.equals(other._frames[s]) for s, f in self._frames.items())

    def __repr__(self) -> str:
        lines = [f"Bars({len(self)} symbols, {sum(len(f) for f in self._frames.values())} rows)"]
        width = max(len(s) for s in self._frames)
        for symbol, frame in self._frames.items():
            span = f"{format_timestamp(frame.index[0])} .. {format_timestamp(frame.index[-1])}"
            lines.append(f"  {symbol:<{width}}  {len(frame):>7} rows  {span}")
        return "\n".join(lines)

    @property
    def close(self) -> pd.DataFrame:
        """Closes as a wide frame: one column per symbol, on the union of timestamps, NaN where missing."""
        return self.field("close")

    def field(self, name: str) -> pd.DataFrame:
        """Return column `name` of every symbol as a wide frame (columns = symbols, index = union, NaN gaps).

        Parameters
        ----------
        name : str
            A column every symbol has, for example ``"volume"`` or ``"adj_close"``.

        Raises
        ------
        KeyError
            If some symbol lacks the column.

        Examples
        --------
        >>> from workbench.data import load
        >>> load("SPY,META", end="2012-05-18").field("volume").dropna().shape
        (1, 2)
        """
        lacking = [symbol for symbol, frame in self._frames.items() if name not in frame.columns]
        if lacking:
            raise KeyError(f"column {name!r} is missing for {lacking}")
        wide = pd.concat({symbol: frame[name] for symbol, frame in self._frames.items()}, axis=1, sort=True)
        wide.columns.name = "symbol"
        return wide

    def to_polars(self) -> pl.DataFrame:
        """Return all bars as one long polars DataFrame: ``symbol``, ``timestamp``, then the bar columns.

        Rows are grouped by symbol (insertion order) and sorted by time within a symbol; a column some
        symbols lack is null for them.

        Examples
        --------
        >>> from workbench.data import load
        >>> load("SPY,QQQ", start="2020-01-02", end="2020-01-03").to_polars().shape
        (4, 8)
        """
        import polars as pl

        return pl.concat([to_polars(frame, symbol) for symbol, frame in self._frames.items()], how="diagonal_relaxed")


def to_polars(df: pd.DataFrame, symbol: str | None = None) -> pl.DataFrame:
    """Return canonical bars as a polars DataFrame with the index as a ``timestamp`` column.

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical bars (for example from `load` or `validate_bars`).
    symbol : str, optional
        If given, a first column ``symbol`` holding it.

    Examples
    --------
    >>> from workbench.data import load
    >>> to_polars(load("SPY", end="2000-01-04")).columns
    ['timestamp', 'open', 'high', 'low', 'close', 'volume', 'adj_close']
    """
    import polars as pl

    out = pl.from_pandas(df.rename_axis(INDEX_NAME).reset_index())
    return out if symbol is None else out.select(pl.lit(symbol).alias("symbol"), pl.all())
