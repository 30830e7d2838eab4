"""The bar-by-bar simulation of a target-exposure series: fills, cash/position ledger, trades and metrics.

Semantics (pinned by tests and identical in every path):
- ``exposure[t]`` is the target fraction of equity held after bar t's signal, in [-1, 1]; NaN keeps the
  previous target. An order is sent only when the target changes, never to re-balance price drift.
- ``fill_close=True`` fills at ``close[t]``; otherwise the order fills at ``open[t + 1]`` (a signal on the
  window's last bar never fills).
- Fees are a fraction of traded value, slippage a fraction of price against the trade.
- Equity is marked at each bar's close; an open position at the end is marked at the last close, no exit fee.
- Session rules: at a bar outside the trading hours, or of a symbol not allowed, no order fills; the signal
  and the exit rules wait for the first bar whose order can fill (equity is still marked).
- Daily rules: ``daily_loss`` flattens once equity falls that far below the previous day's last close and
  trades no signal for the rest of the day: the latest target given meanwhile waits for the next day's first bar
  that can trade, as the N-symbol core holds it (`engine.portfolio_rules`); ``max_orders_per_day`` denies
  further orders that day (orders to go flat always pass). Days are UTC calendar days of the bar timestamps.
- Risk rules (``engine.risk_rules``; NaN = off): the target is clamped to ``max_exposure`` and each order
  (but an exit) cut to ``max_shares`` held and ``max_order_value``; after each close,
  stop-loss / take-profit / trailing-stop (against the entry fill and the best close since) exit the
  position like a signal would (at that close, or the next open), and the strategy re-enters only at a target
  other than the one it was closed out of (so does a position the account's rules closed); breaching
  ``max_drawdown`` flattens and halts trading for the rest of the run. With
  next-open fills a risk exit yields to an order already pending for that open.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.engine.fills import (
    MIN_ORDER_SIZE,
    cash_after_fill_nb,
    fee_nb,
    fill_price_nb,
    is_less_nb,
    snap_zero_nb,
    target_size_nb,
)
from workbench.engine.metrics import finalize_metrics_nb, mark_bar_nb
from workbench.engine.risk_rules import (
    DAILY_LOSS,
    EXIT_DAILY_LOSS,
    EXIT_MAX_DRAWDOWN,
    MAX_ORDERS_PER_DAY,
    NO_EXIT,
    cap_order_size_nb,
    clamp_exposure_nb,
    exit_reason_nb,
    exit_rules_active_nb,
    exposure_limit_nb,
    order_allowed_nb,
    update_extreme_nb,
)
from workbench.engine.sessions import CLOSED

# Columns of the trade records written when recording.
TRADE_FIELDS = (
    "entry_bar",
    "exit_bar",
    "direction",
    "size",
    "entry_price",
    "exit_price",
    "fees",
    "pnl",
    "return",
)
N_TRADE_FIELDS = len(TRADE_FIELDS)
# Slots of the per-run trade state (kept in a small array so helpers can update it).
(
    _T_START_EQUITY,
    _T_ENTRY_BAR,
    _T_ENTRY_PRICE,
    _T_SIZE,
    _T_FEES,
    _T_COUNT,
    _T_WINS,
    _T_GROSS_WIN,
    _T_GROSS_LOSS,
) = range(9)
_N_STATE = 9


@njit(cache=True, nogil=True, inline="always")
def _close_trade_nb(state, bar, exit_price, pnl, record, trades_out):
    """Book the open trade as closed (or marked, when ``bar`` < 0) with ``pnl`` into the stats and records; a P&L
    that is rounding noise against the trade's value is 0 (neither a win nor a loss), as the N-symbol core counts it."""
    pnl = snap_zero_nb(pnl, state[_T_SIZE] * state[_T_ENTRY_PRICE])
    k = int(state[_T_COUNT])
    if pnl > 0:
        state[_T_WINS] += 1
        state[_T_GROSS_WIN] += pnl
    elif pnl < 0:
        state[_T_GROSS_LOSS] -= pnl
    if record:
        size = state[_T_SIZE]
        trades_out[k, 0] = state[_T_ENTRY_BAR]
        trades_out[k, 1] = bar
        trades_out[k, 2] = 1.0 if size > 0 else -1.0
        trades_out[k, 3] = abs(size)
        trades_out[k, 4] = state[_T_ENTRY_PRICE]
        trades_out[k, 5] = exit_price
        trades_out[k, 6] = state[_T_FEES]
        trades_out[k, 7] = pnl
        trades_out[k, 8] = pnl / (abs(size) * state[_T_ENTRY_PRICE])
    state[_T_COUNT] = k + 1


@njit(cache=True, nogil=True, inline="always")
def _open_trade_nb(state, bar, size, price, start_equity, fee):
    state[_T_START_EQUITY] = start_equity
    state[_T_ENTRY_BAR] = bar
    state[_T_ENTRY_PRICE] = price
    state[_T_SIZE] = size
    state[_T_FEES] = fee


@njit(cache=True, nogil=True, inline="always")
def book_fill_nb(state, bar, position, size, fill, fee, cash_before, record, trades_out):
    """Book a fill of ``size`` units at ``fill`` into the trade state: open, scale, close or reverse a trade.

    A trade runs from a flat (or reversed) position to the next flat or reversal; its P&L is the change of
    equity over its life, with a reversal's fee split pro rata between the closing and the opening part.
    """
    equity_before = cash_before + position * fill
    new_position = position + size
    closes = position != 0.0 and (new_position == 0.0 or (new_position > 0) != (position > 0))
    if closes:
        close_fee = fee * min(abs(position) / abs(size), 1.0)
        state[_T_FEES] += close_fee
        end_equity = equity_before - close_fee
        _close_trade_nb(state, bar, fill, end_equity - state[_T_START_EQUITY], record, trades_out)
        if new_position != 0.0:
            _open_trade_nb(state, bar, new_position, fill, end_equity, fee - close_fee)
    elif position == 0.0:
        _open_trade_nb(state, bar, new_position, fill, equity_before, fee)
    else:
        state[_T_FEES] += fee
        state[_T_SIZE] = new_position


@njit(cache=True, nogil=True, inline="always")
def close_open_trade_nb(state, position, last_close, equity, record, trades_out):
    """Mark a trade still open at the end to the last close (no exit fee), like vectorbt's open trades."""
    if position != 0.0:
        _close_trade_nb(state, -1, last_close, equity - state[_T_START_EQUITY], record, trades_out)


@njit(cache=True, nogil=True, inline="always")
def _execute_nb(state, bar, price, target, cash, position, fees, fixed_fee, slippage, risk, record, trades_out):
    """Move ``position`` toward ``target`` exposure at ``price`` within the size caps; book the fill.

    Returns (cash, position). An exit (target 0) is never capped: closing is always allowed.
    """
    size = target_size_nb(cash, position, price, target, fees, fixed_fee, slippage)
    if target != 0.0:
        size = cap_order_size_nb(size, position, price, risk)
    if size == 0.0 or is_less_nb(abs(size), MIN_ORDER_SIZE):
        return cash, position
    fill = fill_price_nb(price, size, slippage)
    fee = fee_nb(size, fill, fees, fixed_fee)
    book_fill_nb(state, bar, position, size, fill, fee, cash, record, trades_out)
    return cash_after_fill_nb(cash, size, fill, fee), position + size


@njit(cache=True, nogil=True)
def _order_nb(
    state,
    bar,
    price,
    target,
    cash,
    position,
    extreme,
    orders_today,
    fees,
    fixed_fee,
    slippage,
    risk,
    record,
    trades_out,
):
    """One order of the run: refused once ``max_orders_per_day`` is used up (exits never are), else executed
    and counted; a newly opened trade resets the trailing reference. Returns (cash, position, extreme, count).
    """
    if not order_allowed_nb(orders_today, target, risk):
        return cash, position, extreme, orders_today
    new_cash, new_position = _execute_nb(
        state, bar, price, target, cash, position, fees, fixed_fee, slippage, risk, record, trades_out
    )
    traded = 1 if new_position != position else 0
    return new_cash, new_position, entry_extreme_nb(position, new_position, extreme, state), orders_today + traded


@njit(cache=True, nogil=True, inline="always")
def entry_extreme_nb(before, after, extreme, state):
    """The trailing-stop reference after a fill: the entry price when a new trade opened, else unchanged."""
    if after != 0.0 and (before == 0.0 or (before > 0) != (after > 0)):
        return state[_T_ENTRY_PRICE]
    return extreme


@njit(cache=True, nogil=True)
def run_nb(
    open_,
    close,
    exposure,
    session,
    start,
    end,
    cash0,
    fees,
    fixed_fee,
    slippage,
    fill_close,
    periods_per_year,
    risk,
    metrics_out,
    block_out,
    record,
    equity_out,
    position_out,
    trades_out,
):
    """Simulate ``exposure`` over bars [start, end), starting flat with ``cash0``; write metrics to ``metrics_out``.

    ``session`` holds each bar's session id (``sessions.session_ids``): its day for the daily rules, or
    ``CLOSED`` where no order may fill (outside trading hours, a symbol not allowed); ``risk`` is a
    ``risk_rules.risk_array`` (all NaN: no rules).

    ``block_out`` (shape ``(S, 2)``, zeroed by the caller, S may be 0) receives the sum and the sum of squares
    of the per-bar returns in S equal consecutive blocks of the window: mergeable moments that let
    combinatorially symmetric cross-validation run without storing returns. With ``record`` the equity and
    position after each bar go to ``equity_out``/``position_out`` (length of the window) and trades to
    ``trades_out`` (rows of ``TRADE_FIELDS``). Returns the number of trades.
    """
    state = np.zeros(_N_STATE)
    cash = cash0
    position = 0.0
    sent = 0.0  # the last target the strategy gave (a new one differs from it)
    waiting = np.nan  # a target to trade at the next bar that can (one held back by a daily-loss halt)
    held = np.nan  # the latest target given while the day is halted
    last_weight = np.nan  # the last target traded toward, and whether a rule stopped the position out of it
    stopped = False
    pending = np.nan
    prev_equity = cash0
    peak = np.nan
    max_dd = 0.0
    ret_sum = 0.0
    ret_sq = 0.0
    down_sq = 0.0
    exposed = np.int64(0)
    equity = cash0
    n_blocks = block_out.shape[0]
    block = 0
    block_sum = 0.0
    block_sq = 0.0
    next_edge = start + (end - start) // n_blocks if n_blocks > 0 else end
    halted = False
    extreme = np.nan
    current_day = -1
    day_start = cash0
    orders_today = np.int64(0)
    day_halted = False
    limit = exposure_limit_nb(risk)
    exits_on = exit_rules_active_nb(risk)  # without exit rules the per-bar risk step is skipped (hot loop)
    days_on = not (np.isnan(risk[DAILY_LOSS]) and np.isnan(risk[MAX_ORDERS_PER_DAY]))
    for t in range(start, end):
        if days_on and session[t] != CLOSED and session[t] != current_day:
            current_day = session[t]
            day_start = prev_equity
            orders_today = np.int64(0)
            day_halted = False
            if not np.isnan(held):  # the latest target of the halted day waits for its fill like a new one
                waiting = held
                held = np.nan
        # An order of bar t fills at its close or the next open: the strategy and the rules act only when
        # that bar is in session.
        can_trade = session[t] != CLOSED if fill_close else (t + 1 < end and session[t + 1] != CLOSED)
        if not np.isnan(pending):
            cash, position, extreme, orders_today = _order_nb(
                state,
                t,
                open_[t],
                pending,
                cash,
                position,
                extreme,
                orders_today,
                fees,
                fixed_fee,
                slippage,
                risk,
                record,
                trades_out,
            )
            pending = np.nan
        target = exposure[t]
        if can_trade and not halted and not np.isnan(target):
            target = clamp_exposure_nb(min(max(target, -1.0), 1.0), limit)
            if target != sent:
                sent = target
                if day_halted:
                    held = target
                else:
                    waiting = target
        if can_trade and not halted and not day_halted and not np.isnan(waiting):
            target = waiting
            waiting = np.nan
            if not (stopped and target == last_weight):  # a position a rule closed is not re-entered at once
                stopped = False
                last_weight = target
                if fill_close:
                    cash, position, extreme, orders_today = _order_nb(
                        state,
                        t,
                        close[t],
                        target,
                        cash,
                        position,
                        extreme,
                        orders_today,
                        fees,
                        fixed_fee,
                        slippage,
                        risk,
                        record,
                        trades_out,
                    )
                else:
                    pending = target
        if exits_on and not halted and not day_halted:
            extreme = update_extreme_nb(position, extreme, close[t])
            reason = NO_EXIT
            if can_trade:
                equity = cash + position * close[t]
                entry = state[_T_ENTRY_PRICE]
                reason = exit_reason_nb(position, entry, extreme, close[t], equity, peak, day_start, risk)
            if reason != NO_EXIT:
                halted = reason == EXIT_MAX_DRAWDOWN
                day_halted = reason == EXIT_DAILY_LOSS
                if halted or day_halted:  # the account's rule: everything waiting is dropped
                    waiting = np.nan
                    stopped = stopped or position != 0.0
                elif fill_close or np.isnan(pending):  # a position's rule, unless an order is due at the next open
                    stopped = True
                if fill_close:
                    cash, position, extreme, orders_today = _order_nb(
                        state,
                        t,
                        close[t],
                        0.0,
                        cash,
                        position,
                        extreme,
                        orders_today,
                        fees,
                        fixed_fee,
                        slippage,
                        risk,
                        record,
                        trades_out,
                    )
                elif halted or day_halted or np.isnan(pending):
                    pending = 0.0
        equity = cash + position * close[t]
        ret, ret_sum, ret_sq, down_sq, peak, max_dd = mark_bar_nb(
            prev_equity, equity, ret_sum, ret_sq, down_sq, peak, max_dd
        )
        prev_equity = equity
        if t == next_edge:  # never true without blocks
            block_out[block, 0] += block_sum
            block_out[block, 1] += block_sq
            block_sum = 0.0
            block_sq = 0.0
            block += 1
            next_edge = start + ((block + 1) * (end - start)) // n_blocks
        block_sum += ret
        block_sq += ret * ret
        if position != 0.0:
            exposed += 1
        if record:
            equity_out[t - start] = equity
            position_out[t - start] = position
    if n_blocks > 0:
        block_out[block, 0] += block_sum
        block_out[block, 1] += block_sq
    close_open_trade_nb(state, position, close[end - 1], equity, record, trades_out)
    finalize_metrics_nb(
        metrics_out,
        end - start,
        cash0,
        equity,
        ret_sum,
        ret_sq,
        down_sq,
        max_dd,
        exposed,
        state[_T_COUNT],
        state[_T_WINS],
        state[_T_GROSS_WIN],
        state[_T_GROSS_LOSS],
        periods_per_year,
    )
    return int(state[_T_COUNT])
