"""Market data: the canonical bar schema, validation, sources (bundled sample, CSV/Parquet) and `load`.

>>> from workbench.data import load
>>> spy = load("SPY", start="2015-01-01")            # one symbol -> a pandas DataFrame
>>> bars = load(["SPY", "QQQ"], start="2015-01-01")  # several -> Bars (a mapping symbol -> DataFrame)

Every frame is canonical: float64 ``open, high, low, close, volume`` (plus extras such as ``adj_close``) on a
UTC ``DatetimeIndex`` named ``timestamp``; daily bars sit at 00:00 UTC of their session date.
"""

from workbench.data.bars import Bars, to_polars
from workbench.data.load import load
from workbench.data.schema import normalize_columns
from workbench.data.sources import BarSource, FolderSource, SampleSource, read_bar_file
from workbench.data.validate import validate_bars

__all__ = [
    "BarSource",
    "Bars",
    "FolderSource",
    "SampleSource",
    "load",
    "normalize_columns",
    "read_bar_file",
    "to_polars",
    "validate_bars",
]
