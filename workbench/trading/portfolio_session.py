"""``PortfolioSession``: a strategy trading several symbols in one account as bars arrive, allocating as the
multi-symbol backtest does (``wb.backtest`` on several symbols, ``runner.portfolio``).

Each symbol is traded to ``weight x its exposure`` of the whole account, rebalanced when a target moves, sells
before buys. Bars arrive one symbol at a time; the session holds those of one time until it has every symbol's
(or a later time's bar arrives, or the feed ends with `flush`), then hands them to a `PortfolioDriver` together,
so a session fed a backtest's bars places the backtest's orders in the same order. A bar of an earlier time
arriving after that time was done is dropped (logged): its time was already traded.

Like a `TradingSession` it has ``om``, ``risk_manager``, ``monitor``, ``broker`` and ``clock``, journals every order
write-ahead when given a journal, and resumes from it; `LiveSession` runs either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.clock import Clock
from workbench.data.feeds import Bar
from workbench.engine.inputs import check_weights, resolve_strategy
from workbench.engine.sessions import CLOSED
from workbench.logs import get_logger
from workbench.orders.model import Order
from workbench.ports import Broker
from workbench.risk.manager import RiskRules
from workbench.strategies.base import Strategy
from workbench.trading.build import journal_run, trading_core, venue_of
from workbench.trading.portfolio_driver import BarRow, PortfolioDriver

if TYPE_CHECKING:
    from workbench.store.journal import OrderJournal, TradingState

_log = get_logger("workbench.portfolio")
_COLUMNS = ("open", "high", "low", "close", "volume")


class _Bars:
    """One symbol's bars so far, as a growing array and the canonical bar table the strategy reads."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.times: list[datetime] = []
        self.values = np.empty((256, len(_COLUMNS)))

    @property
    def last(self) -> datetime | None:
        return self.times[-1] if self.times else None

    def append(self, timestamp: datetime, values: Iterable[float]) -> None:
        n = len(self.times)
        if n == len(self.values):
            self.values = np.concatenate([self.values, np.empty_like(self.values)])
        self.values[n] = tuple(values)
        self.times.append(timestamp)

    def frame(self) -> pd.DataFrame:
        n = len(self.times)
        index = pd.DatetimeIndex(self.times, name="timestamp").as_unit("ns")
        frame = pd.DataFrame(self.values[:n], index=index, columns=list(_COLUMNS))
        frame.attrs["symbol"] = self.symbol
        return frame


class PortfolioSession:
    """Trade ``strategy`` on ``symbols`` in one account through ``broker``: call ``on_bar`` with each new bar (or
    ``run`` a feed); see the module docstring.

    ``weights`` (symbol -> fraction of equity, at most 1 together) default to equal; ``history`` (bars before the
    session, per symbol) warms the indicators up, and the last warm-up time's signal is acted on at the first live
    time (with next-open fills: at its open): a new run trades to the targets then, a run resumed from its
    ``journal`` (history up to its last recorded time) goes on as if it had not stopped.

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.brokers.sim import SimBroker
    >>> from workbench.data.feeds import ReplayFeed
    >>> from workbench.clock import SimClock
    >>> bars = {s: wb.load(s, start="2024-01-01", end="2024-06-30") for s in ("SPY", "QQQ")}
    >>> clock = SimClock(bars["SPY"].index[0].to_pydatetime())
    >>> session = PortfolioSession("sma_cross", ["SPY", "QQQ"], SimBroker(clock, cash=10_000), clock)
    >>> orders = session.run(ReplayFeed(bars))
    >>> sorted({o.symbol for o in orders})
    ['QQQ', 'SPY']
    """

    def __init__(
        self,
        strategy: Strategy | type[Strategy] | str,
        symbols: Iterable[str],
        broker: Broker,
        clock: Clock,
        *,
        weights: Mapping[str, float] | None = None,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        fill: str = "next_open",
        risk: RiskRules | dict[str, Any] | None = None,
        history: Mapping[str, pd.DataFrame] | None = None,
        journal: OrderJournal | None = None,
    ) -> None:
        cls, values = resolve_strategy(strategy)
        self.strategy = strategy if isinstance(strategy, Strategy) else cls(**values)
        self.symbols = tuple(s.upper() for s in symbols)
        if not self.symbols or len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"symbols={list(self.symbols)!r}: expected one or more symbols, each once")
        self.weights = check_weights(dict(weights) if weights is not None else None, list(self.symbols))
        self.rules = risk if isinstance(risk, RiskRules) else RiskRules.from_mapping(risk)
        history = {s.upper(): f for s, f in (history or {}).items() if s.upper() in self.symbols and len(f)}
        self.venue = venue_of(broker, clock)
        for symbol, frame in history.items():
            self.venue.simulation.quote(symbol, float(frame["close"].iloc[-1]))  # an account worth its marks
        self.costs, self.risk_manager, self.om, self.monitor = trading_core(
            self.venue, self.rules, cls.name, journal, fees=fees, slippage=slippage, fixed_fee=fixed_fee, fill=fill
        )
        self.broker, self.clock, self.journal = broker, clock, journal
        self.driver = PortfolioDriver(
            list(self.symbols), self.weights, self.costs, self.venue, self.om, self.risk_manager
        )
        self._bars = {s: _Bars(s) for s in self.symbols}
        self._pending: dict[str, Bar] = {}
        self._last_time: datetime | None = None
        state = journal.restore() if journal is not None else None
        if history:
            self._warm(history, resumed=bool(state is not None and state.client_order_ids))
        if journal is not None and state is not None:
            self._resume(journal, state, targets_known=bool(history))

    def _warm(self, history: Mapping[str, pd.DataFrame], *, resumed: bool) -> None:
        """Take the warm-up bars into the indicators, and the driver's state as of the last of them."""
        m = len(self.symbols)
        last_time = max(f.index[-1] for f in history.values()).to_pydatetime()
        effective, previous, last_price = np.zeros(m), np.zeros(m), np.full(m, np.nan)
        for j, symbol in enumerate(self.symbols):
            frame = history.get(symbol)
            if frame is None:
                continue
            for row in frame[list(_COLUMNS)].itertuples():
                self._bars[symbol].append(row[0].to_pydatetime(), row[1:])
            targets = self.strategy.exposure(self._bars[symbol].frame()).ffill().fillna(0.0)
            effective[j] = targets.iloc[-1]
            before = targets.iloc[:-1] if frame.index[-1] == last_time else targets  # in force the time before
            previous[j] = before.iloc[-1] if len(before) else 0.0
            last_price[j] = float(frame["close"].iloc[-1])
        self._last_time = last_time
        row = BarRow(last_time, np.full(m, np.nan), last_price, effective, np.ones(m, dtype=bool))
        self.driver.warm(row, previous, last_price, resumed=resumed)

    def _resume(self, journal: OrderJournal, state: TradingState, *, targets_known: bool) -> None:
        """Continue the journal's run: its positions, working orders and sent ids; a halted run stays halted; the
        costs and risk rules it trades with are recorded (the drift report re-simulates with them)."""
        self.om.restore(state.positions, state.open_orders, state.client_order_ids)
        positions = {s: (p.qty, p.avg_price) for s, p in state.positions.items()}
        self.driver.adopt(positions, targets_known=targets_known)
        if state.halted:
            self.risk_manager.halted = True
            self.driver.pause(True)
        journal_run(journal, self.risk_manager, self.costs, self.rules, weights=self.weights)

    def on_bar(self, bar: Bar) -> list[Order]:
        """Take ``bar`` (bars of other symbols are ignored); once its time is complete, place the orders it calls
        for. Returns the orders placed."""
        symbol = bar.symbol.upper()
        if symbol not in self._bars:
            return []
        previous = self._pending[symbol].timestamp if symbol in self._pending else self._bars[symbol].last
        if previous is not None and bar.timestamp <= previous:
            raise ValueError(
                f"{symbol} bar at {bar.timestamp.isoformat()} is not after the previous one "
                f"({previous.isoformat()}): bars must arrive in time order"
            )
        pending = self._pending_time
        if pending is not None:
            late = bar.timestamp < pending
        else:
            late = self._last_time is not None and bar.timestamp <= self._last_time
        if late:
            _log.warning("late bar dropped: its time was traded", symbol=symbol, bar=bar.timestamp.isoformat())
            return []
        before = len(self.om.orders)
        if pending is not None and bar.timestamp > pending:
            self._complete()
        self._pending[symbol] = bar
        if len(self._pending) == len(self.symbols):
            self._complete()
        return list(self.om.orders.values())[before:]

    def run(self, feed: Iterable[Bar]) -> list[Order]:
        """``on_bar`` for every bar of ``feed`` until it ends, then `flush`; returns every order placed."""
        placed = []
        for bar in feed:
            placed.extend(self.on_bar(bar))
        placed.extend(self.flush())
        return placed

    def flush(self) -> list[Order]:
        """Trade the bars held back now (the feed ended: no other symbol's bar of their time is coming)."""
        if not self._pending:
            return []
        before = len(self.om.orders)
        self._complete()
        return list(self.om.orders.values())[before:]

    def pause(self, paused: bool) -> None:
        """Place no new orders while ``paused`` (a strategy switched off or halted in the store); once unpaused
        every symbol is traded to its target again."""
        self.driver.pause(paused)

    def last_price(self, symbol: str) -> float | None:
        """The last close of ``symbol`` this session saw (None for another symbol, or before its first bar)."""
        bars = self._bars.get(symbol.upper())
        if bars is None or not bars.times:
            return None
        return float(bars.values[len(bars.times) - 1, 3])

    @property
    def last_bar(self) -> datetime | None:
        """The last time traded (warm-up included): bars held back for their time to complete do not count."""
        return self._last_time

    def frame(self, symbol: str) -> pd.DataFrame:
        """``symbol``'s bars taken so far (history included), as a canonical bar table."""
        return self._bars[symbol.upper()].frame()

    @property
    def _pending_time(self) -> datetime | None:
        return next(iter(self._pending.values())).timestamp if self._pending else None

    def _complete(self) -> None:
        """Hand the held bars of one time to the driver, then mark the account (risk monitor, journal)."""
        moment, m, received = self._pending_time, len(self.symbols), list(self._pending.values())
        opens, closes, targets = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
        closed = np.ones(m, dtype=bool)
        for j, symbol in enumerate(self.symbols):
            bar = self._pending.get(symbol)
            if bar is None:
                continue
            bars = self._bars[symbol]
            bars.append(bar.timestamp, (bar.open, bar.high, bar.low, bar.close, bar.volume))
            frame = bars.frame()
            targets[j] = self.strategy.exposure(frame).iloc[-1]
            closed[j] = self.costs.sessions(frame.index, symbol)[-1] == CLOSED
            opens[j], closes[j] = bar.open, bar.close
        self._pending.clear()
        self._last_time = moment
        self.driver.add(BarRow(moment, opens, closes, targets, closed))
        self.venue.simulation.set_time(moment)
        prices = {s: float(p) for s, p in zip(self.symbols, self.driver.last_price, strict=True) if not np.isnan(p)}
        self.monitor.on_bar(moment, prices)
        if self.journal is not None:
            account = self.broker.account()
            self.journal.record_mark(moment, account.cash, account.equity, bars=received)
