"""Alpaca's trading API on a `LoopbackServer`: an account, orders that fill as a test says, and the stream.

REST, as alpaca-py's ``TradingClient`` calls it (``shared/research/data-broker.md`` section 3): the account and
the market clock; ``POST /v2/orders`` (market, limit, stop, stop-limit, bracket; a duplicate ``client_order_id`` is
a 422, as at Alpaca); ``GET /v2/orders`` (status, after, direction, nested, symbols), by id and by
``client_order_id``; ``PATCH`` (replace) and ``DELETE`` (cancel: 204, 422 when not cancelable) of one order;
positions; and the fill activities (``GET /v2/account/activities/FILL``), which a client reads to catch up.

How orders fill:

* a market order fills at the symbol's quote (`TradingApi.quote`) as soon as there is one, in the parts
  `TradingApi.partial` says (fractions of its qty), `TradingApi.fill_interval` seconds apart (0: at once, before
  the POST is answered);
* limit and stop orders rest until a quote reaches them; a bracket's legs are ``held`` until its entry has filled,
  then work as one-cancels-other;
* a test scripts the next orders with `TradingApi.plan` (other fill parts or price, a rejection after acceptance,
  or nothing at all), refuses the next POST with `TradingApi.reject_next` (the order is never created), or acts
  on an order itself (`fill`, `cancel`, `expire`).

The JSON ``trade_updates`` stream at ``/stream`` (section 5): ``authenticate``, then ``listen``; every order change
afterwards is sent to each listening connection, in order. Alpaca does not replay updates: those made while no
connection listens are lost (`TradingApi.missed`). `TradingApi.drop_stream` closes the connections now;
`TradingApi.offline` refuses new ones until `TradingApi.online`.

Money is a float, as the workbench keeps it, with the plain arithmetic of a cash account (a buy costs qty x
price); positions are average-cost. Alpaca charges no commission.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from .core import LoopbackServer, Reply, Request, api_error

OPEN = frozenset({"new", "accepted", "pending_new", "partially_filled", "held"})
_TYPES = {
    "market": set(),
    "limit": {"limit_price"},
    "stop": {"stop_price"},
    "stop_limit": {"limit_price", "stop_price"},
}
_ASSET = "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415"


@dataclass(frozen=True)
class Plan:
    """What happens to one order after it is accepted: ``fills`` (fractions of its qty, at ``price`` or the quote,
    ``interval`` seconds apart), or a ``reject`` reason, or nothing (``hold``) until the test acts."""

    fills: tuple[float, ...] | None = None
    price: float | None = None
    interval: float | None = None
    reject: str | None = None
    hold: bool = False


@dataclass(eq=False)
class FakeOrder:
    """One order as the fake keeps it; `wire` is Alpaca's JSON of it."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    time_in_force: str
    limit_price: float | None
    stop_price: float | None
    order_class: str
    created_at: datetime
    status: str = "accepted"
    filled_qty: float = 0.0
    filled_avg_price: float | None = None
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    failed_at: datetime | None = None
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    legs: list[FakeOrder] = field(default_factory=list)
    parent: FakeOrder | None = None
    plan: Plan | None = None

    @property
    def remaining(self) -> float:
        return self.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def wire(self, nested: bool = True) -> dict[str, Any]:
        """Alpaca's order object (3.4): every field, numbers as strings, legs when ``nested``."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at or self.created_at),
            "submitted_at": _iso(self.created_at),
            "filled_at": _iso(self.filled_at),
            "expired_at": _iso(self.expired_at),
            "expires_at": None,
            "canceled_at": _iso(self.canceled_at),
            "failed_at": _iso(self.failed_at),
            "replaced_at": _iso(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": _ASSET,
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": _num(self.qty),
            "filled_qty": _num(self.filled_qty),
            "filled_avg_price": _num(self.filled_avg_price),
            "order_class": self.order_class,
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": None,
            "time_in_force": self.time_in_force,
            "limit_price": _num(self.limit_price),
            "stop_price": _num(self.stop_price),
            "status": self.status,
            "extended_hours": False,
            "legs": [leg.wire() for leg in self.legs] if nested and self.legs else None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }


@dataclass(eq=False)
class _Listener:
    connection: ServerConnection
    queue: asyncio.Queue[dict[str, Any]]


class TradingApi:
    """The trading API on `server`, with ``cash`` in a fresh account (see the module docstring).

    Examples
    --------
    >>> with LoopbackServer() as server:  # doctest: +SKIP
    ...     trading = TradingApi(server, cash=10_000)
    ...     trading.quote("SPY", 500.0)
    ...     client = TradingClient(server.api_key, server.secret_key, url_override=server.rest_url)
    ...     client.submit_order(MarketOrderRequest(symbol="SPY", qty=2, side="buy", time_in_force="day"))
    """

    def __init__(
        self,
        server: LoopbackServer,
        *,
        cash: float = 100_000.0,
        partial: tuple[float, ...] = (1.0,),
        fill_interval: float = 0.0,
    ) -> None:
        self.server = server
        self.cash = float(cash)
        #: How market orders fill by default: fractions of the qty, this many seconds apart.
        self.partial = partial
        self.fill_interval = fill_interval
        self.market_open = True
        self.orders: dict[str, FakeOrder] = {}
        #: symbol -> (signed qty, average entry price)
        self.positions: dict[str, tuple[float, float]] = {}
        self.quotes: dict[str, float] = {}
        #: Every execution as a FILL activity, in time order.
        self.activities: list[dict[str, Any]] = []
        #: Every trade update made, and those made while no connection listened.
        self.updates: list[dict[str, Any]] = []
        self.missed: list[dict[str, Any]] = []
        #: Stream logins accepted.
        self.connections = 0
        self._listeners: list[_Listener] = []
        self._offline = False
        self._plans: list[Plan] = []
        self._rejects: list[tuple[int, str]] = []
        self._lost_replies = 0
        self._lost_cancel_replies = 0
        self._pending = 0
        routes: list[tuple[str, str, Callable[[Request], Reply]]] = [
            ("GET", "/v2/account", self._account),
            ("GET", "/v2/clock", self._clock),
            ("POST", "/v2/orders", self._submit),
            ("GET", "/v2/orders", self._list),
            ("GET", "/v2/orders:by_client_order_id", self._by_client_id),
            ("GET", "/v2/orders/{order_id}", self._get),
            ("PATCH", "/v2/orders/{order_id}", self._replace),
            ("DELETE", "/v2/orders/{order_id}", self._cancel_request),
            ("GET", "/v2/positions", self._positions),
            ("GET", "/v2/positions/{symbol}", self._position),
            ("GET", "/v2/account/activities/{activity_type}", self._activities),
        ]
        for method, path, handler in routes:
            server.route(method, path, handler)
        server.websocket("/stream", self._stream)

    # -- what a test does ----------------------------------------------------------------------------------

    def quote(self, symbol: str, price: float) -> None:
        """Set ``symbol``'s price: working market orders fill at it, resting ones it reaches fill."""
        with self.server.lock:
            self.quotes[symbol] = float(price)
            for order in [o for o in self.orders.values() if o.symbol == symbol and o.is_open]:
                self._work(order)

    def close_market(self) -> None:
        """The market closes: market orders sent from now on queue (working, unfilled) until `open_market`."""
        with self.server.lock:
            self.market_open = False

    def open_market(self) -> None:
        """The market opens: queued market orders fill at their symbol's quote."""
        with self.server.lock:
            self.market_open = True
            for order in [o for o in self.orders.values() if o.is_open]:
                self._work(order)

    def plan(self, *plans: Plan) -> None:
        """Script the next orders accepted, one `Plan` each (then the default behaviour again)."""
        with self.server.lock:
            self._plans.extend(plans)

    def reject_next(self, message: str = "insufficient buying power", status: int = HTTPStatus.FORBIDDEN) -> None:
        """Answer the next order POST with ``status`` and ``message`` (Alpaca's error shape); nothing is created."""
        with self.server.lock:
            self._rejects.append((status, message))

    def lose_next_reply(self) -> None:
        """Create the next order POSTed, then answer HTTP 500, as if the answer were lost on the way back."""
        with self.server.lock:
            self._lost_replies += 1

    def lose_next_cancel_reply(self) -> None:
        """Cancel on the next DELETE of an open order, then answer HTTP 500, as if the answer were lost."""
        with self.server.lock:
            self._lost_cancel_replies += 1

    def fill(self, ref: str, qty: float | None = None, price: float | None = None) -> None:
        """Fill ``qty`` (default: all that is left) of order ``ref`` (id or client_order_id) at ``price``
        (default: its limit, else the quote)."""
        with self.server.lock:
            order = self.order(ref)
            fallback = order.limit_price if order.limit_price is not None else self.quotes[order.symbol]
            self._execute(order, order.remaining if qty is None else qty, fallback if price is None else price)

    def cancel(self, ref: str) -> None:
        """Cancel order ``ref`` at the broker (as a person on Alpaca's dashboard would)."""
        with self.server.lock:
            self._end(self.order(ref), "canceled")

    def expire(self, ref: str) -> None:
        """Expire order ``ref`` (a day order at the close)."""
        with self.server.lock:
            self._end(self.order(ref), "expired")

    def order(self, ref: str) -> FakeOrder:
        """The order with id or client_order_id ``ref``."""
        found = self.orders.get(ref) or next((o for o in self.orders.values() if o.client_order_id == ref), None)
        if found is None:
            raise KeyError(f"no order {ref!r} at the fake")
        return found

    def submitted(self) -> list[str]:
        """The ``client_order_id`` of every order POST received (faults included), in order."""
        with self.server.lock:
            return [r.body.get("client_order_id") for r in self.server.requests if _is_submit(r)]

    def drop_stream(self) -> None:
        """Close every stream connection now; updates go unheard until a client listens again."""
        with self.server.lock:
            dropped, self._listeners = self._listeners, []
        for listener in dropped:
            asyncio.run_coroutine_threadsafe(listener.connection.close(1011, "dropped by the test"), self.server.loop)

    def offline(self) -> None:
        """Refuse stream connections (each is closed at once, the client retries) until `online`."""
        with self.server.lock:
            self._offline = True

    def online(self) -> None:
        """Accept stream connections again."""
        with self.server.lock:
            self._offline = False

    def listening(self) -> int:
        """How many connections listen to trade updates now."""
        with self.server.lock:
            return len(self._listeners)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no timed fill is pending (TimeoutError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.server.lock:
                if self._pending == 0:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self._pending} timed fills still pending after {timeout} s")
            time.sleep(0.005)

    def equity(self) -> float:
        """Cash plus every position at its quote (its average price without one)."""
        with self.server.lock:
            return self.cash + sum(q * self.quotes.get(s, avg) for s, (q, avg) in self.positions.items())

    # -- order life -----------------------------------------------------------------------------------------

    def _work(self, order: FakeOrder) -> None:
        """Fill what can fill now: a market order at the quote (in parts), a resting order its quote reaches."""
        price = self.quotes.get(order.symbol)
        if price is None or order.status == "held" or order.plan is not None:
            return
        if order.type == "market" and not self.market_open:
            return  # queued for the open
        if order.type == "market":
            self._fill_in_parts(order, self.partial, price, self.fill_interval)
        elif self._reached(order, price):
            self._execute(order, order.remaining, price)

    def _reached(self, order: FakeOrder, price: float) -> bool:
        buy = order.side == "buy"
        if order.type in ("stop", "stop_limit") and not (
            price >= order.stop_price if buy else price <= order.stop_price
        ):
            return False
        if order.type in ("limit", "stop_limit"):
            return price <= order.limit_price if buy else price >= order.limit_price
        return True

    def _fill_in_parts(self, order: FakeOrder, parts: tuple[float, ...], price: float, interval: float) -> None:
        quantities = [order.qty * part for part in parts[:-1]]
        quantities.append(order.remaining - sum(quantities))  # the last part: exactly what is left
        if interval <= 0:
            for qty in quantities:
                self._execute(order, qty, price)
            return
        order.plan = Plan(hold=True)  # the parts are on their way: quotes do not fill it meanwhile
        self._pending += 1
        self.server.loop.call_soon_threadsafe(self._later, order, quantities, price, interval)

    def _later(self, order: FakeOrder, quantities: list[float], price: float, interval: float) -> None:
        """On the loop: the next part of a timed fill, then the rest after ``interval``."""

        def step() -> None:
            with self.server.lock:
                if order.is_open and quantities:
                    self._execute(order, min(quantities.pop(0), order.remaining), price)
                if order.is_open and quantities:
                    self.server.loop.call_later(interval, step)
                else:
                    self._pending -= 1

        self.server.loop.call_later(interval, step)

    def _execute(self, order: FakeOrder, qty: float, price: float) -> None:
        """One execution: the order, the cash, the position, a FILL activity and a trade update."""
        now = _now()
        total = order.filled_qty + qty
        paid = 0.0 if order.filled_avg_price is None else order.filled_avg_price * order.filled_qty
        avg = price if order.filled_avg_price is None else (paid + price * qty) / total
        order.filled_qty, order.filled_avg_price, order.updated_at = total, avg, now
        done = order.remaining <= 1e-9 * order.qty
        order.status = "filled" if done else "partially_filled"
        order.filled_at = now if done else None
        signed = qty if order.side == "buy" else -qty
        self.cash = self.cash - qty * price if signed > 0 else self.cash + qty * price
        held, entry = self.positions.get(order.symbol, (0.0, 0.0))
        after = held + signed
        if held == 0 or ((held > 0) != (after > 0) and after != 0):
            entry = price  # opened, or flipped through zero
        elif (held > 0) == (signed > 0):
            entry = (entry * abs(held) + price * qty) / abs(after)  # added to
        self.positions[order.symbol] = (after, entry)
        if abs(after) <= 1e-9:
            del self.positions[order.symbol]
        execution = str(uuid.uuid4())
        event = "fill" if done else "partial_fill"
        self.activities.append(
            {
                "id": f"{now:%Y%m%d%H%M%S%f}"[:-3] + f"::{execution}",
                "activity_type": "FILL",
                "transaction_time": _iso(now),
                "type": event,
                "price": _num(price),
                "qty": _num(qty),
                "side": order.side,
                "symbol": order.symbol,
                "leaves_qty": _num(order.remaining),
                "order_id": order.id,
                "cum_qty": _num(order.filled_qty),
                "order_status": order.status,
            }
        )
        self._publish(order, event, execution_id=execution, price=_num(price), qty=_num(qty), position_qty=_num(after))
        if done:
            self._after_fill(order)

    def _after_fill(self, order: FakeOrder) -> None:
        """A filled bracket entry releases its legs; a filled leg cancels its sibling."""
        for leg in order.legs:
            leg.status, leg.updated_at = "new", _now()
            self._publish(leg, "new")
            self._work(leg)
        if order.parent is not None:
            for sibling in order.parent.legs:
                if sibling is not order and sibling.is_open:
                    self._end(sibling, "canceled")

    def _end(self, order: FakeOrder, status: str) -> None:
        now = _now()
        order.status, order.updated_at = status, now
        setattr(order, {"canceled": "canceled_at", "expired": "expired_at", "rejected": "failed_at"}[status], now)
        self._publish(order, status)
        for leg in order.legs:
            if leg.is_open:
                self._end(leg, "canceled")

    def _publish(self, order: FakeOrder, event: str, **execution: Any) -> None:
        """A trade update to every listening connection (call with the lock held: updates keep their order)."""
        data = {"event": event, "timestamp": _iso(order.updated_at or order.created_at), "order": order.wire()}
        message = {"stream": "trade_updates", "data": data | execution}
        self.updates.append(message)
        if not self._listeners:
            self.missed.append(message)
        for listener in self._listeners:
            self.server.loop.call_soon_threadsafe(listener.queue.put_nowait, message)

    # -- REST -------------------------------------------------------------------------------------------------

    def _account(self, request: Request) -> Reply:
        equity = self.equity()
        with self.server.lock:
            long_value = sum(q * self.quotes.get(s, a) for s, (q, a) in self.positions.items() if q > 0)
            cash = self.cash
        money = {"cash": cash, "equity": equity, "portfolio_value": equity, "last_equity": equity}
        return Reply(
            body={
                "id": "e6fe16f3-64a4-4921-8928-cadf02f92f98",
                "account_number": "PA3FAKE00001",
                "status": "ACTIVE",
                "currency": "USD",
                **{key: _num(value) for key, value in money.items()},
                "buying_power": _num(2 * max(equity, 0.0)),
                "long_market_value": _num(long_value),
                "short_market_value": _num(equity - cash - long_value),
                "multiplier": "2",
                "pattern_day_trader": False,
                "trading_blocked": False,
                "account_blocked": False,
                "shorting_enabled": True,
                "daytrade_count": 0,
                "created_at": "2024-01-02T15:04:05.123456Z",
            }
        )

    def _clock(self, request: Request) -> Reply:
        now = _now()
        body = {
            "timestamp": _iso(now),
            "is_open": self.market_open,
            "next_open": _iso(now + timedelta(hours=16)),
            "next_close": _iso(now + timedelta(hours=6)),
        }
        return Reply(body=body)

    def _submit(self, request: Request) -> Reply:
        body = request.body or {}
        with self.server.lock:
            if self._rejects:
                status, message = self._rejects.pop(0)
                return api_error(status, message)
            problem = self._invalid(body)
            if problem is not None:
                return api_error(HTTPStatus.UNPROCESSABLE_ENTITY, problem)
            order = self._create(body)
            answer = order.wire()
            order.status = "new"  # Alpaca answers "accepted", then streams "new"
            self._publish(order, "new")
            plan = self._plans.pop(0) if self._plans else None
            if plan is not None and plan.reject is not None:
                self._end(order, "rejected")
            elif plan is not None and plan.fills is not None:
                price = plan.price if plan.price is not None else self.quotes[order.symbol]
                interval = self.fill_interval if plan.interval is None else plan.interval
                self._fill_in_parts(order, plan.fills, price, interval)
            elif plan is not None:
                order.plan = plan
            else:
                self._work(order)
            if self._lost_replies:
                self._lost_replies -= 1
                return api_error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal server error")
        return Reply(body=answer)

    def _invalid(self, body: dict[str, Any]) -> str | None:
        """Why Alpaca would refuse ``body`` (422), or None."""
        kind = body.get("type")
        if kind not in _TYPES:
            return f"invalid order type: {kind}"
        if body.get("side") not in ("buy", "sell"):
            return f"invalid side: {body.get('side')}"
        if not isinstance(body.get("qty"), int | float) or body["qty"] <= 0:
            return "qty must be > 0"
        if body.get("time_in_force") not in ("day", "gtc", "ioc", "fok", "opg", "cls"):
            return f"invalid time_in_force: {body.get('time_in_force')}"
        for name in ("limit_price", "stop_price"):
            if (name in _TYPES[kind]) != (body.get(name) is not None):
                return f"{name} is {'required' if name in _TYPES[kind] else 'not allowed'} for a {kind} order"
        cid = body.get("client_order_id")
        if cid is not None and any(o.client_order_id == cid for o in self.orders.values()):
            return "client_order_id must be unique"
        if body.get("order_class") == "bracket" and not (body.get("take_profit") and body.get("stop_loss")):
            return "bracket orders require take_profit and stop_loss"
        return None

    def _create(self, body: dict[str, Any]) -> FakeOrder:
        now = _now()
        order_class = body.get("order_class") or ""
        order = FakeOrder(
            id=str(uuid.uuid4()),
            client_order_id=body.get("client_order_id") or str(uuid.uuid4()),
            symbol=body["symbol"],
            side=body["side"],
            qty=float(body["qty"]),
            type=body["type"],
            time_in_force=body["time_in_force"],
            limit_price=body.get("limit_price"),
            stop_price=body.get("stop_price"),
            order_class=order_class,
            created_at=now,
        )
        self.orders[order.id] = order
        if order_class == "bracket":
            exit_side = "sell" if order.side == "buy" else "buy"
            stop = body["stop_loss"]
            legs = [
                ("limit", body["take_profit"]["limit_price"], None),
                ("stop_limit" if stop.get("limit_price") else "stop", stop.get("limit_price"), stop["stop_price"]),
            ]
            for kind, limit, stop_price in legs:
                leg = FakeOrder(
                    id=str(uuid.uuid4()),
                    client_order_id=str(uuid.uuid4()),
                    symbol=order.symbol,
                    side=exit_side,
                    qty=order.qty,
                    type=kind,
                    time_in_force=order.time_in_force,
                    limit_price=limit,
                    stop_price=stop_price,
                    order_class="bracket",
                    created_at=now,
                    status="held",
                    parent=order,
                )
                order.legs.append(leg)
                self.orders[leg.id] = leg
        return order

    def _list(self, request: Request) -> Reply:
        query = request.query
        status = query.get("status", "open")
        symbols = set(query["symbols"].split(",")) if query.get("symbols") else None
        after, until = _time(query.get("after")), _time(query.get("until"))
        nested = query.get("nested", "").lower() == "true"
        with self.server.lock:
            found = [
                o
                for o in self.orders.values()
                if (status == "all" or (status == "open") == o.is_open)
                and (symbols is None or o.symbol in symbols)
                and (after is None or o.created_at > after)
                and (until is None or o.created_at < until)
                and not (nested and o.parent is not None)
            ]
            found.sort(key=lambda o: o.created_at, reverse=query.get("direction", "desc") == "desc")
            body = [o.wire(nested) for o in found[: int(query.get("limit") or 50)]]
        return Reply(body=body)

    def _get(self, request: Request) -> Reply:
        with self.server.lock:
            order = self.orders.get(request.params["order_id"])
            if order is None:
                return api_error(HTTPStatus.NOT_FOUND, "order not found")
            return Reply(body=order.wire(request.query.get("nested", "").lower() == "true"))

    def _by_client_id(self, request: Request) -> Reply:
        with self.server.lock:
            try:
                return Reply(body=self.order(request.query.get("client_order_id", "")).wire())
            except KeyError:
                return api_error(HTTPStatus.NOT_FOUND, "order not found")

    def _cancel_request(self, request: Request) -> Reply:
        with self.server.lock:
            order = self.orders.get(request.params["order_id"])
            if order is None:
                return api_error(HTTPStatus.NOT_FOUND, "order not found")
            if not order.is_open:
                return api_error(HTTPStatus.UNPROCESSABLE_ENTITY, "order is not cancelable")
            self._end(order, "canceled")
            if self._lost_cancel_replies:
                self._lost_cancel_replies -= 1
                return api_error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal server error")
        return Reply(HTTPStatus.NO_CONTENT)

    def _replace(self, request: Request) -> Reply:
        body = request.body or {}
        with self.server.lock:
            old = self.orders.get(request.params["order_id"])
            if old is None:
                return api_error(HTTPStatus.NOT_FOUND, "order not found")
            if not old.is_open or old.filled_qty > 0 or old.legs or old.parent is not None:
                return api_error(HTTPStatus.UNPROCESSABLE_ENTITY, "order is not replaceable", sequence=1)
            new = self._create(
                {
                    "symbol": old.symbol,
                    "side": old.side,
                    "type": old.type,
                    "qty": float(body.get("qty") or old.qty),
                    "time_in_force": body.get("time_in_force") or old.time_in_force,
                    "limit_price": body.get("limit_price") or old.limit_price,
                    "stop_price": body.get("stop_price") or old.stop_price,
                    "client_order_id": body.get("client_order_id"),
                }
            )
            now = _now()
            old.status, old.replaced_at, old.replaced_by, old.updated_at = "replaced", now, new.id, now
            new.replaces = old.id
            self._publish(old, "replaced")
            self._publish(new, "new")
            answer = new.wire()
            self._work(new)
        return Reply(body=answer)

    def _positions(self, request: Request) -> Reply:
        with self.server.lock:
            return Reply(body=[self._position_wire(s) for s in sorted(self.positions)])

    def _position(self, request: Request) -> Reply:
        with self.server.lock:
            if request.params["symbol"] not in self.positions:
                return api_error(HTTPStatus.NOT_FOUND, "position does not exist")
            return Reply(body=self._position_wire(request.params["symbol"]))

    def _position_wire(self, symbol: str) -> dict[str, Any]:
        qty, entry = self.positions[symbol]
        price = self.quotes.get(symbol, entry)
        return {
            "asset_id": _ASSET,
            "symbol": symbol,
            "exchange": "ARCA",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "qty": _num(qty),
            "qty_available": _num(qty),
            "avg_entry_price": _num(entry),
            "side": "long" if qty > 0 else "short",
            "market_value": _num(qty * price),
            "cost_basis": _num(qty * entry),
            "unrealized_pl": _num(qty * (price - entry)),
            "current_price": _num(price),
        }

    def _activities(self, request: Request) -> Reply:
        if request.params["activity_type"] != "FILL":
            return Reply(body=[])
        query = request.query
        after, until = _time(query.get("after")), _time(query.get("until"))
        with self.server.lock:
            found = [
                a
                for a in self.activities
                if (after is None or _time(a["transaction_time"]) > after)
                and (until is None or _time(a["transaction_time"]) < until)
            ]
        if query.get("direction", "desc") == "desc":
            found.reverse()
        token = query.get("page_token")
        if token:
            found = found[next(i for i, a in enumerate(found) if a["id"] == token) + 1 :]
        return Reply(body=found[: int(query.get("page_size") or 100)])

    # -- stream ---------------------------------------------------------------------------------------------

    async def _stream(self, connection: ServerConnection) -> None:
        with self.server.lock:
            offline = self._offline
        if offline:
            await connection.close(1013, "try again later")
            return
        try:
            login = json.loads(await connection.recv())
            data = login.get("data") or {}
            authorized = login.get("action") == "authenticate" and self.server.authorized(
                data.get("key_id"), data.get("secret_key")
            )
            status = "authorized" if authorized else "unauthorized"
            answer = {"stream": "authorization", "data": {"action": "authenticate", "status": status}}
            await connection.send(json.dumps(answer))
            if not authorized:
                await connection.close()
                return
            self.connections += 1
            await self._serve(connection)
        except ConnectionClosed:
            pass

    async def _serve(self, connection: ServerConnection) -> None:
        """Answer ``listen`` messages; a writer task sends the updates queued for this connection."""
        listener = _Listener(connection, asyncio.Queue())
        writer = asyncio.get_running_loop().create_task(self._write(listener))
        try:
            async for frame in connection:
                streams = (json.loads(frame).get("data") or {}).get("streams") or []
                with self.server.lock:
                    if listener in self._listeners:
                        self._listeners.remove(listener)
                    if "trade_updates" in streams:
                        self._listeners.append(listener)
                    # through the queue: the acknowledgement comes before any update made after it
                    listener.queue.put_nowait({"stream": "listening", "data": {"streams": streams}})
        finally:
            with self.server.lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
            writer.cancel()

    async def _write(self, listener: _Listener) -> None:
        while True:
            message = await listener.queue.get()
            try:
                await listener.connection.send(json.dumps(message))
            except ConnectionClosed:
                return


def _is_submit(request: Request) -> bool:
    return request.method == "POST" and request.path == "/v2/orders" and isinstance(request.body, dict)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _num(value: float | None) -> str | None:
    """A number as Alpaca sends it: a string (``repr``, so it reads back as the very same float)."""
    return None if value is None else repr(float(value))


def _time(text: str | None) -> datetime | None:
    """A query's RFC 3339 time (alpaca-py sends ``+00:00``; naive is UTC)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
