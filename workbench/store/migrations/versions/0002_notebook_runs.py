"""Runs of scheduled notebooks: the run kind ``notebook``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BEFORE = "kind IN ('backtest', 'sweep', 'walk_forward', 'live')"
_AFTER = "kind IN ('backtest', 'sweep', 'walk_forward', 'live', 'notebook')"


def _replace_kind_check(sql: str) -> None:
    # batch mode: SQLite cannot alter a CHECK constraint in place, so Alembic rebuilds the table there.
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_kind_allowed"), type_="check")
        batch.create_check_constraint(op.f("ck_runs_kind_allowed"), sql)


def upgrade() -> None:
    _replace_kind_check(_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM runs WHERE kind = 'notebook'")
    _replace_kind_check(_BEFORE)
