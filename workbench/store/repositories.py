"""Repositories of the research and trading records, used through a unit of work (they flush, never commit).

Orders, fills, order events, risk events and positions go in and come out as the domain objects
(`Order`, `Fill`, `OrderEvent`, `RiskEvent`, `PositionState`); runs, strategies and snapshots, which have no domain
class, come out as their rows (still readable after the unit of work ends).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench.data.feeds import Bar
from workbench.engine.ledger import position_after_fill_nb
from workbench.orders.manager import PositionState
from workbench.orders.model import OPEN_STATUSES, Fill, Order, OrderEvent, OrderStatus
from workbench.risk.manager import RiskEvent
from workbench.store.base import Base
from workbench.store.errors import StoreError, StoreIntegrityError, StoreValidationError
from workbench.store.models_trading import (
    EquitySnapshotRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    PositionRow,
    PositionSnapshotRow,
    ReceivedBarRow,
    RiskEventRow,
    RunKind,
    RunRow,
    RunStatus,
    StrategyMode,
    StrategyRow,
)
from workbench.store.types import utcnow

_ORDER_FIELDS = tuple(f.name for f in fields(Order))
_R = TypeVar("_R", bound=Base)


class Repository:
    """Base of the repositories: the unit of work's session, and writes turned into store errors."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _add(self, row: Base, what: str) -> None:
        self._session.add(row)
        self._flush(what)

    def _flush(self, what: str) -> None:
        """Send pending writes now, so a refused one fails here, naming ``what``, not at commit."""
        try:
            self._session.flush()
        except IntegrityError as exc:
            raise StoreIntegrityError(f"{what}: refused by the database: {exc.orig}") from exc

    def _update(self, row: _R, values: Mapping[str, Any], what: str) -> _R:
        """Set columns of ``row`` (each value validated as it is set) and flush."""
        columns = sa.inspect(type(row)).columns
        for name, value in values.items():
            if name not in columns or columns[name].primary_key:
                raise StoreValidationError(row.__tablename__, name, value, f"a column of {row.__tablename__}")
            setattr(row, name, value)
        self._flush(what)
        return row


class OrderRepository(Repository):
    """Orders: recorded before they are sent (`add`), kept current (`update`), found again by any of their ids."""

    def add(self, order: Order, *, run_id: int | None = None, broker_order_id: str | None = None) -> None:
        """Record ``order`` (every field) in run ``run_id``; a duplicate ``client_order_id`` is refused."""
        row = OrderRow(**_fields(order), run_id=run_id, broker_order_id=broker_order_id)
        self._add(row, f"order {order.id} (client_order_id {order.client_order_id})")

    def update(self, order: Order) -> None:
        """Write the order's current state (status, filled qty, average price, fees, ...) over its row."""
        values = _fields(order)
        del values["id"]
        self._update(self._row(order.id), values, f"order {order.id}")

    def set_broker_order_id(self, order_id: str, broker_order_id: str) -> None:
        """Remember the broker's id of an order (once the broker has acknowledged it)."""
        self._update(self._row(order_id), {"broker_order_id": broker_order_id}, f"order {order_id}")

    def get(self, order_id: str) -> Order | None:
        """The order with our id ``order_id``, or None."""
        return self._one(OrderRow.id == order_id)

    def by_client_order_id(self, client_order_id: str) -> Order | None:
        """The order sent with ``client_order_id``, or None (so a router can refuse to send it twice)."""
        return self._one(OrderRow.client_order_id == client_order_id)

    def by_broker_order_id(self, broker_order_id: str) -> Order | None:
        """The order the broker knows as ``broker_order_id``, or None."""
        return self._one(OrderRow.broker_order_id == broker_order_id)

    def open(self, run_id: int | None = None) -> list[Order]:
        """Orders that can still fill (new, accepted, partially filled), oldest first; of one run if given."""
        return self.find(run_id=run_id, status=[s for s in OrderStatus if s in OPEN_STATUSES])

    def find(
        self,
        *,
        run_id: int | None = None,
        status: str | Sequence[str] | None = None,
        symbol: str | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        """Orders matching every filter given, oldest first."""
        query = sa.select(OrderRow).order_by(OrderRow.created_at, OrderRow.id).limit(limit)
        if run_id is not None:
            query = query.where(OrderRow.run_id == run_id)
        if status is not None:
            statuses = [status] if isinstance(status, str) else status
            query = query.where(OrderRow.status.in_([str(s) for s in statuses]))
        if symbol is not None:
            query = query.where(OrderRow.symbol == symbol)
        return [_order(row) for row in self._session.scalars(query)]

    def _one(self, where: sa.ColumnElement[bool]) -> Order | None:
        row = self._session.scalars(sa.select(OrderRow).where(where)).one_or_none()
        return None if row is None else _order(row)

    def _row(self, order_id: str) -> OrderRow:
        row = self._session.get(OrderRow, order_id)
        if row is None:
            raise StoreError(f"order {order_id} is not stored")
        return row


class FillRepository(Repository):
    """Fills of stored orders."""

    def add(self, fill: Fill, *, run_id: int | None = None) -> None:
        """Record ``fill`` of a stored order; ``run_id`` defaults to the order's run."""
        values = _fields(fill)
        values["id"] = values.pop("fill_id")
        client_order_id = values.pop("client_order_id")
        row = FillRow(**values)  # validated here, before any SQL
        order = self._session.get(OrderRow, fill.order_id)
        if order is None or order.client_order_id != client_order_id:
            raise StoreError(
                f"fill {fill.fill_id}: no stored order {fill.order_id} with client_order_id {client_order_id}; "
                "record the order before its fills"
            )
        row.run_id = order.run_id if run_id is None else run_id
        self._add(row, f"fill {fill.fill_id} of order {fill.order_id}")

    def get(self, fill_id: str) -> Fill | None:
        """The fill ``fill_id``, or None."""
        found = self._find(FillRow.id == fill_id)
        return found[0] if found else None

    def for_order(self, order_id: str) -> list[Fill]:
        """The fills of one order, in time order."""
        return self._find(FillRow.order_id == order_id)

    def find(self, *, run_id: int | None = None, symbol: str | None = None, limit: int | None = None) -> list[Fill]:
        """Fills matching every filter given, in time order."""
        where = [FillRow.run_id == run_id] if run_id is not None else []
        if symbol is not None:
            where.append(FillRow.symbol == symbol)
        return self._find(*where, limit=limit)

    def _find(self, *where: sa.ColumnElement[bool], limit: int | None = None) -> list[Fill]:
        query = (
            sa.select(FillRow, OrderRow.client_order_id)
            .join(OrderRow, FillRow.order_id == OrderRow.id)
            .where(*where)
            .order_by(FillRow.timestamp, FillRow.id)
            .limit(limit)
        )
        return [_fill(row, client_order_id) for row, client_order_id in self._session.execute(query)]


class OrderEventRepository(Repository):
    """The event history of orders (accepted, fills, cancellations, ...)."""

    def add(self, event: OrderEvent, status: OrderStatus | str, details: Mapping[str, Any] | None = None) -> None:
        """Record ``event`` with the order's ``status`` after it (and broker ``details``); a fill event's fill
        must be stored first."""
        row = OrderEventRow(
            order_id=event.order_id,
            kind=event.kind,
            status=status,
            timestamp=event.timestamp,
            reason=event.reason,
            fill_id=event.fill.fill_id if event.fill is not None else None,
            details=dict(details or {}),
        )
        self._add(row, f"{event.kind} event of order {event.order_id}")

    def for_order(self, order_id: str) -> list[OrderEvent]:
        """The events of one order in the order they happened, fill events with their fills."""
        query = (
            sa.select(OrderEventRow, OrderRow.client_order_id, FillRow)
            .join(OrderRow, OrderEventRow.order_id == OrderRow.id)
            .outerjoin(FillRow, OrderEventRow.fill_id == FillRow.id)
            .where(OrderEventRow.order_id == order_id)
            .order_by(OrderEventRow.timestamp, OrderEventRow.id)
        )
        return [_event(row, client_order_id, fill) for row, client_order_id, fill in self._session.execute(query)]

    def log(self, run_id: int) -> list[tuple[int, OrderEvent]]:
        """Every order event of run ``run_id`` with its id, in the order they were recorded (fill events with
        their fills): the sequence `ReceivedBarRow.events_seen` marks positions in."""
        query = (
            sa.select(OrderEventRow, OrderRow.client_order_id, FillRow)
            .join(OrderRow, OrderEventRow.order_id == OrderRow.id)
            .outerjoin(FillRow, OrderEventRow.fill_id == FillRow.id)
            .where(OrderRow.run_id == run_id)
            .order_by(OrderEventRow.id)
        )
        return [
            (row.id, _event(row, client_order_id, fill)) for row, client_order_id, fill in self._session.execute(query)
        ]


class PositionRepository(Repository):
    """Current positions per run and symbol, moved by fills, and their snapshots."""

    def apply_fill(self, run_id: int, fill: Fill) -> PositionState:
        """Move the run's position in ``fill.symbol`` by ``fill`` and return it.

        The arithmetic is the order manager's (`position_after_fill_nb`: average cost, realized P&L net of
        fees), so stored and in-memory positions agree; call it in the unit of work that adds the fill.
        """
        query = sa.select(PositionRow).where(PositionRow.run_id == run_id, PositionRow.symbol == fill.symbol)
        row = self._session.scalars(query.with_for_update()).one_or_none()
        if row is None:
            row = PositionRow(run_id=run_id, symbol=fill.symbol, qty=0.0, avg_price=0.0, realized_pnl=0.0, fees=0.0)
            self._session.add(row)
        qty, avg_price, realized = position_after_fill_nb(
            row.qty, row.avg_price, row.realized_pnl, fill.qty * fill.side.sign, fill.price, fill.fee
        )
        row.qty, row.avg_price, row.realized_pnl = qty, avg_price, realized
        row.fees += fill.fee
        row.updated_at = fill.timestamp
        self._flush(f"position {fill.symbol} of run {run_id}")
        return _position(row)

    def get(self, run_id: int, symbol: str) -> PositionState | None:
        """The position of ``symbol`` in the run (flat ones too, with their realized P&L), or None."""
        query = sa.select(PositionRow).where(PositionRow.run_id == run_id, PositionRow.symbol == symbol)
        row = self._session.scalars(query).one_or_none()
        return None if row is None else _position(row)

    def current(self, run_id: int, *, include_flat: bool = False) -> dict[str, PositionState]:
        """The run's positions by symbol: open ones, or every symbol ever traded with ``include_flat``."""
        query = sa.select(PositionRow).where(PositionRow.run_id == run_id).order_by(PositionRow.symbol)
        if not include_flat:
            query = query.where(PositionRow.qty != 0.0)
        return {row.symbol: _position(row) for row in self._session.scalars(query)}

    def snapshot(self, run_id: int, timestamp: datetime) -> int:
        """Copy every position of the run (flat ones too) into the snapshots at ``timestamp``; returns how many."""
        rows = self._session.scalars(sa.select(PositionRow).where(PositionRow.run_id == run_id)).all()
        for row in rows:
            self._session.add(
                PositionSnapshotRow(
                    run_id=run_id,
                    timestamp=timestamp,
                    symbol=row.symbol,
                    qty=row.qty,
                    avg_price=row.avg_price,
                    realized_pnl=row.realized_pnl,
                    fees=row.fees,
                )
            )
        self._flush(f"position snapshot of run {run_id}")
        return len(rows)

    def snapshots(self, run_id: int, symbol: str | None = None) -> list[PositionSnapshotRow]:
        """The run's position snapshots in time order (of one symbol if given)."""
        query = sa.select(PositionSnapshotRow).where(PositionSnapshotRow.run_id == run_id)
        if symbol is not None:
            query = query.where(PositionSnapshotRow.symbol == symbol)
        order = (PositionSnapshotRow.timestamp, PositionSnapshotRow.symbol)
        return list(self._session.scalars(query.order_by(*order)))


class EquityRepository(Repository):
    """Cash and equity of runs over time."""

    def add(self, run_id: int, timestamp: datetime, *, cash: float, equity: float) -> None:
        """Record the run's cash and equity at ``timestamp`` (one snapshot per run and time)."""
        row = EquitySnapshotRow(run_id=run_id, timestamp=timestamp, cash=cash, equity=equity)
        self._add(row, f"equity of run {run_id} at {timestamp}")

    def add_many(self, run_id: int, snapshots: Iterable[tuple[datetime, float, float]]) -> int:
        """Record ``(timestamp, cash, equity)`` snapshots of the run in one flush (a saved equity curve); return
        how many."""
        rows = [EquitySnapshotRow(run_id=run_id, timestamp=t, cash=c, equity=e) for t, c, e in snapshots]
        self._session.add_all(rows)
        self._flush(f"{len(rows)} equity snapshots of run {run_id}")
        return len(rows)

    def latest(self, run_id: int) -> EquitySnapshotRow | None:
        """The run's newest snapshot, or None."""
        query = sa.select(EquitySnapshotRow).where(EquitySnapshotRow.run_id == run_id)
        return self._session.scalars(query.order_by(EquitySnapshotRow.timestamp.desc()).limit(1)).one_or_none()

    def peak(self, run_id: int) -> float | None:
        """The run's highest recorded equity (None before its first snapshot): where its drawdown is measured from."""
        query = sa.select(sa.func.max(EquitySnapshotRow.equity)).where(EquitySnapshotRow.run_id == run_id)
        peak = self._session.scalar(query)
        return None if peak is None else float(peak)

    def since(self, run_id: int, start: datetime) -> list[EquitySnapshotRow]:
        """The run's snapshots from ``start`` on, in time order."""
        query = sa.select(EquitySnapshotRow).where(
            EquitySnapshotRow.run_id == run_id, EquitySnapshotRow.timestamp >= start
        )
        return list(self._session.scalars(query.order_by(EquitySnapshotRow.timestamp)))

    def series(self, run_id: int) -> list[EquitySnapshotRow]:
        """The run's snapshots in time order."""
        query = sa.select(EquitySnapshotRow).where(EquitySnapshotRow.run_id == run_id)
        return list(self._session.scalars(query.order_by(EquitySnapshotRow.timestamp)))


class ReceivedBarRepository(Repository):
    """The bars live and paper runs received, each with how far the run's order records had got by then."""

    def add(self, run_id: int, bar: Bar) -> ReceivedBarRow:
        """Record ``bar`` as received by run ``run_id`` now, with the run's order count and newest event id."""
        orders = sa.select(sa.func.count()).select_from(OrderRow).where(OrderRow.run_id == run_id)
        events = (
            sa.select(sa.func.coalesce(sa.func.max(OrderEventRow.id), 0))
            .join(OrderRow, OrderEventRow.order_id == OrderRow.id)
            .where(OrderRow.run_id == run_id)
        )
        row = ReceivedBarRow(
            run_id=run_id,
            symbol=bar.symbol.upper(),
            timestamp=bar.timestamp,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
            orders_seen=self._session.scalar(orders),
            events_seen=self._session.scalar(events),
        )
        self._add(row, f"{bar.symbol} bar at {bar.timestamp} received by run {run_id}")
        return row

    def series(self, run_id: int, symbol: str | None = None) -> list[ReceivedBarRow]:
        """The run's received bars in time order (of one symbol if given)."""
        query = sa.select(ReceivedBarRow).where(ReceivedBarRow.run_id == run_id)
        if symbol is not None:
            query = query.where(ReceivedBarRow.symbol == symbol.upper())
        return list(self._session.scalars(query.order_by(ReceivedBarRow.timestamp, ReceivedBarRow.symbol)))


class RiskEventRepository(Repository):
    """The risk manager's decisions per run."""

    def add(self, run_id: int, event: RiskEvent) -> None:
        """Record ``event`` of run ``run_id``."""
        row = RiskEventRow(
            run_id=run_id,
            timestamp=event.timestamp,
            symbol=event.symbol,
            decision=event.decision,
            rule=event.rule,
            details=event.details,
        )
        self._add(row, f"risk event {event.decision} {event.rule} of run {run_id}")

    def find(self, run_id: int, *, decision: str | None = None) -> list[RiskEvent]:
        """The run's risk events in time order (with one ``decision`` if given)."""
        query = sa.select(RiskEventRow).where(RiskEventRow.run_id == run_id)
        if decision is not None:
            query = query.where(RiskEventRow.decision == str(decision))
        rows = self._session.scalars(query.order_by(RiskEventRow.timestamp, RiskEventRow.id))
        return [RiskEvent(row.timestamp, row.symbol, row.decision, row.rule, row.details) for row in rows]


class RunRepository(Repository):
    """Backtests, sweeps, walk-forwards and live sessions, with what is needed to reproduce them."""

    def start(
        self,
        kind: RunKind | str,
        strategy: str,
        *,
        params: Mapping[str, Any] | None = None,
        started_at: datetime | None = None,
        user_id: int | None = None,
        config: Mapping[str, Any] | None = None,
        code_version: str | None = None,
        strategy_source_hash: str | None = None,
        data_source: str | None = None,
        data_hash: str | None = None,
        costs: Mapping[str, Any] | None = None,
    ) -> RunRow:
        """Record a run that starts now (or at ``started_at``) and return its row (``.id`` is the run id)."""
        row = RunRow(
            kind=kind,
            strategy=strategy,
            params=dict(params or {}),
            started_at=started_at or utcnow(),
            user_id=user_id,
            config=dict(config or {}),
            code_version=code_version,
            strategy_source_hash=strategy_source_hash,
            data_source=data_source,
            data_hash=data_hash,
            costs=dict(costs or {}),
        )
        self._add(row, f"{kind} run of {strategy}")
        return row

    def finish(
        self,
        run_id: int,
        *,
        metrics: Mapping[str, Any] | None = None,
        error: str | None = None,
        finished_at: datetime | None = None,
    ) -> RunRow:
        """Mark the run finished (or failed, when ``error`` is given) now or at ``finished_at``."""
        values = {
            "status": RunStatus.FAILED if error is not None else RunStatus.FINISHED,
            "finished_at": finished_at or utcnow(),
            "metrics": None if metrics is None else dict(metrics),
            "error": error,
        }
        return self._update(self._row(run_id), values, f"run {run_id}")

    def set_costs(self, run_id: int, costs: Mapping[str, Any]) -> RunRow:
        """Replace the run's costs (cash, fees, slippage, fill, fixed_fee, risk rules)."""
        return self._update(self._row(run_id), {"costs": dict(costs)}, f"run {run_id}")

    def get(self, run_id: int) -> RunRow | None:
        """The run ``run_id``, or None."""
        return self._session.get(RunRow, run_id)

    def find(
        self, *, kind: RunKind | str | None = None, strategy: str | None = None, limit: int | None = 50
    ) -> list[RunRow]:
        """Runs matching the filters given, newest first, at most ``limit``."""
        query = sa.select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(RunRow.kind == str(kind))
        if strategy is not None:
            query = query.where(RunRow.strategy == strategy)
        return list(self._session.scalars(query))

    def _row(self, run_id: int) -> RunRow:
        row = self._session.get(RunRow, run_id)
        if row is None:
            raise StoreError(f"run {run_id} is not stored")
        return row


class StrategyRepository(Repository):
    """The strategies the live side knows, with their switches: enabled, mode, halted."""

    def add(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        mode: StrategyMode | str = StrategyMode.RESEARCH,
        enabled: bool = False,
    ) -> StrategyRow:
        """Register strategy ``name`` (names are unique)."""
        row = StrategyRow(name=name, params=dict(params or {}), mode=mode, enabled=enabled)
        self._add(row, f"strategy {name!r}")
        return row

    def get(self, name: str) -> StrategyRow | None:
        """The strategy called ``name``, or None."""
        return self._session.scalars(sa.select(StrategyRow).where(StrategyRow.name == name)).one_or_none()

    def find(self) -> list[StrategyRow]:
        """Every strategy, by name."""
        return list(self._session.scalars(sa.select(StrategyRow).order_by(StrategyRow.name)))

    def enabled(self, *, include_halted: bool = False) -> list[StrategyRow]:
        """The strategies switched on, by name; halted ones only with ``include_halted``."""
        query = sa.select(StrategyRow).where(StrategyRow.enabled.is_(True)).order_by(StrategyRow.name)
        if not include_halted:
            query = query.where(StrategyRow.halted.is_(False))
        return list(self._session.scalars(query))

    def update(self, name: str, **values: Any) -> StrategyRow:
        """Change columns of strategy ``name`` (``enabled``, ``mode``, ``params``, ...), validated."""
        return self._update(self._row(name), values, f"strategy {name!r}")

    def halt(self, name: str, reason: str) -> StrategyRow:
        """Stop strategy ``name`` from trading (the kill switch) and say why."""
        return self.update(name, halted=True, halted_reason=reason)

    def resume(self, name: str) -> StrategyRow:
        """Lift the halt of strategy ``name``."""
        return self.update(name, halted=False, halted_reason=None)

    def _row(self, name: str) -> StrategyRow:
        row = self.get(name)
        if row is None:
            known = ", ".join(s.name for s in self.find()) or "none"
            raise StoreError(f"strategy {name!r} is not stored (stored: {known})")
        return row


def _fields(obj: Order | Fill) -> dict[str, Any]:
    """The fields of a domain order or fill, as they are (``to_dict`` would turn datetimes into text)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _order(row: OrderRow) -> Order:
    return Order.from_dict({name: getattr(row, name) for name in _ORDER_FIELDS})


def _event(row: OrderEventRow, client_order_id: str, fill: FillRow | None) -> OrderEvent:
    """The domain event of a stored event row, with its order's ``client_order_id`` and its fill (if any)."""
    return OrderEvent(
        order_id=row.order_id,
        client_order_id=client_order_id,
        kind=row.kind,
        timestamp=row.timestamp,
        fill=None if fill is None else _fill(fill, client_order_id),
        reason=row.reason,
    )


def _fill(row: FillRow, client_order_id: str) -> Fill:
    return Fill(
        fill_id=row.id,
        order_id=row.order_id,
        client_order_id=client_order_id,
        symbol=row.symbol,
        side=row.side,
        qty=row.qty,
        price=row.price,
        fee=row.fee,
        timestamp=row.timestamp,
        liquidity=row.liquidity,
        venue=row.venue,
    )


def _position(row: PositionRow) -> PositionState:
    return PositionState(row.symbol, row.qty, row.avg_price, row.realized_pnl, row.fees)
