"""``Param``: a declared strategy parameter with its type, default, allowed range and meaning."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError


class ParameterError(WorkbenchError, ValueError):
    """A parameter value or range is unknown, of the wrong type, empty or outside the allowed range."""


_TYPES = (int, float, bool)


@dataclass(frozen=True)
class Param:
    """A strategy parameter declared as a class attribute.

    ``window=True`` marks a look-back length in bars: a sweep refuses values that leave no bar to trade.

    Examples
    --------
    >>> class Example:
    ...     fast = Param(int, 10, min=2, max=500, window=True, doc="fast SMA length in bars")
    >>> Example.fast.check(12)
    12
    """

    type: type = float
    default: Any = None
    min: float | None = None
    max: float | None = None
    window: bool = False
    doc: str = ""
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise TypeError(f"Param type must be int, float or bool, not {self.type!r}")
        if self.default is not None:
            object.__setattr__(self, "default", self.check(self.default))

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._values[self.name]

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to the declared type, or raise ``ParameterError`` naming the problem."""
        label = self.name or "parameter"
        if isinstance(value, str) or (not isinstance(value, int | float | bool) and not hasattr(value, "__float__")):
            raise ParameterError(f"{label}={value!r}: expected a {self.type.__name__}")
        if isinstance(value, bool | np.bool_) and self.type is not bool:
            raise ParameterError(f"{label}={value!r}: expected a {self.type.__name__}, not a bool")
        number = float(value)
        if not math.isfinite(number):
            raise ParameterError(f"{label}={value!r}: must be finite")
        if self.type is int:
            if number != int(number):
                raise ParameterError(f"{label}={value!r}: expected an integer")
            converted: Any = int(number)
        elif self.type is bool:
            if number not in (0.0, 1.0):
                raise ParameterError(f"{label}={value!r}: expected True or False")
            converted = bool(number)
        else:
            converted = number
        if self.min is not None and number < self.min:
            raise ParameterError(f"{label}={value!r}: below the minimum {self.min:g}")
        if self.max is not None and number > self.max:
            raise ParameterError(f"{label}={value!r}: above the maximum {self.max:g}")
        return converted

    def describe(self) -> str:
        """One line: name, type, default, range and meaning."""
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "inf" if self.max is None else f"{self.max:g}"
        return f"{self.name}: {self.type.__name__} = {self.default!r} in [{lo}, {hi}]  {self.doc}".rstrip()
