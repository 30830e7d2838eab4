"""Repositories of the operational records: users, API keys, login sessions, notifications, the audit log.

Only hashes of keys and tokens are stored; hashing and checking them is the auth layer's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from workbench.store.errors import StoreError
from workbench.store.models_admin import (
    ApiKeyRow,
    AuditRow,
    NotificationRow,
    NotificationStatus,
    SessionRow,
    TokenKind,
    UserRole,
    UserRow,
)
from workbench.store.repositories import Repository
from workbench.store.types import utcnow


class UserRepository(Repository):
    """Users who log in to the dashboard or the API."""

    def add(
        self, username: str, password_hash: str, *, role: UserRole | str = UserRole.VIEWER, now: datetime | None = None
    ) -> UserRow:
        """Create user ``username`` (names are unique) and return the row (``.id`` is the user id)."""
        row = UserRow(username=username, password_hash=password_hash, role=role, created_at=now or utcnow())
        self._add(row, f"user {username!r}")
        return row

    def get(self, user_id: int) -> UserRow | None:
        """The user ``user_id``, or None."""
        return self._session.get(UserRow, user_id)

    def by_username(self, username: str) -> UserRow | None:
        """The user called ``username``, or None."""
        return self._session.scalars(sa.select(UserRow).where(UserRow.username == username)).one_or_none()

    def find(self) -> list[UserRow]:
        """Every user, by name."""
        return list(self._session.scalars(sa.select(UserRow).order_by(UserRow.username)))

    def update(self, user_id: int, **values: Any) -> UserRow:
        """Change columns of a user (``role``, ``disabled``, ``password_hash``), validated."""
        row = self.get(user_id)
        if row is None:
            raise StoreError(f"user {user_id} is not stored")
        return self._update(row, values, f"user {row.username!r}")


class ApiKeyRepository(Repository):
    """API keys of users."""

    def add(
        self,
        user_id: int,
        key_hash: str,
        prefix: str,
        *,
        scopes: Iterable[str] = (),
        expires_at: datetime | None = None,
        now: datetime | None = None,
    ) -> ApiKeyRow:
        """Store a new key of user ``user_id`` (its hash, and the ``prefix`` shown in lists)."""
        row = ApiKeyRow(
            user_id=user_id,
            key_hash=key_hash,
            prefix=prefix,
            scopes=list(scopes),
            created_at=now or utcnow(),
            expires_at=expires_at,
        )
        self._add(row, f"API key {prefix} of user {user_id}")
        return row

    def get(self, key_id: int) -> ApiKeyRow | None:
        """The key ``key_id``, or None."""
        return self._session.get(ApiKeyRow, key_id)

    def by_prefix(self, prefix: str) -> list[ApiKeyRow]:
        """The keys whose public ``prefix`` is ``prefix`` (normally one; the caller compares the hashes)."""
        return list(self._session.scalars(sa.select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)))

    def find(self) -> list[ApiKeyRow]:
        """Every key of every user, oldest first."""
        return list(self._session.scalars(sa.select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)))

    def by_hash(self, key_hash: str) -> ApiKeyRow | None:
        """The key with hash ``key_hash`` (revoked or expired ones too: the caller checks), or None."""
        return self._session.scalars(sa.select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash)).one_or_none()

    def for_user(self, user_id: int) -> list[ApiKeyRow]:
        """The keys of one user, oldest first."""
        query = sa.select(ApiKeyRow).where(ApiKeyRow.user_id == user_id).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        return list(self._session.scalars(query))

    def revoke(self, key_id: int, *, now: datetime | None = None) -> ApiKeyRow:
        """Revoke key ``key_id`` (it stays, for the audit trail)."""
        row = self._session.get(ApiKeyRow, key_id)
        if row is None:
            raise StoreError(f"API key {key_id} is not stored")
        return self._update(row, {"revoked_at": now or utcnow()}, f"API key {row.prefix}")


class SessionRepository(Repository):
    """Login sessions (bearer tokens) of users."""

    def add(
        self,
        user_id: int,
        token_hash: str,
        expires_at: datetime,
        *,
        family: str | None = None,
        kind: TokenKind | str = TokenKind.ACCESS,
        now: datetime | None = None,
    ) -> SessionRow:
        """Store a new token of user ``user_id`` that ends at ``expires_at``, in login ``family`` (None: a new one)."""
        row = SessionRow(
            user_id=user_id, token_hash=token_hash, created_at=now or utcnow(), expires_at=expires_at, kind=kind
        )
        if family is not None:
            row.family = family
        self._add(row, f"session of user {user_id}")
        return row

    def family(self, family: str) -> list[SessionRow]:
        """Every token of login ``family``, oldest first."""
        query = sa.select(SessionRow).where(SessionRow.family == family).order_by(SessionRow.created_at, SessionRow.id)
        return list(self._session.scalars(query))

    def mark_used(self, session_id: int, *, now: datetime | None = None) -> bool:
        """Mark a refresh token exchanged; False if it already was (one atomic UPDATE, so of two concurrent
        exchanges of one token exactly one wins, on SQLite and PostgreSQL alike)."""
        query = (
            sa.update(SessionRow)
            .where(SessionRow.id == session_id, SessionRow.used_at.is_(None))
            .values(used_at=now or utcnow())
            .execution_options(synchronize_session="fetch")
        )
        return self._session.execute(query).rowcount == 1

    def revoke_family(self, family: str, *, now: datetime | None = None) -> int:
        """Revoke every live token of login ``family`` (log out, or a refresh token reused); returns how many."""
        query = sa.select(SessionRow).where(SessionRow.family == family, SessionRow.revoked_at.is_(None))
        rows = self._session.scalars(query).all()
        for row in rows:
            row.revoked_at = now or utcnow()
        self._flush(f"sessions of login {family}")
        return len(rows)

    def by_token_hash(self, token_hash: str) -> SessionRow | None:
        """The session with token hash ``token_hash`` (revoked or expired ones too: the caller checks), or None."""
        return self._session.scalars(sa.select(SessionRow).where(SessionRow.token_hash == token_hash)).one_or_none()

    def revoke(self, session_id: int, *, now: datetime | None = None) -> SessionRow:
        """Revoke session ``session_id`` (log out)."""
        row = self._session.get(SessionRow, session_id)
        if row is None:
            raise StoreError(f"session {session_id} is not stored")
        return self._update(row, {"revoked_at": now or utcnow()}, f"session {session_id}")

    def revoke_all(self, user_id: int, *, now: datetime | None = None) -> int:
        """Revoke every live session of a user (log out everywhere); returns how many."""
        query = sa.select(SessionRow).where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
        rows = self._session.scalars(query).all()
        for row in rows:
            row.revoked_at = now or utcnow()
        self._flush(f"sessions of user {user_id}")
        return len(rows)


class NotificationRepository(Repository):
    """The outbox of notifications and their delivery log."""

    def add(self, channel: str, subject: str, body: str, *, now: datetime | None = None) -> NotificationRow:
        """Queue a notification on ``channel``."""
        row = NotificationRow(channel=channel, subject=subject, body=body, created_at=now or utcnow())
        self._add(row, f"notification {subject!r} on {channel}")
        return row

    def pending(self, limit: int = 100) -> list[NotificationRow]:
        """Notifications still to deliver, oldest first."""
        query = sa.select(NotificationRow).where(NotificationRow.status == NotificationStatus.PENDING.value)
        return list(self._session.scalars(query.order_by(NotificationRow.created_at, NotificationRow.id).limit(limit)))

    def mark_sent(self, notification_id: int, *, now: datetime | None = None) -> NotificationRow:
        """Record a successful delivery attempt."""
        row = self._row(notification_id)
        values = {"status": NotificationStatus.SENT, "attempts": row.attempts + 1, "sent_at": now or utcnow()}
        return self._update(row, values, f"notification {notification_id}")

    def mark_failed(self, notification_id: int, error: str, *, final: bool = False) -> NotificationRow:
        """Record a failed attempt; it stays pending for a retry unless ``final``."""
        row = self._row(notification_id)
        status = NotificationStatus.FAILED if final else NotificationStatus.PENDING
        values = {"status": status, "attempts": row.attempts + 1, "error": error}
        return self._update(row, values, f"notification {notification_id}")

    def _row(self, notification_id: int) -> NotificationRow:
        row = self._session.get(NotificationRow, notification_id)
        if row is None:
            raise StoreError(f"notification {notification_id} is not stored")
        return row


class AuditRepository(Repository):
    """The audit log: who did what to which target, when."""

    def add(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> AuditRow:
        """Append an entry."""
        row = AuditRow(
            actor=actor, action=action, target=target, details=dict(details or {}), timestamp=now or utcnow()
        )
        self._add(row, f"audit entry {action} by {actor}")
        return row

    def find(self, *, actor: str | None = None, action: str | None = None, limit: int | None = 100) -> list[AuditRow]:
        """Entries matching the filters given, newest first, at most ``limit``."""
        query = sa.select(AuditRow).order_by(AuditRow.timestamp.desc(), AuditRow.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(AuditRow.actor == actor)
        if action is not None:
            query = query.where(AuditRow.action == action)
        return list(self._session.scalars(query))
