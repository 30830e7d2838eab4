"""The audit log as the front ends read it: every login, refused credential, order, switch and halt, newest first.
Entries are written where each action is taken (`workbench.auth.audit.audit`, in the action's own transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workbench.store.database import Store


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log: who did what to which target, when, and its details (``outcome`` always)."""

    id: int
    timestamp: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


def entries(store: Store, *, actor: str | None = None, action: str | None = None, limit: int = 100) -> list[AuditEntry]:
    """The newest ``limit`` entries, of ``actor`` and of ``action`` when given.

    >>> store = Store.open("sqlite://")
    >>> entries(store)
    []
    """
    with store.unit_of_work(readonly=True) as uow:
        rows = uow.audit.find(actor=actor, action=action, limit=limit)
        return [AuditEntry(r.id, r.timestamp, r.actor, r.action, r.target, dict(r.details or {})) for r in rows]
