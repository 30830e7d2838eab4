"""First contact: what a new user waits for, each measured in a fresh process, beside backtesting.py's first call.

    python benchmarks/bench_first_contact.py            # help, warm CLI sweep, to_vectorbt, peers (about 1 min)
    python benchmarks/bench_first_contact.py --cold     # also the first sweep on an empty numba cache (+20-40 s)

Rows (wall time of a new process, from its start to its exit, unless said otherwise):

* ``workbench --help``: the CLI's import and help text (goal: under 0.3 s).
* ``workbench sweep sma_cross`` warm: the bundled sweep (2,350 runs over SPY) with numba's cache filled; beside it
  the sweep's own time as the command prints it (goal: the process within 0.5 s of it).
* ``workbench sweep sma_cross`` cold (``--cold``): the same with ``NUMBA_CACHE_DIR`` an empty folder, as on the
  first run after an install; the numba compile dominates (goal: under 5 s; 10-11 s on two cores under load).
* ``bt.to_vectorbt()``: the call alone, in a process that has run a backtest but not imported vectorbt (goal:
  under 3 s; it is mostly vectorbt's own import).
* ``wb.backtest`` first call: import and one SMA(10/60) backtest of 2,520 daily SPY bars, beside backtesting.py's
  first call on the same bars and strategy (the peer: ``Backtest(...).run()`` including its import).
* ``wb.sweep`` first call: import and the default SMA grid (2,350 pairs) over the same 2,520 bars (#17's goal:
  under 0.5 s with a warm numba cache).

The machine is shared and has two cores: the load average is printed, and each row is the best of ``--repeat``
runs. Timings are never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

WORKBENCH = shutil.which("workbench") or "workbench"

TO_VECTORBT = """
import time, workbench as wb
bt = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=60), wb.load("SPY").iloc[-2520:], fees=0.001)
began = time.perf_counter()
bt.to_vectorbt()
print(time.perf_counter() - began)
"""

OURS_FIRST = """
import workbench as wb
bars = wb.load("SPY").iloc[-2520:]
wb.backtest(wb.strategy("sma_cross")(fast=10, slow=60), bars, fees=0.001)
"""

OURS_FIRST_SWEEP = """
import workbench as wb
wb.sweep("sma_cross", wb.load("SPY").iloc[-2520:], progress=False, fees=0.001)
"""

PEER_FIRST = """
import pandas as pd
import workbench as wb
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

def sma(values, n):
    return pd.Series(values).rolling(n).mean().to_numpy()

class SmaCross(Strategy):
    def init(self):
        self.fast = self.I(sma, self.data.Close, 10)
        self.slow = self.I(sma, self.data.Close, 60)

    def next(self):
        if crossover(self.fast, self.slow):
            self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()

bars = wb.load("SPY").iloc[-2520:]
frame = bars.rename(columns=str.title)[["Open", "High", "Low", "Close", "Volume"]]
Backtest(frame, SmaCross, cash=10_000, commission=0.001).run()
"""


def wall(args: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Seconds from a new process's start to its exit, and its stdout; a failure stops the benchmark."""
    began = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode:
        sys.exit(f"{' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def best(runs: int, args: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """The fastest of ``runs`` runs (the least disturbed by other work on the machine)."""
    return min((wall(args, env) for _ in range(runs)), key=lambda r: r[0])


def sweep_time(stdout: str) -> float:
    """The sweep's own seconds, as ``workbench sweep`` prints them (``... in 0.84 s; best 20 ...``)."""
    found = re.search(r" in ([0-9.]+) s; best", stdout)
    return float(found.group(1)) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time the first sweep on an empty numba cache")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the best is shown")
    args = parser.parse_args()
    env = {**os.environ, "WORKBENCH_HOME": tempfile.mkdtemp(prefix="wb-bench-")}
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows: list[tuple[str, float, str]] = []

    help_s, _ = best(args.repeat, [WORKBENCH, "--help"], env)
    rows.append(("workbench --help", help_s, "goal < 0.3 s"))

    wall([WORKBENCH, "warmup"], env)
    warm_s, out = best(args.repeat, [WORKBENCH, "sweep", "sma_cross"], env)
    own = sweep_time(out)
    note = f"sweep itself {own:.2f} s, overhead {warm_s - own:.2f} s"
    rows.append(("workbench sweep sma_cross (warm)", warm_s, note))

    if args.cold:
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
            cold_s, out = wall([WORKBENCH, "sweep", "sma_cross"], {**env, "NUMBA_CACHE_DIR": cache})
        rows.append(("workbench sweep sma_cross (cold cache)", cold_s, f"sweep itself {sweep_time(out):.2f} s"))

    calls = [float(wall([sys.executable, "-c", TO_VECTORBT], env)[1].split()[-1]) for _ in range(args.repeat)]
    rows.append(("bt.to_vectorbt() (fresh process)", min(calls), "goal < 3 s"))

    ours, _ = best(args.repeat, [sys.executable, "-c", OURS_FIRST], env)
    rows.append(("wb.backtest first call (process)", ours, "2,520 daily bars, SMA 10/60"))
    first_sweep, _ = best(args.repeat, [sys.executable, "-c", OURS_FIRST_SWEEP], env)
    rows.append(("wb.sweep first call (process)", first_sweep, "2,520 daily bars, the 2,350 default SMA pairs"))
    try:
        peer, _ = best(args.repeat, [sys.executable, "-c", PEER_FIRST], env)
        rows.append(("backtesting.py first call (process)", peer, f"ours / peer = {ours / peer:.2f}"))
    except SystemExit as exc:  # the peer is in the bench extra: pip install -e ".[bench]"
        rows.append(("backtesting.py first call (process)", float("nan"), str(exc).splitlines()[0]))

    width = max(len(name) for name, _, _ in rows)
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:6.2f} s  {note}")
    shutil.rmtree(env["WORKBENCH_HOME"], ignore_errors=True)


if __name__ == "__main__":
    main()
