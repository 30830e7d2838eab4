"""Benchmark of the bar cache: a warm load of 50 symbols x 10 years of daily bars against a cold load from CSV.

    python benchmarks/bench_cache.py [--symbols 50] [--runs 5]

Data: the last 10 years (2016-06-01 .. 2026-05-29, about 2,510 bars each) of the bundled daily symbols, written
as ``SYMBOL.csv`` files to a temporary folder; past the 38 bundled symbols the series repeat with prices scaled
by 1.5 (new names, same shape). Every phase loads all symbols for that window and times it:

* ``cold CSV``: ``wb.load(symbols, source="csv", path=folder)``: FolderSource reads and parses each file and
  validates it. No cache is involved (the files themselves sit in the OS page cache after the first run).
* ``first fill``: a `CachedSource` over the same folder, empty cache: the cold load plus encoding and storing
  each history in memory and on disk. Timed once (later runs would hit).
* ``warm L1``: the same `CachedSource` again: memory hits (a dictionary lookup and a copy-on-write copy).
* ``warm L1 via load``: ``wb.load(symbols, source=cached)``, the same hits behind load's argument handling.
* ``warm L3 only``: a cache of the disk level alone on the filled folder: every call reads, checks and
  decodes the Arrow bytes from disk (a new process, or one whose memory level evicted them).
* ``warm L2 only``: the same with Redis alone, when a server answers on 127.0.0.1:6379 (database 15).

Each phase but ``first fill`` runs ``--runs`` times; the table shows the median and the fastest. Peak RSS is the
largest VmHWM over a phase's runs (reset through ``/proc/self/clear_refs`` before each), so it includes the
interpreter, pandas, pyarrow and whatever earlier phases left in memory. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench_sweep import memory_mb, reset_peak

import workbench as wb
from workbench.cache import CachedSource, DiskCache, MemoryCache, RedisCache, TieredCache
from workbench.data.sources import FolderSource, SampleSource

START, END = "2016-06-01", "2026-05-29"
REDIS = ("127.0.0.1", 6379)


def write_csv_folder(folder: Path, count: int) -> list[str]:
    """Write `count` daily CSV files of the 10-year window; return their symbols."""
    sample = SampleSource()
    bundled = [s for s in sample.symbols() if not s.endswith("_1min")]
    symbols = []
    for i in range(count):
        base = bundled[i % len(bundled)]
        bars = wb.load(base, start=START, end=END)
        scale = 1.5 ** (i // len(bundled))
        priced = bars.assign(**{c: bars[c] * scale for c in ("open", "high", "low", "close", "adj_close")})
        symbol = base if scale == 1 else f"{base}{i // len(bundled)}"
        priced.index = priced.index.strftime("%Y-%m-%d")
        priced.rename_axis("date").to_csv(folder / f"{symbol}.csv")
        symbols.append(symbol)
    return symbols


def timed(work: Callable[[], object], runs: int) -> tuple[list[float], float]:
    """Wall seconds of each of `runs` calls and the largest peak RSS (MB) over them."""
    times, peak = [], 0.0
    for _ in range(runs):
        gc.collect()
        reset_peak()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
        peak = max(peak, memory_mb("VmHWM"))
    return times, peak


def load_all(source: CachedSource, symbols: list[str]) -> None:
    for symbol in symbols:
        source.history(symbol, START, END)


def redis_url() -> str | None:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
    except OSError:
        return None
    return f"redis://{REDIS[0]}:{REDIS[1]}/15"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder, l3_dir = Path(tmp, "csv"), Path(tmp, "cache")
        folder.mkdir()
        symbols = write_csv_folder(folder, args.symbols)
        rows = sum(len(wb.load(s, source="csv", path=folder)) for s in symbols)
        print(f"{len(symbols)} symbols, {rows:,} daily bars ({rows // len(symbols):,} each), {START} .. {END}")
        print(f"load average {os.getloadavg()[0]:.2f}; Python {sys.version.split()[0]}\n")

        results: list[tuple[str, list[float], float]] = []
        results.append(("cold CSV", *timed(lambda: wb.load(symbols, START, END, source="csv", path=folder), args.runs)))

        memory, disk = MemoryCache(), DiskCache(l3_dir)
        cached = CachedSource(FolderSource(folder), TieredCache([memory, disk]))
        results.append(("first fill (CSV + store)", *timed(lambda: load_all(cached, symbols), 1)))
        results.append(("warm L1", *timed(lambda: load_all(cached, symbols), args.runs)))
        results.append(("warm L1 via load", *timed(lambda: wb.load(symbols, START, END, source=cached), args.runs)))
        assert cached.stats()["fetches"] == len(symbols), cached.stats()

        disk_only = CachedSource(FolderSource(folder), TieredCache([DiskCache(l3_dir)]))
        results.append(("warm L3 only", *timed(lambda: load_all(disk_only, symbols), args.runs)))
        assert disk_only.stats()["fetches"] == 0

        url = redis_url()
        if url is not None:
            l2 = RedisCache(url, prefix=f"bench:{uuid.uuid4().hex}:")
            try:
                redis_only = CachedSource(FolderSource(folder), TieredCache([l2]))
                load_all(redis_only, symbols)
                results.append(("warm L2 only", *timed(lambda: load_all(redis_only, symbols), args.runs)))
            finally:
                l2.clear()
                l2.close()

        cold = statistics.median(results[0][1])
        print(f"{'phase':<26} {'median ms':>10} {'best ms':>9} {'ms/symbol':>10} {'peak RSS MB':>12} {'cold/this':>10}")
        for name, times, peak in results:
            median = statistics.median(times)
            print(
                f"{name:<26} {median * 1e3:>10.1f} {min(times) * 1e3:>9.1f} {median * 1e3 / len(symbols):>10.2f} "
                f"{peak:>12.0f} {cold / median:>9.1f}x"
            )
        l1, l3 = memory.stats(), disk.stats()
        print(f"\nmemory level: {l1['entries']} entries, {l1['bytes'] / 2**20:.1f} MiB")
        print(f"disk level: {l3['entries']} entries, {l3['bytes'] / 2**20:.1f} MiB on disk")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
