"""One universe strategy's weights run over a panel with its full record: equity, cash and positions per bar, the
fills, the round trips per symbol and the account's metrics (``engine.weights_kernel.simulate_weights_nb``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.engine.inputs import Costs
from workbench.engine.metrics import METRIC_NAMES, N_METRICS
from workbench.engine.portfolio import (
    FILL_FIELDS,
    N_FILL_FIELDS,
    N_TRIP_FIELDS,
    NAN_PRICE,
    OK,
    TARGET_PERCENT,
    TRIP_FIELDS,
)
from workbench.engine.weights_kernel import last_prices_nb, simulate_weights_nb
from workbench.strategies.universe import Panel


@dataclass(frozen=True)
class UniverseRun:
    """The record of one weights panel run over a window of bar times."""

    cash0: float
    equity: pd.Series
    cash: pd.Series
    positions: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    metrics: pd.Series

    @property
    def returns(self) -> pd.Series:
        """Per-bar simple returns of equity; the first is measured from the starting cash."""
        previous = self.equity.shift(1).fillna(self.cash0)
        return (self.equity / previous - 1.0).rename("returns")


def simulate_weights(
    weights: np.ndarray,
    panel: Panel,
    costs: Costs,
    periods_per_year: float,
    *,
    leverage: float = 1.0,
    start: int = 0,
    end: int | None = None,
    name: str = "run",
    sizing: int = TARGET_PERCENT,
) -> UniverseRun:
    """Run ``weights`` (bars x symbols, as ``UniverseStrategy.weights`` returns) over ``panel``'s bar times
    [start, end) with ``costs``; record everything. ``ValueError`` where the weights ask for more than
    ``leverage`` or to trade a symbol without a price (naming the bar and symbol). ``sizing``: ``AFTER_FEES`` runs
    a one-symbol strategy's exposures as the one-symbol kernel sizes them (see ``engine.portfolio``)."""
    end = panel.shape[0] if end is None else end
    n, m = end - start, panel.shape[1]
    metrics, error = np.empty(N_METRICS), np.zeros(3, dtype=np.int64)
    equity, cash, positions = np.empty(n), np.empty(n), np.empty((n, m))
    trips, fills = np.empty((2 * n * m + m, N_TRIP_FIELDS)), np.empty((2 * n * m, N_FILL_FIELDS))  # an exit too
    days, allowed = costs.account_sessions(panel.index, panel.symbols)
    n_trips, n_fills = simulate_weights_nb(
        panel.arrays[0], panel.arrays[3], last_prices_nb(panel.arrays[3]),
        last_prices_nb(panel.arrays[3] if costs.fill_close else panel.arrays[0]),
        np.ascontiguousarray(weights, dtype=np.float64), days, allowed,
        costs.risk, start, end, costs.cash, costs.fees, costs.fixed_fee, costs.slippage, costs.fill_close, leverage,
        periods_per_year, metrics, np.zeros((0, 2)), error, True, equity, cash, positions, trips, fills, sizing,
    )  # fmt: skip
    if error[0] != OK:
        raise ValueError(weights_error(error, weights[error[1]], panel, costs.fill_close, leverage))
    index = panel.index[start:end]
    return UniverseRun(
        cash0=costs.cash,
        equity=pd.Series(equity, index=index, name="equity"),
        cash=pd.Series(cash, index=index, name="cash"),
        positions=pd.DataFrame(positions, index=index, columns=panel.symbols),
        fills=_fills(fills[:n_fills], panel, start),
        trades=trip_table(trips[:n_trips], panel, start),
        metrics=pd.Series(metrics, index=list(METRIC_NAMES), name=name),
    )


def _fills(records: np.ndarray, panel: Panel, start: int) -> pd.DataFrame:
    """Recorded fills (``FILL_FIELDS``) as a table with their time and symbol name."""
    table = pd.DataFrame(records, columns=list(FILL_FIELDS))
    table["bar"] = table["bar"].astype(np.int64)
    table.insert(0, "timestamp", panel.index[table["bar"]])
    table["symbol"] = [panel.symbols[int(j)] for j in table["symbol"]]
    table["bar"] -= start
    return table


def trip_table(records: np.ndarray, panel: Panel, start: int = 0) -> pd.DataFrame:
    """Recorded round trips (``TRIP_FIELDS``, bars from ``start``) as a table with times and symbol names (exit NaT
    while open) and each one's ``return`` on what its entries cost. Built column by column from arrays: a
    backtest's table costs a few DataFrame operations, not one per column."""
    rows = records.reshape(-1, len(TRIP_FIELDS))
    entry, exit_ = rows[:, 1].astype(np.int64), rows[:, 2].astype(np.int64)
    times = panel.index.values  # UTC datetime64
    exit_times = times[np.maximum(exit_, 0)] if len(times) else times[:0]
    exit_times[exit_ < 0] = np.datetime64("NaT")
    zone = panel.index.tz

    def stamps(values: np.ndarray) -> pd.DatetimeIndex:
        made = pd.DatetimeIndex(values)
        return made.tz_localize("UTC").tz_convert(zone) if zone is not None else made

    columns = {
        "symbol": np.asarray(panel.symbols, dtype=object)[rows[:, 0].astype(np.int64)],
        "entry_time": stamps(times[entry]),
        "exit_time": stamps(exit_times),
        "entry_bar": entry - start,
        "exit_bar": np.where(exit_ < 0, exit_, exit_ - start),
    }
    for k, name in enumerate(TRIP_FIELDS[3:], start=3):
        columns[name] = rows[:, k]
    columns["return"] = rows[:, 8] / (rows[:, 4] * rows[:, 5])
    return pd.DataFrame(columns)


def weights_error(error: np.ndarray, row: np.ndarray, panel: Panel, fill_close: bool, leverage: float) -> str:
    """What ``simulate_weights_nb``'s ``error`` (code, bar of the weights, symbol) means, in one sentence, given
    the weights ``row`` of that bar."""
    code, bar, symbol = (int(x) for x in error)
    when = panel.index
    if code == NAN_PRICE:
        fill = bar if fill_close else bar + 1
        return (
            f"the weights at {when[bar]} ask to trade {panel.symbols[symbol]}, which has no price at {when[fill]} "
            "where the order would fill (no bar): a weight there must be NaN"
        )
    held = {panel.symbols[j]: round(float(w), 6) for j, w in enumerate(row) if not np.isnan(w) and w != 0.0}
    return (
        f"the weights at {when[bar]} hold {np.nansum(np.abs(row)):.6g} of equity in {held}: more than the leverage "
        f"allowed ({leverage:g})"
    )
