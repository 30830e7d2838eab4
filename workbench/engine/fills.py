"""Order execution arithmetic shared by the sweep kernel, SimBroker and the risk checks.

Prices and values are in account currency; ``fees`` and ``slippage`` are fractions of traded value/price.
"""

from __future__ import annotations

from numba import njit

# Orders smaller than this many units are rejected (vectorbt's default ``min_size``), so a strategy that has
# lost nearly all its capital stops trading instead of churning dust.
MIN_ORDER_SIZE = 1e-8
_REL_TOL = 1e-9
_ABS_TOL = 1e-12


@njit(cache=True, nogil=True, inline="always")
def is_close_nb(a, b):
    """``math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)`` for float64."""
    if a == b:
        return True
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


@njit(cache=True, nogil=True, inline="always")
def is_less_nb(a, b):
    """``a < b`` and not close to it."""
    return a < b and not is_close_nb(a, b)


@njit(cache=True, nogil=True, inline="always")
def fill_price_nb(price, size, slippage):
    """Execution price of an order of ``size`` units (> 0 buy, < 0 sell): buys pay up, sells receive less."""
    if size > 0:
        return price * (1.0 + slippage)
    return price * (1.0 - slippage)


#: Relative shortfall of cash a buy may leave (rounding of an all-in order); brokers refuse anything beyond.
CASH_TOLERANCE = 1e-9


@njit(cache=True, nogil=True, inline="always")
def target_size_nb(cash, position, price, target, fees, fixed_fee, slippage):
    """Units to trade so that the position is ``target`` x equity after fees, at ``price`` before slippage.

    ``fixed_fee`` is charged per order on top of ``fees`` x traded value; from flat, target 1 then buys
    ``(cash - fixed_fee) / (1 + fees) / (price * (1 + slippage))`` units, as vectorbt's ``fixed_fees`` do.

    ``target`` is exposure in [-1, 1]; 0 closes the position exactly. From flat, target 1 buys
    ``cash / (1 + fees) / (price * (1 + slippage))`` units: the "all-in" order. Returns 0.0 when nothing
    should trade (no equity, or the size is below ``MIN_ORDER_SIZE``).
    """
    if target == 0.0:
        return -position
    buy_price = price * (1.0 + slippage)
    sell_price = price * (1.0 - slippage)
    # Value the current position at the price it would trade at in the order's direction.
    held_buy = position * buy_price
    equity_buy = cash + held_buy
    if equity_buy <= 0.0:
        return 0.0
    value = target * (equity_buy + fees * held_buy - fixed_fee) / (1.0 + target * fees)
    if value > held_buy:
        return (value - held_buy) / buy_price
    held_sell = position * sell_price
    equity_sell = cash + held_sell
    if equity_sell <= 0.0:
        return 0.0
    value = target * (equity_sell - fees * held_sell - fixed_fee) / (1.0 - target * fees)
    if value < held_sell:
        return (value - held_sell) / sell_price
    return 0.0


@njit(cache=True, nogil=True)
def affordable_size_nb(cash, position, price, size, fees, fixed_fee, slippage):
    """``size`` cut so that a buy adding to a long position costs at most ``cash``, fees included.

    One symbol's all-in order never needs the cut (it is sized to the cash); in a portfolio the cash is
    shared, and the fees of the earlier buys of a rebalance leave the last one a little short. Sells and
    buys that cover a short pass unchanged, as a broker allows them.
    """
    if size <= 0.0 or position < 0.0:
        return size
    fill = price * (1.0 + slippage)
    if size * fill * (1.0 + fees) + fixed_fee - cash <= CASH_TOLERANCE * max(cash, 1.0):
        return size
    return max((cash - fixed_fee) / (fill * (1.0 + fees)), 0.0)


@njit(cache=True, nogil=True, inline="always")
def fee_nb(size, fill_price, fees, fixed_fee):
    """Fee of an order's fill of ``size`` units at ``fill_price``: ``fees`` x traded value plus ``fixed_fee``."""
    return abs(size) * fill_price * fees + fixed_fee


@njit(cache=True, nogil=True, inline="always")
def cash_after_fill_nb(cash, size, fill_price, fee):
    """Cash after a fill of ``size`` units (> 0 bought, < 0 sold) at ``fill_price`` paying ``fee``."""
    traded = abs(size) * fill_price
    delta = -(traded + fee) if size > 0 else traded - fee
    return snap_zero_nb(cash + delta, cash)


@njit(cache=True, nogil=True, inline="always")
def snap_zero_nb(value, scale):
    """0.0 when ``value`` is rounding noise relative to ``scale``; keeps all-in buys from leaving dust cash."""
    if abs(value) <= max(_REL_TOL * abs(scale), _ABS_TOL):
        return 0.0
    return value


@njit(cache=True, nogil=True)
def execution_nb(price, size, slippage, fees, fixed_fee, cash):
    """(fill price, fee, cash after) of a fill of ``size`` units at ``price``: `fill_price_nb`, `fee_nb` and
    `cash_after_fill_nb` in one call, for the simulated broker's Python path (one dispatch instead of three)."""
    fill_price = fill_price_nb(price, size, slippage)
    fee = fee_nb(size, fill_price, fees, fixed_fee)
    return fill_price, fee, cash_after_fill_nb(cash, size, fill_price, fee)


@njit(cache=True, nogil=True)
def order_size_nb(cash, spendable, position, price, target, fees, fixed_fee, slippage):
    """Units to trade toward ``target`` x equity (`target_size_nb`), cut to the cash that can pay for it
    (`affordable_size_nb`); 0.0 when that is below ``MIN_ORDER_SIZE``. One dispatch for OrderManager.target."""
    size = target_size_nb(cash, position, price, target, fees, fixed_fee, slippage)
    size = affordable_size_nb(spendable, position, price, size, fees, fixed_fee, slippage)
    if is_less_nb(abs(size), MIN_ORDER_SIZE):
        return 0.0
    return size
