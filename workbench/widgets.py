"""Notebook widgets (ipywidgets): ``sweep_explorer`` to pick a parameter set of a sweep and see its run."""

from __future__ import annotations

from typing import Any

import pandas as pd


class SweepExplorer:
    """A sweep's heatmap, the selected parameter set marked on it, beside that set's equity curve; moving a
    slider (or calling ``select``) re-runs the set exactly as the sweep ran it (same kernel, bars, costs and
    risk rules) and moves the mark.

    Display it in a notebook as the last expression of a cell (it renders as its ``widget``).
    """

    def __init__(self, result: Any, x: str | None = None, y: str | None = None, metric: str | None = None) -> None:
        import ipywidgets as w

        params = list(result.params)
        if not params:
            raise ValueError("this sweep has no parameters to explore")
        self.result, self.metric = result, metric or result.metric
        self.x, self.y = x or params[0], y or (params[1] if len(params) > 1 else None)
        best = result.best_params(by=self.metric)
        levels = result.metrics.index
        self.sliders = {
            name: w.SelectionSlider(
                options=sorted(pd.unique(levels.get_level_values(name))), value=best[name], description=name
            )
            for name in params
        }
        symbols = result.symbols
        self.symbol = w.Dropdown(options=symbols, value=symbols[0], description="symbol")
        self.heatmap_out, self.curve_out, self.summary = w.Output(), w.Output(), w.HTML()
        for control in (*self.sliders.values(), self.symbol):
            control.observe(lambda _change: self._update(), names="value")
        controls = w.VBox([*self.sliders.values(), *([self.symbol] if len(symbols) > 1 else []), self.summary])
        self.widget = w.VBox([w.HBox([controls, self.heatmap_out]), self.curve_out])
        self.run = self._base = None
        self._update()

    def select(self, **values: Any) -> Any:
        """Move the sliders to ``values`` (e.g. ``fast=10, slow=50``) and return the selected run."""
        for name, value in values.items():
            if name not in self.sliders:
                raise ValueError(f"{name!r} is not a parameter of this sweep; parameters: {', '.join(self.sliders)}")
            if value not in self.sliders[name].options:
                raise ValueError(f"{name}={value!r} was not swept; values: {list(self.sliders[name].options)}")
            self.sliders[name].value = value
        return self.run

    @property
    def values(self) -> dict[str, Any]:
        """The parameter set shown."""
        return {name: slider.value for name, slider in self.sliders.items()}

    def _update(self) -> None:
        from workbench.engine.single import simulate

        symbol = self.symbol.value
        frame = self.result.frames[symbol]
        strategy = self.result.strategy(**self.values)
        self.run = simulate(strategy, frame, self.result.costs, self.result.periods_per_year[symbol])
        m = self.run.metrics
        self.summary.value = (
            f"<b>{strategy!r}</b> on {symbol}: {self.metric} {m[self.metric]:.3f}, total return "
            f"{m['total_return']:.2%}, max drawdown {m['max_drawdown']:.2%}, {int(m['trades'])} trades"
        )
        label = ", ".join(f"{name}={value}" for name, value in self.values.items())  # no braces: HoloViews
        self.curve = self.run.equity.hvplot.line(  # formats titles, and would read {...} as a field
            title=f"equity on {symbol}, {label}", height=250, responsive=True
        )
        self.curve_out.clear_output(wait=True)
        with self.curve_out:
            _show(self.curve)
        self._draw_heatmap()

    def _draw_heatmap(self) -> None:
        """The sweep's heatmap (a line over ``x`` for one parameter) with the selected set marked."""
        import holoviews as hv

        chosen = self.values
        if self._base is None:
            if self.y is None:
                table = self.result.metrics[self.metric].groupby(level=self.x).max()
                self._base = table.hvplot.line(title=f"{self.metric} by {self.x} (max)", height=300, width=420)
            else:
                self._base = self.result.heatmap(self.x, self.y, metric=self.metric).opts(height=300, width=420)
        if self.y is None:
            mark = hv.VLine(chosen[self.x]).opts(color="black", line_dash="dashed")
        else:
            mark = hv.Points([(chosen[self.x], chosen[self.y])], [self.x, self.y]).opts(
                marker="x", size=20, color="black", line_width=3
            )
        self.heatmap = self._base * mark
        self.heatmap_out.clear_output(wait=True)
        with self.heatmap_out:
            _show(self.heatmap)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def sweep_explorer(result: Any, x: str | None = None, y: str | None = None, metric: str | None = None) -> SweepExplorer:
    """Explore ``result`` (a ``SweepResult``): its heatmap over ``x`` and ``y`` (default: the first two
    parameters), a slider per parameter (starting at the best set by ``metric``), and the selected set's
    equity curve and metrics.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("sma_cross", wb.load("SPY", start="2015-01-01"), fast=[5, 10, 20], slow=[50, 100],
    ...                progress=False)
    >>> explorer = wb.widgets.sweep_explorer(res)  # in a notebook: shows the heatmap  # doctest: +SKIP
    >>> bool(explorer.select(fast=10, slow=100).metrics["trades"] >= 0)  # doctest: +SKIP
    True
    """
    from workbench.reports.offline import register_hvplot

    register_hvplot()

    return SweepExplorer(result, x, y, metric)


def _show(plot: Any) -> None:
    from IPython.display import display

    display(plot)


__all__ = ["SweepExplorer", "sweep_explorer"]
