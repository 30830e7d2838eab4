"""Multi-symbol backtests: one cash account, each symbol traded to ``weight x exposure`` of total equity.

Each symbol's signals come from its own bars (the sweep's signal function); the decisions are those of a live
portfolio session, made by the same `PortfolioDriver` fed the history one bar time at a time. Orders go through
the same OrderManager and SimBroker as a single-symbol backtest and are sized with the sweep's ``target_size_nb``
against the whole account (cash plus the other holdings), sells before buys within a bar so cash is freed
first. Equity is marked at each bar's close with the last known price of every holding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from workbench.engine.inputs import Costs
from workbench.engine.metrics import METRIC_NAMES, N_METRICS, equity_metrics_nb
from workbench.engine.sessions import CLOSED
from workbench.orders.manager import OrderManager
from workbench.orders.model import Fill, Order, OrderEvent
from workbench.provenance.saveable import Saveable
from workbench.provenance.spec import RunSpec, make_spec
from workbench.risk.manager import RiskEvent, RiskRules
from workbench.risk.monitor import Alert, path_alerts
from workbench.strategies.base import Strategy
from workbench.trading.build import backtest_account
from workbench.trading.portfolio_driver import BarRow, PortfolioDriver
from workbench.trading.records import RecordFrames
from workbench.trading.vectorbt_import import import_vectorbt


@dataclass
class PortfolioResult(RecordFrames, Saveable):
    """A multi-symbol backtest: equity, positions per symbol, orders, fills, round trips, metrics."""

    strategy: Strategy
    weights: dict[str, float]
    equity: pd.Series
    positions: pd.DataFrame
    trades: pd.DataFrame
    metrics: pd.Series
    order_records: list[Order] = field(repr=False)
    fill_records: list[Fill] = field(repr=False)
    events: list[OrderEvent] = field(repr=False)
    risk_events: list[RiskEvent] = field(default_factory=list, repr=False)
    alerts: list[Alert] = field(default_factory=list, repr=False)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def spec(self) -> RunSpec:
        """What this run was made of, to save it and run it again (``runner.provenance``)."""
        return make_spec("backtest", type(self.strategy), self.strategy.values, self.frames, self.settings)

    @property
    def holdings_value(self) -> pd.Series:
        """The positions' market value at each bar's close, each symbol at its last known close (equity minus cash)."""
        closes = pd.DataFrame({s: f["close"] for s, f in self.frames.items()}).reindex(self.equity.index)
        return (self.positions * closes.ffill()).fillna(0.0).sum(axis=1)

    def to_vectorbt(self):
        """The same fills as one ``vbt.Portfolio.from_orders`` portfolio of every symbol sharing the cash (amounts
        and fill prices per bar and symbol, the run's fees, sells first within a bar). Its value equals ``equity``
        bar by bar, so vectorbt's analytics apply to any multi-symbol backtest."""
        vbt = import_vectorbt()

        costs = self.settings.get("costs", {})
        close = pd.DataFrame({s: f["close"] for s, f in self.frames.items()}).reindex(self.equity.index)
        size = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
        price = size.copy()
        for fill in self.fill_records:
            at, symbol = pd.Timestamp(fill.timestamp), fill.symbol
            size.loc[at, symbol] = np.nan_to_num(size.loc[at, symbol]) + fill.qty * fill.side.sign
            price.loc[at, symbol] = fill.price
        return vbt.Portfolio.from_orders(
            close,
            size,
            price=price,
            fees=costs.get("fees", 0.0),
            fixed_fees=costs.get("fixed_fee", 0.0),
            init_cash=costs.get("cash", self.equity.iloc[0]),
            group_by=True,
            cash_sharing=True,
            call_seq="auto",
            freq=close.index.to_series().diff().min(),  # the bars' spacing (annualizes vectorbt's ratios)
        )

    def _repr_html_(self) -> str:
        """A notebook cell's view of this result: what ran, costs, key metrics (``reports.summary``)."""
        from workbench.reports.summary import backtest_html

        return backtest_html(self)

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"PortfolioResult({self.strategy!r} on {', '.join(self.frames)}: {len(self.fills)} fills, "
            f"total return {m['total_return']:.2%}, sharpe {m['sharpe']:.2f}, max drawdown {m['max_drawdown']:.2%})"
        )


def run_portfolio(
    instance: Strategy,
    frames: dict[str, pd.DataFrame],
    costs: Costs,
    weights: dict[str, float],
    ppy: float,
    rules: RiskRules | None = None,
) -> PortfolioResult:
    """The multi-symbol backtest loop; see the module docstring for its semantics.

    ``costs.risk`` (the array of ``rules``, whose RiskManager records the decisions) may hold every rule of a
    single-symbol backtest, applied as there: the exposure limits scale all targets together whenever one changes
    (``scale_portfolio_nb``; each cut is a resize event); stop-loss, take-profit and trailing stop act per
    position; ``max_drawdown`` and ``daily_loss`` watch the whole account and flatten every position;
    ``max_orders_per_day`` counts the account's orders; the size caps apply per order; the session rules per
    symbol.
    """
    frames = {s.upper(): f for s, f in frames.items()}  # brokers and orders: upper case
    history = _History.of(instance, frames, costs)
    venue, risk_manager, om = backtest_account(costs, history.moments[0], type(instance).name, rules or RiskRules())
    driver = PortfolioDriver(list(frames), weights, costs, venue, om, risk_manager)
    positions, cash = _replay(driver, history)
    return _result(instance, frames, history, driver, positions, cash, ppy)


def _replay(driver: PortfolioDriver, history: _History) -> tuple[np.ndarray, np.ndarray]:
    """Feed ``history`` to ``driver`` row by row, as a live session would; the positions and cash after each."""
    positions, cash = np.zeros(history.closes.shape), np.zeros(len(history.index))
    fills, held, money = len(driver.om.fills), driver.positions(), driver.broker.account().cash
    for t, row in enumerate(history.rows()):
        driver.add(row)
        if len(driver.om.fills) != fills:  # only a fill changes the account: read it again after one
            fills, held, money = len(driver.om.fills), driver.positions(), driver.broker.account().cash
        positions[t], cash[t] = held, money
    return positions, cash


@dataclass(frozen=True)
class _History:
    """Every symbol's bars on the union of their times (NaN where a symbol has no bar then), as the rows a
    `PortfolioDriver` takes: opens, closes, the strategy's targets (NaN: none at that time) and ``closed``."""

    index: pd.DatetimeIndex
    moments: list[datetime]
    opens: np.ndarray
    closes: np.ndarray
    targets: np.ndarray
    closed: np.ndarray

    @classmethod
    def of(cls, instance: Strategy, frames: dict[str, pd.DataFrame], costs: Costs) -> _History:
        """Each symbol's targets from its own bars; ``closed`` where it has no bar or may not trade then."""
        index = frames[next(iter(frames))].index
        for frame in list(frames.values())[1:]:
            index = index.union(frame.index)

        def table(values: dict[str, pd.Series], **fill: Any) -> pd.DataFrame:
            return pd.DataFrame(values).reindex(index, **fill)

        closed = {s: pd.Series(costs.sessions(f.index, s) == CLOSED, index=f.index) for s, f in frames.items()}
        return cls(
            index=index,
            moments=list(index.to_pydatetime()),
            opens=table({s: f["open"] for s, f in frames.items()}).to_numpy(),
            closes=table({s: f["close"] for s, f in frames.items()}).to_numpy(),
            targets=table({s: instance.exposure(f) for s, f in frames.items()}).to_numpy(dtype=float),
            closed=table(closed, fill_value=True).to_numpy(dtype=bool),
        )

    def rows(self) -> Iterator[BarRow]:
        """One `BarRow` per time, in time order."""
        return map(BarRow, self.moments, self.opens, self.closes, self.targets, self.closed)


def _result(
    instance: Strategy,
    frames: dict[str, pd.DataFrame],
    history: _History,
    driver: PortfolioDriver,
    positions: np.ndarray,
    cash: np.ndarray,
    ppy: float,
) -> PortfolioResult:
    """Metrics, trades and records of the finished run, from the positions and cash after each time."""
    symbols, om, costs, index = driver.symbols, driver.om, driver.costs, history.index
    values = np.nan_to_num(positions * pd.DataFrame(history.closes).ffill().to_numpy())
    equity = cash + values.sum(axis=1)
    trades = _round_trips(om, symbols, dict(zip(symbols, driver.last_price, strict=True)))
    pnl = trades["pnl"].to_numpy() if len(trades) else np.zeros(0)
    metrics = np.empty(N_METRICS)
    equity_metrics_nb(
        equity,
        np.abs(positions).sum(axis=1),
        costs.cash,
        len(pnl),
        float((pnl > 0).sum()),
        float(pnl[pnl > 0].sum()),
        float(-pnl[pnl < 0].sum()),
        ppy,
        metrics,
    )
    rules = driver.risk_manager.rules
    return PortfolioResult(
        strategy=instance,
        weights=driver.weights,
        equity=pd.Series(equity, index=index, name="equity"),
        positions=pd.DataFrame(positions, index=index, columns=symbols),
        order_records=list(om.orders.values()),
        fill_records=om.fills,
        trades=trades,
        metrics=pd.Series(metrics, index=list(METRIC_NAMES), name=repr(instance)),
        events=om.events,
        risk_events=driver.risk_manager.events,
        frames=frames,
        alerts=path_alerts(index, equity, np.abs(values).sum(axis=1), values.sum(axis=1), costs.cash, rules),
    )


def _round_trips(om: OrderManager, symbols: list[str], last: dict[str, float]) -> pd.DataFrame:
    """Round trips per symbol from the fills: flat to flat, P&L by average cost net of fees; one still open
    is marked at the last close without an exit fee (as single-symbol backtests and vectorbt do)."""
    from workbench.engine.ledger import position_after_fill_nb

    rows = []
    for symbol in symbols:
        qty = avg = realized = 0.0
        start = None
        for fill in (f for f in om.fills if f.symbol == symbol):
            before = realized
            if qty == 0.0:
                start = (fill.timestamp, fill.price, before)
            qty, avg, realized = position_after_fill_nb(
                qty, avg, realized, fill.qty * fill.side.sign, fill.price, fill.fee
            )
            if qty == 0.0 and start is not None:
                rows.append((symbol, start[0], fill.timestamp, start[1], fill.price, realized - start[2]))
                start = None
        if start is not None:
            marked = realized - start[2] + qty * (last[symbol] - avg)
            rows.append((symbol, start[0], None, start[1], last[symbol], marked))
    return pd.DataFrame(rows, columns=["symbol", "entry_time", "exit_time", "entry_price", "exit_price", "pnl"])
