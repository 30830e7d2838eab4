"""``UniverseSession``: a universe strategy trading its symbols in one account as bars arrive, with the decisions
of its backtest (`trading.universe`): each bar time's weights become orders through the same `UniverseDriver`.

Bars arrive one symbol at a time; the session holds those of one time until it has every symbol's (or a later
time's bar arrives, or the feed ends with `flush`), then appends the row to its panel and asks the strategy for the
weights of that row (from the bars so far only). With ``fill="close"`` they are traded at once, at the row's
closes; with ``"next_open"`` at the next row's opens. So a session fed a backtest's bars places the backtest's
orders in the same order. Like the other sessions it has ``om``, ``risk_manager``, ``monitor``, ``broker``,
``clock``, journals every order write-ahead when given a journal, and is run by `LiveSession`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.clock import Clock
from workbench.data.feeds import Bar
from workbench.data.schema import BAR_COLUMNS
from workbench.engine.inputs import check_leverage, resolve_strategy
from workbench.logs import get_logger
from workbench.orders.model import Order
from workbench.ports import Broker
from workbench.risk.manager import RiskRules
from workbench.strategies.universe import Panel, UniverseStrategy, call_weights
from workbench.trading.build import journal_run, trading_core, venue_of
from workbench.trading.universe import UniverseDriver

if TYPE_CHECKING:
    from workbench.store.journal import OrderJournal

_log = get_logger("workbench.universe")


class UniverseSession:
    """Trade universe ``strategy`` on ``symbols`` in one account through ``broker``: call ``on_bar`` with each new
    bar (or ``run`` a feed); see the module docstring. ``history`` (bars before the session, per symbol) warms the
    strategy up; with next-open fills the weights of its last time are traded at the first live time's open.

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.brokers.sim import SimBroker
    >>> from workbench.clock import SimClock
    >>> from workbench.data.feeds import ReplayFeed
    >>> bars = {s: wb.load(s, start="2023-01-01", end="2023-12-31") for s in ("SPY", "QQQ", "IWM")}
    >>> clock = SimClock(bars["SPY"].index[0].to_pydatetime())
    >>> momentum = wb.strategy("momentum")(lookback=20, top=1, every=5)
    >>> session = UniverseSession(momentum, list(bars), SimBroker(clock), clock)
    >>> len(session.run(ReplayFeed(bars))) > 0
    True
    """

    def __init__(
        self,
        strategy: UniverseStrategy | type[UniverseStrategy] | str,
        symbols: Iterable[str],
        broker: Broker,
        clock: Clock,
        *,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        fill: str = "next_open",
        risk: RiskRules | dict[str, Any] | None = None,
        history: Mapping[str, pd.DataFrame] | None = None,
        journal: OrderJournal | None = None,
        leverage: float | None = None,
    ) -> None:
        cls, values = resolve_strategy(strategy)
        self.strategy = strategy if isinstance(strategy, UniverseStrategy) else cls(**values)
        self.symbols = tuple(s.upper() for s in symbols)
        if len(self.symbols) < 2 or len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"symbols={list(self.symbols)!r}: a universe trades two or more symbols, each once")
        self.rules = risk if isinstance(risk, RiskRules) else RiskRules.from_mapping(risk)
        self.venue = venue_of(broker, clock)
        history = {s.upper(): f for s, f in (history or {}).items() if s.upper() in self.symbols and len(f)}
        for symbol, frame in history.items():
            self.venue.simulation.quote(symbol, float(frame["close"].iloc[-1]))  # an account worth its marks
        self.costs, self.risk_manager, self.om, self.monitor = trading_core(
            self.venue, self.rules, cls.name, journal, fees=fees, slippage=slippage, fixed_fee=fixed_fee, fill=fill
        )
        self.broker, self.clock, self.journal = broker, clock, journal
        self.driver = UniverseDriver(
            list(self.symbols), self.costs, self.venue, self.om, self.risk_manager, check_leverage(leverage)
        )
        self._times: list[datetime] = []
        self._rows = np.empty((256, len(BAR_COLUMNS), len(self.symbols)))
        self._pending: dict[str, Bar] = {}
        self._last_of: dict[str, datetime] = {}  # each symbol's last bar taken
        self.paused = False
        if history:
            self._warm(history)
        if journal is not None:
            self._resume(journal)

    def _warm(self, history: Mapping[str, pd.DataFrame]) -> None:
        """Take the warm-up bars into the panel; with next-open fills, their last time's weights are due."""
        if not history:
            return
        index = pd.DatetimeIndex(sorted(set().union(*(f.index for f in history.values()))))
        for moment in index:
            values = np.full((len(BAR_COLUMNS), len(self.symbols)), np.nan)
            for j, symbol in enumerate(self.symbols):
                frame = history.get(symbol)
                if frame is not None and moment in frame.index:
                    values[:, j] = frame.loc[moment, list(BAR_COLUMNS)].to_numpy(dtype=np.float64)
                    self._last_of[symbol] = moment.to_pydatetime()
            self._append(moment.to_pydatetime(), values)
        t = len(self._times) - 1
        self.driver.prime(t, self._times[t], self._rows[t, 3].copy(), self._weights())

    def _resume(self, journal: OrderJournal) -> None:
        """Continue the journal's run: its positions, working orders and sent ids; a halted run stays halted; the
        costs and risk rules it trades with are recorded (the drift report re-simulates with them)."""
        state = journal.restore()
        self.om.restore(state.positions, state.open_orders, state.client_order_ids)
        self.driver.adopt({s: (p.qty, p.avg_price) for s, p in state.positions.items()}, len(self._times))
        if state.halted:
            self.risk_manager.halted = True
            self.paused = True
        journal_run(journal, self.risk_manager, self.costs, self.rules)

    # --- what a session does ------------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> list[Order]:
        """Take ``bar`` (bars of other symbols are ignored); once its time is complete, place the orders it calls
        for. Returns the orders placed."""
        symbol = bar.symbol.upper()
        if symbol not in self.symbols:
            return []
        previous = self._pending[symbol].timestamp if symbol in self._pending else self._last_of.get(symbol)
        if previous is not None and bar.timestamp <= previous:
            raise ValueError(
                f"{symbol} bar at {bar.timestamp.isoformat()} is not after the previous one "
                f"({previous.isoformat()}): bars must arrive in time order"
            )
        pending = next(iter(self._pending.values())).timestamp if self._pending else None
        late = (
            bar.timestamp < pending
            if pending is not None
            else self.last_bar is not None and bar.timestamp <= self.last_bar
        )
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
        """Place no new orders while ``paused`` (a strategy switched off or halted in the store); weights that
        come due meanwhile are dropped (the strategy's next weights are traded once unpaused)."""
        self.paused = paused

    def last_price(self, symbol: str) -> float | None:
        """The last close of ``symbol`` this session saw (None for another symbol, or before its first bar)."""
        if symbol.upper() not in self.symbols:
            return None
        closes = self._rows[: len(self._times), 3, self.symbols.index(symbol.upper())]
        seen = closes[~np.isnan(closes)]
        return float(seen[-1]) if len(seen) else None

    @property
    def last_bar(self) -> datetime | None:
        """The last time traded (warm-up included): bars held back for their time to complete do not count."""
        return self._times[-1] if self._times else None

    def panel(self) -> Panel:
        """The bars taken so far (history included), aligned as the strategy reads them."""
        n = len(self._times)
        arrays = tuple(np.ascontiguousarray(self._rows[:n, i, :]) for i in range(len(BAR_COLUMNS)))
        index = pd.DatetimeIndex(self._times, name="timestamp").as_unit("ns")
        return Panel(index, list(self.symbols), arrays)

    # --- internals ----------------------------------------------------------------------------------------------

    def _weights(self) -> np.ndarray:
        """The strategy's weights of the last row, from the bars up to it only."""
        return call_weights(type(self.strategy), self.panel(), tuple(self.strategy.values.values()))[-1]

    def _complete(self) -> None:
        """Append the held bars of one time as a row, trade what it completes, then mark the account."""
        moment, received = next(iter(self._pending.values())).timestamp, list(self._pending.values())
        values = np.full((len(BAR_COLUMNS), len(self.symbols)), np.nan)
        for j, symbol in enumerate(self.symbols):
            bar = self._pending.get(symbol)
            if bar is not None:
                values[:, j] = (bar.open, bar.high, bar.low, bar.close, bar.volume)
                self._last_of[symbol] = bar.timestamp
        self._pending.clear()
        self._append(moment, values)
        t = len(self._times) - 1
        day = int(self.costs.account_sessions(pd.DatetimeIndex([moment]), list(self.symbols))[0][0])
        self.driver.bar(t, moment, day, values[0], values[3], self._weights(), paused=self.paused)
        self.venue.simulation.set_time(moment)
        closes = {s: float(values[3, j]) for j, s in enumerate(self.symbols) if not np.isnan(values[3, j])}
        for symbol, price in closes.items():
            self.venue.simulation.quote(symbol, price)  # a simulated broker marks at the close
        self.monitor.on_bar(moment, closes)
        if self.journal is not None:
            account = self.broker.account()
            self.journal.record_mark(moment, account.cash, account.equity, bars=received)

    def _append(self, moment: datetime, values: np.ndarray) -> None:
        n = len(self._times)
        if n == len(self._rows):
            self._rows = np.concatenate([self._rows, np.empty_like(self._rows)])
        self._rows[n] = values
        self._times.append(moment)
