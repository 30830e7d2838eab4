"""OrderManager: target-exposure sizing, retries of transient broker errors, never sending a client_order_id
twice, the event stream (after positions), and the runtime ports (Broker, Clock) with FrozenClock."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone

import pytest
import tenacity

from workbench.brokers import BrokerError
from workbench.brokers.sim import SimBroker
from workbench.clock import Clock
from workbench.orders.manager import OrderManager, PositionState
from workbench.orders.model import EventKind, Order, OrderError, OrderEvent, OrderStatus
from workbench.ports import Account, Broker, MarketClock
from workbench.testing import FrozenClock

S = OrderStatus
T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class FlakyBroker:
    """A Broker wrapping a SimBroker whose ``submit`` raises the queued errors first, counting every call."""

    def __init__(self, inner: SimBroker, errors: list[BrokerError] | None = None, always: BrokerError | None = None):
        self.inner = inner
        self.errors = list(errors or [])
        self.always = always
        self.submit_calls = 0

    def submit(self, order: Order) -> Order:
        self.submit_calls += 1
        if self.always is not None:
            raise self.always
        if self.errors:
            raise self.errors.pop(0)
        return self.inner.submit(order)

    def cancel(self, order_id: str) -> Order:
        return self.inner.cancel(order_id)

    def get_order(self, order_id: str) -> Order:
        return self.inner.get_order(order_id)

    def list_orders(self, open_only: bool = False) -> list[Order]:
        return self.inner.list_orders(open_only)

    def positions(self) -> dict[str, float]:
        return self.inner.positions()

    def account(self) -> Account:
        return self.inner.account()

    def market_clock(self) -> MarketClock:
        return self.inner.market_clock()

    def subscribe(self, handler: Callable[[OrderEvent], None]) -> None:
        self.inner.subscribe(handler)

    @property
    def kind(self) -> str:
        return self.inner.kind

    def pump(self, timeout: float = 0.0) -> int:
        return self.inner.pump(timeout)

    def track(self, orders: Iterable[Order]) -> None:
        self.inner.track(orders)


def rig(cash: float = 10_000.0, fees: float = 0.0, slippage: float = 0.0, price: float = 100.0):
    clock = FrozenClock(T0)
    broker = SimBroker(clock, cash=cash, fees=fees, slippage=slippage)
    broker.quote("SPY", price)
    om = OrderManager(broker, clock, fees=fees, slippage=slippage)
    return clock, broker, om


def flaky_rig(retries: int = 3, **kw):
    clock = FrozenClock(T0)
    inner = SimBroker(clock, cash=10_000.0)
    inner.quote("SPY", 100.0)
    broker = FlakyBroker(inner, **kw)
    om = OrderManager(broker, clock, retries=retries)
    om._retrying.wait = tenacity.wait_none()  # no real sleeping in tests
    return clock, broker, om


def market(clock: FrozenClock, side: str = "buy", qty: float = 1.0, **kw) -> Order:
    return Order(symbol="SPY", side=side, qty=qty, created_at=clock.now(), **kw)


# --- target sizing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fees", [0.0, 0.001, 0.01])
def test_target_one_from_flat_buys_all_in_net_of_fees(fees):
    _clock, broker, om = rig(cash=10_000.0, fees=fees, price=123.0)
    order = om.target("SPY", 1.0, price=123.0)
    expected = 10_000.0 / (123.0 * (1 + fees))  # fees=0: 81.30081..., fees=0.001: 81.22059...
    assert order is not None and order.status is S.FILLED
    assert order.side.value == "buy"
    assert order.qty == pytest.approx(expected, rel=1e-12)
    assert om.fills[-1].price == 123.0  # at the quote, exactly
    assert order.avg_fill_price == pytest.approx(123.0, rel=1e-15)  # (123 * q) / q may be off by one ulp
    assert broker.positions()["SPY"] == pytest.approx(expected, rel=1e-12)
    assert om.positions["SPY"].qty == pytest.approx(expected, rel=1e-12)
    # all the cash is spent on shares plus fee: qty * 123 * (1 + fees) = 10000
    assert broker.account().cash == pytest.approx(0.0, abs=1e-6)
    assert order.fees == pytest.approx(expected * 123.0 * fees, rel=1e-12, abs=1e-12)


def test_target_one_with_slippage_sizes_at_the_slipped_price():
    _clock, broker, om = rig(cash=10_000.0, fees=0.001, slippage=0.002, price=50.0)
    order = om.target("SPY", 1.0, price=50.0)
    expected = 10_000.0 / 1.001 / (50.0 * 1.002)  # 199.4020...
    assert order.qty == pytest.approx(expected, rel=1e-12)
    assert order.avg_fill_price == pytest.approx(50.1, rel=1e-12)
    assert broker.account().cash == pytest.approx(0.0, abs=1e-6)


def test_target_zero_sells_exactly_the_position():
    _clock, broker, om = rig(cash=10_000.0, fees=0.001, price=123.0)
    bought = om.target("SPY", 1.0, price=123.0)
    held = broker.positions()["SPY"]
    broker.quote("SPY", 130.0)
    order = om.target("SPY", 0.0, price=130.0)
    assert order.side.value == "sell"
    assert order.qty == held == bought.qty  # exactly, not approximately
    assert broker.positions() == {}
    assert om.positions["SPY"].qty == 0.0 and om.positions["SPY"].avg_price == 0.0
    # cash = proceeds - fee = held * 130 * (1 - 0.001)
    assert broker.account().cash == pytest.approx(held * 130.0 * 0.999, rel=1e-12)
    assert om.target("SPY", 0.0, price=130.0) is None  # flat already: nothing to do


@pytest.mark.parametrize("fees, expected", [(0.0, 50.0), (0.01, 0.5 * 10_000.0 / 1.005 / 100.0)])
def test_target_minus_half_from_flat_shorts(fees, expected):
    # value = -0.5 * 10000 / (1 + 0.5 * fees); units = value / 100
    _clock, broker, om = rig(cash=10_000.0, fees=fees, price=100.0)
    order = om.target("SPY", -0.5, price=100.0)
    assert order.side.value == "sell" and order.status is S.FILLED
    assert order.qty == pytest.approx(expected, rel=1e-12)
    assert broker.positions()["SPY"] == pytest.approx(-expected, rel=1e-12)
    account = broker.account()
    # the short is half of the equity left after the fee
    assert -expected * 100.0 / account.equity == pytest.approx(-0.5, rel=1e-12)
    assert account.cash == pytest.approx(10_000.0 + expected * 100.0 * (1 - fees), rel=1e-12)


def test_target_already_reached_and_tiny_targets_send_nothing():
    _clock, broker, om = rig(cash=10_000.0, price=500.0)
    # 1e-13 x 10000 / 500 = 2e-15 units, below MIN_ORDER_SIZE (1e-8)
    assert om.target("SPY", 1e-13, price=500.0) is None
    assert broker.list_orders() == [] and om.orders == {} and om.events == []
    assert om.target("SPY", 0.5, price=500.0).qty == 10.0  # 5000 / 500
    assert om.target("SPY", 0.5, price=500.0) is None
    assert len(broker.list_orders()) == 1 and len(om.orders) == 1


def test_target_sized_order_is_routed_through_submit_with_the_strategy_name():
    clock = FrozenClock(T0)
    broker = FlakyBroker(SimBroker(clock, cash=1_000.0))
    broker.inner.quote("SPY", 10.0)
    om = OrderManager(broker, clock, strategy="sma_cross")
    order = om.target("spy", 1.0, price=10.0)
    assert broker.submit_calls == 1
    assert order.symbol == "SPY" and order.qty == 100.0 and order.strategy == "sma_cross"
    assert order.created_at == T0 and order.type.value == "market"
    assert om.orders == {order.id: order}


# --- retries ---------------------------------------------------------------------------------------------------


def test_transient_errors_are_retried_and_the_order_is_sent_once():
    clock, broker, om = flaky_rig(
        retries=3, errors=[BrokerError("timeout", transient=True), BrokerError("rate limited", transient=True)]
    )
    order = om.submit(market(clock, qty=2))
    assert broker.submit_calls == 3  # two failures, then success
    assert broker.inner.list_orders() == [order]  # the broker executed it once
    assert order.status is S.FILLED and broker.positions() == {"SPY": 2.0}
    assert [e.kind for e in om.events] == [EventKind.ACCEPTED, EventKind.FILL]
    assert om.positions["SPY"].qty == 2.0


def test_a_non_transient_error_propagates_at_once():
    clock, broker, om = flaky_rig(retries=3, errors=[BrokerError("forbidden", transient=False)])
    order = market(clock)
    with pytest.raises(BrokerError, match="forbidden"):
        om.submit(order)
    assert broker.submit_calls == 1
    assert broker.inner.list_orders() == [] and om.events == [] and om.positions == {}
    # it was never sent, so sending it now is allowed and goes through
    assert om.submit(order).status is S.FILLED
    assert broker.submit_calls == 2


def test_other_exceptions_are_not_retried():
    clock, broker, om = flaky_rig(retries=3, always=None)
    broker.errors = [RuntimeError("boom")]  # type: ignore[list-item]
    with pytest.raises(RuntimeError, match="boom"):
        om.submit(market(clock))
    assert broker.submit_calls == 1


@pytest.mark.parametrize("retries", [1, 2, 3, 5])
def test_after_retries_transient_failures_the_error_propagates(retries):
    clock, broker, om = flaky_rig(retries=retries, always=BrokerError("still down", transient=True))
    with pytest.raises(BrokerError, match="still down") as info:
        om.submit(market(clock))
    assert info.value.transient is True
    assert broker.submit_calls == retries
    assert broker.inner.list_orders() == []


def test_default_backoff_waits_and_is_exponential():
    _clock, _broker, om = rig()
    wait = om._retrying.wait
    assert isinstance(wait, tenacity.wait_exponential)
    # a real backoff: the second wait is longer than the first, both > 0
    state = tenacity.RetryCallState(om._retrying, fn=None, args=(), kwargs={})
    state.attempt_number = 1
    first = wait(state)
    state.attempt_number = 2
    second = wait(state)
    assert 0 < first < second


# --- never the same client_order_id twice ----------------------------------------------------------------------


def test_resubmitting_the_same_order_raises_and_the_broker_sees_one_submission():
    clock, broker, om = flaky_rig()
    order = market(clock, client_order_id="strat-1-0001")
    om.submit(order)
    with pytest.raises(OrderError, match="strat-1-0001") as info:
        om.submit(order)
    assert info.value.field == "client_order_id" and info.value.value == "strat-1-0001"
    twin = market(clock, client_order_id="strat-1-0001")  # another object, same client_order_id
    with pytest.raises(OrderError):
        om.submit(twin)
    assert broker.submit_calls == 1
    assert broker.inner.list_orders() == [order]
    assert broker.positions() == {"SPY": 1.0}
    assert twin.status is S.NEW


def test_a_rejected_order_is_still_sent_once():
    _clock, broker, om = flaky_rig()
    order = Order(symbol="QQQ", side="buy", qty=1, created_at=T0)  # no QQQ quote: rejected
    assert om.submit(order).status is S.REJECTED
    with pytest.raises(OrderError):
        om.submit(order)
    assert broker.submit_calls == 1


# --- event stream ----------------------------------------------------------------------------------------------


def test_subscribers_get_every_event_after_positions_are_updated():
    clock, broker, om = rig(cash=10_000.0, fees=0.001)
    seen: list[tuple[EventKind, float | None, float | None]] = []

    def handler(event: OrderEvent) -> None:
        pos = om.positions.get("SPY")
        seen.append((event.kind, None if pos is None else pos.qty, None if pos is None else pos.realized_pnl))
        assert event is om.events[-1]  # recorded before handlers run
        if event.fill is not None:
            assert om.fills[-1] is event.fill

    om.subscribe(handler)
    om.submit(market(clock, "buy", 10))  # at 100, fee 1.0
    broker.quote("SPY", 110.0)
    om.submit(market(clock, "sell", 4))  # at 110, fee 0.44; realized -1 + 4 * 10 - 0.44 = 38.56
    om.submit(Order(symbol="QQQ", side="buy", qty=1, created_at=T0))  # rejected: no quote
    assert seen[:4] == [
        (EventKind.ACCEPTED, None, None),
        (EventKind.FILL, 10.0, pytest.approx(-1.0, rel=1e-12)),
        (EventKind.ACCEPTED, 10.0, pytest.approx(-1.0, rel=1e-12)),
        (EventKind.FILL, 6.0, pytest.approx(38.56, rel=1e-12)),
    ]
    assert seen[4] == (EventKind.REJECTED, 6.0, pytest.approx(38.56, rel=1e-12))
    assert len(seen) == 5 == len(om.events)
    assert len(om.fills) == 2


def test_position_state_unrealized_pnl():
    pos = PositionState("SPY", qty=-10.0, avg_price=90.0)
    assert pos.unrealized_pnl(80.0) == 100.0  # -10 x (80 - 90)
    assert PositionState("SPY", qty=3.0, avg_price=10.0).unrealized_pnl(12.5) == 7.5


# --- the ports -------------------------------------------------------------------------------------------------


def test_sim_broker_and_fakes_satisfy_the_runtime_protocols():
    clock = FrozenClock(T0)
    broker = SimBroker(clock)
    assert isinstance(broker, Broker)
    assert isinstance(FlakyBroker(broker), Broker)
    assert isinstance(clock, Clock)
    assert not isinstance(object(), Broker)
    assert not isinstance(object(), Clock)
    assert not isinstance(clock, Broker)


def test_frozen_clock_refuses_naive_times_and_going_backwards():
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2024, 1, 2, 14, 30))
    clock = FrozenClock(T0)
    assert clock.now() == T0
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2024, 1, 3))
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(T0 - timedelta(microseconds=1))
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == T0  # refused moves change nothing
    assert clock.set(T0) == T0  # standing still is fine
    assert clock.advance(timedelta(days=1)) == T0 + timedelta(days=1)
    # another zone, same instant ordering: 09:29 New York (UTC-5) on Jan 3 is before 14:30 UTC on Jan 3
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(datetime(2024, 1, 3, 9, 29, tzinfo=timezone(timedelta(hours=-5))))
    assert clock.now() == T0 + timedelta(days=1)
