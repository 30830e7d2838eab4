"""The declarative base of every table: constraint naming, Python types -> column types, and value checks.

Each mapped class gets, for every column, a "set" listener that validates the value when the attribute is set
(so a bad value raises `StoreValidationError` before any SQL), and a named CHECK constraint for every column
whose ``info`` carries a `Check` with SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from workbench.store.types import JSONType, UTCDateTime
from workbench.store.validation import Check, column_validator

#: Constraint names are deterministic, so migrations can refer to them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def check(rule: Check) -> dict[str, Any]:
    """The ``info`` of a column with an extra rule, e.g. ``mapped_column(info=check(POSITIVE))``."""
    return {"check": rule}


class Base(DeclarativeBase):
    """Base class of the store's rows."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        float: sa.Double(),
        bool: sa.Boolean(),
        dict[str, Any]: JSONType,
        list[str]: JSONType,
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: sa.Table = cls.__table__
        for column in table.columns:
            rule: Check | None = column.info.get("check")
            if rule is not None and rule.sql is not None:
                sql = rule.sql.format(column=column.name)
                table.append_constraint(sa.CheckConstraint(sql, name=f"{column.name}_{rule.name}"))
            if not (column.primary_key and isinstance(column.type, sa.Integer)):  # surrogate ids come from the DB
                _validate_on_set(getattr(cls, column.key), column_validator(table.name, column))


def _validate_on_set(attribute: Any, validate: Callable[[Any], Any]) -> None:
    def on_set(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
        return validate(value)

    sa.event.listen(attribute, "set", on_set, retval=True)
