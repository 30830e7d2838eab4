"""`create_store_engine`: an engine for the workbench's two databases, SQLite (set up for concurrent use) and
PostgreSQL (through psycopg 3); `store_url` and `mask_url` for the URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from workbench.store.errors import StoreError

#: Run on every new SQLite connection: WAL (readers never block the writer nor it them), foreign keys enforced, a
#: locked database waited for up to 5 s rather than failed at once, and fsync at checkpoints only (with WAL the
#: file stays consistent after any crash; an OS crash or power cut may lose the last commits, a process crash none).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
)
#: Execution option of write transactions: on SQLite they start with BEGIN IMMEDIATE (take the write lock
#: first, so read-modify-write such as a position update cannot interleave with another writer).
WRITE = "workbench_write"


def store_url(url: str | URL) -> URL:
    """``url`` parsed, with PostgreSQL URLs pointed at the psycopg 3 driver (``postgresql://`` is accepted).

    Raises
    ------
    StoreError
        The URL cannot be parsed or names a database other than SQLite or PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StoreError(f"database URL {url!r} cannot be parsed: {exc}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgresql" and driver in ("", "psycopg", "psycopg2"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    raise StoreError(f"database URL {mask_url(parsed)!r}: expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB")


def mask_url(url: str | URL) -> str:
    """``url`` as text with its password hidden, for printing and logs."""
    return make_url(url).render_as_string(hide_password=True)


def create_store_engine(url: str | URL, **kwargs: Any) -> sa.Engine:
    """An engine for ``url``: SQLite (``~`` expanded, the parent folder created) or PostgreSQL through psycopg 3.

    SQLite connections get `SQLITE_PRAGMAS`, and transactions are begun explicitly so a unit of work is one
    transaction from its first statement (pysqlite would otherwise start it at the first write only).
    ``kwargs`` go to `sqlalchemy.create_engine`.

    Examples
    --------
    >>> create_store_engine("postgresql://trader@db.example:5432/workbench").url.drivername
    'postgresql+psycopg'
    """
    parsed = store_url(url)
    if parsed.drivername.startswith("postgresql"):
        return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        path = Path(parsed.database).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        parsed = parsed.set(database=str(path))
    engine = sa.create_engine(parsed, **kwargs)
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN from pysqlite: _sqlite_begin emits it
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
