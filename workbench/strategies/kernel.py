"""Adapts a strategy's numba function to the sweep kernel's single calling convention.

A strategy writes ``signals(open, high, low, close, volume, fast, slow)`` (a universe strategy ``weights(...)``
over 2-D arrays); the sweep kernel calls every strategy as ``fn(open, high, low, close, volume, params_row)``. The
adapter unpacks the row into typed arguments (ints stay ints) and is compiled once per strategy class and
process, or loaded from numba's on-disk cache when the strategy's function is itself cached (see
``_adapter_file``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

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
    fn = getattr(cls, cls.FUNCTION)
    signature = WEIGHTS_SIG if cls.FUNCTION == "weights" else SIGNAL_SIG
    path = _adapter_file(cls, fn, source, str(signature))
    if path is not None:
        return njit(signature, nogil=True, cache=True)(_load_adapter(path, fn))
    namespace = {"np": np, "fn": fn}
    exec(compile(source, f"<{cls.FUNCTION} adapter of {cls.__qualname__}>", "exec"), namespace)
    return njit(signature, nogil=True)(namespace["adapter"])


def _adapter_file(cls: type[StrategyBase], fn: Any, source: str, signature: str) -> Path | None:
    """The adapter's source written to a file in numba's cache folder, so that numba can cache the adapter too;
    None when the strategy's function is not cached by numba itself (``cache=True`` in a source file).

    The file is named after the adapter's source, the signature and the bytes of the strategy's source file:
    editing the strategy starts a new adapter, as numba starts a new cache entry for the function it calls.
    The folder is the engine's fingerprinted cache folder (``workbench.engine``), so an engine change does too.
    """
    from numba.core import config
    from numba.core.caching import NullCache

    import workbench.engine  # noqa: F401 - sets numba's cache folder to this engine's fingerprint

    origin = Path(fn.py_func.__code__.co_filename)
    if isinstance(getattr(fn, "_cache", None), NullCache) or not origin.is_file():
        return None
    digest = hashlib.sha1(f"{source}\n{signature}\n{cls.__module__}.{cls.__qualname__}\n".encode())
    digest.update(origin.read_bytes())
    path = Path(config.CACHE_DIR) / "adapters" / f"{cls.__name__.lower()}_{digest.hexdigest()[:16]}.py"
    if path.is_file():
        return path
    header = f'"""The sweep adapter of {cls.__module__}.{cls.__qualname__} (workbench.strategies.kernel)."""\n\n'
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(f"{header}import numpy as np\n\nfn = None\n\n\n{source}")
        os.replace(temporary, path)  # whole or absent, for another process reading it at the same time
    except OSError:
        return None
    return path


def _load_adapter(path: Path, fn: Any) -> Any:
    """The ``adapter`` function of the file at ``path``, calling ``fn``."""
    name = f"workbench_adapters.{path.stem}"  # in sys.modules: numba's cached code finds its globals by name
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    module.fn = fn
    return module.adapter
