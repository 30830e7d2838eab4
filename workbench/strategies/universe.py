"""``UniverseStrategy``: a strategy over many symbols sharing one account, answering target weights.

``weights(open, high, low, close, volume, *params)`` receives 2-D float64 arrays, one row per bar time on the union
of the symbols' timestamps and one column per symbol (NaN where a symbol has no bar), and returns an array of the
same shape: the fraction of the whole account's equity to hold in each symbol after that bar (negative = short).
A NaN cell means no order for that symbol at that bar; a number means trade that symbol to that weight there. The
weight at bar t may use data up to and including bar t only (``check_lookahead`` tests it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.schema import BAR_COLUMNS
from workbench.strategies.base import StrategyBase, placeholder


class UniverseStrategy(StrategyBase):
    """A strategy of a universe of symbols in one account: ``Param`` class attributes and a weights function.

    See the module docstring for ``weights``. Orders of bar t fill at its close (``fill="close"``) or at bar t+1's
    open (``fill="next_open"``), sized so that each symbol's holding is its weight of the account's value at the
    fill prices; at one bar the orders that sell go first, and a buy cash cannot cover is cut to what it covers.

    Examples
    --------
    >>> import numpy as np
    >>> from workbench import Param, UniverseStrategy
    >>> class EqualWeight(UniverseStrategy):
    ...     '''Hold every symbol at the same weight, rebalanced every ``every`` bars.'''
    ...     every = Param(int, 21, min=1)
    ...     @staticmethod
    ...     def weights(open, high, low, close, volume, every):
    ...         out = np.full(close.shape, np.nan)
    ...         out[::every] = 1.0 / close.shape[1]
    ...         return out
    >>> EqualWeight(every=5)
    EqualWeight(every=5)
    """

    FUNCTION = "weights"

    @staticmethod
    @placeholder
    def weights(open, high, low, close, volume, *params):
        """Target weights per bar and symbol; subclasses define it (see the module docstring)."""
        raise NotImplementedError

    def target_weights(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """Target weights of ``bars`` (several symbols' validated bar tables), one column per symbol on the union
        of their timestamps, checked (`call_weights`)."""
        panel = Panel.of(bars)
        out = call_weights(type(self), panel, tuple(self._values.values()))
        return pd.DataFrame(out, index=panel.index, columns=panel.symbols)


class Panel:
    """Several symbols' bars aligned on the union of their timestamps: one 2-D float64 array per bar column
    (rows = times, columns = symbols, NaN where a symbol has no bar), as a universe strategy reads them."""

    def __init__(self, index: pd.DatetimeIndex, symbols: list[str], arrays: tuple[np.ndarray, ...]) -> None:
        self.index, self.symbols, self.arrays = index, symbols, arrays

    @classmethod
    def of(cls, bars: Mapping[str, pd.DataFrame]) -> Panel:
        """The panel of ``bars`` (symbol -> validated bar table), symbols in the mapping's order."""
        symbols = [str(s) for s in bars]
        frames = list(bars.values())
        index = frames[0].index
        for frame in frames[1:]:
            index = index.union(frame.index)
        aligned = [f if f.index.equals(index) else f.reindex(index) for f in frames]  # reindexed only where needed
        values = [f[list(BAR_COLUMNS)].to_numpy(dtype=np.float64) for f in aligned]
        columns = range(len(BAR_COLUMNS))
        arrays = tuple(np.ascontiguousarray(np.column_stack([v[:, k] for v in values])) for k in columns)
        return cls(index, symbols, arrays)

    @property
    def shape(self) -> tuple[int, int]:
        """(bar times, symbols)."""
        return self.arrays[0].shape

    def rows(self, start: int, stop: int) -> Panel:
        """The panel of the bar times ``start`` to ``stop - 1``."""
        return Panel(self.index[start:stop], self.symbols, tuple(a[start:stop] for a in self.arrays))


def call_weights(cls: type[UniverseStrategy], panel: Panel, values: tuple[Any, ...]) -> np.ndarray:
    """Call ``cls.weights`` on ``panel`` and check its output: a float array of the panel's shape whose cells are
    finite or NaN (``ValueError`` naming the first bad cell's bar and symbol)."""
    out = np.asarray(cls.weights(*panel.arrays, *values))
    if out.shape != panel.shape:
        raise ValueError(
            f"{cls.__name__}.weights returned shape {out.shape} for {panel.shape[0]} bars of "
            f"{panel.shape[1]} symbols; expected {panel.shape}"
        )
    if not np.issubdtype(out.dtype, np.floating):
        raise ValueError(f"{cls.__name__}.weights returned dtype {out.dtype}; expected float weights (NaN = no order)")
    out = out.astype(np.float64, copy=False)
    bad = np.argwhere(np.isinf(out))
    if len(bad):
        t, j = bad[0]
        raise ValueError(
            f"{cls.__name__}.weights returned {out[t, j]} for {panel.symbols[j]} at {panel.index[t]}: a weight is a "
            "finite fraction of equity, or NaN for no order"
        )
    return out
