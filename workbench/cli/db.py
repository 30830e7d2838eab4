"""`workbench db ...`: migrate, inspect and back up the configured database (a thin layer over the store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.options import settings as _settings
from workbench.store.errors import StoreError

# SQLAlchemy and Alembic load inside the commands, so `workbench` starts fast for every other command.

db_app = typer.Typer(help="Create, migrate and back up the workbench database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Revision to migrate to.")] = "head",
) -> None:
    """Create the database if needed and migrate it to REVISION (default: the newest); print the revision."""
    import sqlalchemy as sa

    from workbench.store.engine import create_store_engine, mask_url
    from workbench.store.migrate import current_revision, upgrade

    url = _settings(ctx).database_url
    engine = create_store_engine(url)
    try:
        before = current_revision(engine)
        after = upgrade(engine, revision)
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot reach {mask_url(url)}: {exc.orig}") from None
    finally:
        engine.dispose()
    change = f"already at {after}" if before == after else f"upgraded from {before or 'empty'} to {after}"
    typer.echo(f"{mask_url(url)}: {change}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the database URL (password masked) and the revision it is at, next to the newest one."""
    import sqlalchemy as sa

    from workbench.store.backup import sqlite_path
    from workbench.store.engine import create_store_engine, mask_url
    from workbench.store.migrate import current_revision, head_revision

    url = _settings(ctx).database_url
    head = head_revision()
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        revision, note = None, "no database file yet; `workbench db upgrade` creates it"
    else:
        engine = create_store_engine(url)
        try:
            revision = current_revision(engine)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot reach {mask_url(url)}: {exc.orig}") from None
        finally:
            engine.dispose()
        note = "newest" if revision == head else f"newest is {head}; run `workbench db upgrade`"
    typer.echo(f"url: {mask_url(url)}")
    typer.echo(f"revision: {revision or 'none'} ({note})")


@db_app.command("backup")
def db_backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="File to write the copy to.")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace PATH if it exists.")] = False,
) -> None:
    """Copy a SQLite database to PATH while it may be in use (a consistent online backup)."""
    from workbench.store.backup import backup_sqlite
    from workbench.store.engine import mask_url, store_url

    url = _settings(ctx).database_url
    if store_url(url).get_backend_name() == "postgresql":
        plain = mask_url(store_url(url).set(drivername="postgresql"))
        typer.echo(
            f"{plain} is PostgreSQL: back it up with pg_dump, e.g.\n"
            f"  pg_dump --format=custom --file {path} '{plain}'\n"
            "(the password is masked here; pg_dump reads it from PGPASSWORD or ~/.pgpass)",
            err=True,
        )
        raise typer.Exit(2)
    written = backup_sqlite(url, path, overwrite=overwrite)
    typer.echo(f"backed up {mask_url(url)} to {written} ({written.stat().st_size:,} bytes)")
