"""The overview: the account's equity, the day's P&L, cash, exposure and running/halted state, the health of the
database, cache, data feed and broker, and the equity curve of each live run."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn

from workbench.monitor.health import HealthReport
from workbench.ui.account import AccountSummary, account_summary
from workbench.ui.poller import PollState

_STATUS_COLOR = {"ok": "#027a48", "degraded": "#b54708", "down": "#b42318"}


class OverviewView(pn.viewable.Viewer):
    """Headline figures, health checks and equity curves (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.stats = pn.pane.HTML("", sizing_mode="stretch_width")
        self.health = pn.pane.HTML("<i>health not checked yet</i>", sizing_mode="stretch_width")
        self.curve = pn.pane.Bokeh(None, sizing_mode="stretch_width", height=320)
        self.summary: AccountSummary | None = None
        self._marks_key: tuple[object, ...] | None = None

    def update(self, state: PollState) -> None:
        """Show ``state``: figures always, health when checked, the curve when the marks changed."""
        self.summary = account_summary(state.snapshot)
        self.stats.object = _stats_html(self.summary)
        if state.health is not None:
            self._show_health(state.health)
        marks = state.snapshot.marks
        key = (len(marks), marks["timestamp"].max() if len(marks) else None, tuple(state.snapshot.runs["run_id"]))
        if key != self._marks_key:
            self._marks_key = key
            self.curve.object = _curve(state)

    def _show_health(self, report: HealthReport) -> None:
        self.health.object = _health_html(report)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.stats,
            pn.Row(
                pn.Column(pn.pane.Markdown("### Equity"), self.curve, sizing_mode="stretch_width"),
                pn.Column(self.health, width=480),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )


def _stats_html(summary: AccountSummary) -> str:
    """The headline figures as cards; the state card is red while anything is halted."""
    as_of = summary.as_of.strftime("%Y-%m-%d %H:%M UTC") if summary.as_of is not None else "no mark yet"
    cards = [
        ("equity", "Equity", f"{summary.equity:,.2f}"),
        ("day-pnl", "Day P&L", f"{summary.day_pnl:+,.2f}"),
        ("cash", "Cash", f"{summary.cash:,.2f}"),
        ("exposure", "Exposure (gross / net)", f"{summary.gross_exposure:.1%} / {summary.net_exposure:+.1%}"),
        ("state", "State", summary.state),
    ]
    halted = "#b42318" if summary.halted else "#027a48"
    body = "".join(
        f'<div class="wb-card" id="wb-{key}" style="padding:8px 14px;border:1px solid #d0d5dd;border-radius:6px;'
        f'min-width:150px"><div style="font-size:12px;color:#475467">{label}</div>'
        f'<div style="font-size:20px;font-weight:600{";color:" + halted if key == "state" else ""}">'
        f"{html.escape(value)}</div></div>"
        for key, label, value in cards
    )
    return f'<div style="display:flex;gap:10px;flex-wrap:wrap">{body}</div><small>as of the last mark: {as_of}</small>'


def _health_html(report: HealthReport) -> str:
    """The aggregate status and one row per check (status in color, detail wrapped)."""
    e = html.escape
    rows = "".join(
        f'<tr class="wb-check" data-name="{e(c.name)}"><td>{e(c.name)}</td>'
        f'<td style="color:{_STATUS_COLOR[c.status]};font-weight:600">{c.status}</td><td>{e(c.detail)}</td></tr>'
        for c in report.checks
    )
    when = report.timestamp.strftime("%H:%M:%S UTC")
    head = f'<b>Health: <span style="color:{_STATUS_COLOR[report.status]}">{report.status}</span></b> ({when})'
    return f'{head}<table style="width:100%;border-collapse:collapse" cellpadding="4">{rows}</table>'


def _curve(state: PollState) -> object:
    """Each live run's equity over its marks, one line per run with its legend entry and hover, or None before the
    first mark (a Bokeh figure: drawn in a fraction of the time a HoloViews plot takes to render)."""
    from bokeh.models import HoverTool
    from bokeh.palettes import Category10_10
    from bokeh.plotting import figure

    marks, runs = state.snapshot.marks, state.snapshot.runs
    if not len(marks):
        return None
    labels = {r.run_id: f"{r.strategy} {r.symbol or ''} #{r.run_id}" for r in runs.itertuples()}
    frame = marks.assign(
        run=marks["run_id"].map(labels), timestamp=pd.to_datetime(marks["timestamp"], utc=True).dt.tz_convert(None)
    )
    plot = figure(
        x_axis_type="datetime", height=300, sizing_mode="stretch_width", tools="pan,wheel_zoom,box_zoom,reset,save"
    )
    for i, (run, lines) in enumerate(frame.groupby("run", sort=True)):
        source = lines[["timestamp", "equity", "run"]].sort_values("timestamp")
        plot.line("timestamp", "equity", source=source, legend_label=run, color=Category10_10[i % 10], line_width=2)
    tips = [("run", "@run"), ("time", "@timestamp{%F %T}"), ("equity", "@equity{0,0.00}")]
    plot.add_tools(HoverTool(tooltips=tips, formatters={"@timestamp": "datetime"}))
    plot.legend.location = "top_left"
    plot.xaxis.axis_label, plot.yaxis.axis_label = "timestamp", "equity"
    return plot
