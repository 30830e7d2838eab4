"""`EventBus`: typed events broadcast in-process to sync and asyncio subscribers that cannot hold each other up.

The feed publishes a `BarEvent` per new bar; the strategy engine, the cache and the UI subscribe to it. Each
subscriber has its own bounded queue, drained by its own worker thread (a sync handler) or its own task on its
event loop (a coroutine handler), so:

* `publish` never waits for a handler: it only enqueues, and returns at once;
* a slow subscriber delays only itself; once its queue is full, new events for it are dropped and counted;
* a handler that raises is logged and counted, and receives the next event as usual;
* each subscriber sees its events in publish order.

A coroutine handler must not block its loop (it would stall that loop's other tasks, not the bus).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from workbench.logs import get_logger
from workbench.ports import Bar

log = get_logger(__name__)
E = TypeVar("E")
Handler = Callable[[E], None] | Callable[[E], Awaitable[None]]

#: Events a subscriber may have waiting before further ones are dropped, unless it asks for another bound.
DEFAULT_QUEUE_SIZE = 10_000
_STOP = object()


@dataclass(frozen=True, slots=True)
class BarEvent:
    """A new bar from a feed."""

    bar: Bar


class Subscription(ABC):
    """One handler's bounded queue, its worker and its counters; `EventBus.subscribe` makes them.

    Counters: ``delivered`` (handled), ``failed`` (the handler raised), ``dropped`` (the queue was full).
    """

    #: How the handler runs: ``"thread"`` or ``"async"``.
    mode: str

    def __init__(self, name: str, event_type: type, handler: Callable[[Any], Any], queue_size: int) -> None:
        self.name = name
        self.event_type = event_type
        self.handler = handler
        self._limit = queue_size
        self._state = threading.Condition()  # guards the counts below; notified when pending drops
        self._pending = self._delivered = self._failed = self._dropped = 0

    def offer(self, event: Any) -> bool:
        """Queue `event` unless `queue_size` events are already waiting (then count a drop); never blocks."""
        with self._state:
            full = self._pending >= self._limit
            if full:
                self._dropped += 1
                dropped = self._dropped
            else:
                self._pending += 1
        if full:
            if dropped & (dropped - 1) == 0:  # the 1st, 2nd, 4th, 8th... drop: visible without flooding the log
                log.warning("event dropped: subscriber queue full", subscriber=self.name, dropped=dropped)
            return False
        self._enqueue(event)
        return True

    def wait_idle(self, timeout: float | None) -> bool:
        """Block until every queued event has been handled; False if `timeout` seconds passed first."""
        with self._state:
            return self._state.wait_for(lambda: self._pending == 0, timeout)

    def stats(self) -> dict[str, Any]:
        """Event type, mode, ``delivered``, ``failed``, ``dropped`` and ``pending`` (queued, not yet handled)."""
        with self._state:
            return {
                "event_type": self.event_type.__name__,
                "mode": self.mode,
                "delivered": self._delivered,
                "failed": self._failed,
                "dropped": self._dropped,
                "pending": self._pending,
            }

    @abstractmethod
    def stop(self, timeout: float | None) -> None:
        """Finish the queued events, then end the worker."""

    @abstractmethod
    def _enqueue(self, event: Any) -> None:
        """Hand `event` to the worker."""

    def _handled(self, error: BaseException | None) -> None:
        """Count one handled event (logging a failure) and wake `wait_idle` callers."""
        if error is not None:
            log.error("event handler failed", subscriber=self.name, error=repr(error), exc_info=error)
        with self._state:
            if error is None:
                self._delivered += 1
            else:
                self._failed += 1
            self._pending -= 1
            self._state.notify_all()


class _ThreadSubscription(Subscription):
    """A sync handler on its own daemon thread."""

    mode = "thread"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"bus:{self.name}", daemon=True)
        self._thread.start()

    def _enqueue(self, event: Any) -> None:
        self._queue.put(event)

    def _run(self) -> None:
        while (event := self._queue.get()) is not _STOP:
            try:
                self.handler(event)
            except Exception as exc:
                self._handled(exc)
            else:
                self._handled(None)

    def stop(self, timeout: float | None) -> None:
        """Let the worker finish the queued events, then end it (waiting at most `timeout` seconds)."""
        self._queue.put(_STOP)
        self._thread.join(timeout)


class _AsyncSubscription(Subscription):
    """A coroutine handler run by its own task on `loop`."""

    mode = "async"

    def __init__(self, *args: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(*args)
        self._loop = loop
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference to tasks
        loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        self._task = self._loop.create_task(self._run(), name=f"bus:{self.name}")

    def _enqueue(self, event: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError as exc:  # the loop is closed: the event can never be handled
            self._handled(exc)

    async def _run(self) -> None:
        while (event := await self._queue.get()) is not _STOP:
            try:
                await self.handler(event)
            except Exception as exc:
                self._handled(exc)
            else:
                self._handled(None)

    def stop(self, timeout: float | None) -> None:
        """Let the task finish the queued events, then end it (the loop must keep running for that)."""
        with contextlib.suppress(RuntimeError):  # loop already closed: its task is gone with it
            self._loop.call_soon_threadsafe(self._queue.put_nowait, _STOP)


class EventBus:
    """In-process publish/subscribe by event type, isolating subscribers from each other (see module docs).

    Parameters
    ----------
    queue_size
        Default bound of each subscriber's queue.

    Examples
    --------
    >>> bus = EventBus()
    >>> seen = []
    >>> sub = bus.subscribe(BarEvent, lambda e: seen.append(e.bar.close), name="engine")
    >>> bus.publish(BarEvent(Bar("SPY", None, 1.0, 2.0, 0.5, 1.5, 100.0)))
    1
    >>> bus.join(timeout=1.0), seen, bus.stats()["engine"]["delivered"]
    (True, [1.5], 1)
    >>> bus.close()
    """

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size={queue_size!r}: expected at least 1")
        self.queue_size = queue_size
        self._subscriptions: list[Subscription] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def subscribe(
        self,
        event_type: type[E],
        handler: Handler[E],
        *,
        name: str | None = None,
        queue_size: int | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Subscription:
        """Call `handler` with every published event that is an instance of `event_type`.

        Parameters
        ----------
        event_type
            A class; subclasses' events are delivered too (``object`` receives everything).
        handler
            A function, run on a worker thread of its own, or a coroutine function, run as a task on `loop`.
        name
            The key in `stats` and logs; the handler's qualified name by default (made unique with ``#n``).
        queue_size
            Bound of this subscriber's queue; the bus default if None.
        loop
            The event loop of a coroutine handler; by default the running loop (subscribe from inside it).

        Raises
        ------
        ValueError
            A coroutine handler with no `loop` outside a running loop, or a `queue_size` below 1.
        """
        size = self.queue_size if queue_size is None else queue_size
        if size < 1:
            raise ValueError(f"queue_size={size!r}: expected at least 1")
        label = name or getattr(handler, "__qualname__", type(handler).__name__)
        with self._lock:
            taken = {s.name for s in self._subscriptions}
            unique = label if label not in taken else f"{label}#{next(self._ids)}"
            if inspect.iscoroutinefunction(handler):
                subscription: Subscription = _AsyncSubscription(
                    unique, event_type, handler, size, loop=loop or _running_loop(unique)
                )
            else:
                subscription = _ThreadSubscription(unique, event_type, handler, size)
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription, timeout: float | None = 5.0) -> None:
        """Stop delivering to `subscription`; events already queued for it are still handled."""
        with self._lock:
            self._subscriptions.remove(subscription)
        subscription.stop(timeout)

    def publish(self, event: object) -> int:
        """Queue `event` for every subscriber of its type; return how many accepted it (full queues drop it)."""
        with self._lock:
            targets = [s for s in self._subscriptions if isinstance(event, s.event_type)]
        return sum(s.offer(event) for s in targets)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued event has been handled; False if `timeout` seconds passed first.

        Call it from a thread other than the one running the async subscribers' loop.
        """
        with self._lock:
            subscriptions = list(self._subscriptions)
        deadline = None if timeout is None else time.monotonic() + timeout
        return all(
            s.wait_idle(None if deadline is None else max(0.0, deadline - time.monotonic())) for s in subscriptions
        )

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per subscriber: ``delivered``, ``failed``, ``dropped``, ``pending``, its event type and mode."""
        with self._lock:
            return {s.name: s.stats() for s in self._subscriptions}

    def close(self, timeout: float | None = 5.0) -> None:
        """Unsubscribe everyone, letting each finish its queued events (threads wait up to `timeout` each)."""
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.stop(timeout)

    def __enter__(self) -> EventBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def broadcast(bars: Iterable[Bar], bus: EventBus) -> int:
    """Publish a `BarEvent` for each bar of a feed (any `DataFeed`) in order; return how many bars.

    Examples
    --------
    >>> from workbench.data.feeds import ReplayFeed
    >>> from workbench.testing import make_bars
    >>> broadcast(ReplayFeed({"SYN": make_bars(3)}), EventBus())
    3
    """
    count = 0
    for bar in bars:
        bus.publish(BarEvent(bar))
        count += 1
    return count


def _running_loop(name: str) -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise ValueError(
            f"coroutine handler {name!r}: pass loop=... or subscribe from inside the running event loop"
        ) from None
