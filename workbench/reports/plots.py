"""The plots of a backtest report as HoloViews objects, and their display as self-contained Bokeh HTML.

``show`` renders through Bokeh's ``components`` instead of a notebook extension: the extension's loader
fetches BokehJS from a CDN, while a report must render offline. ``bokeh_js`` inlines BokehJS once per page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.reports.display import percent

STRATEGY_COLOR = "#1f6fb4"
BENCHMARK_COLOR = "#8c8c8c"
_WIDE = {"responsive": True, "height": 320, "tools": ["hover"], "show_grid": True}


def _hv():
    """HoloViews with its Bokeh plotting backend loaded (and no notebook output)."""
    import holoviews as hv

    hv.renderer("bokeh")
    return hv


def _naive(data: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """The same values on a tz-naive UTC index (Bokeh's datetime axis takes naive times)."""
    index = data.index
    return data.set_axis(index.tz_convert(None) if getattr(index, "tz", None) is not None else index)


def _percent():
    from bokeh.models import NumeralTickFormatter

    return NumeralTickFormatter(format="0%")


def bokeh_js() -> Any:
    """BokehJS inlined as an HTML ``<script>``: display it once before the first ``show``.

    Examples
    --------
    >>> "Bokeh" in bokeh_js().data
    True
    """
    from bokeh.resources import Resources
    from IPython.display import HTML

    # js_raw only: once Panel is imported, js_files names its module shim by a server path a file cannot load
    raw = Resources(mode="inline", components=["bokeh"]).js_raw
    return HTML("".join(f"<script>\n{code}\n</script>\n" for code in raw))


def show(obj: Any) -> Any:
    """``obj`` (a HoloViews object) as an HTML ``<div>`` and ``<script>`` that Bokeh renders in the page.

    Examples
    --------
    >>> import pandas as pd
    >>> html = show(equity_plot(pd.Series([1.0, 2.0], index=pd.date_range("2020", periods=2)))).data
    >>> "docs_json" in html
    True
    """
    from bokeh.embed import components
    from IPython.display import HTML

    script, div = components(_hv().render(obj, backend="bokeh"))
    return HTML(div + script)


def equity_plot(equity: pd.Series, benchmark: pd.Series | None = None) -> Any:
    """Equity (and buy-and-hold's) over time above their drawdowns from the running peak."""
    from workbench.reports.tables import drawdown

    hv = _hv()
    curves, falls = [], []
    lines = [("strategy", equity, STRATEGY_COLOR), ("buy & hold", benchmark, BENCHMARK_COLOR)]
    for label, series, color in lines:
        if series is None:
            continue
        series, under = _naive(series), _naive(drawdown(series))
        curves.append(hv.Curve((series.index, series.to_numpy()), "time", "equity", label=label).opts(color=color))
        falls.append(
            hv.Area((under.index, under.to_numpy()), "time", "drawdown", label=label).opts(
                color=color, alpha=0.35, line_alpha=0.0
            )
        )
    top = hv.Overlay(curves).opts(title="Equity", legend_position="top_left", **_WIDE)
    bottom = hv.Overlay(falls).opts(
        title="Underwater: drawdown from the running peak",
        legend_position="bottom_left",
        yformatter=_percent(),
        **_WIDE,
    )
    return (top + bottom.opts(height=220)).cols(1)


def monthly_heatmap(table: pd.DataFrame) -> Any:
    """Calendar-month returns (``tables.monthly_returns``) as a year x month heatmap with percentage labels."""
    hv = _hv()
    months = list(table.columns)
    long = table.rename_axis("year").reset_index().melt("year", var_name="month", value_name="return")
    long = long.dropna()
    # object columns: HoloViews reshapes the heatmap's columns, which pandas' Arrow-backed strings refuse
    long = long.assign(year=long["year"].astype(str).astype(object), month=long["month"].astype(object))
    long["label"] = long["return"].map(lambda v: percent(v, 1)).astype(object)
    years = sorted(long["year"].unique(), key=int)  # calendar order, whatever order the cells came in
    heat = hv.HeatMap(long, ["month", "year"], "return").redim.values(month=months, year=years)
    heat = heat.opts(
        cmap="RdYlGn",
        colorbar=True,
        symmetric=True,
        tools=["hover"],
        invert_yaxis=True,
        xaxis="top",
        responsive=True,
        height=max(160, 26 * table.shape[0] + 80),
        title="Monthly returns",
    )
    labels = hv.Labels(long, ["month", "year"], "label").opts(text_font_size="8pt", text_color="black")
    return heat * labels


def exposure_plot(table: pd.DataFrame) -> Any:
    """Position value over equity per bar (``tables.exposure``), one step line per column."""
    hv = _hv()
    table = _naive(table)
    curves = [
        hv.Curve((table.index, table[c].to_numpy()), "time", "exposure", label=str(c)).opts(interpolation="steps-post")
        for c in table.columns
    ]
    if len(curves) == 1:
        curves[0] = curves[0].opts(color=STRATEGY_COLOR)
    title = "Exposure (position value / equity)"
    return hv.Overlay(curves).opts(title=title, legend_position="top_left", yformatter=_percent(), **_WIDE)


def sweep_plot(metrics: pd.DataFrame, metric: str, chosen: dict[str, Any]) -> Any:
    """The sweep's ``metric`` over its first two varied parameters (the mean over other levels and symbols),
    the ``chosen`` parameters marked with a cross; a line with a dashed mark for one varied parameter."""
    hv = _hv()
    varied = [n for n in metrics.index.names if n != "symbol" and metrics.index.get_level_values(n).nunique() > 1]
    if len(varied) == 1:
        (x,) = varied
        line = metrics[metric].groupby(level=x).mean().reset_index()
        curve = hv.Curve(line, x, metric).opts(color=STRATEGY_COLOR, title=f"Sweep: {metric} by {x}", **_WIDE)
        return curve * hv.VLine(chosen[x]).opts(color="black", line_dash="dashed")
    x, y = varied[:2]
    grid = metrics[metric].groupby(level=[x, y]).mean().reset_index()
    heat = hv.HeatMap(grid, [x, y], metric).opts(
        cmap="RdYlGn",
        colorbar=True,
        tools=["hover"],
        responsive=True,
        height=420,
        title=f"Sweep: {metric} by {x} and {y} (x = the reported parameters)",
    )
    mark = hv.Points([(chosen[x], chosen[y])], [x, y]).opts(marker="x", size=22, color="black", line_width=3)
    return heat * mark


def rolling_plot(strategy: pd.DataFrame, benchmark: pd.DataFrame, window: int) -> Any:
    """Rolling Sharpe ratio above rolling volatility (``tearsheet.rolling_stats``) of both series."""
    hv = _hv()
    panels = []
    for column, title, extra in (
        ("sharpe", f"Rolling Sharpe ratio ({window} bars)", {}),
        ("volatility", f"Rolling volatility ({window} bars, annualized)", {"yformatter": _percent()}),
    ):
        lines = [
            hv.Curve((s.index, s[column].to_numpy()), "time", column, label=label).opts(color=color)
            for label, s, color in (
                ("strategy", _naive(strategy), STRATEGY_COLOR),
                ("buy & hold", _naive(benchmark), BENCHMARK_COLOR),
            )
        ]
        panels.append(hv.Overlay(lines).opts(title=title, legend_position="top_left", **_WIDE, **extra))
    return (panels[0].opts(height=240) + panels[1].opts(height=240)).cols(1)


def yearly_plot(table: pd.DataFrame) -> Any:
    """Each calendar year's return of the strategy beside buy-and-hold's (``tearsheet.yearly_returns``)."""
    hv = _hv()
    long = table.reset_index().melt("year", var_name="series", value_name="return")
    long = long.assign(year=long["year"].astype(str).astype(object), series=long["series"].astype(object))
    return hv.Bars(long, ["year", "series"], "return").opts(
        title="Yearly returns",
        color=hv.dim("series").categorize({"strategy": STRATEGY_COLOR, "buy & hold": BENCHMARK_COLOR}),
        yformatter=_percent(),
        xlabel="",
        **_WIDE,
    )


def distribution_plot(returns: dict[str, pd.Series], bins: int = 60) -> Any:
    """Histograms of per-bar returns (strategy over buy-and-hold, same bins), bars with no change left out."""
    hv = _hv()
    values = {name: r.to_numpy()[np.isfinite(r.to_numpy()) & (r.to_numpy() != 0)] for name, r in returns.items()}
    edges = np.histogram_bin_edges(np.concatenate(list(values.values())) if values else [0.0], bins=bins)
    colors = {"strategy": STRATEGY_COLOR, "buy & hold": BENCHMARK_COLOR}
    hists = [
        hv.Histogram(np.histogram(v, bins=edges), kdims="return", vdims="bars", label=name).opts(
            color=colors.get(name, STRATEGY_COLOR), alpha=0.55, line_alpha=0.0
        )
        for name, v in values.items()
    ]
    return hv.Overlay(hists).opts(
        title="Distribution of per-bar returns", xformatter=_percent(), legend_position="top_left", **_WIDE
    )


def walk_forward_plot(equity: dict[str, pd.Series], benchmark: dict[str, pd.Series]) -> Any:
    """Walk-forward out-of-sample equity (each test window traded with its training window's choice)
    beside buy-and-hold over the same bars, per symbol."""
    hv = _hv()
    curves = []
    for symbol, series in equity.items():
        pairs = [("walk-forward", series, STRATEGY_COLOR), ("buy & hold", benchmark.get(symbol), BENCHMARK_COLOR)]
        for label, line, color in pairs:
            if line is None:
                continue
            line = _naive(line)
            curve = hv.Curve((line.index, line.to_numpy()), "time", "equity", label=f"{symbol} {label}")
            curves.append(curve.opts(color=color) if len(equity) == 1 else curve)
    return hv.Overlay(curves).opts(title="Walk-forward: out-of-sample equity", legend_position="top_left", **_WIDE)
