"""A client-side request budget for a rate-limited HTTP API (Alpaca: 200 requests a minute per key), and the
``Retry-After`` it answers a 429 with, honoured by every request of the key, not only the one refused.

`RequestBudget` lets at most ``limit`` requests start in any ``window`` seconds (a sliding log of start times), and
none before a ``Retry-After`` has passed. `budget_for` gives every client of one key in a process the same budget;
`mount` puts it under a ``requests.Session`` (alpaca-py's clients each hold one), so every request they make takes
from it, retries included.

>>> budget = RequestBudget(limit=2, window=60.0)
>>> budget.take(), budget.take()  # the first two start at once
(0.0, 0.0)
>>> budget.wait_needed() > 59  # a third would wait for the first to leave the window
True
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from requests import Session
from requests.adapters import HTTPAdapter

#: Alpaca's documented limit is 200 requests a minute per key; the default keeps a tenth in reserve.
ALPACA_PER_MINUTE = 180
#: The longest ``Retry-After`` honoured, seconds (a longer one is a server's mistake or a ban: fail instead).
MAX_RETRY_AFTER = 300.0
#: How long to hold off after a 429 that says nothing, seconds.
DEFAULT_RETRY_AFTER = 1.0


class RequestBudget:
    """At most ``limit`` request starts in any ``window`` seconds, and none before a ``Retry-After`` ends
    (see the module docstring). Thread-safe: the threads of one process share it."""

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"RequestBudget(limit={limit!r}, window={window!r}): needs limit >= 1 and window > 0")
        self.limit, self.window = limit, window
        self._clock, self._sleep = clock, sleep
        self._starts: deque[float] = deque()
        self._not_before = 0.0
        self._lock = threading.Lock()
        #: Requests started, and seconds spent waiting for the budget (for metrics and tests).
        self.taken = 0
        self.waited = 0.0

    def wait_needed(self) -> float:
        """Seconds until a request may start (0: now)."""
        with self._lock:
            return self._wait(self._clock())

    def take(self) -> float:
        """Wait until a request may start, count it, and return how long it waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait(now)
                if wait <= 0:
                    self._starts.append(now)
                    self.taken += 1
                    self.waited += waited
                    return waited
            self._sleep(wait)
            waited += wait

    def hold_off(self, seconds: float) -> None:
        """Start no request for ``seconds`` from now (a ``Retry-After``)."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + min(max(seconds, 0.0), MAX_RETRY_AFTER))

    def _wait(self, now: float) -> float:
        while self._starts and self._starts[0] <= now - self.window:
            self._starts.popleft()
        full = self._starts[0] + self.window - now if len(self._starts) >= self.limit else 0.0
        return max(full, self._not_before - now, 0.0)


_BUDGETS: dict[tuple[str, str], RequestBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_for(api: str, key: str, limit: int = ALPACA_PER_MINUTE) -> RequestBudget:
    """The budget of API ``api`` (``alpaca-trading``, ``alpaca-data``) for key ``key`` in this process: one for
    every client of that key, so two brokers or a broker and a reconciliation do not each spend the whole limit.
    The first caller's ``limit`` holds."""
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get((api, key))
        if budget is None:
            budget = _BUDGETS[(api, key)] = RequestBudget(limit)
        return budget


def retry_after(headers: Any, now: datetime | None = None) -> float | None:
    """The seconds a ``Retry-After`` header asks for (a number, or an HTTP date), capped at `MAX_RETRY_AFTER`;
    None when absent or unreadable.

    >>> retry_after({"Retry-After": "2"})
    2.0
    """
    value = None if headers is None else headers.get("Retry-After")
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if seconds == seconds else None


class _BudgetAdapter(HTTPAdapter):
    """Every request sent through it takes from the budget first; a 429 holds the budget off for its
    ``Retry-After`` (every request of the key waits it out, not only the refused one)."""

    def __init__(self, budget: RequestBudget) -> None:
        super().__init__()
        self.budget = budget

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self.budget.take()
        response = super().send(request, *args, **kwargs)
        if response.status_code == 429:
            wait = retry_after(response.headers)
            self.budget.hold_off(DEFAULT_RETRY_AFTER if wait is None else wait)
        return response


def mount(session: Session, budget: RequestBudget) -> None:
    """Send every request of ``session`` (http and https) through ``budget``."""
    adapter = _BudgetAdapter(budget)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
