"""Numba kernels (``*_nb``) and the drivers above them: indicators, fills, simulation, metrics, sweep.

Nothing here is imported by ``import workbench``; the first sweep or backtest loads (or compiles) it.

Numba's on-disk cache checks only each function's own file, so a kernel that inlines a changed helper
from another file would run stale code. The cache therefore lives in a folder named after a fingerprint of
this package's sources (under ``$NUMBA_CACHE_DIR`` or ``~/.cache/workbench/numba``): any engine change,
including an upgrade, starts a fresh cache for the kernels and for strategies built on them.
"""

from __future__ import annotations

import hashlib
import os
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
