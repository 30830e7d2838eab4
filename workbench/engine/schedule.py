"""The event scheduler of the event-driven backtest: which bar needs an order next, and why.

It walks bars exactly like ``simulate.run_nb`` (same signal, clamp, risk, daily and marking steps, same rule
kernels) but executes nothing: it stops where ``run_nb`` would trade and hands the decision to the Python
side (RiskManager -> OrderManager -> broker), which updates the shared state and resumes it. Between events
it only marks equity for the drawdown rules, so Python runs only where something happens.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.engine.risk_rules import (
    EXIT_DAILY_LOSS,
    EXIT_MAX_DRAWDOWN,
    NO_EXIT,
    clamp_exposure_nb,
    exit_reason_nb,
    exposure_limit_nb,
    order_allowed_nb,
    update_extreme_nb,
)
from workbench.engine.sessions import CLOSED
from workbench.engine.simulate import book_fill_nb, entry_extreme_nb, trade_entry_price_nb

SIGNAL, RISK, MARK = 0, 1, 2  # phases of a bar: the strategy's signal, the risk rules, marking at the close
# Slots of the scheduler state shared with the Python driver: the last target given (SENT), one waiting for a bar
# that can trade (WAITING), the latest given while a daily-loss halt lasts (HELD), the last traded toward and whether
# a rule stopped the position out of it (LAST_WEIGHT, STOPPED), as `simulate.run_nb` keeps them.
(SENT, EXTREME, PEAK, HALTED, DAY, DAY_START, ORDERS_TODAY, DAY_HALTED, LAST_EQUITY, WAITING, HELD, LAST_WEIGHT,
 STOPPED) = range(13)  # fmt: skip


def new_schedule_state(cash: float) -> np.ndarray:
    """The state before the first bar: flat, target 0, no day yet."""
    state = np.zeros(13)
    state[EXTREME] = state[PEAK] = state[WAITING] = state[HELD] = state[LAST_WEIGHT] = np.nan
    state[DAY] = -1.0
    state[DAY_START] = state[LAST_EQUITY] = cash
    return state


@njit(cache=True, nogil=True)
def roll_day_nb(state, day):
    """Start a new day at a bar of ``day`` (a session id; ``CLOSED`` bars never start one): its loss is
    measured from the last close, its orders from 0; the latest target of a halted day waits for its fill."""
    if day != CLOSED and day != state[DAY]:
        state[DAY] = day
        state[DAY_START] = state[LAST_EQUITY]
        state[ORDERS_TODAY] = 0.0
        state[DAY_HALTED] = 0.0
        if not np.isnan(state[HELD]):
            state[WAITING] = state[HELD]
            state[HELD] = np.nan


@njit(cache=True, nogil=True)
def next_event_nb(t, phase, end, exposure, close, session, fill_close, cash, position, entry_price, state, risk):
    """Scan from bar ``t`` (at ``phase``) for the next order, updating ``state``; returns
    ``(bar, phase, target, reason)``.

    ``bar == end`` means no more orders before ``end``; ``session`` may run past ``end`` (a live session
    scans bar t only once bar t + 1 is known, whose session decides whether a next-open order can fill).
    ``reason`` is 0 for a strategy order, else the ``risk_rules.EXIT_*`` code of a risk exit (whose
    ``target`` is 0). With close fills the order is due at ``close[bar]`` and the
    scan resumes at ``(bar, RISK)`` after a signal order or ``(bar, MARK)`` after a risk exit; with
    next-open fills it is due at ``open[bar + 1]`` (call ``roll_day_nb`` for that bar first) and the scan
    resumes at ``(bar + 1, SIGNAL)``.
    """
    while t < end:
        roll_day_nb(state, session[t])
        halted = state[HALTED] != 0.0 or state[DAY_HALTED] != 0.0
        can_trade = session[t] != CLOSED if fill_close else (t + 1 < session.shape[0] and session[t + 1] != CLOSED)
        pending = np.nan
        pending_reason = 0
        if phase == SIGNAL and can_trade and state[HALTED] == 0.0:
            target = exposure[t]
            if not np.isnan(target):
                target = clamp_exposure_nb(min(max(target, -1.0), 1.0), exposure_limit_nb(risk))
                if target != state[SENT]:
                    state[SENT] = target
                    state[HELD if state[DAY_HALTED] != 0.0 else WAITING] = target
            if state[DAY_HALTED] == 0.0 and not np.isnan(state[WAITING]):
                target = state[WAITING]
                state[WAITING] = np.nan
                if not (state[STOPPED] != 0.0 and target == state[LAST_WEIGHT]):  # no re-entry at once after a rule
                    state[STOPPED] = 0.0
                    state[LAST_WEIGHT] = target
                    if fill_close:
                        return t, SIGNAL, target, 0
                    pending = target
        if phase != MARK and not halted:
            state[EXTREME] = update_extreme_nb(position, state[EXTREME], close[t])
            reason = NO_EXIT
            if can_trade:
                reason = exit_reason_nb(
                    position,
                    entry_price,
                    state[EXTREME],
                    close[t],
                    cash + position * close[t],
                    state[PEAK],
                    state[DAY_START],
                    risk,
                )
            if reason != NO_EXIT:
                state[HALTED] = 1.0 if reason == EXIT_MAX_DRAWDOWN or state[HALTED] != 0.0 else 0.0
                state[DAY_HALTED] = 1.0 if reason == EXIT_DAILY_LOSS else state[DAY_HALTED]
                if state[HALTED] != 0.0 or state[DAY_HALTED] != 0.0:  # the account's rule: nothing waits
                    state[WAITING] = np.nan
                    if position != 0.0:
                        state[STOPPED] = 1.0
                elif fill_close or np.isnan(pending):  # a position's rule, unless an order is due at the next open
                    state[STOPPED] = 1.0
                if fill_close:
                    return t, RISK, 0.0, reason
                if state[HALTED] != 0.0 or state[DAY_HALTED] != 0.0 or np.isnan(pending):
                    pending = 0.0
                    pending_reason = reason
        equity = cash + position * close[t]
        if not equity <= state[PEAK]:
            state[PEAK] = equity
        state[LAST_EQUITY] = equity
        if not np.isnan(pending):
            return t, SIGNAL, pending, pending_reason
        t += 1
        phase = SIGNAL
    return end, SIGNAL, 0.0, 0


@njit(cache=True, nogil=True)
def next_order_nb(t, phase, end, exposure, close, session, fill_close, cash, position, trade, state, risk):
    """`next_event_nb` from the entry price of ``trade`` (a trade state), then for the order found: the new day
    of its fill bar rolled (next-open fills) and whether ``max_orders_per_day`` lets it go out. Returns
    ``(bar, phase, target, reason, allowed)``; one dispatch per order for the Python driver."""
    bar, phase, target, reason = next_event_nb(
        t, phase, end, exposure, close, session, fill_close, cash, position, trade_entry_price_nb(trade), state, risk
    )
    if bar >= end:
        return bar, phase, target, reason, False
    if not fill_close:
        roll_day_nb(state, session[bar + 1])
    return bar, phase, target, reason, order_allowed_nb(state[ORDERS_TODAY], target, risk)


@njit(cache=True, nogil=True)
def book_order_nb(trade, bar, position, size, new_position, price, fee, cash_before, trades_out, state):
    """Book an order's fill into ``trade`` (`simulate.book_fill_nb`) and the scheduler ``state``: the
    trailing-stop reference of a newly opened trade (the position went from ``position`` to ``new_position``)
    and the day's order count."""
    book_fill_nb(trade, bar, position, size, price, fee, cash_before, True, trades_out)
    state[EXTREME] = entry_extreme_nb(position, new_position, state[EXTREME], trade)
    state[ORDERS_TODAY] += 1
