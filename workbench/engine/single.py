"""One simulated run with its full record: equity and position per bar, trades, metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.engine.inputs import Costs
from workbench.engine.metrics import METRIC_NAMES, N_METRICS
from workbench.engine.simulate import N_TRADE_FIELDS, TRADE_FIELDS, run_nb
from workbench.strategies.base import Strategy


@dataclass(frozen=True)
class Run:
    """The record of one simulated run over a window of bars."""

    cash: float
    equity: pd.Series
    position: pd.Series
    trades: pd.DataFrame
    metrics: pd.Series

    @property
    def returns(self) -> pd.Series:
        """Per-bar simple returns of equity; the first is measured from the starting cash."""
        previous = self.equity.shift(1).fillna(self.cash)
        return (self.equity / previous - 1.0).rename("returns")


def trade_table(records: np.ndarray, index: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Trade records (rows of ``TRADE_FIELDS``) as a table with integer bar numbers; with ``index`` (the
    bars' timestamps) also ``entry_time`` and ``exit_time`` (NaT while a trade is open)."""
    table = pd.DataFrame(records, columns=list(TRADE_FIELDS))
    for col in ("entry_bar", "exit_bar"):
        table[col] = table[col].astype(np.int64)
    if index is not None:
        table.insert(0, "entry_time", index[table["entry_bar"]])
        table.insert(1, "exit_time", index[table["exit_bar"]].where(table["exit_bar"] >= 0))
    return table


def simulate(
    strategy: Strategy,
    bars: pd.DataFrame,
    costs: Costs,
    periods_per_year: float,
    start: int = 0,
    end: int | None = None,
) -> Run:
    """Run ``strategy`` on validated ``bars`` over bars [start, end) with ``costs``; record everything.

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.engine.inputs import check_costs
    >>> costs = check_costs(10_000, 0.001, 0.0, "close")
    >>> run = simulate(wb.strategy("sma_cross")(fast=10, slow=50), wb.load("SPY"), costs, 252)
    >>> int(run.metrics["trades"])
    87
    """
    return simulate_exposure(
        strategy.exposure(bars).to_numpy(), bars, costs, periods_per_year, start, end, name=repr(strategy)
    )


def simulate_exposure(
    exposure: np.ndarray,
    bars: pd.DataFrame,
    costs: Costs,
    periods_per_year: float,
    start: int = 0,
    end: int | None = None,
    name: str = "run",
    symbol: str | None = None,
) -> Run:
    """Like ``simulate`` for a target-exposure array computed elsewhere (one value per bar of ``bars``).

    ``symbol`` (default: ``bars.attrs["symbol"]``) is what the allowed-symbols rule checks.
    """
    symbol = str(bars.attrs.get("symbol", "")) if symbol is None else symbol
    end = len(bars) if end is None else end
    n = end - start
    metrics, equity, position = np.empty(N_METRICS), np.empty(n), np.empty(n)
    trades = np.empty((n + 1, N_TRADE_FIELDS))
    count = run_nb(
        np.ascontiguousarray(bars["open"].to_numpy(dtype=np.float64)),
        np.ascontiguousarray(bars["close"].to_numpy(dtype=np.float64)),
        exposure,
        costs.sessions(bars.index, symbol),
        start,
        end,
        costs.cash,
        costs.fees,
        costs.fixed_fee,
        costs.slippage,
        costs.fill_close,
        periods_per_year,
        costs.risk,
        metrics,
        np.zeros((0, 2)),
        True,
        equity,
        position,
        trades,
    )
    index = bars.index[start:end]
    return Run(
        cash=costs.cash,
        equity=pd.Series(equity, index=index, name="equity"),
        position=pd.Series(position, index=index, name="position"),
        trades=trade_table(trades[:count]),
        metrics=pd.Series(metrics, index=list(METRIC_NAMES), name=name),
    )
