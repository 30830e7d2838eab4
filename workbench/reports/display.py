"""One number format for everything a report shows: returns as percentages, dates as dates on daily bars,
sides as words, open trades as ``open``; each function turns numbers into display text and nothing else."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

# metrics that are fractions of something (shown as percentages), and ratios (3 decimals)
PERCENT = frozenset({"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure", "return"})
RATIO = frozenset({"sharpe", "sortino", "calmar", "profit_factor"})


def percent(value: float, digits: int = 2) -> str:
    """A fraction as a percentage; a value that rounds to zero shows no minus sign, NaN shows ``n/a``.

    Examples
    --------
    >>> percent(0.12345), percent(-0.00001, 1), percent(float("nan"))
    ('12.35%', '0.0%', 'n/a')
    """
    if value is None or np.isnan(value):
        return "n/a"
    if np.isinf(value):
        return "∞" if value > 0 else "-∞"
    text = f"{value:.{digits}%}"
    return text.lstrip("-") if float(text.rstrip("%")) == 0 else text


def metric(name: str, value: float) -> str:
    """One metric: fractions as percentages, ratios to 3 decimals, counts whole, money to cents; a profit
    factor without any losing trade says so instead of ``inf``.

    Examples
    --------
    >>> metric("sharpe", 1.23456), metric("max_drawdown", -0.25), metric("profit_factor", float("inf"))
    ('1.235', '-25.00%', 'no losing trade')
    """
    if value is None or np.isnan(value):
        return "n/a"
    if name in PERCENT:
        return percent(value)
    if np.isinf(value):
        return "no losing trade" if name == "profit_factor" and value > 0 else ("∞" if value > 0 else "-∞")
    if name in RATIO:
        return f"{value:.3f}"
    if name == "trades":
        return f"{value:.0f}"
    return f"{value:,.2f}"


def is_daily(times: Iterable[pd.Timestamp] | pd.Index) -> bool:
    """Whether every time is a midnight (daily or coarser bars), so a date says it all."""
    index = pd.DatetimeIndex(pd.Series(list(times), dtype=object).dropna())
    return bool(len(index) == 0 or (index == index.normalize()).all())


def times(values: pd.Series, daily: bool, missing: str = "") -> pd.Series:
    """Times as text: ``2020-06-12`` on daily bars, ``2020-06-12 14:30`` (UTC) otherwise; NaT as ``missing``."""
    stamp = pd.to_datetime(values, utc=True)
    text = stamp.dt.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M")
    return text.where(stamp.notna(), missing).astype(object)


def money(values: pd.Series) -> pd.Series:
    """Amounts to cents with thousands separators."""
    return values.map(lambda v: "n/a" if pd.isna(v) else f"{v:,.2f}").astype(object)


def trades(table: pd.DataFrame, daily: bool) -> pd.DataFrame:
    """Round trips for people: times as dates (exit ``open`` for a trade still open at the end, marked at the
    last close), ``long``/``short``, prices and P&L in money, the trade's return as a percentage."""
    out = pd.DataFrame(index=table.index)
    if "symbol" in table:
        out["symbol"] = table["symbol"].astype(object)
    out["entry"] = times(table["entry_time"], daily)
    out["exit"] = times(table["exit_time"], daily, missing="open")
    if "direction" in table:
        out["side"] = table["direction"].map(lambda d: "long" if d > 0 else "short").astype(object)
    if "size" in table:
        out["size"] = table["size"].map("{:,.4f}".format).astype(object)
    for column in ("entry_price", "exit_price", "fees", "pnl"):
        if column in table:
            out[column] = money(table[column])
    if "return" in table:
        out["return"] = table["return"].map(percent).astype(object)
    return out


def sweep_rows(table: pd.DataFrame) -> pd.DataFrame:
    """A sweep's metric rows (parameters as columns) with each metric in its own format."""
    out = table.copy().astype(object)
    for column in table.columns:
        if column in PERCENT or column in RATIO or column in {"trades", "end_value"}:
            out[column] = table[column].map(lambda v, c=column: metric(c, v))
    return out


def percents(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Every cell of ``table`` as a percentage."""
    return table.map(lambda v: percent(v, digits)).astype(object)


FILLS = {"next_open": "at the next bar's open", "close": "at the signal bar's close"}


def cost_caption(costs: dict[str, Any]) -> str:
    """The cost model in a few words: ``fees 0.10%, slippage 0.00%, fixed fee 0.00, fills at the next bar's open``."""
    fill = FILLS.get(costs.get("fill", "next_open"), costs.get("fill"))
    words = [
        f"fees {percent(costs.get('fees', 0.0))} of traded value",
        f"slippage {percent(costs.get('slippage', 0.0))} of price",
        f"fixed fee {costs.get('fixed_fee', 0.0):,.2f} per order",
        f"fills {fill}",
    ]
    if costs.get("leverage") is not None:
        words.append(f"leverage {costs['leverage']:g}")
    return ", ".join(words)


def walk_forward_rows(wf: Any, daily: bool) -> pd.DataFrame:
    """The walk-forward windows: test period, chosen parameters, in- and out-of-sample metric."""
    table = wf.summary()
    out = table.copy().astype(object)
    for column in table.columns:
        if pd.api.types.is_datetime64_any_dtype(table[column]):
            out[column] = times(table[column], daily)
        elif column.startswith(("is_", "oos_")):
            out[column] = table[column].map(lambda v, c=column: metric(c.split("_", 1)[1], v))
    return out
