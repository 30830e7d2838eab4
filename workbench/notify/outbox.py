"""The notification outbox in the store: every message is recorded before it is sent, then each delivery
attempt. A notification is ``pending`` until delivered (``sent``) or dead-lettered (``failed``: every attempt
failed; ``error`` says why and ``attempts`` how many were made).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from workbench.notify.channels import Message
from workbench.store.models_admin import NotificationRow

#: Longest subject the store keeps (the column's width).
SUBJECT_LIMIT = 255


def record(store: Any, channels: Iterable[str], message: Message) -> dict[str, int]:
    """Queue ``message`` once per channel, in one transaction; returns each channel's notification id."""
    subject = message.subject if len(message.subject) <= SUBJECT_LIMIT else message.subject[: SUBJECT_LIMIT - 1] + "…"
    with store.unit_of_work() as uow:
        return {c: uow.notifications.add(c, subject, message.text).id for c in channels}


def record_attempt(store: Any, notification_id: int, error: str | None, *, final: bool = False) -> None:
    """Record a delivery attempt: sent (``error`` None), failed and pending a retry, or ``final``ly failed."""
    with store.unit_of_work() as uow:
        if error is None:
            uow.notifications.mark_sent(notification_id)
        else:
            uow.notifications.mark_failed(notification_id, error[:2000], final=final)


def pending(store: Any, limit: int = 100) -> list[tuple[str, Message]]:
    """The oldest undelivered notifications as (channel, message) (text only: the HTML part is not stored)."""
    with store.unit_of_work(readonly=True) as uow:
        rows = uow.notifications.pending(limit)
    return [(r.channel, Message(r.subject, r.body, notification_id=r.id)) for r in rows]


def notification_log(
    store: Any, *, limit: int | None = 50, status: str | None = None, channel: str | None = None
) -> list[NotificationRow]:
    """Notifications newest first (of one ``status`` or ``channel`` if given), with their delivery status,
    attempts and last error.

    Examples
    --------
    >>> from workbench.store import Store
    >>> store = Store.open("sqlite://")
    >>> ids = record(store, ["email"], Message("hello", "world"))
    >>> [(r.channel, r.subject, r.status) for r in notification_log(store)]
    [('email', 'hello', 'pending')]
    """
    query = sa.select(NotificationRow).order_by(NotificationRow.created_at.desc(), NotificationRow.id.desc())
    if status is not None:
        query = query.where(NotificationRow.status == status)
    if channel is not None:
        query = query.where(NotificationRow.channel == channel)
    with store.unit_of_work(readonly=True) as uow:
        return list(uow.session.scalars(query.limit(limit)))
