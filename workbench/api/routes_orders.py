"""``/api/v1/orders``: the orders of the trading account; a manual order goes through the RiskManager."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from workbench.api.deps import State, Trader, TradingDesk, record, require
from workbench.api.errors import ERROR_RESPONSES, ApiError, documented
from workbench.api.schemas import OrderIn, OrderOut
from workbench.auth.principal import Scope
from workbench.brokers import BrokerError
from workbench.orders.model import Order, OrderError
from workbench.services.desk import DeskError, OrderNotFound, RiskDenied

router = APIRouter(prefix="/api/v1/orders", tags=["orders"], responses={**ERROR_RESPONSES, **documented(503)})
OrderId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="The order's id.")]


@router.get("", dependencies=[Depends(require(Scope.READ))])
def list_orders(trading: TradingDesk, open_only: bool = False) -> list[OrderOut]:
    """The account's orders (strategy and manual), newest first; only working ones with ``open_only``."""
    return [OrderOut.of(order) for order in trading.orders(open_only=open_only)]


@router.get("/{order_id}", responses=documented(404), dependencies=[Depends(require(Scope.READ))])
def get_order(order_id: OrderId, trading: TradingDesk) -> OrderOut:
    """One order as it stands."""
    try:
        return OrderOut.of(trading.order(order_id))
    except OrderNotFound as exc:
        raise ApiError(404, str(exc)) from None


@router.post("", status_code=201, responses=documented(409, 502))
def submit_order(
    body: OrderIn,
    request: Request,
    who: Trader,
    state: State,
    trading: TradingDesk,
) -> OrderOut:
    """Submit a manual order. It passes the same RiskManager as a strategy's orders: refused (409, naming the
    ``rule``) when over a size cap, outside the allowed symbols or trading hours, or while trading is halted.
    The broker's answer (filled, working, or rejected with a reason) is in the returned order."""
    try:
        order = Order(
            **body.model_dump(exclude_none=True),
            created_at=trading.context.om.clock.now(),
            tags={"source": "api", "user": who.username},
        )
    except OrderError as exc:
        raise ApiError(422, str(exc)) from None
    target = f"order:{order.id}"
    try:
        sent = trading.submit(order)
    except RiskDenied as exc:
        record(state, request, who, "order.submit", target, outcome="failure", reason="risk_denied", rule=exc.rule)
        raise ApiError(409, str(exc), code="risk_denied", rule=exc.rule) from None
    except (DeskError, OrderError) as exc:
        record(state, request, who, "order.submit", target, outcome="failure", reason=str(exc))
        raise ApiError(409, str(exc)) from None
    except BrokerError as exc:
        record(state, request, who, "order.submit", target, outcome="failure", reason=str(exc))
        raise ApiError(503 if exc.transient else 502, f"broker: {exc}") from None
    record(state, request, who, "order.submit", target, symbol=sent.symbol, side=sent.side.value, qty=sent.qty)
    return OrderOut.of(sent)


@router.post("/{order_id}/cancel", responses=documented(404, 409, 502))
def cancel_order(
    order_id: OrderId,
    request: Request,
    who: Trader,
    state: State,
    trading: TradingDesk,
) -> OrderOut:
    """Cancel a working order."""
    try:
        canceled = trading.cancel(order_id)
    except OrderNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except DeskError as exc:
        raise ApiError(409, str(exc)) from None
    except BrokerError as exc:
        raise ApiError(503 if exc.transient else 502, f"broker: {exc}") from None
    record(state, request, who, "order.cancel", f"order:{order_id}")
    return OrderOut.of(canceled)
