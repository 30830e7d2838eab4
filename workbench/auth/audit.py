"""Audit entries of authentication and of the actions people take: one shape, never a secret.

Every entry's details carry ``outcome`` (``success`` or ``failure``) and, for failures, the real ``reason``. The
actor is what the caller claimed to be (a username, ``key:<prefix>``), cut to fit the column: a failed attempt
is recorded even when the name is garbage (control characters are dropped).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workbench.store.unit_of_work import UnitOfWork

SUCCESS, FAILURE = "success", "failure"
ANONYMOUS = "anonymous"


def audit(
    uow: UnitOfWork,
    actor: str,
    action: str,
    target: str | None = None,
    *,
    now: datetime,
    outcome: str = SUCCESS,
    **details: Any,
) -> None:
    """Append an entry to the audit log in ``uow`` (so it commits, or not, with what it records).

    Examples
    --------
    >>> audit(uow, "ada", "auth.login", "user:ada", now=now, outcome=FAILURE, reason="bad_password")  # doctest: +SKIP
    """
    fields = {"outcome": outcome, **{k: v for k, v in details.items() if v is not None}}
    target = None if target is None else _printable(target)[:255] or None
    uow.audit.add(_printable(actor)[:64] or ANONYMOUS, action, target, fields, now=now)


def _printable(text: str) -> str:
    """``text`` without control characters (PostgreSQL refuses NUL; a log viewer should not see escapes)."""
    return "".join(c for c in text if c.isprintable())
