"""Look-ahead check: a strategy's signal at bar t must not change when the bars after t are removed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.data.schema import bar_arrays
from workbench.engine.inputs import prepare_bars, resolve_strategy
from workbench.errors import WorkbenchError
from workbench.strategies.base import Strategy, call_signals


class LookaheadError(WorkbenchError):
    """A strategy's signals use bars from the future: truncated data gives a different signal."""


def check_lookahead(strategy: type[Strategy] | Strategy | str, bars: Any, samples: int = 50, seed: int = 0) -> None:
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
    instance = strategy if isinstance(strategy, Strategy) else cls(**values)
    args = tuple(instance.values.values())
    frames, _ = prepare_bars(bars)
    rng = np.random.default_rng(seed)
    for symbol, frame in frames.items():
        arrays = bar_arrays(frame)
        full = call_signals(cls, arrays, args)
        n = len(frame)
        # Random cuts plus the last few bars, where a peek at t+1 (or a global normalization) shows most.
        tail = np.arange(max(n - 4, 0), n - 1)
        cuts = np.unique(np.concatenate([rng.choice(np.arange(n - 1), size=min(samples, n - 1), replace=False), tail]))
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


def _stamp(ts: Any) -> str:
    return ts.isoformat() if isinstance(ts, pd.Timestamp) else str(ts)
