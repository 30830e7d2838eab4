"""The risk rules of an N-symbol account, as the kernels the universe sweep runs bar by bar and the live
``UniverseDriver`` calls as each bar time completes: the same decisions on both paths.

The rules are ``engine.risk_rules``' (the same array, the same scalar kernels), applied per position where they are
about a position and to the whole account where they are about the account:

- A row of weights is first clamped per symbol to ``max_exposure``, then scaled down together until its gross
  (sum of absolute weights) and net (sum) fit ``max_gross_exposure`` and ``max_net_exposure``. The limits apply to
  the weights the row gives (a symbol it leaves NaN keeps its position and is not counted).
- Each order but an exit is cut to ``max_shares`` held and ``max_order_value``; beyond ``max_orders_per_day`` (the
  account's orders of a UTC day) orders are refused, exits never.
- After each close, ``stop_loss``, ``take_profit`` and ``trailing_stop`` close a position measured from the fill
  that opened it (and the best close since); the symbol re-enters only when the weight released for it differs from
  the one it was stopped out of. ``max_drawdown`` (from the account's peak) flattens every position and halts trading
  for the rest of the run; ``daily_loss`` (from the previous day's last equity) flattens and holds weights back for
  the rest of the day (the latest of each symbol waits for the next day). Exits fill at that close, or at the next
  open, where an order already due for a symbol there takes precedence over its position's exit (the account's exits
  replace everything due).
- ``allowed_symbols``: weights of another symbol are dropped. ``trading_hours``: weights whose fill bar is outside
  the hours wait for the first bar inside them (later weights of a symbol replace its waiting one); a weight is
  released when its fill bar is in session, and only then compared with the weight a stopped symbol left.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.engine.risk_rules import (
    DAILY_LOSS,
    EXIT_MAX_DRAWDOWN,
    MAX_EXPOSURE,
    MAX_GROSS_EXPOSURE,
    MAX_NET_EXPOSURE,
    MAX_ORDERS_PER_DAY,
    NO_EXIT,
    clamp_exposure_nb,
    exit_reason_nb,
)
from workbench.engine.sessions import CLOSED

# Slots of the account's rule state (HELD: how many weights a daily-loss halt holds back).
PEAK, DAY, DAY_START, ORDERS_TODAY, HALTED, DAY_HALTED, LAST_EQUITY, HELD = range(8)
N_ACCOUNT = 8
# Columns of each symbol's rule state: the entry fill of its trade, the best close since, the weight it was last
# given (after the rules) and whether a rule stopped it out of that weight.
ENTRY, EXTREME, LAST_WEIGHT, STOPPED = range(4)
N_SYMBOL = 4


@njit(cache=True, nogil=True)
def new_rule_state_nb(n_symbols, cash):
    """The account's and the symbols' rule state before the first bar: no peak, no day, nothing held."""
    account = np.zeros(N_ACCOUNT)
    account[PEAK] = np.nan
    account[DAY] = CLOSED
    account[DAY_START] = cash
    account[LAST_EQUITY] = cash
    symbols = np.zeros((n_symbols, N_SYMBOL))
    symbols[:, ENTRY] = np.nan
    symbols[:, EXTREME] = np.nan
    symbols[:, LAST_WEIGHT] = np.nan
    return account, symbols


@njit(cache=True, nogil=True)
def days_on_nb(risk):
    """Whether a daily rule is on (the account then counts its days)."""
    return not (np.isnan(risk[DAILY_LOSS]) and np.isnan(risk[MAX_ORDERS_PER_DAY]))


@njit(cache=True, nogil=True)
def roll_day_nb(account, day):
    """Start a new day at a bar of ``day`` (a session id; ``CLOSED`` never starts one): its loss is measured from the
    last equity, its orders counted from 0, a day's halt lifted."""
    if day != CLOSED and day != account[DAY]:
        account[DAY] = day
        account[DAY_START] = account[LAST_EQUITY]
        account[ORDERS_TODAY] = 0.0
        account[DAY_HALTED] = 0.0


@njit(cache=True, nogil=True)
def halted_nb(account):
    """Whether the account takes no weights now (a drawdown halt, or a daily-loss halt for the rest of the day)."""
    return account[HALTED] != 0.0 or account[DAY_HALTED] != 0.0


@njit(cache=True, nogil=True)
def limit_weights_nb(raw, allowed, risk, out):
    """``raw`` within the exposure limits into ``out``: a disallowed symbol's weight dropped (NaN), each clamped to
    ``max_exposure``, then all scaled together into ``max_gross_exposure`` and ``max_net_exposure``. Returns how many
    weights the row gives."""
    gross = 0.0
    net = 0.0
    n = 0
    for j in range(raw.shape[0]):
        w = raw[j]
        if w != w or not allowed[j]:
            out[j] = np.nan
            continue
        w = clamp_exposure_nb(w, risk[MAX_EXPOSURE])
        out[j] = w
        gross += abs(w)
        net += w
        n += 1
    scale = 1.0
    if gross > risk[MAX_GROSS_EXPOSURE]:
        scale = risk[MAX_GROSS_EXPOSURE] / gross
    if abs(net * scale) > risk[MAX_NET_EXPOSURE]:
        scale = risk[MAX_NET_EXPOSURE] / abs(net)
    if scale != 1.0:
        for j in range(raw.shape[0]):
            out[j] *= scale
    return n


@njit(cache=True, nogil=True)
def reentry_nb(weights, symbols):
    """Drop the weights of symbols a rule stopped out while they repeat the weight they were stopped from; record
    every other weight as its symbol's last. Returns how many weights are left."""
    n = 0
    for j in range(weights.shape[0]):
        w = weights[j]
        if w != w:
            continue
        if symbols[j, STOPPED] != 0.0 and w == symbols[j, LAST_WEIGHT]:
            weights[j] = np.nan
            continue
        symbols[j, STOPPED] = 0.0
        symbols[j, LAST_WEIGHT] = w
        n += 1
    return n


@njit(cache=True, nogil=True)
def opened_nb(symbols, j, before, after, price):
    """After symbol ``j``'s fill at ``price`` moved its position from ``before`` to ``after``: a newly opened trade
    (from flat, or reversed) is measured by the stops from that fill."""
    if after != 0.0 and (before == 0.0 or (before > 0.0) != (after > 0.0)):
        symbols[j, ENTRY] = price
        symbols[j, EXTREME] = price


@njit(cache=True, nogil=True)
def mark_extremes_nb(positions, closes, symbols):
    """The best close since entry of every held position after a bar's closes (NaN: the symbol has no bar)."""
    for j in range(positions.shape[0]):
        position, price = positions[j], closes[j]
        if position == 0.0 or price != price:
            continue
        if position > 0.0:
            symbols[j, EXTREME] = max(symbols[j, EXTREME], price)
        else:
            symbols[j, EXTREME] = min(symbols[j, EXTREME], price)


@njit(cache=True, nogil=True)
def exit_scan_nb(positions, last_close, tradable, equity, due, risk, account, symbols, reasons):
    """The exit rules after a close: ``reasons[j]`` the rule (``EXIT_*``) closing symbol ``j``'s position, else
    ``NO_EXIT``. ``tradable[j]``: its exit can fill (at this close or the next open); ``due[j]``: a weight already due
    there (it takes precedence over a position's exit). Returns the account's rule when one flattens everything (then
    every held symbol's reason is it, whatever is due, and the account halts), else ``NO_EXIT``."""
    m = positions.shape[0]
    for j in range(m):
        reasons[j] = NO_EXIT
    can_exit = False
    for j in range(m):
        can_exit = can_exit or tradable[j]
    if not can_exit:
        return NO_EXIT
    account_reason = exit_reason_nb(0.0, np.nan, np.nan, np.nan, equity, account[PEAK], account[DAY_START], risk)
    if account_reason != NO_EXIT:
        if account_reason == EXIT_MAX_DRAWDOWN:
            account[HALTED] = 1.0
        else:
            account[DAY_HALTED] = 1.0
        for j in range(m):
            if positions[j] != 0.0:
                reasons[j] = account_reason
                symbols[j, STOPPED] = 1.0
        return account_reason
    for j in range(m):
        position = positions[j]
        if position == 0.0 or not tradable[j] or due[j] == due[j]:
            continue
        reason = exit_reason_nb(
            position, symbols[j, ENTRY], symbols[j, EXTREME], last_close[j], equity, account[PEAK],
            account[DAY_START], risk,
        )  # fmt: skip
        if reason != NO_EXIT:  # a position's rule: the account's were not met
            reasons[j] = reason
            symbols[j, STOPPED] = 1.0
    return NO_EXIT


@njit(cache=True, nogil=True)
def settle_nb(account, equity):
    """A bar's equity after its close: the drawdown's peak and the next day's start."""
    if not equity <= account[PEAK]:
        account[PEAK] = equity
    account[LAST_EQUITY] = equity


@njit(cache=True, nogil=True)
def lift_held_nb(account, held, waiting):
    """Once no halt lasts, the weights a daily-loss halt held back wait for their fill like new ones."""
    if account[HELD] == 0.0 or halted_nb(account):
        return
    account[HELD] = 0.0
    for j in range(held.shape[0]):
        if held[j] == held[j]:
            waiting[j] = held[j]
            held[j] = np.nan


@njit(cache=True, nogil=True)
def decide_nb(raw, allowed, risk, fill_open, fill_prices, account, symbols, limited, waiting, held, out):
    """A bar's weights ``raw`` (NaN: none for that symbol) under the rules: limited (`limit_weights_nb`, into
    ``limited``; all NaN when the row gives none or the account is halted for good), then waiting for their fill (held
    back instead while a daily-loss halt lasts). When the fill bar is in session (``fill_open``) the waiting weights
    are released into ``out`` past the re-entry rule (`reentry_nb`); one waiting from an earlier bar (a fill bar out
    of session, a daily halt, an exit that could not fill) goes on waiting while its symbol has no price there
    (``fill_prices``). Returns how many were released."""
    given = False
    hold = account[DAY_HALTED] != 0.0
    for j in range(raw.shape[0]):
        limited[j] = np.nan
        given = given or raw[j] == raw[j]
    if given and account[HALTED] == 0.0:
        limit_weights_nb(raw, allowed, risk, limited)
        for j in range(raw.shape[0]):
            if limited[j] == limited[j]:
                if hold:
                    held[j] = limited[j]
                    account[HELD] = 1.0
                else:
                    waiting[j] = limited[j]
    if not fill_open:
        return 0
    released = 0
    for j in range(waiting.shape[0]):
        out[j] = np.nan
        carried = hold or limited[j] != limited[j]  # not this bar's weight
        if waiting[j] != waiting[j] or (carried and fill_prices[j] != fill_prices[j]):
            continue
        out[j] = waiting[j]
        waiting[j] = np.nan
        released += 1
    if released == 0:
        return 0
    return reentry_nb(out, symbols)


@njit(cache=True, nogil=True)
def exit_orders_nb(positions, last_close, tradable, equity, risk, account, symbols, reasons, waiting, due):
    """The exit rules after a close (`exit_scan_nb`) as orders: each exiting symbol's weight in ``due`` (the orders
    of this close, or those due at the next open) set to 0; the account's rule also drops every other weight due or
    waiting, and the exit of a symbol that cannot trade there waits for its fill (weight 0 waiting). Returns the
    account's rule (``NO_EXIT`` when none) and how many weights are due now."""
    rule = exit_scan_nb(positions, last_close, tradable, equity, due, risk, account, symbols, reasons)
    n = 0
    for j in range(positions.shape[0]):
        if rule != NO_EXIT:
            waiting[j] = np.nan
            due[j] = np.nan
        if reasons[j] != NO_EXIT:
            if tradable[j]:
                due[j] = 0.0
            else:  # the account's rule closes a symbol that cannot trade there: its exit waits for its fill
                waiting[j] = 0.0
        if due[j] == due[j]:
            n += 1
    return rule, n
