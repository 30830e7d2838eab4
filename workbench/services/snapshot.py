"""What the store says of the live side, the one answer every front end gives: `positions` and `orders` of recorded
runs (the API's account, a session's), and ``read_snapshot``, everything the dashboard shows, read in one
read-only unit of work.

The live side is the runs a session trades now: ``running`` in the run states (a session holds the run's lease and
its heartbeat is fresh, `workbench.services.runs`); a run whose session stopped, finished, halted or crashed is not
live, so its last account is not added to the live one and its positions are not shown beside the live runs'. Of
those runs it reads the open positions (each priced at the run's last mark, or at its last fill when a fill came
after that mark), the newest orders, fills and risk events, and the recent marks (cash and equity at each bar's
close). `fingerprint` is one cheap query that changes whenever any of that changes, so a poller reads the rest
only when something happened.

>>> from workbench.store import Store
>>> snap = read_snapshot(Store.open("sqlite://"))
>>> len(snap.orders), list(snap.positions.columns)[:3]
(0, ['run_id', 'strategy', 'symbol'])
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from typing import Any

import pandas as pd
import sqlalchemy as sa

from workbench.orders.model import OPEN_STATUSES, Order
from workbench.store.database import Store
from workbench.store.models_requests import OrderRequestRow
from workbench.store.models_runs import RunState, RunStateRow, state_of
from workbench.store.models_trading import (
    EquitySnapshotRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    PositionRow,
    RiskEventRow,
    RunKind,
    RunRow,
    StrategyRow,
)
from workbench.store.unit_of_work import UnitOfWork

#: How many of the newest orders, fills and risk events are read.
ROWS = 500
#: How many of the newest marks of each run are read (the equity curve).
MARKS = 2_000

STRATEGY_COLUMNS = [
    "name", "mode", "enabled", "halted", "halted_reason", "params", "sessions", "updated_at",
    "last_signal", "last_signal_at", "last_run_id", "last_run_kind", "last_run_status", "last_run_at",
]  # fmt: skip
RUN_COLUMNS = ["run_id", "strategy", "symbol", "broker", "started_at", "start_cash", "last_mark", "cash", "equity"]
POSITION_COLUMNS = [
    "run_id", "strategy", "symbol", "qty", "avg_price", "price", "market_value", "unrealized_pnl", "realized_pnl",
    "fees", "priced_at",
]  # fmt: skip
ORDER_COLUMNS = [
    "id", "run_id", "strategy", "symbol", "side", "type", "qty", "filled_qty", "limit_price", "stop_price",
    "avg_fill_price", "status", "open", "created_at", "updated_at", "reject_reason",
]  # fmt: skip
FILL_COLUMNS = ["id", "order_id", "run_id", "strategy", "symbol", "side", "qty", "price", "fee", "timestamp"]
MARK_COLUMNS = ["run_id", "timestamp", "cash", "equity"]
RISK_COLUMNS = ["timestamp", "run_id", "strategy", "symbol", "decision", "rule", "details"]
_OPEN = sorted(str(s) for s in OPEN_STATUSES)


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The store as the dashboard shows it at ``taken_at`` (every table a DataFrame, newest rows first).

    ``runs`` are the live runs (those a session trades now); ``strategies`` show the parameters of their running
    sessions (``sessions`` of them; the registered ones when none runs); ``day_open`` is each run's equity before
    the UTC day of its last mark (its starting cash when it started that day), what the day's P&L counts from;
    ``saved_runs`` is `wb.runs()`.
    """

    taken_at: datetime
    strategies: pd.DataFrame = field(default_factory=lambda: _frame([], STRATEGY_COLUMNS))
    runs: pd.DataFrame = field(default_factory=lambda: _frame([], RUN_COLUMNS))
    positions: pd.DataFrame = field(default_factory=lambda: _frame([], POSITION_COLUMNS))
    orders: pd.DataFrame = field(default_factory=lambda: _frame([], ORDER_COLUMNS))
    fills: pd.DataFrame = field(default_factory=lambda: _frame([], FILL_COLUMNS))
    marks: pd.DataFrame = field(default_factory=lambda: _frame([], MARK_COLUMNS))
    day_open: dict[int, float] = field(default_factory=dict)
    risk_events: pd.DataFrame = field(default_factory=lambda: _frame([], RISK_COLUMNS))
    saved_runs: pd.DataFrame = field(default_factory=pd.DataFrame)


def fingerprint(store: Store, *, now: datetime | None = None) -> tuple[Any, ...]:
    """A tuple that changes whenever an order, order event, fill, mark, risk event, strategy switch, run or cancel
    request (made or handled) is written, a session takes or ends a run, or (at ``now``, the wall clock by default)
    a session's heartbeat is found lost: one query, whatever the size of the tables. A request a session answers
    without canceling (the order had filled) writes nothing else, yet its tab waits to show the outcome."""
    now = now or datetime.now(UTC)

    def scalar(expr: Any, table: Any) -> Any:
        return sa.select(expr).select_from(table).scalar_subquery()

    query = sa.select(
        scalar(sa.func.count(), OrderRow),
        scalar(sa.func.max(OrderEventRow.id), OrderEventRow),
        scalar(sa.func.count(), FillRow),
        scalar(sa.func.max(EquitySnapshotRow.id), EquitySnapshotRow),
        scalar(sa.func.max(RiskEventRow.id), RiskEventRow),
        scalar(sa.func.count(), StrategyRow),
        scalar(sa.func.max(StrategyRow.updated_at), StrategyRow),
        scalar(sa.func.max(RunRow.id), RunRow),
        scalar(sa.func.max(RunRow.finished_at), RunRow),
        scalar(sa.func.max(OrderRequestRow.id), OrderRequestRow),
        scalar(sa.func.max(OrderRequestRow.handled_at), OrderRequestRow),
        scalar(sa.func.max(RunStateRow.since), RunStateRow),
        scalar(sa.func.max(RunStateRow.ended_at), RunStateRow),
        sa.select(sa.func.count())
        .select_from(RunStateRow)
        .where(RunStateRow.state == RunState.RUNNING.value, RunStateRow.expires_at <= now)
        .scalar_subquery(),
    )
    with store.unit_of_work(readonly=True) as uow:
        return tuple(uow.session.execute(query).one())


def positions(store: Store, run_ids: list[int]) -> pd.DataFrame:
    """The open positions of runs ``run_ids``, priced at each run's last mark, or at its last fill after it (the
    columns `POSITION_COLUMNS`, by run and symbol): what the dashboard and the API both show."""
    with store.unit_of_work(readonly=True) as uow:
        runs = [row for row in (uow.runs.get(i) for i in run_ids) if row is not None]
        return _positions(uow, runs, _runs_frame(runs, _last_marks(uow, [r.id for r in runs])))


def orders(store: Store, run_id: int, *, open_only: bool = False) -> list[Order]:
    """The orders of run ``run_id`` (strategy and manual; only the working ones with ``open_only``), newest first."""
    with store.unit_of_work(readonly=True) as uow:
        found = uow.orders.open(run_id) if open_only else uow.orders.find(run_id=run_id)
    return found[::-1]


def order(store: Store, run_id: int, order_id: str) -> Order | None:
    """Order ``order_id`` of run ``run_id`` as the store has it, or None when the run placed no such order."""
    with store.unit_of_work(readonly=True) as uow:
        row = uow.session.get(OrderRow, order_id)
        return uow.orders.get(order_id) if row is not None and row.run_id == run_id else None


def read_snapshot(store: Store, *, now: datetime | None = None) -> Snapshot:
    """Read everything the dashboard shows (see the module docstring): the live side in one consistent read,
    then the saved runs (`wb.runs()`)."""
    from workbench.services.runs import saved as saved_runs

    now = now or datetime.now(UTC)
    with store.unit_of_work(readonly=True) as uow:
        live = _current_live_runs(uow, now)
        ids = [row.id for row in live]
        owners = {row.id: row.strategy for row in live}
        marks = _marks(uow, ids)
        orders = _orders(uow, owners)
        fills = _fills(uow, owners)
        runs = _runs_frame(live, marks)
        snapshot = Snapshot(
            taken_at=now,
            strategies=_strategies(uow, orders, live, now),
            runs=runs,
            positions=_positions(uow, live, runs),
            orders=orders,
            fills=fills,
            marks=marks,
            day_open=_day_open(uow, live, marks),
            risk_events=_risk_events(uow, ids),
        )
    return replace(snapshot, saved_runs=saved_runs(store, limit=200))


def _current_live_runs(uow: UnitOfWork, now: datetime) -> list[RunRow]:
    """The runs a session trades at ``now`` (running, its heartbeat fresh), newest first."""
    running = [r.run_id for r in uow.run_states.running() if state_of(r, now) is RunState.RUNNING]
    rows = [row for row in (uow.runs.get(i) for i in running) if row is not None and row.kind == RunKind.LIVE]
    return sorted(rows, key=lambda row: (row.started_at, row.id), reverse=True)


def _marks(uow: UnitOfWork, ids: list[int]) -> pd.DataFrame:
    rows = []
    for run_id in ids:
        query = (
            sa.select(EquitySnapshotRow)
            .where(EquitySnapshotRow.run_id == run_id)
            .order_by(EquitySnapshotRow.timestamp.desc())
            .limit(MARKS)
        )
        for mark in uow.session.scalars(query):
            rows.append({"run_id": run_id, "timestamp": mark.timestamp, "cash": mark.cash, "equity": mark.equity})
    frame = _frame(rows, MARK_COLUMNS)
    return frame.sort_values(["run_id", "timestamp"], ignore_index=True) if len(frame) else frame


def _last_marks(uow: UnitOfWork, ids: list[int]) -> pd.DataFrame:
    """The newest mark of each run of ``ids`` (the columns `MARK_COLUMNS`)."""
    rows = []
    for run_id in ids:
        query = sa.select(EquitySnapshotRow).where(EquitySnapshotRow.run_id == run_id)
        mark = uow.session.scalars(query.order_by(EquitySnapshotRow.timestamp.desc()).limit(1)).first()
        if mark is not None:
            rows.append({"run_id": run_id, "timestamp": mark.timestamp, "cash": mark.cash, "equity": mark.equity})
    return _frame(rows, MARK_COLUMNS)


def _runs_frame(live: list[RunRow], marks: pd.DataFrame) -> pd.DataFrame:
    last = marks.groupby("run_id").tail(1).set_index("run_id") if len(marks) else pd.DataFrame()
    rows = []
    for row in live:
        config = row.config or {}
        mark = last.loc[row.id] if row.id in last.index else None
        rows.append(
            {
                "run_id": row.id,
                "strategy": row.strategy,
                "symbol": config.get("symbol"),
                "broker": config.get("broker", "sim"),
                "started_at": row.started_at,
                "start_cash": float(config.get("cash", float("nan"))),
                "last_mark": None if mark is None else mark["timestamp"],
                "cash": float(config.get("cash", float("nan"))) if mark is None else float(mark["cash"]),
                "equity": float(config.get("cash", float("nan"))) if mark is None else float(mark["equity"]),
            }
        )
    return _frame(rows, RUN_COLUMNS)


def _positions(uow: UnitOfWork, live: list[RunRow], runs: pd.DataFrame) -> pd.DataFrame:
    """Open positions of the watched runs, priced at the run's last mark, or at the last fill after it."""
    by_run = runs.set_index("run_id")
    rows = []
    for run in live:
        query = sa.select(PositionRow).where(PositionRow.run_id == run.id, PositionRow.qty != 0.0)
        for p in uow.session.scalars(query.order_by(PositionRow.symbol)):
            last_fill = uow.session.execute(
                sa.select(FillRow.price, FillRow.timestamp)
                .where(FillRow.run_id == run.id, FillRow.symbol == p.symbol)
                .order_by(FillRow.timestamp.desc())
                .limit(1)
            ).one_or_none()
            info = by_run.loc[run.id]
            price, priced_at = (p.avg_price, None) if last_fill is None else (last_fill.price, last_fill.timestamp)
            single = info["symbol"] == p.symbol  # a live run trades one symbol: equity - cash is its value
            if single and info["last_mark"] is not None and (priced_at is None or info["last_mark"] >= priced_at):
                price, priced_at = (info["equity"] - info["cash"]) / p.qty, info["last_mark"]
            rows.append(
                {
                    "run_id": run.id,
                    "strategy": run.strategy,
                    "symbol": p.symbol,
                    "qty": p.qty,
                    "avg_price": p.avg_price,
                    "price": price,
                    "market_value": p.qty * price,
                    "unrealized_pnl": (price - p.avg_price) * p.qty,
                    "realized_pnl": p.realized_pnl,
                    "fees": p.fees,
                    "priced_at": priced_at,
                }
            )
    return _frame(rows, POSITION_COLUMNS)


def _orders(uow: UnitOfWork, owners: dict[int, str]) -> pd.DataFrame:
    """The newest orders of the watched runs, and every open one of them however old; an order placed by hand
    in a run counts as its strategy's."""
    ids = list(owners)
    recent = sa.select(OrderRow).where(OrderRow.run_id.in_(ids)).order_by(OrderRow.created_at.desc()).limit(ROWS)
    working = sa.select(OrderRow).where(OrderRow.run_id.in_(ids), OrderRow.status.in_(_OPEN))
    found = {row.id: row for query in (recent, working) for row in uow.session.scalars(query)}
    rows = [
        {
            **{c: getattr(row, c) for c in ORDER_COLUMNS if c != "open"},
            "strategy": row.strategy or owners[row.run_id],
            "open": row.status in _OPEN,
        }
        for row in found.values()
    ]
    frame = _frame(rows, ORDER_COLUMNS)
    return frame.sort_values(["created_at", "id"], ascending=False, ignore_index=True) if len(frame) else frame


def _fills(uow: UnitOfWork, owners: dict[int, str]) -> pd.DataFrame:
    query = (
        sa.select(FillRow, OrderRow.strategy)
        .join(OrderRow, FillRow.order_id == OrderRow.id)
        .where(FillRow.run_id.in_(list(owners)))
        .order_by(FillRow.timestamp.desc(), FillRow.id.desc())
        .limit(ROWS)
    )
    rows = [
        {**{c: getattr(fill, c) for c in FILL_COLUMNS if c != "strategy"}, "strategy": strategy or owners[fill.run_id]}
        for fill, strategy in uow.session.execute(query)
    ]
    return _frame(rows, FILL_COLUMNS)


def _risk_events(uow: UnitOfWork, ids: list[int]) -> pd.DataFrame:
    query = (
        sa.select(RiskEventRow, RunRow.strategy)
        .join(RunRow, RiskEventRow.run_id == RunRow.id)
        .where(RiskEventRow.run_id.in_(ids))
        .order_by(RiskEventRow.timestamp.desc(), RiskEventRow.id.desc())
        .limit(ROWS)
    )
    rows = [
        {
            "timestamp": event.timestamp,
            "run_id": event.run_id,
            "strategy": strategy,
            "symbol": event.symbol,
            "decision": event.decision,
            "rule": event.rule,
            "details": ", ".join(f"{k}={v}" for k, v in (event.details or {}).items()),
        }
        for event, strategy in uow.session.execute(query)
    ]
    return _frame(rows, RISK_COLUMNS)


def _day_open(uow: UnitOfWork, live: list[RunRow], marks: pd.DataFrame) -> dict[int, float]:
    """Each run's equity before the UTC day of its last mark: its last mark of an earlier day, else its starting
    cash (the run started that day)."""
    out = {}
    for run in live:
        mine = marks[marks["run_id"] == run.id]
        if not len(mine):
            continue
        midnight = datetime.combine(mine["timestamp"].iloc[-1].date(), time(), tzinfo=UTC)
        before = uow.session.scalar(
            sa.select(EquitySnapshotRow.equity)
            .where(EquitySnapshotRow.run_id == run.id, EquitySnapshotRow.timestamp < midnight)
            .order_by(EquitySnapshotRow.timestamp.desc())
            .limit(1)
        )
        out[run.id] = float((run.config or {}).get("cash", mine["equity"].iloc[0]) if before is None else before)
    return out


def _strategies(uow: UnitOfWork, orders: pd.DataFrame, live: list[RunRow], now: datetime) -> pd.DataFrame:
    """Every strategy with its switches, the parameters of its running sessions (the newest's; the registered ones
    when none runs) and how many run, its last signal (the newest order it placed) and its last run (a live run's
    status is its state)."""
    last_runs: dict[str, RunRow] = {}
    for row in uow.runs.find(limit=ROWS):
        last_runs.setdefault(row.strategy, row)
    running: dict[str, list[RunRow]] = {}
    for row in live:  # newest first
        running.setdefault(row.strategy, []).append(row)
    stored = uow.run_states.of_runs(r.id for r in last_runs.values() if r.kind == RunKind.LIVE)
    newest = orders.drop_duplicates("strategy") if len(orders) else orders
    signals = {o["strategy"]: o for o in newest.to_dict("records")}
    rows = []
    for row in uow.strategies.find():
        signal, run, sessions = signals.get(row.name), last_runs.get(row.name), running.get(row.name, [])
        status = None if run is None else run.status
        if run is not None and run.kind == RunKind.LIVE:
            status = state_of(stored.get(run.id), now).value
        rows.append(
            {
                **{c: getattr(row, c) for c in ("name", "mode", "enabled", "halted", "halted_reason", "updated_at")},
                "params": dict((sessions[0].params if sessions else row.params) or {}),
                "sessions": len(sessions),
                "last_signal": None if signal is None else f"{signal['side']} {signal['qty']:g} {signal['symbol']}",
                "last_signal_at": None if signal is None else signal["created_at"],
                "last_run_id": None if run is None else run.id,
                "last_run_kind": None if run is None else run.kind,
                "last_run_status": status,
                "last_run_at": None if run is None else run.started_at,
            }
        )
    return _frame(rows, STRATEGY_COLUMNS)
