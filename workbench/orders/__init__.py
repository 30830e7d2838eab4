"""Orders: the one domain model of orders, fills and order events, with the order state machine.

>>> from workbench.orders import Order, Fill, OrderStatus, TRANSITIONS

Everything that trades (backtest, simulated broker, Alpaca live) and the store use these same classes.
"""

from workbench.orders.model import (
    MAX_CLIENT_ORDER_ID_LEN,
    OPEN_STATUSES,
    QTY_RTOL,
    REQUIRED_PRICES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    EventKind,
    Fill,
    IllegalTransition,
    Order,
    OrderError,
    OrderEvent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

__all__ = [
    "MAX_CLIENT_ORDER_ID_LEN",
    "OPEN_STATUSES",
    "QTY_RTOL",
    "REQUIRED_PRICES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "EventKind",
    "Fill",
    "IllegalTransition",
    "Order",
    "OrderError",
    "OrderEvent",
    "OrderStatus",
    "OrderType",
    "Side",
    "TimeInForce",
]
