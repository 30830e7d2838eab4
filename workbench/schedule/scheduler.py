"""``NotebookSchedule``: one notebook run every N minutes, at most one at a time, optionally only while the
exchange is open; a failed run is recorded and notified and the schedule goes on."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.logs import get_logger
from workbench.schedule.lock import RunLock
from workbench.schedule.notebook_run import NotebookRun, check_notebook, run_notebook

_log = get_logger("workbench.schedule")
_EVERY = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_every(text: str) -> timedelta:
    """``"5m"`` as five minutes (units s, m, h, d).

    Examples
    --------
    >>> parse_every("90s").total_seconds(), parse_every("5m").total_seconds()
    (90.0, 300.0)
    """
    match = _EVERY.match(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"--every {text!r}: expected a positive number and a unit, such as 30s, 5m, 1h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class NotebookSchedule:
    """Runs ``notebook`` with ``parameters`` on a timer; each ``trigger`` is one attempt.

    A trigger is skipped (returns None) while another run of the same notebook holds its lock — in this
    process or any other; the lock is released by the operating system if its holder dies, so a killed run
    never blocks the schedule — and, with ``market_hours``, while ``calendar`` (an exchange_calendars code,
    e.g. ``XNYS``) is closed. A failed run is recorded by ``run_notebook`` and passed to ``notify``.

    Examples
    --------
    >>> schedule = NotebookSchedule("notebooks/live_session.ipynb", every="5m", market_hours=True)  # doctest: +SKIP
    >>> schedule.start()  # doctest: +SKIP
    """

    def __init__(
        self,
        notebook: str | Path,
        every: str | timedelta,
        *,
        parameters: dict[str, Any] | None = None,
        market_hours: bool = False,
        calendar: str = "XNYS",
        store: Any = None,
        out_dir: str | Path = "reports/runs",
        lock_dir: str | Path | None = None,
        notify: Callable[[NotebookRun], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.notebook = check_notebook(notebook, parameters)
        self.every = every if isinstance(every, timedelta) else parse_every(every)
        self.parameters = dict(parameters or {})
        self.calendar = _calendar(calendar) if market_hours else None
        self.store, self.out_dir, self.notify, self.now = store, Path(out_dir), notify, now
        self.lock = RunLock(self.notebook.stem, Path(lock_dir) if lock_dir else self.out_dir / ".locks")
        self.runs: list[NotebookRun] = []
        self.skipped = 0

    def trigger(self) -> NotebookRun | None:
        """One scheduled attempt: run the notebook unless it is running already or the market is closed."""
        if self.calendar is not None and not self.calendar.is_open_on_minute(self.now(), ignore_breaks=True):
            _log.info("market closed, run skipped", notebook=self.notebook.name)
            self.skipped += 1
            return None
        with self.lock.hold() as held:
            if not held:
                _log.warning("previous run still going, run skipped", notebook=self.notebook.name)
                self.skipped += 1
                return None
            run = run_notebook(self.notebook, self.parameters, out_dir=self.out_dir, store=self.store)
        self.runs.append(run)
        if run.status == "failed":
            _log.error("scheduled run failed", notebook=self.notebook.name, error=run.error, output=str(run.output))
            if self.notify is not None:
                self.notify(run)
        return run

    def start(self, max_runs: int | None = None) -> None:
        """Trigger now and then every ``every`` until interrupted (or after ``max_runs`` attempts)."""
        from apscheduler.schedulers.blocking import BlockingScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        scheduler = BlockingScheduler(timezone=UTC)
        attempts = 0

        def job() -> None:
            nonlocal attempts
            self.trigger()
            attempts += 1
            if max_runs is not None and attempts >= max_runs:
                scheduler.shutdown(wait=False)

        trigger = IntervalTrigger(seconds=self.every.total_seconds(), timezone=UTC)
        scheduler.add_job(job, trigger, next_run_time=datetime.now(UTC), max_instances=1, coalesce=True)
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            scheduler.shutdown(wait=False)


def _calendar(code: str) -> Any:
    import exchange_calendars

    try:
        return exchange_calendars.get_calendar(code)
    except Exception:
        raise ValueError(f"calendar {code!r} is not an exchange calendar code (e.g. XNYS, XLON, XTKS)") from None
