"""The order domain model: state machine, fills, validation, bracket legs, persistence, and the caller's clock."""

from __future__ import annotations

import doctest
import inspect
import json
import pickle
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

import workbench.orders.model as model
from workbench.errors import WorkbenchError
from workbench.orders import (
    OPEN_STATUSES,
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

S = OrderStatus
# A clock far from the wall clock, so a model that read the real time would be caught.
T0 = datetime(2001, 2, 3, 14, 30, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
T2 = T0 + timedelta(minutes=2)
T3 = T0 + timedelta(minutes=3)

LEGAL = [(a, b) for a in OrderStatus for b in OrderStatus if b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a in OrderStatus for b in OrderStatus if b not in TRANSITIONS[a]]
EVENT_OF = {
    S.ACCEPTED: "accepted",
    S.PARTIALLY_FILLED: "partial_fill",
    S.FILLED: "fill",
    S.CANCELED: "canceled",
    S.REJECTED: "rejected",
    S.EXPIRED: "expired",
}


def make(**kw) -> Order:
    """A market buy of 10 SPY created at T0, with ``kw`` overriding."""
    return Order(**{"symbol": "SPY", "side": "buy", "qty": 10, "created_at": T0, **kw})


def fill(order: Order, qty: float, price: float = 100.0, fee: float = 0.0, at: datetime = T1) -> Fill:
    return Fill.for_order(order, qty=qty, price=price, fee=fee, timestamp=at)


def reach(status: OrderStatus) -> Order:
    """An order of qty 10 in ``status``, reached by legal moves (partially filled = 4 of 10 filled)."""
    order = make()
    if status is S.NEW:
        return order
    if status in (S.REJECTED, S.CANCELED):
        order.transition(status, T1)
        return order
    order.transition(S.ACCEPTED, T1)
    if status is S.PARTIALLY_FILLED:
        order.apply_fill(fill(order, 4))
    elif status is S.FILLED:
        order.apply_fill(fill(order, 10))
    elif status is S.EXPIRED:
        order.transition(S.EXPIRED, T1)
    assert order.status is status
    return order


def move(order: OrderStatus, to: OrderStatus) -> OrderEvent:
    """Make the legal move to ``to`` at T2: fills for the fill statuses, `transition` for the others."""
    if to is S.PARTIALLY_FILLED:
        return order.apply_fill(fill(order, 1, at=T2))
    if to is S.FILLED:
        return order.apply_fill(fill(order, order.remaining_qty, at=T2))
    return order.transition(to, T2, reason="because")


# -- enums and the table ----------------------------------------------------------------------------------------


def test_enum_values_are_alpaca_wire_strings():
    assert [s.value for s in Side] == ["buy", "sell"]
    assert [t.value for t in OrderType] == ["market", "limit", "stop", "stop_limit"]
    assert [t.value for t in TimeInForce] == ["day", "gtc", "ioc"]
    assert [s.value for s in OrderStatus] == [
        "new",
        "accepted",
        "partially_filled",
        "filled",
        "canceled",
        "rejected",
        "expired",
    ]
    assert [k.value for k in EventKind] == ["accepted", "partial_fill", "fill", "canceled", "rejected", "expired"]
    assert Side.BUY == "buy" and json.dumps(Side.SELL) == '"sell"'


def test_transition_table_is_the_specified_one():
    assert dict(TRANSITIONS) == {
        S.NEW: {S.ACCEPTED, S.REJECTED, S.CANCELED},
        S.ACCEPTED: {S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED},
        S.PARTIALLY_FILLED: {S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED},
        S.FILLED: set(),
        S.CANCELED: set(),
        S.REJECTED: set(),
        S.EXPIRED: set(),
    }
    assert {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED} == TERMINAL_STATUSES
    assert {S.NEW, S.ACCEPTED, S.PARTIALLY_FILLED} == OPEN_STATUSES
    with pytest.raises(TypeError):
        TRANSITIONS[S.FILLED] = frozenset({S.NEW})  # type: ignore[index]


# -- state machine ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "to"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_every_legal_transition(start, to):
    order = reach(start)
    event = move(order, to)
    assert order.status is to
    assert order.updated_at == T2 and order.created_at == T0
    assert isinstance(event, OrderEvent)
    assert (event.order_id, event.client_order_id) == (order.id, order.client_order_id)
    assert event.kind == EVENT_OF[to] and event.timestamp == T2
    if to in (S.PARTIALLY_FILLED, S.FILLED):
        assert event.fill is not None and event.fill.timestamp == T2 and event.reason is None
    else:
        assert event.fill is None and event.reason == "because"
    assert order.reject_reason == ("because" if to is S.REJECTED else None)


@pytest.mark.parametrize(("start", "to"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_every_illegal_transition_raises_and_changes_nothing(start, to):
    order = reach(start)
    before = order.to_dict()
    with pytest.raises(IllegalTransition) as info:
        order.transition(to, T2)
    err = info.value
    msg = str(err)
    assert order.id in msg and order.client_order_id in msg
    assert f"illegal transition {start.value} -> {to.value}" in msg
    allowed = ", ".join(s.value for s in OrderStatus if s in TRANSITIONS[start])
    assert f"allowed from {start.value}: {allowed or f'none, {start.value} is terminal'}" in msg
    assert (err.order_id, err.from_status, err.to_status) == (order.id, start, to)
    assert order.to_dict() == before


@pytest.mark.parametrize("start", [S.NEW, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED])
def test_fill_on_an_order_that_cannot_fill_is_an_illegal_transition(start):
    order = reach(start)
    before = order.to_dict()
    with pytest.raises(IllegalTransition, match=f"illegal transition {start.value} -> "):
        order.apply_fill(fill(order, 1, at=T2))
    assert order.to_dict() == before


@pytest.mark.parametrize("to", [S.PARTIALLY_FILLED, S.FILLED])
def test_fill_statuses_are_reached_only_through_fills(to):
    order = reach(S.ACCEPTED)
    with pytest.raises(OrderError, match=r"status='\w+' is invalid: expected .*apply_fill") as info:
        order.transition(to, T2)
    assert info.value.field == "status"
    assert order.status is S.ACCEPTED and order.filled_qty == 0


def test_transition_rejects_unknown_status_and_naive_now():
    order = make()
    with pytest.raises(OrderError, match="status='held' is invalid: expected one of new, accepted"):
        order.transition("held", T1)
    naive = re.escape("now=datetime.datetime(2001, 2, 3, 0, 0) is invalid: expected a timezone-aware datetime")
    with pytest.raises(OrderError, match=naive):
        order.transition(S.ACCEPTED, datetime(2001, 2, 3))
    with pytest.raises(OrderError, match="now='soon' is invalid: expected an ISO 8601 timestamp"):
        bracket().bracket_legs("soon")
    assert order.status is S.NEW and order.updated_at == T0


@pytest.mark.parametrize("status", list(OrderStatus))
def test_is_open_and_is_terminal(status):
    order = reach(status)
    assert order.is_open is (status in (S.NEW, S.ACCEPTED, S.PARTIALLY_FILLED))
    assert order.is_terminal is (not order.is_open)


# -- fills ------------------------------------------------------------------------------------------------------


def test_partial_fills_sum_to_the_qty():
    order = reach(S.ACCEPTED)
    kinds = [order.apply_fill(fill(order, q)).kind for q in (3, 3, 4)]
    assert kinds == ["partial_fill", "partial_fill", "fill"]
    assert order.status is S.FILLED and order.filled_qty == 10.0 and order.remaining_qty == 0.0


def test_fractional_partial_fills_sum_within_float_tolerance():
    order = make(qty=1.0)
    order.transition(S.ACCEPTED, T0)
    assert sum([0.1] * 10) != 1.0  # the float sum is off; the order still fills exactly
    for i in range(10):
        order.apply_fill(fill(order, 0.1))
        assert order.status is (S.FILLED if i == 9 else S.PARTIALLY_FILLED)
    assert order.filled_qty == 1.0 and order.remaining_qty == 0.0 and order.is_terminal


def test_fill_a_hair_over_the_remaining_qty_is_accepted_within_the_tolerance():
    order = reach(S.ACCEPTED)
    order.apply_fill(fill(order, 10 * (1 + 1e-12)))
    assert order.status is S.FILLED and order.filled_qty == 10.0


@pytest.mark.parametrize("extra", [6.5, 6 + 1e-6])
def test_over_fill_is_refused_and_changes_nothing(extra):
    order = reach(S.PARTIALLY_FILLED)  # 4 of 10
    before = order.to_dict()
    with pytest.raises(OrderError) as info:
        order.apply_fill(fill(order, extra, at=T2))
    msg = str(info.value)
    assert info.value.field == "fill.qty" and info.value.value == extra
    assert f"fill.qty={extra!r} is invalid: expected <= the remaining qty 6.0 (10.0 ordered, 4.0 filled)" in msg
    assert msg.startswith(f"order {order.id}: ")
    assert order.to_dict() == before


def test_avg_fill_price_is_volume_weighted():
    order = reach(S.ACCEPTED)
    order.apply_fill(fill(order, 4, price=100.0))
    assert order.avg_fill_price == 100.0
    order.apply_fill(fill(order, 6, price=101.5))
    assert order.avg_fill_price == pytest.approx((4 * 100.0 + 6 * 101.5) / 10, rel=1e-15)  # 100.9
    assert order.notional == pytest.approx(1009.0, rel=1e-15)


def test_fractional_vwap_by_hand():
    order = make(qty=2.5, side="sell")
    order.transition("accepted", T0)
    for q, p in [(0.75, 10.0), (1.25, 10.4), (0.5, 9.8)]:
        order.apply_fill(fill(order, q, price=p))
    assert order.avg_fill_price == pytest.approx((7.5 + 13.0 + 4.9) / 2.5, rel=1e-15)  # 10.16
    assert order.status is S.FILLED


def test_fees_accumulate():
    order = reach(S.ACCEPTED)
    order.apply_fill(fill(order, 2, fee=1.0))
    order.apply_fill(fill(order, 3, fee=0.5))
    order.apply_fill(fill(order, 5, fee=0.0))
    assert order.fees == 1.5


def test_fill_sets_updated_at_to_the_fill_time():
    order = reach(S.ACCEPTED)
    order.apply_fill(fill(order, 1, at=T3))
    assert order.updated_at == T3 and order.created_at == T0


@pytest.mark.parametrize(
    ("field", "value"),
    [("order_id", "another-id"), ("client_order_id", "another-cid"), ("symbol", "QQQ"), ("side", "sell")],
)
def test_fill_of_another_order_is_refused(field, value):
    order = reach(S.ACCEPTED)
    own = fill(order, 1).to_dict()
    foreign = Fill.from_dict({**own, field: value})
    with pytest.raises(OrderError) as info:
        order.apply_fill(foreign)
    assert info.value.field == f"fill.{field}"
    mine = order.id if field == "order_id" else str(getattr(order, field))
    assert f"fill.{field}={value!r} is invalid: expected {mine!r}, the order's {field}" in str(info.value)
    assert order.filled_qty == 0 and order.status is S.ACCEPTED


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("qty", 0, "a finite number > 0"),
        ("qty", -1.0, "a finite number > 0"),
        ("qty", float("nan"), "a finite number > 0"),
        ("price", 0.0, "a finite number > 0"),
        ("price", float("inf"), "a finite number > 0"),
        ("fee", -0.01, "a finite number >= 0"),
        ("fee", float("nan"), "a finite number >= 0"),
        ("symbol", "", "a ticker"),
        ("side", "short", "one of buy, sell"),
        ("timestamp", datetime(2001, 2, 3), "a timezone-aware datetime"),
        ("order_id", "", "a non-empty string"),
    ],
)
def test_fill_validation(field, value, expected):
    kw = {
        "order_id": "o",
        "client_order_id": "c",
        "symbol": "SPY",
        "side": "buy",
        "qty": 1.0,
        "price": 10.0,
        "timestamp": T0,
        field: value,
    }
    with pytest.raises(OrderError) as info:
        Fill(**kw)
    assert info.value.field == field
    assert f"{field}={value!r} is invalid: expected {expected}" in str(info.value)


# -- order validation -------------------------------------------------------------------------------------------

INVALID = [
    # (overrides, field, value named in the message, expected part)
    ({"type": "limit"}, "limit_price", None, "a finite number > 0 (a limit order needs it)"),
    ({"type": "stop"}, "stop_price", None, "a finite number > 0 (a stop order needs it)"),
    ({"type": "stop_limit", "stop_price": 10.0}, "limit_price", None, "(a stop_limit order needs it)"),
    ({"type": "stop_limit", "limit_price": 10.0}, "stop_price", None, "(a stop_limit order needs it)"),
    ({"limit_price": 10.0}, "limit_price", 10.0, "None: a market order takes no limit_price"),
    ({"stop_price": 10.0}, "stop_price", 10.0, "None: a market order takes no stop_price"),
    (
        {"type": "limit", "limit_price": 10.0, "stop_price": 9.0},
        "stop_price",
        9.0,
        "None: a limit order takes no stop_price",
    ),
    (
        {"type": "stop", "stop_price": 10.0, "limit_price": 9.0},
        "limit_price",
        9.0,
        "None: a stop order takes no limit_price",
    ),
    ({"type": "limit", "limit_price": -5.0}, "limit_price", -5.0, "a finite number > 0"),
    ({"type": "limit", "limit_price": float("nan")}, "limit_price", float("nan"), "a finite number > 0"),
    ({"qty": 0}, "qty", 0, "a finite number > 0"),
    ({"qty": -3.0}, "qty", -3.0, "a finite number > 0"),
    ({"qty": float("nan")}, "qty", float("nan"), "a finite number > 0"),
    ({"qty": float("inf")}, "qty", float("inf"), "a finite number > 0"),
    ({"qty": True}, "qty", True, "a finite number > 0"),
    ({"qty": "10"}, "qty", "10", "a finite number > 0"),
    ({"symbol": ""}, "symbol", "", "a ticker of letters, digits"),
    ({"symbol": "S P Y"}, "symbol", "S P Y", "a ticker of letters, digits"),
    ({"symbol": None}, "symbol", None, "a ticker of letters, digits"),
    ({"client_order_id": "x" * 49}, "client_order_id", "x" * 49, "a non-empty string of at most 48 characters"),
    ({"client_order_id": ""}, "client_order_id", "", "a non-empty string of at most 48 characters"),
    ({"side": "hold"}, "side", "hold", "one of buy, sell"),
    ({"type": "trailing_stop"}, "type", "trailing_stop", "one of market, limit, stop, stop_limit"),
    ({"time_in_force": "fok"}, "time_in_force", "fok", "one of day, gtc, ioc"),
    ({"created_at": datetime(2001, 2, 3)}, "created_at", datetime(2001, 2, 3), "a timezone-aware datetime"),
    ({"created_at": "yesterday"}, "created_at", "yesterday", "an ISO 8601 timestamp"),
    ({"tags": {"k": 1}}, "tags", {"k": 1}, "a mapping of str to str"),
    ({"strategy": ""}, "strategy", "", "a non-empty string or None"),
    ({"fees": -1.0}, "fees", -1.0, "a finite number >= 0"),
    # brackets
    ({"take_profit": 110.0}, "stop_loss", None, "(a bracket needs take_profit and stop_loss)"),
    ({"stop_loss": 90.0}, "take_profit", None, "(a bracket needs take_profit and stop_loss)"),
    ({"stop_loss_limit": 89.0}, "stop_loss_limit", 89.0, "None: it needs a bracket's stop_loss"),
    ({"take_profit": 90.0, "stop_loss": 95.0}, "take_profit", 90.0, "> stop_loss 95.0 for a buy bracket"),
    (
        {"side": "sell", "take_profit": 95.0, "stop_loss": 90.0},
        "take_profit",
        95.0,
        "< stop_loss 90.0 for a sell bracket",
    ),
    (
        {"type": "limit", "limit_price": 100.0, "take_profit": 99.0, "stop_loss": 90.0},
        "take_profit",
        99.0,
        "> the entry price 100.0 for a buy bracket",
    ),
    (
        {"type": "limit", "limit_price": 100.0, "take_profit": 110.0, "stop_loss": 100.0},
        "stop_loss",
        100.0,
        "< the entry price 100.0 for a buy bracket",
    ),
    (
        {"side": "sell", "type": "limit", "limit_price": 100.0, "take_profit": 101.0, "stop_loss": 110.0},
        "take_profit",
        101.0,
        "< the entry price 100.0 for a sell bracket",
    ),
    (
        {"side": "sell", "type": "limit", "limit_price": 100.0, "take_profit": 90.0, "stop_loss": 99.0},
        "stop_loss",
        99.0,
        "> the entry price 100.0 for a sell bracket",
    ),
    (
        {"type": "stop", "stop_price": 105.0, "take_profit": 110.0, "stop_loss": 106.0},
        "stop_loss",
        106.0,
        "< the entry price 105.0 for a buy bracket",
    ),
    (
        {"take_profit": 110.0, "stop_loss": 90.0, "stop_loss_limit": 90.5},
        "stop_loss_limit",
        90.5,
        "<= stop_loss 90.0 for a buy bracket",
    ),
    (
        {"side": "sell", "take_profit": 90.0, "stop_loss": 110.0, "stop_loss_limit": 109.0},
        "stop_loss_limit",
        109.0,
        ">= stop_loss 110.0 for a sell bracket",
    ),
    ({"take_profit": float("nan"), "stop_loss": 90.0}, "take_profit", float("nan"), "a finite number > 0"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "value", "expected"), INVALID, ids=[f"{i}-{case[1]}" for i, case in enumerate(INVALID)]
)
def test_order_validation_names_field_value_and_expectation(overrides, field, value, expected):
    with pytest.raises(OrderError) as info:
        make(**overrides)
    err = info.value
    assert isinstance(err, WorkbenchError) and isinstance(err, ValueError)
    assert err.field == field
    assert f"{field}={value!r} is invalid: expected" in str(err)
    assert expected in str(err) and expected in err.expected


@pytest.mark.parametrize(
    "overrides",
    [
        {"type": "limit", "limit_price": 100.0},
        {"type": "stop", "stop_price": 100.0},
        {"type": "stop_limit", "stop_price": 100.0, "limit_price": 100.5},
        {"qty": 0.001},
        {"qty": np.float64(2.5)},
        {"client_order_id": "x" * 48},
        {"symbol": "brk.b"},
        {"symbol": "BTC/USD"},
        {"take_profit": 110.0, "stop_loss": 90.0},
        {"side": "sell", "take_profit": 90.0, "stop_loss": 110.0, "stop_loss_limit": 110.5},
        {"type": "limit", "limit_price": 100.0, "take_profit": 110.0, "stop_loss": 95.0, "stop_loss_limit": 94.0},
        {"type": "stop", "stop_price": 105.0, "take_profit": 110.0, "stop_loss": 100.0},
    ],
)
def test_valid_orders_are_accepted(overrides):
    order = make(**overrides)
    assert order.status is S.NEW and order.filled_qty == 0.0 and order.avg_fill_price is None


def test_normalization():
    order = make(
        symbol="brk.b", side="SELL", qty=np.int64(3), type="Limit", limit_price=np.float64(12.5), time_in_force="gtc"
    )
    assert order.symbol == "BRK.B"
    assert order.side is Side.SELL and order.type is OrderType.LIMIT and order.time_in_force is TimeInForce.GTC
    assert type(order.qty) is float and order.qty == 3.0 and type(order.limit_price) is float
    assert make().time_in_force is TimeInForce.DAY and make().type is OrderType.MARKET


@pytest.mark.parametrize(
    "values",
    [
        {"symbol": "spy", "side": "buy", "qty": 10, "created_at": T0},
        {"symbol": "BRK.B", "side": Side.SELL, "qty": np.float64(2.5), "created_at": T0, "strategy": "sma_cross"},
        {"symbol": "btc/usd", "side": "SELL", "qty": 0.001, "created_at": T0.astimezone(timezone(timedelta(hours=2)))},
    ],
)
def test_market_orders_equal_the_constructor(values):
    fast, full = Order.market(**values), Order(**values)
    assert uuid.UUID(fast.id).version == 4 and len({fast.id, fast.client_order_id, full.id}) == 3
    assert fast.tags == {} and fast.tags is not full.tags
    fast.id, fast.client_order_id = full.id, full.client_order_id
    assert fast == full and fast.to_dict() == full.to_dict()
    assert type(fast.qty) is float and fast.created_at.tzinfo is UTC and fast.updated_at == fast.created_at


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol": "no spaces"}, "symbol"),
        ({"side": "hold"}, "side"),
        ({"qty": float("nan")}, "qty"),
        ({"qty": -1.0}, "qty"),
        ({"created_at": datetime(2024, 1, 2)}, "created_at"),
        ({"strategy": ""}, "strategy"),
    ],
)
def test_market_orders_refuse_what_the_constructor_refuses(overrides, field):
    values = {"symbol": "SPY", "side": "buy", "qty": 1.0, "created_at": T0, **overrides}
    with pytest.raises(OrderError) as fast:
        Order.market(**values)
    with pytest.raises(OrderError) as full:
        Order(**values)
    assert fast.value.field == full.value.field == field and str(fast.value) == str(full.value)


def test_ids_are_uuids_unique_and_caller_client_order_id_is_kept():
    a, b = make(), make()
    for order in (a, b):
        assert uuid.UUID(order.id).version == 4 and uuid.UUID(order.client_order_id).version == 4
    assert len({a.id, b.id, a.client_order_id, b.client_order_id}) == 4
    assert make(client_order_id="my-mkt-1").client_order_id == "my-mkt-1"


def test_tags_are_copied():
    tags = {"signal": "cross"}
    order = make(tags=tags)
    tags["signal"] = "changed"
    assert order.tags == {"signal": "cross"}


def test_signed_qty_and_notional():
    assert make(qty=2.5).signed_qty == 2.5
    assert make(qty=2.5, side="sell").signed_qty == -2.5
    assert make().notional == 0.0
    assert reach(S.PARTIALLY_FILLED).notional == 400.0  # 4 at 100


# -- the caller's clock -----------------------------------------------------------------------------------------


def test_timestamps_come_from_the_caller():
    order = make()
    assert order.created_at == T0 and order.updated_at == T0
    assert order.transition(S.ACCEPTED, T1).timestamp == T1 and order.updated_at == T1
    assert make(updated_at=T2).updated_at == T2


def test_aware_times_are_stored_as_utc():
    local = datetime(2001, 2, 3, 16, 30, tzinfo=timezone(timedelta(hours=2)))
    order = make(created_at=local)
    assert order.created_at == T0 and order.created_at.utcoffset() == timedelta(0)
    assert type(order.created_at) is datetime
    stamp = make(created_at=pd.Timestamp("2001-02-03 09:30", tz="America/New_York")).created_at
    assert stamp == T0 and type(stamp) is datetime  # 09:30 New York (EST) is 14:30 UTC


def test_the_model_never_reads_the_wall_clock():
    source = inspect.getsource(model)
    for call in ("now()", "utcnow", "today(", "time.time", "monotonic", "perf_counter"):
        assert call not in source


# -- bracket legs ------------------------------------------------------------------------------------------------


def bracket(**kw) -> Order:
    return make(
        **{
            "type": "limit",
            "limit_price": 100.0,
            "take_profit": 110.0,
            "stop_loss": 95.0,
            "stop_loss_limit": 94.5,
            "strategy": "sma_cross",
            "tags": {"run": "7"},
            **kw,
        }
    )


def test_bracket_legs_fields():
    parent = bracket()
    parent.transition(S.ACCEPTED, T1)
    parent.apply_fill(fill(parent, 10, price=99.9))
    take, stop = parent.bracket_legs(T2)
    for leg in (take, stop):
        assert leg.symbol == "SPY" and leg.side is Side.SELL and leg.qty == 10.0
        assert leg.time_in_force is TimeInForce.GTC and leg.status is S.NEW
        assert leg.parent_id == parent.id and leg.oco_group == parent.id
        assert leg.created_at == T2 and leg.updated_at == T2
        assert leg.strategy == "sma_cross" and leg.tags == {"run": "7"} and leg.tags is not parent.tags
        assert leg.take_profit is None and leg.stop_loss is None and leg.stop_loss_limit is None
    assert take.type is OrderType.LIMIT and take.limit_price == 110.0 and take.stop_price is None
    assert stop.type is OrderType.STOP_LIMIT and stop.stop_price == 95.0 and stop.limit_price == 94.5
    assert len({parent.id, take.id, stop.id}) == 3
    assert len({parent.client_order_id, take.client_order_id, stop.client_order_id}) == 3
    again = parent.bracket_legs(T3)
    assert [o.client_order_id for o in again] == [take.client_order_id, stop.client_order_id]


def test_bracket_stop_leg_is_a_stop_order_without_a_stop_limit():
    parent = make(side="sell", take_profit=90.0, stop_loss=110.0)
    parent.transition(S.ACCEPTED, T1)
    parent.apply_fill(fill(parent, 10))
    take, stop = parent.bracket_legs(T2)
    assert take.side is Side.BUY and take.type is OrderType.LIMIT and take.limit_price == 90.0
    assert stop.side is Side.BUY and stop.type is OrderType.STOP and stop.stop_price == 110.0
    assert stop.limit_price is None


def test_bracket_legs_cover_the_filled_qty_of_a_partly_filled_then_canceled_entry():
    parent = bracket()
    parent.transition(S.ACCEPTED, T1)
    parent.apply_fill(fill(parent, 4))
    parent.transition(S.CANCELED, T2)
    assert [leg.qty for leg in parent.bracket_legs(T2)] == [4.0, 4.0]


def test_bracket_legs_need_a_bracket_and_a_fill():
    with pytest.raises(OrderError, match=r"take_profit=None is invalid: expected .*only a bracket order") as info:
        reach(S.FILLED).bracket_legs(T2)
    assert info.value.field == "take_profit"
    with pytest.raises(OrderError, match=r"filled_qty=0\.0 is invalid: expected > 0") as info:
        bracket().bracket_legs(T2)
    assert info.value.field == "filled_qty"


# -- events ----------------------------------------------------------------------------------------------------


def test_order_event_requires_a_fill_exactly_for_fill_kinds():
    order = reach(S.ACCEPTED)
    a_fill = fill(order, 1)
    base = {"order_id": order.id, "client_order_id": order.client_order_id, "timestamp": T1}
    assert OrderEvent(**base, kind="fill", fill=a_fill).kind is EventKind.FILL
    with pytest.raises(OrderError, match="fill=None is invalid: expected a Fill for a partial_fill event"):
        OrderEvent(**base, kind="partial_fill")
    with pytest.raises(OrderError, match="expected None for a canceled event"):
        OrderEvent(**base, kind="canceled", fill=a_fill)
    with pytest.raises(OrderError, match="kind='replaced' is invalid: expected one of accepted"):
        OrderEvent(**base, kind="replaced")


# -- persistence ------------------------------------------------------------------------------------------------


def test_order_round_trips_through_json():
    order = bracket(client_order_id="cid-1", time_in_force="gtc", parent_id="p", oco_group="g")
    order.transition(S.ACCEPTED, T1)
    order.apply_fill(fill(order, 4, price=99.5, fee=0.25, at=T2))
    data = order.to_dict()
    assert data["status"] == "partially_filled" and type(data["status"]) is str and type(data["side"]) is str
    assert data["created_at"] == "2001-02-03T14:30:00+00:00" and data["updated_at"] == T2.isoformat()
    back = Order.from_dict(json.loads(json.dumps(data)))
    assert back == order and back.to_dict() == data
    # the restored order keeps working: the rest fills it
    back.apply_fill(fill(back, 6, at=T3))
    assert back.status is S.FILLED


@pytest.mark.parametrize("status", list(OrderStatus))
def test_round_trip_in_every_status(status):
    order = reach(status)
    assert Order.from_dict(json.loads(json.dumps(order.to_dict()))) == order


def test_fill_round_trips_through_json():
    order = make()
    original = Fill.for_order(order, qty=0.5, price=101.25, fee=0.01, timestamp=T1, liquidity="taker", venue="IEX")
    data = original.to_dict()
    assert data["side"] == "buy" and data["timestamp"] == T1.isoformat()
    assert Fill.from_dict(json.loads(json.dumps(data))) == original


def test_from_dict_refuses_unknown_missing_and_inconsistent_data():
    data = reach(S.PARTIALLY_FILLED).to_dict()
    with pytest.raises(OrderError, match="colour='red' is invalid: expected one of the Order fields: id, "):
        Order.from_dict({**data, "colour": "red"})
    with pytest.raises(OrderError, match="qty=None is invalid: expected a value: Order needs qty") as info:
        Order.from_dict({k: v for k, v in data.items() if k != "qty"})
    assert info.value.field == "qty"
    with pytest.raises(OrderError, match=r"filled_qty=4\.0 is invalid: expected qty 10\.0 for status filled"):
        Order.from_dict({**data, "status": "filled"})
    with pytest.raises(OrderError, match=r"filled_qty=4\.0 is invalid: expected 0 for status accepted"):
        Order.from_dict({**data, "status": "accepted"})
    with pytest.raises(OrderError, match="avg_fill_price=None is invalid: expected a finite number > 0"):
        Order.from_dict({**data, "avg_fill_price": None})
    with pytest.raises(OrderError, match=r"avg_fill_price=100\.0 is invalid: expected None before any fill"):
        Order.from_dict({**data, "status": "new", "filled_qty": 0.0})
    with pytest.raises(OrderError, match="Order=\\[\\] is invalid: expected a mapping"):
        Order.from_dict([])  # type: ignore[arg-type]
    with pytest.raises(OrderError, match="price=None is invalid: expected a value: Fill needs price"):
        Fill.from_dict({k: v for k, v in fill(make(), 1).to_dict().items() if k != "price"})


# -- errors and docs --------------------------------------------------------------------------------------------


def test_errors_pickle_with_their_fields():
    with pytest.raises(OrderError) as bad:
        make(qty=-1)
    with pytest.raises(IllegalTransition) as illegal:
        reach(S.FILLED).transition(S.CANCELED, T2)
    order_error = pickle.loads(pickle.dumps(bad.value))
    assert (order_error.field, order_error.value, str(order_error)) == ("qty", -1, str(bad.value))
    transition_error = pickle.loads(pickle.dumps(illegal.value))
    assert (transition_error.from_status, transition_error.to_status) == (S.FILLED, S.CANCELED)
    assert isinstance(transition_error, WorkbenchError)


def test_docstring_example_runs():
    result = doctest.testmod(model, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
