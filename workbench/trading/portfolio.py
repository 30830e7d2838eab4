"""Multi-symbol backtests: one cash account, each symbol traded to ``weight x exposure`` of total equity.

A one-symbol strategy over several symbols is a universe whose weights are ``weight x exposure``: each symbol's
exposure comes from its own bars (the sweep's signal function), and the N-symbol core trades them
(`trading.universe.run_exposures`, the `UniverseDriver` a live session uses, fed the history one bar time at a time;
`trading.exposure_weights` says when a row rebalances). Orders go through the same OrderManager and SimBroker as a
single-symbol backtest and are sized with the one-symbol kernel's ``target_size_nb`` against the whole account
(cash plus the other holdings), sells before buys within a bar so cash is freed first. Equity is marked at each
bar's close with the last known price of every holding. A universe strategy's backtest is a ``PortfolioResult``
too (`trading.universe.run_universe`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from workbench.engine.inputs import Costs
from workbench.orders.model import Fill, Order, OrderEvent
from workbench.provenance.saveable import Saveable
from workbench.provenance.spec import RunSpec, make_spec
from workbench.risk.manager import RiskEvent, RiskRules
from workbench.risk.monitor import Alert
from workbench.strategies.base import Strategy
from workbench.trading.records import RecordFrames
from workbench.trading.universe import run_exposures
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
    """The multi-symbol backtest; see the module docstring for its semantics.

    ``costs.risk`` (the array of ``rules``, whose RiskManager records the decisions) may hold every rule of a
    single-symbol backtest, applied as there: the exposure limits scale all targets together whenever one changes
    (each cut is a resize event); stop-loss, take-profit and trailing stop act per position; ``max_drawdown`` and
    ``daily_loss`` watch the whole account and flatten every position; ``max_orders_per_day`` counts the account's
    orders; the size caps apply per order; the session rules per symbol.
    """
    frames = {s.upper(): f for s, f in frames.items()}  # brokers and orders: upper case
    pieces = run_exposures(instance, frames, weights, costs, ppy, rules or RiskRules())
    return PortfolioResult(
        strategy=instance, weights={s.upper(): w for s, w in weights.items()}, frames=frames, **pieces
    )
