"""What every strategy is: declared parameters, constraints and a name (``StrategyBase``), plus one function over bar
arrays. ``Strategy`` answers one symbol's target exposure (``signals``); ``UniverseStrategy``
(`workbench.strategies.universe`) answers target weights of many symbols sharing one account (``weights``)."""

from __future__ import annotations

import inspect
import re
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from workbench.data.schema import bar_arrays
from workbench.strategies.constraints import Constraint, compile_constraint
from workbench.strategies.params import Param, ParameterError

BAR_ARGS = ("open", "high", "low", "close", "volume")
#: The modules of the strategy base classes: their members are not parameters, and no parameter may take their
#: names (nor the strategies' functions' names).
BASE_MODULES = frozenset({"workbench.strategies.base", "workbench.strategies.universe"})
FUNCTIONS = frozenset({"signals", "exposure", "weights", "target_weights"})


def placeholder(fn: Any) -> Any:
    """Mark a base class's function as the one a concrete strategy defines (not checked, never called)."""
    fn.placeholder = True
    return fn


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class StrategyBase:
    """Parameters declared as ``Param`` class attributes, constraints over them, a name and a description: what
    every strategy has. A subclass names its function (``FUNCTION``) and the arguments it takes before the
    parameters; instances hold checked parameter values."""

    #: The name of the function over bar arrays a concrete strategy defines.
    FUNCTION: ClassVar[str] = ""
    name: ClassVar[str] = ""
    constraints: ClassVar[tuple[str, ...]] = ()
    sweep_ranges: ClassVar[dict[str, Any]] = {}
    _params: ClassVar[dict[str, Param]] = {}
    _constraints: ClassVar[tuple[Constraint, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            params.update({k: v for k, v in vars(klass).items() if isinstance(v, Param)})
        bases = [k for k in cls.__mro__[1:] if k.__module__ in BASE_MODULES]
        reserved = sorted(set(params) & {n for k in bases for n in vars(k)} | set(params) & FUNCTIONS)
        if reserved:
            raise TypeError(f"{cls.__name__}: parameter name(s) {', '.join(reserved)} are reserved by Strategy")
        cls._params = params
        if "name" not in vars(cls) or not cls.name:
            cls.name = _snake(cls.__name__)
        if isinstance(cls.constraints, str):
            cls.constraints = (cls.constraints,)
        cls._constraints = tuple(compile_constraint(text, params, cls.__name__) for text in cls.constraints)
        fn = inspect.getattr_static(cls, cls.FUNCTION, None) if cls.FUNCTION else None
        fn = inspect.unwrap(getattr(fn, "__func__", fn)) if fn is not None else None
        if fn is not None and not getattr(fn, "placeholder", False):
            _check_signature(cls, fn)

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self._params)
        if unknown:
            raise ParameterError(
                f"{type(self).__name__} has no parameter {', '.join(sorted(unknown))}; "
                f"parameters: {', '.join(self._params) or 'none'}"
            )
        values = {}
        for name, spec in self._params.items():
            if name in params:
                values[name] = spec.check(params[name])
            elif spec.default is None:
                raise ParameterError(f"{type(self).__name__} needs a value for {name} (no default)")
            else:
                values[name] = spec.default
        self._values = values
        failed = [c.text for c in self._constraints if not c(values)]
        if failed:
            raise ParameterError(f"{self!r} violates the constraint {failed[0]!r}")

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._values == other._values  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._values.items())))

    @classmethod
    def params(cls) -> dict[str, Param]:
        """The declared parameters, in signal-argument order."""
        return dict(cls._params)

    @property
    def values(self) -> dict[str, Any]:
        """This instance's parameter values."""
        return dict(self._values)

    @classmethod
    def failed_constraints(cls, grid: pd.DataFrame) -> list[str]:
        """The constraint expressions that some row of ``grid`` (one column per parameter) violates."""
        return [c.text for c in cls._constraints if not bool(np.all(c(grid)))]

    @classmethod
    def satisfies_constraints(cls, grid: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``grid`` (one column per parameter) that pass every constraint."""
        mask = np.ones(len(grid), dtype=bool)
        for constraint in cls._constraints:
            mask &= np.asarray(constraint(grid), dtype=bool)
        return mask

    @classmethod
    def describe(cls) -> str:
        """The strategy's name, summary and parameters, for people.

        Examples
        --------
        >>> import workbench as wb
        >>> print(wb.strategy("sma_cross").describe())  # doctest: +ELLIPSIS
        sma_cross (SmaCross): ...
        """
        doc = inspect.getdoc(cls) or ""
        if cls.__module__ in BASE_MODULES or doc == inspect.getdoc(cls.__mro__[1]):
            doc = ""
        summary = doc.split("\n\n")[0].replace("\n", " ")
        lines = [f"{cls.name} ({cls.__name__}): {summary}".rstrip(": ")]
        lines += [f"  {p.describe()}" for p in cls._params.values()]
        lines += [f"  constraint: {c}" for c in cls.constraints]
        return "\n".join(lines)


class Strategy(StrategyBase):
    """A trading strategy of one symbol: parameters declared as ``Param`` class attributes and a signal function.

    ``signals(open, high, low, close, volume, *params)`` receives float64 bar arrays and the parameter
    values in declaration order and returns the target exposure per bar in [-1, 1] (1 = all equity long,
    0 = flat, NaN = keep the previous target). It may use bars up to and including t for the value at t
    only; orders for it fill at the next bar's open (or at t's close with ``fill="close"``). Write it as a
    numba ``@njit(cache=True, nogil=True)`` function for fast sweeps, or with plain numpy.
    ``constraints`` are expressions over the parameters that every valid set satisfies, such as
    ``"fast < slow"`` (pandas ``eval`` syntax: arithmetic, comparisons, and/or/not or & | ~, abs());
    ``sweep_ranges`` is the grid ``sweep`` uses when it is given no ranges (e.g. ``workbench sweep NAME``).

    Examples
    --------
    >>> import numpy as np
    >>> from workbench import Param, Strategy
    >>> class AboveAverage(Strategy):
    ...     '''Long while the close is above its moving average.'''
    ...     window = Param(int, 20, min=2, window=True)
    ...     @staticmethod
    ...     def signals(open, high, low, close, volume, window):
    ...         ma = np.convolve(close, np.ones(window) / window)[: len(close)]
    ...         out = (close > ma).astype(float)
    ...         out[: window - 1] = 0.0
    ...         return out
    >>> AboveAverage(window=50)
    AboveAverage(window=50)
    """

    FUNCTION = "signals"

    @staticmethod
    @placeholder
    def signals(open, high, low, close, volume, *params):
        """Target exposure per bar; subclasses define it (see the class docstring)."""
        raise NotImplementedError

    def exposure(self, bars: pd.DataFrame) -> pd.Series:
        """Target exposure per bar for ``bars`` (a validated OHLCV frame), checked to lie in [-1, 1]."""
        out = call_signals(type(self), bar_arrays(bars), tuple(self._values.values()))
        return pd.Series(out, index=bars.index, name="exposure")


def _check_signature(cls: type[StrategyBase], fn: Any) -> None:
    """Refuse a class whose function's arguments do not match its declared parameters."""
    fn = getattr(fn, "py_func", fn)
    args = list(inspect.signature(fn).parameters)
    expected = [*BAR_ARGS, *cls._params]
    if len(args) != len(expected) or args[len(BAR_ARGS) :] != list(cls._params):
        raise TypeError(
            f"{cls.__name__}.{cls.FUNCTION} must take ({', '.join(expected)}); it takes ({', '.join(args)})"
        )


def call_signals(cls: type[Strategy], arrays: list[np.ndarray], values: tuple) -> np.ndarray:
    """Call ``cls.signals`` and check its output: one float per bar, each in [-1, 1] or NaN."""
    n = len(arrays[0])
    out = np.asarray(cls.signals(*arrays, *values), dtype=np.float64)
    if out.shape != (n,):
        raise ValueError(f"{cls.__name__}.signals returned shape {out.shape} for {n} bars; expected ({n},)")
    finite = out[~np.isnan(out)]
    if finite.size and (np.any(np.abs(finite) > 1.0) or not np.all(np.isfinite(finite))):
        bad = finite[(np.abs(finite) > 1.0) | ~np.isfinite(finite)][0]
        raise ValueError(f"{cls.__name__}.signals returned exposure {bad!r}; values must be in [-1, 1] or NaN")
    return out
