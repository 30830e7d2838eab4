"""Alembic environment of the workbench store: runs migrations on the connection `workbench.store.migrate` passes.

Batch mode on SQLite (ALTER TABLE there is limited: batch operations copy the table).
"""

from __future__ import annotations

from alembic import context

from workbench.store.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the workbench migrations through workbench.store.migrate (or `workbench db upgrade`)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
