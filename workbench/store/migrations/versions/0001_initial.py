"""Initial schema: users, API keys, sessions, strategies, runs, orders, order events, fills, positions, position and
equity snapshots, risk events, notifications and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SIDES = "'buy', 'sell'"
_STATUSES = "'new', 'accepted', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired'"


def _json() -> sa.types.TypeEngine:
    """JSON, JSONB on PostgreSQL (workbench.store.types.JSONType at this revision)."""
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def _utc() -> sa.DateTime:
    """An aware UTC datetime (workbench.store.types.UTCDateTime stores through this)."""
    return sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _run_fk(table: str, nullable: bool = False) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    column = sa.Column("run_id", sa.Integer(), nullable=nullable)
    fk = sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f(f"fk_{table}_run_id_runs"), ondelete="CASCADE")
    return column, fk


def _check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def _positive(table: str, *columns: str) -> list[sa.CheckConstraint]:
    return [_check(table, f"{c}_positive", f"{c} > 0") for c in columns]


def _non_negative(table: str, *columns: str) -> list[sa.CheckConstraint]:
    return [_check(table, f"{c}_non_negative", f"{c} >= 0") for c in columns]


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def _unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        _check("users", "role_allowed", "role IN ('admin', 'trader', 'viewer')"),
        _pk("users"),
        _unique("users", "username"),
    )
    op.create_table(
        "api_keys",
        _id(),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("scopes", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=True),
        sa.Column("revoked_at", _utc(), nullable=True),
        _check("api_keys", "expires_after_created", "expires_at IS NULL OR expires_at > created_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"),
        _pk("api_keys"),
        _unique("api_keys", "key_hash"),
    )
    _index("api_keys", "prefix")
    _index("api_keys", "user_id")
    op.create_table(
        "sessions",
        _id(),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("revoked_at", _utc(), nullable=True),
        _check("sessions", "expires_after_created", "expires_at > created_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"),
        _pk("sessions"),
        _unique("sessions", "token_hash"),
    )
    _index("sessions", "user_id")
    op.create_table(
        "notifications",
        _id(),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _check("notifications", "status_allowed", "status IN ('pending', 'sent', 'failed')"),
        *_non_negative("notifications", "attempts"),
        _pk("notifications"),
    )
    _index("notifications", "status")
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("timestamp", _utc(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("details", _json(), nullable=False),
        _pk("audit_log"),
    )
    _index("audit_log", "timestamp")
    op.create_table(
        "strategies",
        _id(),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("params", _json(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("halted_reason", sa.Text(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        _check("strategies", "mode_allowed", "mode IN ('research', 'paper', 'live')"),
        _pk("strategies"),
        _unique("strategies", "name"),
    )
    op.create_table(
        "runs",
        _id(),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("params", _json(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("config", _json(), nullable=False),
        sa.Column("code_version", sa.String(length=64), nullable=True),
        sa.Column("strategy_source_hash", sa.String(length=128), nullable=True),
        sa.Column("data_source", sa.String(length=255), nullable=True),
        sa.Column("data_hash", sa.String(length=128), nullable=True),
        sa.Column("costs", _json(), nullable=False),
        sa.Column("metrics", _json(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _check("runs", "kind_allowed", "kind IN ('backtest', 'sweep', 'walk_forward', 'live')"),
        _check("runs", "status_allowed", "status IN ('running', 'finished', 'failed')"),
        _check("runs", "finished_after_started", "finished_at IS NULL OR finished_at >= started_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_runs_user_id_users"), ondelete="SET NULL"),
        _pk("runs"),
    )
    _index("runs", "started_at")
    _index("runs", "strategy")

    run_id, run_fk = _run_fk("orders", nullable=True)
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=48), nullable=False),
        run_id,
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("time_in_force", sa.String(length=8), nullable=False),
        sa.Column("qty", sa.Double(), nullable=False),
        sa.Column("limit_price", sa.Double(), nullable=True),
        sa.Column("stop_price", sa.Double(), nullable=True),
        sa.Column("take_profit", sa.Double(), nullable=True),
        sa.Column("stop_loss", sa.Double(), nullable=True),
        sa.Column("stop_loss_limit", sa.Double(), nullable=True),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("oco_group", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filled_qty", sa.Double(), nullable=False),
        sa.Column("avg_fill_price", sa.Double(), nullable=True),
        sa.Column("fees", sa.Double(), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("strategy", sa.String(length=64), nullable=True),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("broker_order_id", sa.String(length=64), nullable=True),
        _check("orders", "side_allowed", f"side IN ({_SIDES})"),
        _check("orders", "type_allowed", "type IN ('market', 'limit', 'stop', 'stop_limit')"),
        _check("orders", "time_in_force_allowed", "time_in_force IN ('day', 'gtc', 'ioc')"),
        _check("orders", "status_allowed", f"status IN ({_STATUSES})"),
        _check("orders", "filled_within_qty", "filled_qty <= qty"),
        *_positive("orders", "qty", "limit_price", "stop_price", "take_profit", "stop_loss", "stop_loss_limit"),
        *_positive("orders", "avg_fill_price"),
        *_non_negative("orders", "filled_qty", "fees"),
        run_fk,
        sa.ForeignKeyConstraint(
            ["parent_id"], ["orders.id"], name=op.f("fk_orders_parent_id_orders"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        _unique("orders", "client_order_id"),
        _unique("orders", "broker_order_id"),
    )
    _index("orders", "run_id", "status")
    _index("orders", "status")

    run_id, run_fk = _run_fk("fills", nullable=True)
    op.create_table(
        "fills",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        run_id,
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("qty", sa.Double(), nullable=False),
        sa.Column("price", sa.Double(), nullable=False),
        sa.Column("fee", sa.Double(), nullable=False),
        sa.Column("timestamp", _utc(), nullable=False),
        sa.Column("liquidity", sa.String(length=32), nullable=True),
        sa.Column("venue", sa.String(length=32), nullable=True),
        _check("fills", "side_allowed", f"side IN ({_SIDES})"),
        *_positive("fills", "qty", "price"),
        *_non_negative("fills", "fee"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fills_order_id_orders")),
        run_fk,
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
    )
    _index("fills", "order_id")
    _index("fills", "run_id", "timestamp")
    op.create_table(
        "order_events",
        _id(),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("timestamp", _utc(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("fill_id", sa.String(length=64), nullable=True),
        sa.Column("details", _json(), nullable=False),
        _check(
            "order_events",
            "kind_allowed",
            "kind IN ('accepted', 'partial_fill', 'fill', 'canceled', 'rejected', 'expired')",
        ),
        _check("order_events", "status_allowed", f"status IN ({_STATUSES})"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["fill_id"], ["fills.id"], name=op.f("fk_order_events_fill_id_fills"), ondelete="CASCADE"
        ),
        _pk("order_events"),
    )
    _index("order_events", "order_id")

    for table in ("positions", "position_snapshots"):
        run_id, run_fk = _run_fk(table)
        snapshot = table == "position_snapshots"
        op.create_table(
            table,
            _id(),
            run_id,
            *([sa.Column("timestamp", _utc(), nullable=False)] if snapshot else []),
            sa.Column("symbol", sa.String(length=32), nullable=False),
            sa.Column("qty", sa.Double(), nullable=False),
            sa.Column("avg_price", sa.Double(), nullable=False),
            sa.Column("realized_pnl", sa.Double(), nullable=False),
            sa.Column("fees", sa.Double(), nullable=False),
            *([] if snapshot else [sa.Column("updated_at", _utc(), nullable=False)]),
            *_non_negative(table, "avg_price", "fees"),
            run_fk,
            _pk(table),
            _unique(table, "run_id", "symbol", "timestamp") if snapshot else _unique(table, "run_id", "symbol"),
        )

    run_id, run_fk = _run_fk("equity_snapshots")
    op.create_table(
        "equity_snapshots",
        _id(),
        run_id,
        sa.Column("timestamp", _utc(), nullable=False),
        sa.Column("cash", sa.Double(), nullable=False),
        sa.Column("equity", sa.Double(), nullable=False),
        run_fk,
        _pk("equity_snapshots"),
        _unique("equity_snapshots", "run_id", "timestamp"),
    )

    run_id, run_fk = _run_fk("risk_events")
    op.create_table(
        "risk_events",
        _id(),
        run_id,
        sa.Column("timestamp", _utc(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("details", _json(), nullable=False),
        _check("risk_events", "decision_allowed", "decision IN ('approve', 'resize', 'deny', 'exit', 'halt')"),
        run_fk,
        _pk("risk_events"),
    )
    _index("risk_events", "run_id", "timestamp")


def downgrade() -> None:
    for table in (
        "risk_events",
        "equity_snapshots",
        "position_snapshots",
        "positions",
        "order_events",
        "fills",
        "orders",
        "runs",
        "strategies",
        "audit_log",
        "notifications",
        "sessions",
        "api_keys",
        "users",
    ):
        op.drop_table(table)  # its indexes go with it
