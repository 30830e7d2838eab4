"""Research: a sweep's heatmap; clicking a cell runs that parameter set again, exactly as the sweep ran it (same
kernel, bars, costs and risk rules), and shows its equity curve and metrics.

The sweep is a `SweepResult` given directly (in a notebook) or a saved sweep run loaded from the store (run again
from its recorded spec with `workbench.services.runs.rerun`, which refuses when the bars or the code changed).
Parameters other than the heatmap's two axes stay at the best set's values; with several symbols, the heatmap
shows the best over them and the curve is the first symbol's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import panel as pn

from workbench.store.database import Store
from workbench.ui.errors import DashboardError
from workbench.ui.poller import PollState
from workbench.ui.views.common import Feedback, act


class ResearchView(pn.viewable.Viewer):
    """A sweep's heatmap and the equity curve of the cell clicked (see the module docstring).

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("sma_cross", wb.load("SPY", start="2015-01-01"), fast=[5, 10], slow=[50, 100], progress=False)
    >>> view = ResearchView(result=res)
    >>> int(view.select(fast=10, slow=100).metrics["trades"]) >= 0
    True
    """

    def __init__(self, store: Store | None = None, feedback: Feedback | None = None, result: Any = None) -> None:
        super().__init__()
        self.store, self.feedback = store, feedback or Feedback()
        self.sweeps = pn.widgets.Select(label="Saved sweep", options={}, width=360)
        self.load_button = pn.widgets.Button(label="Load sweep", color="primary")
        self.load_button.on_click(self._load_clicked)
        self.heatmap = pn.pane.HoloViews(None, height=420, sizing_mode="stretch_width")
        self.curve = pn.pane.HoloViews(None, height=280, sizing_mode="stretch_width")
        self.summary = pn.pane.Markdown("Load a sweep, then click a cell of its heatmap.")
        self.result: Any = None
        self.values: dict[str, Any] = {}
        self.run: Any = None
        self.tap: Any = None
        if result is not None:
            self.set_result(result)

    def update(self, state: PollState) -> None:
        """Offer the saved sweeps of ``state``."""
        saved = state.snapshot.saved_runs
        sweeps = saved[saved["kind"] == "sweep"] if len(saved) else saved
        options = {
            f"#{run_id} {row.strategy} {','.join(row.symbols or [])} (best {row.metric} {row.best:.3g})": int(run_id)
            for run_id, row in sweeps.iterrows()
        }
        if options != self.sweeps.options:  # left alone otherwise: the choice shown stays
            kept = self.sweeps.value in options.values()
            first = next(iter(options.values()), None)
            self.sweeps.param.update(options=options, value=self.sweeps.value if kept else first)

    def load(self, run_id: int) -> str:
        """Run saved sweep ``run_id`` again from its spec and show it."""
        return self._show_loaded(run_id, *self._rerun(run_id))

    def _rerun(self, run_id: int) -> tuple[Any, list[str]]:
        from workbench.services import runs

        if self.store is None:
            raise DashboardError("no store to load saved sweeps from: pass a SweepResult instead")
        result, differences = runs.rerun(self.store, run_id)
        if result.spec.kind != "sweep":
            raise DashboardError(f"run {run_id} is a {result.spec.kind}, not a sweep")
        return result, differences

    def _show_loaded(self, run_id: int, result: Any, differences: list[str]) -> str:
        self.set_result(result)
        changed = f"; differs from the saved one: {'; '.join(differences)}" if differences else ""
        return f"sweep #{run_id} loaded: {len(result.metrics)} parameter sets{changed}"

    def set_result(self, result: Any) -> None:
        """Show sweep ``result`` (a `SweepResult`): its heatmap over its first two parameters, and its best set."""
        import holoviews as hv

        params = list(result.params)
        if len(params) < 2:
            raise DashboardError(f"the heatmap needs two swept parameters; {result.strategy.name} has {params}")
        self.result = result
        self.x, self.y = params[0], params[1]
        element = _heatmap(result, self.x, self.y)
        self.tap = hv.streams.Tap(source=element, x=None, y=None)
        self.tap.add_subscriber(self._tapped)
        self.heatmap.object = element
        self.select(**result.best_params())

    def select(self, **values: Any) -> Any:
        """Run the parameter set ``values`` (missing ones: the current set) and show its equity curve; returns
        the run (`workbench.engine.single.Run`)."""
        import hvplot.pandas  # noqa: F401 - registers .hvplot

        from workbench.engine.single import simulate

        if self.result is None:
            raise DashboardError("no sweep loaded")
        values = {**self.values, **values}
        levels = self.result.metrics.index
        for name, value in values.items():
            if name not in levels.names or value not in set(levels.get_level_values(name)):
                raise DashboardError(f"{name}={value!r} was not swept")
        symbol = self.result.symbols[0]
        strategy = self.result.strategy(**values)
        self.values = values
        self.run = simulate(
            strategy, self.result.frames[symbol], self.result.costs, self.result.periods_per_year[symbol]
        )
        metrics = self.run.metrics
        metric = self.result.metric
        self.summary.object = (
            f"**{strategy!r}** on {symbol}: {metric} {metrics[metric]:.3f}, "
            f"total return {metrics['total_return']:.2%}, max drawdown {metrics['max_drawdown']:.2%}, "
            f"{int(metrics['trades'])} trades"
        )
        label = " ".join(f"{k}={v}" for k, v in values.items())  # no braces: HoloViews formats titles
        self.curve.object = self.run.equity.hvplot.line(title=f"equity, {label}", responsive=True, height=260)
        return self.run

    def _tapped(self, x: Any, y: Any) -> None:
        """A click on the heatmap: run that cell (the browser sends the axes' values as text)."""
        if x is None or y is None or self.result is None:
            return

        def run_cell() -> str:
            trades = int(
                self.select(**{self.x: self._level(self.x, x), self.y: self._level(self.y, y)}).metrics["trades"]
            )
            return f"ran {' '.join(f'{k}={v}' for k, v in self.values.items())}: {trades} trades"

        act(self.feedback, run_cell)

    def _level(self, name: str, value: Any) -> Any:
        """The swept value of parameter ``name`` that ``value`` (a value or its text) stands for."""
        for swept in pd.unique(self.result.metrics.index.get_level_values(name)):
            if swept == value or str(swept) == str(value):
                return swept
        raise DashboardError(f"{name}={value!r} was not swept")

    async def _load_clicked(self, _event: Any) -> None:
        run_id = self.sweeps.value
        if run_id is None:
            self.feedback.error("no saved sweep to load: save one with wb.save_run(res) or --save")
            return
        self.load_button.loading = True
        try:
            rerun = await asyncio.to_thread(self._rerun, run_id)  # takes seconds: off the server's loop
            self.feedback.ok(self._show_loaded(run_id, *rerun))
        except Exception as exc:  # any failure is shown, not raised: the page must stay usable
            self.feedback.error(str(exc))
        finally:
            self.load_button.loading = False

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.sweeps, self.load_button),
            self.heatmap,
            self.summary,
            self.curve,
            sizing_mode="stretch_width",
        )


def _heatmap(result: Any, x: str, y: str) -> Any:
    """The sweep's metric over parameters ``x`` and ``y`` (the best over the others and the symbols) as a
    HeatMap whose axes are the swept values in order, one cell each, clickable."""
    import holoviews as hv
    import holoviews.plotting.bokeh  # registers the backend the options below are for

    metric = result.metric
    table = result.metrics[metric].groupby(level=[y, x]).max().reset_index()
    axes = [hv.Dimension(name, values=[str(v) for v in sorted(pd.unique(table[name]))]) for name in (x, y)]
    cells = table.assign(**{x: table[x].astype(str), y: table[y].astype(str)})
    title = f"{result.strategy.name}: {metric}"
    options = {"cmap": "RdYlGn", "colorbar": True, "tools": ["tap", "hover"], "responsive": True, "height": 400}
    return hv.HeatMap(cells, kdims=axes, vdims=[metric]).opts(title=title, **options)
