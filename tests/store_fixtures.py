"""Store fixtures: each test runs on SQLite (a fresh file) and on PostgreSQL (a fresh schema, dropped after).

A plugin module, not a conftest (the tests folder is not a package, so a second conftest would shadow the
first's ``from conftest import ...``): a test module loads it with ``pytest_plugins = ["store_fixtures"]``.

The PostgreSQL leg needs the server of the developers' machines and CI (127.0.0.1:5432, database ``test``, trust
auth, user ``postgres`` or the OS user); it is skipped only when nothing answers on that port.
"""

from __future__ import annotations

import getpass
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa

from workbench.store import Store, create_store_engine

PG_HOST, PG_PORT, PG_DB = "127.0.0.1", 5432, "test"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the test PostgreSQL database (as the first user that may log in)."""
    try:
        socket.create_connection((PG_HOST, PG_PORT), timeout=2).close()
    except OSError:
        pytest.skip(f"no PostgreSQL server answers on {PG_HOST}:{PG_PORT}")
    errors = []
    for user in dict.fromkeys(("postgres", getpass.getuser())):
        try:
            psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=PG_DB, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            errors.append(f"{user}: {exc}")
            continue
        return f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}"
    raise RuntimeError(f"PostgreSQL on {PG_HOST}:{PG_PORT} refuses every test user: {'; '.join(errors)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL schema of its own (via the connection's search_path)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'workbench.db'}"
        return
    base = request.getfixturevalue("pg_url")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_store_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A store migrated to the newest revision."""
    opened = Store.open(db_url)
    yield opened
    opened.close()


@pytest.fixture
def t0() -> datetime:
    """A fixed, timezone-aware time to build records at."""
    return datetime(2024, 7, 1, 14, 30, 0, 123456, tzinfo=UTC)
