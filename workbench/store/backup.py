"""Online backup of a SQLite store: a consistent copy taken while sessions may still be writing."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import URL

from workbench.store.engine import mask_url, store_url
from workbench.store.errors import StoreError


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL, or None for PostgreSQL and in-memory SQLite."""
    parsed = store_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def backup_sqlite(url: str | URL, target: str | Path, *, overwrite: bool = False) -> Path:
    """Copy the SQLite database at ``url`` to the file ``target`` with sqlite3's online backup API.

    The copy is one consistent snapshot (readers and the writer may go on meanwhile), is checked with
    ``PRAGMA integrity_check``, and appears at ``target`` only once complete (written beside it, then renamed).
    It is a plain rollback-journal database file, openable on its own.

    Raises
    ------
    StoreError
        ``url`` is not a SQLite file, the file does not exist, ``target`` exists (without ``overwrite``), or the
        copy fails its integrity check.
    """
    source = sqlite_path(url)
    if source is None:
        raise StoreError(f"{mask_url(url)} is not a SQLite file; back up PostgreSQL with pg_dump")
    if not source.is_file():
        raise StoreError(f"no database at {source} (nothing to back up)")
    target = Path(target).expanduser()
    if target.exists() and not overwrite:
        raise StoreError(f"{target} already exists; choose another path or overwrite it")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(source, timeout=5.0)) as src,
        contextlib.closing(sqlite3.connect(partial)) as dst,
    ):
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup of {source} failed its integrity check: {verdict}")
    os.replace(partial, target)
    return target
