"""Parameter grids: ranges given by a notebook or the CLI turned into validated rows of parameter sets."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench.strategies.base import Strategy
from workbench.strategies.params import ParameterError


def parse_range(text: str) -> list[float] | range:
    """Parse a CLI range: ``"5:60"`` (like ``range(5, 60)``), ``"20:250:5"``, ``"0.5:2:0.25"`` or ``"5,10,20"``.

    Examples
    --------
    >>> parse_range("20:30:5")
    range(20, 30, 5)
    >>> parse_range("0.5,1.5,2")
    [0.5, 1.5, 2]
    """
    text = text.strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop, step = (*parts, 1.0) if len(parts) == 2 else parts
            if step == 0:
                raise ParameterError(f"range {text!r} has step 0")
            if all(float(p).is_integer() for p in (start, stop, step)):
                return range(int(start), int(stop), int(step))
            return list(np.arange(start, stop, step))
        return [_number(p) for p in text.split(",") if p.strip()]
    except ParameterError:
        raise
    except ValueError:
        raise ParameterError(f"cannot read range {text!r}; use START:STOP[:STEP] or comma-separated values") from None


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _values(name: str, spec: Any) -> list[Any]:
    if isinstance(spec, str):
        spec = parse_range(spec)
    if np.isscalar(spec) or isinstance(spec, bool):
        return [spec]
    if not isinstance(spec, Iterable):
        raise ParameterError(f"{name}={spec!r}: expected a value, a range or a sequence")
    values = list(spec)
    if not values:
        raise ParameterError(f"{name}: the range {spec!r} is empty")
    return values


def build_grid(
    cls: type[Strategy],
    ranges: Mapping[str, Any],
    base: Mapping[str, Any] | None = None,
    constraint: Callable[[pd.DataFrame], Any] | str | None = None,
) -> pd.DataFrame:
    """All combinations of ``ranges`` (other parameters at ``base`` or their defaults) that pass the constraints.

    Every value is type- and range-checked against the strategy's ``Param``; the strategy's own constraints
    and ``constraint`` (a pandas ``eval`` string or a function of the grid returning a boolean mask) filter
    rows. Raises ``ParameterError`` for unknown parameters, bad values and grids left empty.
    """
    params = cls.params()
    unknown = sorted(set(ranges) - set(params))
    if unknown:
        raise ParameterError(
            f"{cls.name} has no parameter {', '.join(unknown)}; parameters: {', '.join(params) or 'none'}"
        )
    base = dict(base or {})
    columns = {}
    for name, spec in params.items():
        if name in ranges:
            raw = _values(name, ranges[name])
        elif name in base:
            raw = [base[name]]
        elif spec.default is not None:
            raw = [spec.default]
        else:
            raise ParameterError(f"{cls.name} needs a value or range for {name} (no default)")
        columns[name] = list(dict.fromkeys(spec.check(v) for v in raw))
    rows = list(itertools.product(*columns.values()))
    grid = pd.DataFrame(rows, columns=list(columns), index=pd.RangeIndex(len(rows)))
    for name, spec in params.items():
        grid[name] = grid[name].astype({int: "int64", float: "float64", bool: "bool"}[spec.type])
    mask = cls.satisfies_constraints(grid)
    if constraint is not None:
        extra = grid.eval(constraint) if isinstance(constraint, str) else constraint(grid)
        mask &= np.asarray(extra, dtype=bool)
    grid = grid[mask].reset_index(drop=True)
    if len(grid) == 0:
        rules = [*cls.constraints, *([constraint] if isinstance(constraint, str) else [])]
        raise ParameterError(
            f"no parameter set of {cls.name} passes the constraints ({'; '.join(map(str, rules)) or 'custom'})"
        )
    return grid
