"""The dashboard's health checks: the monitor's own (database, cache, a broker held in this process, the feed's
freshness), plus the broker as the live sessions record it when the broker lives in their process.

The feed is fresh while new marks keep arriving: ``last_mark()`` is when the newest mark was first seen by the
dashboard (or that mark's own time, for marks already there when it started).

>>> from datetime import UTC, datetime, timedelta
>>> check = broker_events_check(lambda: [datetime(2024, 7, 1, 14, 0, tzinfo=UTC)],
...                             now=lambda: datetime(2024, 7, 1, 14, 5, tzinfo=UTC))
>>> check()
('degraded', 'a live session recorded a broker error 5 min ago (2024-07-01T14:00:00+00:00)')
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from workbench.monitor.health import Check, Status, standard_checks

#: The risk-event rule a live session records when a broker call fails.
BROKER_ERROR = "broker_error"


def broker_events_check(
    errors: Callable[[], list[datetime]],
    *,
    window: timedelta = timedelta(minutes=15),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Check:
    """The broker as the live sessions see it: degraded when one recorded a failed broker call (``errors()``:
    their times, newest first) within ``window``, ok otherwise."""

    def check() -> tuple[Status, str]:
        recent = [t for t in errors() if now() - t <= window]
        if recent:
            minutes = (now() - recent[0]).total_seconds() / 60
            return "degraded", f"a live session recorded a broker error {minutes:.0f} min ago ({recent[0].isoformat()})"
        return "ok", f"no broker error recorded by the live sessions in the last {window.total_seconds() / 60:.0f} min"

    return check


def dashboard_checks(
    store: Any,
    *,
    last_mark: Callable[[], datetime | None],
    broker_errors: Callable[[], list[datetime]],
    cache: Any = None,
    broker: Any = None,
    max_bar_age: timedelta = timedelta(minutes=5),
) -> dict[str, Check]:
    """``database``, ``cache`` (when given), ``broker`` (``broker`` answering, else the sessions' records) and
    ``feed`` (a new mark within ``max_bar_age``)."""
    checks = standard_checks(store=store, cache=cache, broker=broker, last_bar=last_mark, max_bar_age=max_bar_age)
    if broker is None:
        checks["broker"] = broker_events_check(broker_errors)
    return checks
