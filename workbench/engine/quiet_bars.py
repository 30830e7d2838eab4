"""``quiet_bars_nb``: the bars of an event-driven N-symbol run where nothing can trade, advanced in one compiled
loop, so that Python (``trading.universe.run_weights``: OrderManager, RiskManager, broker) runs only at the bars
where something happens - weights to decide, or an exit rule that fires.

A quiet bar does exactly what the `UniverseDriver` does at a bar without orders, on the same state arrays and with
the same kernels: the fill prices the orders are valued at, the day of the daily rules, the last closes, the stops'
extremes, the drawdown's peak and the day's start; and the account's equity at its close. A bar is not quiet when
the row to decide there gives a weight, when a weight waits for its fill or is held back by a daily halt, or when
an exit rule would close something at the close looked at (whether or not its order could fill there: the driver
decides that). With next-open fills the row decided at bar u is row u - 1 (its orders fill at u's open), as in the
driver.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.engine.portfolio import account_value_nb
from workbench.engine.portfolio_rules import (
    DAY,
    DAY_HALTED,
    DAY_START,
    ENTRY,
    EXTREME,
    HALTED,
    LAST_EQUITY,
    PEAK,
    lift_held_nb,
    mark_extremes_nb,
    roll_day_nb,
    settle_nb,
)
from workbench.engine.risk_rules import NO_EXIT, exit_reason_nb, update_extreme_nb
from workbench.engine.sessions import CLOSED


@njit(cache=True, nogil=True)
def _gives_nb(row, waiting, held):
    """Whether a row gives a weight, or one waits for its fill or is held back."""
    for j in range(row.shape[0]):  # noqa: SIM110 - a numba loop
        if row[j] == row[j] or waiting[j] == waiting[j] or held[j] == held[j]:
            return True
    return False


@njit(cache=True, nogil=True)
def _exit_fires_nb(closes, positions, last_close, equity, day_start, risk, account, symbols):
    """Whether an exit rule closes something after ``closes`` (the stops' extremes taken to them, not stored)."""
    if exit_reason_nb(0.0, np.nan, np.nan, np.nan, equity, account[PEAK], day_start, risk) != NO_EXIT:
        return True
    for j in range(positions.shape[0]):
        position = positions[j]
        if position == 0.0:
            continue
        extreme = symbols[j, EXTREME]
        if closes[j] == closes[j]:
            extreme = update_extreme_nb(position, extreme, closes[j])
        reason = exit_reason_nb(
            position, symbols[j, ENTRY], extreme, last_close[j], equity, account[PEAK], day_start, risk
        )
        if reason != NO_EXIT:
            return True
    return False


@njit(cache=True, nogil=True)
def quiet_bars_nb(
    t, end, open_, close, rows, days, risk, fill_close, rules_on, exits_on, days_on, cash, positions, val_prices,
    last_close, account, symbols, waiting, held, equity_out,
):  # fmt: skip
    """Advance bars ``t``, ``t + 1``, ... while they are quiet (see the module docstring), the account holding
    ``cash`` and ``positions``; each one's equity at its close into ``equity_out``. Returns the first bar that is not
    quiet (``end`` when all were). With next-open fills ``t`` >= 1 and row ``t - 1`` is still to be decided."""
    m = positions.shape[0]
    marked = np.empty(m)  # the last closes after bar u's, before they are stored
    for u in range(t, end):
        if fill_close:
            if _gives_nb(rows[u], waiting, held):
                return u
            new_day = days_on and days[u] != CLOSED and days[u] != account[DAY]
            day_start = account[LAST_EQUITY] if new_day else account[DAY_START]
            halted = account[HALTED] != 0.0 or (account[DAY_HALTED] != 0.0 and not new_day)
            for j in range(m):
                marked[j] = close[u, j] if close[u, j] == close[u, j] else last_close[j]
            equity = account_value_nb(cash, positions, marked)
            fires = exits_on and not halted
            if fires and _exit_fires_nb(close[u], positions, marked, equity, day_start, risk, account, symbols):
                return u
            for j in range(m):
                if close[u, j] == close[u, j]:
                    val_prices[j] = close[u, j]
                    last_close[j] = close[u, j]
            if days_on:
                roll_day_nb(account, days[u])
                lift_held_nb(account, held, waiting)
            if exits_on and not halted:
                mark_extremes_nb(positions, close[u], symbols)
            if rules_on:
                settle_nb(account, equity)
            equity_out[u] = equity
            continue
        # next-open fills: row u - 1 is decided at this bar's start, then this bar's open and close
        if _gives_nb(rows[u - 1], waiting, held):
            return u
        equity = account_value_nb(cash, positions, last_close)
        halted = account[HALTED] != 0.0 or account[DAY_HALTED] != 0.0
        if exits_on and not halted:
            if _exit_fires_nb(close[u - 1], positions, last_close, equity, account[DAY_START], risk, account, symbols):
                return u
            mark_extremes_nb(positions, close[u - 1], symbols)
        if rules_on:
            settle_nb(account, equity)
        for j in range(m):
            if open_[u, j] == open_[u, j]:
                val_prices[j] = open_[u, j]
        if days_on:
            roll_day_nb(account, days[u])
            lift_held_nb(account, held, waiting)
        for j in range(m):
            if close[u, j] == close[u, j]:
                last_close[j] = close[u, j]
        equity_out[u] = account_value_nb(cash, positions, last_close)
    return end
