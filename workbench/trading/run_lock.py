"""One process per run: the lease a session takes on its recorded run before it touches a broker, kept alive by a
heartbeat and ended with the run's state.

Why a lease in the store, not the database's own lock: one mechanism on SQLite and PostgreSQL alike, that works
for sessions on several hosts sharing a PostgreSQL (a file lock beside a SQLite file does not), and whose row is
also what the faces read as the run's state and what a refused session names (host, pid, since when). A killed
process cannot keep it: its heartbeat stops and the lease expires `LEASE_SECONDS` after the last beat; on the
same host a holder whose process is gone (or a zombie) is taken over at once, without waiting for the expiry.

>>> from workbench.store import Store
>>> store = Store.open("sqlite://")
>>> with store.unit_of_work() as uow:
...     run_id = uow.runs.start("live", "sma_cross").id
>>> lease = RunLease.acquire(store, run_id)
>>> RunLease.acquire(store, run_id)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
workbench.trading.run_lock.RunLocked: run 1 is being traded by pid ... on ... since ... UTC (last heartbeat ...
>>> lease.release("stopped")
True
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from workbench.errors import WorkbenchError
from workbench.logs import get_logger
from workbench.store.errors import StoreError, StoreIntegrityError
from workbench.store.models_runs import RunState, RunStateRow

_log = get_logger("workbench.run_lock")

#: How long a lease lives after its last heartbeat: what a killed session on another host blocks its run for.
LEASE_SECONDS = 20.0
#: Heartbeats per lease lifetime: a beat every ``LEASE_SECONDS / BEATS`` seconds, so a few late ones are harmless.
BEATS = 4


class RunLocked(WorkbenchError):
    """Another session trades the run: ``holder`` is its state row (host, pid, since, last heartbeat)."""

    def __init__(self, run_id: int, holder: RunStateRow, now: datetime) -> None:
        beat = max(0.0, (now - holder.heartbeat_at).total_seconds())
        super().__init__(
            f"run {run_id} is being traded by pid {holder.pid} on {holder.host} since "
            f"{holder.since:%Y-%m-%d %H:%M:%S} UTC (last heartbeat {beat:.0f} s ago): stop that session first, "
            f"or start a new run (a killed session's lease expires {LEASE_SECONDS:.0f} s after its last heartbeat)"
        )
        self.run_id, self.host, self.pid, self.since = run_id, holder.host, holder.pid, holder.since


@dataclass(frozen=True)
class Holder:
    """Who takes a lease: this process on this host, by default."""

    host: str
    pid: int

    @classmethod
    def me(cls) -> Holder:
        return cls(socket.gethostname(), os.getpid())


class RunLease:
    """The lease of one process on recorded run ``run_id`` (see the module docstring): take it with `acquire`,
    end it with `release`. Between the two a daemon thread beats the heartbeat; if a beat finds the lease taken
    over (this process stalled past its expiry) or the store unwritable until the expiry, the lease is `lost` and
    ``on_lost`` is called with why (a session stops trading then)."""

    def __init__(self, store: Any, run_id: int, token: str, holder: Holder, ttl: float) -> None:
        self.store, self.run_id, self.token, self.holder, self.ttl = store, run_id, token, holder, ttl
        self.on_lost: Callable[[str], Any] | None = None
        self._lost: str | None = None
        self._stop = threading.Event()
        self._expires = _now() + timedelta(seconds=ttl)
        # The thread holds the lease weakly: a lease nobody holds any more (its session gone) stops beating.
        self._thread = threading.Thread(
            target=_heartbeat,
            args=(weakref.ref(self), self._stop, ttl / BEATS),
            name=f"run-{run_id}-heartbeat",
            daemon=True,
        )

    @classmethod
    def acquire(cls, store: Any, run_id: int, *, ttl: float = LEASE_SECONDS, holder: Holder | None = None) -> RunLease:
        """Take run ``run_id`` for this process (``holder``) and start its heartbeat; `RunLocked` (one line naming
        the holder: host, pid, since when) while another session holds it, ValueError for a run that is not a stored
        live run. Writes nothing else."""
        holder = holder or Holder.me()
        token = str(uuid.uuid4())
        for attempt in range(2):  # PostgreSQL: two first takes race on the new row; the loser reads the winner's
            now = _now()
            try:
                with store.unit_of_work() as uow:
                    run = uow.runs.get(run_id)
                    if run is None or run.kind != "live":
                        raise ValueError(f"run {run_id} is not a stored live run")
                    row = uow.run_states.lock(run_id)
                    if row is not None and _held(row, now, holder):
                        raise RunLocked(run_id, row, now)
                    if row is not None and row.state == RunState.RUNNING.value:
                        _log.warning(
                            "run taken over from a session that stopped beating",
                            run_id=run_id,
                            host=row.host,
                            pid=row.pid,
                            last_heartbeat=row.heartbeat_at.isoformat(),
                        )
                    uow.run_states.take(
                        run_id,
                        host=holder.host,
                        pid=holder.pid,
                        token=token,
                        now=now,
                        expires_at=now + timedelta(seconds=ttl),
                    )
                break
            except StoreIntegrityError:
                if attempt:
                    raise
        lease = cls(store, run_id, token, holder, ttl)
        lease._thread.start()
        return lease

    @property
    def lost(self) -> str | None:
        """Why the lease was lost (None while it is held)."""
        return self._lost

    def release(self, state: RunState | str, reason: str | None = None) -> bool:
        """Stop the heartbeat and record how the session ended (``stopped``, ``finished`` or ``halted`` with
        ``reason``); False when the lease was no longer this process's (nothing is written then)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._lost is not None:
            return False
        try:
            with self.store.unit_of_work() as uow:
                return uow.run_states.end(self.run_id, self.token, RunState(state), reason, _now())
        except StoreError as exc:  # the lease expires by itself: the run reads as crashed, not as running
            _log.error("could not record the end of the run", run_id=self.run_id, error=str(exc))
            return False

    def _beat(self, every: float) -> bool:
        """One heartbeat; False when the lease is lost (then no more beats)."""
        now = _now()
        try:
            with self.store.unit_of_work() as uow:
                held = uow.run_states.beat(self.run_id, self.token, now, now + timedelta(seconds=self.ttl))
        except Exception as exc:  # the store is down for now: beat again, unless the lease runs out meanwhile
            if now + timedelta(seconds=every) < self._expires:
                _log.warning("run heartbeat failed; trying again", run_id=self.run_id, error=str(exc))
                return True
            self._lose(f"the heartbeat could not be written before the lease expired ({exc})")
            return False
        if not held:
            self._lose("another session took the run over (this one stopped beating for too long)")
            return False
        self._expires = now + timedelta(seconds=self.ttl)
        return True

    def _lose(self, why: str) -> None:
        if self._stop.is_set():
            return
        self._lost = why
        _log.error("run lease lost", run_id=self.run_id, reason=why)
        if self.on_lost is not None:
            try:
                self.on_lost(why)
            except Exception as exc:  # the session's reaction must not kill the heartbeat thread silently
                _log.error("reacting to a lost lease failed", run_id=self.run_id, error=str(exc))


def _heartbeat(lease_ref: weakref.ref[RunLease], stop: threading.Event, every: float) -> None:
    """The heartbeat thread: a beat every ``every`` seconds until the lease is released, lost or gone."""
    while not stop.wait(every):
        lease = lease_ref()
        if lease is None or not lease._beat(every):
            return
        del lease


def take_run(store: Any, run_id: int | None, lease: RunLease | None) -> RunLease | None:
    """The lease a session opening run ``run_id`` trades under: ``lease`` when the caller took it already (before
    connecting its broker; it must be of that run), else one taken now (`RunLease.acquire`); None for a run that is
    still to be made (its session takes the lease once it is recorded)."""
    if lease is not None:
        if run_id is None or lease.run_id != run_id:
            raise ValueError(f"the lease given is of run {lease.run_id}, not of run {run_id}")
        return lease
    return None if run_id is None else RunLease.acquire(store, run_id)


def _held(row: RunStateRow, now: datetime, me: Holder) -> bool:
    """Whether ``row`` is a lease another session still holds: running, not expired, and (on this host) its
    process still alive."""
    if row.state != RunState.RUNNING.value or row.expires_at <= now:
        return False
    gone = row.host == me.host and row.pid != me.pid and not process_alive(row.pid)
    return not gone


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is alive (a zombie, killed but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): os.kill said it exists
    return state not in ("Z", "X")


def _now() -> datetime:
    return datetime.now(UTC)
