"""The gates a strategy configuration passes on its way to real money, each returning a `Gate` with its numbers.

To paper (on the bars of the saved sweep it was chosen from):

* **sweep**: the sweep is stored, of this strategy, holds these parameters and symbols, and reruns to the same
  table (same bars by hash, same strategy source by hash);
* **parity**: the event-driven backtest equals the sweep for this configuration: same trade count, every metric
  (final equity included) to 1e-9 relative, and the same fill prices as the sweep kernel's trades;
* **lookahead**: signals on data cut at many bars equal the full run's (`check_lookahead`);
* **overfitting**: the verdict of #3's statistics for this configuration is not "likely overfit": the sweep's PBO
  with this configuration's deflated Sharpe ratio (against the sweep's expected best of N unskilled trials) and
  parameter stability.

To live: a **paper period** — paper runs of the same configuration that marked their account on at least ``days``
distinct trading days (UTC dates of their bars) per symbol, and no reconciliation halt (a difference with the broker
nobody explained).

A universe strategy is one account over all its symbols: it is promoted with exactly the symbols it was swept on,
and parity, look-ahead and overfitting are judged on that account (numbers under ``portfolio``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.ops.paper_period import PAPER_BROKERS, PAPER_DAYS
from workbench.strategies.base import StrategyBase
from workbench.strategies.universe import UniverseStrategy
from workbench.trading.reconcile import RECONCILE

if TYPE_CHECKING:
    from workbench.research.result import SweepResult

#: Relative tolerance of parity (the sweep's and the backtest's numbers).
PARITY_RTOL = 1e-9
#: Cuts `check_lookahead` recomputes the signals at (random bars plus the last few).
LOOKAHEAD_SAMPLES = 250


@dataclass(frozen=True)
class Gate:
    """One gate's outcome: passed or not, a line saying why, and the numbers behind it."""

    name: str
    passed: bool
    detail: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """As stored in a promotion's ``gates``."""
        return {"passed": self.passed, "detail": self.detail, **self.numbers}


def sweep_gate(
    store: Any, sweep_run_id: int, cls: type[StrategyBase], values: Mapping[str, Any], symbols: Sequence[str]
) -> tuple[Gate, SweepResult | None]:
    """The configuration comes from saved sweep ``sweep_run_id``, which reproduces; returns the rerun sweep."""
    from workbench.ops.rerun import rerun_run
    from workbench.provenance.spec import NotReproducible

    with store.unit_of_work(readonly=True) as uow:
        row = uow.runs.get(sweep_run_id)
    numbers = {"sweep_run_id": sweep_run_id}
    if row is None or row.kind != "sweep":
        found = "no run" if row is None else f"a {row.kind} run"
        return Gate("sweep", False, f"run {sweep_run_id} is {found}, not a saved sweep", numbers), None
    spec = row.config or {}
    ranges = spec.get("params", {}).get("ranges", {})
    rows = spec.get("params", {}).get("rows", [])
    key = [values.get(name) for name in ranges]
    missing = sorted(set(symbols) - {s.upper() for s in spec.get("symbols", [])})
    if row.strategy != cls.name:
        return Gate("sweep", False, f"sweep {sweep_run_id} swept {row.strategy}, not {cls.name}", numbers), None
    if key not in rows:
        detail = f"{_text(values)} is not one of the {len(rows)} parameter sets of sweep {sweep_run_id}"
        return Gate("sweep", False, detail, numbers), None
    if missing:
        return Gate("sweep", False, f"sweep {sweep_run_id} did not sweep {', '.join(missing)}", numbers), None
    swept = [s.upper() for s in spec.get("symbols", [])]
    if issubclass(cls, UniverseStrategy) and set(swept) != set(symbols):
        detail = (
            f"sweep {sweep_run_id} swept {cls.name} as one account over {', '.join(swept)}: a universe strategy is "
            f"promoted with the symbols it was swept on, not {', '.join(symbols)}"
        )
        return Gate("sweep", False, detail, numbers), None
    try:
        result, differences = rerun_run(sweep_run_id, store)
    except NotReproducible as exc:
        return Gate("sweep", False, f"sweep {sweep_run_id} does not rerun: {exc}", numbers), None
    if differences:
        detail = f"sweep {sweep_run_id} reruns to other numbers: {'; '.join(differences)}"
        return Gate("sweep", False, detail, numbers), None
    numbers |= {"data_hash": row.data_hash, "strategy_source_hash": row.strategy_source_hash}
    detail = f"one of the {len(rows)} parameter sets of sweep {sweep_run_id}, which reruns alike"
    return Gate("sweep", True, detail, numbers), result


def parity_gate(sweep: SweepResult, cls: type[StrategyBase], values: Mapping[str, Any], symbols: Sequence[str]) -> Gate:
    """The event-driven backtest of the configuration equals the sweep's row and the sweep kernel's fills (per
    symbol; a universe strategy's once, for its account)."""
    numbers: dict[str, Any] = {}
    failures = []
    for symbol, tested, row, kernel_trades in _parity_runs(sweep, cls, values, symbols):
        trades = (int(row["trades"]), int(tested.metrics["trades"]))
        ends = (float(row["end_value"]), float(tested.metrics["end_value"]))
        mine, theirs = tested.trades[["entry_price", "exit_price"]], kernel_trades[["entry_price", "exit_price"]]
        same = "symbol" not in kernel_trades or list(tested.trades["symbol"]) == list(kernel_trades["symbol"])
        prices = _max_rel(mine.to_numpy(), theirs.to_numpy()) if mine.shape == theirs.shape and same else math.inf
        metrics = _max_rel(tested.metrics.to_numpy(), row.to_numpy())
        numbers[symbol] = {
            "trades_sweep": trades[0],
            "trades_backtest": trades[1],
            "end_value_sweep": ends[0],
            "end_value_backtest": ends[1],
            "max_rel_diff_metrics": metrics,
            "max_rel_diff_fill_prices": prices,
        }
        if trades[0] != trades[1] or metrics > PARITY_RTOL or prices > PARITY_RTOL:
            failures.append(
                f"{symbol}: {trades[0]} vs {trades[1]} trades, end value {ends[0]!r} vs {ends[1]!r}, fill prices "
                f"{prices:.3g} and metrics {metrics:.3g} apart (relative; at most {PARITY_RTOL:g})"
            )
    if failures:
        return Gate("parity", False, "the backtest differs from the sweep: " + "; ".join(failures), numbers)
    shown = ", ".join(
        f"{s} {n['trades_backtest']} trades, end value {n['end_value_backtest']:,.2f}" for s, n in numbers.items()
    )
    return Gate("parity", True, f"backtest equals the sweep: {shown}", numbers)


def _parity_runs(
    sweep: SweepResult, cls: type[StrategyBase], values: Mapping[str, Any], symbols: Sequence[str]
) -> Iterator[tuple[str, Any, pd.Series, pd.DataFrame]]:
    """Per symbol (a universe: once, ``portfolio``): the label, the event-driven backtest, the sweep's metrics row
    and the sweep kernel's round trips of the configuration, all on the sweep's bars and costs."""
    from workbench.engine.single import simulate
    from workbench.engine.universe_run import simulate_weights
    from workbench.research.overfitting import PORTFOLIO
    from workbench.strategies.universe import Panel
    from workbench.trading.backtest import backtest

    costs, risk = dict(sweep.spec.costs), dict(sweep.spec.risk) or None
    if issubclass(cls, UniverseStrategy):
        instance = cls(**values)
        tested = backtest(instance, sweep.frames, **costs, risk=risk)
        weights = instance.target_weights(sweep.frames).to_numpy()
        ppy = float(next(iter(sweep.periods_per_year.values())))
        kernel = simulate_weights(weights, Panel.of(sweep.frames), sweep.costs, ppy, leverage=costs["leverage"])
        yield PORTFOLIO, tested, _sweep_row(sweep, values, None), kernel.trades
        return
    for symbol in symbols:
        name = _key(sweep.frames, symbol)
        frame = sweep.frames[name]
        tested = backtest(cls(**values), frame, **costs, risk=risk)
        kernel = simulate(cls(**values), frame, sweep.costs, float(sweep.periods_per_year[name]))
        yield symbol, tested, _sweep_row(sweep, values, symbol), kernel.trades


def lookahead_gate(
    frames: Mapping[str, pd.DataFrame], cls: type[StrategyBase], values: Mapping[str, Any], symbols: Sequence[str]
) -> Gate:
    """The configuration's signals do not change when the bars after t are removed."""
    from workbench.research.lookahead import LookaheadError, LookaheadUntested, check_lookahead

    numbers = {"samples": LOOKAHEAD_SAMPLES}
    universe = issubclass(cls, UniverseStrategy)
    try:
        for bars in [frames] if universe else [frames[_key(frames, symbol)] for symbol in symbols]:
            check_lookahead(cls(**values), bars, samples=LOOKAHEAD_SAMPLES)
    except (LookaheadError, LookaheadUntested) as exc:  # untested: nothing to certify is not a pass
        return Gate("lookahead", False, str(exc), numbers)
    return Gate("lookahead", True, f"signals at {LOOKAHEAD_SAMPLES} cuts equal the full run's", numbers)


def overfitting_gate(sweep: SweepResult, values: Mapping[str, Any], symbols: Sequence[str]) -> Gate:
    """#3's verdict for this configuration: not "likely overfit" (per symbol; a universe's for its account)."""
    from scipy.stats import kurtosis, skew

    from workbench.engine.metrics import LOWER_IS_BETTER
    from workbench.engine.overfitting import parameter_stability, probabilistic_sharpe_ratio, sharpe_from_moments
    from workbench.research.overfitting import PORTFOLIO, assess, trial_returns, verdict

    try:
        reports = assess(sweep)
    except ValueError as exc:  # nothing to assess (every run's metric NaN, one parameter set): not a pass
        return Gate("overfitting", False, str(exc), {})
    universe = issubclass(sweep.strategy, UniverseStrategy)
    numbers: dict[str, Any] = {}
    verdicts = []
    for symbol in [PORTFOLIO] if universe else symbols:
        name = PORTFOLIO if universe else _key(sweep.frames, symbol)
        report = reports[name] if isinstance(reports, dict) else reports
        returns = trial_returns(sweep, dict(values), name)
        sharpe = float(sharpe_from_moments(returns.sum(), (returns**2).sum(), len(returns)))
        ppy = next(iter(sweep.periods_per_year.values())) if universe else sweep.periods_per_year[name]
        per_period = math.sqrt(ppy)
        benchmark = report.expected_max_sharpe / per_period
        kurt = float(kurtosis(returns, fisher=True) + 3.0)
        dsr = probabilistic_sharpe_ratio(sharpe, benchmark, len(returns), float(skew(returns)), kurt)
        table = sweep.metrics if universe or len(sweep.symbols) == 1 else sweep.metrics.xs(name, level="symbol")
        stability = parameter_stability(table[sweep.metric], tuple(values[p] for p in sweep.params))
        if sweep.metric in LOWER_IS_BETTER and np.isfinite(stability) and stability != 0:
            stability = 1.0 / stability  # as assess does: below 1 still means worse than the best
        said = verdict(report.pbo, dsr, stability)
        verdicts.append(f"{symbol}: {said}")
        numbers[symbol] = {
            "verdict": said,
            "pbo": report.pbo,
            "deflated_sharpe": dsr,
            "stability": stability,
            "sharpe": sharpe * per_period,
            "expected_max_sharpe": report.expected_max_sharpe,
            "n_trials": report.n_trials,
            "sweep_best_params": report.best_params,
            "sweep_verdict": report.verdict,
        }
    passed = not any(v.split(": ", 1)[1].startswith("likely overfit") for v in verdicts)
    return Gate("overfitting", passed, "; ".join(verdicts), numbers)


def paper_period_gate(
    store: Any,
    cls: type[StrategyBase],
    values: Mapping[str, Any],
    symbols: Sequence[str],
    days: int = PAPER_DAYS,
    brokers: Sequence[str] = PAPER_BROKERS,
) -> Gate:
    """Paper runs of the configuration trading each of ``symbols`` marked their account on ``days`` distinct
    trading days (UTC dates of their bars), and none was halted by a reconciliation. A universe strategy's runs
    count only when they traded exactly ``symbols`` (its account is all of them)."""
    dates: dict[str, set] = {s: set() for s in symbols}
    universe = issubclass(cls, UniverseStrategy)
    halts = []
    with store.unit_of_work(readonly=True) as uow:
        runs = [
            r
            for r in uow.runs.find(kind="live", strategy=cls.name, limit=None)
            if (r.config or {}).get("broker", "sim") in brokers
            and set(_run_symbols(r.config or {})) & set(symbols)
            and (not universe or set(_run_symbols(r.config or {})) == set(symbols))
            and same_values(cls, r.params, values)
        ]
        for run in runs:
            marked = {snapshot.timestamp.date() for snapshot in uow.equity.series(run.id)}
            for symbol in set(_run_symbols(run.config)) & set(symbols):
                dates[symbol] |= marked
            halts += [(run.id, e) for e in uow.risk_events.find(run.id, decision="halt") if e.rule == RECONCILE]
    numbers = {
        "runs": [r.id for r in runs],
        "trading_days": {s: len(d) for s, d in dates.items()},
        "days_needed": days,
        "brokers": list(brokers),
        "reconciliation_halts": len(halts),
    }
    if not runs:
        detail = f"no paper run of this configuration via {' or '.join(brokers)}: trade it on paper first"
        return Gate("paper_period", False, detail, numbers)
    short = [f"{s} {len(d)} of {days} trading days" for s, d in dates.items() if len(d) < days]
    if short:
        ids = ", ".join(str(r.id) for r in runs)
        return Gate("paper_period", False, f"paper runs {ids} traded {'; '.join(short)}", numbers)
    if halts:
        run_id, event = halts[0]
        detail = (
            f"reconciliation halted paper run {run_id} at {event.timestamp.isoformat()} ({len(halts)} halt(s)): "
            f"{event.details.get('differences', event.details)}"
        )
        return Gate("paper_period", False, detail, numbers)
    days_text = ", ".join(f"{s} {len(d)}" for s, d in dates.items())
    detail = f"trading days on paper: {days_text} (needs {days}); no reconciliation halt"
    return Gate("paper_period", True, detail, numbers)


def _run_symbols(config: Mapping[str, Any]) -> list[str]:
    """The symbols a live run records: ``symbols`` of a portfolio, else ``symbol``."""
    names = config.get("symbols") or str(config.get("symbol", "")).split(",")
    return [str(s).strip().upper() for s in names if str(s).strip()]


def same_values(cls: type[StrategyBase], params: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether recorded ``params`` are the configuration ``values`` (defaults filled in)."""
    try:
        return cls(**dict(params)).values == dict(values)
    except (TypeError, ValueError):  # parameters of an older version of the strategy
        return False


def _sweep_row(sweep: SweepResult, values: Mapping[str, Any], symbol: str | None) -> pd.Series:
    """The sweep's metrics row of the configuration on ``symbol`` (None: a universe sweep's, one per set)."""
    key = tuple(values[p] for p in sweep.params)
    if symbol is not None and len(sweep.symbols) > 1:
        key = (*key, _key(sweep.frames, symbol))
    return sweep.metrics.loc[key if len(key) > 1 else key[0]]


def _key(frames: Mapping[str, Any], symbol: str) -> str:
    """The name a sweep keeps ``symbol``'s bars under (it keeps the case ``wb.load`` gave)."""
    return next(name for name in frames if name.upper() == symbol)


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest relative difference of two arrays (NaN equal to NaN; 0 where both are 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))
    rel = np.where(both_nan | (a == b), 0.0, rel)
    return float(np.nanmax(np.where(np.isnan(rel), np.inf, rel))) if rel.size else 0.0


def _text(values: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())
