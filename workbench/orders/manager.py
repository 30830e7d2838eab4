"""``OrderManager``: the one path orders take (router), what became of them (tracker), positions and P&L
(position updater) and the event stream the rest of the system subscribes to.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from workbench.brokers import BrokerError, BrokerUnavailable
from workbench.clock import Clock
from workbench.engine.fills import MIN_ORDER_SIZE, is_less_nb, order_size_nb
from workbench.engine.ledger import position_after_fill_nb
from workbench.orders.model import Fill, Order, OrderError, OrderEvent, OrderStatus, OrderType, Side
from workbench.ports import Broker
from workbench.risk.manager import RiskManager

if TYPE_CHECKING:
    import tenacity


@dataclass
class PositionState:
    """Average-cost position of one symbol, with realized P&L net of all fees paid on it."""

    symbol: str
    qty: float = 0.0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0

    def unrealized_pnl(self, price: float) -> float:
        """P&L of the open quantity marked at ``price``."""
        return self.qty * (price - self.avg_price)


class Journal(Protocol):
    """Where an OrderManager writes ahead (``store.journal.OrderJournal``): each order before it is sent,
    each event with the order's state after it."""

    def record_order(self, order: Order) -> None: ...

    def record_event(self, event: OrderEvent, order: Order) -> None: ...


class OrderManager:
    """Routes orders to the broker and keeps orders, fills and positions up to date from its events.

    Orders take the fixed path OrderManager -> RiskManager (when given: size caps with resize events,
    allowed symbols and trading hours with deny events) -> broker. With a ``journal`` every order is stored
    before it is sent and every event before memory changes (write-ahead; see ``store.journal``).

    ``fees``, ``fixed_fee`` and ``slippage`` are the cost model used to size target-exposure orders (the same arithmetic
    as the sweep); a submission is tried up to ``retries`` times in all while the broker's errors are
    transient (exponential backoff between tries), and an order whose ``client_order_id`` was already sent
    is refused rather than sent twice.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from workbench.brokers.sim import SimBroker
    >>> from workbench.testing import FrozenClock
    >>> clock = FrozenClock(datetime(2024, 1, 2, tzinfo=timezone.utc))
    >>> broker = SimBroker(clock, cash=10_000)
    >>> om = OrderManager(broker, clock)
    >>> broker.quote("SPY", 500.0)
    >>> om.target("SPY", 0.5, price=500.0).qty
    10.0
    >>> om.positions["SPY"].qty, om.positions["SPY"].avg_price
    (10.0, 500.0)
    """

    def __init__(
        self,
        broker: Broker,
        clock: Clock,
        *,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        retries: int = 3,
        strategy: str | None = None,
        risk: RiskManager | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.broker = broker
        self.clock = clock
        self.fees = fees
        self.fixed_fee = fixed_fee
        self.slippage = slippage
        self.strategy = strategy
        self.risk = risk
        self.journal = journal
        self.orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.events: list[OrderEvent] = []
        self.positions: dict[str, PositionState] = {}
        self._sent: set[str] = set()
        self._journaled: set[str] = set()
        self._targets: dict[str, Order] = {}  # symbol -> its last target order (working while it is open)
        self._handlers: list[Callable[[OrderEvent], None]] = []
        self._retries = retries
        broker.subscribe(self._on_event)

    @functools.cached_property
    def _retrying(self) -> tenacity.Retrying:
        """The retry policy for transient broker errors, built (and tenacity imported) when first needed."""
        import tenacity

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, BrokerError) and e.transient),
            stop=tenacity.stop_after_attempt(self._retries),
            wait=tenacity.wait_exponential(multiplier=0.05, max=2.0),
            reraise=True,
        )

    def subscribe(self, handler: Callable[[OrderEvent], None]) -> None:
        """Call ``handler`` with every order event, after positions are updated."""
        self._handlers.append(handler)

    def submit(self, order: Order) -> Order:
        """Send ``order`` to the broker (retrying transient errors); refuse a ``client_order_id`` sent before.

        An order the RiskManager's session rules refuse (symbol not allowed, outside trading hours) is not
        sent: it comes back ``rejected``, with a ``deny`` risk event saying why.
        """
        if order.client_order_id in self._sent:
            raise OrderError(
                f"client_order_id {order.client_order_id!r} was already sent; an order is sent once",
                field="client_order_id",
                value=order.client_order_id,
                expected="a new client_order_id",
            )
        self.orders[order.id] = order  # tracked before sending: the broker's events arrive during submit
        if self.journal is not None and order.id not in self._journaled:
            self.journal.record_order(order)  # write-ahead: stored before anything can happen to it
            self._journaled.add(order.id)
        if self.risk is not None and self.risk.screens_orders:
            position = self.broker.positions().get(order.symbol, 0.0)
            if not self.risk.allows(self.clock.now(), order.symbol, order.signed_qty, position):
                self._on_event(order.transition(OrderStatus.REJECTED, self.clock.now(), "denied by risk rules"))
                return order
        try:
            sent = self._send(order)
        except BrokerUnavailable as exc:
            if not exc.uncertain:
                del self.orders[order.id]
            else:  # it is (or may be) at the broker: followed until its events say what became of it
                self._sent.add(order.client_order_id)
            raise
        except Exception:
            del self.orders[order.id]
            raise
        self._sent.add(order.client_order_id)
        return sent

    def _send(self, order: Order) -> Order:
        """``broker.submit`` once, and through the retry policy only after a transient error (which counts as
        its first attempt): the common path costs no retry bookkeeping."""
        try:
            return self.broker.submit(order)
        except BrokerError as exc:
            if not exc.transient:
                raise
            failed = [exc]

        def attempt() -> Order:
            if failed:
                raise failed.pop()
            return self.broker.submit(order)

        return self._retrying(attempt)

    def target(self, symbol: str, exposure: float, price: float, other_holdings: float = 0.0) -> Order | None:
        """Trade ``symbol`` to ``exposure`` x equity at ``price`` with a market order; None when nothing to do.

        Sized by the sweep's ``target_size_nb`` from the broker's cash and position, so a backtest through
        this path reproduces the sweep's orders exactly. In a portfolio, ``other_holdings`` (the value of the
        other positions) counts toward equity, so ``exposure`` is a fraction of the whole account, and a buy is
        cut to the cash left (``affordable_size_nb``) rather than refused by the broker.

        The symbol's working target order (one not filled yet: a closed market, a slow fill) counts as held, so
        a target it already reaches sends nothing; a different target cancels it first and sends one order in
        its place (`replace_working`): never two working target orders on one symbol.
        """
        symbol = symbol.upper()
        spendable = self.broker.account().cash
        position = self.broker.positions().get(symbol, 0.0)
        pending = self.working(symbol)
        size = order_size_nb(
            spendable - pending * price + other_holdings,
            spendable - pending * price,
            position + pending,
            price,
            exposure,
            self.fees,
            self.fixed_fee,
            self.slippage,
        )
        if pending != 0.0 and size != 0.0:  # a new target: the working order makes way for the one that replaces it
            if not self.replace_working(symbol):
                return None
            return self.target(symbol, exposure, price, other_holdings)
        if size != 0.0 and self.risk is not None and exposure != 0.0:  # exits are never capped
            capped = self.risk.cap_size(self.clock.now(), symbol, size, position, price)
            size = 0.0 if capped != size and is_less_nb(abs(capped), MIN_ORDER_SIZE) else capped
        if size == 0.0:
            return None
        order = Order.market(
            symbol=symbol,
            side=Side.BUY if size > 0 else Side.SELL,
            qty=abs(size),
            created_at=self.clock.now(),
            strategy=self.strategy,
        )
        return self.submit_target(order)

    def submit_target(self, order: Order) -> Order:
        """`submit` an order that trades its symbol towards a target: it is the symbol's working target order
        until it ends, counted by `working` (send it only when `working` is 0 or `replace_working` said yes)."""
        self._targets[order.symbol] = order
        return self.submit(order)

    def working(self, symbol: str) -> float:
        """The signed quantity ``symbol``'s working target order has still to fill (0.0: none is working)."""
        order = self._targets.get(symbol.upper())
        if order is None:
            return 0.0
        if not order.is_open:
            del self._targets[order.symbol]
            return 0.0
        return order.remaining_qty * order.side.sign

    def replace_working(self, symbol: str) -> bool:
        """Cancel ``symbol``'s working target order so that another can take its place; True when none is left
        working (canceled, or filled meanwhile), False when it still is (the cancel is pending or was refused:
        decide again on the next bar)."""
        order = self._targets.get(symbol.upper())
        if order is None or not order.is_open:
            return True
        with contextlib.suppress(BrokerError):  # filled or ending meanwhile: its state says which
            self.broker.cancel(order.id)
        return self.working(symbol) == 0.0

    def realized_pnl(self) -> float:
        """Realized P&L net of fees over all symbols."""
        return sum(p.realized_pnl for p in self.positions.values())

    def unrealized_pnl(self, prices: dict[str, float]) -> float:
        """Unrealized P&L over all open positions marked at ``prices``."""
        return sum(p.unrealized_pnl(prices[s]) for s, p in self.positions.items() if p.qty != 0.0)

    def restore(self, positions: dict[str, PositionState], open_orders: list[Order], sent: set[str]) -> None:
        """Take over a restarted run's state (``OrderJournal.restore``): its positions, the orders still
        working at the broker, and every ``client_order_id`` already sent, so none is sent twice."""
        self.positions = dict(positions)
        self.orders = {o.id: o for o in open_orders}
        self._targets = {o.symbol: o for o in open_orders if o.type is OrderType.MARKET and not o.parent_id}
        self._sent = set(sent)
        self._journaled = {o.id for o in open_orders}

    def _on_event(self, event: OrderEvent) -> None:
        order = self.orders.get(event.order_id)
        if order is None:  # made by the broker (a bracket's legs): tracked from its first event
            order = self.orders[event.order_id] = self.broker.get_order(event.order_id)
            if self.journal is not None:
                self.journal.record_order(order)
                self._journaled.add(order.id)
        if self.journal is not None:
            self.journal.record_event(event, order)  # stored before memory moves
        self.events.append(event)
        if event.fill is not None:
            fill = event.fill
            self.fills.append(fill)
            pos = self.positions.get(fill.symbol)
            if pos is None:
                pos = self.positions[fill.symbol] = PositionState(fill.symbol)
            pos.qty, pos.avg_price, pos.realized_pnl = position_after_fill_nb(
                pos.qty, pos.avg_price, pos.realized_pnl, fill.qty * fill.side.sign, fill.price, fill.fee
            )
            pos.fees += fill.fee
        for handler in self._handlers:
            handler(event)
