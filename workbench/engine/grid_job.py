"""``GridJob``: everything a chunk of a grid run reads, and ``GridJob.run``, the one code path every engine (the
local loop in ``engine.runner``, the Dask tasks in ``engine.distributed``) runs a chunk with; ``GridRun`` is the
assembled output.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
from numba import get_num_threads

from workbench.engine.inputs import Costs, Packed
from workbench.engine.metrics import N_METRICS
from workbench.strategies.base import Strategy, call_signals
from workbench.strategies.kernel import is_compiled, signal_kernel

# Slices of a chunk's items per thread of a sweep, taken in turn (``parallel_items``).
_SLICES_PER_THREAD = 8


@dataclass
class GridRun:
    """Raw output of a grid run: item k is (parameter set ``k // n_symbols``, symbol ``k % n_symbols``)."""

    metrics: np.ndarray  # [items, windows, N_METRICS]
    blocks: np.ndarray  # [items, blocks, 2] per-block return sums over window 0
    done: int  # items computed (all of them unless interrupted)


@dataclass(frozen=True)
class GridJob:
    """Everything a chunk of a grid run reads, the same for every chunk (so a cluster receives it once).

    ``params`` is the grid as the kernels' float64 matrix (one row per parameter set); ``windows[s, w]`` is
    window w of symbol s as (start, end) bar positions; ``ppy`` the periods per year of each symbol.
    """

    grid: pd.DataFrame
    params: np.ndarray
    packed: Packed
    windows: np.ndarray
    costs: Costs
    ppy: np.ndarray
    n_blocks: int

    @classmethod
    def build(
        cls, grid: pd.DataFrame, packed: Packed, windows: np.ndarray, costs: Costs, ppy: np.ndarray, n_blocks: int
    ) -> GridJob:
        """The job of ``grid`` over ``packed`` bars, with the grid as a writable float64 matrix for the kernels."""
        params = np.array(grid.to_numpy(dtype=np.float64), dtype=np.float64, order="C", copy=True)  # writable
        return cls(grid, params, packed, windows, costs, ppy, n_blocks)

    @property
    def n_symbols(self) -> int:
        return len(self.packed.offsets) - 1

    @property
    def n_items(self) -> int:
        return len(self.grid) * self.n_symbols

    @property
    def cells_per_item(self) -> float:
        """Bars one item simulates, over all its windows (the unit of work that sizes chunks)."""
        return self.packed.offsets[-1] / self.n_symbols * self.windows.shape[1]

    def bytes_per_item(self, strategy: type[Strategy]) -> float:
        """Memory an item needs while its chunk runs: its outputs, plus its exposures for numpy strategies."""
        outputs = 8.0 * (self.windows.shape[1] * N_METRICS + 2 * self.n_blocks)
        return outputs if is_compiled(strategy) else outputs + 8.0 * self.packed.offsets[-1] / self.n_symbols

    def outputs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Empty metrics (NaN) and block arrays for ``n`` items."""
        return np.full((n, self.windows.shape[1], N_METRICS), np.nan), np.zeros((n, self.n_blocks, 2))

    def run(self, strategy: type[Strategy], start: int, stop: int, metrics: np.ndarray, blocks: np.ndarray) -> None:
        """Metrics and blocks of items ``start .. stop - 1`` into ``metrics[i - start]``, ``blocks[i - start]``."""
        from workbench.engine.sweep_kernel import sweep_exposures_nb, sweep_signals_nb

        k = np.arange(start, stop, dtype=np.int64)
        n_sym, packed, costs = self.n_symbols, self.packed, self.costs
        if not is_compiled(strategy):
            _run_numpy_chunk(strategy, self, k, metrics, blocks, sweep_exposures_nb)
            return
        errors = np.zeros(len(k), dtype=np.int64)
        fn, symbols, combos = signal_kernel(strategy), k % n_sym, k // n_sym

        def items(a: int, b: int) -> None:
            sweep_signals_nb(
                fn,
                *packed.arrays,
                packed.sessions,
                packed.offsets,
                self.params,
                symbols[a:b],
                combos[a:b],
                self.windows,
                costs.cash,
                costs.fees,
                costs.fixed_fee,
                costs.slippage,
                costs.fill_close,
                self.ppy,
                costs.risk,
                metrics[a:b],
                blocks[a:b],
                errors[a:b],
            )

        parallel_items(items, len(k))
        _raise_on_bad_exposure(strategy, self.grid, packed, k, errors)


def _raise_on_bad_exposure(cls, grid, packed, items, errors) -> None:
    """Name the first parameter set whose signals came back with the wrong length or out-of-range values."""
    from workbench.engine.sweep_kernel import BAD_LENGTH

    bad = np.flatnonzero(errors)
    if not len(bad):
        return
    n_sym = len(packed.offsets) - 1
    item = int(items[bad[0]])
    values = dict(zip(cls.params(), row_values(cls, grid, item // n_sym), strict=True))
    s = item % n_sym
    n = int(packed.offsets[s + 1] - packed.offsets[s])
    problem = f"the wrong length (expected {n})" if errors[bad[0]] == BAD_LENGTH else "values outside [-1, 1]"
    raise ValueError(f"{cls.__name__}.signals returned {problem} for {values} ({len(bad)} runs in this chunk)")


def row_values(cls: type[Strategy], grid: pd.DataFrame, i: int) -> tuple:
    """Row ``i`` of ``grid`` as the typed argument tuple of ``cls.signals`` (ints stay ints)."""
    return tuple(spec.type(grid[name].iat[i]) for name, spec in cls.params().items())


def _run_numpy_chunk(cls, job, items, metrics, blocks, kernel) -> None:
    """Signals computed in Python (numpy strategies), simulated by the parallel kernel per symbol."""
    packed, costs, n_sym = job.packed, job.costs, job.n_symbols
    for s in range(n_sym):
        rows = np.flatnonzero(items % n_sym == s)  # positions in this chunk's outputs
        if not len(rows):
            continue
        arrays = packed.symbol_arrays(s)
        exposures = np.stack([call_signals(cls, arrays, row_values(cls, job.grid, c)) for c in items[rows] // n_sym])
        out = np.empty((len(rows), job.windows.shape[1], metrics.shape[2]))
        blk = np.zeros((len(rows), blocks.shape[1], 2))
        kernel(
            arrays[0],
            arrays[3],
            exposures,
            packed.sessions[packed.offsets[s] : packed.offsets[s + 1]],
            job.windows[s],
            costs.cash,
            costs.fees,
            costs.fixed_fee,
            costs.slippage,
            costs.fill_close,
            job.ppy[s],
            costs.risk,
            out,
            blk,
        )
        metrics[rows] = out
        blocks[rows] = blk


def parallel_items(run: Callable[[int, int], None], n: int) -> None:
    """``run(a, b)`` over slices of ``range(n)`` in as many threads as numba's (``numba.get_num_threads``, which
    ``numba.set_num_threads`` and ``NUMBA_NUM_THREADS`` set); ``run`` releases the GIL. Eight slices per thread,
    taken in turn, so that a thread slowed by other work on the machine does not hold up the others."""
    threads = max(1, min(get_num_threads(), n))
    if threads == 1:
        run(0, n)
        return
    slices = min(n, _SLICES_PER_THREAD * threads)
    bounds = [n * i // slices for i in range(slices + 1)]
    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(run, a, b) for a, b in pairwise(bounds)]:
            done.result()
