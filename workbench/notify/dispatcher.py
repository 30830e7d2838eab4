"""`Dispatcher`: turns events into notifications, routes them to channels, records them and delivers them in
the background, so nothing that publishes an event ever waits for a mail server.

The path of an event:

1. `Dispatcher.notify` (called by the OrderManager, RiskManager, RiskMonitor, a session or anyone) puts it
   on a bounded queue and returns at once; a full queue drops the event and counts it.
2. The router thread makes it a `Notice` (`to_notice`), picks its channels (``routes`` by kind, then each
   channel's ``min_severity``), coalesces repeats (`Coalescer`), renders the message (`Renderer`) and records
   one notification per channel in the store's outbox, all in one transaction.
3. Each channel has a delivery thread of its own (a slow or failing channel delays only itself). A failed
   attempt is recorded and retried with exponential backoff (tenacity); after ``max_attempts`` the
   notification is dead-lettered (status ``failed``, with the last error).

Notifications left pending (by a restart, by `close` before they were sent, or queued in the outbox by another
process such as a scheduled paper step) are delivered by `Dispatcher.drain`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, stop_after_attempt, wait_exponential

from workbench.logs import get_logger
from workbench.notify import outbox
from workbench.notify.channels import Channel, Message, channels_from_settings
from workbench.notify.coalesce import Coalescer
from workbench.notify.events import Notice, Severity, to_notice
from workbench.notify.render import Renderer
from workbench.orders.model import Order

if TYPE_CHECKING:
    from workbench.config import Settings
    from workbench.trading.account import Session

_log = get_logger(__name__)
_STOP, _FLUSH = object(), object()
#: Counters of `Dispatcher.stats`.
COUNTS = ("received", "ignored", "filtered", "coalesced", "dropped", "recorded", "sent", "failed_attempts", "dead")


@dataclass(frozen=True)
class _Incoming:
    event: Any
    orders: Mapping[str, Order] | None
    strategy: str | None
    channels: tuple[str, ...] | None


class Dispatcher:
    """Notifications of events, routed, coalesced, recorded in ``store`` and delivered in the background.

    Parameters
    ----------
    store
        The `Store` whose outbox records every notification and each delivery attempt.
    channels
        Channels by name (see `channels_from_settings`).
    routes
        Notice kind (or ``"*"``) -> channel names; a kind with no route goes to ``routes["*"]``, else to all.
    min_severity
        Channel name (or ``"*"``) -> the least `Severity` (or its name) it is sent; one value for all channels.
    renderer
        Templates of the messages (`Renderer` with the bundled templates by default).
    window
        Coalescing window in seconds (0: off).
    max_attempts, backoff, max_backoff
        Delivery attempts before a notification is dead-lettered; the first wait in seconds, doubling each
        retry up to ``max_backoff``.
    queue_size
        Events that may wait for the router before further ones are dropped.

    Examples
    --------
    >>> dispatcher = Dispatcher.from_settings(settings, store)  # doctest: +SKIP
    >>> dispatcher.attach(session)            # fills, rejections, risk decisions and alerts  # doctest: +SKIP
    >>> schedule = NotebookSchedule(..., notify=dispatcher.notify)  # failed scheduled runs  # doctest: +SKIP
    >>> dispatcher.close()                    # deliver what is queued (the rest stays pending)  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Any,
        channels: Mapping[str, Channel],
        *,
        routes: Mapping[str, Sequence[str]] | None = None,
        min_severity: Severity | str | Mapping[str, Severity | str] = Severity.INFO,
        renderer: Renderer | None = None,
        window: float = 60.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        queue_size: int = 10_000,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts={max_attempts!r}: expected at least 1")
        self.store = store
        self.channels = dict(channels)
        self.routes = {kind: tuple(names) for kind, names in (routes or {}).items()}
        levels = min_severity if isinstance(min_severity, Mapping) else {"*": min_severity}
        self.min_severity = {name: Severity.parse(level) for name, level in levels.items()}
        for name in {*(n for names in self.routes.values() for n in names), *self.min_severity} - {"*"}:
            self._check_channel(name)
        self.renderer = renderer or Renderer()
        self.window = window
        self.max_attempts, self.backoff, self.max_backoff = max_attempts, backoff, max_backoff
        self._coalescer = Coalescer(window)
        self._inbox: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._counts: Counter[str] = Counter(dict.fromkeys(COUNTS, 0))
        self._state = threading.Condition()  # guards the counts, _busy and _in_flight; notified when _busy drops
        self._busy = 0  # events not yet routed + messages not yet delivered or given up
        self._in_flight: set[int] = set()
        self._closing = threading.Event()  # set by close: no more retries
        self._give_up = threading.Event()  # set when close's time is up: queued messages are left pending
        self._closed = False
        self._workers = {name: _Worker(self, name, channel) for name, channel in self.channels.items()}
        self._router = threading.Thread(target=self._route_loop, name="notify:router", daemon=True)
        self._router.start()

    @classmethod
    def from_settings(cls, settings: Settings, store: Any, **kwargs: Any) -> Dispatcher:
        """A dispatcher over the channels, routes, severities, templates and limits of ``settings``."""
        options: dict[str, Any] = {
            "routes": settings.notify_routes,
            "min_severity": settings.notify_min_severity,
            "renderer": Renderer(settings.notify_templates_dir),
            "window": settings.notify_coalesce_seconds,
            "max_attempts": settings.notify_max_attempts,
        }
        return cls(store, channels_from_settings(settings), **{**options, **kwargs})

    # -- event sources ----------------------------------------------------------------------------------------

    def notify(
        self,
        event: Any,
        *,
        orders: Mapping[str, Order] | None = None,
        strategy: str | None = None,
        channels: Sequence[str] | None = None,
    ) -> bool:
        """Queue ``event`` (anything `to_notice` takes) for notification; never blocks. False if it was dropped
        (the queue is full, or the dispatcher is closed).

        ``channels`` sends it to exactly those channels, whatever the routes and severities, and uncoalesced
        (``workbench notify test``); ``orders`` and ``strategy`` name the order and strategy in the message.
        """
        for name in channels or ():
            self._check_channel(name)
        if self._closed:
            return False
        with self._state:
            self._counts["received"] += 1
            self._busy += 1
        try:
            self._inbox.put_nowait(_Incoming(event, orders, strategy, None if channels is None else tuple(channels)))
        except queue.Full:
            self._finished(None, "dropped")
            _log.warning("notification dropped: dispatcher queue full", event=type(event).__name__)
            return False
        return True

    def attach(self, session: Session) -> None:
        """Notify the fills and rejections, risk decisions and risk alerts of a trading session.

        The handlers only queue the event: the order path does not wait for routing, rendering or delivery.
        """
        name = session.strategy.name
        session.om.subscribe(lambda event: self.notify(event, orders=session.om.orders, strategy=name))
        session.risk_manager.subscribe(lambda event: self.notify(event, strategy=name))
        session.monitor.subscribe(lambda alert: self.notify(alert, strategy=name))

    def drain(self, limit: int = 1000) -> int:
        """Queue for delivery the store's pending notifications not already in flight (left by a restart, or
        recorded by another process); returns how many. One addressed to a channel not configured here is
        dead-lettered, naming the channels that are."""
        if self._closed:
            raise RuntimeError("the dispatcher is closed")
        queued = 0
        for channel, message in outbox.pending(self.store, limit):
            with self._state:
                if message.notification_id in self._in_flight:
                    continue
            if channel in self._workers:
                self._deliver_later(channel, message)
                queued += 1
            else:
                configured = ", ".join(self.channels) or "none"
                self._record(message.notification_id, f"channel {channel!r} is not configured ({configured})", True)
                with self._state:
                    self._counts["dead"] += 1
        return queued

    # -- lifecycle --------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Send the coalesced counts of every open window now, instead of when the windows end."""
        if self._closed:
            return
        with self._state:
            self._busy += 1
        self._inbox.put(_FLUSH)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is routed and every message delivered or dead-lettered (windows still
        holding notices back do not count: `flush` first); False if ``timeout`` seconds passed first."""
        with self._state:
            return self._state.wait_for(lambda: self._busy == 0, timeout)

    def stats(self) -> dict[str, int]:
        """Counts since start: events ``received``, ``ignored`` (not worth a notice), ``filtered`` (no channel
        wants them), ``coalesced``, ``dropped``; notifications ``recorded``, ``sent``, ``dead``; failed attempts;
        and ``busy`` (events and messages still in hand)."""
        with self._state:
            return {**self._counts, "busy": self._busy}

    def close(self, timeout: float | None = 10.0) -> None:
        """Route the queued events, send the coalesced counts, and give the channels up to ``timeout`` seconds
        for one attempt at each message still queued; a message waiting for a retry, or not attempted in
        time, stays pending in the store for the next `drain`."""
        if self._closed:
            return
        self._closed = True
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        self._inbox.put(_STOP)
        self._router.join(left())
        self._closing.set()  # ends the backoff waits: those messages stay pending
        for worker in self._workers.values():
            worker.queue.put(_STOP)
        for worker in self._workers.values():
            worker.thread.join(left())
        self._give_up.set()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- router thread ----------------------------------------------------------------------------------------

    def _route_loop(self) -> None:
        while True:
            try:
                item = self._inbox.get(timeout=self._coalescer.next_expiry(time.monotonic()))
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            try:
                if item is _FLUSH:
                    self._emit_all(self._coalescer.flush())
                elif item is not None:
                    self._route(item)
                self._emit_all(self._coalescer.expired(time.monotonic()))
            except Exception as exc:
                _log.error("notification routing failed", error=repr(exc), exc_info=exc)
            finally:
                if item is not None:
                    self._finished(None)
        self._emit_all(self._coalescer.flush())

    def _route(self, item: _Incoming) -> None:
        notice = to_notice(item.event, orders=item.orders, strategy=item.strategy)
        if notice is None:
            self._count("ignored")
            return
        if item.channels is not None:
            self._emit(notice, item.channels)
            return
        targets = self._targets(notice)
        if not targets:
            self._count("filtered")
        elif not self._coalescer.admit(notice.dedupe_key, notice, time.monotonic()):
            self._count("coalesced")
        else:
            self._emit(notice, targets)

    def _targets(self, notice: Notice) -> list[str]:
        """The channels routed ``notice``'s kind whose minimum severity it meets."""
        routed = self.routes.get(notice.kind, self.routes.get("*", tuple(self.channels)))
        floor = self.min_severity.get("*", Severity.INFO)
        return [c for c in routed if c in self.channels and notice.severity >= self.min_severity.get(c, floor)]

    def _emit_all(self, notices: list[Notice]) -> None:
        for notice in notices:
            self._emit(notice, self._targets(notice))

    def _emit(self, notice: Notice, targets: Sequence[str]) -> None:
        """Render once, record one notification per channel, hand each to its channel's thread."""
        message = self.renderer.render(notice, window=self.window)
        try:
            ids: Mapping[str, int | None] = outbox.record(self.store, targets, message)
            self._count("recorded", len(ids))
        except Exception as exc:  # a database outage must not silence a halt: deliver it unrecorded
            _log.error("notification not recorded, delivered anyway", subject=message.subject, error=repr(exc))
            ids = dict.fromkeys(targets)
        for channel, notification_id in ids.items():
            self._deliver_later(channel, replace(message, notification_id=notification_id))

    # -- delivery threads -------------------------------------------------------------------------------------

    def _deliver_later(self, channel: str, message: Message) -> None:
        with self._state:
            self._busy += 1
            if message.notification_id is not None:
                self._in_flight.add(message.notification_id)
        self._workers[channel].queue.put(message)

    def _deliver(self, name: str, channel: Channel, message: Message) -> None:
        """Attempts with backoff until one succeeds or ``max_attempts`` failed (then dead-lettered); `close`
        ends a backoff wait, leaving the message pending."""
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff, max=self.max_backoff),
            sleep=self._backoff,
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    self._attempt(channel, message, final=attempts >= self.max_attempts)
        except _Closing:
            _log.warning("notification left pending at close", channel=name, id=message.notification_id)
        except Exception as exc:
            self._count("dead")
            _log.error(
                "notification dead-lettered",
                channel=name,
                id=message.notification_id,
                subject=message.subject,
                attempts=attempts,
                error=str(exc),
            )

    def _backoff(self, seconds: float) -> None:
        """Wait before a retry, unless the dispatcher closes meanwhile."""
        if self._closing.wait(seconds):
            raise _Closing

    def _attempt(self, channel: Channel, message: Message, *, final: bool) -> None:
        try:
            channel.send(message)
        except Exception as exc:
            self._count("failed_attempts")
            self._record(message.notification_id, f"{type(exc).__name__}: {exc}", final)
            raise
        self._count("sent")
        self._record(message.notification_id, None, False)

    def _record(self, notification_id: int | None, error: str | None, final: bool) -> None:
        if notification_id is None:
            return
        try:
            outbox.record_attempt(self.store, notification_id, error, final=final)
        except Exception as exc:
            _log.error("notification attempt not recorded", id=notification_id, error=repr(exc))

    # -- bookkeeping ------------------------------------------------------------------------------------------

    def _check_channel(self, name: str) -> None:
        if name not in self.channels:
            configured = ", ".join(self.channels) or "none"
            raise ValueError(f"notification channel {name!r} is not configured (configured: {configured})")

    def _count(self, name: str, n: int = 1) -> None:
        with self._state:
            self._counts[name] += n

    def _finished(self, notification_id: int | None, count: str | None = None) -> None:
        """One event routed or one message done with: wake `join` callers."""
        with self._state:
            if count is not None:
                self._counts[count] += 1
            if notification_id is not None:
                self._in_flight.discard(notification_id)
            self._busy -= 1
            self._state.notify_all()


class _Closing(Exception):
    """Raised out of a backoff wait when the dispatcher closes."""


class _Worker:
    """The delivery thread of one channel: its messages one at a time, in order."""

    def __init__(self, dispatcher: Dispatcher, name: str, channel: Channel) -> None:
        self.dispatcher, self.name, self.channel = dispatcher, name, channel
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=f"notify:{name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (message := self.queue.get()) is not _STOP:
            try:
                if not self.dispatcher._give_up.is_set():  # close's time is up: the rest stays pending
                    self.dispatcher._deliver(self.name, self.channel, message)
            except Exception as exc:
                _log.error("notification delivery crashed", channel=self.name, error=repr(exc), exc_info=exc)
            finally:
                self.dispatcher._finished(message.notification_id)
