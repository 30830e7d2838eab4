"""``Poller``: the one reader of the store in a dashboard server, shared by every open tab.

Every ``period`` seconds it runs one cheap query (`fingerprint`) and, only when something changed, reads a new
`Snapshot`; every ``health_every`` seconds it runs the health checks. A new state is pushed to the subscribers
(each served tab schedules its refresh on its own document), and each tab's periodic callback compares
``poller.current.version`` with the one it shows as a fallback, so a hundred tabs cost the database what one
does. An action taken in a tab calls `poke` to have the change read at once.

>>> from workbench.store import Store
>>> poller = Poller(Store.open("sqlite://"), period=0.5)
>>> poller.tick(), poller.current.version   # the first tick always reads
(True, 1)
>>> poller.tick()                           # nothing changed: one query, no new snapshot
False
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from workbench.logs import get_logger
from workbench.monitor.health import HealthReport, health_report
from workbench.services.snapshot import Snapshot, fingerprint, read_snapshot
from workbench.store.database import Store
from workbench.ui.health import BROKER_ERROR, dashboard_checks

_log = get_logger("workbench.ui")
_pollers: dict[int, Poller] = {}
_pollers_lock = threading.Lock()


@dataclass(frozen=True, eq=False)
class PollState:
    """What the poller last read: the snapshot and its ``version`` (bumped on every change), the health report,
    and the error of the last read when it failed (the previous snapshot is kept meanwhile)."""

    version: int
    snapshot: Snapshot
    health: HealthReport | None = None
    error: str | None = None


class Poller:
    """Reads ``store`` for the dashboards of one process (see the module docstring); `start` runs it on a
    daemon thread, `stop` ends it. ``cache`` and ``broker`` (a broker held in this process) join the health
    checks; the feed counts as stale after ``max_bar_age`` without a new mark."""

    def __init__(
        self,
        store: Store,
        *,
        period: float = 1.0,
        health_every: float = 5.0,
        cache: Any = None,
        broker: Any = None,
        max_bar_age: timedelta = timedelta(minutes=5),
    ) -> None:
        if period <= 0 or health_every <= 0:
            raise ValueError(f"period={period!r} and health_every={health_every!r} must be positive seconds")
        self.store, self.period, self.health_every = store, period, health_every
        self.checks = dashboard_checks(
            store,
            last_mark=self._last_mark,
            broker_errors=self._broker_errors,
            cache=cache,
            broker=broker,
            max_bar_age=max_bar_age,
        )
        self.current = PollState(0, Snapshot(taken_at=datetime.now(UTC)))
        self.ticks = 0
        self._print: tuple[Any, ...] | None = None
        self._newest_mark: datetime | None = None
        self._mark_seen: datetime | None = None
        self._health_due = 0.0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[], None]] = []

    def tick(self) -> bool:
        """Read the store if it changed (and the health when due); returns whether a new snapshot was read."""
        with self._lock:
            self.ticks += 1
            state = self.current
            snapshot, health, error = state.snapshot, state.health, None
            try:
                seen = fingerprint(self.store)
                if seen != self._print or state.version == 0:
                    snapshot = read_snapshot(self.store)
                    self._note_marks(snapshot)
                    self._print = seen
            except Exception as exc:  # the database went away: keep showing the last snapshot, say why
                error = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                _log.warning("dashboard could not read the store", error=error)
            if time.monotonic() >= self._health_due:
                self._health_due = time.monotonic() + self.health_every
                health = health_report(self.checks, timeout=2.0)
            if snapshot is not state.snapshot or health is not state.health or error != state.error:
                self.current = PollState(state.version + 1, snapshot, health, error)
                self._push()
            return snapshot is not state.snapshot

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (on the poller's thread: it must only schedule work) after every new state; returns
        the function that unsubscribes it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _push(self) -> None:
        for callback in list(self._subscribers):
            try:
                callback()
            except Exception as exc:  # a tab closing meanwhile must not stop the others' updates
                _log.warning("dashboard update could not be scheduled", error=str(exc))

    def poke(self) -> None:
        """Read now rather than at the next period (after an action changed the store)."""
        self._wake.set()

    def start(self) -> Poller:
        """Tick every ``period`` seconds on a daemon thread until `stop`; returns itself."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dashboard-poller", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """End the thread (waits for a tick in progress)."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stopped.is_set():
            self.tick()
            self._wake.wait(self.period)
            self._wake.clear()

    def _note_marks(self, snapshot: Snapshot) -> None:
        """Remember when a new newest mark was first seen (the feed's freshness)."""
        marks = [t for t in snapshot.runs["last_mark"] if t is not None]
        newest = max(marks) if marks else None
        if newest is not None and newest != self._newest_mark:
            self._mark_seen = newest if self._newest_mark is None else datetime.now(UTC)
            self._newest_mark = newest

    def _last_mark(self) -> datetime | None:
        return self._mark_seen

    def _broker_errors(self) -> list[datetime]:
        events = self.current.snapshot.risk_events
        return list(events.loc[events["rule"] == BROKER_ERROR, "timestamp"])


def shared_poller(store: Store, **options: Any) -> Poller:
    """The running poller of ``store`` in this process, started with ``options`` on first use (dashboards in
    several notebook cells share it).

    Examples
    --------
    >>> import tempfile
    >>> from workbench.store import Store
    >>> store = Store.open(f"sqlite:///{tempfile.mkdtemp()}/workbench.db")
    >>> shared_poller(store, period=0.5) is shared_poller(store)
    True
    >>> shared_poller(store).stop()
    """
    with _pollers_lock:
        poller = _pollers.get(id(store))
        if poller is None or poller._stopped.is_set():
            poller = _pollers[id(store)] = Poller(store, **options).start()
        return poller
