"""Alpaca's wire objects and the workbench's: order requests, order states, executions and errors.

alpaca-py parses Alpaca's JSON into pydantic models (strict on enums and UUIDs, numbers often left as strings);
this module turns them into plain values the broker works with (`RemoteOrder`, `Execution`) and our orders
into alpaca-py requests. Alpaca's eighteen order statuses map onto our seven: ``filled``, ``canceled``,
``expired`` and ``rejected`` are ours, ``replaced`` ends an order as ``canceled`` (its replacement is a new
order), and every other status (``new``, ``pending_new``, ``held``, ``done_for_day``, ``pending_cancel``, ...)
means the order still works: ``accepted``, or ``partially_filled`` once something filled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass
from alpaca.trading.enums import OrderSide as AlpacaSide
from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)

from workbench.brokers import BrokerError
from workbench.data.request_budget import retry_after
from workbench.orders.model import QTY_RTOL, Order, OrderStatus, OrderType

#: Alpaca's fractional quantities carry at most 9 decimals.
QTY_DECIMALS = 9
#: Alpaca statuses that end an order without (more) fills, and ours for them.
ENDINGS = {
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "replaced": OrderStatus.CANCELED,
}
_TYPES = {t.value: t for t in OrderType}
_TIME_IN_FORCE = {"day", "gtc", "ioc"}


@dataclass(frozen=True)
class RemoteOrder:
    """Alpaca's view of one order: its ids, what was asked, and how far it got (cumulative fills)."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    time_in_force: str
    limit_price: float | None
    stop_price: float | None
    status: str
    filled_qty: float
    filled_avg_price: float | None
    created_at: datetime
    updated_at: datetime
    legs: tuple[RemoteOrder, ...] = ()
    replaced_by: str | None = None

    @classmethod
    def of(cls, order: AlpacaOrder) -> RemoteOrder:
        """The plain values of an alpaca-py order (numbers arrive as strings)."""
        return cls(
            id=str(order.id),
            client_order_id=order.client_order_id,
            symbol=order.symbol or "",
            side=_value(order.side),
            qty=_float(order.qty) or 0.0,
            type=_value(order.type),
            time_in_force=_value(order.time_in_force),
            limit_price=_float(order.limit_price),
            stop_price=_float(order.stop_price),
            status=_value(order.status),
            filled_qty=_float(order.filled_qty) or 0.0,
            filled_avg_price=_float(order.filled_avg_price),
            created_at=_utc(order.created_at),
            updated_at=_utc(order.updated_at),
            legs=tuple(cls.of(leg) for leg in order.legs or ()),
            replaced_by=None if order.replaced_by is None else str(order.replaced_by),
        )

    @property
    def ending(self) -> OrderStatus | None:
        """Our status for an order Alpaca ended without filling it all (canceled, expired, rejected), else None."""
        return ENDINGS.get(self.status)

    @property
    def reason(self) -> str:
        """Why the order ended, in words."""
        if self.status == "replaced":
            return f"replaced at alpaca by order {self.replaced_by}"
        return f"{self.status} at alpaca"

    def to_order(self, *, parent_id: str | None = None, current: bool = False, id: str | None = None) -> Order:
        """Our `Order` for this one, under Alpaca's id (or ``id``): status ``new``, for an order to follow from
        here (a bracket's leg with ``parent_id``, a replacement), or with ``current`` its state at Alpaca now.

        Raises BrokerError for what our model cannot hold (trailing stops, notional orders, fok/opg/cls).
        """
        if self.type not in _TYPES or self.qty <= 0 or self.time_in_force not in _TIME_IN_FORCE:
            raise BrokerError(
                f"alpaca order {self.id} ({self.type}, qty {self.qty}, {self.time_in_force}) cannot be tracked: "
                "expected a market, limit, stop or stop_limit order with a qty, day, gtc or ioc"
            )
        state: dict[str, Any] = {}
        if current:
            filled = min(self.filled_qty, self.qty)
            if self.status == "filled":
                status, filled = OrderStatus.FILLED, self.qty
            elif self.ending is not None:
                status = self.ending if filled == 0 or self.ending is not OrderStatus.REJECTED else OrderStatus.CANCELED
            else:
                status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
            state = {
                "status": status,
                "filled_qty": filled,
                "avg_fill_price": self.filled_avg_price if filled > 0 else None,
                "updated_at": self.updated_at,
            }
        return Order(
            id=id or self.id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            type=self.type,
            time_in_force=self.time_in_force,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            parent_id=parent_id,
            oco_group=parent_id,
            created_at=self.created_at,
            **state,
        )


@dataclass(frozen=True)
class Execution:
    """One execution of an Alpaca order: ``qty`` at ``price``, ``cum_qty`` filled after it; ``id`` is Alpaca's
    execution id (the fill's id in our records, so an execution is recorded once)."""

    id: str
    order_id: str
    qty: float
    price: float
    cum_qty: float
    timestamp: datetime

    @classmethod
    def of_update(cls, update: TradeUpdate) -> Execution:
        """The execution a ``fill`` / ``partial_fill`` trade update reports."""
        return cls(
            id=str(update.execution_id),
            order_id=str(update.order.id),
            qty=float(update.qty),
            price=float(update.price),
            cum_qty=_float(update.order.filled_qty) or 0.0,
            timestamp=_utc(update.timestamp),
        )

    @classmethod
    def of_activity(cls, activity: dict[str, Any]) -> Execution:
        """The execution of a FILL account activity (its id is ``<time>::<execution id>``)."""
        try:
            return cls(
                id=str(activity["id"]).rpartition("::")[2],
                order_id=str(activity["order_id"]),
                qty=float(activity["qty"]),
                price=float(activity["price"]),
                cum_qty=float(activity["cum_qty"]),
                timestamp=_utc(datetime.fromisoformat(str(activity["transaction_time"]).replace("Z", "+00:00"))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BrokerError(f"alpaca sent a FILL activity that cannot be read ({exc!r}): {activity!r}") from None


def order_request(order: Order) -> OrderRequest:
    """The alpaca-py request that places ``order`` under its ``client_order_id`` (a bracket with its exits)."""
    common: dict[str, Any] = {
        "symbol": order.symbol,
        "qty": round(order.qty, QTY_DECIMALS),
        "side": AlpacaSide(order.side.value),
        "time_in_force": AlpacaTimeInForce(order.time_in_force.value),
        "client_order_id": order.client_order_id,
    }
    if order.take_profit is not None:
        common["order_class"] = OrderClass.BRACKET
        common["take_profit"] = TakeProfitRequest(limit_price=order.take_profit)
        common["stop_loss"] = StopLossRequest(stop_price=order.stop_loss, limit_price=order.stop_loss_limit)
    if order.type is OrderType.LIMIT:
        return LimitOrderRequest(**common, limit_price=order.limit_price)
    if order.type is OrderType.STOP:
        return StopOrderRequest(**common, stop_price=order.stop_price)
    if order.type is OrderType.STOP_LIMIT:
        return StopLimitOrderRequest(**common, stop_price=order.stop_price, limit_price=order.limit_price)
    return MarketOrderRequest(**common)


def same_qty(a: float, b: float, qty: float) -> bool:
    """Whether two cumulative fill quantities of an order of ``qty`` are equal (within `QTY_RTOL`)."""
    return abs(a - b) <= QTY_RTOL * max(qty, 1.0)


def broker_error(exc: Exception, what: str) -> BrokerError:
    """Our error for a failed Alpaca call: rate limits (429, with their ``Retry-After``), server errors (5xx) and
    network failures are transient; any other answer is not, and carries Alpaca's message and code."""
    if isinstance(exc, APIError):
        status = exc.status_code or 0
        transient = status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR
        wait = retry_after(getattr(exc.response, "headers", None)) if status == HTTPStatus.TOO_MANY_REQUESTS else None
        message = f"alpaca {what}: {alpaca_message(exc)} (HTTP {status})"
        return BrokerError(message, transient=transient, retry_after=wait)
    return BrokerError(f"alpaca {what}: {type(exc).__name__}: {exc}", transient=True)


def alpaca_message(exc: APIError) -> str:
    """Alpaca's ``message`` (with its ``code``) from an error answer, else the body as it came."""
    try:
        body = json.loads(str(exc))
        return f"{body['message']} (code {body['code']})"
    except (ValueError, KeyError, TypeError):
        return str(exc)


def _value(item: Any) -> str:
    return str(getattr(item, "value", item) or "")


def _float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
