"""``SimBroker``: a simulated broker that fills with the sweep's own fill, fee and cash kernels.

Market orders execute at once at the symbol's current price (set by ``quote``: the driver quotes the bar's
open for next-open fills, its close for close fills). Limit, stop and stop-limit orders rest and are checked
against each new bar's range (``process_bar``); a bar that opens through the price fills at the open (a gap).
Day orders expire when a bar of a later date arrives, IOC orders that cannot fill at once are canceled.

Participation cap (``max_participation``): an order fills at most that fraction of a bar's volume per bar, at
the quote (the volume given to ``quote``) and on each bar (``bar.volume``). What is left stays open, partially
filled, and keeps filling on the following bars passed to ``process_bar``: a market order at each bar's open, a
resting order by its limit/stop rules, each bar capped again. A DAY remainder expires at the date change, an
IOC remainder is canceled at once.

Brackets: once an entry with ``take_profit``/``stop_loss`` is done (filled, or canceled/expired with part of
it filled) its two legs (`Order.bracket_legs`, for the filled qty, GTC) are submitted and rest from the next
bar. They are one-cancels-other: the first leg to trade cancels the other ("oco: <leg> filled"), and so does a
leg that is canceled. When one bar reaches both, the stop-loss fills and the take-profit is canceled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from numbers import Real

from workbench.brokers import BrokerError
from workbench.clock import Clock
from workbench.data.feeds import Bar
from workbench.engine.fills import CASH_TOLERANCE, execution_nb
from workbench.orders.model import Fill, Order, OrderEvent, OrderStatus, OrderType, Side, TimeInForce
from workbench.ports import Account, MarketClock


class SimBroker:
    """A broker simulated on bars: the backtest's and the local paper session's ``Broker`` (``kind`` ``sim``).

    ``max_participation`` caps each order's fill per bar at that fraction (in (0, 1]) of the bar's volume;
    None (the default) fills every order in full.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from workbench.clock import SimClock
    >>> clock = SimClock(datetime(2024, 1, 2, tzinfo=timezone.utc))
    >>> broker = SimBroker(clock, cash=10_000, fees=0.001)
    >>> broker.quote("SPY", 470.0)
    >>> order = broker.submit(Order(symbol="SPY", side="buy", qty=10, created_at=clock.now()))
    >>> order.status.value, round(broker.account().cash, 2)
    ('filled', 5295.3)
    """

    def __init__(
        self,
        clock: Clock,
        *,
        cash: float = 10_000.0,
        fees: float = 0.0,
        fixed_fee: float = 0.0,
        slippage: float = 0.0,
        max_participation: float | None = None,
    ) -> None:
        if max_participation is not None and not (
            isinstance(max_participation, Real)
            and not isinstance(max_participation, bool)
            and 0.0 < max_participation <= 1.0
        ):
            raise ValueError(
                f"max_participation={max_participation!r} is invalid: expected a fraction of the "
                "bar's volume in (0, 1], or None for no cap"
            )
        self.clock = clock
        self.fees = fees
        self.fixed_fee = fixed_fee  # per order, charged with its first fill
        self.slippage = slippage
        self.max_participation = max_participation
        self._cash = float(cash)
        self._positions: dict[str, float] = {}
        self._prices: dict[str, float] = {}
        self._volumes: dict[str, float | None] = {}
        self._orders: dict[str, Order] = {}
        self._client_ids: set[str] = set()
        self._handlers: list[Callable[[OrderEvent], None]] = []
        self._triggered: set[str] = set()  # stop-limit orders whose stop fired: they rest as limit orders
        self._oco: dict[str, tuple[str, Order]] = {}  # working bracket leg id -> (its name, the other leg)

    kind = "sim"

    # --- Broker port -----------------------------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        """Accept ``order`` and execute what can execute now; a duplicate ``client_order_id`` is refused."""
        if order.client_order_id in self._client_ids:
            raise BrokerError(f"client_order_id {order.client_order_id!r} was already submitted")
        self._client_ids.add(order.client_order_id)
        self._orders[order.id] = order
        now = self.clock.now()
        if order.symbol not in self._prices:
            self._close(order, OrderStatus.REJECTED, f"no price for {order.symbol}")
            return order
        self._emit(order.transition(OrderStatus.ACCEPTED, now))
        price, volume = self._prices[order.symbol], self._volumes[order.symbol]
        if order.type is OrderType.MARKET:
            self._execute(order, price, volume)
        elif order.time_in_force is TimeInForce.IOC:
            trigger = self._touch_price(order, price, price, price)
            if trigger is None:
                self._close(order, OrderStatus.CANCELED, "ioc: not marketable")
                return order
            self._execute(order, trigger, volume)
        if order.time_in_force is TimeInForce.IOC and order.is_open:
            self._close(order, OrderStatus.CANCELED, "ioc: unfilled remainder canceled")
        return order

    def cancel(self, order_id: str) -> Order:
        """Cancel an open order; canceling one bracket leg cancels the other too."""
        order = self.get_order(order_id)
        if not order.is_open:
            raise BrokerError(f"order {order_id} is {order.status.value} and cannot be canceled")
        self._close(order, OrderStatus.CANCELED, "canceled by request")
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

    def market_clock(self) -> MarketClock:
        """Always open: a simulated venue fills market orders at each price it is told, whenever that is."""
        return MarketClock(self.clock.now(), True, None, None)

    def account(self) -> Account:
        held = 0.0
        for symbol, qty in self._positions.items():
            if qty:
                held += qty * self._prices.get(symbol, 0.0)
        return Account(cash=self._cash, equity=self._cash + held)

    def subscribe(self, handler: Callable[[OrderEvent], None]) -> None:
        self._handlers.append(handler)

    def pump(self, timeout: float = 0.0) -> int:
        """Nothing waits: a simulated broker emits each event to its subscribers as it happens."""
        return 0

    def track(self, orders: Iterable[Order]) -> None:
        """Nothing to do: the orders a resumed run restores (`restore`) are the very objects this broker moves."""

    def restore(self, cash: float, positions: dict[str, float], open_orders: list[Order]) -> None:
        """Resume a local paper account from its records (``OrderJournal.restore``): cash, positions and the
        orders still working. Only a fresh broker can be restored."""
        if self._orders or self._positions:
            raise BrokerError("restore needs a fresh SimBroker: this one has orders or positions already")
        self._cash = float(cash)
        self._positions = {s.upper(): float(q) for s, q in positions.items() if q}
        for order in open_orders:
            self._orders[order.id] = order
            self._client_ids.add(order.client_order_id)

    # --- market simulation -----------------------------------------------------------------------------------
    def quote(self, symbol: str, price: float, volume: float | None = None) -> None:
        """Set ``symbol``'s current price and the volume tradable there (None: unlimited): market orders
        execute here (capped by ``max_participation`` x ``volume``), ``account()`` marks positions here."""
        if volume is not None:
            if not (isinstance(volume, Real) and not isinstance(volume, bool) and volume >= 0):
                raise ValueError(f"volume={volume!r} is invalid: expected a number >= 0, or None for unlimited")
            volume = float(volume)
        symbol = symbol.upper()
        self._prices[symbol] = float(price)
        self._volumes[symbol] = volume

    def process_bar(self, bar: Bar) -> None:
        """Expire stale day orders, then fill open orders on ``bar``; quote its close and volume.

        Market order remainders fill at the open, resting orders where the bar's range reaches them, each at
        most ``max_participation`` x ``bar.volume``; so pass only bars after the quote a market order executed
        at. Take-profit legs go last, so a bar reaching both legs of a bracket fills the stop-loss (the
        conservative assumption) and cancels the take-profit. Bracket legs made during this bar work from the
        next one.
        """
        symbol = bar.symbol.upper()
        working = [o for o in self._orders.values() if o.is_open and o.symbol == symbol]
        working.sort(key=lambda o: o.id in self._oco and o.type is OrderType.LIMIT)  # take-profit legs last
        for order in working:
            if not order.is_open:  # canceled by its OCO sibling in this bar
                continue
            if order.time_in_force is TimeInForce.DAY and bar.timestamp.date() > order.created_at.date():
                self._close(order, OrderStatus.EXPIRED, "day order not filled")
                continue
            if order.type is OrderType.MARKET:
                trigger: float | None = bar.open
            else:
                trigger = self._touch_price(order, bar.open, bar.high, bar.low)
            if trigger is not None:
                self._execute(order, trigger, bar.volume)
        self.quote(bar.symbol, bar.close, bar.volume)

    def _execute(self, order: Order, price: float, volume: float | None) -> None:
        """Fill the rest of ``order`` at ``price``, or ``max_participation`` x ``volume`` of it when capped
        (nothing when that is 0), plus slippage for market and stop orders, which take liquidity (a limit never
        fills beyond its price), paying fees. A buy that would leave a long position paid with negative cash is
        refused: rejected, or canceled if part of it already filled; buying to cover a short is always allowed
        (it reduces risk)."""
        qty = order.remaining_qty
        if self.max_participation is not None and volume is not None:
            qty = min(qty, self.max_participation * volume)
            if qty <= 0.0:
                return
        size = qty * order.side.sign
        slippage = self.slippage if order.type in (OrderType.MARKET, OrderType.STOP) else 0.0
        fixed_fee = self.fixed_fee if order.filled_qty == 0.0 else 0.0
        fill_price, fee, cash = execution_nb(price, size, slippage, self.fees, fixed_fee, self._cash)
        position = self._positions.get(order.symbol, 0.0) + size
        if size > 0 and position > 0 and cash < -CASH_TOLERANCE * max(self._cash, 1.0):
            refused = OrderStatus.CANCELED if order.filled_qty > 0 else OrderStatus.REJECTED
            self._close(order, refused, "insufficient cash")
            return
        fill = Fill.for_order(order, qty=qty, price=fill_price, timestamp=self.clock.now(), fee=fee)
        self._cash = cash
        self._positions[order.symbol] = position
        self._emit(order.apply_fill(fill))
        self._follow_up(order)

    def _close(self, order: Order, status: OrderStatus, reason: str) -> None:
        """End ``order`` as canceled, expired or rejected for ``reason``, then follow up (`_follow_up`)."""
        self._emit(order.transition(status, self.clock.now(), reason=reason))
        self._follow_up(order)

    def _follow_up(self, order: Order) -> None:
        """After ``order`` traded or ended: a bracket leg cancels its OCO sibling, and a bracket entry that is
        done with something filled gets its take-profit and stop-loss legs for the filled qty."""
        if order.id in self._oco:
            name, other = self._oco.pop(order.id)
            del self._oco[other.id]
            self._close(other, OrderStatus.CANCELED, f"oco: {name} {order.status.value}")
        if order.take_profit is not None and not order.is_open and order.filled_qty > 0:
            take, stop = order.bracket_legs(self.clock.now())
            self.submit(take)
            self.submit(stop)
            self._oco[take.id], self._oco[stop.id] = ("take_profit", stop), ("stop_loss", take)

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
