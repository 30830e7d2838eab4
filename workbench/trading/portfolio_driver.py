"""``PortfolioDriver``: the target weights of several symbols turned into orders one bar time at a time, through
RiskManager -> OrderManager -> broker, with the decisions of the multi-symbol backtest (``runner.portfolio``).

A backtest knows every bar in advance; a live session learns them one time at a time. The driver takes the bars
of one time together (a `BarRow`) and makes each of the backtest's per-bar decisions as soon as what it depends on
is known. With close fills everything of time t happens when its row arrives. With next-open fills, time t's
signal and exit rules wait for row t + 1 (whose bars say whether each order can fill there), then its orders go
out at t + 1's open. Same kernels (``scale_portfolio_nb``, ``exit_reason_nb``, ``order_allowed_nb``,
``update_extreme_nb``), same sizing (``OrderManager.target`` against the whole account), same order of the orders
(reductions first), so a session fed a backtest's bars places the backtest's orders in the same order.

The multi-symbol backtest (``runner.portfolio.run_portfolio``) is this driver fed its history row by row.

Beyond the backtest, a live session can ``pause`` the driver (a strategy switched off or halted in the store:
no new orders, due ones dropped, the targets traded toward again once unpaused) and ``adopt`` positions held
before it started (each is traded to its target at the first signal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from workbench.engine.inputs import Costs
from workbench.engine.risk_rules import (
    DAILY_LOSS,
    EXIT_DAILY_LOSS,
    EXIT_MAX_DRAWDOWN,
    MAX_EXPOSURE,
    MAX_NET_EXPOSURE,
    MAX_ORDERS_PER_DAY,
    NO_EXIT,
    day_id,
    exit_reason_nb,
    exit_rules_active_nb,
    order_allowed_nb,
    scale_portfolio_nb,
    update_extreme_nb,
)
from workbench.engine.sessions import CLOSED
from workbench.orders.manager import OrderManager
from workbench.ports import Account, Broker
from workbench.risk.manager import ACCOUNT, RiskManager
from workbench.trading.venue import Venue


@dataclass(frozen=True)
class BarRow:
    """The bars of one time, one slot per symbol of the driver (NaN where a symbol has no bar then): opens,
    closes, the strategy's target exposure at that bar (NaN: none yet), and ``closed`` where the symbol may not
    trade (no bar, outside its trading hours, not an allowed symbol)."""

    moment: datetime
    opens: np.ndarray
    closes: np.ndarray
    targets: np.ndarray
    closed: np.ndarray


class _Holdings:
    """The broker seen through the driver's symbols: a live account may hold others (other sessions, a manual
    order), which neither the sizing nor the marking of this portfolio counts."""

    def __init__(self, broker: Broker, symbols: list[str]) -> None:
        self.broker, self.symbols = broker, set(symbols)

    def positions(self) -> dict[str, float]:
        return {s: q for s, q in self.broker.positions().items() if s in self.symbols}

    def account(self) -> Account:
        return self.broker.account()


class PortfolioDriver:
    """State of a multi-symbol account traded by target weights; `add` each complete `BarRow` in time order.

    ``weights`` are the symbols' target weights (`runner.portfolio.check_weights`), ``costs.cash`` the equity the
    daily and drawdown rules start from; a session with warm-up bars calls `warm` before the first row.

    Examples
    --------
    >>> weights = {"SPY": 0.5, "QQQ": 0.5}
    >>> driver = PortfolioDriver(["SPY", "QQQ"], weights, costs, venue, om, risk)  # doctest: +SKIP
    >>> driver.add(BarRow(moment, opens, closes, targets, closed))  # doctest: +SKIP
    """

    def __init__(
        self,
        symbols: list[str],
        weights: dict[str, float],
        costs: Costs,
        venue: Venue,
        om: OrderManager,
        risk_manager: RiskManager,
    ) -> None:
        self.symbols = [s.upper() for s in symbols]
        m = len(self.symbols)
        self.weights = {s.upper(): float(w) for s, w in weights.items()}
        self.costs, self.om, self.risk_manager = costs, om, risk_manager
        self.broker, self.simulation = venue.broker, venue.simulation
        self.holdings = _Holdings(self.broker, self.symbols)
        self.effective = np.zeros(m)  # the targets in force (each symbol's last, 0 before its first)
        self.weight_vector = np.array([self.weights[s] for s in self.symbols])
        self.t = -1  # the index of the last row added
        self._rows: dict[int, tuple[BarRow, np.ndarray, bool]] = {}  # t -> (row, targets in force, changed)
        self.last_price = np.full(m, np.nan)
        self.due: dict[int, list[tuple[int, float]]] = {}  # row -> [(symbol index, target weight)]
        self.scaled = np.zeros(m)  # the target weights last sent (or waiting to be)
        self.unsynced = True  # bring the account to the targets at the first signal (a no-op on a fresh account)
        self.stopped: set[int] = set()  # symbols a risk rule closed: out until their own target changes
        self.entry, self.extreme = np.full(m, np.nan), np.full(m, np.nan)
        self.exits_on = exit_rules_active_nb(costs.risk)
        self.days_on = not (np.isnan(costs.risk[DAILY_LOSS]) and np.isnan(costs.risk[MAX_ORDERS_PER_DAY]))
        self.day, self.day_start, self.prev_equity, self.peak = -1, costs.cash, costs.cash, np.nan
        self.orders_today, self.halted, self.day_halted = 0, False, False
        self.paused = False

    # --- what a session does --------------------------------------------------------------------------------

    def add(self, row: BarRow) -> None:
        """Take the bars of the next time and make every decision they complete (see the module docstring)."""
        if self.t >= 0 and row.moment <= self._rows[self.t][0].moment:
            raise ValueError(
                f"bars of {row.moment.isoformat()} are not after the previous ones "
                f"({self._rows[self.t][0].moment.isoformat()}): bar times must arrive in order"
            )
        if self.t < 0:
            self._deny_disallowed(row.moment)
        t = self.t = self.t + 1
        has_target = ~np.isnan(row.targets)
        effective = np.where(has_target, row.targets, self.effective)
        changed = bool(((effective != self.effective) & has_target).any())
        self.effective = effective
        self._rows[t] = (row, effective, changed)
        self._rows.pop(t - 2, None)  # decisions look one row back at most
        if self.costs.fill_close:
            self._roll_day(t)
            self._signal_phase(t)
            self._execute(t, self.due.pop(t, []))
            self._mark_prices(t)
            self._exit_phase(t)
            self._settle(t)
            return
        if t > 0:  # the previous time's signal and exits: now its orders' fill bar is known
            self._signal_phase(t - 1)
            self._exit_phase(t - 1)
            self._settle(t - 1)
        self._roll_day(t)
        self._execute(t, self.due.pop(t, []))
        self._mark_prices(t)

    def warm(self, row: BarRow, previous: np.ndarray, last_price: np.ndarray, *, resumed: bool) -> None:
        """Start after warm-up bars instead of from nothing: ``row`` is the last warm-up time (``row.targets`` the
        targets in force then, NaN-free), taken as done: its signal is acted on at the first row `add`-ed, as a
        continuing session would. ``previous`` are the targets in force the time before, ``last_price`` each
        symbol's last close.

        A new run (``resumed`` False) trades to the targets at that first signal. A ``resumed`` run continues as
        if it had not stopped: the targets of the time before count as sent, so only a change at the last warm-up
        time trades (sized against the positions held, so orders sent before a stop are not sent twice).
        """
        if self.t >= 0:
            raise ValueError(f"warm needs a driver that took no bars yet; this one took {self.t + 1} times")
        self._deny_disallowed(row.moment)
        previous = np.asarray(previous, dtype=float)
        self.t, self.effective, self.last_price = 0, np.asarray(row.targets, dtype=float), np.asarray(last_price)
        changed = bool((self.effective != previous).any())
        self._rows[0] = (row, self.effective, changed)
        if resumed:
            self.scaled = scale_portfolio_nb(self.weight_vector * previous, self.costs.risk)
            self.unsynced = False

    def positions(self) -> np.ndarray:
        """The quantity held of each symbol, in the driver's order (after the last row: that time's positions)."""
        held = self.holdings.positions()
        return np.array([held.get(s, 0.0) for s in self.symbols])

    def pause(self, paused: bool) -> None:
        """Stop (``True``) or restart trading: while paused no signal, exit rule or due order trades; once
        unpaused the targets are traded toward again, and a drawdown halt a person lifted is lifted here too."""
        if self.paused and not paused:
            self.halted = False
            self.scaled[:] = np.nan  # unknown after the pause (a kill switch flattened): every target is sent again
            self.unsynced = True
        self.paused = paused

    def adopt(self, positions: dict[str, tuple[float, float]], *, targets_known: bool) -> None:
        """Take over positions opened before this driver (symbol -> (qty, average price)): the stops work from
        their average price. Without ``targets_known`` (no warm-up bars tell which targets were sent) each is
        traded to its target weight at the first signal."""
        for j, symbol in enumerate(self.symbols):
            qty, avg_price = positions.get(symbol, (0.0, np.nan))
            if qty != 0.0:
                self.entry[j] = self.extreme[j] = avg_price
                if not targets_known:
                    self.scaled[j] = np.nan  # unknown: differs from any target, so the first signal sends one

    # --- the backtest's steps ----------------------------------------------------------------------------------

    def _deny_disallowed(self, moment: datetime) -> None:
        for j, symbol in enumerate(self.symbols):
            if self.costs.allowed is not None and symbol not in self.costs.allowed:
                self.risk_manager.denied(moment, symbol, "allowed_symbols", {"weight": self.weights[symbol]})
                self.weights[symbol] = 0.0
                self.weight_vector[j] = 0.0

    def _roll_day(self, t: int) -> None:
        """Start the daily rules' day (a calendar day, UTC) at its first time where some symbol is in session."""
        row = self._rows[t][0]
        if not self.days_on or row.closed.all():
            return
        day = day_id(row.moment)
        if day != CLOSED and day != self.day:
            self.day, self.day_start, self.orders_today = day, self.prev_equity, 0
            self.unsynced = self.unsynced or self.day_halted
            self.day_halted = False

    def _signal_phase(self, t: int) -> None:
        if self.paused:
            self.unsynced = True
        elif not (self.halted or self.day_halted) and (self._rows[t][2] or self.unsynced):
            self._signal(t)

    def _exit_phase(self, t: int) -> None:
        if self.exits_on and not (self.halted or self.day_halted or self.paused):
            self._exit_rules(t)

    def _fill_bar(self, t: int) -> int:
        return t if self.costs.fill_close else t + 1

    def _can_trade(self, t: int, j: int) -> bool:
        """Whether symbol ``j``'s order of time ``t`` can fill: its fill row is here, has a price, is in session."""
        fill = self._rows.get(self._fill_bar(t))
        if fill is None:
            return False
        row = fill[0]
        price = row.closes[j] if self.costs.fill_close else row.opens[j]
        return not np.isnan(price) and not row.closed[j]

    def _signal(self, t: int) -> None:
        """Scale time ``t``'s targets; when one moved, trade it and bring every other holding back to its target
        weight. A symbol that cannot trade now waits; one a risk rule closed stays out until its target changes."""
        moment, effective = self._rows[t][0].moment, self._rows[t][1]
        wanted = self.weight_vector * effective
        new = scale_portfolio_nb(wanted, self.costs.risk)
        self.unsynced = False
        moved = []
        for j in np.flatnonzero(new != self.scaled):
            if not self._can_trade(t, j):
                self.unsynced = True
                continue
            if new[j] != wanted[j]:
                rule = _cut_by(new, j, self.costs.risk)
                self.risk_manager.resized(moment, self.symbols[j], float(wanted[j]), float(new[j]), rule)
            self.scaled[j] = new[j]
            self.stopped.discard(j)
            moved.append(j)
        if not moved:
            return
        drifted = [
            j
            for j in np.flatnonzero(self.scaled != 0.0)
            if j not in moved and j not in self.stopped and self._can_trade(t, j)
        ]
        self.due.setdefault(self._fill_bar(t), []).extend((j, float(self.scaled[j])) for j in [*moved, *drifted])

    def _execute(self, t: int, orders: list[tuple[int, float]]) -> None:
        """Trade each (symbol, weight) at time ``t``'s fill price, reductions first (they free the buys' cash)."""
        if not orders:
            return
        if self.paused:  # switched off or halted since the orders were decided: none goes out
            self.unsynced = True
            return
        row = self._rows[t][0]
        self.simulation.set_time(row.moment)
        prices = row.closes if self.costs.fill_close else row.opens
        marks = np.where(np.isnan(prices), self.last_price, prices)
        index = {s: j for j, s in enumerate(self.symbols)}
        for j, weight in _sells_first(orders, self.holdings, self.symbols, marks):
            symbol, price = self.symbols[j], float(prices[j])
            if not order_allowed_nb(self.orders_today, weight, self.costs.risk):
                self.risk_manager.denied(row.moment, symbol, "max_orders_per_day", {"target": weight})
                continue
            self.simulation.quote(symbol, price)
            held = self.holdings.positions()
            others = sum(q * marks[index[s]] for s, q in held.items() if s != symbol)
            before = held.get(symbol, 0.0)
            order = self.om.target(symbol, weight, price, other_holdings=others)
            if order is None or order.filled_qty <= 0.0:
                continue
            self.orders_today += 1
            after = self.holdings.positions().get(symbol, 0.0)
            if after != 0.0 and (before == 0.0 or (before > 0) != (after > 0)):  # a new trade: the rules' entry
                self.entry[j] = self.extreme[j] = order.avg_fill_price

    def _mark_prices(self, t: int) -> None:
        """Time ``t``'s closes: the last price of each symbol, a simulated broker's marks, the stops' extremes."""
        closes = self._rows[t][0].closes
        self.last_price = np.where(np.isnan(closes), self.last_price, closes)
        held = self.holdings.positions() if self.exits_on else {}
        for j, (symbol, close) in enumerate(zip(self.symbols, closes.tolist(), strict=True)):  # floats: fast
            if math.isnan(close):
                continue
            self.simulation.quote(symbol, close)
            if self.exits_on:
                self.extreme[j] = update_extreme_nb(held.get(symbol, 0.0), self.extreme[j], close)

    def _exit_rules(self, t: int) -> None:
        """The exit rules at time ``t``'s close: the account's (drawdown, daily loss) flatten everything and
        pause, a position's (stops, take-profit) close it; fills at this close or the next open."""
        risk, held, moment = self.costs.risk, self.holdings.positions(), self._rows[t][0].moment
        index = {s: j for j, s in enumerate(self.symbols)}
        equity = self.broker.account().cash + sum(q * self.last_price[index[s]] for s, q in held.items())
        tradable = [j for j in range(len(self.symbols)) if self._can_trade(t, j)]
        if not tradable:
            return
        reason = exit_reason_nb(0.0, np.nan, np.nan, np.nan, equity, self.peak, self.day_start, risk)
        if reason != NO_EXIT:
            self.halted = self.halted or reason == EXIT_MAX_DRAWDOWN
            self.day_halted = reason == EXIT_DAILY_LOSS
            self.unsynced = True
            pending = self.due.pop(self._fill_bar(t), []) if not self.costs.fill_close else []
            exits = sorted({j for j, _ in pending} | {index[s] for s in held})
            flattened = [j for j in exits if self.symbols[j] in held]
            self.stopped.update(exits)
            for j in flattened:
                self._record_exit(t, j, reason, held[self.symbols[j]])
            if not flattened:  # nothing held: the rule still pauses (or halts) the account
                self.risk_manager.exited(moment, ACCOUNT, reason, {"equity": float(equity)})
            self._send_exits(t, [(j, 0.0) for j in exits])
            return
        closes, exits = self._rows[t][0].closes, []
        for j in tradable:
            position = held.get(self.symbols[j], 0.0)
            if position == 0.0 or np.isnan(closes[j]):
                continue
            entry, extreme = self.entry[j], self.extreme[j]
            reason = exit_reason_nb(position, entry, extreme, closes[j], equity, self.peak, self.day_start, risk)
            if reason == NO_EXIT:
                continue
            pending = self.due.get(self._fill_bar(t), []) if not self.costs.fill_close else []
            if any(k == j for k, _ in pending):  # an order already due at that open takes precedence
                continue
            self._record_exit(t, j, reason, position)
            self.stopped.add(j)
            exits.append((j, 0.0))
        self._send_exits(t, exits)

    def _record_exit(self, t: int, j: int, reason: int, position: float) -> None:
        details = {"close": float(self._rows[t][0].closes[j]), "position": float(position)}
        self.risk_manager.exited(self._rows[t][0].moment, self.symbols[j], reason, details)

    def _send_exits(self, t: int, exits: list[tuple[int, float]]) -> None:
        if self.costs.fill_close:
            self._execute(t, exits)
        elif exits:
            self.due.setdefault(t + 1, []).extend(exits)

    def _settle(self, t: int) -> None:
        """Time ``t``'s equity (cash plus holdings at their last prices): the drawdown peak, the next day's start."""
        values = self.positions() * self.last_price
        equity = self.broker.account().cash + float(np.where(np.isnan(values), 0.0, values).sum())  # nansum, faster
        self.peak = equity if not equity <= self.peak else self.peak
        self.prev_equity = equity


def _cut_by(new: np.ndarray, j: int, risk: np.ndarray) -> str:
    """The exposure limit that cut symbol ``j``'s target to ``new[j]``."""
    if not np.isnan(risk[MAX_NET_EXPOSURE]) and abs(new.sum()) == risk[MAX_NET_EXPOSURE]:
        return "max_net_exposure"
    return "max_exposure" if abs(new[j]) == risk[MAX_EXPOSURE] else "max_gross_exposure"


def _sells_first(
    orders: list[tuple[int, float]], holdings: _Holdings, symbols: list[str], marks: np.ndarray
) -> list[tuple[int, float]]:
    """Orders sorted by how much they cut a holding's weight: the reductions free the cash the buys need."""
    held = holdings.positions()
    total = holdings.account().cash + sum(q * marks[symbols.index(s)] for s, q in held.items())

    def weight_change(order: tuple[int, float]) -> float:
        j, weight = order
        return weight - held.get(symbols[j], 0.0) * np.nan_to_num(marks[j]) / total

    return sorted(orders, key=weight_change)
