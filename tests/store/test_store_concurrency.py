"""Concurrent use: a writer process records a fixed number of fills while another writer (a thread) appends audit
entries and a reader polls until the writer is done. Every read sees whole units of work, nothing is lost or
corrupted, and no unit of work blocks past a generous deadline (the waits seen are printed). Nothing here counts
operations in a time window: a loaded machine only makes it slower."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from workbench.orders.model import Fill, Order
from workbench.store import Store
from workbench.store.models import AuditRow, EquitySnapshotRow, FillRow

pytest_plugins = ["store_fixtures"]

WRITES = 25  # units of work the writer process records
AT_LEAST = 3  # reads and audit writes each party makes, at the least, while the writer works
MAX_WAIT = 30.0  # seconds any one unit of work may take: a lock that never frees, not a slow machine
DEADLINE = 300.0  # seconds the whole exchange may take


def _trade_writer(url: str, run_id: int, writes: int, results) -> None:
    """In its own process: ``writes`` units of work, one per trade (order, fill, position, equity), at full speed."""
    try:
        store = Store.open(url, upgrade=False)
        base, waits, n = datetime(2024, 1, 1, tzinfo=UTC), [], 0
        results.put("ready")
        while n < writes:
            at = base + timedelta(seconds=n)
            order = Order(symbol="SPY", side="buy", qty=1, created_at=at)
            order.transition("accepted", at)
            fill = Fill.for_order(order, qty=1, price=100.0 + n % 7, timestamp=at)
            order.apply_fill(fill)
            began = time.perf_counter()
            with store.unit_of_work() as uow:
                uow.orders.add(order, run_id=run_id)
                uow.fills.add(fill)
                position = uow.positions.apply_fill(run_id, fill)
                uow.equity.add(run_id, at, cash=-position.qty * 100.0, equity=0.0)
            waits.append(time.perf_counter() - began)
            n += 1
        store.close()
        results.put({"writes": n, "max_wait": max(waits)})
    except Exception as exc:  # reported to the test, which fails with it
        results.put({"error": repr(exc)})


def _open_and_add(url: str, name: str, ready, go, results) -> None:
    """In its own process (or thread): open (and so create or migrate) the database when told to, write a row."""
    try:
        ready.put(name)
        go.wait(timeout=120)
        with Store.open(url) as store, store.unit_of_work() as uow:
            uow.strategies.add(name)
        results.put("ok")
    except Exception as exc:
        results.put(repr(exc))


def test_processes_and_threads_opening_a_new_database_together_all_succeed(db_url: str) -> None:
    """A live session, the dashboard and the CLI may start at once on a new database: one of them migrates it,
    the others wait for it (SQLite's write lock or a PostgreSQL advisory lock; a lock between threads)."""
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Queue(), context.Event(), context.Queue()
    processes = [context.Process(target=_open_and_add, args=(db_url, f"p{i}", ready, go, results)) for i in range(3)]
    for process in processes:
        process.start()
    with ThreadPoolExecutor(3) as pool:
        for i in range(3):
            pool.submit(_open_and_add, db_url, f"t{i}", ready, go, results)
        for _ in range(6):
            ready.get(timeout=120)
        go.set()
    outcomes = [results.get(timeout=120) for _ in range(6)]
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["ok"] * 6
    with Store.open(db_url) as store, store.unit_of_work(readonly=True) as uow:
        assert sorted(s.name for s in uow.strategies.find()) == ["p0", "p1", "p2", "t0", "t1", "t2"]


def _loop_until(done: threading.Event, step, waits: list[float], errors: list[BaseException]) -> None:
    """Run ``step`` until ``done`` is set and it ran ``AT_LEAST`` times, timing each run."""
    try:
        while not done.is_set() or len(waits) < AT_LEAST:
            began = time.perf_counter()
            step()
            waits.append(time.perf_counter() - began)
    except BaseException as exc:
        errors.append(exc)


def test_writers_and_a_reader_neither_corrupt_nor_block(store: Store, db_url: str) -> None:
    with store.unit_of_work() as uow:
        run_id = uow.runs.start("live", "sma_cross").id
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    writer = context.Process(target=_trade_writer, args=(db_url, run_id, WRITES, results))
    writer.start()
    assert results.get(timeout=120) == "ready"

    seen: list[int] = []

    def read() -> None:
        with store.unit_of_work(readonly=True) as uow:
            count = sa.select(sa.func.count()).select_from(FillRow).where(FillRow.run_id == run_id)
            fills = uow.session.scalar(count)
            count = sa.select(sa.func.count()).select_from(EquitySnapshotRow).where(EquitySnapshotRow.run_id == run_id)
            snapshots = uow.session.scalar(count)
            position = uow.positions.get(run_id, "SPY")
        assert fills == snapshots == (position.qty if position else 0), "a read saw half a unit of work"
        assert not seen or fills >= seen[-1]
        seen.append(fills)

    audits = iter(range(1_000_000))

    def audit() -> None:
        with store.unit_of_work() as uow:
            uow.audit.add("tester", "poke", str(next(audits)))

    read_waits: list[float] = []
    audit_waits: list[float] = []
    errors: list[BaseException] = []
    done = threading.Event()
    threads = [
        threading.Thread(target=_loop_until, args=(done, read, read_waits, errors)),
        threading.Thread(target=_loop_until, args=(done, audit, audit_waits, errors)),
    ]
    for thread in threads:
        thread.start()
    report = results.get(timeout=DEADLINE)  # the writer is done (or failed)
    done.set()
    for thread in threads:
        thread.join(timeout=DEADLINE)
    writer.join(timeout=60)
    read()  # once more: every write is seen

    assert not errors, errors
    assert "error" not in report, report["error"]
    backend = store.engine.dialect.name
    print(
        f"\n{backend}: {report['writes']} trade units of work (max {report['max_wait']:.3f} s), "
        f"{len(audit_waits)} audit writes (max {max(audit_waits):.3f} s), "
        f"{len(read_waits)} reads (max {max(read_waits):.3f} s)"
    )
    assert not any(thread.is_alive() for thread in threads), "a reader or writer thread is stuck"
    assert report["writes"] == WRITES and len(audit_waits) >= AT_LEAST and len(read_waits) >= AT_LEAST
    assert max(report["max_wait"], max(audit_waits), max(read_waits)) < MAX_WAIT
    assert seen[-1] == WRITES, "the reader saw every write"
    with store.unit_of_work(readonly=True) as uow:
        assert uow.positions.get(run_id, "SPY").qty == report["writes"] == len(uow.fills.find(run_id=run_id))
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(AuditRow)) == len(audit_waits)
        if backend == "sqlite":
            assert uow.session.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
