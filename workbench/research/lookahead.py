"""Look-ahead check: a strategy's signal (a universe strategy's weights) at bar t must not change when the bars after
t are removed. The check says what it compared (`LookaheadResult`), and refuses to pass when it compared nothing."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.data.schema import bar_arrays
from workbench.engine.inputs import prepare_bars, prepare_panel, resolve_strategy
from workbench.errors import WorkbenchError
from workbench.strategies.base import StrategyBase, call_signals
from workbench.strategies.universe import Panel, UniverseStrategy, call_weights


class LookaheadError(WorkbenchError):
    """A strategy's signals use bars from the future: truncated data gives a different signal."""


class LookaheadUntested(WorkbenchError, ValueError):
    """``check_lookahead`` compared nothing: no cut point (too few bars), or no signal other than flat ever."""


class LookaheadUntestedWarning(UserWarning):
    """``check_lookahead(..., untested="warn")`` compared nothing (the result says so too)."""


@dataclass(frozen=True)
class LookaheadResult:
    """What ``check_lookahead`` compared, having found no look-ahead: ``cuts`` cut points over ``symbols``,
    ``signals`` signal values recomputed on the cut data and equal to the full run's, ``active`` of them a position
    (neither flat nor NaN). ``compared`` is False when there was nothing to compare (no cut, or never a position)."""

    strategy: str
    symbols: tuple[str, ...]
    cuts: int
    signals: int
    active: int
    bars: int

    @property
    def compared(self) -> bool:
        """True when at least one cut point was checked and the strategy held a position before it."""
        return self.cuts > 0 and self.active > 0

    def __str__(self) -> str:
        where = f"{self.strategy} on {', '.join(self.symbols)}"
        if not self.compared:
            return f"nothing compared for {where}: {self._counts()}, so look-ahead could not be tested"
        return f"no look-ahead in {where}: the signals equal the full run's at {self._counts()}"

    def __repr__(self) -> str:
        return f"LookaheadResult({self})"

    def _counts(self) -> str:
        return (
            f"{self.cuts:,} cut point{'s' * (self.cuts != 1)} of {self.bars:,} bar{'s' * (self.bars != 1)} "
            f"({self.signals:,} signal values compared, {self.active:,} of them a position)"
        )


def check_lookahead(
    strategy: type[StrategyBase] | StrategyBase | str,
    bars: Any,
    samples: int = 50,
    seed: int = 0,
    *,
    untested: Literal["raise", "warn"] = "raise",
) -> LookaheadResult:
    """Recompute signals on data truncated at ``samples`` random bars (and the last three); raise on any difference.

    A ``LookaheadError`` names the symbol, the earliest differing bar among the checked cuts and the two
    values. Sampling can miss a peek confined to unchecked bars; ``samples >= len(bars)`` checks every cut.
    A class or a name is checked at its default parameters. A pass returns a `LookaheadResult` saying how many
    cut points and signal values were compared. When nothing could be compared (a single bar, or a strategy that
    is flat or NaN at every checked bar) the check raises ``LookaheadUntested``, or with ``untested="warn"``
    warns (``LookaheadUntestedWarning``) and returns the result, whose ``compared`` is False.

    Examples
    --------
    >>> import workbench as wb
    >>> wb.check_lookahead("sma_cross", wb.load("SPY")).compared
    True
    """
    if untested not in ("raise", "warn"):
        raise ValueError(f"untested={untested!r}: must be 'raise' or 'warn'")
    cls, values = resolve_strategy(strategy)
    instance = strategy if isinstance(strategy, StrategyBase) else cls(**values)
    args = tuple(instance.values.values())
    rng = np.random.default_rng(seed)
    if issubclass(cls, UniverseStrategy):
        panel = prepare_panel(bars)
        counted = _check_universe(instance, panel, args, samples, rng)
        result = LookaheadResult(repr(instance), tuple(panel.symbols), *(int(c) for c in counted), panel.shape[0])
        return _answer(result, untested)
    frames, _ = prepare_bars(bars)
    counted = np.zeros(3, dtype=np.int64)  # cuts, signal values compared, of them a position
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
        counted += _counts(full, cuts)
    longest = max(len(f) for f in frames.values())
    return _answer(LookaheadResult(repr(instance), tuple(frames), *(int(c) for c in counted), longest), untested)


def _counts(full: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Cut points, signal values compared (each cut's prefix) and, of the bars up to the last cut, those holding a
    position in the full run (every symbol's, for a universe)."""
    if not len(cuts):
        return np.zeros(3, dtype=np.int64)
    width = full.shape[1] if full.ndim == 2 else 1
    checked = full[: int(cuts[-1]) + 1]
    held = np.count_nonzero(~np.isnan(checked) & (checked != 0))
    return np.array([len(cuts), int((cuts + 1).sum()) * width, held], dtype=np.int64)


def _answer(result: LookaheadResult, untested: str) -> LookaheadResult:
    """The result, or a refusal (or a warning) when it compared nothing."""
    if result.compared:
        return result
    message = (
        f"check_lookahead could not test {result.strategy} on {', '.join(result.symbols)}: it compared "
        f"{result._counts()}; give it more bars or parameters that take a position, or pass untested='warn' to go on."
    )
    if untested == "warn":
        warnings.warn(message, LookaheadUntestedWarning, stacklevel=3)
        return result
    raise LookaheadUntested(message)


def _check_universe(
    instance: UniverseStrategy, panel: Panel, args: tuple, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """The check for a universe strategy: its weights on the panel cut after bar t equal the full panel's up to t,
    every symbol's; the error names the bar, the symbol and both weights. Returns what `_counts` counts."""
    cls = type(instance)
    full = call_weights(cls, panel, args)
    n = panel.shape[0]
    cuts = _cuts(n, samples, rng)
    for cut in cuts:
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
    return _counts(full, cuts)


def _cuts(n: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Random cut bars plus the last few, where a peek at t+1 (or a global normalization) shows most, in order."""
    tail = np.arange(max(n - 4, 0), n - 1)
    return np.unique(np.concatenate([rng.choice(np.arange(n - 1), size=min(samples, n - 1), replace=False), tail]))


def _stamp(ts: Any) -> str:
    return ts.isoformat() if isinstance(ts, pd.Timestamp) else str(ts)
