"""Look-ahead check: a strategy's signal (a universe strategy's weights) at bar t must not change when the bars after
t are removed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.data.schema import bar_arrays
from workbench.engine.inputs import prepare_bars, prepare_panel, resolve_strategy
from workbench.errors import WorkbenchError
from workbench.strategies.base import StrategyBase, call_signals
from workbench.strategies.universe import Panel, UniverseStrategy, call_weights


class LookaheadError(WorkbenchError):
    """A strategy's signals use bars from the future: truncated data gives a different signal."""


def check_lookahead(
    strategy: type[StrategyBase] | StrategyBase | str, bars: Any, samples: int = 50, seed: int = 0
) -> None:
    """Recompute signals on data truncated at ``samples`` random bars (and the last three); raise on any difference.

    A ``LookaheadError`` names the symbol, the earliest differing bar among the checked cuts and the two
    values. Sampling can miss a peek confined to unchecked bars; ``samples >= len(bars)`` checks every cut.
    A class or a name is checked at its default parameters.

    Examples
    --------
    >>> import workbench as wb
    >>> wb.check_lookahead("sma_cross", wb.load("SPY"))  # passes silently
    """
    cls, values = resolve_strategy(strategy)
    instance = strategy if isinstance(strategy, StrategyBase) else cls(**values)
    args = tuple(instance.values.values())
    rng = np.random.default_rng(seed)
    if issubclass(cls, UniverseStrategy):
        _check_universe(instance, prepare_panel(bars), args, samples, rng)
        return
    frames, _ = prepare_bars(bars)
    for symbol, frame in frames.items():
        arrays = bar_arrays(frame)
        full = call_signals(cls, arrays, args)
        n = len(frame)
        cuts = _cuts(n, samples, rng)
        first_bad: tuple[int, int] | None = None
        for cut in cuts:
            part = call_signals(cls, [a[: cut + 1].copy() for a in arrays], args)
            differs = ~((part == full[: cut + 1]) | (np.isnan(part) & np.isnan(full[: cut + 1])))
            if differs.any():
                bar = int(np.argmax(differs))
                if first_bad is None or bar < first_bad[0]:
                    first_bad = (bar, int(cut))
        if first_bad is not None:
            bar, cut = first_bad
            part = call_signals(cls, [a[: cut + 1].copy() for a in arrays], args)
            raise LookaheadError(
                f"{instance!r} looks ahead on {symbol}: the signal at bar {bar} ({_stamp(frame.index[bar])}) is "
                f"{float(full[bar])!r} with all data but {float(part[bar])!r} with data up to bar {cut} "
                f"({_stamp(frame.index[cut])})"
            )


def _check_universe(
    instance: UniverseStrategy, panel: Panel, args: tuple, samples: int, rng: np.random.Generator
) -> None:
    """The check for a universe strategy: its weights on the panel cut after bar t equal the full panel's up to t,
    every symbol's; the error names the bar, the symbol and both weights."""
    cls = type(instance)
    full = call_weights(cls, panel, args)
    n = panel.shape[0]
    for cut in _cuts(n, samples, rng):
        part = call_weights(cls, panel.rows(0, cut + 1), args)
        whole = full[: cut + 1]
        differs = ~((part == whole) | (np.isnan(part) & np.isnan(whole)))
        if differs.any():
            bar, j = (int(x) for x in np.argwhere(differs)[0])
            raise LookaheadError(
                f"{instance!r} looks ahead: its weight of {panel.symbols[j]} at bar {bar} "
                f"({_stamp(panel.index[bar])}) is {float(full[bar, j])!r} with all data but {float(part[bar, j])!r} "
                f"with data up to bar {cut} ({_stamp(panel.index[cut])})"
            )


def _cuts(n: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Random cut bars plus the last few, where a peek at t+1 (or a global normalization) shows most, in order."""
    tail = np.arange(max(n - 4, 0), n - 1)
    return np.unique(np.concatenate([rng.choice(np.arange(n - 1), size=min(samples, n - 1), replace=False), tail]))


def _stamp(ts: Any) -> str:
    return ts.isoformat() if isinstance(ts, pd.Timestamp) else str(ts)
