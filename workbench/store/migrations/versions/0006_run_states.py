"""Run states: the state of each live or paper run and the lease of the session trading it (host, pid, since,
heartbeat, expiry), so one process trades a run at a time and the faces tell running, stopped, finished, halted
and crashed apart.

One new table; no existing table changes, so nothing is rebuilt on SQLite. Runs recorded before have no state
row: the faces read them as ``stopped`` (no session of this version holds them).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    """An aware UTC datetime (workbench.store.types.UTCDateTime stores through this)."""
    return sa.DateTime(timezone=True)


def _check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def upgrade() -> None:
    op.create_table(
        "run_states",
        sa.Column("run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.Column("since", _utc(), nullable=False),
        sa.Column("heartbeat_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc(), nullable=True),
        _check("run_states", "state_allowed", "state IN ('running', 'stopped', 'finished', 'halted')"),
        _check("run_states", "pid_non_negative", "pid >= 0"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_states_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_states")),
    )


def downgrade() -> None:
    op.drop_table("run_states")
