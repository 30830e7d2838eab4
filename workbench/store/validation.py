"""Column value checks that run in Python whenever a row attribute is set, so a bad value never reaches SQL.

Every column is checked against its type (a finite float for a Double, an aware datetime for a UTCDateTime, a
string that fits a String(n), JSON data for a JSON column, ...) and may carry one extra `Check` in its ``info``,
which `workbench.store.base.Base` also declares as a CHECK constraint, so Python and the database agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from numbers import Integral, Real
from typing import Any

import sqlalchemy as sa

from workbench.store.errors import StoreValidationError
from workbench.store.types import UTCDateTime

_JSON_EXPECTED = "JSON data (dicts with string keys, lists, strings, numbers, booleans, None)"


class _Invalid(Exception):
    """A value failed its column's type; the message (possibly empty) says where inside it."""


@dataclass(frozen=True)
class Check:
    """A rule on top of a column's type: tested in Python and, when ``sql`` is set, declared as a CHECK.

    ``expected`` completes the type's wording ("a finite number" + "> 0") unless ``standalone`` says it is the
    whole wording ("one of buy, sell"). ``sql`` is the CHECK expression with ``{column}`` for the column name.
    """

    name: str
    expected: str
    test: Callable[[Any], bool]
    sql: str | None = None
    standalone: bool = False

    def describe(self, type_expected: str) -> str:
        """What a value must be, in words."""
        return self.expected if self.standalone else f"{type_expected} {self.expected}"


POSITIVE = Check("positive", "> 0", lambda v: v > 0, "{column} > 0")
NON_NEGATIVE = Check("non_negative", ">= 0", lambda v: v >= 0, "{column} >= 0")
#: For String columns that may hold "" (strings are non-empty unless a column says otherwise).
EMPTY_OK = "empty_ok"


def one_of(values: Iterable[str] | type[Enum]) -> Check:
    """A check that a string column holds one of ``values`` (the values of an enum class, or plain strings)."""
    allowed = tuple(v.value if isinstance(v, Enum) else v for v in values)
    listed = ", ".join(f"'{v}'" for v in allowed)
    return Check("allowed", "one of " + ", ".join(allowed), allowed.__contains__, f"{{column}} IN ({listed})", True)


def column_validator(table: str, column: sa.Column) -> Callable[[Any], Any]:
    """The function that checks a value for ``column`` and returns it normalized, or raises
    `StoreValidationError` naming ``table.column``, the value and what is allowed."""
    convert, type_expected = _converter(column)
    check: Check | None = column.info.get("check")
    expected = check.describe(type_expected) if check else type_expected
    if column.nullable:
        expected += " or None"

    def validate(value: Any) -> Any:
        if value is None:
            if column.nullable:
                return None
            raise StoreValidationError(table, column.key, value, expected)
        try:
            out = convert(value)
        except _Invalid as exc:
            detail = f" ({exc})" if str(exc) else ""
            raise StoreValidationError(table, column.key, value, expected + detail) from None
        if check is not None and not check.test(out):
            raise StoreValidationError(table, column.key, value, expected)
        return out

    return validate


def _converter(column: sa.Column) -> tuple[Callable[[Any], Any], str]:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return _utc, "a timezone-aware datetime (or an ISO 8601 string with a UTC offset)"
    if isinstance(kind, sa.JSON):
        return lambda v: _json(v, column.key), _JSON_EXPECTED
    if isinstance(kind, sa.Boolean):
        return _bool, "True or False"
    if isinstance(kind, sa.Integer):
        return _int, "an integer"
    if isinstance(kind, sa.Float):
        return _float, "a finite number"
    if isinstance(kind, sa.String):
        empty_ok, length = column.info.get(EMPTY_OK, False), kind.length
        limit = f" of at most {length} characters" if length else ""
        return _text(length, empty_ok), f"{'a' if empty_ok else 'a non-empty'} string{limit}"
    raise TypeError(f"no validator for column {column.key} of type {kind!r}")  # a new column type needs one


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise _Invalid
    return float(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise _Invalid
    return int(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid
    return value


def _text(max_len: int | None, empty_ok: bool) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if isinstance(value, Enum):
            value = value.value
        if not isinstance(value, str) or (not value and not empty_ok) or (max_len and len(value) > max_len):
            raise _Invalid
        return value

    return convert


def _utc(value: Any) -> datetime:
    """A plain `datetime` in UTC (pandas Timestamps and ISO 8601 strings with an offset too)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid from None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise _Invalid
    v = value.astimezone(UTC)
    return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=UTC)


def _json(value: Any, path: str) -> Any:
    """``value`` as plain JSON data (numpy scalars made Python numbers, tuples made lists).

    JSON has no NaN or infinity: non-finite floats (an undefined Sharpe ratio, say) are stored as None.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        bad = next((k for k in value if not isinstance(k, str)), None)
        if bad is not None:
            raise _Invalid(f"{path} has the non-string key {bad!r}")
        return {k: _json(v, f"{path}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise _Invalid(f"{path} is a {type(value).__name__}")
