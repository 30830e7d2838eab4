"""``TradingSession``: a strategy trading one symbol as bars arrive, through the objects a backtest uses.

Each bar goes to the same ``TargetDriver`` (scheduler, RiskManager, OrderManager) that ``wb.backtest`` runs
over history, so a session fed the bars of a backtest places the same orders at the same prices. Only the
three ports differ: the broker (SimBroker for local paper trading, Alpaca live), the clock (the wall clock)
and the feed (a paced replay, a live stream).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.clock import Clock
from workbench.data.feeds import Bar, DataFeed
from workbench.engine.inputs import resolve_strategy
from workbench.engine.risk_rules import clamp_exposure_nb, exposure_limit_nb
from workbench.engine.schedule import HALTED, LAST_WEIGHT, SENT
from workbench.orders.model import Order
from workbench.ports import Broker
from workbench.risk.manager import RiskRules
from workbench.strategies.base import Strategy
from workbench.trading.build import journal_run, paper_venue, resume, trading_core, venue_of
from workbench.trading.driver import TargetDriver
from workbench.trading.rule_resume import resumed_rules

if TYPE_CHECKING:
    from workbench.store.journal import OrderJournal

_COLUMNS = ("open", "high", "low", "close", "volume")


class TradingSession:
    """Trade ``strategy`` on ``symbol`` through ``broker``: call ``on_bar`` with each new bar (or ``run`` a feed).

    A signal of bar t is acted on as in a backtest: with ``fill="close"`` at once, with ``"next_open"``
    when bar t + 1 arrives (at its open). ``history`` (bars before the session) warms up the indicators
    without trading them; the first live bar then trades toward the strategy's current target.

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.data.feeds import ReplayFeed
    >>> session = TradingSession.paper(wb.strategy("sma_cross")(fast=5, slow=20), "SPY", cash=10_000)
    >>> orders = session.run(ReplayFeed({"SPY": wb.load("SPY", start="2024-01-01", end="2024-06-30")}))
    >>> len(orders) > 0 and session.om.positions["SPY"].symbol == "SPY"
    True
    """

    def __init__(
        self,
        strategy: Strategy | type[Strategy] | str,
        symbol: str,
        broker: Broker,
        clock: Clock,
        *,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        fill: str = "next_open",
        risk: RiskRules | dict[str, Any] | None = None,
        history: pd.DataFrame | None = None,
        journal: OrderJournal | None = None,
    ) -> None:
        cls, values = resolve_strategy(strategy)
        self.strategy = strategy if isinstance(strategy, Strategy) else cls(**values)
        self.symbol = symbol.upper()
        self.symbols = (self.symbol,)  # what a session of several symbols (PortfolioSession) calls its symbols
        self.rules = risk if isinstance(risk, RiskRules) else RiskRules.from_mapping(risk)
        self.venue = venue_of(broker, clock)
        if history is not None and len(history):
            self.venue.simulation.quote(self.symbol, float(history["close"].iloc[-1]))  # an account worth its marks
        self.costs, self.risk_manager, self.om, self.monitor = trading_core(
            self.venue, self.rules, cls.name, journal, fees=fees, slippage=slippage, fixed_fee=fixed_fee, fill=fill
        )
        self.broker, self.clock = broker, clock
        self.driver = TargetDriver(self.symbol, self.costs, self.venue, self.om, self.risk_manager)
        self.journal = journal
        self._times: list[datetime] = []
        self._values = np.empty((256, len(_COLUMNS)))
        if history is not None and len(history):
            for row in history[list(_COLUMNS)].itertuples():
                self._append(row[0].to_pydatetime(), row[1:])
            # History is for the indicators, not for trading, except its last bar's signal: with next-open fills
            # it was not acted on yet (its order fills at the next bar's open), as in a session that never stopped.
            self.driver.t = len(self._times) - (0 if self.costs.fill_close else 1)
        if journal is not None:
            self._resume(journal)

    def _resume(self, journal: OrderJournal) -> None:
        """Continue the journal's run: its positions, working orders and sent ids; a halted run stays halted; the
        costs and risk rules it trades with are recorded (the drift report re-simulates with them)."""
        state = journal.restore()
        self.om.restore(state.positions, state.open_orders, state.client_order_ids)
        if state.client_order_ids and self.driver.t > 0:
            self._sent_target(self.driver.t - 1)
        held = state.positions.get(self.symbol)
        if held is not None:
            self.driver.adopt(len(self._times), held.qty, held.avg_price)
        if state.halted:
            self.risk_manager.halted = True
            self.driver.schedule[HALTED] = 1.0
        rules = resumed_rules(state, self.costs, [self.symbol], journal.cash)
        if rules is not None:
            self.driver.resume_rules(rules)
        journal_run(journal, self.risk_manager, self.costs, self.rules)  # for `workbench drift`

    def _sent_target(self, bar: int) -> None:
        """Take the strategy's target at history bar ``bar`` as already traded (a resumed run acted on it before
        it stopped): only a change after it trades, sized against the position held, so nothing is sent twice."""
        target = float(self.strategy.exposure(self.frame()).iloc[bar])
        if not np.isnan(target):
            limit = exposure_limit_nb(self.costs.risk)
            traded = clamp_exposure_nb(min(max(target, -1.0), 1.0), limit)
            self.driver.schedule[SENT] = self.driver.schedule[LAST_WEIGHT] = traded

    @classmethod
    def paper(
        cls,
        strategy: Strategy | type[Strategy] | str,
        symbol: str,
        *,
        cash: float = 10_000.0,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        clock: Clock | None = None,
        journal: OrderJournal | None = None,
        **kwargs: Any,
    ) -> TradingSession:
        """A local paper session: a simulated broker holding ``cash`` on the wall clock (or ``clock``), no keys
        needed (`trading.build.paper_venue`). With a ``journal`` the account is the journal's (its cash, positions and
        working orders, after a restart)."""
        costs = {"fees": fees, "slippage": slippage, "fixed_fee": fixed_fee}
        venue = paper_venue(cash, clock=clock, **costs)
        if journal is not None:
            resume(venue, journal, [symbol], resumed=True, cash_tolerance=None)
        return cls(strategy, symbol, venue.broker, venue.clock, **costs, journal=journal, **kwargs)

    def on_bar(self, bar: Bar) -> list[Order]:
        """Take ``bar`` (bars of other symbols are ignored) and place the orders it calls for; returns them."""
        if bar.symbol.upper() != self.symbol:
            return []
        if self._times and bar.timestamp <= self._times[-1]:
            raise ValueError(
                f"{self.symbol} bar at {bar.timestamp.isoformat()} is not after the previous one "
                f"({self._times[-1].isoformat()}): bars must arrive in time order"
            )
        before = len(self.om.orders)
        self._append(bar.timestamp, (bar.open, bar.high, bar.low, bar.close, bar.volume))
        n = len(self._times)
        frame = self.frame()
        exposure = self.strategy.exposure(frame).to_numpy()
        sessions = self.costs.sessions(frame.index, self.symbol)
        values = self._values[:n]
        end = n if self.costs.fill_close else n - 1  # a next-open signal of bar n-1 waits for bar n
        self.driver.advance(end, exposure, values[:, 0], values[:, 3], sessions, self._times)
        self.venue.simulation.set_time(bar.timestamp)
        self.venue.simulation.quote(self.symbol, bar.close)  # a simulated broker marks at the close
        self.monitor.on_bar(bar.timestamp, {self.symbol: bar.close})
        if self.journal is not None:
            account = self.broker.account()
            self.journal.record_mark(bar.timestamp, account.cash, account.equity, bars=(bar,))
        return list(self.om.orders.values())[before:]

    def run(self, feed: DataFeed) -> list[Order]:
        """``on_bar`` for every bar of ``feed``, until it ends; returns every order placed."""
        placed = []
        for bar in feed:
            placed.extend(self.on_bar(bar))
        return placed

    def flush(self) -> list[Order]:
        """Nothing to do: each bar is acted on as it arrives (a `PortfolioSession` may hold the last bars back
        until it knows every symbol's bar of their time)."""
        return []

    def pause(self, paused: bool) -> None:
        """Place no new strategy orders while ``paused`` (a strategy switched off or halted in the store);
        the strategy's target is traded toward again once unpaused."""
        self.driver.schedule[HALTED] = 1.0 if paused else 0.0

    def last_price(self, symbol: str) -> float | None:
        """The last close of ``symbol`` this session saw (None for another symbol, or before any bar): what
        the API values a manual market order at."""
        if symbol.upper() != self.symbol or not self._times:
            return None
        return float(self._values[len(self._times) - 1, 3])

    @property
    def last_bar(self) -> datetime | None:
        """The time of the last bar taken (history included), None before any."""
        return self._times[-1] if self._times else None

    def frame(self) -> pd.DataFrame:
        """The bars seen so far (history included), as a canonical bar table."""
        n = len(self._times)
        index = pd.DatetimeIndex(self._times, name="timestamp").as_unit("ns")
        frame = pd.DataFrame(self._values[:n], index=index, columns=list(_COLUMNS))
        frame.attrs["symbol"] = self.symbol
        return frame

    def _append(self, timestamp: datetime, values) -> None:
        n = len(self._times)
        if n == len(self._values):
            self._values = np.concatenate([self._values, np.empty_like(self._values)])
        self._values[n] = values
        self._times.append(timestamp)
