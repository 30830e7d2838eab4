"""The N-symbol step: one bar time's target weights -> orders (sells first) -> fills, fees, cash and positions, with
per-symbol round trips (``engine.weights_kernel`` runs a whole weights panel through it; ``engine.portfolio_rules``
holds the risk rules around it).

Semantics (pinned against vectorbt's ``Portfolio.from_orders(..., size_type="targetpercent", group_by=True,
cash_sharing=True, call_seq="auto")`` by tests):

- ``weights[t, j]`` is the fraction of the account's value to hold in symbol j after bar t; NaN: no order for j.
- The account's value for sizing is the cash plus every holding at its valuation price: the price the orders of
  that bar fill at (the close with ``fill_close``, else the next bar's open), or the last such price where a
  symbol has none. Every order of a bar is sized from that one value: ``weight x value / price - position``.
- Sizing (``sizing``): ``TARGET_PERCENT`` (a universe strategy's weights) sizes every order of a bar from that one
  value, as above. ``AFTER_FEES`` (a one-symbol strategy's exposure, alone or at fixed weights over several symbols)
  sizes each order when it runs, from the cash left by the orders before it plus the other holdings, so that the
  position is ``weight x`` the account's value after the order's fees (``fills.target_size_nb``, the one-symbol
  kernel's sizing, pinned to vectorbt's ``from_signals``): on one symbol the step is then the one-symbol kernel.
- A bar's orders run in the order of their value, the most negative first (sells free cash for the buys; ties
  and equal values keep the symbols' order). A buy that cash cannot cover, fees included, is cut to what it
  covers; sells (and short sales) are not limited. Orders smaller than ``MIN_ORDER_SIZE`` units are dropped.
- Fees are a fraction of traded value plus ``fixed_fee`` per order; slippage moves the fill price against the
  trade. Equity is marked at each bar's close (the last close where a symbol has none).
- A round trip of a symbol runs from flat to flat (a reversal closes one and opens the next, its fee split pro
  rata); its P&L is the cash it returned, fees included; one still open at the end is marked at the last close.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.engine.fills import MIN_ORDER_SIZE, is_close_nb, is_less_nb, snap_zero_nb, target_size_nb
from workbench.engine.portfolio_rules import ORDERS_TODAY, opened_nb
from workbench.engine.risk_rules import cap_order_size_nb, order_allowed_nb

# Errors a run reports (with the bar and symbol) instead of a wrong number.
OK, NAN_PRICE, OVER_LEVERAGE, BAD_SHAPE = 0, 1, 2, 3  # BAD_SHAPE: weights of another shape than the panel
# How an order is sized (see the module docstring).
TARGET_PERCENT, AFTER_FEES = 0, 1
# Fields of a symbol's round-trip state (one row per symbol).
_ENTRY_BAR, _DIRECTION, _ENTERED, _ENTRY_VALUE, _EXITED, _EXIT_VALUE, _FEES = range(7)
N_TRIP_STATE = 7
#: Columns of the recorded round trips.
TRIP_FIELDS = ("symbol", "entry_bar", "exit_bar", "direction", "size", "entry_price", "exit_price", "fees", "pnl")
N_TRIP_FIELDS = len(TRIP_FIELDS)
# Fields of a recorded fill.
FILL_FIELDS = ("bar", "symbol", "size", "price", "fee")
N_FILL_FIELDS = len(FILL_FIELDS)


@njit(cache=True, nogil=True)
def snapped_sum_nb(a, b):
    """``a + b``, or 0.0 when the two cancel to rounding noise (a position or cash sold down to nothing)."""
    if (a > 0.0) != (b > 0.0) and is_close_nb(abs(a), abs(b)):
        return 0.0
    total = a + b
    return 0.0 if is_close_nb(total, 0.0) else total


@njit(cache=True, nogil=True)
def account_value_nb(cash, positions, prices):
    """Cash plus every holding at ``prices`` (summed in symbol order, so every path gets the same float)."""
    value = cash
    for j in range(positions.shape[0]):
        if positions[j] != 0.0:
            value += positions[j] * prices[j]
    return value


@njit(cache=True, nogil=True)
def order_sequence_nb(weights, positions, val_prices, value, seq, keys):
    """The symbols with a weight that asks for a trade, in the order their orders run: by order value (``weight x
    value - position x valuation price``), the most negative (the largest sell) first, ties in symbol order; into
    ``seq`` (``keys``: scratch of the same length). Returns how many there are."""
    n = 0
    for j in range(weights.shape[0]):
        if np.isnan(weights[j]) or (weights[j] == 0.0 and positions[j] == 0.0):  # no order, or nothing to do
            continue
        key = weights[j] * value - positions[j] * val_prices[j]
        i = n - 1
        while i >= 0 and keys[i] > key:  # insertion sort: stable, and a bar has few orders
            keys[i + 1] = keys[i]
            seq[i + 1] = seq[i]
            i -= 1
        keys[i + 1] = key
        seq[i + 1] = j
        n += 1
    return n


@njit(cache=True, nogil=True)
def fill_order_nb(cash, position, size, price, fees, fixed_fee, slippage, covers_pass):
    """Fill an order of ``size`` units (> 0 buy, < 0 sell) at ``price`` before slippage against ``cash``: a buy is
    cut to what the cash covers, fees included, except with ``covers_pass`` a buy from a short position (the
    one-symbol kernel's rule: a broker lets a short be covered, `engine.fills.affordable_size_nb`). Returns (units
    filled, fill price, fee, cash after, position after); nothing filled (0 units) when the order is below
    ``MIN_ORDER_SIZE`` or cash cannot pay its fees."""
    if size > 0.0:
        fill = price * (1.0 + slippage)
        cost = size * fill
        fee = cost * fees + fixed_fee
        if not (is_close_nb(cost + fee, cash) or cost + fee < cash or (covers_pass and position < 0.0)):
            budget = (cash - fixed_fee) / (1.0 + fees)
            if budget <= 0.0:
                return 0.0, fill, 0.0, cash, position
            size = budget / fill
            fee = cash - budget
            cost = budget
        if is_less_nb(size, MIN_ORDER_SIZE):
            return 0.0, fill, 0.0, cash, position
        return size, fill, fee, snapped_sum_nb(cash, -(cost + fee)), snapped_sum_nb(position, size)
    fill = price * (1.0 - slippage)
    proceeds = -size * fill
    fee = proceeds * fees + fixed_fee
    if is_less_nb(-size, MIN_ORDER_SIZE) or proceeds - fee < 0.0:
        return 0.0, fill, 0.0, cash, position
    return size, fill, fee, cash + (proceeds - fee), snapped_sum_nb(position, size)


@njit(cache=True, nogil=True)
def open_trip_nb(trips, j, bar, position, price, fee):
    """Start symbol ``j``'s round trip at ``bar``: ``position`` units (signed) entered at ``price``, paying ``fee``."""
    trips[j, :] = 0.0
    trips[j, _ENTRY_BAR] = bar
    trips[j, _DIRECTION] = 1.0 if position > 0.0 else -1.0
    trips[j, _ENTERED] = abs(position)
    trips[j, _ENTRY_VALUE] = abs(position) * price
    trips[j, _FEES] = fee


@njit(cache=True, nogil=True)
def book_trip_nb(trips, j, bar, position, size, fill, fee, record, trips_out, count):
    """Book a fill of symbol ``j`` into its round trip (``trips[j]``): open, add, reduce, close or reverse; a closed
    round trip is recorded (with ``record``) at row ``count`` of ``trips_out``. Returns the round trips closed
    so far and the P&L of the one this fill closed (NaN when none)."""
    after = position + size
    pnl = np.nan
    if position == 0.0:  # open
        open_trip_nb(trips, j, bar, size, fill, fee)
        return count, pnl
    if (position > 0.0) == (size > 0.0):  # add
        trips[j, _ENTERED] += abs(size)
        trips[j, _ENTRY_VALUE] += abs(size) * fill
        trips[j, _FEES] += fee
        return count, pnl
    closing = min(abs(size), abs(position))
    share = closing / abs(size)
    trips[j, _EXITED] += closing
    trips[j, _EXIT_VALUE] += closing * fill
    trips[j, _FEES] += fee * share
    if after == 0.0 or (after > 0.0) != (position > 0.0):  # flat, or reversed: the round trip ends here
        pnl = trip_pnl_nb(trips[j], 0.0, 0.0)
        if record:
            write_trip_nb(trips[j], j, bar, pnl, trips_out[count])
        count += 1
        if after != 0.0:  # the rest of a reversal opens the next round trip
            open_trip_nb(trips, j, bar, after, fill, fee * (1.0 - share))
    return count, pnl


@njit(cache=True, nogil=True)
def trip_pnl_nb(trip, open_size, mark):
    """P&L of a round trip: what its exits returned (plus ``open_size`` units still held, marked at ``mark``)
    against what its entries cost, times its direction, less its fees."""
    exits = trip[_EXIT_VALUE] + open_size * mark
    return snap_zero_nb(trip[_DIRECTION] * (exits - trip[_ENTRY_VALUE]) - trip[_FEES], trip[_ENTRY_VALUE])


@njit(cache=True, nogil=True)
def write_trip_nb(trip, j, exit_bar, pnl, row):
    """One recorded round trip (``TRIP_FIELDS``); ``exit_bar`` -1 for one still open."""
    exited = trip[_EXITED]
    row[0] = j
    row[1] = trip[_ENTRY_BAR]
    row[2] = exit_bar
    row[3] = trip[_DIRECTION]
    row[4] = trip[_ENTERED]
    row[5] = trip[_ENTRY_VALUE] / trip[_ENTERED]
    row[6] = trip[_EXIT_VALUE] / exited if exited > 0.0 else np.nan
    row[7] = trip[_FEES]
    row[8] = pnl


@njit(cache=True, nogil=True)
def write_open_trip_nb(trip, j, open_size, mark, row):
    """Record symbol ``j``'s round trip still open at the end (``exit_bar`` -1): ``open_size`` units marked at
    ``mark`` (no exit fee), so its exit price blends the exits made with the mark, as vectorbt marks open trades.
    Returns its P&L."""
    pnl = trip_pnl_nb(trip, open_size, mark)
    write_trip_nb(trip, j, -1, pnl, row)
    row[6] = (trip[_EXIT_VALUE] + open_size * mark) / (trip[_EXITED] + open_size)
    return pnl


@njit(cache=True, nogil=True)
def plan_nb(weights, prices, val_prices, cash, positions, seq, sizes):
    """One bar time's orders toward ``weights``: the symbols in the order their orders run (``seq``) and each
    order's units before any cut for cash (``sizes``, also the sort's scratch), all sized from the account's value
    at the valuation prices.
    Returns how many orders there are, and -1 or the first symbol with a weight but no price (NaN in ``prices``):
    its order can be neither sized nor filled."""
    value = account_value_nb(cash, positions, val_prices)
    n = order_sequence_nb(weights, positions, val_prices, value, seq, sizes)
    for k in range(n):
        j = seq[k]
        if np.isnan(prices[j]):
            return k, j
        sizes[k] = weights[j] * value / val_prices[j] - positions[j]
    return n, -1


@njit(cache=True, nogil=True)
def order_units_nb(sizing, planned, weight, j, cash, positions, prices, val_prices, fees, fixed_fee, slippage):
    """Units of symbol ``j``'s order as it runs: ``planned`` (from `plan_nb`) with ``TARGET_PERCENT``; with
    ``AFTER_FEES`` sized now to ``weight`` x the account's value after fees (`target_size_nb`), from ``cash`` and the
    other holdings at their valuation prices."""
    if sizing == TARGET_PERCENT:
        return planned
    others = 0.0
    for i in range(positions.shape[0]):
        if i != j and positions[i] != 0.0:
            others += positions[i] * val_prices[i]
    return target_size_nb(cash + others, positions[j], prices[j], weight, fees, fixed_fee, slippage)


@njit(cache=True, nogil=True)
def rebalance_nb(
    t,
    weights,
    prices,
    val_prices,
    cash,
    positions,
    fees,
    fixed_fee,
    slippage,
    trips,
    stats,
    record,
    trips_out,
    fills_out,
    seq,
    sizes,
    rules_on,
    risk,
    account,
    symbols,
    sizing,
):
    """Run bar ``t``'s orders toward ``weights`` at ``prices`` (the step; see the module docstring), sized by
    ``sizing`` (`order_units_nb`). Updates
    ``positions`` in place and the round-trip state; ``stats`` holds (trips closed, wins, gross win, gross loss,
    fills recorded). With ``rules_on`` each order but an exit is cut to the size caps and refused beyond the day's
    order count, and the rule state follows the fills (`engine.portfolio_rules`). Returns the cash after the orders
    and -1, or the cash and the first symbol with a weight but no price (`plan_nb`), before any order ran."""
    n, missing = plan_nb(weights, prices, val_prices, cash, positions, seq, sizes)
    if missing >= 0:
        return cash, missing
    for k in range(n):
        j = seq[k]
        size = order_units_nb(
            sizing, sizes[k], weights[j], j, cash, positions, prices, val_prices, fees, fixed_fee, slippage
        )
        if size == 0.0 or is_close_nb(size, 0.0):
            continue
        position = positions[j]
        if rules_on and weights[j] != 0.0:
            size = cap_order_size_nb(size, position, prices[j], risk)
            if (
                size == 0.0
                or is_less_nb(abs(size), MIN_ORDER_SIZE)
                or not order_allowed_nb(account[ORDERS_TODAY], weights[j], risk)
            ):
                continue
        filled, fill, fee, cash, positions[j] = fill_order_nb(
            cash, position, size, prices[j], fees, fixed_fee, slippage, sizing == AFTER_FEES
        )
        if filled == 0.0:
            continue
        if rules_on:
            account[ORDERS_TODAY] += 1.0
            opened_nb(symbols, j, position, positions[j], fill)
        count, pnl = book_trip_nb(trips, j, t, position, filled, fill, fee, record, trips_out, int(stats[0]))
        stats[0] = count
        if not np.isnan(pnl):
            if pnl > 0.0:
                stats[1] += 1.0
                stats[2] += pnl
            elif pnl < 0.0:
                stats[3] -= pnl
        if record:
            row = fills_out[int(stats[4])]
            row[0], row[1], row[2], row[3], row[4] = t, j, filled, fill, fee
            stats[4] += 1.0
    return cash, -1
