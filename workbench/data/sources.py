"""Where bars come from: the bundled sample, a folder of CSV/Parquet files, or one file.

A source returns raw-but-normalized bars (`normalize_columns`); `validate_bars` is applied by the caller
(`workbench.data.load.load` always does).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Protocol, runtime_checkable

import pandas as pd

from workbench.data.schema import normalize_columns
from workbench.errors import DataNotFoundError

#: Supported bar file suffixes; when one folder holds a symbol in several formats the first suffix wins.
SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".csv.gz")
# How many available symbols an unknown-symbol error lists.
_LISTED_SYMBOLS = 10


@runtime_checkable
class BarSource(Protocol):
    """Anything that lists symbols and reads one symbol's bars as a normalized (not yet validated) frame."""

    def symbols(self) -> list[str]:
        """Return the symbols this source can read, sorted."""
        ...

    def read(self, symbol: str) -> pd.DataFrame:
        """Return `symbol`'s bars, normalized; raise `DataNotFoundError` for an unknown symbol."""
        ...


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


class FolderSource:
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


class SampleSource:
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
