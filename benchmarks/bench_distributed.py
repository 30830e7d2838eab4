"""``wb.sweep`` on the local engine against the Dask engine with 1 and 2 workers, and the cost of one chunk.

    python benchmarks/bench_distributed.py [--symbols N] [--runs N]

Workload: ``bench_sweep``'s SMA-crossover grid (2,329 combinations; fees 0.1 %, fills at the close) over the
first ``--symbols`` bundled daily symbols, each over its own history. Rows, each the median of ``--runs``
warm calls (a first call, not timed, loads numba's cache in every process):

* ``local, N threads``: ``engine="local"`` with numba's N threads in this process (``numba.set_num_threads``);
* ``dask, W x 1``: ``engine="dask"`` on a ``LocalCluster`` of W single-threaded worker processes, each running
  its chunks with one numba thread; the cluster is started once, outside the timing (its start-up is printed).

Each row also shows the 1-minute load average when it ended: on this 2-core machine, anything above ~2 means
the rows shared their cores with other processes.

Per-chunk overhead: the same sweep on the 1-worker cluster cut into 8, 64 and 512 chunks; the slope of time
over chunk count is what one more chunk costs (a task round trip plus its result), against the local engine's
single in-process loop. Every Dask result is checked against the local one (largest difference printed).
No timing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numba
import numpy as np
from bench_sweep import FAST, FEES, SLOW, daily_bars

import workbench as wb
import workbench.engine.chunks as chunks


def sweep(bars: dict, **engine) -> wb.SweepResult:
    return wb.sweep("sma_cross", bars, fast=FAST, slow=SLOW, fees=FEES, fill="close", progress=False, **engine)


def timed(bars: dict, runs: int, **engine) -> tuple[float, wb.SweepResult]:
    """Median wall time of ``runs`` warm calls (after one untimed call) and the last result."""
    result = sweep(bars, **engine)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = sweep(bars, **engine)
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def largest_difference(a: wb.SweepResult, b: wb.SweepResult) -> float:
    x, y = a.metrics.to_numpy(dtype=float), b.metrics.to_numpy(dtype=float)
    assert a.metrics.index.equals(b.metrics.index) and np.array_equal(np.isnan(x), np.isnan(y))
    return float(np.nanmax(np.abs(x - y)))


def main() -> None:
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=8, help="bundled daily symbols to sweep (default 8)")
    parser.add_argument("--runs", type=int, default=3, help="timed calls per row (default 3)")
    args = parser.parse_args()
    bars = daily_bars(args.symbols)
    combos = sum(1 for f in FAST for s in SLOW if f < s)
    cells = sum(len(f) for f in bars.values()) * combos
    print(f"{len(bars)} symbols, {combos:,} combinations, {cells / 1e6:.1f} M bar-runs; load {os.getloadavg()}")

    rows = []
    threads = numba.get_num_threads()
    for n in sorted({1, threads}):
        numba.set_num_threads(n)
        seconds, result = timed(bars, args.runs)
        rows.append((f"local, {n} thread{'s' if n > 1 else ''}", seconds, 0.0, os.getloadavg()[0]))
        local = result
    numba.set_num_threads(threads)

    overhead = []
    for workers in (1, 2):
        began = time.perf_counter()
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            print(f"LocalCluster of {workers} worker(s) started in {time.perf_counter() - began:.2f} s")
            seconds, result = timed(bars, args.runs, engine="dask", client=client)
            rows.append((f"dask, {workers} x 1", seconds, largest_difference(local, result), os.getloadavg()[0]))
            if workers == 1:
                overhead = chunk_costs(bars, args.runs, client)
    print()
    print("| engine | seconds | ns/bar-run | speed-up vs local 1 thread | largest difference vs local | load |")
    print("|---|---:|---:|---:|---:|---:|")
    base = rows[0][1]
    for name, seconds, diff, load in rows:
        speed = f"{seconds / cells * 1e9:.2f} | {base / seconds:.2f}x"
        print(f"| {name} | {seconds:.3f} | {speed} | {diff:.1e} | {load:.1f} |")
    print()
    print("| chunks (1 worker) | seconds |")
    print("|---:|---:|")
    for n, seconds in overhead:
        print(f"| {n} | {seconds:.3f} |")
    slope = np.polyfit([n for n, _ in overhead], [s for _, s in overhead], 1)[0]
    print(f"\nper-chunk overhead: {slope * 1e3:.2f} ms (slope of time over chunk count)")


def chunk_costs(bars: dict, runs: int, client) -> list[tuple[int, float]]:
    """Wall time of the sweep on ``client`` cut into 8, 64 and 512 chunks (same work, more tasks)."""
    items = sum(1 for f in FAST for s in SLOW if f < s) * len(bars)
    out = []
    saved = chunks.MIN_CELLS_PER_CHUNK, chunks.CHUNKS_PER_THREAD
    try:
        chunks.MIN_CELLS_PER_CHUNK = 1
        for n in (8, 64, 512):
            chunks.CHUNKS_PER_THREAD = n  # with one worker thread: n chunks (items permitting)
            seconds, _ = timed(bars, runs, engine="dask", client=client)
            out.append((min(n, items), seconds))
    finally:
        chunks.MIN_CELLS_PER_CHUNK, chunks.CHUNKS_PER_THREAD = saved
    return out


if __name__ == "__main__":
    main()
