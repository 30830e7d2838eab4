"""Adapts a strategy's numba signal function to the sweep kernel's single calling convention.

A strategy writes ``signals(open, high, low, close, volume, fast, slow)``; the sweep kernel calls every
strategy as ``fn(open, high, low, close, volume, params_row)``. The adapter unpacks the row into typed
arguments (ints stay ints) and is compiled once per strategy class and process.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher

from workbench.strategies.base import Strategy


def is_compiled(cls: type[Strategy]) -> bool:
    """True when the strategy's signal function is a numba ``@njit`` function (fast, parallel sweeps)."""
    return isinstance(cls.signals, CPUDispatcher)


@cache
def signal_kernel(cls: type[Strategy]) -> CPUDispatcher:
    """The strategy's signal function compiled against ``SIGNAL_SIG`` (see ``engine.sweep_kernel``)."""
    from workbench.engine.sweep_kernel import SIGNAL_SIG

    if not is_compiled(cls):
        raise TypeError(f"{cls.__name__}.signals is not a numba @njit function")
    casts = {int: "np.int64({})", float: "{}", bool: "{} != 0.0"}
    args = ", ".join(casts[p.type].format(f"p[{i}]") for i, p in enumerate(cls.params().values()))
    source = (
        "def adapter(open_, high, low, close, volume, p):\n"
        f"    return np.asarray(fn(open_, high, low, close, volume{', ' if args else ''}{args}), dtype=np.float64)\n"
    )
    namespace = {"np": np, "fn": cls.signals}
    exec(compile(source, f"<signal adapter of {cls.__qualname__}>", "exec"), namespace)
    return njit(SIGNAL_SIG, nogil=True)(namespace["adapter"])
