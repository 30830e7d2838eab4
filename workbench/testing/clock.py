"""``FrozenClock``: a Clock that moves only when told to (backtests and tests)."""

from __future__ import annotations

from datetime import datetime, timedelta


class FrozenClock:
    """A ``Clock`` whose time is set by its owner: the backtest driver sets it to each bar's fill time.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> clock = FrozenClock(datetime(2024, 1, 2, tzinfo=timezone.utc))
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
        return self.set(self._now + step)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got {moment!r}")
    return moment
