"""``assess``: how far the best run of a sweep can be trusted, from the overfitting statistics of
``workbench.engine.overfitting`` (deflated Sharpe ratio, probability of backtest overfitting, parameter stability),
as an `OverfittingReport` with a one-line verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.stats import kurtosis as _kurtosis
from scipy.stats import skew as _skew

from workbench.engine.inputs import Costs
from workbench.engine.metrics import LOWER_IS_BETTER
from workbench.engine.overfitting import (
    block_counts,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    parameter_stability,
    probability_of_backtest_overfitting,
    sharpe_from_moments,
)
from workbench.engine.single import simulate
from workbench.engine.universe_run import simulate_weights
from workbench.strategies.base import StrategyBase
from workbench.strategies.universe import Panel, UniverseStrategy

#: What a universe sweep's account is called where a symbol would be (its reports, its walk-forward rows).
PORTFOLIO = "portfolio"

# Verdict thresholds.
PBO_OVERFIT = 0.5  # PBO above: the in-sample winner is more often than not below the OOS median
PBO_ROBUST = 0.2
DSR_OVERFIT = 0.5  # deflated Sharpe below: the best run is no better than the luckiest of N noise trials
DSR_ROBUST = 0.95
STABILITY_OVERFIT = 0.5  # neighbours reach less than half of the best value: an isolated spike
STABILITY_ROBUST = 0.8


class Sweep(Protocol):
    """What ``assess`` reads of a sweep (a ``Sweep``): its metrics table and per-block return moments, the
    strategy, costs and bars it ran, and whether it finished."""

    strategy: type[StrategyBase]
    metrics: pd.DataFrame
    metric: str
    costs: Costs
    symbols: list[str]
    complete: bool
    blocks: np.ndarray
    frames: dict[str, pd.DataFrame]
    periods_per_year: dict[str, float]
    settings: dict[str, Any]

    @property
    def params(self) -> list[str]: ...


# --------------------------------------------------------------------------------------------------------
# assess
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverfittingReport:
    """How far the best run of a sweep (on one symbol) can be trusted.

    Attributes
    ----------
    deflated_sharpe : probability (0..1) that the best run's true Sharpe ratio beats the expected maximum
        Sharpe of ``n_trials`` unskilled trials (Bailey & López de Prado 2014).
    pbo : probability of backtest overfitting (0..1) by CSCV over ``n_splits`` groups (in-sample winner
        chosen by Sharpe ratio).
    stability : mean of the sweep's metric over the grid neighbours of the best cell / the best value.
    n_trials : parameter sets assessed (rows of the sweep for this symbol).
    best_params : the best run's parameters (by the sweep's metric).
    symbol : the symbol assessed.
    verdict : one line: ``"robust: ..."``, ``"likely overfit: ..."`` or ``"inconclusive: ..."``.
    sharpe : the best run's annualized Sharpe ratio.
    expected_max_sharpe : annualized expected maximum Sharpe ratio of ``n_trials`` unskilled trials.
    n_splits : groups of bars used by CSCV.
    metric : the sweep's ranking metric (used for the best run and the stability).
    logits : the CSCV logits, one per split.
    """

    deflated_sharpe: float
    pbo: float
    stability: float
    n_trials: int
    best_params: dict[str, Any]
    symbol: str
    verdict: str
    sharpe: float = math.nan
    expected_max_sharpe: float = math.nan
    n_splits: int = 0
    metric: str = "sharpe"
    logits: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    def __str__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.best_params.items())
        return "\n".join(
            [
                self.verdict,
                f"  {self.symbol}: best of {self.n_trials} trials by {self.metric}: {params} "
                f"(Sharpe {self.sharpe:.3f} annualized)",
                f"  deflated Sharpe {self.deflated_sharpe:.3f}: P(true Sharpe > {self.expected_max_sharpe:.3f}, "
                f"the expected best of {self.n_trials} unskilled trials)",
                f"  PBO {self.pbo:.3f}: in-sample winner below the out-of-sample median in that share of "
                f"{len(self.logits)} CSCV splits of {self.n_splits} groups",
                f"  stability {self.stability:.3f}: mean {self.metric} of the grid neighbours / best",
            ]
        )


def verdict(pbo: float, deflated_sharpe: float, stability: float) -> str:
    """One-line verdict from the three statistics (thresholds are the module's ``PBO_*``, ``DSR_*``, ...).

    Examples
    --------
    >>> verdict(0.62, 0.99, 0.9)
    'likely overfit: PBO 0.62 > 0.5'
    >>> verdict(0.08, 0.97, 0.91)
    'robust: PBO 0.08, deflated Sharpe 0.97, stability 0.91'
    """
    numbers = f"PBO {pbo:.2f}, deflated Sharpe {deflated_sharpe:.2f}, stability {stability:.2f}"
    bad = []
    if pbo > PBO_OVERFIT:
        bad.append(f"PBO {pbo:.2f} > {PBO_OVERFIT:g}")
    if deflated_sharpe < DSR_OVERFIT:
        bad.append(f"deflated Sharpe {deflated_sharpe:.2f} < {DSR_OVERFIT:g}")
    if stability < STABILITY_OVERFIT:
        bad.append(f"stability {stability:.2f} < {STABILITY_OVERFIT:g}")
    if bad:
        return "likely overfit: " + "; ".join(bad)
    if pbo <= PBO_ROBUST and deflated_sharpe >= DSR_ROBUST and stability >= STABILITY_ROBUST:
        return "robust: " + numbers
    short = []
    if not pbo <= PBO_ROBUST:
        short.append(f"PBO {pbo:.2f} not <= {PBO_ROBUST:g}")
    if not deflated_sharpe >= DSR_ROBUST:
        short.append(f"deflated Sharpe {deflated_sharpe:.2f} not >= {DSR_ROBUST:g}")
    if not stability >= STABILITY_ROBUST:
        short.append(f"stability {stability:.2f} not >= {STABILITY_ROBUST:g}")
    return f"inconclusive: {numbers} ({'; '.join(short)})"


def trial_returns(result: Sweep, params: dict[str, Any], symbol: str) -> np.ndarray:
    """Per-bar simple returns of equity of one parameter set on ``symbol`` (a universe sweep's: of its account,
    ``symbol`` ``portfolio``), re-simulated as the sweep did.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("sma_cross", wb.load("SPY"), fast=[10, 20], slow=[50], progress=False)
    >>> r = trial_returns(res, {"fast": 10, "slow": 50}, res.symbols[0])  # doctest: +SKIP
    """
    if issubclass(result.strategy, UniverseStrategy):
        instance, panel = result.strategy(**params), Panel.of(result.frames)
        leverage = result.settings["costs"]["leverage"]
        ppy = float(next(iter(result.periods_per_year.values())))
        run = simulate_weights(
            instance.target_weights(result.frames).to_numpy(), panel, result.costs, ppy, leverage=leverage
        )
    else:
        run = simulate(result.strategy(**params), result.frames[symbol], result.costs, result.periods_per_year[symbol])
    equity = run.equity.to_numpy()
    prev = np.concatenate([[float(result.costs.cash)], equity[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev > 0, equity / prev - 1.0, 0.0)


def _bars(result: Sweep, symbol: str) -> int:
    """Bars the runs of ``symbol`` span: its own, or the union of every symbol's times for a universe's account."""
    if symbol == PORTFOLIO:
        return len(Panel.of(result.frames).index)
    return len(result.frames[symbol])


def _assess_symbol(result: Sweep, rows: np.ndarray, symbol: str, n_splits: int | None) -> OverfittingReport:

    n_trials = len(rows)
    if n_trials < 2:
        raise ValueError(
            f"overfitting statistics need at least 2 parameter sets per symbol; {symbol} has {n_trials}"
            + ("" if result.complete else " (the sweep was interrupted)")
        )
    table = result.metrics.iloc[rows]
    if "symbol" in (table.index.names or []):
        table = table.droplevel("symbol")
    column = table[result.metric].to_numpy(dtype=np.float64)
    if np.all(np.isnan(column)):
        raise ValueError(f"{symbol}: every run has a NaN {result.metric}; nothing to assess")
    lower = result.metric in LOWER_IS_BETTER
    best = int(np.nanargmin(column) if lower else np.nanargmax(column))
    key = table.index[best]
    key_tuple = key if isinstance(key, tuple) else (key,)
    specs = result.strategy.params()
    best_params = {name: specs[name].type(v) for name, v in zip(result.params, key_tuple, strict=True)}

    blocks = result.blocks[rows]
    counts = block_counts(_bars(result, symbol), blocks.shape[1])
    pbo, logits = probability_of_backtest_overfitting(blocks[:, :, 0], blocks[:, :, 1], counts, n_splits)

    # Deflated Sharpe: the best run's own returns give SR, T, skewness and kurtosis; the trials' full-sample
    # per-period Sharpe ratios (all blocks merged) give the variance V.
    returns = trial_returns(result, best_params, symbol)
    sr = float(sharpe_from_moments(returns.sum(), (returns**2).sum(), len(returns)))
    all_sr = sharpe_from_moments(blocks[:, :, 0].sum(axis=1), blocks[:, :, 1].sum(axis=1), counts.sum())
    finite = all_sr[np.isfinite(all_sr)]
    variance = float(np.var(finite, ddof=1)) if len(finite) >= 2 else 0.0
    if np.isfinite(sr):
        sk = float(_skew(returns))
        ku = float(_kurtosis(returns, fisher=True) + 3.0)
        dsr = deflated_sharpe_ratio(sr, n_trials, variance, len(returns), sk, ku)
    else:
        dsr = math.nan
    sr0 = expected_max_sharpe(n_trials, variance)
    ann = math.sqrt(
        next(iter(result.periods_per_year.values())) if symbol == PORTFOLIO else result.periods_per_year[symbol]
    )

    stab = parameter_stability(table[result.metric], key)
    if lower and np.isfinite(stab) and stab != 0:
        stab = 1.0 / stab  # neighbours' mean / best inverted so that < 1 still means "worse than the best"
    return OverfittingReport(
        deflated_sharpe=dsr,
        pbo=pbo,
        stability=stab,
        n_trials=n_trials,
        best_params=best_params,
        symbol=symbol,
        verdict=verdict(pbo, dsr, stab),
        sharpe=sr * ann,
        expected_max_sharpe=sr0 * ann,
        n_splits=n_splits or blocks.shape[1],
        metric=result.metric,
        logits=logits,
    )


def assess(result: Sweep, n_splits: int | None = None) -> OverfittingReport | dict[str, OverfittingReport]:
    """Deflated Sharpe ratio, PBO and parameter stability of a sweep's best run, with a verdict.

    The best run is the best row by the sweep's metric (``result.metric``); it is re-simulated once to get
    its returns' length, skewness and kurtosis for the deflated Sharpe ratio. The Sharpe variance across
    trials comes from each run's full-sample per-period Sharpe ratio (its blocks merged). Every row counts
    as a trial; correlated trials (neighbouring parameters) make the variance, and so the deflation,
    smaller than for independent ones. PBO selects the in-sample winner by Sharpe ratio whatever the metric.
    An interrupted sweep is assessed on the rows it has.

    Parameters
    ----------
    result : a ``Sweep`` (``wb.sweep(...)``).
    n_splits : even number of CSCV groups (2..16); default all 16 blocks the sweep keeps
        (C(16, 8) = 12,870 splits).

    Returns
    -------
    OverfittingReport, or ``dict[symbol, OverfittingReport]`` when several symbols were swept (each
    symbol assessed on its own runs).

    Raises
    ------
    ValueError
        fewer than 2 runs (of some symbol), or an invalid ``n_splits``.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("sma_cross", wb.load("SPY"), fast=range(5, 30, 5), slow=range(40, 120, 20))
    >>> print(res.overfitting())  # doctest: +SKIP
    inconclusive: PBO 0.35, deflated Sharpe 0.99, stability 0.93 (PBO 0.35 not <= 0.2)
    ...
    """
    n_rows = len(result.metrics)
    if n_rows != len(result.blocks):
        raise ValueError(f"result has {n_rows} metrics rows but {len(result.blocks)} block rows")
    names = result.metrics.index.names or []
    if "symbol" not in names:
        if n_rows < 2:
            raise ValueError(
                f"overfitting statistics need at least 2 parameter sets; the sweep has {n_rows}"
                + ("" if result.complete else " (it was interrupted)")
            )
        label = PORTFOLIO if issubclass(result.strategy, UniverseStrategy) else result.symbols[0]
        return _assess_symbol(result, np.arange(n_rows), label, n_splits)
    symbols = result.metrics.index.get_level_values("symbol").to_numpy()
    return {s: _assess_symbol(result, np.flatnonzero(symbols == s), s, n_splits) for s in result.symbols}
