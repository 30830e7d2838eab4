"""`Coalescer`: lets the first of a run of identical notices through and holds back the rest of its window.

A window opens when a notice with a new key is admitted and lasts ``window`` seconds. Notices with its key
that arrive meanwhile are counted, not sent. When the window ends with some held back, `expired` returns one
summary notice (the latest, with ``repeats`` = how many) and a new window opens at once, so a storm that goes
on yields one notification per window, and a burst shorter than a window at most two: the first and the count.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from workbench.notify.events import Notice


@dataclass
class _Window:
    opened: float
    held: int = 0
    latest: Notice | None = None


class Coalescer:
    """Coalescing windows by key; time is passed in (monotonic seconds), so it is deterministic to test.

    Examples
    --------
    >>> from workbench.notify.events import Severity
    >>> n = Notice("risk", Severity.WARNING, "deny:trading_hours:SPY")
    >>> c = Coalescer(window=60)
    >>> [c.admit(n.dedupe_key, n, now=t) for t in (0, 1, 2)]
    [True, False, False]
    >>> [s.repeats for s in c.expired(now=60)]
    [2]
    """

    def __init__(self, window: float) -> None:
        if window < 0:
            raise ValueError(f"window={window!r}: expected seconds >= 0 (0 turns coalescing off)")
        self.window = window
        self._windows: dict[Hashable, _Window] = {}

    def admit(self, key: Hashable, notice: Notice, now: float) -> bool:
        """True if ``notice`` should be sent now; False if it is held back (counted in its window)."""
        window = self._windows.get(key)
        if window is None or now - window.opened >= self.window:
            if self.window > 0:
                self._windows[key] = _Window(now)
            return True
        window.held += 1
        window.latest = notice
        return False

    def expired(self, now: float) -> list[Notice]:
        """Summaries of the windows that ended by ``now`` with notices held back; those reopen, the rest close."""
        summaries = []
        for key, window in list(self._windows.items()):
            if now - window.opened < self.window:
                continue
            if window.latest is None:
                del self._windows[key]
            else:
                summaries.append(window.latest.repeated(window.held))
                self._windows[key] = _Window(now)
        return summaries

    def flush(self) -> list[Notice]:
        """Summaries of every window holding notices back, closing all windows (when the dispatcher closes)."""
        summaries = [w.latest.repeated(w.held) for w in self._windows.values() if w.latest is not None]
        self._windows.clear()
        return summaries

    def next_expiry(self, now: float) -> float | None:
        """Seconds until the earliest window ends (0 if one already has), or None with no window open."""
        if not self._windows:
            return None
        return max(0.0, min(w.opened for w in self._windows.values()) + self.window - now)
