"""Promotions and received bars: the promotion log (research -> paper -> live, each gate's outcome) and the bars
live and paper runs received (full OHLCV, for the drift report's re-simulation).

Two new tables; no existing table changes, so nothing is rebuilt on SQLite.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    """JSON, JSONB on PostgreSQL (workbench.store.types.JSONType at this revision)."""
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def _utc() -> sa.DateTime:
    """An aware UTC datetime (workbench.store.types.UTCDateTime stores through this)."""
    return sa.DateTime(timezone=True)


def _check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("params", _json(), nullable=False),
        sa.Column("symbols", _json(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sweep_run_id", sa.Integer(), nullable=True),
        sa.Column("strategy_source_hash", sa.String(length=128), nullable=False),
        sa.Column("gates", _json(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        _check("promotions", "stage_allowed", "stage IN ('paper', 'live')"),
        _check("promotions", "status_allowed", "status IN ('passed', 'failed', 'overridden')"),
        sa.ForeignKeyConstraint(
            ["sweep_run_id"], ["runs.id"], name=op.f("fk_promotions_sweep_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    op.create_index(op.f("ix_promotions_strategy"), "promotions", ["strategy"], unique=False)
    op.create_index(op.f("ix_promotions_created_at"), "promotions", ["created_at"], unique=False)

    prices = ("open", "high", "low", "close")
    op.create_table(
        "received_bars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timestamp", _utc(), nullable=False),
        *(sa.Column(name, sa.Double(), nullable=False) for name in (*prices, "volume")),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column("orders_seen", sa.Integer(), nullable=False),
        sa.Column("events_seen", sa.Integer(), nullable=False),
        *(_check("received_bars", f"{name}_positive", f"{name} > 0") for name in prices),
        *(
            _check("received_bars", f"{name}_non_negative", f"{name} >= 0")
            for name in ("volume", "orders_seen", "events_seen")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_received_bars_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_bars")),
        sa.UniqueConstraint("run_id", "symbol", "timestamp", name=op.f("uq_received_bars_run_id_symbol_timestamp")),
    )


def downgrade() -> None:
    op.drop_table("received_bars")
    op.drop_index(op.f("ix_promotions_created_at"), table_name="promotions")
    op.drop_index(op.f("ix_promotions_strategy"), table_name="promotions")
    op.drop_table("promotions")
