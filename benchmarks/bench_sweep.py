"""Side-by-side benchmark of ``wb.sweep`` and vectorbt on an SMA-crossover grid, with a results check.

    python benchmarks/bench_sweep.py [--workload minute|daily|all] [--quick]

Workloads (grid: fast in range(5, 55), slow in range(20, 220, 4), fast < slow -> 2,329 combinations;
long-only, all-in, fees 0.1 % per side, cash 10,000, fills at the signal bar's close):

* ``minute``: 40,000 one-minute bars (10,000 with ``--quick``) of a seeded geometric random walk.
* ``daily``: the 38 bundled daily symbols (4 with ``--quick``), each swept over its own history.

Each side runs in its own subprocess of this script (``--side ours|vectorbt|fresh``), so that its peak memory
is its own. A side makes the same call twice: run 1 includes numba's cache load (or compilation), run 2 is
warm. The peak RSS of a run is VmHWM after resetting it through ``/proc/self/clear_refs``; it includes the
interpreter, pandas and numba (about 250 MB). The ``fresh`` side times ``import workbench`` plus one sweep in
a new process after the others have filled numba's on-disk cache. The parent checks that both sides give the
same metrics and prints the table; "ratio" is vectorbt's time over ours for the same run.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FAST, SLOW = range(5, 55), range(20, 220, 4)
FEES, CASH = 0.001, 10_000.0
MINUTE_BARS = {False: 40_000, True: 10_000}
DAILY_SYMBOLS = {False: None, True: 4}  # None: all daily symbols of the bundled sample
# vectorbt holds ~130 bytes per (bar x column) in one call: at most this many per call keeps a daily call
# under ~7 GB (the minute workload, one symbol, is always one call of 93 M cells, ~12 GB).
VBT_CELLS_PER_CALL = 50_000_000
# Metrics compared between the two sides; ``sharpe_bar`` is the Sharpe ratio over sqrt(periods per year).
COLUMNS = ["total_return", "sharpe_bar", "max_drawdown", "trades"]
RTOL = 1e-9


def pairs() -> list[tuple[int, int]]:
    """The (fast, slow) grid in the order both tools enumerate it."""
    return [(f, s) for f in FAST for s in SLOW if f < s]


def minute_bars(n: int, seed: int = 42) -> pd.DataFrame:
    """``n`` one-minute OHLCV bars of a GBM (0 drift, 0.05 % per bar); open is the previous close."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 5e-4, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, 2e-4, (2, n)))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick[0]),
            "low": np.minimum(open_, close) * (1 - wick[1]),
            "close": close,
            "volume": rng.integers(100, 10_000, n).astype(np.float64),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC", name="timestamp"),
    )


def daily_bars(limit: int | None) -> dict[str, pd.DataFrame]:
    """The bundled daily symbols (the first ``limit`` of them), validated; intraday samples are left out."""
    from workbench.data import SampleSource, load

    frames = load(SampleSource().symbols())
    daily = {s: f for s, f in frames.items() if f.index.to_series().diff().median() >= pd.Timedelta(hours=20)}
    return dict(list(daily.items())[:limit])


def workload_bars(workload: str, quick: bool) -> tuple[dict[str, pd.DataFrame], str]:
    """Bars by symbol and the bar frequency vectorbt annualizes with."""
    if workload == "minute":
        return {"GBM": minute_bars(MINUTE_BARS[quick])}, "1min"
    return daily_bars(DAILY_SYMBOLS[quick]), "1D"


def run_ours(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The workbench sweep of all symbols in one call, as the metrics both sides are compared on."""
    import workbench as wb

    res = wb.sweep("sma_cross", frames, fast=FAST, slow=SLOW, fees=FEES, cash=CASH, fill="close", progress=False)
    m = res.metrics
    ann = m.index.get_level_values("symbol").map(res.periods_per_year).to_numpy(dtype=np.float64)
    return m.assign(sharpe_bar=m["sharpe"] / np.sqrt(ann))[COLUMNS]


def vbt_closes(frames: dict[str, pd.DataFrame]) -> list[pd.DataFrame]:
    """Close prices as vectorbt calls: symbols on the same dates side by side, at most VBT_CELLS_PER_CALL."""
    groups: dict[bytes, list[str]] = {}
    for symbol, frame in frames.items():
        groups.setdefault(frame.index.asi8.tobytes(), []).append(symbol)
    calls = []
    for symbols in groups.values():
        per_call = max(1, VBT_CELLS_PER_CALL // (len(frames[symbols[0]]) * len(pairs())))
        for i in range(0, len(symbols), per_call):
            chunk = symbols[i : i + per_call]
            calls.append(pd.DataFrame({s: frames[s]["close"] for s in chunk}).rename_axis(columns="symbol"))
    return calls


def run_vectorbt(closes: list[pd.DataFrame], freq: str) -> pd.DataFrame:
    """vectorbt's idiomatic grid: two MA runs aligned to the pairs, crossovers, from_signals, metrics."""
    import vectorbt as vbt

    vbt.settings["engine"] = "numba"
    fast_w, slow_w = map(list, zip(*pairs(), strict=True))
    ann = pd.Timedelta(vbt.settings.returns["year_freq"]) / pd.Timedelta(freq)
    parts = []
    for close in closes:
        fast = vbt.MA.run(close, window=fast_w, short_name="fast")
        slow = vbt.MA.run(close, window=slow_w, short_name="slow")
        pf = vbt.Portfolio.from_signals(
            close,
            fast.ma_crossed_above(slow),
            fast.ma_crossed_below(slow),
            size=np.inf,
            fees=FEES,
            init_cash=CASH,
            freq=freq,
        )
        parts.append(
            pd.DataFrame(
                {
                    "total_return": pf.total_return(),
                    "sharpe_bar": pf.sharpe_ratio() / np.sqrt(ann),
                    "max_drawdown": pf.max_drawdown(),
                    "trades": pf.trades.count(),
                }
            )
        )
        del fast, slow, pf
        gc.collect()  # vectorbt's objects hold reference cycles: free this call's arrays before the next
    return pd.concat(parts).rename_axis(["fast", "slow", "symbol"])


def memory_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (current) of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Make VmHWM restart from the current RSS (Linux ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def side(name: str, workload: str, quick: bool) -> dict:
    """Run one side (in its own process) and return its timings, peaks and metrics."""
    frames, freq = workload_bars(workload, quick)
    if name == "fresh":
        start, cpu = time.perf_counter(), time.process_time()
        import workbench  # noqa: F401  (timed: the package import is part of a first sweep)

        imported = time.perf_counter()
        run_ours(frames)
        end = time.perf_counter()
        return {
            "import_s": imported - start,
            "runs": [(end - start, time.process_time() - cpu, memory_mb("VmHWM"))],
        }
    if name == "ours":
        calls, work = 1, lambda: run_ours(frames)
    else:
        import vectorbt  # noqa: F401  (the import is not timed, as for workbench, whose import is light)

        closes = vbt_closes(frames)
        calls, work = len(closes), lambda: run_vectorbt(closes, freq)
    result = {"base_mb": memory_mb("VmRSS"), "runs": [], "calls": calls}
    for _ in range(2):
        gc.collect()
        reset_peak()
        start, cpu = time.perf_counter(), time.process_time()
        metrics = work()
        result["runs"].append((time.perf_counter() - start, time.process_time() - cpu, memory_mb("VmHWM")))
    result["metrics"] = metrics
    return result


def spawn(name: str, workload: str, quick: bool, tmp: str) -> dict:
    """Run ``side(name, ...)`` in a new Python process and return its result."""
    out = Path(tmp) / f"{workload}_{name}.pkl"
    cmd = [sys.executable, __file__, "--side", name, "--workload", workload, "--out", str(out)]
    subprocess.run(cmd + ["--quick"] * quick, check=True)
    return pickle.loads(out.read_bytes())


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    """Print the largest relative difference of each metric (where, both values) and trade-count mismatches."""
    theirs = theirs.reindex(ours.index)
    worst = 0.0
    for col in COLUMNS[:-1]:
        a, b = ours[col].to_numpy(), theirs[col].to_numpy()
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        with np.errstate(invalid="ignore"):
            rel = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)
        rel = np.where(same, 0.0, np.nan_to_num(rel, nan=np.inf))
        i = int(np.argmax(rel))
        worst = max(worst, rel[i])
        where = " ".join(f"{n}={v}" for n, v in zip(ours.index.names, ours.index[i], strict=True))
        print(f"  {col}: max rel diff {rel[i]:.1e} at {where} (ours {a[i]:.15g}, vectorbt {b[i]:.15g})")
    mismatches = int((ours["trades"] != theirs["trades"]).sum())
    verdict = "OK" if worst <= RTOL and mismatches == 0 else "MISMATCH"
    print(f"  trades: {mismatches} mismatches -> {verdict} (relative tolerance {RTOL:g})")


def bench(workload: str, quick: bool, tmp: str) -> list[tuple]:
    """Run both sides of one workload, print the check, return the table rows."""
    frames, _ = workload_bars(workload, quick)
    n_combos = len(pairs())
    cells = sum(len(f) for f in frames.values()) * n_combos
    print(
        f"\n== {workload}: {len(frames)} symbol(s), {cells // n_combos:,} bars x {n_combos:,} combos "
        f"= {cells / 1e6:.1f} M cells; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    ours = spawn("ours", workload, quick, tmp)
    fresh = spawn("fresh", workload, quick, tmp)
    vbt = spawn("vectorbt", workload, quick, tmp)
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes on the 2 cores skew timings)")
    print(
        f"vectorbt: {vbt['calls']} call(s); RSS before run 1: ours {ours['base_mb']:.0f} MB, vectorbt "
        f"{vbt['base_mb']:.0f} MB; fresh process: import workbench {fresh['import_s'] * 1e3:.1f} ms"
    )
    print(f"check, ours vs vectorbt on {len(ours['metrics']):,} rows:")
    compare(ours["metrics"], vbt["metrics"])
    rows = []
    for tool, res in (("workbench", ours), ("vectorbt", vbt), ("workbench", fresh)):
        for i, (sec, cpu, peak) in enumerate(res["runs"]):
            run = "fresh process" if res is fresh else ("1 (first)", "2 (warm)")[i]
            ratio = vbt["runs"][i][0] / sec if tool == "workbench" else None
            rows.append((workload, tool, run, sec, sec * 1e9 / cells, peak, ratio))
            print(f"{tool} {run}: {sec:.3f} s wall, {cpu:.3f} s CPU ({cpu / sec:.0%} of one core)")
    return rows


def print_table(rows: list[tuple]) -> None:
    print("\n| workload | tool | run | seconds | ns/cell | peak RSS MB | ratio |")
    print("|---|---|---|---:|---:|---:|---:|")
    for workload, tool, run, sec, ns, peak, ratio in rows:
        r = f"{ratio:.0f}x" if ratio else ""
        print(f"| {workload} | {tool} | {run} | {sec:.3f} | {ns:.2f} | {peak:,.0f} | {r} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", choices=["minute", "daily", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="10,000 minute bars, 4 daily symbols")
    parser.add_argument("--side", choices=["ours", "vectorbt", "fresh"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        Path(args.out).write_bytes(pickle.dumps(side(args.side, args.workload, args.quick)))
        return
    workloads = ["minute", "daily"] if args.workload == "all" else [args.workload]
    with tempfile.TemporaryDirectory() as tmp:
        rows = [row for w in workloads for row in bench(w, args.quick, tmp)]
    print_table(rows)


if __name__ == "__main__":
    main()
