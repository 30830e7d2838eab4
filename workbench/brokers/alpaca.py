"""``AlpacaBroker``: the Broker port on Alpaca (paper or live), through alpaca-py's real clients.

Orders go out with ``TradingClient`` under their own ``client_order_id``; what happens to them comes back on the
``trade_updates`` websocket (`alpaca_stream.TradeUpdateStream`, a background thread) and becomes our
`OrderEvent`s on the caller's thread, in `AlpacaBroker.pump` and while `submit` / `cancel` wait for an order to
settle. So the OrderManager, the journal and the strategy never see a second thread, as with ``SimBroker``.

Semantics (see also `alpaca_wire` for how Alpaca's states map onto ours):

* ``submit`` returns once Alpaca has accepted the order; a market (or IOC) order is also waited for, up to
  ``settle_timeout`` seconds, until it is done, so a session sizes its next order from the account after the fill,
  as in a backtest. An order Alpaca refuses (HTTP 4xx: buying power, an invalid price, ...) comes back
  ``rejected`` with Alpaca's message as its ``reject_reason`` and is never retried. Rate limits (429), server
  errors (5xx) and network failures are retried with backoff (never sooner than a 429's ``Retry-After``) until
  ``deadline`` seconds have passed: after a 5xx or a network failure the order may have reached Alpaca, so the next
  try first asks for it by ``client_order_id`` and sends it only if Alpaca does not know it (an order is never sent
  twice). At the deadline the order is known refused (only 429s: it comes back ``rejected``, saying so) or
  uncertain (still followed; a restart's reconciliation resolves it), and `BrokerUnavailable` is raised: a session
  halts its strategy and tells people. Never is an order silently dropped.
* Requests keep to a budget: at most ``requests_per_minute`` (Alpaca allows 200 a minute per key; 180 by default)
  start in any minute, shared by every broker of the key in the process, and none before a 429's ``Retry-After``
  has passed (`workbench.data.request_budget`).
* ``account()`` and ``positions()`` are read at most once per ``read_cache`` seconds (1 by default) and read again
  after any event of our orders (an acceptance, a fill, a cancel) and any order sent: cash and positions move only
  by fills, so they are exact for an account this session alone trades (what others do to the account, their
  fills, a deposit, shows up to ``read_cache`` seconds late); equity is the account's mark at most ``read_cache``
  old. A new broker (a restart, its reconciliation) reads afresh.
* Alpaca keeps 9 decimals of a quantity: from its acceptance on, an order's ``qty`` is the one Alpaca took
  (rounded to 9 decimals), so fills add up to it exactly.
* Our order ids are ours; Alpaca's ids are kept beside them. Orders Alpaca makes (a bracket's legs, a
  replacement) are tracked under Alpaca's id from their first update.
* Every fill is recorded once with Alpaca's execution id. Updates made while the stream was down are lost
  (Alpaca does not replay them): after every reconnection, and when an update shows a gap, the broker reads the
  order and its FILL activities through REST and emits what is missing (`catch_up`, `sync`).
* Reads (orders, positions, account, clock) retry transient failures themselves, with exponential backoff (at least
  a 429's ``Retry-After``) until ``deadline``; then `BrokerUnavailable`.
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import GetOrderByIdRequest, GetOrdersRequest, ReplaceOrderRequest

from workbench.brokers import BrokerError, BrokerUnavailable
from workbench.brokers.alpaca_stream import TradeUpdateStream
from workbench.brokers.alpaca_wire import (
    QTY_DECIMALS,
    Execution,
    RemoteOrder,
    alpaca_message,
    broker_error,
    order_request,
    same_qty,
)
from workbench.clock import Clock, SystemClock
from workbench.data.request_budget import ALPACA_PER_MINUTE, budget_for, mount
from workbench.errors import ConfigError
from workbench.logs import get_logger
from workbench.orders.model import Fill, Order, OrderEvent, OrderStatus, OrderType, TimeInForce
from workbench.ports import Account, MarketClock

if TYPE_CHECKING:
    from workbench.config import Settings

_log = get_logger("workbench.brokers.alpaca")
_T = TypeVar("_T")
_FILL_NAMESPACE = uuid.UUID("0c5d8a52-3f4e-4d7e-9a5f-5a1f0e7b2c11")  # ids of fills made up from cumulative totals
_PAGE = 100
_MARKET_CACHE = 60.0  # seconds a market clock read is trusted (less when the market opens or closes sooner)


class AlpacaBroker:
    """The Broker port on an Alpaca account (see the module docstring for the semantics).

    Parameters
    ----------
    api_key, secret_key : str
        The account's keys (`from_settings` takes them from the settings, where they are secrets).
    paper : bool
        Alpaca's paper endpoint (True) or the live one (real money).
    url_override, stream_url_override : str, optional
        Another REST base URL (without ``/v2``) and the full trade-updates websocket URL (a loopback fake).
    clock : Clock, optional
        Times of what the broker decides itself (a refusal); fills carry Alpaca's times. Default: wall clock.
    settle_timeout : float
        Seconds ``submit`` and ``cancel`` wait for an order to be done (market and IOC orders, cancellations).
    deadline : float
        Seconds a call (a submit, a read) keeps retrying rate limits, server and network errors before
        `BrokerUnavailable`.
    requests_per_minute : int
        The request budget of the key in this process (Alpaca allows 200 a minute).
    read_cache : float
        Seconds ``account()`` and ``positions()`` are answered from the last read, unless an order event came since
        (0: always read).
    reconnect : (float, float)
        First and longest wait between reconnections of the stream, seconds.

    Examples
    --------
    >>> broker = AlpacaBroker.from_settings(load_settings()).start()  # doctest: +SKIP
    >>> om = OrderManager(broker, SystemClock())  # doctest: +SKIP
    >>> om.submit(Order(symbol="SPY", side="buy", qty=1, created_at=SystemClock().now())).status  # doctest: +SKIP
    <OrderStatus.FILLED: 'filled'>
    """

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        paper: bool = True,
        url_override: str | None = None,
        stream_url_override: str | None = None,
        clock: Clock | None = None,
        settle_timeout: float = 5.0,
        deadline: float = 60.0,
        requests_per_minute: int = ALPACA_PER_MINUTE,
        read_cache: float = 1.0,
        reconnect: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self.paper = paper
        self.clock = clock or SystemClock()
        self.settle_timeout = settle_timeout
        self.deadline = deadline
        self.read_cache = read_cache
        #: Catch-ups run: one after each subscription of the stream (the first, then every reconnection).
        self.catch_ups = 0
        self._client = TradingClient(api_key, secret_key, paper=paper, url_override=url_override)
        self._client._retry = 0  # 429s are ours to retry with backoff, not alpaca-py's three fixed 3 s sleeps
        #: The request budget of this key (and endpoint) in this process.
        self.budget = budget_for("alpaca-trading", f"{api_key}@{url_override or paper}", requests_per_minute)
        mount(self._client._session, self.budget)
        self._stream = TradeUpdateStream(
            api_key, secret_key, paper=paper, url_override=stream_url_override, reconnect=reconnect
        )
        self._reads: dict[str, tuple[float, Any]] = {}  # account / positions: (when read, what)
        self._orders: dict[str, Order] = {}  # our id -> the order object the OrderManager holds
        self._by_client_id: dict[str, Order] = {}
        self._remote_ids: dict[str, str] = {}  # our id -> Alpaca's
        self._legs: dict[str, str] = {}  # Alpaca id of a bracket leg -> our id of its entry
        self._uncertain: set[str] = set()  # client_order_ids whose submit may have reached Alpaca
        self._handlers: list[Callable[[OrderEvent], None]] = []
        self._pumping = False
        self._market: MarketClock | None = None
        self._market_until = 0.0  # time.monotonic() when the market clock is asked again

    @classmethod
    def from_settings(cls, settings: Settings, broker: str | None = None, **options: Any) -> AlpacaBroker:
        """The broker of ``settings`` (or ``broker``: ``alpaca-paper`` / ``alpaca-live``) with its keys, its trading
        URL (``alpaca_base_url``) and trade-updates stream URL (``alpaca_stream_url``; default: beside the trading
        URL).

        Live trading (real money) needs the ``live`` profile and ``confirm_live``; ConfigError otherwise, and
        when a key is missing.
        """
        name = broker or settings.broker
        if name not in ("alpaca-paper", "alpaca-live"):
            raise ConfigError(f"broker {name!r} is not an Alpaca broker (expected alpaca-paper or alpaca-live)")
        if name == "alpaca-live" and not (settings.profile == "live" and settings.confirm_live):
            raise ConfigError(
                "broker 'alpaca-live' trades real money: it needs profile 'live' and confirm_live=true "
                f"(got profile {settings.profile!r}, confirm_live={settings.confirm_live})"
            )
        if settings.alpaca_api_key is None or settings.alpaca_secret_key is None:
            raise ConfigError(
                f"broker {name!r} needs alpaca_api_key and alpaca_secret_key (set WORKBENCH_ALPACA_API_KEY and "
                "WORKBENCH_ALPACA_SECRET_KEY, or alpaca_api_key = ... in workbench.toml)"
            )
        base, stream = settings.alpaca_base_url, settings.alpaca_stream_url
        if stream is None and base is not None:  # Alpaca serves it beside the REST API: wss://paper-api.../stream
            stream = base.rstrip("/").replace("http", "ws", 1) + "/stream"
        if stream is not None:
            options.setdefault("stream_url_override", stream)
        keys = settings.alpaca_api_key.get_secret_value(), settings.alpaca_secret_key.get_secret_value()
        options.setdefault("requests_per_minute", settings.alpaca_requests_per_minute)
        options.setdefault("deadline", settings.alpaca_retry_seconds)
        return cls(*keys, paper=name == "alpaca-paper", url_override=base, **options)

    def __repr__(self) -> str:
        return f"AlpacaBroker(paper={self.paper}, tracked={len(self._orders)})"

    @property
    def kind(self) -> str:
        """``alpaca-paper`` or ``alpaca-live``: what a run records as its broker."""
        return "alpaca-paper" if self.paper else "alpaca-live"

    def start(self, timeout: float = 10.0) -> AlpacaBroker:
        """Connect the trade-updates stream (waiting up to ``timeout`` s for Alpaca to acknowledge it); returns
        the broker. Without a connection it keeps trying and catches up once connected."""
        if not self._stream.start(timeout):
            _log.warning("alpaca trade-updates stream not connected yet; still trying", waited=timeout)
        return self

    def close(self) -> None:
        """Disconnect the stream (orders stay as they are at Alpaca)."""
        self._stream.close()

    def __enter__(self) -> AlpacaBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- Broker port -----------------------------------------------------------------------------------------

    def submit(self, order: Order) -> Order:
        """Send ``order`` (see the module docstring): it returns accepted, done, or rejected with Alpaca's reason.

        Raises
        ------
        BrokerError
            Transient (429, 5xx, network: try again) or not (the keys were refused).
        """
        self.track([order])
        self._reads.clear()
        try:
            return self._until_deadline(lambda: self._submit_once(order), f"submit of {order.client_order_id}")
        except BrokerUnavailable as exc:
            cid = order.client_order_id
            if order.status is not OrderStatus.NEW or cid in self._uncertain:  # at Alpaca, or maybe: followed on
                raise BrokerUnavailable(
                    f"{exc}; order {cid} {'is' if order.status is not OrderStatus.NEW else 'may be'} at alpaca: it "
                    "is followed, and a restart's reconciliation resolves it",
                    uncertain=True,
                ) from exc
            self._emit(order.transition(OrderStatus.REJECTED, self.clock.now(), f"alpaca: not sent, {exc}"))
            raise

    def _submit_once(self, order: Order) -> Order:
        """One try of `submit`: Alpaca's order if an earlier try made it, else the order sent now; a transient
        failure raised for `_until_deadline` to retry."""
        cid = order.client_order_id
        if order.status is not OrderStatus.NEW:  # an earlier try got it accepted (or refused): no second send
            return self._settle(order)
        if cid in self._uncertain:  # an earlier try may have reached Alpaca: ask before sending again
            remote = self._lookup(cid, retry=False)
            if remote is not None:
                self._uncertain.discard(cid)
                self._bring(order, remote)
                return self._settle(order)
        try:
            answer = self._client.submit_order(order_request(order))
        except APIError as exc:
            return self._refused(order, exc)
        except OSError as exc:
            self._uncertain.add(cid)
            raise broker_error(exc, f"submit of {cid}") from exc
        self._uncertain.discard(cid)
        self._bring(order, RemoteOrder.of(answer))
        return self._settle(order)

    def cancel(self, order_id: str) -> Order:
        """Ask Alpaca to cancel an open order and wait (``settle_timeout``) for it to end; returns the order.

        Transient failures (429, 5xx, network) are tried again until ``deadline`` (then `BrokerUnavailable`).
        Raises BrokerError when Alpaca refuses (HTTP 422: it is not cancelable, e.g. filled meanwhile), unless
        the refusal is of an order an earlier try canceled (its answer lost).
        """
        order = self.get_order(order_id)
        remote_id = self._remote_id(order)

        def once() -> None:
            try:
                self._client.cancel_order_by_id(remote_id)
            except (APIError, OSError) as exc:
                raise broker_error(exc, f"cancel of order {order_id}") from exc

        try:
            self._until_deadline(once, f"cancel of {order.client_order_id}")
        except BrokerUnavailable:
            raise
        except BrokerError:
            self.sync(order)  # refused: canceled by an earlier try whose answer was lost, or not cancelable
            if order.status is not OrderStatus.CANCELED:
                raise
            return order
        self._wait(order, lambda: not order.is_open)
        if order.is_open:
            self.sync(order)
        return order

    def replace(
        self,
        order_id: str,
        *,
        qty: int | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        time_in_force: TimeInForce | str | None = None,
    ) -> Order:
        """Replace an open order at Alpaca with a new one (new whole-share qty, prices or time in force); the old
        order ends ``canceled`` ("replaced by ..."), and the replacement, tracked under Alpaca's id, is returned.

        Raises BrokerError when Alpaca refuses (the order is filled, or not replaceable).
        """
        old = self.get_order(order_id)
        request = ReplaceOrderRequest(
            qty=qty,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=None if time_in_force is None else AlpacaTimeInForce(TimeInForce(time_in_force).value),
            client_order_id=str(uuid.uuid4()),
        )
        try:
            remote = RemoteOrder.of(self._client.replace_order_by_id(self._remote_id(old), request))
        except (APIError, OSError) as exc:
            raise broker_error(exc, f"replace of order {order_id}") from exc
        if old.is_open:
            self._emit(old.transition(OrderStatus.CANCELED, remote.created_at, f"replaced by {remote.client_order_id}"))
        new = remote.to_order()
        new.strategy, new.tags = old.strategy, dict(old.tags)
        self.track([new])
        self._bring(new, remote)
        return new

    def get_order(self, order_id: str) -> Order:
        """The tracked order with our id ``order_id`` (as its events left it), else Alpaca's order with that id
        as it is now. BrokerError if neither exists."""
        tracked = self._orders.get(order_id)
        if tracked is not None:
            return tracked
        try:
            uuid.UUID(order_id)
        except ValueError:
            raise BrokerError(f"unknown order {order_id!r}: not tracked, and not an Alpaca order id") from None
        return self._fetch(order_id).to_order(current=True)

    def list_orders(self, open_only: bool = False) -> list[Order]:
        """Alpaca's orders as they are now (the latest 500, brackets' legs included), tracked ones under our ids;
        orders our model cannot hold (trailing stops, notional orders) are left out with a warning."""
        status = QueryOrderStatus.OPEN if open_only else QueryOrderStatus.ALL
        request = GetOrdersRequest(status=status, limit=500, nested=True)
        found = []
        for parent in self._read(lambda: self._client.get_orders(request), "list orders"):
            remote = RemoteOrder.of(parent)
            parent_id = self._known_id(remote)
            for item, parent_of in ((remote, None), *((leg, parent_id) for leg in remote.legs)):
                try:
                    order = item.to_order(current=True, id=self._known_id(item), parent_id=parent_of)
                except BrokerError as exc:
                    _log.warning("alpaca order left out", error=str(exc))
                    continue
                if order.is_open or not open_only:
                    found.append(order)
        return found

    def positions(self) -> dict[str, float]:
        """Alpaca's positions: symbol -> quantity (negative when short); read again after any event of our orders,
        else at most once per ``read_cache`` seconds."""

        def read() -> dict[str, float]:
            held = self._read(self._client.get_all_positions, "positions")
            return {p.symbol: _signed(p) for p in held if float(p.qty) != 0.0}

        return dict(self._cached("positions", read))

    def account(self) -> Account:
        """Cash and equity as Alpaca reports them (read again after any event of our orders, else at most once per
        ``read_cache`` seconds)."""

        def read() -> Account:
            account = self._read(self._client.get_account, "account")
            return Account(cash=float(account.cash), equity=float(account.equity))

        return self._cached("account", read)

    def subscribe(self, handler: Callable[[OrderEvent], None]) -> None:
        self._handlers.append(handler)

    def unsubscribe(self, handler: Callable[[OrderEvent], None]) -> None:
        """Stop calling ``handler`` (a reconciliation's temporary recorder)."""
        self._handlers.remove(handler)

    # --- beyond the port ---------------------------------------------------------------------------------------

    def market_clock(self) -> MarketClock:
        """Alpaca's market clock (is the market open, when it opens and closes next), asked again once it
        changes or after ``_MARKET_CACHE`` seconds, whichever comes first: a session asks each bar within budget."""
        now = time.monotonic()
        if self._market is not None and now < self._market_until:
            return self._market
        clock = self._read(self._client.get_clock, "clock")
        market = MarketClock(clock.timestamp, bool(clock.is_open), clock.next_open, clock.next_close)
        change = market.next_close if market.is_open else market.next_open
        until = now + _MARKET_CACHE
        if change is not None:
            until = min(until, now + max(0.0, (change - market.timestamp).total_seconds()))
        self._market, self._market_until = market, until
        return market

    def track(self, orders: Iterable[Order]) -> None:
        """Follow ``orders`` (the objects the OrderManager holds, e.g. a restarted run's working orders): their
        updates move exactly these objects. An order of the same id tracked before is replaced."""
        for order in orders:
            self._orders[order.id] = order
            self._by_client_id[order.client_order_id] = order

    def sync(self, order: Order) -> bool:
        """Bring ``order`` up to Alpaca's state, emitting the events it missed (acceptance, fills with their
        execution ids, its end, a bracket's legs); False when Alpaca does not know its ``client_order_id`` (it was
        never sent)."""
        self.track([order])
        remote_id = self._remote_ids.get(order.id)
        remote = self._fetch(remote_id) if remote_id is not None else self._lookup(order.client_order_id)
        if remote is None:
            return False
        self._bring(order, remote)
        return True

    def catch_up(self) -> int:
        """`sync` every tracked order that is still open (what ``pump`` does after each reconnection); returns
        how many of them it moved."""
        moved = 0
        for order in [o for o in self._orders.values() if o.is_open]:
            before = order.updated_at, order.status, order.filled_qty
            self.sync(order)
            moved += (order.updated_at, order.status, order.filled_qty) != before
        self.catch_ups += 1
        return moved

    def pump(self, timeout: float = 0.0) -> int:
        """Handle what the stream has heard: each trade update becomes our events (emitted to the subscribers on
        this thread), each (re)subscription a `catch_up`. Waits up to ``timeout`` s for the first item, then
        takes what is there; returns how many items it handled. A stream that cannot go on raises its error."""
        if self._pumping:  # a subscriber acting on an event: the outer pump goes on with the queue
            return 0
        self._pumping = True
        try:
            handled, events = 0, self._stream.events
            wait = timeout
            while True:
                try:
                    kind, payload = events.get(timeout=wait) if wait > 0 else events.get_nowait()
                except queue.Empty:
                    return handled
                wait = 0.0
                handled += 1
                if kind == "update":
                    self._on_update(payload)
                elif kind == "listening":
                    self.catch_up()
                else:
                    raise payload
        finally:
            self._pumping = False

    # --- internals ---------------------------------------------------------------------------------------------

    def _refused(self, order: Order, exc: APIError) -> Order:
        """An error answer to a submit: a transient BrokerError, or Alpaca's refusal as a rejected order."""
        status, cid = exc.status_code or 0, order.client_order_id
        message = alpaca_message(exc)
        if status == HTTPStatus.UNPROCESSABLE_ENTITY and "client_order_id" in message:
            remote = self._lookup(cid)  # "must be unique": an earlier try got there after all
            if remote is not None:
                self._bring(order, remote)
                return self._settle(order)
        error = broker_error(exc, f"submit of {cid}")
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            self._uncertain.add(cid)  # the order may have been made before the answer failed
        if error.transient or status == HTTPStatus.UNAUTHORIZED:
            raise error from exc
        _log.warning("alpaca refused an order", client_order_id=cid, symbol=order.symbol, reason=message)
        self._emit(order.transition(OrderStatus.REJECTED, self.clock.now(), f"alpaca: {message} (HTTP {status})"))
        return order

    def _settle(self, order: Order) -> Order:
        """Wait for a market or IOC order to be done (its fills arrive on the stream); then ask for it once. A
        market order sent while the market is closed queues for the open: it is returned working at once."""
        if order.type is OrderType.MARKET and order.is_open and not self.market_clock().is_open:
            _log.info("market closed: order queued for the open", client_order_id=order.client_order_id)
            return order
        if order.is_open and (order.type is OrderType.MARKET or order.time_in_force is TimeInForce.IOC):
            self._wait(order, lambda: not order.is_open)
            if order.is_open:
                self.sync(order)
        return order

    def _wait(self, order: Order, done: Callable[[], bool]) -> None:
        """Pump until ``done()`` or ``settle_timeout``; at once when called from a subscriber within a pump."""
        if self._pumping:
            return
        deadline = time.monotonic() + self.settle_timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.pump(timeout=min(left, 0.5))

    def _on_update(self, update: TradeUpdate) -> None:
        remote = RemoteOrder.of(update.order)
        order = self._by_client_id.get(remote.client_order_id)
        if order is None:
            parent = self._legs.get(remote.id)
            if parent is None or remote.status == "held":
                return  # not ours (another session, a person), or a leg that is not working yet
            order = remote.to_order(parent_id=parent)
            order.strategy = self._orders[parent].strategy
            self.track([order])
        executions = None
        if str(getattr(update.event, "value", update.event)) in ("fill", "partial_fill"):
            execution = Execution.of_update(update)
            if same_qty(execution.cum_qty - execution.qty, order.filled_qty, order.qty):
                executions = [execution]  # the next fill: exact; after a gap, _bring reads the activities
        self._bring(order, remote, executions)

    def _bring(self, order: Order, remote: RemoteOrder, executions: list[Execution] | None = None) -> None:
        """Emit the events that take ``order`` from its state to Alpaca's ``remote``: acceptance, the fills it
        lacks (``executions``, else the order's FILL activities; what they do not explain as one fill at the
        price that makes Alpaca's average), then its end. A bracket's working legs follow."""
        self._remote_ids[order.id] = remote.id
        if order.status is OrderStatus.NEW and abs(remote.qty - order.qty) <= 10.0**-QTY_DECIMALS:
            order.qty = remote.qty  # Alpaca keeps 9 decimals: the qty it took is the order's (recorded with its event)
        if order.status is OrderStatus.NEW and not (remote.status == "rejected" and remote.filled_qty == 0):
            self._emit(order.transition(OrderStatus.ACCEPTED, remote.created_at))
        if remote.filled_qty > order.filled_qty and not same_qty(remote.filled_qty, order.filled_qty, order.qty):
            if executions is None:
                executions = self._executions(remote)
            for execution in sorted(executions, key=lambda e: e.cum_qty):
                if execution.cum_qty > order.filled_qty and not same_qty(
                    execution.cum_qty, order.filled_qty, order.qty
                ):
                    qty = min(execution.cum_qty, remote.filled_qty) - order.filled_qty
                    self._fill(order, execution.id, qty, execution.price, execution.timestamp)
            if remote.filled_qty > order.filled_qty and not same_qty(remote.filled_qty, order.filled_qty, order.qty):
                self._fill_rest(order, remote)
        ending = remote.ending
        if ending is not None and order.is_open:
            if ending is OrderStatus.REJECTED and order.filled_qty > 0:
                ending = OrderStatus.CANCELED  # our machine ends a partly filled order as canceled
            self._emit(order.transition(ending, remote.updated_at, remote.reason))
        for leg in remote.legs:
            self._legs[leg.id] = order.id
            tracked = self._by_client_id.get(leg.client_order_id)
            if tracked is None and leg.status != "held":
                tracked = leg.to_order(parent_id=order.id)
                tracked.strategy = order.strategy
                self.track([tracked])
            if tracked is not None:
                self._bring(tracked, leg)

    def _fill(self, order: Order, fill_id: str, qty: float, price: float, timestamp: datetime) -> None:
        fill = Fill(
            fill_id=fill_id,
            order_id=order.id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            timestamp=timestamp,
            venue="alpaca",
        )
        self._emit(order.apply_fill(fill))

    def _fill_rest(self, order: Order, remote: RemoteOrder) -> None:
        """One fill for what Alpaca's cumulative totals show and no activity explained."""
        qty = remote.filled_qty - order.filled_qty
        paid = (remote.filled_avg_price or 0.0) * remote.filled_qty - order.notional
        price = paid / qty if paid > 0 else remote.filled_avg_price or 0.0
        fill_id = str(uuid.uuid5(_FILL_NAMESPACE, f"{remote.id}/{remote.filled_qty!r}"))
        _log.warning("alpaca fill without an execution seen", order=remote.id, qty=qty, price=price)
        self._fill(order, fill_id, qty, price, remote.updated_at)

    def _executions(self, remote: RemoteOrder) -> list[Execution]:
        """The order's executions from Alpaca's FILL activities since it was made."""
        after = (remote.created_at - timedelta(seconds=1)).isoformat()
        found: list[Execution] = []
        token = None
        while True:
            query = {"after": after, "direction": "asc", "page_size": _PAGE, "page_token": token}
            page = self._read(lambda q=query: self._client.get("/account/activities/FILL", q), "fill activities")
            found += [Execution.of_activity(a) for a in page if a.get("order_id") == remote.id]
            if len(page) < _PAGE:
                return found
            token = page[-1]["id"]

    def _known_id(self, remote: RemoteOrder) -> str:
        """Our id of Alpaca's order (Alpaca's own when we do not track it)."""
        tracked = self._by_client_id.get(remote.client_order_id)
        return remote.id if tracked is None else tracked.id

    def _remote_id(self, order: Order) -> str:
        remote_id = self._remote_ids.get(order.id)
        if remote_id is None:
            remote = self._lookup(order.client_order_id)
            if remote is None:
                raise BrokerError(f"order {order.id} (client_order_id {order.client_order_id}) is unknown to alpaca")
            remote_id = self._remote_ids[order.id] = remote.id
        return remote_id

    def _fetch(self, remote_id: str) -> RemoteOrder:
        request = GetOrderByIdRequest(nested=True)
        return RemoteOrder.of(self._read(lambda: self._client.get_order_by_id(remote_id, request), "order"))

    def _lookup(self, client_order_id: str, *, retry: bool = True) -> RemoteOrder | None:
        """Alpaca's order sent with ``client_order_id``, or None if Alpaca has none (``retry``: transient failures
        retried until the deadline; else raised, for a caller that retries itself)."""
        found = self._read(
            lambda: self._client.get_order_by_client_id(client_order_id), "order lookup", missing=True, retry=retry
        )
        return None if found is None else RemoteOrder.of(found)

    def _read(self, call: Callable[[], _T], what: str, missing: bool = False, retry: bool = True) -> _T:
        """One read, transient failures retried with backoff until the deadline (with ``retry``); failures as
        BrokerError (with ``missing``, an HTTP 404 is None)."""

        def attempt() -> _T:
            try:
                return call()
            except APIError as exc:
                if missing and exc.status_code == HTTPStatus.NOT_FOUND:
                    return None
                raise broker_error(exc, what) from exc
            except OSError as exc:
                raise broker_error(exc, what) from exc

        return self._until_deadline(attempt, what) if retry else attempt()

    def _until_deadline(self, attempt: Callable[[], _T], what: str) -> _T:
        """``attempt()`` until it succeeds or fails for good: transient failures are tried again after a backoff
        that doubles from 0.1 s to 5 s, never sooner than a 429's ``Retry-After``, until ``deadline`` seconds have
        passed; then `BrokerUnavailable` names the last failure."""
        give_up = time.monotonic() + self.deadline
        backoff = 0.1
        while True:
            try:
                return attempt()
            except BrokerError as exc:
                if not exc.transient:
                    raise
                wait = max(backoff, exc.retry_after or 0.0)
                if time.monotonic() + wait > give_up:
                    raise BrokerUnavailable(f"{exc} (still failing after {self.deadline:g} s of retries)") from exc
                _log.warning("alpaca call failed; trying again", what=what, error=str(exc), wait=round(wait, 3))
                time.sleep(wait)
                backoff = min(backoff * 2.0, 5.0)

    def _cached(self, name: str, read: Callable[[], _T]) -> _T:
        """``read()``, or what it answered less than ``read_cache`` seconds ago with no order event since."""
        now = time.monotonic()
        hit = self._reads.get(name)
        if hit is not None and now - hit[0] < self.read_cache:
            return hit[1]
        value = read()
        self._reads[name] = (now, value)
        return value

    def _emit(self, event: OrderEvent) -> None:
        self._reads.clear()  # an event of our orders may move cash and positions: read them again
        for handler in list(self._handlers):
            handler(event)


def _signed(position: Any) -> float:
    qty = float(position.qty)
    side = str(getattr(position.side, "value", position.side))
    return -abs(qty) if side == "short" else qty
