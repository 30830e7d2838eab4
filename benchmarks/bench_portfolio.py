"""Side-by-side benchmark of a universe sweep: ``wb.sweep`` of the bundled momentum strategy against vectorbt's
``Portfolio.from_orders`` on the same weights, with a results check.

    python benchmarks/bench_portfolio.py [--quick]

Workload: the bundled daily symbols (38; 8 with ``--quick``) in one account over their whole history (2000-2026,
the union of their dates), momentum with lookback in range(10, 260, 10), top in (1, 2, 3, 5, 8) and every in
(1, 5, 10, 21): 500 parameter sets; fees 0.1 %, cash 10,000, orders at the signal bar's close.

vectorbt's side is given the weights ready-made (computed by the same numba function; its time is not counted):
it runs ``from_orders(close, size=W, size_type="targetpercent", group_by=True, cash_sharing=True,
call_seq="auto")`` over every parameter set, a few per call (a group of 38 columns each) to stay in memory. Each
side runs in its own subprocess (``--side ours|vectorbt``) so that its peak memory is its own, and makes its call
twice: run 1 includes numba's cache load (or compilation), run 2 is warm. The parent checks that both sides give
the same total return on every parameter set and prints the table; "ratio" is vectorbt's time over ours.
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

LOOKBACK, TOP, EVERY = range(10, 260, 10), (1, 2, 3, 5, 8), (1, 5, 10, 21)
FEES, CASH = 0.001, 10_000.0
SYMBOLS = {False: None, True: 8}  # None: every daily symbol of the bundled sample
SETS_PER_CALL = 20  # vectorbt parameter sets per from_orders call (~760 columns of ~6,600 bars)
RTOL = 1e-9


def grid() -> list[tuple[int, int, int]]:
    """The (lookback, top, every) sets in the order the sweep enumerates them."""
    return [(lookback, top, every) for lookback in LOOKBACK for top in TOP for every in EVERY]


def daily_bars(limit: int | None) -> dict[str, pd.DataFrame]:
    """The bundled daily symbols (the first ``limit`` of them); intraday samples are left out."""
    from workbench.data import SampleSource, load

    frames = load(SampleSource().symbols())
    daily = {s: f for s, f in frames.items() if f.index.to_series().diff().median() >= pd.Timedelta(hours=20)}
    return dict(list(daily.items())[:limit])


def run_ours(frames: dict[str, pd.DataFrame]) -> pd.Series:
    """The workbench sweep: every parameter set in one call; its total returns."""
    import workbench as wb

    res = wb.sweep(
        "momentum", frames, lookback=LOOKBACK, top=TOP, every=EVERY, fees=FEES, cash=CASH, fill="close", progress=False
    )
    return res.metrics["total_return"]


def weights_of(frames: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """The closes (one column per symbol, on the union of dates) and every parameter set's weights."""
    import workbench as wb
    from workbench.strategies.universe import Panel

    panel = Panel.of(frames)
    fn = wb.strategy("momentum").weights
    close = pd.DataFrame(panel.arrays[3], index=panel.index, columns=panel.symbols)
    return close, [fn(*panel.arrays, lookback, top, every) for lookback, top, every in grid()]


def run_vectorbt(close: pd.DataFrame, weights: list[np.ndarray]) -> pd.Series:
    """vectorbt's from_orders on the ready-made weights, ``SETS_PER_CALL`` groups of columns per call."""
    import vectorbt as vbt

    m, returns = close.shape[1], []
    for i in range(0, len(weights), SETS_PER_CALL):
        chunk = weights[i : i + SETS_PER_CALL]
        wide = pd.concat([close] * len(chunk), axis=1, keys=range(len(chunk)), names=["set", "symbol"])
        pf = vbt.Portfolio.from_orders(
            wide,
            size=np.hstack(chunk),
            size_type="targetpercent",
            group_by=np.repeat(np.arange(len(chunk)), m),
            cash_sharing=True,
            call_seq="auto",
            fees=FEES,
            init_cash=CASH,
            freq="1D",
        )
        returns.extend(pf.total_return().to_numpy())
        del pf, wide
        gc.collect()
    return pd.Series(returns, index=pd.MultiIndex.from_tuples(grid(), names=["lookback", "top", "every"]))


def memory_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (current) of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Make VmHWM restart from the current RSS (Linux ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def side(name: str, quick: bool) -> dict:
    """Run one side (in its own process) and return its timings, peaks and total returns."""
    frames = daily_bars(SYMBOLS[quick])
    if name == "ours":
        work = lambda: run_ours(frames)  # noqa: E731
    else:
        import vectorbt  # noqa: F401  (not timed)

        close, weights = weights_of(frames)
        work = lambda: run_vectorbt(close, weights)  # noqa: E731
    result = {"base_mb": memory_mb("VmRSS"), "runs": []}
    for _ in range(2):
        gc.collect()
        reset_peak()
        start, cpu = time.perf_counter(), time.process_time()
        returns = work()
        result["runs"].append((time.perf_counter() - start, time.process_time() - cpu, memory_mb("VmHWM")))
    result["returns"] = returns
    return result


def spawn(name: str, quick: bool, tmp: str) -> dict:
    """Run ``side(name, ...)`` in a new Python process and return its result."""
    out = Path(tmp) / f"{name}.pkl"
    cmd = [sys.executable, __file__, "--side", name, "--out", str(out)]
    subprocess.run(cmd + ["--quick"] * quick, check=True)
    return pickle.loads(out.read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 symbols")
    parser.add_argument("--side", choices=["ours", "vectorbt"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        Path(args.out).write_bytes(pickle.dumps(side(args.side, args.quick)))
        return
    frames = daily_bars(SYMBOLS[args.quick])
    bars = len(pd.DatetimeIndex(sorted(set().union(*(f.index for f in frames.values())))))
    cells = bars * len(frames) * len(grid())
    print(
        f"== momentum over {len(frames)} symbols x {bars:,} bar times x {len(grid())} parameter sets = "
        f"{cells / 1e6:,.0f} M cells; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = spawn("ours", args.quick, tmp), spawn("vectorbt", args.quick, tmp)
    a, b = ours["returns"].to_numpy(), theirs["returns"].reindex(ours["returns"].index).to_numpy()
    rel = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes on the 2 cores skew timings)")
    verdict = "OK" if rel.max() <= RTOL else "MISMATCH"
    print(f"check: total return of {len(a)} parameter sets, max rel diff {rel.max():.1e} -> {verdict}")
    print("\n| tool | run | seconds | ns/cell | peak RSS MB | ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for tool, res in (("workbench", ours), ("vectorbt", theirs)):
        for i, (sec, _, peak) in enumerate(res["runs"]):
            ratio = f"{theirs['runs'][i][0] / sec:.0f}x" if tool == "workbench" else ""
            run = ("1 (first)", "2 (warm)")[i]
            print(f"| {tool} | {run} | {sec:.3f} | {sec * 1e9 / cells:.2f} | {peak:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
