"""Health checks: each part the workbench depends on answers ``ok``, ``degraded`` or ``down`` with a detail, and
`health_report` runs them all (in parallel, each within a timeout) into one aggregate status, the worst of them.

A check is any callable returning ``(status, detail)``; the makers here cover the database, the cache, the data
feed's freshness, the broker and the notebook scheduler, and `standard_checks` picks those that apply.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from workbench.ports import Broker
    from workbench.schedule.scheduler import NotebookSchedule

Status = Literal["ok", "degraded", "down"]
Check = Callable[[], tuple[Status, str]]
_RANK: dict[str, int] = {"ok": 0, "degraded": 1, "down": 2}
_PROBE_KEY = "workbench:health:probe"
#: ``user:password@`` of a URL in a check's detail (an error message may quote a connection URL).
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


@dataclass(frozen=True)
class CheckResult:
    """One check's answer and how long it took."""

    name: str
    status: Status
    detail: str
    seconds: float


@dataclass(frozen=True)
class HealthReport:
    """Every check's result and the aggregate ``status``: ``down`` if any is down, else ``degraded`` if any
    is, else ``ok``."""

    status: Status
    checks: tuple[CheckResult, ...]
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def http_status(self) -> int:
        """200 while the workbench can work (ok or degraded), 503 when something it needs is down."""
        return 503 if self.status == "down" else 200

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data: ``status``, ``timestamp`` and ``checks`` by name."""
        return {
            "status": self.status,
            "timestamp": self.timestamp.isoformat(),
            "checks": {
                c.name: {"status": c.status, "detail": c.detail, "seconds": round(c.seconds, 4)} for c in self.checks
            },
        }


def health_report(checks: Mapping[str, Check], *, timeout: float = 5.0) -> HealthReport:
    """Run ``checks`` in parallel; a check that raises is ``down`` with the error, one that has not answered
    within ``timeout`` seconds is ``down`` too (its thread is left to finish on its own).

    Examples
    --------
    >>> report = health_report({"db": lambda: ("ok", "SELECT 1 in 1 ms"), "feed": lambda: ("degraded", "no bar")})
    >>> report.status, report.http_status, report.to_dict()["checks"]["feed"]["detail"]
    ('degraded', 200, 'no bar')
    """
    results: dict[str, CheckResult] = {}
    threads = []
    for name, check in checks.items():
        thread = threading.Thread(target=_run, args=(name, check, results), name=f"health:{name}", daemon=True)
        thread.start()
        threads.append((name, thread))
    deadline = time.monotonic() + timeout
    for _, thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    ordered = tuple(
        results.get(name) or CheckResult(name, "down", f"no answer within {timeout:g} s", timeout) for name in checks
    )
    worst = max((c.status for c in ordered), key=_RANK.__getitem__, default="ok")
    return HealthReport(worst, ordered)


def _run(name: str, check: Check, results: dict[str, CheckResult]) -> None:
    started = time.perf_counter()
    try:
        status, detail = check()
    except Exception as exc:
        status, detail = "down", f"{type(exc).__name__}: {exc}"
    results[name] = CheckResult(name, status, redact(detail), time.perf_counter() - started)


def redact(detail: str) -> str:
    """``detail`` without the credentials of any URL in it: health reports are served without a login.

    >>> redact("redis://admin:s3cret@cache:6379/0 refused")
    'redis://***@cache:6379/0 refused'
    """
    return _CREDENTIALS.sub(r"\g<scheme>***@", detail)


def database_check(store: Any) -> Check:
    """``SELECT 1`` on the store's database: down if it fails (the error says why)."""
    import sqlalchemy as sa

    def check() -> tuple[Status, str]:
        started = time.perf_counter()
        try:
            with store.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            return "down", f"{store.engine.url.get_backend_name()} unreachable: {reason}"
        return "ok", f"{store.engine.url.get_backend_name()}: SELECT 1 in {_ms(started)}"

    return check


def cache_check(cache: Any) -> Check:
    """Write and delete a probe entry on each level of a `TieredCache` (counted as one write per level): down
    if no level works, degraded (naming them) if some do not."""

    def check() -> tuple[Status, str]:
        from workbench.cache.entry import Entry

        failing = []
        for level in cache.levels:
            try:
                level.set(_PROBE_KEY, Entry("ok", expires_at=time.time() + 60))
                works = level.delete(_PROBE_KEY)
            except Exception:
                works = False
            if not works:
                failing.append(level.name)
        names = ", ".join(level.name for level in cache.levels)
        if not failing:
            return "ok", f"levels {names} answer"
        if len(failing) == len(cache.levels):
            return "down", f"no cache level answers ({names})"
        return "degraded", f"cache level(s) {', '.join(failing)} not answering; the others serve"

    return check


def feed_check(
    last_bar: Callable[[], datetime | None],
    max_age: timedelta,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Check:
    """Freshness of a data feed: ``last_bar()`` (e.g. `Metrics.last_bar`) no older than ``max_age``; degraded
    before the first bar, down when stale."""

    def check() -> tuple[Status, str]:
        last = last_bar()
        if last is None:
            return "degraded", "no bar received yet"
        age = now() - last
        if age > max_age:
            return "down", f"stale: last bar {last.isoformat()} is {_span(age)} old (max {_span(max_age)})"
        return "ok", f"last bar {last.isoformat()}, {_span(age)} old"

    return check


def broker_check(broker: Broker, *, slow: float = 2.0, lock: AbstractContextManager[Any] | None = None) -> Check:
    """The broker answers an account query: degraded if slower than ``slow`` seconds, down if it fails. With a
    ``lock`` (a session loop's), the query waits for the bar in hand, as the session's own calls do."""

    def check() -> tuple[Status, str]:
        started = time.perf_counter()
        with lock or nullcontext():
            broker.account()
        took = time.perf_counter() - started
        if took > slow:
            return "degraded", f"{type(broker).__name__} answered in {took:.1f} s (slow above {slow:g} s)"
        return "ok", f"{type(broker).__name__} answered in {_ms(started)}"

    return check


def scheduler_check(schedule: NotebookSchedule, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Check:
    """A notebook schedule's last run: degraded if it failed, or if no run started for two periods (outside
    market hours a schedule with ``market_hours`` skips, which is not a fault)."""

    def check() -> tuple[Status, str]:
        if not schedule.runs:
            return "ok", f"no run yet ({schedule.skipped} skipped)"
        last = schedule.runs[-1]
        if last.status == "failed":
            return "degraded", f"last run of {last.notebook.name} failed: {last.error}"
        age = now() - last.started_at
        if schedule.calendar is None and age > 2 * schedule.every:
            return "degraded", f"no run since {last.started_at.isoformat()} (every {_span(schedule.every)})"
        return "ok", f"last run {last.started_at.isoformat()} finished in {last.duration:.1f} s"

    return check


def standard_checks(
    *,
    store: Any = None,
    cache: Any = None,
    broker: Broker | None = None,
    last_bar: Callable[[], datetime | None] | None = None,
    max_bar_age: timedelta = timedelta(minutes=5),
    schedule: NotebookSchedule | None = None,
) -> dict[str, Check]:
    """The checks of the parts given: ``database``, ``cache``, ``broker``, ``feed``, ``scheduler``.

    Examples
    --------
    >>> from workbench.store import Store
    >>> checks = standard_checks(store=Store.open("sqlite://"))
    >>> health_report(checks).to_dict()["checks"]["database"]["status"]
    'ok'
    """
    checks: dict[str, Check] = {}
    if store is not None:
        checks["database"] = database_check(store)
    if cache is not None:
        checks["cache"] = cache_check(cache)
    if broker is not None:
        checks["broker"] = broker_check(broker)
    if last_bar is not None:
        checks["feed"] = feed_check(last_bar, max_bar_age)
    if schedule is not None:
        checks["scheduler"] = scheduler_check(schedule)
    return checks


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
