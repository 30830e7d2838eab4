"""Side-by-side benchmark of ``wb.backtest`` and backtesting.py on one SMA-crossover backtest, with a results check.

    python benchmarks/bench_backtest.py [--workload daily|minute|all]

Strategy (both tools): SMA(10) / SMA(60) crossover on the close. Enter long, all-in, at the cross above and
exit at the cross below. Commission 0.1 % per side, cash 10,000. Fills happen at the next bar's open, or at the
signal bar's close for ``close`` (backtesting.py: ``trade_on_close=True``).

Workloads:

* ``daily``: the last 2,520 bundled SPY daily bars (10 years).
* ``minute``: 1,000,000 one-minute bars of bench_sweep's seeded random walk (in it, open = previous close).

Configurations:

* workbench: ``wb.backtest(wb.strategy("sma_cross")(fast=10, slow=60), bars, fees=0.001, fill=...)``, with
  ``fill`` ``next_open`` or ``close``, each with and without ``risk=RISK`` (stop-loss 3 %, trailing stop 5 %,
  drawdown halt at 30 %), and ``next_open`` with the two stops only (``STOPS``).
* backtesting.py 0.6: ``lib.FractionalBacktest(fractional_unit=1e-8)``, so units can be fractional as in
  workbench, with default next-open fills or ``trade_on_close=True``. Plus plain ``Backtest`` (whole units)
  with next-open fills, to show how far whole units move the result.

Each configuration runs in its own subprocess of this script (``--side ours|btpy --config NAME``). That keeps
the peak memory per process, and makes run 1 the first call in a new process. For workbench, run 1
includes importing the engine and loading numba's on-disk cache (or compiling, if the cache is stale).
"warm" is the median of the calls after it. Peak RSS is the largest VmHWM over the runs, each reset through
``/proc/self/clear_refs`` just before its run; it includes the interpreter, pandas and numba. The workbench
side also runs ``wb.sweep`` with the same parameters, fill and risk rules; its metrics must equal the
backtest's to 1e-9. The parent compares final equity, trades and equity curves with backtesting.py and
prints the tables.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bench_sweep import memory_mb, minute_bars, reset_peak

FAST, SLOW = 10, 60
FEES, CASH = 0.001, 10_000.0
DAILY_BARS, MINUTE_BARS = 2_520, 1_000_000
RISK = {"stop_loss": 0.03, "trailing_stop": 0.05, "max_drawdown": 0.3}
STOPS = {"stop_loss": 0.03, "trailing_stop": 0.05}  # RISK without the drawdown halt, which ends the minute run early
WARM_RUNS = {"daily": 9, "minute": 3}  # calls after run 1; "warm" is their median
RTOL = 1e-9  # backtest vs sweep
# workbench configurations: name -> keyword arguments of wb.backtest
OURS = {
    "next_open": {"fill": "next_open"},
    "close": {"fill": "close"},
    "next_open + risk": {"fill": "next_open", "risk": RISK},
    "close + risk": {"fill": "close", "risk": RISK},
    "next_open + stops": {"fill": "next_open", "risk": STOPS},
}
# backtesting.py configurations: name -> (fractional units, trade_on_close)
BTPY = {
    "next_open": (True, False),
    "close": (True, True),
    "next_open, whole units": (False, False),
}
FRACTIONAL_UNIT = 1e-8
# the backtesting.py run each workbench configuration is compared with (speed ratio and results)
PEER = {name: kwargs["fill"] for name, kwargs in OURS.items()}


def workload_bars(workload: str) -> pd.DataFrame:
    """The validated bars of a workload, with ``attrs["symbol"]`` set (upper case, see README)."""
    import workbench as wb

    if workload == "daily":
        symbol, frame = "SPY", wb.load("SPY").iloc[-DAILY_BARS:]
    else:
        symbol, frame = "GBM", minute_bars(MINUTE_BARS)
    bars = wb.validate_bars(frame, symbol=symbol)
    # wb.backtest names the symbol after attrs["symbol"] (else "bars"); as of this writing it tracks the
    # position only when that name is upper case, so name the random walk explicitly.
    bars.attrs["symbol"] = symbol
    return bars


def timed(work, runs: int) -> tuple[list[tuple[float, float]], float, object]:
    """Call ``work`` ``runs`` times: (wall, CPU) seconds per call, the largest peak RSS, the last result."""
    times, peak, result = [], 0.0, None
    for _ in range(runs):
        result = None
        gc.collect()
        reset_peak()
        start, cpu = time.perf_counter(), time.process_time()
        result = work()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
        peak = max(peak, memory_mb("VmHWM"))
    return times, peak, result


def side_ours(workload: str, config: str) -> dict:
    """Time one workbench configuration in this process; check it against ``wb.sweep``."""
    bars = workload_bars(workload)
    base_mb = memory_mb("VmRSS")
    kwargs = OURS[config]

    def work():
        import workbench as wb  # the package import is light; run 1 pays for the engine's modules

        return wb.backtest(wb.strategy("sma_cross")(fast=FAST, slow=SLOW), bars, fees=FEES, cash=CASH, **kwargs)

    times, peak, bt = timed(work, 1 + WARM_RUNS[workload])
    import workbench as wb

    swept = wb.sweep("sma_cross", bars, fast=FAST, slow=SLOW, fees=FEES, cash=CASH, progress=False, **kwargs)
    closed = bt.trades[bt.trades["exit_bar"] >= 0]
    return {
        "times": times,
        "peak_mb": peak,
        "base_mb": base_mb,
        "metrics": bt.metrics,
        "sweep_metrics": swept.metrics.iloc[0],
        "equity": bt.equity.to_numpy(),
        "trades": list(zip(closed["entry_bar"], closed["exit_bar"], strict=True)),
        "risk_events": len(bt.risk_events),
        "fills": len(bt.fills),
    }


def side_btpy(workload: str, config: str) -> dict:
    """Time one backtesting.py configuration in this process."""
    import backtesting
    from backtesting import Backtest, Strategy
    from backtesting.lib import FractionalBacktest, crossover

    backtesting.backtesting._tqdm = lambda seq, **_: seq  # no progress bar (its cost is negligible anyway)

    def sma(values, n):
        return pd.Series(values).rolling(n).mean().to_numpy()

    class SmaCross(Strategy):
        fast, slow = FAST, SLOW

        def init(self):
            self.sma_fast = self.I(sma, self.data.Close, self.fast)
            self.sma_slow = self.I(sma, self.data.Close, self.slow)

        def next(self):
            if crossover(self.sma_fast, self.sma_slow):
                if not self.position:
                    self.buy()
            elif crossover(self.sma_slow, self.sma_fast):
                self.position.close()

    fractional, on_close = BTPY[config]
    data = workload_bars(workload)[["open", "high", "low", "close", "volume"]].rename(columns=str.capitalize)
    base_mb = memory_mb("VmRSS")

    def work():
        cls, extra = (FractionalBacktest, {"fractional_unit": FRACTIONAL_UNIT}) if fractional else (Backtest, {})
        bt = cls(data, SmaCross, cash=CASH, commission=FEES, trade_on_close=on_close, **extra)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # open trade at the end; orders cancelled for lack of cash
            return bt.run()

    times, peak, stats = timed(work, 1 + WARM_RUNS[workload])
    trades = stats["_trades"]
    return {
        "times": times,
        "peak_mb": peak,
        "base_mb": base_mb,
        "end_value": float(stats["Equity Final [$]"]),
        "n_trades": len(trades) + bool(stats["_strategy"].position),  # closed + still open, as workbench counts
        "equity": stats["_equity_curve"]["Equity"].to_numpy(),
        "trades": list(zip(trades["EntryBar"], trades["ExitBar"], strict=True)),
    }


def spawn(side: str, workload: str, config: str, tmp: str) -> dict:
    """Run ``side_<side>(workload, config)`` in a new Python process and return its result."""
    out = Path(tmp) / f"{workload}_{side}_{config}.pkl".replace(" ", "_")
    cmd = [sys.executable, __file__, "--side", side, "--workload", workload, "--config", config, "--out", str(out)]
    subprocess.run(cmd, check=True)
    return pickle.loads(out.read_bytes())


def rel(a: float, b: float) -> float:
    if a == b or (np.isnan(a) and np.isnan(b)):
        return 0.0
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def check(workload: str, ours: dict, btpy: dict) -> list[tuple]:
    """Print and return the results check of each workbench configuration."""
    rows = []
    print(f"check ({workload}):")
    for config, res in ours.items():
        m, s = res["metrics"], res["sweep_metrics"]
        worst = max(m.index, key=lambda k: rel(m[k], s[k]))
        sweep_diff = rel(m[worst], s[worst])
        verdict = "OK" if sweep_diff <= RTOL else "MISMATCH"
        print(
            f"  {config}: {int(m['trades'])} trades, {res['fills']} fills, {res['risk_events']} risk events, "
            f"end value {m['end_value']:.10g}; vs wb.sweep: max rel diff {sweep_diff:.1e} ({worst}) -> {verdict}"
        )
        if "risk" in OURS[config]:  # backtesting.py has no equivalent of these rules: no comparison
            rows.append((workload, config, m["end_value"], None, None, None, None, None, sweep_diff))
            continue
        peer = btpy[PEER[config]]
        ours_trades, their_trades = set(res["trades"]), set(peer["trades"])
        matched = len(ours_trades & their_trades)
        # equity curves, over the bars where ours still holds at least $1 (near 0, fees on dust dominate)
        eq, their_eq = res["equity"], peer["equity"]
        live = eq >= 1.0
        curve = float(np.max(np.abs(eq[live] - their_eq[live]) / eq[live]))
        end = rel(m["end_value"], peer["end_value"])
        print(
            f"    backtesting.py ({PEER[config]}, fractional): end value {peer['end_value']:.10g} (rel diff "
            f"{end:.1e}); trades {int(m['trades'])} vs {peer['n_trades']}, closed trades with the same entry "
            f"and exit bar {matched:,} of {len(ours_trades):,} / {len(their_trades):,}; equity curve max rel "
            f"diff {curve:.1e} over the {live.sum():,} bars where ours >= $1"
        )
        whole = btpy["next_open, whole units"]["end_value"] if config == "next_open" else None
        rows.append(
            (workload, config, m["end_value"], peer["end_value"], end, whole, f"{matched:,} / {len(ours_trades):,}",
             curve, sweep_diff)
        )  # fmt: skip
    return rows


def bench(workload: str, tmp: str) -> tuple[list[tuple], list[tuple]]:
    """Run every configuration of one workload; print the check; return the speed and check rows."""
    n = DAILY_BARS if workload == "daily" else MINUTE_BARS
    print(f"\n== {workload}: {n:,} bars; load average {os.getloadavg()[0]:.2f}", flush=True)
    ours = {c: spawn("ours", workload, c, tmp) for c in OURS}
    btpy = {c: spawn("btpy", workload, c, tmp) for c in BTPY}
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes on the 2 cores skew timings)")
    rows = []
    for tool, results in (("workbench", ours), ("backtesting.py", btpy)):
        for config, res in results.items():
            first, warm = res["times"][0], statistics.median(t for t, _ in res["times"][1:])
            cpu = statistics.median(c for _, c in res["times"][1:])
            if tool == "workbench":
                peer = btpy[PEER[config]]["times"]
                ratio = (peer[0][0] / first[0], statistics.median(t for t, _ in peer[1:]) / warm)
            else:
                ratio = None
            rows.append((workload, tool, config, first[0], n / first[0], warm, n / warm, res["peak_mb"], ratio))
            print(
                f"{tool} {config}: run 1 {first[0]:.4f} s ({first[1]:.4f} s CPU), warm {warm:.4f} s ({cpu:.4f} s "
                f"CPU), RSS before run 1 {res['base_mb']:.0f} MB"
            )
    return rows, check(workload, ours, btpy)


def print_tables(rows: list[tuple], checks: list[tuple]) -> None:
    print("\n| workload | tool | config | run 1 s | run 1 bars/s | warm s | warm bars/s | peak RSS MB | ratio run 1 "
          "| ratio warm |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for workload, tool, config, first, first_bps, warm, warm_bps, peak, ratio in rows:
        r = f"{ratio[0]:.1f}x | {ratio[1]:.1f}x" if ratio else " | "
        print(
            f"| {workload} | {tool} | {config} | {first:.4f} | {first_bps:,.0f} | {warm:.4f} | {warm_bps:,.0f} "
            f"| {peak:,.0f} | {r} |"
        )
    print(
        "\n| workload | config | ours end value | backtesting.py end value (fractional) | rel diff "
        "| backtesting.py, whole units | same closed trades | equity curve rel diff | ours vs wb.sweep |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for workload, config, ours, theirs, end, whole, matched, curve, sweep_diff in checks:
        cells = [f"{ours:.10g}"]
        cells += [f"{theirs:.10g}", f"{end:.1e}"] if theirs is not None else ["–", "–"]
        cells += [f"{whole:.10g}" if whole is not None else "–", matched or "–"]
        cells += [f"{curve:.1e}" if curve is not None else "–", f"{sweep_diff:.1e}"]
        print(f"| {workload} | {config} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", choices=["daily", "minute", "all"], default="all")
    parser.add_argument("--side", choices=["ours", "btpy"], help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        run = side_ours if args.side == "ours" else side_btpy
        Path(args.out).write_bytes(pickle.dumps(run(args.workload, args.config)))
        return
    workloads = ["daily", "minute"] if args.workload == "all" else [args.workload]
    rows, checks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for w in workloads:
            r, c = bench(w, tmp)
            rows += r
            checks += c
    print_tables(rows, checks)


if __name__ == "__main__":
    main()
