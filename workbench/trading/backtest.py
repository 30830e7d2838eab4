"""``backtest``: one strategy driven bar by bar through OrderManager and SimBroker, the objects that trade live.

Python runs only where something happens: signals come from the strategy's vectorized signal function (the
sweep's), orders are sized, risk-checked and filled at the bars where the target exposure changes, and the
equity between fills is marked with the sweep's arithmetic. So a backtest equals the sweep's row for the
same parameters, fill model and costs — trades, fill prices and equity — and is fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from workbench.config import cost_defaults
from workbench.data.schema import bar_arrays
from workbench.engine.inputs import (
    Costs,
    check_costs,
    check_leverage,
    check_periods_per_year,
    check_weights,
    check_windows,
    prepare_bars,
    prepare_panel,
    resolve_strategy,
)
from workbench.engine.inputs import periods_per_year as infer_periods_per_year
from workbench.engine.metrics import METRIC_NAMES, N_METRICS, equity_metrics_nb
from workbench.engine.simulate import (
    close_open_trade_nb,
    trade_stats,
)
from workbench.engine.single import trade_table
from workbench.orders.model import Fill, Order, OrderEvent
from workbench.provenance.saveable import Saveable
from workbench.provenance.spec import RunSpec, make_spec
from workbench.risk.manager import RiskEvent, RiskRules
from workbench.risk.monitor import Alert, path_alerts
from workbench.strategies.base import Strategy, StrategyBase, call_signals
from workbench.strategies.universe import UniverseStrategy
from workbench.trading.build import backtest_account
from workbench.trading.driver import TargetDriver
from workbench.trading.gc_pause import gc_paused
from workbench.trading.moments import Moments
from workbench.trading.portfolio import PortfolioResult, run_portfolio
from workbench.trading.records import RecordFrames
from workbench.trading.universe import run_universe
from workbench.trading.vectorbt_import import import_vectorbt


@dataclass
class BacktestResult(RecordFrames, Saveable):
    """What a backtest did: orders, fills, round-trip trades, equity and position per bar, metrics, the risk
    decisions (``risk_events``) and the RiskMonitor's alerts on the way (``alerts``)."""

    strategy: Strategy
    symbol: str
    equity: pd.Series
    position: pd.Series
    trade_records: np.ndarray = field(repr=False)
    metrics: pd.Series
    order_records: list[Order] = field(repr=False)
    fill_records: list[Fill] = field(repr=False)
    events: list[OrderEvent] = field(repr=False)
    risk_events: list[RiskEvent] = field(repr=False)
    bars: pd.DataFrame = field(repr=False)
    cash: float = 10_000.0
    fees: float = 0.0
    alerts: list[Alert] = field(default_factory=list, repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def spec(self) -> RunSpec:
        """What this run was made of, to save it and run it again (``runner.provenance``)."""
        return make_spec("backtest", type(self.strategy), self.strategy.values, {self.symbol: self.bars}, self.settings)

    @property
    def holdings_value(self) -> pd.Series:
        """The position's market value at each bar's close (equity minus cash)."""
        return self.position * self.bars["close"]

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Round trips (flat or reversal to the next), one row each: bars, times, size, prices, fees, P&L."""
        return trade_table(self.trade_records, self.bars.index)

    def plot(self):
        """Price with entries (^) and exits (v), equity and drawdown, one under the other at the notebook's full
        width and sharing the time axis: a holoviews layout for notebooks."""
        import holoviews as hv

        from workbench.reports.offline import register_hvplot

        register_hvplot()

        wide = {"responsive": True, "min_width": 300}
        drawdown = (self.equity / self.equity.cummax() - 1.0).rename("drawdown")
        price = self.bars["close"].hvplot.line(label="close", **wide)
        marks = []
        for column, marker, color in (("entry_time", "triangle", "green"), ("exit_time", "inverted_triangle", "red")):
            times = self.trades[column].dropna()
            if len(times):
                points = self.bars.loc[times, ["close"]].reset_index()
                marks.append(
                    points.hvplot.scatter(x="timestamp", y="close", marker=marker, color=color, size=60, **wide)
                )
        top = hv.Overlay([price, *marks]).opts(title=self.symbol, height=260, **wide)
        equity = self.equity.hvplot.line(height=220, title="equity", **wide)
        under = drawdown.hvplot.area(height=160, title="drawdown", color="firebrick", alpha=0.5, **wide)
        return hv.Layout([top, equity, under]).cols(1)

    def to_vectorbt(self):
        """The same fills as a ``vbt.Portfolio.from_orders`` portfolio (amounts and prices per bar, same fees).

        Its value equals ``equity`` bar by bar, so vectorbt's analytics apply to any backtest.
        """
        vbt = import_vectorbt()

        bar_of = {ts: i for i, ts in enumerate(self.bars.index)}
        size = np.full(len(self.bars), np.nan)
        price = np.full(len(self.bars), np.nan)
        for fill in self.fills.itertuples():
            i = bar_of[pd.Timestamp(fill.timestamp)]
            size[i] = (0.0 if np.isnan(size[i]) else size[i]) + fill.qty * (1.0 if fill.side == "buy" else -1.0)
            price[i] = fill.price
        return vbt.Portfolio.from_orders(
            self.bars["close"],
            size,
            price=price,
            fees=self.fees,
            init_cash=self.cash,
            freq=pd.infer_freq(self.bars.index[:10]) or "1D",
        )

    def _repr_html_(self) -> str:
        """A notebook cell's view of this result: what ran, costs, key metrics (``reports.summary``)."""
        from workbench.reports.summary import backtest_html

        return backtest_html(self)

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"BacktestResult({self.strategy!r} on {self.symbol}: {len(self.fills)} fills, {int(m['trades'])} trades, "
            f"total return {m['total_return']:.2%}, sharpe {m['sharpe']:.2f}, max drawdown {m['max_drawdown']:.2%})"
        )


def backtest(
    strategy: Strategy | type[Strategy] | str,
    bars: Any,
    *,
    cash: float = 10_000.0,
    fees: float | None = None,
    slippage: float | None = None,
    fill: str | None = None,
    periods_per_year: float | None = None,
    risk: RiskRules | dict[str, float | None] | None = None,
    weights: dict[str, float] | None = None,
    fixed_fee: float = 0.0,
    leverage: float | None = None,
) -> BacktestResult | PortfolioResult:
    """Run ``strategy`` on one symbol's ``bars`` through OrderManager -> SimBroker, one decision at a time.

    Fill semantics, costs and metrics are the sweep's (see ``workbench.sweep``): a signal of bar t trades at
    bar t+1's open (``fill="next_open"``) or bar t's close (``fill="close"``) with a market order sized to
    the target exposure; costs left out are the settings', as in ``sweep``. A class or name runs at its default
    parameters. ``risk`` rules (a ``RiskRules`` or
    a dict such as ``{"stop_loss": 0.05}``) act as in ``sweep(risk=...)``, through the RiskManager, whose
    decisions are in ``result.risk_events``.

    Several symbols (a ``Bars`` or dict) make a portfolio with one cash account: each symbol is traded to
    ``weights[symbol] x its exposure`` of total equity (equal weights by default) and a ``PortfolioResult``
    is returned (see ``trading.portfolio``, which applies every risk rule: per position or for the account).

    A ``UniverseStrategy`` trades its target weights over all the symbols in one account (a ``PortfolioResult``
    equal to its ``wb.sweep`` row); ``leverage`` bounds the gross exposure its weights may ask for (default 1).

    Examples
    --------
    >>> import workbench as wb
    >>> bt = wb.backtest(wb.strategy("sma_cross")(fast=12, slow=80), wb.load("SPY"), fees=0.001)
    >>> bool(bt.metrics["trades"] > 0)
    True
    """
    cls, values = resolve_strategy(strategy)
    instance = strategy if isinstance(strategy, StrategyBase) else cls(**values)
    rules = risk if isinstance(risk, RiskRules) else RiskRules.from_mapping(risk)
    fees, slippage, fill = cost_defaults(fees, slippage, fill)
    costs = check_costs(cash, fees, slippage, fill, rules.active(), fixed_fee)
    periods_per_year = check_periods_per_year(periods_per_year)
    settings = {
        "costs": {
            "cash": costs.cash,
            "fees": costs.fees,
            "slippage": costs.slippage,
            "fill": costs.fill,
            "fixed_fee": costs.fixed_fee,
            "periods_per_year": periods_per_year,
        },
        "risk": rules.active(),
        "weights": weights,
    }
    if issubclass(cls, UniverseStrategy):
        return _backtest_universe(instance, bars, costs, rules, periods_per_year, settings, leverage)
    check_leverage(leverage, universe=False)
    frames, multi = prepare_bars(bars)
    frames = {s.upper(): f for s, f in frames.items()}  # brokers and orders know symbols in upper case
    check_windows(cls, pd.DataFrame([instance.values]), frames)  # too few bars: refused as wb.sweep refuses them
    if multi and len(frames) > 1:
        ppy = float(periods_per_year or infer_periods_per_year(next(iter(frames.values())).index))
        weights = check_weights(weights, list(frames))
        result = run_portfolio(instance, frames, costs, weights, ppy, rules)
        result.settings = {**settings, "weights": weights}
        return result
    symbol, frame = next(iter(frames.items()))
    ppy = float(periods_per_year or infer_periods_per_year(frame.index))
    arrays = bar_arrays(frame)
    exposure = call_signals(cls, arrays, tuple(instance.values.values()))  # as the sweep calls it
    opens, closes = arrays[0], arrays[3]
    n = len(frame)
    stamps = Moments(frame.index)  # datetimes made only at the bars where something happens

    venue, risk_manager, om = backtest_account(costs, stamps[0], cls.name, rules)
    if costs.allowed is not None and symbol not in costs.allowed:
        risk_manager.denied(stamps[0], symbol, "allowed_symbols", {})
    driver = TargetDriver(symbol, costs, venue, om, risk_manager, capacity=n + 1)
    with gc_paused():
        driver.advance(n, exposure, opens, closes, costs.sessions(frame.index, symbol), stamps)
    state, trades_out = driver.trade_state, driver.trade_records
    cash_path, position_path = _step_paths(n, costs.cash, driver.fill_bars, driver.cash_after, driver.position_after)
    equity = cash_path + position_path * closes
    close_open_trade_nb(state, position_path[-1], closes[-1], equity[-1], True, trades_out)
    metrics = np.empty(N_METRICS)
    equity_metrics_nb(equity, position_path, costs.cash, *trade_stats(state), ppy, metrics)
    return BacktestResult(
        strategy=instance,
        symbol=symbol,
        equity=pd.Series(equity, index=frame.index, name="equity"),
        position=pd.Series(position_path, index=frame.index, name="position"),
        order_records=list(om.orders.values()),
        fill_records=om.fills,
        trade_records=trades_out[: trade_stats(state)[0]],
        metrics=pd.Series(metrics, index=_METRIC_INDEX, name=repr(instance)),
        events=om.events,
        risk_events=risk_manager.events,
        bars=frame,
        cash=costs.cash,
        fees=costs.fees,
        alerts=path_alerts(frame.index, equity, np.abs(held := position_path * closes), held, costs.cash, rules),
        settings=settings,
    )


def _backtest_universe(
    instance: UniverseStrategy,
    bars: Any,
    costs: Costs,
    rules: RiskRules,
    periods_per_year: float | None,
    settings: dict[str, Any],
    leverage: float | None,
) -> PortfolioResult:
    """A universe strategy's event-driven backtest (``trading.universe.run_universe``) as a ``PortfolioResult``."""
    leverage = check_leverage(leverage)
    panel = prepare_panel(bars)
    check_windows(type(instance), pd.DataFrame([instance.values]), {"the panel": pd.DataFrame(index=panel.index)})
    ppy = float(periods_per_year or infer_periods_per_year(panel.index))
    frames, _ = prepare_bars(bars)
    result = PortfolioResult(
        strategy=instance,
        weights={},
        frames={s.upper(): f for s, f in frames.items()},
        **run_universe(instance, panel, costs, leverage, ppy, rules),
    )
    result.settings = {**settings, "costs": {**settings["costs"], "leverage": leverage}, "weights": None}
    return result


_METRIC_INDEX = pd.Index(METRIC_NAMES)  # made once: a string index costs more than a daily backtest's fills


def _step_paths(
    n: int, cash0: float, fill_bars: list[int], cash_after: list[float], position_after: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Cash and position after each bar's close, constant between fills."""
    cash = np.full(n, cash0)
    position = np.zeros(n)
    edges = [*fill_bars, n]
    for k, bar in enumerate(fill_bars):
        cash[bar : edges[k + 1]] = cash_after[k]
        position[bar : edges[k + 1]] = position_after[k]
    return cash, position
