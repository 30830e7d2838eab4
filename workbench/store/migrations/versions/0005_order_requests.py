"""Order requests: a cancel asked for through the store (by the dashboard, from any process), acted on by the
live session of the run at its next check, with the outcome recorded.

One new table; no existing table changes, so nothing is rebuilt on SQLite.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    """An aware UTC datetime (workbench.store.types.UTCDateTime stores through this)."""
    return sa.DateTime(timezone=True)


def _check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def upgrade() -> None:
    op.create_table(
        "order_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", _utc(), nullable=False),
        sa.Column("handled_at", _utc(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        _check("order_requests", "action_allowed", "action IN ('cancel')"),
        _check("order_requests", "handled_with_outcome", "(handled_at IS NULL) = (outcome IS NULL)"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_order_requests_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_requests")),
    )
    op.create_index(op.f("ix_order_requests_order_id"), "order_requests", ["order_id"], unique=False)
    op.create_index(
        op.f("ix_order_requests_run_id_handled_at"), "order_requests", ["run_id", "handled_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_order_requests_run_id_handled_at"), table_name="order_requests")
    op.drop_index(op.f("ix_order_requests_order_id"), table_name="order_requests")
    op.drop_table("order_requests")
