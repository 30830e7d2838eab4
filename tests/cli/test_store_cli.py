"""`workbench db upgrade / current / backup`, run through a typer app that registers ``db_app`` the way
`workbench.cli` does (settings loaded by the root callback into ``ctx.obj``)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from workbench.cli.db import db_app
from workbench.config import load_settings
from workbench.store import Store, StoreError
from workbench.store.migrate import head_revision

pytest_plugins = ["store_fixtures"]

HEAD = head_revision()


def _app(db_url: str) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = load_settings(overrides={"db_url": db_url}, env={})

    app.add_typer(db_app, name="db")
    return app


def _invoke(db_url: str, *args: str):
    return CliRunner().invoke(_app(db_url), ["db", *args])


def test_upgrade_then_current(db_url: str) -> None:
    result = _invoke(db_url, "current")
    assert result.exit_code == 0, result.stdout
    assert "revision: none" in result.stdout
    result = _invoke(db_url, "upgrade")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.strip().endswith(f": upgraded from empty to {HEAD}")
    assert _invoke(db_url, "upgrade").stdout.strip().endswith(f": already at {HEAD}")
    result = _invoke(db_url, "current")
    assert result.stdout.splitlines()[1] == f"revision: {HEAD} (newest)"


def test_current_masks_the_password_and_creates_nothing(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        result = _invoke(db_url, "current")
        assert result.stdout.splitlines() == [
            f"url: {db_url}",
            "revision: none (no database file yet; `workbench db upgrade` creates it)",
        ]
        assert not (tmp_path / "workbench.db").exists()
        return
    with_password = db_url.replace("@", ":s3cret@", 1)  # trust auth: the password is not checked
    result = _invoke(with_password, "current")
    assert result.exit_code == 0, result.stdout
    assert "s3cret" not in result.stdout
    assert result.stdout.splitlines()[0] == f"url: {with_password.replace('s3cret', '***')}"


def test_backup_of_a_live_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    t0 = datetime(2024, 1, 2, tzinfo=UTC)
    with Store.open(url) as store:
        with store.unit_of_work() as uow:
            run_id = uow.runs.start("live", "sma_cross").id
            uow.strategies.add("sma_cross", enabled=True)
        started, stop = threading.Event(), threading.Event()

        def keep_writing() -> None:  # a session still trading while the backup runs
            for i in range(100_000):
                if stop.is_set():
                    return
                with store.unit_of_work() as uow:
                    uow.equity.add(run_id, t0 + timedelta(minutes=i), cash=float(i), equity=float(i))
                    uow.audit.add("session", "bar", str(i))
                started.set()

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            assert started.wait(timeout=30)
            result = _invoke(url, "backup", str(tmp_path / "copy.db"))
        finally:
            stop.set()
            writer.join()
        assert result.exit_code == 0, result.stdout
        assert f"backed up {url} to {tmp_path / 'copy.db'}" in result.stdout
        with store.unit_of_work(readonly=True) as uow:
            live_equity = len(uow.equity.series(run_id))

    with contextlib.closing(sqlite3.connect(tmp_path / "copy.db")) as plain:
        assert plain.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, no -wal beside it
        assert plain.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)
    with (
        Store.open(f"sqlite:///{tmp_path / 'copy.db'}", upgrade=False) as copy,
        copy.unit_of_work(readonly=True) as uow,
    ):
        assert [s.name for s in uow.strategies.enabled()] == ["sma_cross"]
        equity = uow.equity.series(run_id)
        assert 0 < len(uow.audit.find(limit=None)) == len(equity) <= live_equity  # whole units of work only


def test_backup_of_an_idle_database_has_the_same_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wb.db'}"
    with Store.open(url) as store, store.unit_of_work() as uow:
        uow.users.add("ada", "hash", role="admin")
        uow.runs.start("backtest", "rsi", params={"window": 14})
    target = tmp_path / "backups" / "wb.db"
    target.parent.mkdir()
    assert _invoke(url, "backup", str(target)).exit_code == 0
    with Store.open(f"sqlite:///{target}", upgrade=False) as copy, copy.unit_of_work(readonly=True) as uow:
        assert [u.username for u in uow.users.find()] == ["ada"]
        assert [(r.strategy, r.params) for r in uow.runs.find()] == [("rsi", {"window": 14})]
    refused = _invoke(url, "backup", str(target))
    assert isinstance(refused.exception, StoreError) and "already exists" in str(refused.exception)
    assert _invoke(url, "backup", str(target), "--overwrite").exit_code == 0


def test_backup_of_postgresql_points_to_pg_dump(pg_url: str, tmp_path: Path) -> None:
    result = _invoke(pg_url.replace("@", ":s3cret@", 1), "backup", str(tmp_path / "x.dump"))
    assert result.exit_code == 2
    assert "pg_dump --format=custom" in result.stderr and "s3cret" not in result.stderr
    assert not (tmp_path / "x.dump").exists()


@pytest.mark.parametrize("command", ["upgrade", "current"])
def test_unreachable_database_is_one_clear_error(command: str) -> None:
    result = _invoke("postgresql://nobody:pw@127.0.0.1:1/none", command)
    assert isinstance(result.exception, StoreError)
    assert str(result.exception).startswith("cannot reach postgresql://nobody:***@127.0.0.1:1/none: ")
