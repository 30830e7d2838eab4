"""Authentication: TOTP second factor and login lockout on users; token families, kinds and reuse on sessions.

users: ``totp_secret``, ``totp_counter`` (last accepted time step), ``failed_logins``, ``locked_until``.
sessions: ``family`` (every token of one login), ``kind`` (access or refresh), ``used_at`` (a refresh token
exchanged; presented again it is reuse).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


#: Users' new counters, with their CHECKs as column constraints: ADD COLUMN takes those on SQLite and PostgreSQL alike.
_USER_COUNTERS = (
    "totp_counter INTEGER CONSTRAINT ck_users_totp_counter_non_negative CHECK (totp_counter >= 0)",
    "failed_logins INTEGER NOT NULL DEFAULT 0 "
    "CONSTRAINT ck_users_failed_logins_non_negative CHECK (failed_logins >= 0)",
)


def upgrade() -> None:
    # users in place, never in batch mode: on SQLite a batch copies the table and drops the old one, and dropping
    # users would cascade to api_keys and sessions (ON DELETE CASCADE) and clear runs.user_id (SET NULL).
    op.add_column("users", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    for column in _USER_COUNTERS:
        op.execute(f"ALTER TABLE users ADD COLUMN {column}")
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot drop a default in place; the models set it anyway
        op.alter_column("users", "failed_logins", server_default=None)

    # sessions has no child table, so SQLite's batch copy is safe here: it is how a column becomes NOT NULL there.
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("family", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="access"))
        batch.add_column(sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE sessions SET family = 'legacy-' || CAST(id AS VARCHAR(24))")  # each old token its own login
    with op.batch_alter_table("sessions") as batch:
        batch.alter_column("family", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("kind", existing_type=sa.String(length=16), server_default=None)
        batch.create_check_constraint(op.f("ck_sessions_kind_allowed"), "kind IN ('access', 'refresh')")
        batch.create_index(op.f("ix_sessions_family"), ["family"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index(op.f("ix_sessions_family"))
        batch.drop_constraint(op.f("ck_sessions_kind_allowed"), type_="check")
        batch.drop_column("used_at")
        batch.drop_column("kind")
        batch.drop_column("family")
    for column in ("failed_logins", "totp_counter", "locked_until", "totp_secret"):
        op.drop_column("users", column)  # each column's CHECK goes with it
