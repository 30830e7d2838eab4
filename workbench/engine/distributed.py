"""The Dask engine: a grid run cut into chunks on a distributed cluster, assembled exactly as the local engine.

The job (grid, packed bars, windows, costs) is scattered to every worker once; each chunk task receives its
future and an item range and runs ``GridJob.run``, the code and kernels the local engine runs, so the rows are
identical. Rows are assembled by item index. A worker lost mid-run costs only the chunks it held: the
scheduler runs them again on the other workers (up to ``distributed.scheduler.allowed-failures`` times per
chunk); every worker holds a copy of the job, and if the cluster still loses it (the workers holding it died),
the chunks left run again with the job scattered anew. Ctrl-C cancels the outstanding chunks
and keeps the leading rows done, like the local engine.

Dask is imported only when ``engine="dask"`` is used (``pip install "dask[distributed]"``).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from workbench.engine.chunks import chunk_bounds
from workbench.engine.grid_job import GridRun
from workbench.engine.strategy_ref import StrategyRef, resolve, strategy_ref
from workbench.strategies.base import StrategyBase

if TYPE_CHECKING:
    from distributed import Client

    from workbench.engine.grid_job import GridJob
    from workbench.engine.universe_job import UniverseJob

ENGINES = ("local", "dask")
_LOST_DATA_ROUNDS = 3  # rounds of re-scattering the job after the cluster lost it, before giving up
WORKER_WAIT = 30.0  # seconds to wait for a first worker to join the scheduler

# numba's workqueue threading layer must not be entered from two threads at once, so a worker process runs
# one chunk at a time, with as many numba threads as the worker has Dask threads (its CPU budget).
_ONE_CHUNK_AT_A_TIME = threading.Lock()


def check_engine(engine: str, client: Any) -> None:
    """Raise ``ValueError`` for an unknown engine or a ``client`` given to the local engine.

    Examples
    --------
    >>> check_engine("local", None)
    >>> check_engine("spark", None)
    Traceback (most recent call last):
    ...
    ValueError: engine='spark': must be one of local, dask
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: must be one of {', '.join(ENGINES)}")
    if engine == "local" and client is not None:
        raise ValueError(f"client={client!r}: a Dask client or scheduler address needs engine='dask'")
    if client is not None and not isinstance(client, str):
        from distributed import Client

        if not isinstance(client, Client):
            raise TypeError(f"client={client!r}: must be a distributed.Client or an address like 'tcp://host:8786'")


@contextmanager
def open_client(engine: str, client: Client | str | None) -> Iterator[Client | None]:
    """The Dask client a grid run uses, or None for the local engine.

    With ``engine="dask"``: a given ``Client`` is used as is; an address (``"tcp://host:8786"``) is connected
    to, and the connection closed afterwards; None starts a ``LocalCluster`` of one single-threaded worker
    process per core, shut down afterwards (in a script, call this under ``if __name__ == "__main__":``).

    Examples
    --------
    >>> with open_client("local", None) as client:
    ...     print(client)
    None
    """
    check_engine(engine, client)
    if engine == "local":
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError('engine="dask" needs dask.distributed: pip install "dask[distributed]"') from exc
    if isinstance(client, Client):
        yield client
    elif client is None:
        cores = os.cpu_count() or 1
        with (
            LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as local,
        ):
            yield local
    else:
        try:
            remote = Client(client)
        except OSError as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {client}: {exc}") from exc
        with remote:
            yield remote


def run_on_cluster(
    client: Client, cls: type[StrategyBase], job: GridJob | UniverseJob, max_cells: float, progress: bool = True
) -> GridRun:
    """``run_grid`` on a Dask cluster: the same ``GridRun`` as the local engine, computed in chunks on workers.

    Chunks hold at most ``max_cells`` bar-runs (the local engine's chunk); ``chunks.chunk_bounds`` sizes them.

    Examples
    --------
    >>> import workbench as wb
    >>> from distributed import Client
    >>> res = wb.sweep("sma_cross", wb.load("SPY"), engine="dask", client=Client())  # doctest: +SKIP
    """
    threads, memory = _capacity(client)
    bounds = chunk_bounds(job.n_items, job.cells_per_item, job.bytes_per_item(cls), threads, memory, max_cells)
    ref = strategy_ref(cls)
    metrics, blocks = job.outputs(job.n_items)
    finished = np.zeros(job.n_items, dtype=bool)
    bar = tqdm(total=job.n_items, desc=f"sweep {cls.name} (dask)", unit="run", delay=2.0, disable=not progress)
    interrupted = False
    try:
        for _ in range(_LOST_DATA_ROUNDS):
            bounds = _collect(client, ref, job, bounds, metrics, blocks, finished, bar)
            if not bounds:
                break
        else:
            raise RuntimeError(
                f"the Dask cluster lost the sweep's data {_LOST_DATA_ROUNDS} times in a row "
                f"({len(bounds)} chunks left); its workers keep dying: see the workers' logs"
            )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    done = job.n_items if finished.all() else int(np.argmin(finished))  # leading rows only, as the local engine
    if interrupted:
        warnings.warn(
            f"sweep interrupted: {done} of {job.n_items} runs done; returning those", RuntimeWarning, stacklevel=4
        )
    return GridRun(metrics[:done], blocks[:done], done)


def _collect(
    client: Client,
    ref: StrategyRef | type[StrategyBase],
    job: GridJob | UniverseJob,
    bounds: list[tuple[int, int]],
    metrics: np.ndarray,
    blocks: np.ndarray,
    finished: np.ndarray,
    bar: Any,
) -> list[tuple[int, int]]:
    """One round: scatter ``job``, run ``bounds`` on the cluster, store results; return the chunks to run again.

    A chunk comes back cancelled when the cluster lost the scattered job (every worker holding it died); those
    chunks run again in a new round with the job scattered anew. A chunk that raised raises here.
    """
    from distributed import as_completed

    [shared] = client.scatter([job], broadcast=True, hash=False)
    futures = {client.submit(run_chunk, ref, shared, a, b, pure=False): (a, b) for a, b in bounds}
    again: list[tuple[int, int]] = []
    try:
        for future in as_completed(futures, raise_errors=False):  # chunks collected as they finish
            a, b = futures[future]
            if future.status == "cancelled":
                again.append((a, b))
                continue
            metrics[a:b], blocks[a:b] = future.result()  # raises the chunk's own error
            finished[a:b] = True
            bar.update(b - a)
    finally:
        client.cancel([*futures, shared])
    return sorted(again)


def run_chunk(
    strategy: StrategyRef | type[StrategyBase], job: GridJob | UniverseJob, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """The task a worker runs: metrics and blocks of items ``start .. stop - 1`` of ``job`` (see ``GridJob.run``)."""
    import numba
    from distributed import get_worker

    threads = max(1, min(get_worker().state.nthreads, numba.config.NUMBA_NUM_THREADS))
    with _ONE_CHUNK_AT_A_TIME:  # also makes the first import and kernel build of a strategy one at a time
        cls = resolve(strategy)
        numba.set_num_threads(threads)
        metrics, blocks = job.outputs(stop - start)
        job.run(cls, start, stop, metrics, blocks)
    return metrics, blocks


def _capacity(client: Client) -> tuple[int, float | None]:
    """Worker threads of the cluster and the smallest memory limit per thread (None: unlimited)."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except TimeoutError:
        raise TimeoutError(
            f"no Dask worker joined the scheduler {client.scheduler.address} within {WORKER_WAIT:.0f} s; "
            f"start one with `dask worker {client.scheduler.address}`"
        ) from None
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    threads = sum(w["nthreads"] for w in workers)
    limits = [w["memory_limit"] / w["nthreads"] for w in workers if w["memory_limit"]]
    return threads, min(limits) if limits else None
