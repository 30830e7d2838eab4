"""Numba kernels (``*_nb``) and the drivers above them: indicators, fills, simulation, metrics, sweep.

Nothing here is imported by ``import workbench``; the first sweep or backtest loads (or compiles) it.

Numba's on-disk cache checks only each function's own file, so a kernel that inlines a changed helper
from another file would run stale code. The cache therefore lives in a folder named after a fingerprint of
this package's sources (under ``$NUMBA_CACHE_DIR`` or ``~/.cache/workbench/numba``): any engine change,
including an upgrade, starts a fresh cache for the kernels and for strategies built on them.

Importing it also loads scipy's BLAS extension module ahead of numba (``_load_cython_blas``), which saves a
fresh process 0.2-0.5 s on its first compile or dispatch.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

from numba.core import config


def _fingerprint() -> str:
    digest = hashlib.sha1()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_base = os.environ.get("NUMBA_CACHE_DIR") or str(Path.home() / ".cache" / "workbench" / "numba")
config.CACHE_DIR = str(Path(_base) / _fingerprint())


def _load_cython_blas() -> None:
    """Load ``scipy.linalg.cython_blas`` on its own, before numba asks for it.

    numba's first compile or dispatch in a process imports it to check that BLAS is there. Imported as a
    submodule it first runs ``scipy.linalg``'s ``__init__`` (all of scipy.linalg, ``numpy.f2py`` and
    ``numpy.testing``: 0.2-0.5 s), which no kernel here uses; the extension module alone takes a few
    milliseconds and is the same module numba reads its BLAS functions from. ``import scipy.linalg`` later
    still runs in full. Anything unexpected leaves the import to numba.
    """
    name = "scipy.linalg.cython_blas"
    if name in sys.modules or "scipy.linalg" in sys.modules:
        return
    try:
        scipy = importlib.util.find_spec("scipy")
        folders = list(scipy.submodule_search_locations or []) if scipy is not None else []
        for folder in folders:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = Path(folder) / "linalg" / f"cython_blas{suffix}"
                spec = importlib.util.spec_from_file_location(name, path) if path.is_file() else None
                if spec is not None and spec.loader is not None:
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[name] = module
                    spec.loader.exec_module(module)
                    return
    except Exception:  # an optimisation only: numba imports it the usual way
        sys.modules.pop(name, None)


_load_cython_blas()
