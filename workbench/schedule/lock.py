"""``RunLock``: at most one run of a notebook at a time, across processes, even after a holder was killed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RunLock:
    """A non-blocking file lock per notebook (``filelock``, an OS lock): the operating system releases it when
    its holder exits or is killed, so a crashed run's lock is taken over by the next one.

    Examples
    --------
    >>> import tempfile
    >>> lock = RunLock("report", tempfile.mkdtemp())
    >>> with lock.hold() as held:
    ...     held
    True
    """

    def __init__(self, name: str, folder: Path | str) -> None:
        self.path = Path(folder) / f"{name}.lock"

    @contextmanager
    def hold(self) -> Iterator[bool]:
        """Yield True holding the lock, or False at once if another run holds it."""
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.path, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()
