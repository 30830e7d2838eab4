"""``BacktestResult``: what an event-driven backtest did, for one symbol or many sharing one account.

Every backtest (a one-symbol strategy on one symbol, the same over several at fixed weights, a universe strategy)
runs on the N-symbol core (`trading.universe`) and returns this one type: the account's equity, each symbol's
position, every order, fill, round trip and risk decision, the metrics. ``bt["SPY"]`` is one symbol's view
(`SymbolView`); on a one-symbol run ``bt.symbol``, ``bt.position`` and ``bt.bars`` are that symbol's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from workbench.orders.model import Fill, Order, OrderEvent
from workbench.provenance.saveable import Saveable
from workbench.provenance.spec import RunSpec, make_spec
from workbench.risk.manager import RiskEvent
from workbench.risk.monitor import Alert
from workbench.strategies.base import StrategyBase
from workbench.trading.records import RecordFrames, records_frame
from workbench.trading.vectorbt_import import import_vectorbt


@dataclass
class BacktestResult(RecordFrames, Saveable):
    """What a backtest did: the account's ``equity`` and each symbol's ``positions`` per bar, ``orders``, ``fills``,
    round-trip ``trades`` (one row per symbol's trade), ``metrics``, the risk decisions (``risk_events``) and the
    RiskMonitor's ``alerts``. ``weights`` are a fixed-weight portfolio's (None otherwise).

    Examples
    --------
    >>> import workbench as wb
    >>> bt = wb.backtest("sma_cross", wb.load(["SPY", "QQQ"], start="2020-01-01"), fees=0.001)
    >>> bt.symbols, len(bt["QQQ"].trades) > 0
    (['SPY', 'QQQ'], True)
    """

    strategy: StrategyBase
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
    weights: dict[str, float] | None = None

    @property
    def symbols(self) -> list[str]:
        """The symbols traded, in the panel's order."""
        return list(self.frames)

    @property
    def symbol(self) -> str:
        """The symbol of a one-symbol backtest; ``ValueError`` naming them when there are several."""
        if len(self.frames) == 1:
            return next(iter(self.frames))
        raise ValueError(
            f"this backtest trades {len(self.frames)} symbols ({', '.join(self.frames)}), not one: use bt.symbols, "
            f"or bt[{self.symbols[0]!r}] for one symbol's view"
        )

    @property
    def bars(self) -> pd.DataFrame:
        """The bars of a one-symbol backtest (``frames`` holds every symbol's)."""
        return self.frames[self.symbol]

    @property
    def position(self) -> pd.Series:
        """The position of a one-symbol backtest at each bar's close (``positions`` holds every symbol's)."""
        return self.positions[self.symbol].rename("position")

    @property
    def cash(self) -> float:
        """The starting cash."""
        return float(self.settings.get("costs", {}).get("cash", self.equity.iloc[0]))

    @property
    def fees(self) -> float:
        """The fee rate each fill paid (a fraction of its value)."""
        return float(self.settings.get("costs", {}).get("fees", 0.0))

    @cached_property
    def spec(self) -> RunSpec:
        """What this run was made of, to save it and run it again (``runner.provenance``)."""
        return make_spec("backtest", type(self.strategy), self.strategy.values, self.frames, self.settings)

    @cached_property
    def closes(self) -> pd.DataFrame:
        """Each symbol's close on the account's bars, the last known one carried over a bar it lacks."""
        return pd.DataFrame({s: f["close"] for s, f in self.frames.items()}).reindex(self.equity.index).ffill()

    @property
    def holdings_value(self) -> pd.Series:
        """The positions' market value at each bar's close, each symbol at its last known close (equity minus cash)."""
        return (self.positions * self.closes).fillna(0.0).sum(axis=1)

    def __getitem__(self, symbol: str) -> SymbolView:
        """One symbol's view: its bars, position, trades, orders, fills and risk decisions."""
        key = symbol.upper()
        if key not in self.frames:
            raise KeyError(f"{symbol!r} is not traded in this backtest; its symbols: {', '.join(self.frames)}")
        mine = [o for o in self.order_records if o.symbol == key]
        return SymbolView(
            symbol=key,
            bars=self.frames[key],
            position=self.positions[key].rename("position"),
            value=(self.positions[key] * self.closes[key]).fillna(0.0).rename("value"),
            trades=self.trades[self.trades["symbol"] == key].reset_index(drop=True),
            orders=records_frame(mine),
            fills=records_frame(f for f in self.fill_records if f.symbol == key),
            risk_events=[e for e in self.risk_events if e.symbol == key],
        )

    def plot(self):
        """Equity and drawdown sharing the time axis at the notebook's full width, under the price with entries (^)
        and exits (v) on a one-symbol run, or over each symbol's position value on several: a holoviews layout."""
        import holoviews as hv

        from workbench.reports.offline import register_hvplot

        register_hvplot()
        wide = {"responsive": True, "min_width": 300}
        drawdown = (self.equity / self.equity.cummax() - 1.0).rename("drawdown")
        equity = self.equity.hvplot.line(height=220, title="equity", **wide)
        under = drawdown.hvplot.area(height=160, title="drawdown", color="firebrick", alpha=0.5, **wide)
        if len(self.frames) == 1:
            top = self[self.symbol].price_plot()
            return hv.Layout([top, equity, under]).cols(1)
        values = (self.positions * self.closes).fillna(0.0)
        held = values.hvplot.line(height=220, title="position value", **wide)
        return hv.Layout([equity, under, held]).cols(1)

    def to_vectorbt(self):
        """The same fills as a ``vbt.Portfolio.from_orders`` portfolio (amounts and fill prices per bar and symbol,
        the run's fees; several symbols share the cash, sells first within a bar). Its value equals ``equity`` bar
        by bar, so vectorbt's analytics apply to any backtest."""
        vbt = import_vectorbt()

        costs = self.settings.get("costs", {})
        index, symbols = self.equity.index, self.symbols
        size = np.full((len(index), len(symbols)), np.nan)
        price = size.copy()
        if self.fill_records:
            rows = index.get_indexer(pd.DatetimeIndex([pd.Timestamp(f.timestamp) for f in self.fill_records]))
            cols = pd.Index(symbols).get_indexer([f.symbol for f in self.fill_records])
            for i, j, fill in zip(rows, cols, self.fill_records, strict=True):
                size[i, j] = (0.0 if np.isnan(size[i, j]) else size[i, j]) + fill.qty * fill.side.sign
                price[i, j] = fill.price
        close = self.closes if len(symbols) > 1 else self.bars["close"]
        shape = (lambda a: pd.DataFrame(a, index=index, columns=symbols)) if len(symbols) > 1 else (lambda a: a[:, 0])
        grouped = {"group_by": True, "cash_sharing": True, "call_seq": "auto"} if len(symbols) > 1 else {}
        return vbt.Portfolio.from_orders(
            close,
            shape(size),
            price=shape(price),
            fees=costs.get("fees", 0.0),
            fixed_fees=costs.get("fixed_fee", 0.0),
            init_cash=self.cash,
            freq=index.to_series().diff().min(),  # the bars' spacing (annualizes vectorbt's ratios)
            **grouped,
        )

    def _repr_html_(self) -> str:
        """A notebook cell's view of this result: what ran, costs, key metrics (``reports.summary``)."""
        from workbench.reports.summary import backtest_html

        return backtest_html(self)

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"BacktestResult({self.strategy!r} on {', '.join(self.frames)}: {len(self.fill_records)} fills, "
            f"{int(m['trades'])} trades, total return {m['total_return']:.2%}, sharpe {m['sharpe']:.2f}, "
            f"max drawdown {m['max_drawdown']:.2%})"
        )


@dataclass
class SymbolView:
    """One symbol of a backtest: its ``bars``, ``position`` and its market ``value`` per bar, its round-trip
    ``trades``, ``orders``, ``fills`` and ``risk_events``.

    Examples
    --------
    >>> import workbench as wb
    >>> bt = wb.backtest("sma_cross", wb.load("SPY", start="2020-01-01"), fees=0.001)
    >>> view = bt["SPY"]
    >>> bool((view.position == bt.position).all()), len(view.trades) == len(bt.trades)
    (True, True)
    """

    symbol: str
    bars: pd.DataFrame = field(repr=False)
    position: pd.Series = field(repr=False)
    value: pd.Series = field(repr=False)
    trades: pd.DataFrame = field(repr=False)
    orders: pd.DataFrame = field(repr=False)
    fills: pd.DataFrame = field(repr=False)
    risk_events: list[RiskEvent] = field(repr=False)

    def price_plot(self):
        """The close with entries (^) and exits (v) at the notebook's full width: a holoviews overlay."""
        import holoviews as hv

        from workbench.reports.offline import register_hvplot

        register_hvplot()
        wide = {"responsive": True, "min_width": 300}
        close = self.bars["close"]
        marks = []
        for column, marker, color in (("entry_time", "triangle", "green"), ("exit_time", "inverted_triangle", "red")):
            times = self.trades[column].dropna()
            if len(times):
                points = close.loc[times].to_frame("close").rename_axis("timestamp").reset_index()
                marks.append(
                    points.hvplot.scatter(x="timestamp", y="close", marker=marker, color=color, size=60, **wide)
                )
        price = close.hvplot.line(label="close", **wide)
        return hv.Overlay([price, *marks]).opts(title=self.symbol, height=260, **wide)

    def plot(self):
        """The price with entries and exits over the position's market value, sharing the time axis."""
        import holoviews as hv

        held = self.value.hvplot.area(height=160, title=f"{self.symbol} position value", responsive=True, min_width=300)
        return hv.Layout([self.price_plot(), held]).cols(1)
