"""Saved runs: record a finished backtest or sweep in the store, list and show them, and run them again.

A saved run keeps its whole ``RunSpec`` (parameters or exact grid, strategy source hash, package version, data
origin and a hash of the exact bars, costs, fill and risk settings) next to its metrics; a backtest also keeps
its orders, fills, risk events and a daily equity curve. Without a ``store`` every function
uses the configured database; ``workbench.ops.rerun.rerun_run`` runs a saved run again.

>>> import workbench as wb
>>> from workbench.provenance.saved import runs, save_run
>>> run_id = save_run(wb.backtest("sma_cross", wb.load("SPY", start="2020-01-01")))  # doctest: +SKIP
>>> runs()  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, Protocol

import numpy as np
import pandas as pd
import sqlalchemy as sa

from workbench.provenance.spec import RunSpec, metrics_hash
from workbench.store import Store, StoreError
from workbench.store.models_trading import OrderRow, RunRow
from workbench.store.types import utcnow
from workbench.store.unit_of_work import UnitOfWork


class Result(Protocol):
    """What a result gives to be saved: its ``spec``; a backtest its ``metrics`` (a Series), records, ``equity`` and
    ``holdings_value`` (the positions' market value per bar); a sweep its ``metrics`` table, ``metric``, ``best``
    and whether it is ``complete``."""

    spec: RunSpec
    metrics: Any


#: Backtest metrics shown by ``runs()`` (every metric is saved).
HEADLINE = ("total_return", "sharpe", "max_drawdown", "trades")
#: How many of a sweep's best rows are kept with its metrics.
BEST_ROWS = 10
#: Relative tolerance of a reproduced backtest metric.
REL_TOL = 1e-12

_SPEC_FIELDS = frozenset(f.name for f in fields(RunSpec))
_COLUMNS = ["id", "kind", "strategy", "name", "params", "symbols", "data_source", "started_at", "status"]


def save_run(result: Result, store: Store | None = None, *, name: str | None = None) -> int:
    """Record a finished backtest, portfolio backtest or sweep in one transaction and return its run id.

    A backtest's orders, fills and risk events are saved with it, and its equity curve as at most one snapshot
    per calendar day (UTC; the day's last bar), so a million-minute-bar run writes thousands of rows, not
    millions. A sweep keeps its metric, size, a hash of its whole table and its best rows. Both times of the
    run are the save time (results carry no wall-clock times).

    Examples
    --------
    >>> bt = wb.backtest("sma_cross", wb.load("SPY"))  # doctest: +SKIP
    >>> save_run(bt, name="baseline")  # doctest: +SKIP
    1
    """
    spec = result.spec
    if spec.kind == "sweep" and not result.complete:
        raise ValueError(f"this sweep was interrupted after {len(result.metrics)} runs: finish it to save it")
    now = utcnow()
    with opened_store(store) as opened, opened.unit_of_work() as uow:
        if spec.kind == "backtest":
            _refuse_saved_twice(uow, result)
        run = uow.runs.start(
            spec.kind,
            spec.strategy,
            params=spec.params["ranges"] if spec.kind == "sweep" else spec.params,  # the exact rows: in config
            started_at=now,
            config={**spec.to_dict(), "name": name},
            code_version=spec.code_version,
            strategy_source_hash=spec.strategy_hash,
            data_source=_data_source(spec),
            data_hash=spec.data_hash,
            costs={**spec.costs, "risk": spec.risk},
        )
        if spec.kind == "backtest":
            _save_records(uow, run.id, result)
        uow.runs.finish(run.id, metrics=result_metrics(result), finished_at=now)
        return run.id


def runs(
    store: Store | None = None, *, kind: str | None = None, strategy: str | None = None, limit: int | None = 50
) -> pd.DataFrame:
    """The saved runs, newest first, indexed by run id: what ran on which bars, the headline metrics of backtests
    (NaN for sweeps) and the best value of a sweep's ``metric`` (NaN for backtests).

    Examples
    --------
    >>> runs(kind="backtest", strategy="sma_cross")[["sharpe", "max_drawdown"]]  # doctest: +SKIP
    """
    with opened_store(store) as opened, opened.unit_of_work(readonly=True) as uow:
        rows = uow.runs.find(kind=kind, strategy=strategy, limit=limit)
    records = []
    for row in rows:
        config, metrics = row.config or {}, row.metrics or {}
        top = (metrics.get("best") or [{}])[0]
        records.append(
            {
                **{c: getattr(row, c) for c in ("id", "kind", "strategy", "params", "data_source", "status")},
                "name": config.get("name"),
                "symbols": config.get("symbols"),
                "started_at": pd.Timestamp(row.started_at),
                **{m: _number(metrics.get(m)) for m in HEADLINE},
                "metric": metrics.get("metric"),
                "best": _number(top.get(metrics.get("metric"))),
            }
        )
    return pd.DataFrame(records, columns=[*_COLUMNS, *HEADLINE, "metric", "best"]).set_index("id")


def show_run(run_id: int, store: Store | None = None) -> dict[str, Any]:
    """Everything saved of run ``run_id``: its columns, its ``spec`` (as ``RunSpec.to_dict()``), its ``orders``,
    ``fills`` and ``risk_events`` (domain objects) and ``equity`` (daily cash and equity, a DataFrame).

    Examples
    --------
    >>> show_run(1)["spec"]["params"]  # doctest: +SKIP
    {'fast': 10, 'slow': 50}
    """
    with opened_store(store) as opened, opened.unit_of_work(readonly=True) as uow:
        row = run_row(uow, run_id)
        snapshots = uow.equity.series(run_id)
        shown = {
            "id": row.id,
            "name": row.config.get("name"),
            **{c: getattr(row, c) for c in ("kind", "strategy", "status", "started_at", "finished_at", "params")},
            "spec": spec_dict(row),
            **{c: getattr(row, c) for c in ("code_version", "strategy_source_hash", "data_source", "data_hash")},
            **{c: getattr(row, c) for c in ("costs", "metrics", "error")},
            "orders": uow.orders.find(run_id=run_id),
            "fills": uow.fills.find(run_id=run_id),
            "risk_events": uow.risk_events.find(run_id),
        }
    index = pd.DatetimeIndex([s.timestamp for s in snapshots], tz="UTC", name="timestamp")
    shown["equity"] = pd.DataFrame(
        {"cash": [s.cash for s in snapshots], "equity": [s.equity for s in snapshots]}, index
    )
    return shown


@contextmanager
def opened_store(store: Store | None) -> Iterator[Store]:
    """``store``, or the configured database (created and migrated on first use), closed afterwards."""
    if store is not None:
        yield store
        return
    from workbench.config import load_settings

    with Store.open(load_settings()) as default:
        yield default


def run_row(uow: UnitOfWork, run_id: int) -> RunRow:
    row = uow.runs.get(run_id)
    if row is None:
        raise StoreError(f"run {run_id} is not stored")
    return row


def spec_dict(row: RunRow) -> dict[str, Any]:
    """The run's ``RunSpec.to_dict()``: its config without what ``save_run`` adds (the name)."""
    return {k: v for k, v in row.config.items() if k in _SPEC_FIELDS}


def _refuse_saved_twice(uow: UnitOfWork, result: Result) -> None:
    """Order ids are unique: name the run that already holds this backtest's, rather than fail on a duplicate."""
    if not result.order_records:
        return
    saved = uow.session.scalar(sa.select(OrderRow.run_id).where(OrderRow.id == result.order_records[0].id))
    if saved is not None:
        raise StoreError(f"this backtest is already saved as run {saved}")


def _save_records(uow: UnitOfWork, run_id: int, result: Result) -> None:
    """A backtest's orders, fills, risk events and daily equity snapshots."""
    for order in result.order_records:
        uow.orders.add(order, run_id=run_id)
    for fill in result.fill_records:
        uow.fills.add(fill, run_id=run_id)
    for event in result.risk_events:
        uow.risk_events.add(run_id, event)
    equity = result.equity
    daily = ~equity.index.normalize().duplicated(keep="last")  # each calendar day's last bar
    cash = (equity - result.holdings_value)[daily]
    stamps = equity.index[daily].to_pydatetime()
    uow.equity.add_many(run_id, zip(stamps, cash.tolist(), equity[daily].tolist(), strict=True))


def result_metrics(result: Result) -> dict[str, Any]:
    """A backtest's metrics; a sweep's metric, size, table hash and best rows."""
    if result.spec.kind == "backtest":
        return {k: float(v) for k, v in result.metrics.items()}
    return {
        "metric": result.metric,
        "runs": len(result.metrics),
        "metrics_hash": metrics_hash(result.metrics),
        "best": result.best(BEST_ROWS).reset_index().to_dict("records"),
    }


def differences(saved: Mapping[str, Any], rerun: Mapping[str, Any]) -> list[str]:
    """``name: saved X, rerun Y`` for each number of a rerun (``rerun``) that differs from the ``saved`` one (a
    sweep's best rows follow from its hash)."""
    names = [k for k in rerun if k != "best"] + [k for k in saved if k not in rerun]
    return [
        f"{name}: saved {saved.get(name, 'nothing')!r}, rerun {rerun.get(name, 'nothing')!r}"
        for name in names
        if not _same(saved.get(name, "nothing"), rerun.get(name, "nothing"))
    ]


def _same(saved: Any, now: Any) -> bool:
    """Equal to ``REL_TOL``; the store saves NaN and infinity as null, so they equal None."""
    if isinstance(now, float) and not math.isfinite(now):
        now = None
    if isinstance(saved, int | float) and isinstance(now, int | float):
        return math.isclose(saved, now, rel_tol=REL_TOL, abs_tol=0.0)
    return saved == now


def _number(value: Any) -> float:
    return np.nan if value is None else float(value)


def _data_source(spec: RunSpec) -> str:
    """Where the bars came from, e.g. ``sample SPY 2015-01-01..``; ``memory`` when not made by ``wb.load``."""
    origin = spec.origin
    if origin is None:
        return "memory"
    where = origin["source"] if origin.get("path") is None else f"{origin['source']}:{origin['path']}"
    text = f"{where} {','.join(spec.symbols)} {(origin.get('start') or '')[:10]}..{(origin.get('end') or '')[:10]}"
    return text if len(text) <= 255 else text[:252] + "..."
