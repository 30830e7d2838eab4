"""``SimBroker``: a simulated broker that fills with the sweep's own fill, fee and cash kernels.

Market orders execute at once at the symbol's current price (set by ``quote``: the driver quotes the bar's
open for next-open fills, its close for close fills). Limit, stop and stop-limit orders rest and are checked
against each new bar's range (``process_bar``); a bar that opens through the price fills at the open (a gap).
Day orders expire when a bar of a later date arrives, IOC orders that cannot fill at once are canceled.
"""

from __future__ import annotations

from collections.abc import Callable

from workbench.brokers import BrokerError
from workbench.engine.fills import cash_after_fill_nb, fee_nb, fill_price_nb
from workbench.orders.model import Fill, Order, OrderEvent, OrderStatus, OrderType, Side, TimeInForce
from workbench.ports import Account, Bar, Clock

# Buying power check tolerance: the all-in sizing spends cash to the last rounding error.
_CASH_TOL = 1e-9


class SimBroker:
    """A broker simulated on bars: the backtest's and the local paper session's ``Broker``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from workbench.testing import FrozenClock
    >>> clock = FrozenClock(datetime(2024, 1, 2, tzinfo=timezone.utc))
    >>> broker = SimBroker(clock, cash=10_000, fees=0.001)
    >>> broker.quote("SPY", 470.0)
    >>> order = broker.submit(Order(symbol="SPY", side="buy", qty=10, created_at=clock.now()))
    >>> order.status.value, round(broker.account().cash, 2)
    ('filled', 5295.3)
    """

    def __init__(self, clock: Clock, *, cash: float = 10_000.0, fees: float = 0.0, slippage: float = 0.0) -> None:
        self.clock = clock
        self.fees = fees
        self.slippage = slippage
        self._cash = float(cash)
        self._positions: dict[str, float] = {}
        self._prices: dict[str, float] = {}
        self._orders: dict[str, Order] = {}
        self._client_ids: set[str] = set()
        self._handlers: list[Callable[[OrderEvent], None]] = []
        self._triggered: set[str] = set()  # stop-limit orders whose stop fired: they rest as limit orders

    # --- Broker port -----------------------------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        """Accept ``order`` and execute what can execute now; a duplicate ``client_order_id`` is refused."""
        if order.client_order_id in self._client_ids:
            raise BrokerError(f"client_order_id {order.client_order_id!r} was already submitted")
        self._client_ids.add(order.client_order_id)
        self._orders[order.id] = order
        now = self.clock.now()
        if order.symbol not in self._prices:
            self._emit(order.transition(OrderStatus.REJECTED, now, reason=f"no price for {order.symbol}"))
            return order
        self._emit(order.transition(OrderStatus.ACCEPTED, now))
        if order.type is OrderType.MARKET:
            self._execute(order, self._prices[order.symbol])
        elif order.time_in_force is TimeInForce.IOC:
            price = self._prices[order.symbol]
            trigger = self._touch_price(order, price, price, price)
            if trigger is None:
                self._emit(order.transition(OrderStatus.CANCELED, now, reason="ioc: not marketable"))
            else:
                self._execute(order, trigger)
        return order

    def cancel(self, order_id: str) -> Order:
        order = self.get_order(order_id)
        if not order.is_open:
            raise BrokerError(f"order {order_id} is {order.status.value} and cannot be canceled")
        self._emit(order.transition(OrderStatus.CANCELED, self.clock.now(), reason="canceled by request"))
        return order

    def get_order(self, order_id: str) -> Order:
        try:
            return self._orders[order_id]
        except KeyError:
            raise BrokerError(f"unknown order {order_id}") from None

    def list_orders(self, open_only: bool = False) -> list[Order]:
        return [o for o in self._orders.values() if o.is_open or not open_only]

    def positions(self) -> dict[str, float]:
        return {s: q for s, q in self._positions.items() if q != 0.0}

    def account(self) -> Account:
        held = sum(q * self._prices.get(s, 0.0) for s, q in self._positions.items())
        return Account(cash=self._cash, equity=self._cash + held)

    def subscribe(self, handler: Callable[[OrderEvent], None]) -> None:
        self._handlers.append(handler)

    # --- market simulation -----------------------------------------------------------------------------------
    def quote(self, symbol: str, price: float) -> None:
        """Set ``symbol``'s current price: market orders execute here, ``account()`` marks positions here."""
        self._prices[symbol.upper()] = float(price)

    def process_bar(self, bar: Bar) -> None:
        """Expire stale day orders, then fill resting orders that ``bar``'s range reaches; quote its close."""
        now = self.clock.now()
        symbol = bar.symbol.upper()
        for order in [o for o in self._orders.values() if o.is_open and o.symbol == symbol]:
            if order.time_in_force is TimeInForce.DAY and bar.timestamp.date() > order.created_at.date():
                self._emit(order.transition(OrderStatus.EXPIRED, now, reason="day order not filled"))
                continue
            trigger = self._touch_price(order, bar.open, bar.high, bar.low)
            if trigger is not None:
                self._execute(order, trigger)
        self.quote(bar.symbol, bar.close)

    def _execute(self, order: Order, price: float) -> None:
        """Fill the rest of ``order`` at ``price`` (plus slippage for market and stop orders, which take
        liquidity; a limit never fills beyond its price), paying fees. A buy that would leave a long position
        paid with negative cash is rejected; buying to cover a short is always allowed (it reduces risk)."""
        size = order.remaining_qty * order.side.sign
        slippage = self.slippage if order.type in (OrderType.MARKET, OrderType.STOP) else 0.0
        fill_price = fill_price_nb(price, size, slippage)
        fee = fee_nb(size, fill_price, self.fees)
        cash = cash_after_fill_nb(self._cash, size, fill_price, fee)
        position = self._positions.get(order.symbol, 0.0) + size
        if size > 0 and position > 0 and cash < -_CASH_TOL * max(self._cash, 1.0):
            self._emit(order.transition(OrderStatus.REJECTED, self.clock.now(), reason="insufficient cash"))
            return
        fill = Fill.for_order(order, qty=order.remaining_qty, price=fill_price, timestamp=self.clock.now(), fee=fee)
        self._cash = cash
        self._positions[order.symbol] = position
        self._emit(order.apply_fill(fill))

    def _touch_price(self, order: Order, open_: float, high: float, low: float) -> float | None:
        """The price a resting order fills at within a bar (the open when the bar gaps through it), else None.

        A stop-limit whose stop fires becomes a resting limit order (for this bar's remaining range and later
        bars), as real brokers treat it.
        """
        buy = order.side is Side.BUY
        if order.type is OrderType.STOP or (order.type is OrderType.STOP_LIMIT and order.id not in self._triggered):
            stop = order.stop_price
            if not (high >= stop if buy else low <= stop):
                return None
            trigger = max(open_, stop) if buy else min(open_, stop)
            if order.type is OrderType.STOP:
                return trigger
            self._triggered.add(order.id)
            limit = order.limit_price
            if (buy and trigger <= limit) or (not buy and trigger >= limit):
                return trigger
            # the stop fired above (below) the limit: later in the bar the limit may still be reached
            return limit if (buy and low <= limit) or (not buy and high >= limit) else None
        limit = order.limit_price
        if buy and low <= limit:
            return min(open_, limit)
        if not buy and high >= limit:
            return max(open_, limit)
        return None

    def _emit(self, event: OrderEvent) -> None:
        for handler in self._handlers:
            handler(event)
