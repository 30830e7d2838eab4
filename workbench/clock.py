"""``SystemClock``: the wall clock in UTC, the ``Clock`` of paper and live sessions."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Now, timezone-aware in UTC.

    Examples
    --------
    >>> SystemClock().now().tzinfo
    datetime.timezone.utc
    """

    def now(self) -> datetime:
        return datetime.now(UTC)
