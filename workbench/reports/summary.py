"""Small HTML summaries of results, shown when a result is a notebook cell's value (``_repr_html_``): what ran,
on what bars and costs, the key metrics and the best rows, in the report's number format."""

from __future__ import annotations

from html import escape
from typing import Any

import pandas as pd

from workbench.reports import display

KEY_METRICS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "trades", "win_rate", "profit_factor")
_STYLE = "<style>.wb-summary td, .wb-summary th {text-align: right; padding: 1px 8px;}</style>"


def backtest_html(result: Any) -> str:
    """A backtest (one symbol or an account of several): strategy, bars, costs, key metrics, trades."""
    symbols = list(result.frames)
    index = result.equity.index
    daily = display.is_daily(index)
    trades = result.trades
    still_open = int(trades["exit_time"].isna().sum()) if "exit_time" in trades else 0
    lines = [
        f"<b>{escape(repr(result.strategy))}</b> on {escape(', '.join(symbols))}: {_span(index, daily)}",
        f"Costs: {escape(display.cost_caption(result.settings.get('costs', {})))}.",
        f"{len(trades)} trades ({still_open} open at the end), "
        f"{sum(e.decision != 'approve' for e in result.risk_events)} risk decisions other than approve, "
        f"{len(result.alerts)} alerts. <code>.plot()</code> for charts, <code>.report()</code> for the full report.",
    ]
    return _page(type(result).__name__, lines, _metrics_table(result.metrics))


def sweep_html(result: Any, rows: int = 5) -> str:
    """A sweep: strategy, runs, symbols, costs, and its best rows by its metric."""
    state = "" if result.complete else " <b>Interrupted</b>: these are the rows done."
    params = ", ".join(f"{name} ({result.metrics.index.get_level_values(name).nunique()})" for name in result.params)
    lines = [
        f"<b>{escape(result.strategy.name)}</b>: {len(result.metrics):,} runs over {escape(', '.join(result.symbols))}"
        f", parameters {escape(params)}.{state}",
        f"Costs: {escape(display.cost_caption(result.settings.get('costs', {})))}.",
        f"The best {rows} by {escape(result.metric)}; <code>.heatmap(x, y)</code>, <code>.overfitting()</code>, "
        "<code>.report()</code> for more.",
    ]
    best = display.sweep_rows(result.best(rows).reset_index())
    return _page("SweepResult", lines, best.to_html(index=False, classes="wb-summary", border=0))


def walk_forward_html(result: Any) -> str:
    """A walk-forward: strategy, windows, efficiency, out-of-sample metrics per symbol and the windows."""
    metric = result.metric
    oos = result.oos_metrics
    columns = [c for c in KEY_METRICS if c in oos.columns]
    shown = oos[columns].apply(lambda col: col.map(lambda v, c=col.name: display.metric(str(c), v))).astype(object)
    lines = [
        f"<b>{escape(result.strategy.name)}</b>: {len(result.windows)} windows, efficiency "
        f"{result.efficiency():.2f} (mean out-of-sample {escape(metric)} over mean in-sample).",
        "Out-of-sample metrics of the stitched test windows, then each window's choice:",
    ]
    windows = display.walk_forward_rows(result, display.is_daily(result.windows["test_start"]))
    tables = shown.to_html(classes="wb-summary", border=0) + windows.to_html(
        index=False, classes="wb-summary", border=0
    )
    return _page("WalkForwardResult", lines, tables)


def lookahead_html(result: Any) -> str:
    """A look-ahead check (``check_lookahead``'s result): passed or not tested, and what it compared."""
    passed = result.compared
    verdict = "No look-ahead found" if passed else "<b>Not tested</b>: nothing was compared"
    lines = [
        f"<b>{escape(result.strategy)}</b> on {escape(', '.join(result.symbols))}: {verdict}.",
        "Each cut point re-runs the signals on the bars up to it and compares them with the full run's.",
    ]
    counts = pd.DataFrame(
        {
            "value": [
                f"{result.cuts:,}",
                f"{result.bars:,}",
                f"{result.signals:,}",
                f"{result.active:,}",
            ]
        },
        index=["cut points", "bars", "signal values compared", "of them a position"],
    )
    return _page("LookaheadResult", lines, counts.to_html(classes="wb-summary", border=0))


def register_notebook_html(shell: Any = None) -> None:
    """Show walk-forward and look-ahead results as HTML in this IPython session (default: the running one)
    through IPython's formatter for their classes, which imports no research code until one is shown."""
    from IPython import get_ipython

    shell = shell or get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type_by_name("workbench.research.walk_forward", "WalkForwardResult", walk_forward_html)
    formatter.for_type_by_name("workbench.research.lookahead", "LookaheadResult", lookahead_html)


def _metrics_table(metrics: pd.Series) -> str:
    names = [n for n in KEY_METRICS if n in metrics.index] + [n for n in ("exposure", "end_value") if n in metrics]
    table = pd.DataFrame({"value": [display.metric(n, float(metrics[n])) for n in names]}, index=names)
    return table.to_html(classes="wb-summary", border=0)


def _span(index: pd.Index, daily: bool) -> str:
    fmt = "%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"
    return f"{index[0]:{fmt}} to {index[-1]:{fmt}} ({len(index):,} bars)"


def _page(kind: str, lines: list[str], tables: str) -> str:
    body = "".join(f"<div>{line}</div>" for line in lines)
    return f'{_STYLE}<div class="wb-summary"><div><i>{kind}</i></div>{body}{tables}</div>'
