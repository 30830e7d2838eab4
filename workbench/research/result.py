"""``SweepResult``: the metrics table of a sweep with ranking, heatmaps and overfitting statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.engine.inputs import Costs
from workbench.engine.metrics import LOWER_IS_BETTER
from workbench.provenance.saveable import Saveable
from workbench.strategies.base import Strategy

if TYPE_CHECKING:
    from workbench.provenance.spec import RunSpec


@dataclass
class SweepResult(Saveable):
    """Metrics of every parameter set (and symbol) of a sweep.

    ``metrics`` is indexed by the parameters (and ``symbol`` when several symbols were swept) with one
    column per metric. ``complete`` is False when the sweep was interrupted (Ctrl-C) and holds the rows done.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("sma_cross", wb.load("SPY"), fast=range(5, 50, 5), slow=range(20, 200, 20))
    >>> res.best(5)  # doctest: +SKIP
    >>> res.heatmap("fast", "slow")  # doctest: +SKIP
    """

    strategy: type[Strategy]
    metrics: pd.DataFrame
    metric: str
    costs: Costs
    symbols: list[str]
    complete: bool
    blocks: np.ndarray = field(repr=False)
    frames: dict[str, pd.DataFrame] = field(repr=False)
    periods_per_year: dict[str, float] = field(repr=False)
    grid: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def spec(self) -> RunSpec:
        """What this sweep was made of, to save it and run it again: the grid as per-parameter ``ranges``
        and the exact ``rows`` kept (so a function constraint reproduces too)."""
        from workbench.provenance.spec import make_spec

        params = {
            "ranges": {c: sorted(pd.unique(self.grid[c]).tolist()) for c in self.grid.columns},
            "rows": self.grid.to_numpy().tolist(),
        }
        return make_spec("sweep", self.strategy, params, self.frames, self.settings)

    def _repr_html_(self) -> str:
        """A notebook cell's view of this result: what ran, costs, key metrics (``reports.summary``)."""
        from workbench.reports.summary import sweep_html

        return sweep_html(self)

    def __repr__(self) -> str:
        state = "" if self.complete else ", interrupted"
        return (
            f"SweepResult({self.strategy.name}: {len(self.metrics)} runs over {', '.join(self.symbols)}{state}; "
            f"best {self.metric}={self._best_value():.4g})"
        )

    def _best_value(self) -> float:
        col = self.metrics[self.metric]
        return float(col.min() if self.metric in LOWER_IS_BETTER else col.max())

    @property
    def params(self) -> list[str]:
        """Names of the swept strategy's parameters (the index levels besides ``symbol``)."""
        return list(self.strategy.params())

    def best(self, n: int = 10, by: str | None = None) -> pd.DataFrame:
        """The ``n`` best rows by ``by`` (default: the sweep's metric); NaN ranks last."""
        by = by or self.metric
        if by not in self.metrics.columns:
            raise ValueError(f"by={by!r}: must be one of {', '.join(self.metrics.columns)}")
        return self.metrics.sort_values(by, ascending=by in LOWER_IS_BETTER, na_position="last").head(n)

    def best_params(self, by: str | None = None, symbol: str | None = None) -> dict[str, Any]:
        """Parameter values of the best row (of ``symbol``, when several symbols were swept)."""
        table = self.metrics if symbol is None else self.metrics.xs(symbol, level="symbol", drop_level=False)
        best = table.sort_values(by or self.metric, ascending=(by or self.metric) in LOWER_IS_BETTER).index[0]
        key = best if isinstance(best, tuple) else (best,)
        return {name: self.strategy.params()[name].type(v) for name, v in zip(self.params, key, strict=False)}

    def to_frame(self) -> pd.DataFrame:
        """The metrics table with the parameters (and symbol) as ordinary columns."""
        return self.metrics.reset_index()

    def heatmap(self, x: str, y: str, metric: str | None = None, agg: str = "max"):
        """An hvplot heatmap of ``metric`` over parameters ``x`` and ``y``, other levels reduced by ``agg``."""
        from workbench.reports.offline import register_hvplot

        register_hvplot()

        metric = metric or self.metric
        levels = list(self.metrics.index.names)
        for name in (x, y):
            if name not in levels:
                raise ValueError(f"{name!r} is not a swept level; levels: {', '.join(levels)}")
        table = self.metrics[metric].groupby(level=[y, x]).agg(agg).reset_index()
        return table.hvplot.heatmap(
            x=x, y=y, C=metric, cmap="RdYlGn", title=f"{self.strategy.name}: {metric} ({agg})", colorbar=True
        )

    def overfitting(self, n_splits: int | None = None):
        """Deflated Sharpe ratio, probability of backtest overfitting and parameter stability, with a verdict."""
        from workbench.research.overfitting import assess

        return assess(self, n_splits=n_splits)
