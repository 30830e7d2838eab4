"""The tables of a backtest report, as plain DataFrames computed from a backtest result (one or many symbols)."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from workbench.provenance.spec import RunSpec
from workbench.reports import display
from workbench.reports.tearsheet import bar_returns, worst_drawdowns
from workbench.trading.result import BacktestResult

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def metrics_table(result: BacktestResult, benchmark: BacktestResult) -> pd.DataFrame:
    """The strategy's metrics beside buy-and-hold's, one row per metric (``engine.metrics.METRIC_NAMES``).

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.reports.benchmark import buy_and_hold
    >>> bars = wb.load("SPY", start="2020-01-01", end="2020-12-31")
    >>> metrics_table(wb.backtest("sma_cross", bars), buy_and_hold(bars)).columns.tolist()
    ['strategy', 'buy & hold']
    """
    return pd.DataFrame({"strategy": result.metrics, "buy & hold": benchmark.metrics})


def format_metric(name: str, value: float) -> str:
    """One metric for people (``display.metric``): percentages, ratios to 3 decimals, counts, money."""
    return display.metric(name, value)


def format_metrics(table: pd.DataFrame) -> pd.DataFrame:
    """``metrics_table`` as display strings (``format_metric`` per row)."""
    return table.apply(lambda row: row.map(lambda v: format_metric(str(row.name), v)), axis=1)


def frames(result: BacktestResult) -> dict[str, pd.DataFrame]:
    """The bars a result ran on, by symbol."""
    return dict(result.frames)


def drawdown(equity: pd.Series) -> pd.Series:
    """Fraction below the running peak of ``equity`` (0 at a new high, -0.2 for 20 % under it)."""
    return (equity / equity.cummax() - 1.0).rename("drawdown")


def monthly_returns(equity: pd.Series, cash: float) -> pd.DataFrame:
    """Return of each calendar month (rows: years in order, columns: Jan..Dec; NaN before the first and after
    the last bar), the first month measured from the starting ``cash``. A first month holding only the first
    bar (data that starts on a month's last day) is left out: its one cell says nothing."""
    returns = bar_returns(equity, cash)
    months = returns.index.to_period("M") if returns.index.tz is None else returns.index.tz_convert(None).to_period("M")
    grouped = (1.0 + returns).groupby(months)
    monthly, counts = grouped.prod() - 1.0, grouped.size()
    if len(counts) > 1 and counts.iloc[0] == 1:
        monthly = monthly.iloc[1:]
    table = pd.DataFrame({"year": monthly.index.year, "month": monthly.index.month, "return": monthly.to_numpy()})
    grid = table.pivot(index="year", columns="month", values="return").reindex(columns=range(1, 13)).sort_index()
    grid.columns = list(_MONTHS)
    return grid


def exposure(result: BacktestResult) -> pd.DataFrame:
    """Each symbol's position value as a fraction of equity per bar, plus ``gross`` for several symbols."""
    table = (result.positions * result.closes).fillna(0.0).div(result.equity, axis=0)
    if table.shape[1] > 1:
        table["gross"] = table.abs().sum(axis=1)
    return table


def trade_list(result: BacktestResult) -> pd.DataFrame:
    """Round trips with their P&L, without the bar numbers (times say when)."""
    return result.trades.drop(columns=["entry_bar", "exit_bar"], errors="ignore")


def risk_events(result: BacktestResult, daily: bool = False) -> pd.DataFrame:
    """The risk decisions other than ``approve`` (resizes, denials, exits, halts) with their numbers."""
    rows = [
        {
            "timestamp": _when(e.timestamp, daily),
            "symbol": e.symbol,
            "decision": e.decision,
            "rule": e.rule,
            "details": _details(e.details),
        }
        for e in result.risk_events
        if e.decision != "approve"
    ]
    return pd.DataFrame(rows, columns=["timestamp", "symbol", "decision", "rule", "details"])


def risk_counts(result: BacktestResult) -> pd.DataFrame:
    """How many risk decisions of each kind (approvals included) the run made, by rule."""
    rows = [(e.decision, e.rule or "-") for e in result.risk_events]
    table = pd.DataFrame(rows, columns=["decision", "rule"])
    return table.groupby(["decision", "rule"]).size().rename("count").reset_index()


def alerts(result: BacktestResult, daily: bool = False) -> pd.DataFrame:
    """The RiskMonitor's alerts: measure, level, value and limit when a measure changed level."""
    rows = [
        {
            "timestamp": _when(a.timestamp, daily),
            "measure": a.measure,
            "level": a.level,
            "value": _number(a.measure, a.value),
            "limit": _number(a.measure, a.limit),
        }
        for a in result.alerts
    ]
    return pd.DataFrame(rows, columns=["timestamp", "measure", "level", "value", "limit"])


def provenance(
    spec: RunSpec,
    bars: dict[str, pd.DataFrame],
    sweep: dict[str, Any] | None = None,
    rerun: str | None = None,
    daily: bool = True,
) -> pd.DataFrame:
    """What produced the report and whether it can be run again: the run's ``RunSpec``, the bars' range, the
    versions, and ``rerun``, a sentence saying whether and how (``source.rerun_note``)."""
    origin = spec.origin or {}
    span = "; ".join(
        f"{s}: {len(f)} bars, {_when(f.index[0], daily)} .. {_when(f.index[-1], daily)}" for s, f in bars.items()
    )
    rows = {
        "can it be run again": rerun or "-",
        "strategy": spec.strategy,
        "parameters": _json(spec.params),
        "symbols": ", ".join(spec.symbols),
        "data source": origin.get("source", "in memory (passed to wb.backtest, not loaded by wb.load)")
        + (f" ({origin['path']})" if origin.get("path") else ""),
        "requested range": f"{_bound(origin.get('start'), daily) or 'first bar'} .. "
        f"{_bound(origin.get('end'), daily) or 'last bar'}",
        "bars": span,
        "data hash (SHA-256)": spec.data_hash,
        "costs and fills": _json(spec.costs),
        "risk rules": _json(spec.risk) if spec.risk else "none",
        "weights": _json(spec.weights) if spec.weights else "-",
        "sweep ranges": _json(sweep) if sweep else "-",
        "strategy source hash (SHA-256)": spec.strategy_hash,
        "workbench version": spec.code_version,
        "python": platform.python_version(),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    return pd.DataFrame({"field": list(rows), "value": list(rows.values())})


def cost_model(result: BacktestResult, costs: dict[str, Any], risk: dict[str, Any]) -> str:
    """The report's header sentence: dates, bars, cash, the cost model and the risk rules."""
    index = result.equity.index
    daily = display.is_daily(index)
    return (
        f"{_when(index[0], daily)} to {_when(index[-1], daily)} ({len(index):,} bars). "
        f"Cash {costs.get('cash', 10_000.0):,.0f}; costs: {display.cost_caption(costs)}; "
        f"risk rules: {_json(risk) if risk else 'none'}."
    )


def periods_per_year(result: BacktestResult, costs: dict[str, Any]) -> float:
    """Bars per year that annualize the report's rolling numbers: the run's setting, else inferred as the
    metrics do."""
    from workbench.engine.inputs import periods_per_year as inferred

    given = costs.get("periods_per_year")
    return float(given) if given else inferred(result.equity.index)


def drawdown_rows(equity: pd.Series, daily: bool, n: int = 5) -> pd.DataFrame:
    """``tearsheet.worst_drawdowns`` for people: dates, ``not yet`` for no recovery, depth as a percentage."""
    table = worst_drawdowns(equity, n)
    return pd.DataFrame(
        {
            "start": display.times(table["start"], daily),
            "valley": display.times(table["valley"], daily),
            "recovery": display.times(table["recovery"], daily, missing="not yet"),
            "depth": table["depth"].map(display.percent).astype(object),
            "days": table["days"].astype(int),
        }
    )


def yearly_rows(yearly: pd.DataFrame) -> pd.DataFrame:
    """Yearly returns with the strategy's excess over buy-and-hold, as percentages."""
    table = yearly.assign(difference=yearly["strategy"] - yearly["buy & hold"])
    return display.percents(table).reset_index().astype({"year": str})


def distribution_rows(table: pd.DataFrame) -> pd.DataFrame:
    """``tearsheet.distribution`` for people: returns as percentages, skew and kurtosis to 3 decimals."""
    out = table.astype(object)
    for row in table.index:
        shape = row in ("skew", "kurtosis")
        out.loc[row] = [f"{v:.3f}" if shape else display.percent(v, 3) for v in table.loc[row]]
    return out


def overfitting_rows(reports: Any) -> pd.DataFrame:
    """The overfitting verdict of a sweep (one row per symbol, or one for an account): DSR, PBO, stability."""
    items = reports.values() if isinstance(reports, dict) else [reports]
    rows = [
        {
            "symbol": r.symbol,
            "best parameters": ", ".join(f"{k}={v}" for k, v in r.best_params.items()),
            "trials": r.n_trials,
            "Sharpe": f"{r.sharpe:.3f}",
            "deflated Sharpe": f"{r.deflated_sharpe:.3f}",
            "PBO": f"{r.pbo:.3f}",
            "stability": f"{r.stability:.3f}",
            "verdict": r.verdict,
        }
        for r in items
    ]
    return pd.DataFrame(rows)


def _when(stamp: Any, daily: bool) -> str:
    """One time as a date on daily bars, else to the minute (UTC)."""
    stamp = pd.Timestamp(stamp)
    return stamp.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M")


def _bound(value: Any, daily: bool) -> str | None:
    """A requested start or end as the report shows times (None when not given)."""
    return None if value is None else _when(value, daily)


def _number(measure: str, value: float) -> str:
    """An alert's value or limit: every measure (drawdown, daily loss, exposures) is a fraction of equity."""
    return display.percent(value)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=False, default=str)


def _details(details: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in details.items())
