"""Universe strategies traded through the objects that trade live: ``UniverseDriver`` turns one bar time's target
weights into orders with the sweep's own step (`engine.portfolio.plan_nb` sizes and orders them, sells first;
`engine.portfolio.fill_order_nb` cuts a buy to the cash) and sends each through RiskManager -> OrderManager ->
broker; `run_universe` is the event-driven backtest of a universe strategy (``wb.backtest``), equal to its sweep
row."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from workbench.engine.fills import is_close_nb
from workbench.engine.inputs import Costs
from workbench.engine.metrics import METRIC_NAMES, N_METRICS, equity_metrics_nb
from workbench.engine.portfolio import (
    N_TRIP_FIELDS,
    N_TRIP_STATE,
    TRIP_FIELDS,
    book_trip_nb,
    fill_order_nb,
    open_trip_nb,
    plan_nb,
    trip_pnl_nb,
    write_trip_nb,
)
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order, Side
from workbench.risk.manager import RiskManager, RiskRules
from workbench.risk.monitor import path_alerts
from workbench.strategies.universe import Panel, UniverseStrategy, call_weights
from workbench.trading.build import backtest_account
from workbench.trading.gc_pause import gc_paused
from workbench.trading.venue import Venue


class UniverseDriver:
    """The orders of a universe strategy's weights, bar time by bar time, through ``om`` at ``venue``; the round
    trips of every symbol follow the fills (``trips``), as the sweep books them."""

    def __init__(
        self,
        symbols: list[str],
        costs: Costs,
        venue: Venue,
        om: OrderManager,
        risk_manager: RiskManager,
        leverage: float,
    ) -> None:
        self.symbols, self.costs, self.venue, self.om, self.risk_manager = symbols, costs, venue, om, risk_manager
        self.leverage = leverage
        m = len(symbols)
        self.val_prices = np.full(m, np.nan)
        self.trips = np.zeros((m, N_TRIP_STATE))
        self.stats = np.zeros(5)  # round trips closed, wins, gross win, gross loss, (unused)
        self.closed: list[np.ndarray] = []
        self._seq, self._sizes = np.empty(m, dtype=np.int64), np.empty(m)

    def adopt(self, positions: dict[str, tuple[float, float]], bar: int) -> None:
        """Take over positions opened before this driver (symbol -> (qty, average price)): each is a round trip
        open since ``bar`` at its average price (the fees it paid are not known here)."""
        for j, symbol in enumerate(self.symbols):
            qty, avg_price = positions.get(symbol, (0.0, np.nan))
            if qty != 0.0:
                open_trip_nb(self.trips, j, bar, qty, avg_price, 0.0)

    def holdings(self) -> tuple[float, np.ndarray]:
        """The broker's cash and the driver's symbols' positions."""
        held = self.venue.broker.positions()
        return self.venue.broker.account().cash, np.array([held.get(s, 0.0) for s in self.symbols])

    def value_at(self, prices: np.ndarray) -> None:
        """Take the prices the next orders fill at as the holdings' valuation prices (the last one where NaN)."""
        self.val_prices = np.where(np.isnan(prices), self.val_prices, prices)

    def trade(self, decided: datetime, weights: np.ndarray, prices: np.ndarray, bar: int, moment: datetime) -> None:
        """Send the orders of the ``weights`` decided at ``decided``, filling at ``prices`` now (bar ``bar`` at
        ``moment``); ``ValueError`` when they ask for more than the leverage or to trade a symbol without a price."""
        gross = float(np.nansum(np.abs(weights)))
        if gross > self.leverage and not is_close_nb(gross, self.leverage):
            held = {s: round(float(w), 6) for s, w in zip(self.symbols, weights, strict=True) if w == w and w != 0.0}
            raise ValueError(
                f"the weights at {pd.Timestamp(decided)} hold {gross:.6g} of equity in {held}: more than the leverage "
                f"allowed ({self.leverage:g})"
            )
        cash, positions = self.holdings()
        n, missing = plan_nb(weights, prices, self.val_prices, cash, positions, self._seq, self._sizes)
        if missing >= 0:
            raise ValueError(
                f"the weights at {pd.Timestamp(decided)} ask to trade {self.symbols[missing]}, which has no price at "
                f"{pd.Timestamp(moment)} where the order would fill (no bar): a weight there must be NaN"
            )
        self.venue.simulation.set_time(moment)
        costs = self.costs
        for k in range(n):
            j, size = int(self._seq[k]), float(self._sizes[k])
            if size == 0.0 or is_close_nb(size, 0.0):
                continue
            cash, positions = self.holdings()
            units = fill_order_nb(cash, positions[j], size, prices[j], costs.fees, costs.fixed_fee, costs.slippage)[0]
            if units == 0.0:
                continue
            symbol = self.symbols[j]
            self.venue.simulation.quote(symbol, float(prices[j]))
            side = Side.BUY if units > 0 else Side.SELL
            order = Order.market(symbol=symbol, side=side, qty=abs(units), created_at=moment, strategy=self.om.strategy)
            sent = self.om.submit(order)
            if sent.filled_qty > 0.0:
                self._book(bar, j, positions[j], sent)

    def _book(self, bar: int, j: int, position: float, order: Order) -> None:
        """Follow a filled order into symbol ``j``'s round trip, as the sweep books it."""
        row = np.empty((1, N_TRIP_FIELDS))
        size = order.filled_qty * order.side.sign
        count, pnl = book_trip_nb(self.trips, j, bar, position, size, order.avg_fill_price, order.fees, True, row, 0)
        if count:
            self._close(row[0], pnl)

    def _close(self, row: np.ndarray, pnl: float) -> None:
        self.closed.append(row.copy())
        self.stats[0] += 1.0
        if pnl > 0.0:
            self.stats[1] += 1.0
            self.stats[2] += pnl
        elif pnl < 0.0:
            self.stats[3] -= pnl


def run_universe(
    instance: UniverseStrategy, panel: Panel, costs: Costs, leverage: float, ppy: float
) -> dict[str, object]:
    """The event-driven backtest of ``instance`` over ``panel``: its weights (computed once, as the sweep does)
    traded bar time by bar time through RiskManager -> OrderManager -> SimBroker on a simulated clock, equity
    marked at each close. Returns the pieces of a result (see ``trading.backtest.backtest``)."""
    weights = call_weights(type(instance), panel, tuple(instance.values.values()))
    opens, closes = panel.arrays[0], panel.arrays[3]
    n, m = panel.shape
    moments = list(panel.index.to_pydatetime())
    venue, risk_manager, om = backtest_account(costs, moments[0], type(instance).name, RiskRules())
    driver = UniverseDriver(panel.symbols, costs, venue, om, risk_manager, leverage)
    equity, cash, positions = np.empty(n), np.empty(n), np.empty((n, m))
    last_close = np.full(m, np.nan)
    with gc_paused():
        for t in range(n):
            prices = closes[t] if costs.fill_close else opens[t]
            driver.value_at(prices)
            decided = t if costs.fill_close else t - 1
            if decided >= 0 and not np.isnan(weights[decided]).all():
                driver.trade(moments[decided], weights[decided], prices, t, moments[t])
            last_close = np.where(np.isnan(closes[t]), last_close, closes[t])
            for j in np.flatnonzero(~np.isnan(closes[t])):
                venue.simulation.quote(panel.symbols[j], float(closes[t, j]))  # marks the account at the close
            cash[t], positions[t] = driver.holdings()
            held = positions[t] != 0.0
            equity[t] = cash[t] + float((positions[t][held] * last_close[held]).sum())
    trades = _trades(driver, positions[-1], last_close, panel, n)
    metrics = np.empty(N_METRICS)
    stats = driver.stats
    gross = np.abs(positions).sum(axis=1)
    equity_metrics_nb(equity, gross, costs.cash, stats[0], stats[1], stats[2], stats[3], ppy, metrics)
    values = np.nan_to_num(positions * pd.DataFrame(closes).ffill().to_numpy())
    return {
        "equity": pd.Series(equity, index=panel.index, name="equity"),
        "positions": pd.DataFrame(positions, index=panel.index, columns=panel.symbols),
        "trades": trades,
        "metrics": pd.Series(metrics, index=list(METRIC_NAMES), name=repr(instance)),
        "order_records": list(om.orders.values()),
        "fill_records": om.fills,
        "events": om.events,
        "risk_events": risk_manager.events,
        "alerts": path_alerts(
            panel.index, equity, np.abs(values).sum(axis=1), values.sum(axis=1), costs.cash, risk_manager.rules
        ),
    }


def _trades(driver: UniverseDriver, held: np.ndarray, last_close: np.ndarray, panel: Panel, n: int) -> pd.DataFrame:
    """Every round trip, closed ones as they closed and the open ones marked at the last close (no exit fee), as
    a table: symbol, entry and exit time, bars, direction, size, prices, fees and P&L."""
    rows = list(driver.closed)
    for j in np.flatnonzero(held != 0.0):
        row = np.empty(N_TRIP_FIELDS)
        pnl = trip_pnl_nb(driver.trips[j], abs(held[j]), last_close[j])
        write_trip_nb(driver.trips[j], j, -1, pnl, row)
        driver._close(row, pnl)
        rows.append(row)
    table = pd.DataFrame(np.array(rows).reshape(-1, N_TRIP_FIELDS), columns=list(TRIP_FIELDS))
    for column in ("entry_bar", "exit_bar"):
        table[column] = table[column].astype(np.int64)
    table["symbol"] = [panel.symbols[int(j)] for j in table["symbol"]]
    table.insert(1, "entry_time", panel.index[table["entry_bar"]])
    table.insert(2, "exit_time", panel.index[table["exit_bar"]].where(table["exit_bar"] >= 0))
    return table
