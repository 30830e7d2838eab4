"""AlpacaBroker: alpaca-py's real TradingClient and TradingStream against the loopback Alpaca (tests/alpaca_fake).

The fake's account is the oracle: its orders, executions, cash and positions are what our events, fills and
positions must come to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alpaca_fake import LoopbackServer, Plan, TradingApi

from workbench.brokers import BrokerError
from workbench.brokers.alpaca import AlpacaBroker
from workbench.config import Settings
from workbench.errors import ConfigError
from workbench.orders.manager import OrderManager
from workbench.orders.model import EventKind, Order, OrderEvent, OrderStatus
from workbench.testing import FrozenClock

NOW = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def trading(server: LoopbackServer) -> TradingApi:
    api = TradingApi(server, cash=100_000.0, partial=(0.4, 0.6))
    api.quote("SPY", 500.0)
    return api


def make_broker(server: LoopbackServer, secret: str | None = None, **options: object) -> AlpacaBroker:
    return AlpacaBroker(
        server.api_key,
        secret or server.secret_key,
        url_override=server.rest_url,
        stream_url_override=server.ws_url("/stream"),
        clock=FrozenClock(NOW),
        **({"settle_timeout": 2.0, "reconnect": (0.05, 0.2)} | options),
    )


@pytest.fixture
def broker(server: LoopbackServer, trading: TradingApi) -> Iterator[AlpacaBroker]:
    with make_broker(server) as started:
        yield started


def manager(broker: AlpacaBroker) -> tuple[OrderManager, list[OrderEvent]]:
    om = OrderManager(broker, FrozenClock(NOW))
    events: list[OrderEvent] = []
    om.subscribe(events.append)
    return om, events


def order(**fields: object) -> Order:
    return Order(**({"symbol": "SPY", "side": "buy", "qty": 10, "created_at": NOW} | fields))


def wait_for(condition, broker: AlpacaBroker, timeout: float = 5.0) -> None:
    """Pump the broker until ``condition()`` holds (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        broker.pump(timeout=0.05)


def submits(server: LoopbackServer) -> list[dict]:
    return [r.body for r in server.requests if r.method == "POST" and r.path == "/v2/orders"]


def test_a_market_order_fills_in_parts_and_our_records_match_alpacas(
    broker: AlpacaBroker, trading: TradingApi, server: LoopbackServer
) -> None:
    om, events = manager(broker)

    sent = om.submit(order(qty=10))

    assert sent.status is OrderStatus.FILLED and sent.filled_qty == 10 and sent.avg_fill_price == 500.0
    assert [e.kind for e in events] == [EventKind.ACCEPTED, EventKind.PARTIAL_FILL, EventKind.FILL]
    fake = trading.order(sent.client_order_id)
    executions = [a["id"].rpartition("::")[2] for a in trading.activities]
    assert [f.fill_id for f in om.fills] == executions and [f.qty for f in om.fills] == [4.0, 6.0]
    assert submits(server) == [
        {"symbol": "SPY", "qty": 10.0, "side": "buy", "type": "market", "time_in_force": "day",
         "client_order_id": sent.client_order_id}
    ]  # fmt: skip
    assert fake.status == "filled" and broker.get_order(sent.id) is sent
    assert broker.positions() == {"SPY": 10.0} == {s: p.qty for s, p in om.positions.items()}
    account = broker.account()
    assert account.cash == trading.cash == 95_000.0 and account.equity == trading.equity()


def test_resting_orders_are_sent_in_alpacas_shapes_and_fill_on_the_stream(
    broker: AlpacaBroker, trading: TradingApi, server: LoopbackServer
) -> None:
    om, events = manager(broker)
    limit = om.submit(order(type="limit", limit_price=490.0, time_in_force="gtc"))
    stop = om.submit(order(side="sell", qty=5, type="stop", stop_price=480.0))
    stop_limit = om.submit(order(side="sell", qty=5, type="stop_limit", stop_price=480.0, limit_price=479.5))

    assert [o.status for o in (limit, stop, stop_limit)] == [OrderStatus.ACCEPTED] * 3
    bodies = submits(server)
    assert (bodies[0]["type"], bodies[0]["limit_price"], bodies[0]["time_in_force"]) == ("limit", 490.0, "gtc")
    assert (bodies[1]["type"], bodies[1]["stop_price"], "limit_price" in bodies[1]) == ("stop", 480.0, False)
    assert (bodies[2]["type"], bodies[2]["stop_price"], bodies[2]["limit_price"]) == ("stop_limit", 480.0, 479.5)
    assert {o.id for o in broker.list_orders(open_only=True)} == {limit.id, stop.id, stop_limit.id}

    trading.quote("SPY", 489.0)
    wait_for(lambda: limit.status is OrderStatus.FILLED, broker)

    assert limit.avg_fill_price == 489.0 and stop.is_open and stop_limit.is_open
    assert events[-1].kind is EventKind.FILL and events[-1].fill.fill_id == trading.activities[-1]["id"][-36:]


def test_a_bracket_entry_fills_then_its_legs_work_as_one_cancels_other(
    broker: AlpacaBroker, trading: TradingApi, server: LoopbackServer
) -> None:
    trading.partial = (1.0,)
    om, _ = manager(broker)

    entry = om.submit(order(take_profit=520.0, stop_loss=480.0, stop_loss_limit=479.0, time_in_force="gtc"))
    wait_for(lambda: len(om.orders) == 3, broker)

    body = submits(server)[0]
    assert body["order_class"] == "bracket" and body["take_profit"] == {"limit_price": 520.0}
    assert body["stop_loss"] == {"stop_price": 480.0, "limit_price": 479.0}
    legs = {o.type.value: o for o in om.orders.values() if o.parent_id == entry.id}
    assert set(legs) == {"limit", "stop_limit"} and all(leg.status is OrderStatus.ACCEPTED for leg in legs.values())

    trading.quote("SPY", 521.0)
    wait_for(lambda: not legs["stop_limit"].is_open, broker)

    assert legs["limit"].status is OrderStatus.FILLED and legs["limit"].avg_fill_price == 521.0
    assert legs["stop_limit"].status is OrderStatus.CANCELED
    assert om.positions["SPY"].qty == 0.0 and om.positions["SPY"].realized_pnl == pytest.approx(210.0)


def test_a_refused_order_comes_back_rejected_with_alpacas_reason_and_is_not_retried(
    broker: AlpacaBroker, trading: TradingApi, server: LoopbackServer
) -> None:
    om, events = manager(broker)
    trading.reject_next("insufficient buying power")

    refused = om.submit(order(qty=1_000))
    later = om.submit(order(qty=1))
    trading.plan(Plan(reject="halted symbol"))
    after_acceptance = om.submit(order(type="limit", limit_price=499.0))
    wait_for(lambda: not after_acceptance.is_open, broker)

    assert refused.status is OrderStatus.REJECTED
    assert refused.reject_reason == "alpaca: insufficient buying power (code 40310000) (HTTP 403)"
    assert [e.kind for e in events if e.order_id == refused.id] == [EventKind.REJECTED]
    assert len([b for b in submits(server) if b["client_order_id"] == refused.client_order_id]) == 1
    assert later.status is OrderStatus.FILLED
    assert after_acceptance.status is OrderStatus.REJECTED and after_acceptance.reject_reason == "rejected at alpaca"


def test_transient_failures_are_retried_with_backoff_and_the_order_is_made_once(
    broker: AlpacaBroker, trading: TradingApi, server: LoopbackServer
) -> None:
    om, _ = manager(broker)
    server.fail_next("/v2/orders", 429)
    server.fail_next("/v2/orders", None)  # the connection drops: was the order made? (it was not)
    server.fail_next("/v2/positions", 503)

    sent = om.submit(order(qty=2))

    assert sent.status is OrderStatus.FILLED
    assert [b["client_order_id"] for b in submits(server)] == [sent.client_order_id] * 3  # 429, dropped, made
    assert [r.query for r in server.requests if r.path == "/v2/orders:by_client_order_id"] == [
        {"client_order_id": sent.client_order_id}
    ]  # asked before sending again
    assert [o.client_order_id for o in trading.orders.values()] == [sent.client_order_id]
    assert broker.positions() == {"SPY": 2.0}  # after a 503, retried


def test_a_lost_answer_is_resolved_by_client_order_id_without_sending_twice(
    broker: AlpacaBroker, trading: TradingApi, server: LoopbackServer
) -> None:
    om, _ = manager(broker)
    trading.lose_next_reply()

    sent = om.submit(order(qty=3))

    assert sent.status is OrderStatus.FILLED and sent.filled_qty == 3
    assert [b["client_order_id"] for b in submits(server)] == [sent.client_order_id]  # once
    lookups = [r.query for r in server.requests if r.path == "/v2/orders:by_client_order_id"]
    assert lookups[0] == {"client_order_id": sent.client_order_id}


def test_errors_that_cannot_heal_carry_alpacas_message(broker: AlpacaBroker, server: LoopbackServer) -> None:
    om, _ = manager(broker)
    filled = om.submit(order(qty=1))

    with pytest.raises(BrokerError, match="order is not cancelable") as refused:
        broker.cancel(filled.id)
    wrong = make_broker(server, secret="wrong")
    with pytest.raises(BrokerError, match="request is not authorized") as keys:
        wrong.account()
    wrong.start(timeout=1.0)  # not acknowledged: it goes on without
    with pytest.raises(ConfigError, match="stream refused the login"):
        wrong.pump(timeout=2.0)
    wrong.close()

    assert not refused.value.transient and not keys.value.transient


def test_a_dropped_stream_reconnects_and_catches_up_the_fills_it_missed(
    broker: AlpacaBroker, trading: TradingApi
) -> None:
    om, events = manager(broker)
    resting = om.submit(order(type="limit", limit_price=490.0))
    other = om.submit(order(side="sell", qty=4, type="limit", limit_price=510.0))
    broker.pump(timeout=0.1)  # the first subscription's catch-up, and the acceptances
    caught_up = broker.catch_ups
    trading.offline()
    trading.drop_stream()
    trading.fill(resting.client_order_id, qty=4, price=489.5)
    trading.fill(resting.client_order_id, qty=6, price=489.0)
    trading.cancel(other.client_order_id)
    assert len(trading.missed) == 3

    trading.online()
    wait_for(lambda: not other.is_open, broker)

    assert broker.catch_ups == caught_up + 1  # after the reconnection
    assert resting.status is OrderStatus.FILLED and resting.avg_fill_price == pytest.approx(489.2)
    assert [f.fill_id for f in om.fills] == [a["id"][-36:] for a in trading.activities]
    assert other.status is OrderStatus.CANCELED and events[-1].reason == "canceled at alpaca"


def test_a_gap_in_the_updates_is_filled_from_the_activities(broker: AlpacaBroker, trading: TradingApi) -> None:
    om, _ = manager(broker)
    resting = om.submit(order(type="limit", limit_price=490.0))
    trading.drop_stream()
    trading.fill(resting.client_order_id, qty=3, price=489.0)  # missed
    wait_for(lambda: trading.listening() == 1, broker)
    broker.catch_ups = 0

    trading.fill(resting.client_order_id, qty=7, price=488.0)  # heard, after a gap
    wait_for(lambda: resting.status is OrderStatus.FILLED, broker)

    assert [(f.qty, f.price) for f in om.fills] == [(3.0, 489.0), (7.0, 488.0)]


def test_replace_ends_the_old_order_and_tracks_the_new_one(broker: AlpacaBroker, trading: TradingApi) -> None:
    om, _ = manager(broker)
    old = om.submit(order(type="limit", limit_price=480.0, time_in_force="gtc"))

    new = broker.replace(old.id, qty=12, limit_price=485.0)
    broker.pump(timeout=0.2)

    assert old.status is OrderStatus.CANCELED and old.reject_reason is None
    assert om.events[-2].reason == f"replaced by {new.client_order_id}"
    assert trading.order(old.client_order_id).status == "replaced"
    assert (new.qty, new.limit_price, new.status, new.id in om.orders) == (12.0, 485.0, OrderStatus.ACCEPTED, True)
    trading.quote("SPY", 484.0)
    wait_for(lambda: new.status is OrderStatus.FILLED, broker)


def test_sync_tells_orders_never_sent_from_sent_ones(broker: AlpacaBroker, trading: TradingApi) -> None:
    never = order()
    sent = order(qty=1, type="limit", limit_price=400.0)
    broker.submit(sent)

    assert broker.sync(never) is False and never.status is OrderStatus.NEW
    assert broker.sync(sent) is True and sent.status is OrderStatus.ACCEPTED
    assert broker.market_clock().is_open


def test_live_trading_needs_the_live_profile_and_confirmation() -> None:
    keys = {"alpaca_api_key": "k", "alpaca_secret_key": "s"}

    with pytest.raises(ConfigError, match="real money"):
        AlpacaBroker.from_settings(Settings(broker="alpaca-paper", **keys), broker="alpaca-live")
    with pytest.raises(ConfigError, match="not an Alpaca broker"):
        AlpacaBroker.from_settings(Settings(**keys), broker="sim")
    paper = AlpacaBroker.from_settings(
        Settings(broker="alpaca-paper", alpaca_base_url="http://127.0.0.1:9", **keys), settle_timeout=0.1
    )
    assert paper.paper and paper._stream._client._endpoint == "ws://127.0.0.1:9/stream"


def test_the_trade_updates_stream_url_comes_from_the_settings() -> None:
    """The fake serves its stream on a port of its own, as a proxy may: alpaca_stream_url points the broker there
    (it used to be derived from the trading URL, always)."""
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=10_000.0)
        keys = {"alpaca_api_key": server.api_key, "alpaca_secret_key": server.secret_key}
        settings = Settings(
            broker="alpaca-paper",
            alpaca_base_url=server.rest_url,
            alpaca_stream_url=server.ws_url("/stream"),
            **keys,
        )
        with AlpacaBroker.from_settings(settings) as broker:
            assert trading.connections == 1 and broker.account().cash == 10_000.0
