"""Alembic, driven from code: the migrations ship inside the package, so no alembic.ini is needed at runtime."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from workbench.store.engine import WRITE, mask_url
from workbench.store.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
#: Key of the PostgreSQL advisory lock that lets one process at a time migrate.
_LOCK_KEY = 0x776F726B62656E63  # "workbenc"
#: Alembic installs its `alembic.context` for the running migration globally: one migration per process at a time.
_IN_PROCESS = threading.Lock()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config for the bundled migrations; ``env.py`` runs them on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the installed workbench knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the bundled migrations have a single head"
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` in one transaction and return the revision it is then at.

    Raises
    ------
    StoreError
        The database is at a revision this workbench does not know (made by a newer version), or
        ``revision`` is unknown.
    """
    _run(engine, command.upgrade, revision)
    return current_revision(engine)


def downgrade(engine: sa.Engine, revision: str) -> str | None:
    """Migrate the database down to ``revision`` ("base" drops every table) and return where it is then."""
    _run(engine, command.downgrade, revision)
    return current_revision(engine)


def _run(engine: sa.Engine, step: Callable[[Config, str], None], revision: str) -> None:
    """Run an Alembic command in one transaction that first locks out other migrating threads and processes
    (SQLite's write lock, or an advisory lock on PostgreSQL), so two processes opening a new database both succeed.

    On SQLite, foreign keys are off while it runs: a migration that rebuilds a table (Alembic's batch mode)
    drops the old one, which would otherwise cascade into every row that refers to it. The keys are checked
    before the commit instead; a migration that breaks one is rolled back.
    """
    try:
        with _IN_PROCESS, engine.execution_options(**{WRITE: True}).connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:  # on the driver connection: outside any transaction, where SQLite honours it
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    if connection.dialect.name == "postgresql":
                        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))
                    step(alembic_config(connection), revision)
                    if sqlite:
                        _check_foreign_keys(connection, revision)
            finally:
                if sqlite:
                    connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    except CommandError as exc:
        raise StoreError(f"cannot migrate {mask_url(engine.url)} to {revision!r}: {exc}") from None


def _check_foreign_keys(connection: sa.Connection, revision: str) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise StoreError(f"migrating to {revision!r} would break {len(broken)} foreign keys in {', '.join(tables)}")
