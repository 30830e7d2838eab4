"""``simulate_weights_nb``: a universe strategy's weights panel run bar by bar through the N-symbol step
(``engine.portfolio``) and the account's risk rules (``engine.portfolio_rules``), reduced to the account's metrics
(and, when recording, its equity, cash, positions, round trips and fills).

Per bar t: the orders due at t's open run first (``fill="next_open"``: bar t - 1's weights and exits); then bar t's
weights are limited by the rules and released once their fill bar is in session (at t's close with ``fill="close"``,
else due at t + 1's open); the account is marked at t's close; the exit rules run on that close (their orders fill
at it, or at the next open); the drawdown peak and the day's start follow the equity.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.engine.fills import is_close_nb
from workbench.engine.metrics import finalize_metrics_nb, mark_bar_nb
from workbench.engine.portfolio import (
    N_TRIP_STATE,
    NAN_PRICE,
    OK,
    OVER_LEVERAGE,
    rebalance_nb,
    trip_pnl_nb,
    write_open_trip_nb,
)
from workbench.engine.portfolio_rules import (
    days_on_nb,
    decide_nb,
    exit_orders_nb,
    halted_nb,
    lift_held_nb,
    mark_extremes_nb,
    new_rule_state_nb,
    roll_day_nb,
    settle_nb,
)
from workbench.engine.risk_rules import exit_rules_active_nb
from workbench.engine.sessions import CLOSED


@njit(cache=True, nogil=True)
def rules_active_nb(risk, days, allowed):
    """Whether any rule can act: a threshold set, a bar outside the trading hours or a symbol not allowed."""
    for i in range(risk.shape[0]):
        if risk[i] == risk[i]:
            return True
    for t in range(days.shape[0]):
        if days[t] == CLOSED:
            return True
    for j in range(allowed.shape[0]):  # noqa: SIM110 - a numba loop
        if not allowed[j]:
            return True
    return False


@njit(cache=True, nogil=True)
def gross_nb(row):
    """Sum of the absolute weights a row gives, and how many it gives."""
    gross = 0.0
    n = 0
    for j in range(row.shape[0]):
        w = row[j]
        if w == w:
            gross += abs(w)
            n += 1
    return gross, n


@njit(cache=True, nogil=True)
def last_prices_nb(prices):
    """Each symbol's last price at every bar (``prices`` carried forward over its NaN cells): what a held position is
    marked at, computed once for every parameter set of a sweep."""
    out = prices.copy()
    for t in range(1, out.shape[0]):
        for j in range(out.shape[1]):
            if out[t, j] != out[t, j]:
                out[t, j] = out[t - 1, j]
    return out


@njit(cache=True, nogil=True)
def _held_nb(positions, held):
    """The symbols held (nonzero positions), in symbol order, into ``held``; returns how many."""
    n = 0
    for j in range(positions.shape[0]):
        if positions[j] != 0.0:
            held[n] = j
            n += 1
    return n


@njit(cache=True, nogil=True)
def _held_value_nb(cash, positions, held, n_held, prices):
    """`portfolio.account_value_nb` over the held symbols only (the same sum, in the same order)."""
    value = cash
    for i in range(n_held):
        j = held[i]
        value += positions[j] * prices[j]
    return value


@njit(cache=True, nogil=True)
def simulate_weights_nb(
    open_,
    close,
    last_closes,
    fill_marks,
    weights,
    days,
    allowed,
    risk,
    start,
    end,
    cash0,
    fees,
    fixed_fee,
    slippage,
    fill_close,
    leverage,
    periods_per_year,
    metrics_out,
    block_out,
    error_out,
    record,
    equity_out,
    cash_out,
    positions_out,
    trips_out,
    fills_out,
    sizing,
):
    """Run ``weights`` over bars [start, end) of 2-D ``open_``/``close`` (bars x symbols, NaN where a symbol has no
    bar) from ``cash0`` and flat, held positions marked at ``last_closes`` and orders valued at ``fill_marks`` (the
    closes, and the fill prices, carried forward: `last_prices_nb`); the account's metrics go to ``metrics_out``
    (``METRIC_NAMES``, trades = round trips) and the block moments of its returns to ``block_out`` (see
    ``simulate.run_nb``).

    ``days[t]``: bar t's session id (``sessions.session_ids``: its UTC day, ``CLOSED`` outside the trading hours);
    ``allowed[j]``: whether symbol j may trade; ``risk``: a ``risk_rules.risk_array`` (all NaN: no rules). A row
    whose weights hold more than ``leverage`` in total (absolute) stops the run with ``OVER_LEVERAGE``, a weight of
    a symbol without a price at its fill bar with ``NAN_PRICE``: ``error_out`` = (code, bar of the weights,
    symbol). With ``record``: equity, cash and positions after each bar's close, the round trips (``TRIP_FIELDS``)
    and the fills (``FILL_FIELDS``). ``sizing``: how orders are sized (``portfolio.TARGET_PERCENT`` for a universe
    strategy's weights, ``portfolio.AFTER_FEES`` for a one-symbol strategy's exposures). Returns (round trips, fills)
    recorded.
    """
    m = close.shape[1]
    cash = cash0
    positions = np.zeros(m)
    held_idx = np.empty(m, dtype=np.int64)  # the symbols held, in symbol order: a bar marks only those
    n_held = 0
    traded = False  # whether orders ran since the held symbols were listed
    trips = np.zeros((m, N_TRIP_STATE))
    stats = np.zeros(5)
    seq = np.empty(m, dtype=np.int64)
    sizes = np.empty(m)
    rules_on = rules_active_nb(risk, days, allowed)
    exits_on = rules_on and exit_rules_active_nb(risk)
    days_on = rules_on and days_on_nb(risk)
    account, symbols = new_rule_state_nb(m, cash0)
    limited = np.empty(m)
    waiting = np.full(m, np.nan)  # weights decided, waiting for a fill bar in session
    held = np.full(m, np.nan)  # weights given while a daily-loss halt lasts
    due = np.full(m, np.nan)  # the weights (and exits) to trade at the current fill: this close or the next open
    n_due = 0
    tradable = np.zeros(m, dtype=np.bool_)
    reasons = np.zeros(m, dtype=np.int64)
    prev_equity = cash0
    peak = np.nan
    max_dd = ret_sum = ret_sq = down_sq = 0.0
    exposed = 0
    equity = cash0
    n_blocks = block_out.shape[0]
    block = 0
    block_sum = block_sq = 0.0
    next_edge = start + (end - start) // n_blocks if n_blocks > 0 else end
    error_out[0] = OK
    for t in range(start, end):
        val_prices = fill_marks[t]
        last_close = last_closes[t]
        if days_on:
            roll_day_nb(account, days[t])
            lift_held_nb(account, held, waiting)
        if not fill_close and n_due > 0:  # bar t - 1's weights and exits, at this open
            n_due = 0
            cash, missing = rebalance_nb(
                t, due, open_[t], val_prices, cash, positions, fees, fixed_fee, slippage, trips, stats, record,
                trips_out, fills_out, seq, sizes, rules_on, risk, account, symbols, sizing,
            )  # fmt: skip
            traded = True
            if missing >= 0:
                error_out[0], error_out[1], error_out[2] = NAN_PRICE, t - 1, missing
                return int(stats[0]), int(stats[4])
        # bar t's weights: checked, limited by the rules, traded once their fill bar is in session
        fill_bar = t if fill_close else t + 1
        gross, given = gross_nb(weights[t])
        if given > 0 and fill_bar < end and gross > leverage and not is_close_nb(gross, leverage):
            error_out[0], error_out[1], error_out[2] = OVER_LEVERAGE, t, -1
            return int(stats[0]), int(stats[4])
        if rules_on:
            fill_open = fill_bar < end and days[fill_bar] != CLOSED
            fill_row = close[t] if fill_close else open_[fill_bar if fill_bar < end else t]
            n_due = decide_nb(
                weights[t], allowed, risk, fill_open, fill_row, account, symbols, limited, waiting, held, due
            )
        elif given > 0 and fill_bar < end:
            for j in range(m):
                due[j] = weights[t, j]
            n_due = given
        if fill_close and n_due > 0:
            n_due = 0
            cash, missing = rebalance_nb(
                t, due, close[t], val_prices, cash, positions, fees, fixed_fee, slippage, trips, stats, record,
                trips_out, fills_out, seq, sizes, rules_on, risk, account, symbols, sizing,
            )  # fmt: skip
            traded = True
            if missing >= 0:
                error_out[0], error_out[1], error_out[2] = NAN_PRICE, t, missing
                return int(stats[0]), int(stats[4])
        # the close: marks, then the exit rules on it
        n_held = _held_nb(positions, held_idx) if traded else n_held
        traded = False
        equity = _held_value_nb(cash, positions, held_idx, n_held, last_close)
        if exits_on and not halted_nb(account):
            mark_extremes_nb(positions, close[t], symbols)
            if n_due == 0:
                due[:] = np.nan
            for j in range(m):
                price = close[t, j] if fill_close else (open_[fill_bar, j] if fill_bar < end else np.nan)
                tradable[j] = allowed[j] and fill_bar < end and days[fill_bar] != CLOSED and price == price
            _, n_due = exit_orders_nb(
                positions, last_close, tradable, equity, risk, account, symbols, reasons, waiting, due
            )
            if fill_close and n_due > 0:
                n_due = 0
                cash, _ = rebalance_nb(
                    t, due, close[t], val_prices, cash, positions, fees, fixed_fee, slippage, trips, stats, record,
                    trips_out, fills_out, seq, sizes, True, risk, account, symbols, sizing,
                )  # fmt: skip
                n_held = _held_nb(positions, held_idx)
                equity = _held_value_nb(cash, positions, held_idx, n_held, last_close)
        if rules_on:
            settle_nb(account, equity)
        ret, ret_sum, ret_sq, down_sq, peak, max_dd = mark_bar_nb(
            prev_equity, equity, ret_sum, ret_sq, down_sq, peak, max_dd
        )
        prev_equity = equity
        if t == next_edge:
            block_out[block, 0] += block_sum
            block_out[block, 1] += block_sq
            block_sum = block_sq = 0.0
            block += 1
            next_edge = start + ((block + 1) * (end - start)) // n_blocks
        block_sum += ret
        block_sq += ret * ret
        if n_held > 0:
            exposed += 1
        if record:
            equity_out[t - start] = equity
            cash_out[t - start] = cash
            positions_out[t - start] = positions
    if n_blocks > 0:
        block_out[block, 0] += block_sum
        block_out[block, 1] += block_sq
    for j in range(m):  # round trips still open: marked at the last close, no exit fee
        if positions[j] != 0.0:
            if record:
                row = trips_out[int(stats[0])]
                pnl = write_open_trip_nb(trips[j], j, abs(positions[j]), last_closes[end - 1, j], row)
            else:
                pnl = trip_pnl_nb(trips[j], abs(positions[j]), last_closes[end - 1, j])
            stats[0] += 1.0
            if pnl > 0.0:
                stats[1] += 1.0
                stats[2] += pnl
            elif pnl < 0.0:
                stats[3] -= pnl
    finalize_metrics_nb(
        metrics_out, end - start, cash0, equity, ret_sum, ret_sq, down_sq, max_dd, exposed,
        stats[0], stats[1], stats[2], stats[3], periods_per_year,
    )  # fmt: skip
    return int(stats[0]), int(stats[4])
