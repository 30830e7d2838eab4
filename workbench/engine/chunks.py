"""How a grid run is cut into chunks for a cluster.

Enough chunks to keep every worker thread busy (and to lose little work when a worker dies), each large
enough that the per-task overhead stays small, none larger than the local engine's chunk, and none needing
more than a fraction of a worker's memory per running task.
"""

from __future__ import annotations

import math

CHUNKS_PER_THREAD = 4  # a lost worker costs about 1 / (4 x threads) of the run
MIN_CELLS_PER_CHUNK = 10_000_000  # bar-runs per task: ~0.1 s of kernel time against a few ms of overhead
MEMORY_FRACTION = 0.25  # of one task's share of a worker's memory limit


def chunk_bounds(
    n_items: int,
    cells_per_item: float,
    bytes_per_item: float,
    threads: int,
    memory_per_thread: float | None,
    max_cells: float,
) -> list[tuple[int, int]]:
    """Item ranges ``[(start, stop), ...]`` tiling ``0 .. n_items - 1`` in order.

    ``cells_per_item`` is the bars one item simulates, ``bytes_per_item`` the worker memory it needs while its
    chunk runs, ``threads`` the cluster's worker threads, ``memory_per_thread`` a worker's memory limit over
    its threads (None: no limit) and ``max_cells`` the largest chunk in bar-runs.

    Examples
    --------
    >>> chunk_bounds(10, 1e7, 1e3, threads=2, memory_per_thread=None, max_cells=4e7)
    [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    """
    cells = max(cells_per_item, 1.0)
    size = max(math.ceil(n_items / (CHUNKS_PER_THREAD * max(threads, 1))), math.ceil(MIN_CELLS_PER_CHUNK / cells))
    size = min(size, int(max_cells // cells))
    if memory_per_thread:
        size = min(size, int(MEMORY_FRACTION * memory_per_thread // max(bytes_per_item, 1.0)))
    size = max(size, 1)
    return [(a, min(a + size, n_items)) for a in range(0, n_items, size)]
