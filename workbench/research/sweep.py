"""``sweep``: every parameter combination of a strategy over one or many symbols, reduced to metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.config import cost_defaults
from workbench.engine.distributed import check_engine, open_client
from workbench.engine.grid import build_grid
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
from workbench.engine.metrics import METRIC_NAMES
from workbench.engine.runner import run_grid, run_job
from workbench.engine.universe_job import UniverseJob
from workbench.research.result import SweepResult
from workbench.strategies.base import Strategy
from workbench.strategies.universe import UniverseStrategy

if TYPE_CHECKING:
    from distributed import Client

# Blocks of the return series kept per run for combinatorially symmetric cross-validation (PBO).
CSCV_BLOCKS = 16


def sweep(
    strategy: type[Strategy] | Strategy | str,
    bars: Any,
    *,
    fees: float | None = None,
    slippage: float | None = None,
    cash: float = 10_000.0,
    fill: str | None = None,
    constraint: Callable[[pd.DataFrame], Any] | str | None = None,
    metric: str = "sharpe",
    periods_per_year: float | None = None,
    risk: dict[str, float | None] | None = None,
    fixed_fee: float = 0.0,
    progress: bool = True,
    engine: str = "local",
    client: Client | str | None = None,
    leverage: float | None = None,
    **param_ranges: Any,
) -> SweepResult:
    """Backtest every combination of ``param_ranges`` on ``bars`` and return one row of metrics per run.

    Each run starts flat with ``cash`` and trades the strategy's target exposure: target 1 from flat buys
    ``cash / (price * (1 + fees))`` units (fractional), target 0 sells everything. A ``UniverseStrategy`` runs
    each parameter set over all the symbols in one account (one row per parameter set; see
    `workbench.strategies.universe` and `workbench.engine.portfolio` for how weights become orders). ``fees``
    are a fraction of traded value and ``slippage`` a fraction of price; ``fill="next_open"`` fills a signal of
    bar t at bar t+1's open, ``fill="close"`` at bar t's close. ``fees``, ``slippage`` and ``fill`` left out are the
    settings' (``workbench.config.Settings``: a fee of 0.001 of traded value by default, the CLI's too; pass
    ``fees=0`` for none). Parameters left out take the strategy's defaults
    (or the instance's values). Ratios annualize with ``periods_per_year`` (252 for daily bars by default).

    With ``fill="close"``, fees and no slippage, a long-only strategy's results equal
    ``vbt.Portfolio.from_signals(close, entries, exits, size=np.inf, fees=fees, init_cash=cash)``.

    Parameters
    ----------
    strategy : a Strategy subclass, an instance, or a registered name such as ``"sma_cross"``.
    bars : one validated OHLCV DataFrame, or ``Bars``/dict of them (each symbol swept separately).
    constraint : extra filter on the grid: a pandas ``eval`` string (``"slow >= 2 * fast"``) or a function of
        the grid DataFrame returning a boolean mask.
    metric : the column ``best()`` and ``heatmap()`` rank by.
    fixed_fee : a fee per order (currency) on top of ``fees``, like vectorbt's ``fixed_fees``.
    risk : risk rules applied to every run, e.g. ``{"stop_loss": 0.05, "max_drawdown": 0.25}``; rules and
        their semantics in ``workbench.engine.risk_rules`` and ``workbench.engine.simulate``.
    engine : ``"local"`` (numba threads in this process) or ``"dask"``: the runs are cut into chunks computed
        on a Dask cluster, with results identical to local (``engine.distributed``).
    client : with ``engine="dask"``, a ``distributed.Client``, a scheduler address such as
        ``"tcp://host:8786"``, or None to start (and afterwards stop) a local cluster with a worker per core.
    leverage : a universe strategy's most gross exposure (sum of absolute weights) at any bar, as a multiple of
        equity; a row of weights beyond it is refused, naming the bar and symbols.
    **param_ranges : per parameter a value, a ``range``, a sequence or a ``"start:stop[:step]"`` string.
        With none given, a strategy class or name sweeps its ``sweep_ranges``.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("sma_cross", wb.load("SPY"), fast=range(5, 60), slow=range(20, 250, 5), fees=0.001)
    >>> res.best(5)  # doctest: +SKIP
    >>> res = wb.sweep("sma_cross", wb.load("SPY"), engine="dask", client="tcp://10.0.0.5:8786")  # doctest: +SKIP
    """
    check_engine(engine, client)
    cls, base = resolve_strategy(strategy)
    if not param_ranges and not base:
        param_ranges = dict(cls.sweep_ranges)
    fees, slippage, fill = cost_defaults(fees, slippage, fill)
    costs = check_costs(cash, fees, slippage, fill, risk, fixed_fee)
    metric = check_metric(metric)
    periods_per_year = check_periods_per_year(periods_per_year)
    grid = build_grid(cls, param_ranges, base, constraint)
    settings = {
        "costs": {
            "cash": costs.cash,
            "fees": costs.fees,
            "slippage": costs.slippage,
            "fill": costs.fill,
            "fixed_fee": costs.fixed_fee,
            "periods_per_year": periods_per_year,
        },
        "risk": dict(risk or {}),
        "constraint": constraint if isinstance(constraint, str) or constraint is None else "<function>",
        "metric": metric,
    }
    universe = issubclass(cls, UniverseStrategy)
    check_leverage(leverage, universe)
    if universe:
        settings["costs"]["leverage"] = check_leverage(leverage)
        return _sweep_universe(cls, bars, grid, costs, metric, periods_per_year, settings, progress, engine, client)
    frames, multi = prepare_bars(bars)
    check_windows(cls, grid, frames)
    too_short = [s for s, f in frames.items() if len(f) < 2 * CSCV_BLOCKS]
    if too_short:
        raise ValueError(f"{', '.join(too_short)}: a sweep needs at least {2 * CSCV_BLOCKS} bars per symbol")
    ppy = {s: float(periods_per_year or infer_periods_per_year(f.index)) for s, f in frames.items()}
    windows = np.array([[[0, len(f)]] for f in frames.values()], dtype=np.int64)
    packed = pack(frames, costs)
    with open_client(engine, client) as dask_client:
        run = run_grid(
            cls,
            grid,
            packed,
            windows,
            costs,
            np.array(list(ppy.values())),
            n_blocks=CSCV_BLOCKS,
            progress=progress,
            client=dask_client,
        )
    metrics = metrics_frame(run.metrics[:, 0, :], grid, list(frames), multi)
    return SweepResult(
        strategy=cls,
        metrics=metrics,
        metric=metric,
        costs=costs,
        symbols=list(frames),
        complete=run.done == len(grid) * len(frames),
        blocks=run.blocks,
        frames=frames,
        periods_per_year=ppy,
        grid=grid,
        settings=settings,
    )


def _sweep_universe(
    cls: type[UniverseStrategy],
    bars: Any,
    grid: pd.DataFrame,
    costs: Costs,
    metric: str,
    periods_per_year: float | None,
    settings: dict[str, Any],
    progress: bool,
    engine: str,
    client: Client | str | None,
) -> SweepResult:
    """The sweep of a universe strategy: every parameter set over every symbol in one account, a row each."""
    panel = prepare_panel(bars)
    check_windows(cls, grid, {"the panel": pd.DataFrame(index=panel.index)})
    if panel.shape[0] < 2 * CSCV_BLOCKS:
        raise ValueError(f"a sweep needs at least {2 * CSCV_BLOCKS} bars; the panel has {panel.shape[0]}")
    ppy = float(periods_per_year or infer_periods_per_year(panel.index))
    windows = np.array([[0, panel.shape[0]]], dtype=np.int64)
    job = UniverseJob.build(grid, panel, windows, costs, settings["costs"]["leverage"], ppy, CSCV_BLOCKS)
    job.check(cls)
    with open_client(engine, client) as dask_client:
        run = run_job(cls, job, progress, dask_client)
    frames = {s: f for s, f in prepare_bars(bars)[0].items()}
    return SweepResult(
        strategy=cls,
        metrics=metrics_frame(run.metrics[:, 0, :], grid, ["portfolio"], False),  # a row per parameter set
        metric=metric,
        costs=costs,
        symbols=panel.symbols,
        complete=run.done == len(grid),
        blocks=run.blocks,
        frames={s.upper(): f for s, f in frames.items()},
        periods_per_year=dict.fromkeys(panel.symbols, ppy),
        grid=grid,
        settings=settings,
    )


def metrics_frame(values: np.ndarray, grid: pd.DataFrame, symbols: list[str], with_symbol: bool) -> pd.DataFrame:
    """Rows of kernel metrics (item order: parameter set major, symbol minor) as an indexed DataFrame."""
    n_sym = len(symbols)
    rows = np.arange(len(values))
    index_frame = grid.iloc[rows // n_sym].reset_index(drop=True)
    if with_symbol:
        index_frame["symbol"] = [symbols[i] for i in rows % n_sym]
    table = pd.DataFrame(values, columns=list(METRIC_NAMES))
    table["trades"] = table["trades"].astype(np.int64)
    if index_frame.shape[1] > 1:
        table.index = pd.MultiIndex.from_frame(index_frame)
    elif index_frame.shape[1] == 1:
        table.index = pd.Index(index_frame.iloc[:, 0], name=index_frame.columns[0])
    else:  # a strategy without parameters: one run
        table.index = pd.RangeIndex(len(table), name="run")
    return table
