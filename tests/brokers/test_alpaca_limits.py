"""AlpacaBroker under Alpaca's limits, against the loopback fake: a 429 burst is waited out (its Retry-After
honoured) until the order is sent; past the deadline the order is known refused (rejected, saying so) or, when it
may have reached Alpaca, still followed, and `BrokerUnavailable` is raised; account and positions are read once per
moment and again after any event of our orders.

(Issue #15: three retries within 0.2 s ignored Retry-After, then the order was dropped and left ``new``.)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alpaca_fake import LoopbackServer, TradingApi

from workbench.brokers import BrokerUnavailable
from workbench.brokers.alpaca import AlpacaBroker
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
    api = TradingApi(server, cash=100_000.0)
    api.quote("SPY", 500.0)
    return api


def make_broker(server: LoopbackServer, **options: object) -> AlpacaBroker:
    return AlpacaBroker(
        server.api_key,
        server.secret_key,
        url_override=server.rest_url,
        stream_url_override=server.ws_url("/stream"),
        clock=FrozenClock(NOW),
        **({"settle_timeout": 2.0, "reconnect": (0.05, 0.2)} | options),
    )


def manager(broker: AlpacaBroker) -> tuple[OrderManager, list[OrderEvent]]:
    om = OrderManager(broker, FrozenClock(NOW))
    events: list[OrderEvent] = []
    om.subscribe(events.append)
    return om, events


def posts(server: LoopbackServer) -> list:
    return [r for r in server.requests if r.method == "POST" and r.path == "/v2/orders"]


def test_a_429_burst_is_waited_out_as_retry_after_says_and_the_order_is_sent_once(
    server: LoopbackServer, trading: TradingApi
) -> None:
    server.fail_next("/v2/orders", 429, times=3, headers={"Retry-After": "1"})
    with make_broker(server) as broker:
        om, _ = manager(broker)
        sent = om.submit(Order(symbol="SPY", side="buy", qty=2, created_at=NOW))

    assert sent.status is OrderStatus.FILLED and sent.filled_qty == 2
    tries = posts(server)
    assert [r.body["client_order_id"] for r in tries] == [sent.client_order_id] * 4  # three 429s, then made
    assert all(later.at - earlier.at >= 1.0 for earlier, later in itertools.pairwise(tries))  # Retry-After: 1
    assert [o.client_order_id for o in trading.orders.values()] == [sent.client_order_id]


def test_past_the_deadline_a_rate_limited_order_is_rejected_saying_so(
    server: LoopbackServer, trading: TradingApi
) -> None:
    server.fail_next("/v2/orders", 429, times=1_000, headers={"Retry-After": "0.5"})
    with make_broker(server, deadline=2.0) as broker:
        om, events = manager(broker)
        new = Order(symbol="SPY", side="buy", qty=2, created_at=NOW)
        with pytest.raises(
            BrokerUnavailable, match=r"too many requests \(code 42910000\) \(HTTP 429\) \(still failing after 2 s"
        ) as exc:
            om.submit(new)

    assert not exc.value.uncertain and not exc.value.transient
    assert new.status is OrderStatus.REJECTED and new.reject_reason.startswith("alpaca: not sent, alpaca submit of")
    assert [e.kind for e in events] == [EventKind.REJECTED]  # known refused: recorded so, never left new
    assert new.id not in om.orders and not trading.orders
    assert len(posts(server)) >= 3  # tried again and again, half a second apart at least


def test_past_the_deadline_an_order_that_may_have_reached_alpaca_is_followed_on(
    server: LoopbackServer, trading: TradingApi
) -> None:
    server.fail_next("/v2/orders", None, times=1_000)  # the connection drops: was it made? ask before resending
    with make_broker(server, deadline=1.5) as broker:
        om, events = manager(broker)
        new = Order(symbol="SPY", side="buy", qty=2, created_at=NOW)
        with pytest.raises(BrokerUnavailable, match="may be at alpaca: it is followed") as exc:
            om.submit(new)

        assert exc.value.uncertain
        assert new.status is OrderStatus.NEW and om.orders[new.id] is new and events == []
        lookups = [r for r in server.requests if r.path == "/v2/orders:by_client_order_id"]
        assert len(lookups) == len(posts(server)) - 1  # each resend only after Alpaca said it has none
        with pytest.raises(Exception, match="already sent"):  # never sent again under its client_order_id
            om.submit(new)


def test_account_and_positions_are_read_once_a_moment_and_again_after_our_fills(
    server: LoopbackServer, trading: TradingApi
) -> None:
    with make_broker(server, read_cache=3600.0) as broker:
        om, _ = manager(broker)

        def reads(path: str) -> int:
            return sum(1 for r in server.requests if r.path == path)

        assert [broker.account().cash for _ in range(5)] == [100_000.0] * 5
        assert [broker.positions() for _ in range(5)] == [{}] * 5
        assert (reads("/v2/account"), reads("/v2/positions")) == (1, 1)

        om.submit(Order(symbol="SPY", side="buy", qty=2, created_at=NOW))  # its fill moves cash and positions

        assert broker.account().cash == 99_000.0 and broker.positions() == {"SPY": 2.0}
        assert (reads("/v2/account"), reads("/v2/positions")) == (2, 2)
        held = broker.positions()
        held["SPY"] = 0.0  # a caller's copy: the cached answer stays
        assert broker.positions() == {"SPY": 2.0}
