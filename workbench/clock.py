"""The time a run acts at: the ``Clock`` port, ``SystemClock`` (the wall clock of paper and live sessions) and
``SimClock`` (the simulated clock of backtests and re-simulations, moved only by its owner)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """The time the system acts at: simulated in a backtest, the wall or market clock live."""

    def now(self) -> datetime: ...


class SystemClock:
    """Now, timezone-aware in UTC.

    Examples
    --------
    >>> SystemClock().now().tzinfo
    datetime.timezone.utc
    """

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimClock:
    """A ``Clock`` whose time is set by its owner: a backtest's simulation moves it to each fill's time.

    Examples
    --------
    >>> from datetime import timezone
    >>> clock = SimClock(datetime(2024, 1, 2, tzinfo=timezone.utc))
    >>> clock.advance(timedelta(days=1)).isoformat()
    '2024-01-03T00:00:00+00:00'
    """

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> datetime:
        """Move to ``moment`` (never backwards: a simulated clock that runs back hides ordering bugs)."""
        moment = _aware(moment)
        if moment < self._now:
            raise ValueError(f"clock cannot go back from {self._now.isoformat()} to {moment.isoformat()}")
        self._now = moment
        return moment

    def advance(self, step: timedelta) -> datetime:
        """Move forward by ``step``."""
        return self.set(self._now + step)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got {moment!r}")
    return moment
