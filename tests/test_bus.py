"""`EventBus`: typed delivery to sync and asyncio subscribers, each isolated from the others' failures and delays."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

import pytest

from workbench.bus import BarEvent, EventBus, broadcast
from workbench.data.feeds import ReplayFeed
from workbench.ports import Bar
from workbench.testing import make_bars


def _bar(close: float, symbol: str = "SPY") -> BarEvent:
    return BarEvent(Bar(symbol, datetime(2024, 1, 2, tzinfo=UTC), close, close, close, close, 100.0))


class Other:
    """An event type nobody in these tests subscribes to except through ``object``."""


@pytest.fixture
def bus():
    with EventBus() as event_bus:
        yield event_bus


def test_subscribers_get_the_events_of_their_type_in_publish_order(bus: EventBus) -> None:
    closes, everything = [], []
    bus.subscribe(BarEvent, lambda e: closes.append(e.bar.close), name="engine")
    bus.subscribe(object, everything.append, name="recorder")
    events = [_bar(float(i)) for i in range(200)]
    for event in events:
        assert bus.publish(event) == 2
    assert bus.publish(Other()) == 1
    assert bus.join(timeout=5)
    assert closes == [float(i) for i in range(200)]
    assert everything[:200] == events and isinstance(everything[200], Other)
    assert bus.stats()["engine"] == {
        "event_type": "BarEvent",
        "mode": "thread",
        "delivered": 200,
        "failed": 0,
        "dropped": 0,
        "pending": 0,
    }


def test_a_failing_subscriber_is_counted_and_logged_and_the_others_still_get_everything(bus: EventBus) -> None:
    got = []

    def flaky(event: BarEvent) -> None:
        if event.bar.close % 2:
            raise RuntimeError(f"cannot handle {event.bar.close}")
        got.append(("flaky", event.bar.close))

    bus.subscribe(BarEvent, flaky)
    bus.subscribe(BarEvent, lambda e: got.append(("ok", e.bar.close)), name="ok")
    for i in range(10):
        bus.publish(_bar(float(i)))
    assert bus.join(timeout=5)
    stats = bus.stats()
    key = next(name for name in stats if name.endswith("flaky"))
    assert (stats[key]["delivered"], stats[key]["failed"]) == (5, 5)
    assert stats["ok"]["delivered"] == 10
    assert [c for who, c in got if who == "flaky"] == [0.0, 2.0, 4.0, 6.0, 8.0]  # it went on after each failure


def test_a_slow_subscriber_blocks_neither_publish_nor_the_others_and_drops_past_its_bound(bus: EventBus) -> None:
    release = threading.Event()
    fast = []
    bus.subscribe(BarEvent, lambda e: release.wait(10), name="slow", queue_size=5)
    bus.subscribe(BarEvent, lambda e: fast.append(e.bar.close), name="fast")
    started = time.perf_counter()
    for i in range(20):
        bus.publish(_bar(float(i)))
    assert time.perf_counter() - started < 0.5  # publish only enqueues
    deadline = time.monotonic() + 5
    while len(fast) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fast == [float(i) for i in range(20)]  # while "slow" is still stuck on its first event
    assert bus.stats()["slow"]["delivered"] == 0
    assert not bus.join(timeout=0.1)
    release.set()
    assert bus.join(timeout=5)
    slow = bus.stats()["slow"]
    assert (slow["delivered"], slow["dropped"], slow["pending"]) == (5, 15, 0)


def test_async_subscribers_run_on_their_loop_isolated_from_each_other() -> None:
    async def scenario() -> dict[str, dict]:
        bus = EventBus()
        got, gate = [], asyncio.Event()

        async def collect(event: BarEvent) -> None:
            got.append(event.bar.close)

        async def broken(event: BarEvent) -> None:
            raise ValueError("boom")

        async def stuck(event: BarEvent) -> None:
            await gate.wait()

        bus.subscribe(BarEvent, collect)
        bus.subscribe(BarEvent, broken)
        bus.subscribe(BarEvent, stuck, queue_size=2)
        sync_seen = []
        bus.subscribe(BarEvent, lambda e: sync_seen.append(e.bar.close), name="sync")
        # published from another thread, as a feed would
        publisher = threading.Thread(target=lambda: [bus.publish(_bar(float(i))) for i in range(10)])
        publisher.start()
        publisher.join()
        for _ in range(100):
            if len(got) == 10:
                break
            await asyncio.sleep(0.01)
        assert got == [float(i) for i in range(10)]
        snapshot = bus.stats()
        gate.set()
        await asyncio.sleep(0.05)
        assert await asyncio.to_thread(bus.join, 5)
        assert sync_seen == got
        bus.close()
        return snapshot

    during = asyncio.run(scenario())
    names = {name.rsplit(".", 1)[-1]: stats for name, stats in during.items()}
    assert names["collect"]["mode"] == "async" and names["collect"]["delivered"] == 10
    assert names["broken"]["failed"] == 10 and names["broken"]["delivered"] == 0
    assert (names["stuck"]["delivered"], names["stuck"]["dropped"], names["stuck"]["pending"]) == (0, 8, 2)


def test_coroutine_handlers_need_a_loop() -> None:
    async def handler(event: BarEvent) -> None: ...

    with EventBus() as bus, pytest.raises(ValueError, match="pass loop="):
        bus.subscribe(BarEvent, handler)


def test_unsubscribe_and_close_finish_queued_events_then_stop(bus: EventBus) -> None:
    got = []
    sub = bus.subscribe(BarEvent, lambda e: (time.sleep(0.01), got.append(e.bar.close)), name="a")
    for i in range(5):
        bus.publish(_bar(float(i)))
    bus.unsubscribe(sub)
    assert got == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert bus.publish(_bar(5.0)) == 0 and "a" not in bus.stats()
    bus.subscribe(BarEvent, lambda e: None, name="b")
    bus.subscribe(BarEvent, lambda e: None, name="b")
    assert sorted(bus.stats()) == ["b", "b#1"]
    with pytest.raises(ValueError, match="queue_size=0"):
        bus.subscribe(BarEvent, print, queue_size=0)


def test_broadcast_publishes_a_feed_bar_by_bar(bus: EventBus) -> None:
    seen = []
    bus.subscribe(BarEvent, lambda e: seen.append((e.bar.symbol, e.bar.timestamp.day)))
    frames = {"AAA": make_bars(3, seed=1), "BBB": make_bars(2, seed=2)}
    assert broadcast(ReplayFeed(frames), bus) == 5
    assert bus.join(timeout=5)
    assert seen == [("AAA", 1), ("BBB", 1), ("AAA", 2), ("BBB", 2), ("AAA", 3)]
