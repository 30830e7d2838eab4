"""``TargetDriver``: one symbol's target exposure turned into orders through RiskManager -> OrderManager -> broker.

The scheduler (``engine.schedule.next_order_nb``, the sweep's arithmetic) finds the bars where an order is
due and why; the driver hands each one to the objects that trade live, as a live ``TradingSession`` gets each bar.
``wb.backtest`` of one symbol runs the N-symbol core instead (`trading.universe`), which tests pin to this loop and to
the sweep's (same orders, fills and equity on one symbol).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from workbench.engine.inputs import Costs
from workbench.engine.schedule import (
    DAY,
    DAY_START,
    EXTREME,
    LAST_EQUITY,
    MARK,
    ORDERS_TODAY,
    PEAK,
    RISK,
    SIGNAL,
    book_order_nb,
    new_schedule_state,
    next_order_nb,
)
from workbench.engine.sessions import CLOSED
from workbench.engine.simulate import N_TRADE_FIELDS, book_fill_nb, new_trade_state, trade_stats
from workbench.orders.manager import OrderManager
from workbench.risk.manager import RiskManager
from workbench.trading.rule_resume import AccountRules
from workbench.trading.venue import Venue


class TargetDriver:
    """Scheduler state plus the trade records of one symbol; ``advance`` handles the orders due before a bar.

    The venue's simulation is told each fill's time and price (a simulated venue moves its clock and fills market
    orders there; a real one ignores both).
    """

    def __init__(
        self,
        symbol: str,
        costs: Costs,
        venue: Venue,
        om: OrderManager,
        risk_manager: RiskManager,
        capacity: int = 64,
    ) -> None:
        self.symbol, self.costs, self.broker, self.simulation = symbol, costs, venue.broker, venue.simulation
        self.om, self.risk_manager = om, risk_manager
        self.trade_state = new_trade_state()
        self.trade_records = np.empty((capacity, N_TRADE_FIELDS))
        self.schedule = new_schedule_state(self.broker.account().equity)
        self.t, self.phase = 0, SIGNAL
        self.fill_bars: list[int] = []
        self.cash_after: list[float] = []
        self.position_after: list[float] = []

    def advance(
        self,
        end: int,
        exposure: np.ndarray,
        opens: np.ndarray,
        closes: np.ndarray,
        sessions: np.ndarray,
        stamps: Sequence[datetime],
    ) -> None:
        """Handle every order the scheduler finds in bars before ``end`` (all arrays may run past ``end``:
        with next-open fills, bar ``end - 1``'s order fills at bar ``end``'s open, which must be known)."""
        costs, symbol, schedule = self.costs, self.symbol, self.schedule
        prices = closes if costs.fill_close else opens
        cash_now, position = self._holdings()
        while True:
            bar, phase, target, reason, allowed = next_order_nb(
                self.t,
                self.phase,
                end,
                exposure,
                closes,
                sessions,
                costs.fill_close,
                cash_now,
                position,
                self.trade_state,
                schedule,
                costs.risk,
            )
            if bar >= end:
                self.t, self.phase = end, SIGNAL
                return
            fill_bar = bar if costs.fill_close else bar + 1
            if reason:
                details = {"close": float(closes[bar]), "position": position}
                self.risk_manager.exited(stamps[bar], symbol, int(reason), details)
            elif target != exposure[bar]:
                self.risk_manager.resized(stamps[bar], symbol, float(exposure[bar]), float(target))
            if allowed:
                cash_now, position = self._trade(fill_bar, target, cash_now, position, prices, stamps)
            else:
                self.risk_manager.denied(stamps[fill_bar], symbol, "max_orders_per_day", {"target": float(target)})
            if costs.fill_close:
                self.t, self.phase = bar, (RISK if phase == SIGNAL else MARK)
            else:
                self.t, self.phase = bar + 1, SIGNAL

    def resume_rules(self, rules: AccountRules) -> None:
        """Go on from a recorded run's account rule state: its drawdown peak, last equity and day (`rule_resume`)."""
        self.schedule[PEAK], self.schedule[LAST_EQUITY] = rules.peak, rules.last_equity
        if rules.day != CLOSED:
            self.schedule[DAY], self.schedule[DAY_START] = rules.day, rules.day_start
            self.schedule[ORDERS_TODAY] = rules.orders_today

    def adopt(self, bar: int, position: float, entry_price: float) -> None:
        """Take over a position opened before this driver (a resumed session): its trade, entered at
        ``entry_price``, is open from ``bar`` with the account's current equity, and the stops work from it."""
        if position == 0.0:
            return
        equity = self.broker.account().equity
        book_fill_nb(self.trade_state, bar, 0.0, position, entry_price, 0.0, equity, True, self.trade_records)
        self.schedule[EXTREME] = entry_price

    def _holdings(self) -> tuple[float, float]:
        """The broker's cash and this symbol's position now."""
        return self.broker.account().cash, self.broker.positions().get(self.symbol, 0.0)

    def _trade(
        self, fill_bar: int, target: float, cash_before: float, position: float, prices, stamps
    ) -> tuple[float, float]:
        """Trade to ``target`` at bar ``fill_bar``'s price and book the fill; returns the cash and position after."""
        price = float(prices[fill_bar])
        self.simulation.set_time(stamps[fill_bar])
        self.simulation.quote(self.symbol, price)
        order = self.om.target(self.symbol, target, price)
        if order is None:
            return cash_before, position
        if order.filled_qty <= 0.0:  # refused, or working at a real broker: its state says what changed
            return self._holdings()
        if trade_stats(self.trade_state)[0] + 2 >= len(self.trade_records):  # room for a close and an open
            self.trade_records = np.concatenate([self.trade_records, np.empty_like(self.trade_records)])
        size = order.filled_qty * order.side.sign
        cash_after, new_position = self._holdings()
        book_order_nb(
            self.trade_state,
            fill_bar,
            position,
            size,
            new_position,
            order.avg_fill_price,
            order.fees,
            cash_before,
            self.trade_records,
            self.schedule,
        )
        self.fill_bars.append(fill_bar)
        self.cash_after.append(cash_after)
        self.position_after.append(new_position)
        return cash_after, new_position
