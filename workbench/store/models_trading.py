"""Rows of the research and trading tables: strategies, runs, orders, order events, fills, positions, equity,
bars received, risk events. Orders and fills store every field of the domain `Order` / `Fill` under the same names."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workbench.orders.model import EventKind, OrderStatus, OrderType, Side, TimeInForce
from workbench.store.base import Base, check
from workbench.store.types import utcnow
from workbench.store.validation import EMPTY_OK, NON_NEGATIVE, POSITIVE, one_of

#: The decisions a `workbench.risk.manager.RiskEvent` records.
RISK_DECISIONS = ("approve", "resize", "deny", "exit", "halt")


def _run_fk() -> sa.ForeignKey:
    """The link of a run's records to it: they are deleted with the run."""
    return sa.ForeignKey("runs.id", ondelete="CASCADE")


class RunKind(StrEnum):
    """What produced a run."""

    BACKTEST = "backtest"
    SWEEP = "sweep"
    WALK_FORWARD = "walk_forward"
    LIVE = "live"
    NOTEBOOK = "notebook"


class RunStatus(StrEnum):
    """Whether a run is still going, ended normally or ended with an error."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class StrategyMode(StrEnum):
    """Where a strategy may trade."""

    RESEARCH = "research"
    PAPER = "paper"
    LIVE = "live"


class StrategyRow(Base):
    """A strategy known to the live side: parameters, on/off switch, mode and kill-switch state."""

    __tablename__ = "strategies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(default=False)
    mode: Mapped[str] = mapped_column(
        sa.String(16), default=StrategyMode.RESEARCH.value, info=check(one_of(StrategyMode))
    )
    halted: Mapped[bool] = mapped_column(default=False)
    halted_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RunRow(Base):
    """One backtest, sweep, walk-forward or live session, with everything needed to reproduce it."""

    __tablename__ = "runs"
    __table_args__ = (
        sa.CheckConstraint("finished_at IS NULL OR finished_at >= started_at", name="finished_after_started"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), info=check(one_of(RunKind)))
    strategy: Mapped[str] = mapped_column(sa.String(64), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user_id: Mapped[int | None] = mapped_column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(16), default=RunStatus.RUNNING.value, info=check(one_of(RunStatus)))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    code_version: Mapped[str | None] = mapped_column(sa.String(64))
    strategy_source_hash: Mapped[str | None] = mapped_column(sa.String(128))
    data_source: Mapped[str | None] = mapped_column(sa.String(255))
    data_hash: Mapped[str | None] = mapped_column(sa.String(128))
    #: cash, fees, slippage, fill, fixed_fee and risk rules of the run.
    costs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(sa.Text)


class OrderRow(Base):
    """A domain `Order` (one column per field) with its run and the broker's id for it."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.CheckConstraint("filled_qty <= qty", name="filled_within_qty"),
        sa.Index(None, "run_id", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(sa.String(48), unique=True)
    run_id: Mapped[int | None] = mapped_column(sa.Integer, _run_fk())
    symbol: Mapped[str] = mapped_column(sa.String(32))
    side: Mapped[str] = mapped_column(sa.String(8), info=check(one_of(Side)))
    type: Mapped[str] = mapped_column(sa.String(16), info=check(one_of(OrderType)))
    time_in_force: Mapped[str] = mapped_column(sa.String(8), info=check(one_of(TimeInForce)))
    qty: Mapped[float] = mapped_column(info=check(POSITIVE))
    limit_price: Mapped[float | None] = mapped_column(info=check(POSITIVE))
    stop_price: Mapped[float | None] = mapped_column(info=check(POSITIVE))
    take_profit: Mapped[float | None] = mapped_column(info=check(POSITIVE))
    stop_loss: Mapped[float | None] = mapped_column(info=check(POSITIVE))
    stop_loss_limit: Mapped[float | None] = mapped_column(info=check(POSITIVE))
    parent_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("orders.id", ondelete="SET NULL"))
    oco_group: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), index=True, info=check(one_of(OrderStatus)))
    filled_qty: Mapped[float] = mapped_column(info=check(NON_NEGATIVE))
    avg_fill_price: Mapped[float | None] = mapped_column(info=check(POSITIVE))
    fees: Mapped[float] = mapped_column(info=check(NON_NEGATIVE))
    reject_reason: Mapped[str | None] = mapped_column(sa.Text)
    strategy: Mapped[str | None] = mapped_column(sa.String(64))
    tags: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    broker_order_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)


class OrderEventRow(Base):
    """One `OrderEvent` of an order, with the order's status after it and, for fills, the fill."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), info=check(one_of(EventKind)))
    status: Mapped[str] = mapped_column(sa.String(16), info=check(one_of(OrderStatus)))
    timestamp: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(sa.Text)
    fill_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("fills.id", ondelete="CASCADE"))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class FillRow(Base):
    """A domain `Fill` (``id`` is its ``fill_id``); an order with fills cannot be deleted on its own."""

    __tablename__ = "fills"
    __table_args__ = (sa.Index(None, "run_id", "timestamp"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("orders.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(sa.Integer, _run_fk())
    symbol: Mapped[str] = mapped_column(sa.String(32))
    side: Mapped[str] = mapped_column(sa.String(8), info=check(one_of(Side)))
    qty: Mapped[float] = mapped_column(info=check(POSITIVE))
    price: Mapped[float] = mapped_column(info=check(POSITIVE))
    fee: Mapped[float] = mapped_column(info=check(NON_NEGATIVE))
    timestamp: Mapped[datetime]
    liquidity: Mapped[str | None] = mapped_column(sa.String(32))
    venue: Mapped[str | None] = mapped_column(sa.String(32))


class PositionRow(Base):
    """The current average-cost position of one symbol in one run (live sessions are runs too)."""

    __tablename__ = "positions"
    __table_args__ = (sa.UniqueConstraint("run_id", "symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.Integer, _run_fk())
    symbol: Mapped[str] = mapped_column(sa.String(32))
    qty: Mapped[float]
    avg_price: Mapped[float] = mapped_column(info=check(NON_NEGATIVE))
    realized_pnl: Mapped[float]
    fees: Mapped[float] = mapped_column(info=check(NON_NEGATIVE))
    updated_at: Mapped[datetime]


class PositionSnapshotRow(Base):
    """A position as it was at ``timestamp`` (end of day, end of session), for history and reconciliation."""

    __tablename__ = "position_snapshots"
    __table_args__ = (sa.UniqueConstraint("run_id", "symbol", "timestamp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.Integer, _run_fk())
    timestamp: Mapped[datetime]
    symbol: Mapped[str] = mapped_column(sa.String(32))
    qty: Mapped[float]
    avg_price: Mapped[float] = mapped_column(info=check(NON_NEGATIVE))
    realized_pnl: Mapped[float]
    fees: Mapped[float] = mapped_column(info=check(NON_NEGATIVE))


class EquitySnapshotRow(Base):
    """Cash and equity of a run at ``timestamp``."""

    __tablename__ = "equity_snapshots"
    __table_args__ = (sa.UniqueConstraint("run_id", "timestamp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.Integer, _run_fk())
    timestamp: Mapped[datetime]
    cash: Mapped[float]
    equity: Mapped[float]


class ReceivedBarRow(Base):
    """A bar a live or paper run actually received (its full OHLCV), stored with the run's mark at its close.

    ``orders_seen`` (how many orders the run had recorded) and ``events_seen`` (the id of its newest order event)
    say which orders and fills came before this bar was done: the drift report places each order and fill on the
    bar being handled when it was recorded, whatever clock the broker stamped it with.
    """

    __tablename__ = "received_bars"
    __table_args__ = (sa.UniqueConstraint("run_id", "symbol", "timestamp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.Integer, _run_fk())
    symbol: Mapped[str] = mapped_column(sa.String(32))
    timestamp: Mapped[datetime]
    open: Mapped[float] = mapped_column(info=check(POSITIVE))
    high: Mapped[float] = mapped_column(info=check(POSITIVE))
    low: Mapped[float] = mapped_column(info=check(POSITIVE))
    close: Mapped[float] = mapped_column(info=check(POSITIVE))
    volume: Mapped[float] = mapped_column(info=check(NON_NEGATIVE))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    orders_seen: Mapped[int] = mapped_column(info=check(NON_NEGATIVE))
    events_seen: Mapped[int] = mapped_column(info=check(NON_NEGATIVE))


class RiskEventRow(Base):
    """A `RiskEvent` of a run (``rule`` is empty for an approval)."""

    __tablename__ = "risk_events"
    __table_args__ = (sa.Index(None, "run_id", "timestamp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.Integer, _run_fk())
    timestamp: Mapped[datetime]
    symbol: Mapped[str] = mapped_column(sa.String(32))
    decision: Mapped[str] = mapped_column(sa.String(16), info=check(one_of(RISK_DECISIONS)))
    rule: Mapped[str] = mapped_column(sa.String(64), info={EMPTY_OK: True})
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
