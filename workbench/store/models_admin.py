"""Rows of the operational tables: users, API keys, login sessions, notifications and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workbench.store.base import Base, check
from workbench.store.types import utcnow
from workbench.store.validation import EMPTY_OK, NON_NEGATIVE, one_of


class UserRole(StrEnum):
    """What a user may do: everything, trade and switch strategies, or only look."""

    ADMIN = "admin"
    TRADER = "trader"
    VIEWER = "viewer"


class TokenKind(StrEnum):
    """A short-lived access token, or the refresh token that trades itself once for a new pair."""

    ACCESS = "access"
    REFRESH = "refresh"


class NotificationStatus(StrEnum):
    """Delivery state of a notification."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class UserRow(Base):
    """A person (or service) who logs in to the dashboard or API."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), info=check(one_of(UserRole)))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(default=False)
    #: The optional TOTP second factor's secret, sealed (encrypted with a key kept apart: `workbench.auth.vault`), and
    #: the time step of the last code accepted (no replay).
    totp_sealed: Mapped[str | None] = mapped_column(sa.String(255))
    totp_counter: Mapped[int | None] = mapped_column(info=check(NON_NEGATIVE))
    #: The secret as a workbench of before stored it, in clear: sealed into ``totp_sealed`` (and cleared) by the
    #: services the first time they meet it.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    #: Failed logins in a row (reset by a success); past the policy's limit the user is locked until ``locked_until``.
    failed_logins: Mapped[int] = mapped_column(default=0, info=check(NON_NEGATIVE))
    locked_until: Mapped[datetime | None]


class ApiKeyRow(Base):
    """An API key of a user; only its hash is stored, ``prefix`` identifies it in lists and logs."""

    __tablename__ = "api_keys"
    __table_args__ = (
        sa.CheckConstraint("expires_at IS NULL OR expires_at > created_at", name="expires_after_created"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(255), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16), index=True)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SessionRow(Base):
    """A bearer token of a user's login session; only the token's hash is stored.

    Every token issued from one login (its access and refresh tokens, and each pair a refresh rotates in) shares a
    ``family``; revoking the family ends the login. A refresh token's ``used_at`` is set when it is exchanged, so
    presenting it again is recognized as reuse.
    """

    __tablename__ = "sessions"
    __table_args__ = (sa.CheckConstraint("expires_at > created_at", name="expires_after_created"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    family: Mapped[str] = mapped_column(sa.String(32), index=True, default=lambda: uuid4().hex)
    kind: Mapped[str] = mapped_column(sa.String(16), default=TokenKind.ACCESS.value, info=check(one_of(TokenKind)))
    used_at: Mapped[datetime | None]


class NotificationRow(Base):
    """A message to deliver on a channel (email, webhook, ...), with its delivery attempts."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text, info={EMPTY_OK: True})
    status: Mapped[str] = mapped_column(
        sa.String(16), default=NotificationStatus.PENDING.value, index=True, info=check(one_of(NotificationStatus))
    )
    attempts: Mapped[int] = mapped_column(default=0, info=check(NON_NEGATIVE))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)


class AuditRow(Base):
    """Who did what to which target, and when (logins, strategy switches, halts, config changes, ...)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str | None] = mapped_column(sa.String(255))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
