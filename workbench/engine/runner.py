"""Runs a parameter grid over packed bars in chunks: progress bar, Ctrl-C keeps the rows done so far.

A chunk is a range of work items computed by ``GridJob.run`` (``engine.grid_job``); the local loop below and the
Dask engine (``engine.distributed``) both call it, so every engine runs the same kernels on the same inputs.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench.engine.grid_job import GridJob, GridRun, row_values
from workbench.engine.inputs import Costs, Packed
from workbench.strategies.base import Strategy, StrategyBase, call_signals

if TYPE_CHECKING:
    from distributed import Client

    from workbench.engine.universe_job import UniverseJob

    Job = GridJob | UniverseJob

# Work per kernel call (bars x parameter sets): small enough for a responsive progress bar and Ctrl-C,
# large enough that the per-call overhead stays under a percent.
_CELLS_PER_CHUNK = 40_000_000


def run_grid(
    cls: type[Strategy],
    grid: pd.DataFrame,
    packed: Packed,
    windows: np.ndarray,
    costs: Costs,
    ppy: np.ndarray,
    n_blocks: int = 0,
    progress: bool = True,
    client: Client | None = None,
) -> GridRun:
    """Metrics of every (parameter set, symbol) in every window; see ``sweep_kernel`` for the layout.

    With a Dask ``client`` the chunks run on its cluster (``engine.distributed``), else here in numba threads.
    """
    job = GridJob.build(grid, packed, windows, costs, ppy, n_blocks)
    # One call in Python first: a wrong output shape or range fails here with a clear message.
    call_signals(cls, packed.symbol_arrays(0), row_values(cls, grid, 0))
    return run_job(cls, job, progress, client)


def run_job(cls: type[StrategyBase], job: Job, progress: bool = True, client: Client | None = None) -> GridRun:
    """Every item of ``job`` (a ``GridJob``, or a ``UniverseJob``) in chunks: on the Dask ``client``'s cluster, or
    here in numba threads with a progress bar; Ctrl-C keeps the leading items done."""
    if client is not None:
        from workbench.engine.distributed import run_on_cluster

        return run_on_cluster(client, cls, job, _CELLS_PER_CHUNK, progress)
    n_items = job.n_items
    metrics, blocks = job.outputs(n_items)
    chunk = max(1, int(_CELLS_PER_CHUNK // max(job.cells_per_item, 1)))
    done = 0
    bar = tqdm(total=n_items, desc=f"sweep {cls.name}", unit="run", delay=2.0, disable=not progress)
    try:
        while done < n_items:
            stop = min(done + chunk, n_items)
            job.run(cls, done, stop, metrics[done:stop], blocks[done:stop])
            bar.update(stop - done)
            done = stop
    except KeyboardInterrupt:
        warnings.warn(
            f"sweep interrupted: {done} of {n_items} runs done; returning those", RuntimeWarning, stacklevel=3
        )
    finally:
        bar.close()
    return GridRun(metrics[:done], blocks[:done], done)
