"""`Store`: owns the engine of the workbench database, creates and migrates it, and runs units of work on it.

`create_store_engine` (in `workbench.store.engine`) is importable from here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from workbench.config import Settings, load_settings
from workbench.store import migrate
from workbench.store.engine import WRITE, create_store_engine, mask_url
from workbench.store.errors import StoreError, StoreIntegrityError
from workbench.store.unit_of_work import UnitOfWork

__all__ = ["Store", "create_store_engine"]


class Store:
    """The workbench database: an engine and the units of work run on it.

    Examples
    --------
    >>> store = Store.open("sqlite://")  # in memory; created and migrated to the newest revision
    >>> with store.unit_of_work() as uow:
    ...     run = uow.runs.start("backtest", "sma_cross", params={"fast": 10, "slow": 50})
    >>> with store.unit_of_work(readonly=True) as uow:
    ...     [r.strategy for r in uow.runs.find(kind="backtest")]
    ['sma_cross']
    >>> store.close()
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        # Rows stay readable after their unit of work (expire_on_commit=False): they are plain records then.
        self._writer = sessionmaker(engine.execution_options(**{WRITE: True}), expire_on_commit=False)
        # Readers see one snapshot: SQLite's transactions are serializable; PostgreSQL's need REPEATABLE READ.
        reading = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        self._reader = sessionmaker(
            engine.execution_options(**reading) if engine.dialect.name == "postgresql" else engine,
            expire_on_commit=False,
        )
        sa.event.listen(self._reader, "before_flush", _refuse_writes)

    @classmethod
    def open(cls, target: str | URL | Settings | None = None, *, upgrade: bool = True) -> Store:
        """Open the database at ``target``: a URL, `Settings` (their ``database_url``), or None for the settings
        of `load_settings()` (by default a SQLite file in ``~/.workbench``).

        With ``upgrade`` (the default) a new database is created and an older one migrated to the newest
        revision; a database already there costs one query.

        Raises
        ------
        StoreError
            Bad URL, unreachable database, or a database at a revision this workbench does not know.
        """
        if target is None:
            target = load_settings()
        url = target.database_url if isinstance(target, Settings) else target
        engine = create_store_engine(url)
        try:
            if upgrade and migrate.current_revision(engine) != migrate.head_revision():
                migrate.upgrade(engine)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise StoreError(f"cannot open database {mask_url(engine.url)}: {exc.orig}") from None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[UnitOfWork]:
        """One transaction: committed when the block ends, rolled back whole if it raises.

        Write units of work take SQLite's write lock when they begin (waiting up to its busy timeout for
        another writer), so a read-modify-write inside one is never interleaved. ``readonly`` ones see one
        consistent snapshot (REPEATABLE READ on PostgreSQL), never block writers, and refuse to write.
        """
        session = (self._reader if readonly else self._writer)()
        try:
            yield UnitOfWork(session)
            if not readonly:
                session.commit()
        except IntegrityError as exc:  # raised by the commit's final flush
            session.rollback()
            raise StoreIntegrityError(f"commit refused by the database: {exc.orig}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        """Close every pooled connection (units of work still open keep theirs until they end)."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({mask_url(self.engine.url)!r})"


def _refuse_writes(session: Session, flush_context: Any, instances: Any) -> None:
    """Stop a read-only unit of work from writing, before any SQL."""
    changed = [*session.new, *session.dirty, *session.deleted]
    raise StoreError(f"read-only unit of work cannot write {', '.join(sorted({type(r).__name__ for r in changed}))}")
