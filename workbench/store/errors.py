"""Errors of the store: refused values (before any SQL), conflicts the database caught, missing rows."""

from __future__ import annotations

from typing import Any

from workbench.errors import WorkbenchError


class StoreError(WorkbenchError):
    """The store cannot do what was asked: a missing row, an unreachable database, an unknown revision."""


class StoreValidationError(StoreError, ValueError):
    """A value was refused before any SQL ran: ``table``, ``field``, ``value`` and ``expected`` say which and why."""

    def __init__(self, table: str, field: str, value: Any, expected: str) -> None:
        super().__init__(f"{table}.{field}={value!r} is invalid: expected {expected}")
        self.table, self.field, self.value, self.expected = table, field, value, expected


class StoreIntegrityError(StoreError):
    """The database refused a write (duplicate key, missing parent row, CHECK); the unit of work is rolled back."""
