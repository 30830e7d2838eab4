"""The tables of a backtest report, as plain DataFrames computed from a backtest result (one or many symbols)."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from workbench.provenance.spec import RunSpec
from workbench.trading.backtest import BacktestResult
from workbench.trading.portfolio import PortfolioResult

Result = BacktestResult | PortfolioResult

_PERCENT = frozenset({"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"})
_RATIO = frozenset({"sharpe", "sortino", "calmar", "profit_factor"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def metrics_table(result: Result, benchmark: Result) -> pd.DataFrame:
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
    """One metric for people: fractions as percentages, ratios to 3 decimals, counts whole, money to cents."""
    if np.isnan(value):
        return "n/a"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    if name in _PERCENT:
        return f"{value:.2%}"
    if name in _RATIO:
        return f"{value:.3f}"
    if name == "trades":
        return f"{value:.0f}"
    return f"{value:,.2f}"


def format_metrics(table: pd.DataFrame) -> pd.DataFrame:
    """``metrics_table`` as display strings (``format_metric`` per row)."""
    return table.apply(lambda row: row.map(lambda v: format_metric(str(row.name), v)), axis=1)


def frames(result: Result) -> dict[str, pd.DataFrame]:
    """The bars a result ran on, by symbol."""
    return {result.symbol: result.bars} if isinstance(result, BacktestResult) else dict(result.frames)


def drawdown(equity: pd.Series) -> pd.Series:
    """Fraction below the running peak of ``equity`` (0 at a new high, -0.2 for 20 % under it)."""
    return (equity / equity.cummax() - 1.0).rename("drawdown")


def monthly_returns(equity: pd.Series, cash: float) -> pd.DataFrame:
    """Return of each calendar month (rows: years, columns: Jan..Dec; NaN before the first and after the
    last bar), the first month measured from the starting ``cash``."""
    month_end = equity.resample("ME").last().dropna()
    returns = month_end / month_end.shift(1).fillna(cash) - 1.0
    table = pd.DataFrame({"year": returns.index.year, "month": returns.index.month, "return": returns.to_numpy()})
    grid = table.pivot(index="year", columns="month", values="return").reindex(columns=range(1, 13))
    grid.columns = list(_MONTHS)
    return grid


def exposure(result: Result) -> pd.DataFrame:
    """Each symbol's position value as a fraction of equity per bar, plus ``gross`` for several symbols."""
    if isinstance(result, BacktestResult):
        value = (result.position * result.bars["close"]).to_frame(result.symbol)
    else:
        closes = pd.DataFrame({s: f["close"] for s, f in result.frames.items()}).reindex(result.equity.index)
        value = result.positions * closes.ffill()
    table = value.fillna(0.0).div(result.equity, axis=0)
    if table.shape[1] > 1:
        table["gross"] = table.abs().sum(axis=1)
    return table


def trade_list(result: Result) -> pd.DataFrame:
    """Round trips with their P&L, without the bar numbers (times say when)."""
    return result.trades.drop(columns=["entry_bar", "exit_bar"], errors="ignore")


def risk_events(result: Result) -> pd.DataFrame:
    """The risk decisions other than ``approve`` (resizes, denials, exits, halts) with their numbers."""
    rows = [
        {
            "timestamp": e.timestamp,
            "symbol": e.symbol,
            "decision": e.decision,
            "rule": e.rule,
            "details": _details(e.details),
        }
        for e in result.risk_events
        if e.decision != "approve"
    ]
    return pd.DataFrame(rows, columns=["timestamp", "symbol", "decision", "rule", "details"])


def risk_counts(result: Result) -> pd.DataFrame:
    """How many risk decisions of each kind (approvals included) the run made, by rule."""
    rows = [(e.decision, e.rule or "-") for e in result.risk_events]
    table = pd.DataFrame(rows, columns=["decision", "rule"])
    return table.groupby(["decision", "rule"]).size().rename("count").reset_index()


def alerts(result: Result) -> pd.DataFrame:
    """The RiskMonitor's alerts: measure, level, value and limit when a measure changed level."""
    rows = [
        {"timestamp": a.timestamp, "measure": a.measure, "level": a.level, "value": a.value, "limit": a.limit}
        for a in result.alerts
    ]
    return pd.DataFrame(rows, columns=["timestamp", "measure", "level", "value", "limit"])


def provenance(spec: RunSpec, bars: dict[str, pd.DataFrame], sweep: dict[str, Any] | None = None) -> pd.DataFrame:
    """What produced the report, to run it again: the run's ``RunSpec``, the bars' range and the versions."""
    origin = spec.origin or {}
    rows = {
        "strategy": spec.strategy,
        "parameters": _json(spec.params),
        "symbols": ", ".join(spec.symbols),
        "data source": origin.get("source", "in memory") + (f" ({origin['path']})" if origin.get("path") else ""),
        "requested range": f"{origin.get('start') or 'first bar'} .. {origin.get('end') or 'last bar'}",
        "bars": "; ".join(f"{s}: {len(f)} bars, {f.index[0]} .. {f.index[-1]}" for s, f in bars.items()),
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


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=False, default=str)


def _details(details: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in details.items())
