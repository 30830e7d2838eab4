"""Migrations: empty -> head -> base on SQLite and PostgreSQL, and no drift between the models and the head."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from workbench.config import load_settings
from workbench.store import Store, StoreError, create_store_engine
from workbench.store.migrate import MIGRATIONS, current_revision, downgrade, head_revision, upgrade
from workbench.store.models import metadata

pytest_plugins = ["store_fixtures"]

TABLES = {
    "users",
    "api_keys",
    "sessions",
    "strategies",
    "runs",
    "orders",
    "order_events",
    "fills",
    "positions",
    "position_snapshots",
    "equity_snapshots",
    "risk_events",
    "notifications",
    "audit_log",
    "promotions",
    "received_bars",
    "order_requests",
    "run_states",
}


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_to_head_and_down_to_base(db_url: str) -> None:
    engine = create_store_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert _tables(engine) == set()
        assert upgrade(engine) == head_revision() == "0007"
        assert _tables(engine) == TABLES == set(metadata.tables)
        assert upgrade(engine) == "0007"  # idempotent
        assert downgrade(engine, "base") is None
        assert _tables(engine) == set()
        assert upgrade(engine) == "0007"  # and back up again
    finally:
        engine.dispose()


def test_head_matches_the_models(db_url: str) -> None:
    """Columns, types, nullability, indexes, unique and foreign keys (Alembic's comparison), plus what it skips:
    CHECK constraint names and ON DELETE rules."""
    engine = create_store_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            inspector = sa.inspect(connection)
            for table in metadata.sorted_tables:
                checks = {c["name"] for c in inspector.get_check_constraints(table.name)}
                assert checks == {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}, table.name
                foreign = {
                    (tuple(fk["constrained_columns"]), fk["referred_table"], fk["options"].get("ondelete"))
                    for fk in inspector.get_foreign_keys(table.name)
                }
                assert foreign == {
                    ((fk.parent.name,), fk.column.table.name, fk.ondelete) for fk in table.foreign_keys
                }, table.name
    finally:
        engine.dispose()


def test_store_open_creates_and_migrates_the_default_database(tmp_path) -> None:
    settings = load_settings(overrides={"home": str(tmp_path / "home")}, env={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'home' / 'workbench.db'}"
    with Store.open(settings) as store:
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert (tmp_path / "home" / "workbench.db").is_file()


def test_a_database_from_a_newer_workbench_is_refused(db_url: str) -> None:
    with Store.open(db_url) as store, store.engine.begin() as connection:
        version = sa.table("alembic_version", sa.column("version_num"))
        connection.execute(sa.update(version).values(version_num="9999"))
    with pytest.raises(StoreError, match=r"cannot migrate .* to 'head': Can't locate revision identified by '9999'"):
        Store.open(db_url)


def test_an_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match=r"^cannot open database postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/db: "):
        Store.open("postgresql://u:pw@127.0.0.1:1/db")


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert (MIGRATIONS / "versions" / "0001_initial.py").is_file()


def test_postgresql_urls_use_psycopg_3() -> None:
    engine = create_store_engine("postgresql://trader:s3cret@db.example:5432/workbench")
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.dialect.driver == "psycopg"
    assert "s3cret" not in repr(Store(engine))


def test_upgrading_keeps_every_row_of_the_tables_that_refer_to_a_rebuilt_one(db_url: str) -> None:
    """Migration 0002 rebuilds ``runs`` on SQLite (batch mode): the rows that refer to runs must survive."""
    from datetime import UTC, datetime

    from workbench.orders.model import Fill, Order
    from workbench.store import Store
    from workbench.store.migrate import downgrade

    engine = create_store_engine(db_url)
    upgrade(engine, "0001")
    store = Store(engine)
    t0 = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)
    with store.unit_of_work() as uow:
        run_id = uow.runs.start("live", "sma_cross").id
        order = Order(symbol="SPY", side="buy", qty=2, created_at=t0)
        order.transition("accepted", t0)
        uow.orders.add(order, run_id=run_id)
        fill = Fill.for_order(order, qty=2, price=100.0, timestamp=t0)
        uow.fills.add(fill)
        uow.positions.apply_fill(run_id, fill)
        uow.equity.add(run_id, t0, cash=9_800.0, equity=10_000.0)
    upgrade(engine)
    with store.unit_of_work(readonly=True) as uow:
        assert [o.id for o in uow.orders.find(run_id=run_id)] == [order.id]
        assert len(uow.fills.find(run_id=run_id)) == 1 and uow.positions.get(run_id, "SPY").qty == 2.0
        assert uow.equity.latest(run_id).cash == 9_800.0
    downgrade(engine, "0001")  # and back down, again without losing them
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM equity_snapshots").scalar() == 1
    engine.dispose()


def test_0006_adds_run_states_beside_the_runs_recorded_before(db_url: str) -> None:
    """A database at 0005 with a live run goes up to 0006: the run is kept, it has no state yet (the faces read it
    as stopped), and a session's state can then be written; down to 0005 drops only the new table."""
    from datetime import UTC, datetime, timedelta

    engine = create_store_engine(db_url)
    upgrade(engine, "0005")
    store = Store(engine)
    with store.unit_of_work() as uow:
        run_id = uow.runs.start("live", "sma_cross", config={"symbol": "SPY", "cash": 10_000.0}).id
    assert upgrade(engine, "0006") == "0006"
    now = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    with store.unit_of_work() as uow:
        assert uow.runs.get(run_id).strategy == "sma_cross"
        assert uow.run_states.get(run_id) is None
        uow.run_states.take(run_id, host="h", pid=7, token="t", now=now, expires_at=now + timedelta(seconds=20))
    with store.unit_of_work(readonly=True) as uow:
        row = uow.run_states.get(run_id)
        assert (row.state, row.host, row.pid, row.since, row.expires_at) == (
            "running", "h", 7, now, now + timedelta(seconds=20)
        )  # fmt: skip
    assert downgrade(engine, "0005") == "0005"
    assert "run_states" not in _tables(engine) and "runs" in _tables(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM runs").scalar() == 1
    engine.dispose()
