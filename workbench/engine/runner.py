"""Runs a parameter grid over packed bars in chunks: progress bar, Ctrl-C keeps the rows done so far."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench.engine.inputs import Costs, Packed
from workbench.engine.metrics import N_METRICS
from workbench.strategies.base import Strategy, call_signals
from workbench.strategies.kernel import is_compiled, signal_kernel

# Work per kernel call (bars x parameter sets): small enough for a responsive progress bar and Ctrl-C,
# large enough that the per-call overhead stays under a percent.
_CELLS_PER_CHUNK = 40_000_000


@dataclass
class GridRun:
    """Raw output of a grid run: item k is (parameter set ``k // n_symbols``, symbol ``k % n_symbols``)."""

    metrics: np.ndarray  # [items, windows, N_METRICS]
    blocks: np.ndarray  # [items, blocks, 2] per-block return sums over window 0
    done: int  # items computed (all of them unless interrupted)


def run_grid(
    cls: type[Strategy],
    grid: pd.DataFrame,
    packed: Packed,
    windows: np.ndarray,
    costs: Costs,
    ppy: np.ndarray,
    n_blocks: int = 0,
    progress: bool = True,
) -> GridRun:
    """Metrics of every (parameter set, symbol) in every window; see ``sweep_kernel`` for the layout."""
    from workbench.engine.sweep_kernel import sweep_exposures_nb, sweep_signals_nb

    n_sym = len(packed.offsets) - 1
    params = np.array(grid.to_numpy(dtype=np.float64), dtype=np.float64, order="C", copy=True)  # writable
    n_items = len(grid) * n_sym
    metrics = np.full((n_items, windows.shape[1], N_METRICS), np.nan)
    blocks = np.zeros((n_items, n_blocks, 2))
    # One call in Python first: a wrong output shape or range fails here with a clear message.
    call_signals(cls, packed.symbol_arrays(0), row_values(cls, grid, 0))
    bars_per_item = packed.offsets[-1] / n_sym
    chunk = max(1, int(_CELLS_PER_CHUNK // max(bars_per_item * windows.shape[1], 1)))
    compiled = is_compiled(cls)
    kernel = signal_kernel(cls) if compiled else None
    done = 0
    bar = tqdm(total=n_items, desc=f"sweep {cls.name}", unit="run", delay=2.0, disable=not progress)
    try:
        while done < n_items:
            k = np.arange(done, min(done + chunk, n_items), dtype=np.int64)
            if compiled:
                errors = np.zeros(len(k), dtype=np.int64)
                sweep_signals_nb(
                    kernel,
                    *packed.arrays,
                    packed.sessions,
                    packed.offsets,
                    params,
                    k % n_sym,
                    k // n_sym,
                    windows,
                    costs.cash,
                    costs.fees,
                    costs.fixed_fee,
                    costs.slippage,
                    costs.fill_close,
                    ppy,
                    costs.risk,
                    metrics[k[0] : k[-1] + 1],
                    blocks[k[0] : k[-1] + 1],
                    errors,
                )
                _raise_on_bad_exposure(cls, grid, packed, k, errors)
            else:
                _run_numpy_chunk(cls, grid, packed, windows, costs, ppy, k, metrics, blocks, sweep_exposures_nb)
            done = int(k[-1]) + 1
            bar.update(len(k))
    except KeyboardInterrupt:
        warnings.warn(
            f"sweep interrupted: {done} of {n_items} runs done; returning those", RuntimeWarning, stacklevel=3
        )
    finally:
        bar.close()
    return GridRun(metrics[:done], blocks[:done], done)


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


def _run_numpy_chunk(cls, grid, packed, windows, costs, ppy, items, metrics, blocks, kernel) -> None:
    """Signals computed in Python (numpy strategies), simulated by the parallel kernel per symbol."""
    n_sym = len(packed.offsets) - 1
    for s in range(n_sym):
        mine = items[items % n_sym == s]
        if not len(mine):
            continue
        arrays = packed.symbol_arrays(s)
        exposures = np.stack([call_signals(cls, arrays, row_values(cls, grid, c)) for c in mine // n_sym])
        out = np.empty((len(mine), windows.shape[1], metrics.shape[2]))
        blk = np.zeros((len(mine), blocks.shape[1], 2))
        kernel(
            arrays[0],
            arrays[3],
            exposures,
            packed.sessions[packed.offsets[s] : packed.offsets[s + 1]],
            windows[s],
            costs.cash,
            costs.fees,
            costs.fixed_fee,
            costs.slippage,
            costs.fill_close,
            ppy[s],
            costs.risk,
            out,
            blk,
        )
        metrics[mine] = out
        blocks[mine] = blk
