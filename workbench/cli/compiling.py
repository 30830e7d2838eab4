"""Say so when a command is about to compile numba kernels (the first run after an install or an engine change),
and ``workbench warmup``, which compiles them ahead of time.

Kernels are cached on disk per engine fingerprint (``workbench.engine``); a cold cache costs a command about 10 s on
two cores once (``workbench warmup``, every bundled strategy's kernels, about 20 s), a warm one loads in well under a
second. Whether the cache is cold is read from the cache folder itself: the
index file numba writes beside each compiled kernel.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

#: The kernel each command compiles first and longest, as (engine module, function).
KERNELS = {"sweep": ("sweep_kernel", "sweep_signals_nb"), "backtest": ("metrics", "equity_metrics_nb")}
#: What a cold first run of a command, and ``workbench warmup``, cost on the two-core development machine under load
#: (benchmarks/bench_first_contact.py).
COLD_SECONDS, WARMUP_SECONDS = 10, 20


def cache_is_cold(command: str = "sweep") -> bool:
    """True when ``command``'s main kernel has no entry in numba's on-disk cache (it will be compiled)."""
    from numba.core import config
    from numba.core.caching import UserProvidedCacheLocator

    import workbench.engine as engine  # sets numba's cache folder to this engine's fingerprint

    module, function = KERNELS[command]
    source = Path(engine.__file__).parent / f"{module}.py"
    folder = Path(config.CACHE_DIR) / UserProvidedCacheLocator.get_suitable_cache_subpath(str(source))
    return not any(folder.glob(f"{module}.{function}-*.nbi"))


def say_if_compiling(command: str = "sweep") -> None:
    """One line on stderr before a cold cache is filled, so that the wait is explained."""
    if cache_is_cold(command):
        typer.echo(
            f"compiling numba kernels, once per install (~{COLD_SECONDS} s on two cores; "
            "`workbench warmup` does it ahead)...",
            err=True,
        )
        sys.stderr.flush()


def warmup_cmd() -> None:
    """Compile and cache the numba kernels of sweeps and backtests now (once per install), so that the first
    `workbench sweep` or `wb.sweep` starts at full speed."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    began = time.perf_counter()
    if cache_is_cold("sweep") or cache_is_cold("backtest"):
        typer.echo(f"compiling numba kernels, once per install (~{WARMUP_SECONDS} s on two cores)...", err=True)
    # numba compiles one function at a time per process: the sweep's kernels and the backtest's in two processes
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(warm, ("sweep", "backtest")))
    typer.echo(f"numba kernels compiled and cached in {time.perf_counter() - began:.1f} s")


def warm(kind: str) -> None:
    """Run every bundled one-symbol strategy once through ``wb.sweep`` (``kind="sweep"``) or ``wb.backtest``."""
    import workbench as wb

    bars = wb.load("SPY", start="2020-01-01")
    for name in ("sma_cross", "rsi_reversion", "donchian_breakout", "zscore_reversion"):
        one = wb.strategy(name)()  # its default parameters: one run compiles what a grid runs
        if kind == "sweep":
            wb.sweep(one, bars, progress=False, fees=0.0)
        else:
            wb.backtest(one, bars, fees=0.0)
