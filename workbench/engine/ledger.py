"""Average-cost position accounting shared by the order manager's position updater and its tests."""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def position_after_fill_nb(qty, avg_price, realized, fill_qty, fill_price, fee):
    """``(qty, avg_price, realized_pnl)`` after a signed fill; fees are charged to realized P&L.

    Adding to a position moves the average price (volume-weighted); reducing realizes
    ``closed x (fill_price - avg_price)`` in the position's direction; going through zero closes the old
    position and opens the remainder at ``fill_price``; a flat position has average price 0.
    """
    new_qty = qty + fill_qty
    if qty == 0.0 or (qty > 0) == (fill_qty > 0):
        return new_qty, (qty * avg_price + fill_qty * fill_price) / new_qty, realized - fee
    closed = min(abs(fill_qty), abs(qty))
    direction = 1.0 if qty > 0 else -1.0
    realized += closed * direction * (fill_price - avg_price) - fee
    if new_qty == 0.0:
        return 0.0, 0.0, realized
    if (new_qty > 0) != (qty > 0):
        return new_qty, fill_price, realized
    return new_qty, avg_price, realized
