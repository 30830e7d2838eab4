"""Walk-forward validation: choose parameters on each training window, trade them on the next test window."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.config import cost_defaults
from workbench.data.schema import bar_arrays
from workbench.engine.distributed import check_engine, open_client
from workbench.engine.grid import build_grid
from workbench.engine.grid_job import row_values
from workbench.engine.inputs import (
    Costs,
    check_costs,
    check_leverage,
    check_metric,
    check_periods_per_year,
    check_windows,
    pack,
    prepare_bars,
    prepare_panel,
    resolve_strategy,
)
from workbench.engine.inputs import periods_per_year as infer_periods_per_year
from workbench.engine.metrics import LOWER_IS_BETTER, METRIC_NAMES
from workbench.engine.runner import run_grid, run_job
from workbench.engine.single import simulate_exposure
from workbench.engine.universe_job import UniverseJob
from workbench.engine.universe_run import simulate_weights
from workbench.strategies.base import Strategy, StrategyBase, call_signals
from workbench.strategies.params import ParameterError
from workbench.strategies.universe import Panel, UniverseStrategy, call_weights

if TYPE_CHECKING:
    from distributed import Client

_SPAN = re.compile(r"^\s*(\d+)\s*(Y|M|W|D|H|min|T|bars?)\s*$", re.IGNORECASE)


def parse_span(span: str | int) -> pd.DateOffset | pd.Timedelta | int:
    """``"3Y"``, ``"6M"``, ``"8W"``, ``"90D"``, ``"12H"``, ``"30min"`` as a calendar offset; an int is a bar count.

    Years and months become a month count, so sums of spans stay exact (no day-of-month clipping between).

    Examples
    --------
    >>> parse_span("3Y")
    <DateOffset: months=36>
    >>> parse_span(500)
    500
    """
    if isinstance(span, int | np.integer) and not isinstance(span, bool):
        if span <= 0:
            raise ValueError(f"span {span!r}: a bar count must be positive")
        return int(span)
    match = _SPAN.match(str(span))
    if not match:
        raise ValueError(f"span {span!r}: use a bar count or a length like '3Y', '6M', '8W', '90D', '12H', '30min'")
    count, unit = int(match.group(1)), match.group(2).lower()
    if count <= 0:
        raise ValueError(f"span {span!r}: must be positive")
    if unit.startswith("bar"):
        return count
    return {
        "y": pd.DateOffset(months=12 * count),
        "m": pd.DateOffset(months=count),
        "w": pd.Timedelta(weeks=count),
        "d": pd.Timedelta(days=count),
        "h": pd.Timedelta(hours=count),
        "min": pd.Timedelta(minutes=count),
        "t": pd.Timedelta(minutes=count),
    }[unit]


def split_windows(
    index: pd.DatetimeIndex, train: Any, test: Any, step: Any = None, anchored: bool = False
) -> np.ndarray:
    """Bar positions ``[[train_start, train_end, test_end], ...]``; train is [start, end), test [end, test_end).

    Window k trains from ``k * step`` (or from the first bar when ``anchored``) to ``k * step + train`` and
    tests from there for ``test``; ``step`` defaults to ``test``, so consecutive test windows tile the data.
    Boundaries are computed in calendar time from the first bar, then snapped to the next bar. The last test
    window may be shorter than ``test`` when the data ends.
    """
    train, test = parse_span(train), parse_span(test)
    step = test if step is None else parse_span(step)
    if len({isinstance(s, int) for s in (train, test, step)}) > 1:
        raise ValueError("train, test and step must all be bar counts or all be time lengths")
    n = len(index)

    def position(k: int, *spans: Any) -> int:
        """First bar at or after ``k`` steps plus ``spans`` from the first bar (one combined offset)."""
        if isinstance(train, int):
            return int(step * k + sum(spans))
        parts = [step] * k + list(spans)
        months = sum(p.months for p in parts if isinstance(p, pd.DateOffset))
        delta = sum((p for p in parts if isinstance(p, pd.Timedelta)), pd.Timedelta(0))
        moment = index[0] + pd.DateOffset(months=months) + delta
        return int(index.searchsorted(moment, side="left"))

    out = []
    for k in range(n):
        a = 0 if anchored else position(k)
        b = position(k, train)
        if b >= n:
            break
        out.append((a, b, min(position(k, train, test), n)))
    if not out:
        raise ParameterError(
            f"the data ({n} bars, {index[0]} .. {index[-1]}) is too short for train={train!r} plus test={test!r}"
        )
    return np.asarray(out, dtype=np.int64)


@dataclass
class WalkForwardResult:
    """Walk-forward windows with the chosen parameters and in- vs out-of-sample metrics, plus stitched equity.

    ``windows`` has one row per (symbol, window): bar dates, chosen parameters, ``is_*`` metrics on the
    training window and ``oos_*`` metrics on the test window (each test run starts flat). ``equity`` is one
    continuous out-of-sample simulation trading each window's chosen parameters in its test window.
    ``oos_metrics`` summarizes it per symbol.
    """

    strategy: type[StrategyBase]
    metric: str
    windows: pd.DataFrame
    equity: dict[str, pd.Series] = field(repr=False)
    oos_metrics: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"WalkForwardResult({self.strategy.name}: {len(self.windows)} windows, "
            f"efficiency {self.efficiency():.2f} on {self.metric})"
        )

    def efficiency(self) -> float:
        """Mean out-of-sample over mean in-sample value of the selection metric (1 = no decay)."""
        is_mean = self.windows[f"is_{self.metric}"].mean()
        return float(self.windows[f"oos_{self.metric}"].mean() / is_mean) if is_mean else float("nan")

    def summary(self) -> pd.DataFrame:
        """In-sample vs out-of-sample value of the selection metric per window, with the chosen parameters."""
        cols = [
            "symbol",
            "test_start",
            "test_end",
            *self.strategy.params(),
            f"is_{self.metric}",
            f"oos_{self.metric}",
        ]
        return self.windows[cols]


def walk_forward(
    strategy: type[Strategy] | Strategy | str,
    bars: Any,
    train: str | int = "3Y",
    test: str | int = "1Y",
    step: str | int | None = None,
    anchored: bool = False,
    metric: str = "sharpe",
    *,
    fees: float | None = None,
    slippage: float | None = None,
    cash: float = 10_000.0,
    fill: str | None = None,
    constraint: Callable[[pd.DataFrame], Any] | str | None = None,
    periods_per_year: float | None = None,
    risk: dict[str, float | None] | None = None,
    fixed_fee: float = 0.0,
    progress: bool = True,
    engine: str = "local",
    client: Client | str | None = None,
    leverage: float | None = None,
    train_warmup: str = "history",
    **param_ranges: Any,
) -> WalkForwardResult:
    """Pick the best parameters on each training window by ``metric`` and run them out of sample.

    Training and test windows never overlap: a test window starts at the bar where its training window
    ends, so the choice for a window never sees its test bars. Indicators in a test window warm up on
    earlier bars (as a live session would have that history); positions and cash start fresh in each
    window's own test run. Costs left out are the settings', as in ``sweep``. Spans are bar counts or lengths
    like ``"3Y"``, ``"6M"``, ``"90D"``. ``engine`` and ``client`` choose where the windows of every parameter set
    run, as in ``sweep`` (same results). A universe strategy is walked forward as one account over all its
    symbols (rows labelled ``portfolio``; ``leverage`` as in ``sweep``).

    ``train_warmup`` chooses how a training window starts (neither choice leaks the test bars):

    * ``"history"`` (the default): as a test window, indicators warm up on the bars before the window, so the
      strategy trades from the window's first bar and may enter there on a cross that happened before it.
    * ``"window"``: the window alone, as ``wb.sweep(strategy, bars[train_start:train_end])`` runs it: indicators
      start on its first bar and the first trades wait for their warm-up. Each window's choice then equals that
      sweep's best row.

    Examples
    --------
    >>> import workbench as wb
    >>> wf = wb.walk_forward("sma_cross", wb.load("SPY"), train="4Y", test="1Y",
    ...                      fast=range(5, 50, 5), slow=range(20, 200, 20))
    >>> wf.summary()  # doctest: +SKIP
    """
    check_engine(engine, client)
    if train_warmup not in TRAIN_WARMUPS:
        raise ValueError(f"train_warmup={train_warmup!r}: must be one of {', '.join(map(repr, TRAIN_WARMUPS))}")
    cls, base = resolve_strategy(strategy)
    fees, slippage, fill = cost_defaults(fees, slippage, fill)
    costs = check_costs(cash, fees, slippage, fill, risk, fixed_fee)
    metric = check_metric(metric)
    periods_per_year = check_periods_per_year(periods_per_year)
    grid = build_grid(cls, param_ranges, base, constraint)
    check_leverage(leverage, issubclass(cls, UniverseStrategy))
    if issubclass(cls, UniverseStrategy):
        panel = prepare_panel(bars)
        splits = split_windows(panel.index, train, test, step, anchored)
        check_windows(cls, grid, {"the training window": pd.DataFrame(index=panel.index[: splits[:, 1].min()])})
        ppy = float(periods_per_year or infer_periods_per_year(panel.index))
        lev = check_leverage(leverage)
        with open_client(engine, client) as dask_client:
            run = partial(_universe_metrics, cls, grid, costs, lev, ppy, dask_client)
            metrics = _window_metrics(splits, train_warmup, progress, run, panel)
        best = _best(metrics, len(splits), metric)
        rows = _rows("portfolio", panel.index, splits, best, metrics, cls, grid)
        equity, summary = _stitched_universe(cls, grid, panel, splits, best, costs, ppy, lev)
        return WalkForwardResult(
            strategy=cls,
            metric=metric,
            windows=pd.DataFrame(rows),
            equity={"portfolio": equity},
            oos_metrics=pd.DataFrame([pd.Series(summary, index=list(METRIC_NAMES), name="portfolio")]),
        )
    frames, _ = prepare_bars(bars)
    splits_of = {s: split_windows(f.index, train, test, step, anchored) for s, f in frames.items()}
    for symbol, splits in splits_of.items():
        training = frames[symbol].iloc[splits[:, 0].min() : splits[:, 1].min()]
        check_windows(cls, grid, {f"{symbol} training window": training})
    ppy_of = {s: float(periods_per_year or infer_periods_per_year(f.index)) for s, f in frames.items()}
    metrics_of = {}
    with open_client(engine, client) as dask_client:
        for symbol, frame in frames.items():
            run = partial(_symbol_metrics, cls, grid, symbol, costs, ppy_of[symbol], dask_client)
            metrics_of[symbol] = _window_metrics(splits_of[symbol], train_warmup, progress, run, frame)
    rows, equities, summaries = [], {}, []
    for symbol, frame in frames.items():
        splits, metrics, ppy = splits_of[symbol], metrics_of[symbol], ppy_of[symbol]
        best = _best(metrics, len(splits), metric)
        rows.extend(_rows(symbol, frame.index, splits, best, metrics, cls, grid))
        equity, summary = _stitched_run(cls, grid, symbol, frame, splits, best, costs, ppy)
        equities[symbol] = equity
        summaries.append(pd.Series(summary, index=list(METRIC_NAMES), name=symbol))
    return WalkForwardResult(
        strategy=cls,
        metric=metric,
        windows=pd.DataFrame(rows),
        equity=equities,
        oos_metrics=pd.DataFrame(summaries),
    )


#: How a training window starts: warmed up on the bars before it, or on its own bars only (see ``walk_forward``).
TRAIN_WARMUPS = ("history", "window")


def _finished(run: Any, grid: pd.DataFrame) -> np.ndarray:
    """A grid run's metrics ``[set, window, metric]``, or KeyboardInterrupt when it was interrupted."""
    if run.done < len(grid):
        raise KeyboardInterrupt("walk-forward interrupted")
    return run.metrics


def _window_metrics(splits: np.ndarray, train_warmup: str, progress: bool, run: Callable, bars: Any) -> np.ndarray:
    """Every parameter set's metrics in the training windows, then the test windows (``[set, 2 w, metric]``).

    ``run(bars, windows, progress)`` runs the grid over ``bars`` in ``windows`` (bar ranges). With
    ``train_warmup="window"`` each training window runs on its own bars, as a sweep of that slice would; else on all
    the bars, warmed up by those before it."""
    tests = splits[:, [1, 2]]
    if train_warmup == "history":
        return run(bars, np.concatenate([splits[:, [0, 1]], tests]), progress)
    trains = [run(_part(bars, int(a), int(b)), np.array([[0, b - a]]), False) for a, b, _ in splits]
    return np.concatenate([*trains, run(bars, tests, progress)], axis=1)


def _part(bars: pd.DataFrame | Panel, start: int, stop: int) -> pd.DataFrame | Panel:
    """Bars ``start`` to ``stop - 1`` of one symbol's frame or of a panel."""
    return bars.rows(start, stop) if isinstance(bars, Panel) else bars.iloc[start:stop]


def _symbol_metrics(
    cls: type[Strategy],
    grid: pd.DataFrame,
    symbol: str,
    costs: Costs,
    ppy: float,
    client: Any,
    bars: pd.DataFrame,
    windows: np.ndarray,
    progress: bool,
) -> np.ndarray:
    """One symbol's grid metrics in ``windows`` of ``bars``."""
    packed = pack({symbol: bars}, costs)
    run = run_grid(cls, grid, packed, windows[None, :, :], costs, np.array([ppy]), progress=progress, client=client)
    return _finished(run, grid)


def _universe_metrics(
    cls: type[UniverseStrategy],
    grid: pd.DataFrame,
    costs: Costs,
    leverage: float,
    ppy: float,
    client: Any,
    panel: Panel,
    windows: np.ndarray,
    progress: bool,
) -> np.ndarray:
    """A universe strategy's grid metrics (one account) in ``windows`` of ``panel``."""
    job = UniverseJob.build(grid, panel, windows, costs, leverage, ppy, 0)
    job.check(cls)
    return _finished(run_job(cls, job, progress, client), grid)


def _best(metrics: np.ndarray, w: int, metric: str) -> np.ndarray:
    """The parameter set (row) with the best training value of ``metric`` in each of the ``w`` windows."""
    scores = metrics[:, :w, METRIC_NAMES.index(metric)]
    ranked = np.where(np.isnan(scores), np.inf if metric in LOWER_IS_BETTER else -np.inf, scores)
    return ranked.argmin(axis=0) if metric in LOWER_IS_BETTER else ranked.argmax(axis=0)


def _rows(
    label: str,
    index: pd.DatetimeIndex,
    splits: np.ndarray,
    best: np.ndarray,
    metrics: np.ndarray,
    cls: type[StrategyBase],
    grid: pd.DataFrame,
) -> list[dict[str, Any]]:
    """One row per window of ``label`` (a symbol, or ``portfolio``): dates, chosen parameters, in- and out-of-sample
    metrics (``metrics[set, window]``: the training windows, then the test windows)."""
    w, rows = len(splits), []
    for k, (a, b, c) in enumerate(splits):
        row = {
            "symbol": label,
            "train_start": index[a],
            "train_end": index[b - 1],
            "test_start": index[b],
            "test_end": index[c - 1],
        }
        row.update(dict(zip(cls.params(), row_values(cls, grid, int(best[k])), strict=True)))
        row.update({f"is_{m}": metrics[best[k], k, i] for i, m in enumerate(METRIC_NAMES)})
        row.update({f"oos_{m}": metrics[best[k], w + k, i] for i, m in enumerate(METRIC_NAMES)})
        rows.append(row)
    return rows


def _stitched_universe(
    cls: type[UniverseStrategy],
    grid: pd.DataFrame,
    panel: Panel,
    splits: np.ndarray,
    best: np.ndarray,
    costs: Costs,
    ppy: float,
    leverage: float,
) -> tuple[pd.Series, np.ndarray]:
    """One continuous run of the universe over all test windows, each trading its own window's chosen weights."""
    weights = np.full(panel.shape, np.nan)
    for (_, b, c), choice in zip(splits, best, strict=True):
        weights[b:c] = call_weights(cls, panel, row_values(cls, grid, int(choice)))[b:c]
    start, end = int(splits[0, 1]), int(splits[-1, 2])
    run = simulate_weights(weights, panel, costs, ppy, leverage=leverage, start=start, end=end)
    return run.equity, run.metrics.to_numpy()


def _stitched_run(
    cls: type[Strategy],
    grid: pd.DataFrame,
    symbol: str,
    frame: pd.DataFrame,
    splits: np.ndarray,
    best: np.ndarray,
    costs: Costs,
    ppy: float,
) -> tuple[pd.Series, np.ndarray]:
    """One continuous simulation over all test windows, each trading its own window's chosen parameters."""
    arrays = bar_arrays(frame)
    exposure = np.full(len(frame), np.nan)
    for (_, b, c), choice in zip(splits, best, strict=True):
        exposure[b:c] = call_signals(cls, arrays, row_values(cls, grid, int(choice)))[b:c]
    run = simulate_exposure(exposure, frame, costs, ppy, int(splits[0, 1]), int(splits[-1, 2]), symbol=symbol)
    return run.equity, run.metrics.to_numpy()
