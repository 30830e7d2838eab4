"""The one domain model of orders and fills: `Order` and its state machine, `Fill`, `OrderEvent`.

Backtests, the simulated broker, Alpaca live trading and the store all use these classes, so there is no
backtest-only twin. Enum values are Alpaca's wire strings. The model never reads the wall clock: every
timestamp comes from the caller's Clock (``created_at``, the ``now`` arguments, ``Fill.timestamp``), which
keeps a backtest deterministic and lets the same code run on a simulated or a real clock.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from numbers import Real
from types import MappingProxyType
from typing import Any, Self, TypeVar

from workbench.errors import WorkbenchError

#: Relative tolerance (of the order qty) within which fills may sum past the qty and still count as "filled".
QTY_RTOL = 1e-9
#: Alpaca's limit on ``client_order_id``.
MAX_CLIENT_ORDER_ID_LEN = 48
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9._/-]*")  # "_" for data-set labels such as SPY_1MIN
_LEG_NAMESPACE = uuid.NAMESPACE_OID
_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T", "Order", "Fill")


class OrderError(WorkbenchError, ValueError):
    """An order, fill or event has an invalid value: ``field``, ``value`` and ``expected`` say which and why."""

    def __init__(self, message: str, *, field: str = "", value: Any = None, expected: str = "") -> None:
        super().__init__(message)
        self.field, self.value, self.expected = field, value, expected


class IllegalTransition(WorkbenchError):
    """An order was asked to move between two states that `TRANSITIONS` does not connect."""

    def __init__(
        self,
        message: str,
        *,
        order_id: str = "",
        from_status: OrderStatus | None = None,
        to_status: OrderStatus | None = None,
    ) -> None:
        super().__init__(message)
        self.order_id, self.from_status, self.to_status = order_id, from_status, to_status


class Side(StrEnum):
    """Buy or sell."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """The side that closes a position opened by this one."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    """How an order executes; which prices each type needs is in `REQUIRED_PRICES`."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    """How long an order stays working: the session, until canceled, or immediately (the rest is canceled)."""

    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class OrderStatus(StrEnum):
    """Where an order is in its life; legal moves are in `TRANSITIONS`."""

    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"


class EventKind(StrEnum):
    """What happened to an order (the names of Alpaca's trade-update events)."""

    ACCEPTED = "accepted"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"


_S = OrderStatus
#: The state machine: status -> the statuses an order in it may move to. Terminal statuses allow nothing.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        _S.NEW: frozenset({_S.ACCEPTED, _S.REJECTED, _S.CANCELED}),
        _S.ACCEPTED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED, _S.REJECTED}),
        _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED}),
        _S.FILLED: frozenset(),
        _S.CANCELED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.EXPIRED: frozenset(),
    }
)
TERMINAL_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN_STATUSES = frozenset(OrderStatus) - TERMINAL_STATUSES
#: The prices each order type needs; every other price must be None.
REQUIRED_PRICES: Mapping[OrderType, frozenset[str]] = MappingProxyType(
    {
        OrderType.MARKET: frozenset(),
        OrderType.LIMIT: frozenset({"limit_price"}),
        OrderType.STOP: frozenset({"stop_price"}),
        OrderType.STOP_LIMIT: frozenset({"limit_price", "stop_price"}),
    }
)
_FILL_STATUSES = frozenset({_S.PARTIALLY_FILLED, _S.FILLED})
_EVENT_OF: Mapping[OrderStatus, EventKind] = MappingProxyType(
    {
        _S.ACCEPTED: EventKind.ACCEPTED,
        _S.PARTIALLY_FILLED: EventKind.PARTIAL_FILL,
        _S.FILLED: EventKind.FILL,
        _S.CANCELED: EventKind.CANCELED,
        _S.REJECTED: EventKind.REJECTED,
        _S.EXPIRED: EventKind.EXPIRED,
    }
)


class _Ids:
    """Unique ids in UUID form: a random 80-bit prefix per process and a 48-bit counter.

    An id is made for every order and fill; ``uuid4`` costs a system call each (about 3 us, a tenth of a
    backtest's work per fill), this a counter step. The prefix is drawn again in a forked child, so processes
    never share a sequence, and the version/variant bits make the result parse as a UUID (Alpaca order ids
    are UUIDs; ours look the same).
    """

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        hexed = f"{int.from_bytes(os.urandom(10), 'big'):020x}"
        self.prefix = f"{hexed[:8]}-{hexed[8:12]}-4{hexed[13:16]}-{'89ab'[int(hexed[16], 16) % 4]}{hexed[17:20]}-"
        self.counter = itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):012x}"


#: A new unique id (UUID-formatted) for an order, a client order id or a fill.
new_id = _Ids()


@dataclass(slots=True, kw_only=True)
class Order:
    """An order from creation to its terminal state, with its fills summed up and an optional bracket.

    Construct it with keywords; values are validated and normalized (symbol upper-cased, enum strings
    converted, numbers made float, datetimes made UTC), and a bad one raises `OrderError` naming the field,
    the value and what is expected. Change it only through `transition` and `apply_fill`, which follow
    `TRANSITIONS` and return the `OrderEvent` to publish. Timestamps always come from the caller's clock.

    ``limit_price`` / ``stop_price`` are required exactly when ``type`` needs them (`REQUIRED_PRICES`). A
    bracket sets ``take_profit`` (a limit price) and ``stop_loss`` (a stop price, plus ``stop_loss_limit``
    for a stop-limit exit), on the profitable and the losing side of the entry; `bracket_legs` makes the
    exit orders once the entry has filled.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2024, 7, 1, 14, 30, tzinfo=timezone.utc)
    >>> order = Order(symbol="spy", side="buy", qty=10, type="limit", limit_price=545.0, created_at=now)
    >>> order.symbol, order.status.value, order.created_at == now
    ('SPY', 'new', True)
    >>> order.transition("accepted", now).kind.value
    'accepted'
    >>> order.apply_fill(Fill.for_order(order, qty=4, price=544.5, timestamp=now, fee=0.2)).kind.value
    'partial_fill'
    >>> order.filled_qty, order.remaining_qty, order.avg_fill_price, order.fees
    (4.0, 6.0, 544.5, 0.2)
    """

    id: str = field(default_factory=new_id)
    client_order_id: str = field(default_factory=new_id)
    symbol: str
    side: Side
    qty: float
    type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: float | None = None
    stop_price: float | None = None
    take_profit: float | None = None
    stop_loss: float | None = None
    stop_loss_limit: float | None = None
    parent_id: str | None = None
    oco_group: str | None = None
    status: OrderStatus = OrderStatus.NEW
    filled_qty: float = 0.0
    avg_fill_price: float | None = None
    fees: float = 0.0
    reject_reason: str | None = None
    strategy: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime
    #: Time of the last change; defaults to ``created_at``.
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        self.id = _text("id", self.id)
        self.client_order_id = _text("client_order_id", self.client_order_id, max_len=MAX_CLIENT_ORDER_ID_LEN)
        self.symbol = _symbol(self.symbol)
        self.side = _enum(Side, "side", self.side)
        self.qty = _number("qty", self.qty)
        self.type = _enum(OrderType, "type", self.type)
        self.time_in_force = _enum(TimeInForce, "time_in_force", self.time_in_force)
        self.status = _enum(OrderStatus, "status", self.status)
        self._check_prices()
        self._check_bracket()
        for name in ("parent_id", "oco_group", "reject_reason", "strategy"):
            if getattr(self, name) is not None:
                _text(name, getattr(self, name), optional=True)
        self.tags = _tags(self.tags)
        self.fees = _number("fees", self.fees, strict=False)
        self._check_fill_state()
        self.created_at = _utc("created_at", self.created_at)
        self.updated_at = self.created_at if self.updated_at is None else _utc("updated_at", self.updated_at)

    @classmethod
    def market(
        cls, *, symbol: str, side: Side | str, qty: float, created_at: datetime, strategy: str | None = None
    ) -> Order:
        """A new day market order: the same checks and result as ``Order(symbol=..., side=..., qty=...,
        created_at=..., strategy=...)`` at less cost: every other field is at its default, so only these five
        are checked (a backtest makes one order per trade). A test keeps the two equal field by field.

        >>> from datetime import datetime, timezone
        >>> now = datetime(2024, 7, 1, 14, 30, tzinfo=timezone.utc)
        >>> order = Order.market(symbol="spy", side="sell", qty=3, created_at=now)
        >>> order.symbol, order.side.value, order.qty, order.type.value, order.time_in_force.value
        ('SPY', 'sell', 3.0, 'market', 'day')
        """
        order = _new(cls)
        order.id, order.client_order_id = new_id(), new_id()
        order.symbol, order.side, order.qty = _symbol(symbol), _enum(Side, "side", side), _number("qty", qty)
        order.type, order.time_in_force, order.status = OrderType.MARKET, TimeInForce.DAY, OrderStatus.NEW
        order.limit_price = order.stop_price = order.take_profit = order.stop_loss = order.stop_loss_limit = None
        order.parent_id = order.oco_group = order.avg_fill_price = order.reject_reason = None
        order.filled_qty, order.fees, order.tags = 0.0, 0.0, {}
        order.strategy = _text("strategy", strategy, optional=True)
        order.created_at = order.updated_at = _utc("created_at", created_at)
        return order

    # -- state -----------------------------------------------------------------------------------------------

    @property
    def remaining_qty(self) -> float:
        """Quantity still to fill."""
        return max(self.qty - self.filled_qty, 0.0)

    @property
    def is_open(self) -> bool:
        """True while the order can still fill (new, accepted or partially filled)."""
        return self.status in OPEN_STATUSES

    @property
    def is_terminal(self) -> bool:
        """True once nothing more can happen to the order (filled, canceled, rejected or expired)."""
        return self.status in TERMINAL_STATUSES

    @property
    def signed_qty(self) -> float:
        """The ordered quantity, positive for a buy and negative for a sell."""
        return self.side.sign * self.qty

    @property
    def notional(self) -> float:
        """Value traded so far: ``filled_qty * avg_fill_price`` (0.0 before the first fill)."""
        return self.filled_qty * self.avg_fill_price if self.avg_fill_price is not None else 0.0

    def transition(self, status: OrderStatus | str, now: datetime, reason: str | None = None) -> OrderEvent:
        """Move to ``status`` (accepted, canceled, expired or rejected) at ``now`` and return the event.

        ``reason`` goes into the event, and into ``reject_reason`` on a rejection. Fills change the status
        through `apply_fill` instead, so that ``filled_qty`` always matches the status.

        Raises
        ------
        IllegalTransition
            The state machine has no move from the current status to ``status``.
        OrderError
            ``status`` is not a status, is a fill status, or ``now`` is not a timezone-aware datetime.
        """
        target = _enum(OrderStatus, "status", status)
        now = _utc("now", now)
        self._check_transition(target)
        if target in _FILL_STATUSES:
            raise _invalid(
                "status",
                target.value,
                "accepted, canceled, expired or rejected: fills change the status through apply_fill(fill)",
                context=f"order {self.id}",
            )
        event = _event(self, _EVENT_OF[target], now, None, _text("reason", reason, optional=True))
        self.status, self.updated_at = target, event.timestamp
        if target is OrderStatus.REJECTED:
            self.reject_reason = event.reason
        return event

    def apply_fill(self, fill: Fill) -> OrderEvent:
        """Add one execution: ``filled_qty``, the volume-weighted ``avg_fill_price`` and ``fees`` are updated
        and the order becomes partially filled or filled (at ``fill.timestamp``). Returns the fill event.

        Fills summing to the qty within `QTY_RTOL` (float sums of fractional fills) fill the order exactly.

        Raises
        ------
        OrderError
            The fill belongs to another order (id, client_order_id, symbol or side differ) or is larger
            than the remaining quantity. The order is left unchanged.
        IllegalTransition
            The order cannot fill in its status (new, or terminal).
        """
        if not (
            fill.order_id == self.id
            and fill.client_order_id == self.client_order_id
            and fill.symbol == self.symbol
            and fill.side is self.side
        ):
            self._refuse_fill(fill)
        total = self.filled_qty + fill.qty
        tolerance = QTY_RTOL * self.qty
        target = OrderStatus.FILLED if total >= self.qty - tolerance else OrderStatus.PARTIALLY_FILLED
        self._check_transition(target)
        if total > self.qty + tolerance:
            raise _invalid(
                "fill.qty",
                fill.qty,
                f"<= the remaining qty {self.remaining_qty!r} ({self.qty!r} ordered, {self.filled_qty!r} filled)",
                f"order {self.id}",
            )
        event = _event(self, _EVENT_OF[target], fill.timestamp, fill, None)
        if self.filled_qty == 0.0:  # exact for a single fill (no round trip through p * q / q)
            self.avg_fill_price = fill.price
        else:
            self.avg_fill_price = (self.avg_fill_price * self.filled_qty + fill.price * fill.qty) / total
        self.filled_qty = self.qty if target is OrderStatus.FILLED else total
        self.fees += fill.fee
        self.status, self.updated_at = target, fill.timestamp
        return event

    def bracket_legs(self, now: datetime) -> tuple[Order, Order]:
        """The exit orders of a bracket, made at ``now`` once the entry has filled: ``(take_profit, stop_loss)``.

        Both are on the opposite side for the filled quantity (the whole qty once filled), good till
        canceled, with ``parent_id`` set to this order and one shared ``oco_group`` (when one fills, the other
        is canceled). The take profit is a limit order at ``take_profit``; the stop loss a stop order at
        ``stop_loss``, or a stop-limit when ``stop_loss_limit`` is set. Their ids derive from this order's, so
        calling again yields the same ``client_order_id``s and a router can refuse to send them twice.

        Raises
        ------
        OrderError
            This order has no bracket, or nothing of it has filled yet.
        """
        context, now = f"order {self.id}", _utc("now", now)
        if self.take_profit is None:
            raise _invalid(
                "take_profit", None, "a price: only a bracket order (take_profit and stop_loss set) has legs", context
            )
        if self.filled_qty <= 0:
            raise _invalid(
                "filled_qty",
                self.filled_qty,
                "> 0: bracket legs protect a filled entry, make them once the parent fills",
                context,
            )
        common = dict(
            symbol=self.symbol,
            side=self.side.opposite,
            qty=self.filled_qty,
            time_in_force=TimeInForce.GTC,
            parent_id=self.id,
            oco_group=self.id,
            strategy=self.strategy,
            tags=self.tags,
            created_at=now,
        )
        take = Order(**self._leg_ids("take_profit"), type=OrderType.LIMIT, limit_price=self.take_profit, **common)
        stop = Order(
            **self._leg_ids("stop_loss"),
            type=OrderType.STOP if self.stop_loss_limit is None else OrderType.STOP_LIMIT,
            stop_price=self.stop_loss,
            limit_price=self.stop_loss_limit,
            **common,
        )
        return take, stop

    # -- persistence -----------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict of every field (enums as strings, datetimes as ISO 8601)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild an order from `to_dict` output, validating it like a new one."""
        return _from_dict(cls, data)

    # -- validation helpers ----------------------------------------------------------------------------------

    def _check_transition(self, target: OrderStatus) -> None:
        allowed = TRANSITIONS[self.status]
        if target not in allowed:
            names = ", ".join(s.value for s in OrderStatus if s in allowed) or f"none, {self.status} is terminal"
            raise IllegalTransition(
                f"order {self.id} (client_order_id {self.client_order_id}, {self.side} {self.qty:g} "
                f"{self.symbol}): illegal transition {self.status} -> {target}; allowed from {self.status}: "
                f"{names}",
                order_id=self.id,
                from_status=self.status,
                to_status=target,
            )

    def _refuse_fill(self, fill: Fill) -> None:
        """Raise for a fill that belongs to another order, naming the first field that differs."""
        for name in ("order_id", "client_order_id", "symbol", "side"):
            mine = str(self.id if name == "order_id" else getattr(self, name))
            if str(getattr(fill, name)) != mine:
                raise _invalid(
                    f"fill.{name}", str(getattr(fill, name)), f"{mine!r}, the order's {name}", f"order {self.id}"
                )

    def _check_prices(self) -> None:
        if self.type is OrderType.MARKET and self.limit_price is None and self.stop_price is None:
            return  # the common case, kept cheap
        needed = REQUIRED_PRICES[self.type]
        for name in ("limit_price", "stop_price"):
            value = getattr(self, name)
            if name in needed:
                setattr(self, name, _number(name, value, why=f" (a {self.type} order needs it)"))
            elif value is not None:
                raise _invalid(name, value, f"None: a {self.type} order takes no {name}")

    def _check_bracket(self) -> None:
        if self.take_profit is None and self.stop_loss is None:
            if self.stop_loss_limit is not None:
                raise _invalid("stop_loss_limit", self.stop_loss_limit, "None: it needs a bracket's stop_loss")
            return
        for name in ("take_profit", "stop_loss"):
            setattr(self, name, _number(name, getattr(self, name), why=" (a bracket needs take_profit and stop_loss)"))
        take, stop, sign = self.take_profit, self.stop_loss, self.side.sign
        above, below = (">", "<") if sign > 0 else ("<", ">")
        bracket = f"a {self.side} bracket"
        if sign * (take - stop) <= 0:
            raise _invalid("take_profit", take, f"{above} stop_loss {stop!r} for {bracket}")
        entry = self.limit_price if self.limit_price is not None else self.stop_price
        if entry is not None and sign * (take - entry) <= 0:
            raise _invalid("take_profit", take, f"{above} the entry price {entry!r} for {bracket}")
        if entry is not None and sign * (entry - stop) <= 0:
            raise _invalid("stop_loss", stop, f"{below} the entry price {entry!r} for {bracket}")
        if self.stop_loss_limit is not None:
            self.stop_loss_limit = _number("stop_loss_limit", self.stop_loss_limit)
            if sign * (stop - self.stop_loss_limit) < 0:
                raise _invalid(
                    "stop_loss_limit",
                    self.stop_loss_limit,
                    f"{below}= stop_loss {stop!r} for {bracket} (the exit's limit lies beyond its stop)",
                )

    def _check_fill_state(self) -> None:
        if self.status is OrderStatus.NEW and self.filled_qty == 0.0 and self.avg_fill_price is None:
            self.filled_qty = 0.0
            return  # a new order: the common case, kept cheap
        done = self.filled_qty = _number("filled_qty", self.filled_qty, strict=False)
        if self.status is OrderStatus.FILLED:
            ok, expected = done == self.qty, f"qty {self.qty!r}"
        elif self.status is OrderStatus.PARTIALLY_FILLED:
            ok, expected = 0 < done < self.qty, f"between 0 and qty {self.qty!r}"
        elif self.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED):
            ok, expected = done < self.qty, f"< qty {self.qty!r}"
        else:
            ok, expected = done == 0, "0"
        if not ok:
            raise _invalid("filled_qty", done, f"{expected} for status {self.status}")
        if done == 0:
            if self.avg_fill_price is not None:
                raise _invalid("avg_fill_price", self.avg_fill_price, "None before any fill")
        else:
            self.avg_fill_price = _number("avg_fill_price", self.avg_fill_price, why=" once filled_qty > 0")

    def _leg_ids(self, leg: str) -> dict[str, str]:
        return {
            "id": str(uuid.uuid5(_LEG_NAMESPACE, f"{self.id}/{leg}")),
            "client_order_id": str(uuid.uuid5(_LEG_NAMESPACE, f"{self.client_order_id}/{leg}")),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One execution of (part of) an order: qty at price, with its fee (a non-negative cost) and time.

    Validated like `Order` (``qty`` and ``price`` finite and > 0, ``fee`` finite and >= 0, ``timestamp``
    timezone-aware); `Order.apply_fill` checks that it belongs to the order. ``liquidity`` (e.g. maker /
    taker) and ``venue`` are free text when the broker reports them.
    """

    fill_id: str = field(default_factory=new_id)
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: float
    price: float
    fee: float = 0.0
    timestamp: datetime
    liquidity: str | None = None
    venue: str | None = None

    def __post_init__(self) -> None:
        for name, value in (
            ("fill_id", _text("fill_id", self.fill_id)),
            ("order_id", _text("order_id", self.order_id)),
            ("client_order_id", _text("client_order_id", self.client_order_id, max_len=MAX_CLIENT_ORDER_ID_LEN)),
            ("symbol", _symbol(self.symbol)),
            ("side", _enum(Side, "side", self.side)),
            ("qty", _number("qty", self.qty)),
            ("price", _number("price", self.price)),
            ("fee", _number("fee", self.fee, strict=False)),
            ("timestamp", _utc("timestamp", self.timestamp)),
            ("liquidity", _text("liquidity", self.liquidity, optional=True)),
            ("venue", _text("venue", self.venue, optional=True)),
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def for_order(
        cls,
        order: Order,
        *,
        qty: float,
        price: float,
        timestamp: datetime,
        fee: float = 0.0,
        liquidity: str | None = None,
        venue: str | None = None,
    ) -> Fill:
        """A fill of ``order`` (its ids, symbol and side, valid already) for ``qty`` at ``price``; the other
        values are checked as in the constructor."""
        return _fill(
            order,
            _number("qty", qty),
            _number("price", price),
            _number("fee", fee, strict=False),
            _utc("timestamp", timestamp),
            _text("liquidity", liquidity, optional=True),
            _text("venue", venue, optional=True),
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict of every field (enums as strings, datetimes as ISO 8601)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a fill from `to_dict` output, validating it like a new one."""
        return _from_dict(cls, data)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    """What just happened to an order, as returned by `Order.transition` / `Order.apply_fill`: the unit of the
    event stream that positions, risk, the store and the dashboard subscribe to. Fill events carry the `Fill`.
    """

    order_id: str
    client_order_id: str
    kind: EventKind
    timestamp: datetime
    fill: Fill | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        kind = _enum(EventKind, "kind", self.kind)
        is_fill = kind in (EventKind.FILL, EventKind.PARTIAL_FILL)
        if is_fill != isinstance(self.fill, Fill):
            raise _invalid("fill", self.fill, f"{'a Fill' if is_fill else 'None'} for a {kind} event")
        for name, value in (
            ("order_id", _text("order_id", self.order_id)),
            ("client_order_id", _text("client_order_id", self.client_order_id)),
            ("kind", kind),
            ("timestamp", _utc("timestamp", self.timestamp)),
            ("reason", _text("reason", self.reason, optional=True)),
        ):
            object.__setattr__(self, name, value)


# -- trusted construction --------------------------------------------------------------------------------------
# The model's own methods make events and fills from an order that is valid already (its ids, symbol, side) and
# values they checked; they skip ``__post_init__``, which would check everything again for every order and fill
# of a backtest. Each builder sets every field of its (frozen) class.

_new = object.__new__
_set = object.__setattr__


def _event(order: Order, kind: EventKind, timestamp: datetime, fill: Fill | None, reason: str | None) -> OrderEvent:
    event = _new(OrderEvent)
    _set(event, "order_id", order.id)
    _set(event, "client_order_id", order.client_order_id)
    _set(event, "kind", kind)
    _set(event, "timestamp", timestamp)
    _set(event, "fill", fill)
    _set(event, "reason", reason)
    return event


def _fill(order: Order, qty: float, price: float, fee: float, timestamp: datetime, liquidity, venue) -> Fill:
    fill = _new(Fill)
    _set(fill, "fill_id", new_id())
    _set(fill, "order_id", order.id)
    _set(fill, "client_order_id", order.client_order_id)
    _set(fill, "symbol", order.symbol)
    _set(fill, "side", order.side)
    _set(fill, "qty", qty)
    _set(fill, "price", price)
    _set(fill, "fee", fee)
    _set(fill, "timestamp", timestamp)
    _set(fill, "liquidity", liquidity)
    _set(fill, "venue", venue)
    return fill


# -- field validation -------------------------------------------------------------------------------------------


def _invalid(name: str, value: Any, expected: str, context: str = "") -> OrderError:
    prefix = f"{context}: " if context else ""
    return OrderError(
        f"{prefix}{name}={value!r} is invalid: expected {expected}", field=name, value=value, expected=expected
    )


def _number(name: str, value: Any, *, strict: bool = True, why: str = "") -> float:
    """``value`` as a float, finite and > 0 (``strict``) or >= 0."""
    if isinstance(value, float) or type(value) is int:  # the common cases, without the slow ABC check
        ok = math.isfinite(value)
    else:
        ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value > 0 if strict else value >= 0):
        raise _invalid(name, value, f"a finite number {'>' if strict else '>='} 0{why}")
    return float(value)


def _text(name: str, value: Any, *, optional: bool = False, max_len: int | None = None) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or (max_len is not None and len(value) > max_len):
        limit = f" of at most {max_len} characters" if max_len is not None else ""
        raise _invalid(name, value, f"a non-empty string{limit}{' or None' if optional else ''}")
    return value


def _symbol(value: Any) -> str:
    if isinstance(value, str):
        checked = _checked_symbol(value)
        if checked is not None:
            return checked
    raise _invalid(
        "symbol", value, "a ticker of letters, digits, '.', '_', '-' or '/' such as 'SPY', 'BRK.B' or 'BTC/USD'"
    )


@functools.lru_cache(maxsize=4096)
def _checked_symbol(value: str) -> str | None:
    """``value`` upper-cased if it is a valid ticker, else None (memoized: an account trades few symbols)."""
    upper = value.upper()
    return upper if _SYMBOL.fullmatch(upper) else None


def _enum(cls: type[_E], name: str, value: Any) -> _E:
    if type(value) is cls:  # already a member: the common case, kept cheap
        return value
    try:
        return cls(value.lower() if isinstance(value, str) else value)
    except (ValueError, TypeError):
        raise _invalid(name, value, "one of " + ", ".join(m.value for m in cls)) from None


def _utc(name: str, value: Any) -> datetime:
    """A timezone-aware datetime (or ISO 8601 string) as a plain UTC `datetime` (pandas Timestamps too)."""
    if type(value) is datetime and value.tzinfo is UTC:  # already normalized: the common case, kept cheap
        return value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid(name, value, "an ISO 8601 timestamp with a UTC offset") from None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise _invalid(name, value, "a timezone-aware datetime (from the caller's clock)")
    v = value.astimezone(UTC)
    return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=UTC)


def _tags(value: Any) -> dict[str, str]:
    if type(value) is dict and not value:  # the common case, kept cheap
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _invalid("tags", value, "a mapping of str to str")
    return dict(value)


def _to_dict(obj: Order | Fill) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, StrEnum):
            return value.value
        if isinstance(value, datetime):
            return value.isoformat()
        return dict(value) if isinstance(value, dict) else value

    return {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}


def _from_dict(cls: type[_T], data: Mapping[str, Any]) -> _T:
    kind = cls.__name__
    if not isinstance(data, Mapping):
        raise _invalid(kind, data, f"a mapping of {kind} field names to values")
    names = [f.name for f in fields(cls)]
    unknown = [key for key in data if key not in names]
    if unknown:
        raise _invalid(str(unknown[0]), data[unknown[0]], f"one of the {kind} fields: {', '.join(names)}")
    missing = [
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING and f.name not in data
    ]
    if missing:
        raise _invalid(missing[0], None, f"a value: {kind} needs {', '.join(missing)}")
    return cls(**data)
