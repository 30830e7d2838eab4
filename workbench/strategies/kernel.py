"""Adapts a strategy's numba function to the sweep kernel's single calling convention.

A strategy writes ``signals(open, high, low, close, volume, fast, slow)`` (a universe strategy ``weights(...)``
over 2-D arrays); the sweep kernel calls every strategy as ``fn(open, high, low, close, volume, params_row)``. The
adapter unpacks the row into typed arguments (ints stay ints) and is compiled once per strategy class and
process.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher

from workbench.strategies.base import StrategyBase


def is_compiled(cls: type[StrategyBase]) -> bool:
    """True when the strategy's function (``signals``, or ``weights``) is a numba ``@njit`` function (fast,
    parallel sweeps)."""
    return isinstance(getattr(cls, cls.FUNCTION), CPUDispatcher)


@cache
def signal_kernel(cls: type[StrategyBase]) -> CPUDispatcher:
    """The strategy's function compiled against the sweep's signature: ``SIGNAL_SIG`` for a one-symbol strategy,
    ``WEIGHTS_SIG`` for a universe strategy (see ``engine.sweep_kernel``)."""
    from workbench.engine.sweep_kernel import SIGNAL_SIG, WEIGHTS_SIG

    if not is_compiled(cls):
        raise TypeError(f"{cls.__name__}.{cls.FUNCTION} is not a numba @njit function")
    casts = {int: "np.int64({})", float: "{}", bool: "{} != 0.0"}
    args = ", ".join(casts[p.type].format(f"p[{i}]") for i, p in enumerate(cls.params().values()))
    source = (
        "def adapter(open_, high, low, close, volume, p):\n"
        f"    return np.asarray(fn(open_, high, low, close, volume{', ' if args else ''}{args}), dtype=np.float64)\n"
    )
    namespace = {"np": np, "fn": getattr(cls, cls.FUNCTION)}
    exec(compile(source, f"<{cls.FUNCTION} adapter of {cls.__qualname__}>", "exec"), namespace)
    signature = WEIGHTS_SIG if cls.FUNCTION == "weights" else SIGNAL_SIG
    return njit(signature, nogil=True)(namespace["adapter"])
