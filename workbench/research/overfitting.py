"""Overfitting statistics of a sweep: deflated Sharpe ratio, probability of backtest overfitting, stability.

A sweep tries many parameter sets and keeps the best; the best is then better than its true skill by
selection luck alone. Three independent checks, combined by ``assess`` into one verdict:

- **Deflated Sharpe ratio** (Bailey & López de Prado 2014, "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality", J. Portfolio Management 40(5)): the probability
  that the selected run's true Sharpe ratio exceeds the Sharpe ratio the best of ``N`` unskilled trials would
  show by chance, corrected for the length, skewness and fat tails of its returns.
- **Probability of backtest overfitting** (Bailey, Borwein, López de Prado & Zhu 2015, "The Probability of
  Backtest Overfitting", J. Computational Finance 20(4)): combinatorially symmetric cross-validation (CSCV)
  over the per-block return moments a sweep keeps (``SweepResult.blocks``); the fraction of in-sample /
  out-of-sample splits where the in-sample winner ranks in the bottom half out of sample.
- **Parameter stability**: the mean of the metric over the grid neighbours of the best cell relative to the
  best value; a plateau (~1) generalizes better than an isolated spike (~0).

Every Sharpe ratio here is per period (not annualized): mean over sample standard deviation (ddof=1) of
simple per-bar returns. ``assess`` reports annualized values for people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numba import njit, prange
from scipy.stats import kurtosis as _kurtosis
from scipy.stats import norm
from scipy.stats import skew as _skew

if TYPE_CHECKING:  # pragma: no cover - types only
    from workbench.research.result import SweepResult

EULER_GAMMA = 0.5772156649015329
"""Euler–Mascheroni constant γ of the expected-maximum approximation."""

# Verdict thresholds.
PBO_OVERFIT = 0.5  # PBO above: the in-sample winner is more often than not below the OOS median
PBO_ROBUST = 0.2
DSR_OVERFIT = 0.5  # deflated Sharpe below: the best run is no better than the luckiest of N noise trials
DSR_ROBUST = 0.95
STABILITY_OVERFIT = 0.5  # neighbours reach less than half of the best value: an isolated spike
STABILITY_ROBUST = 0.8


# --------------------------------------------------------------------------------------------------------
# Deflated / probabilistic Sharpe ratio
# --------------------------------------------------------------------------------------------------------


def probabilistic_sharpe_ratio(sharpe: float, benchmark: float, n_obs: int, skew: float, kurtosis: float) -> float:
    r"""Probability that the true Sharpe ratio exceeds ``benchmark``, given an observed ``sharpe``.

    Bailey & López de Prado (2012), "The Sharpe Ratio Efficient Frontier", eq. (9)::

        PSR(SR*) = Φ( (SR - SR*) √(T - 1) / √(1 - γ₃ SR + (γ₄ - 1)/4 SR²) )

    with per-period (non-annualized) Sharpe ratios, ``T`` observations, skewness γ₃ and *non-excess*
    kurtosis γ₄ (3 for normal returns).

    Parameters
    ----------
    sharpe : observed per-period Sharpe ratio.
    benchmark : per-period Sharpe ratio to beat (SR*).
    n_obs : number of return observations T (>= 2).
    skew : skewness of the returns.
    kurtosis : non-excess kurtosis of the returns (normal = 3).

    Returns
    -------
    float
        A probability in [0, 1]; NaN when an input is NaN or the variance term is not positive.

    Examples
    --------
    >>> probabilistic_sharpe_ratio(0.1, 0.1, 250, 0.0, 3.0)
    0.5
    >>> round(probabilistic_sharpe_ratio(0.1, 0.0, 250, 0.0, 3.0), 4)
    0.9423
    """
    if n_obs < 2:
        raise ValueError(f"n_obs={n_obs!r}: needs at least 2 observations")
    values = (sharpe, benchmark, skew, kurtosis)
    if any(v is None or math.isnan(float(v)) for v in values):
        return math.nan
    var_term = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not var_term > 0:
        return math.nan
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var_term)
    return float(norm.cdf(z))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    r"""Expected maximum Sharpe ratio of ``n_trials`` unskilled trials (true Sharpe 0).

    Bailey & López de Prado (2014), eq. (2) (the "False Strategy" theorem)::

        SR₀ = √V · ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))

    with ``V`` the variance of the trials' Sharpe ratios and γ the Euler–Mascheroni constant. One trial has
    nothing to select from: ``SR₀ = 0``.

    Examples
    --------
    >>> round(expected_max_sharpe(100, 1.0), 4)
    2.5306
    >>> expected_max_sharpe(1, 1.0)
    0.0
    """
    if n_trials < 1:
        raise ValueError(f"n_trials={n_trials!r}: needs at least one trial")
    if not sharpe_variance >= 0:
        raise ValueError(f"sharpe_variance={sharpe_variance!r}: must be a non-negative number")
    if n_trials == 1:
        return 0.0
    g = EULER_GAMMA
    z = (1.0 - g) * norm.ppf(1.0 - 1.0 / n_trials) + g * norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sharpe_variance) * z)


def deflated_sharpe_ratio(
    sharpe: float, n_trials: int, sharpe_variance: float, n_obs: int, skew: float, kurtosis: float
) -> float:
    r"""Probability that the true Sharpe ratio of the best of ``n_trials`` exceeds what luck alone would give.

    Bailey & López de Prado (2014), eq. (1)-(2)::

        DSR = PSR(SR₀),  SR₀ = √V · ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))
            = Φ( (SR - SR₀) √(T - 1) / √(1 - γ₃ SR + (γ₄ - 1)/4 SR²) )

    Parameters
    ----------
    sharpe : per-period Sharpe ratio of the selected (best) trial.
    n_trials : number of independent trials tried, N.
    sharpe_variance : variance V of the per-period Sharpe ratios across the trials.
    n_obs : number of return observations T of the selected trial.
    skew : skewness of the selected trial's returns.
    kurtosis : non-excess kurtosis of its returns (normal = 3).

    Examples
    --------
    The paper's example: annualized SR 2.5 over 1250 daily returns, 100 trials with annualized Sharpe
    variance 0.5, skewness -3, kurtosis 10:

    >>> round(deflated_sharpe_ratio(2.5 / 250**0.5, 100, 0.5 / 250, 1250, -3.0, 10.0), 3)
    0.9
    """
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(sharpe, benchmark, n_obs, skew, kurtosis)


# --------------------------------------------------------------------------------------------------------
# Block moments and CSCV
# --------------------------------------------------------------------------------------------------------


def block_counts(n_bars: int, n_blocks: int) -> np.ndarray:
    """Bars per block when ``n_bars`` are split into ``n_blocks`` consecutive blocks as the sweep does.

    Block ``b`` covers bars ``[b * n // S, (b + 1) * n // S)``.

    Examples
    --------
    >>> block_counts(10, 4).tolist()
    [2, 3, 2, 3]
    """
    edges = (np.arange(n_blocks + 1, dtype=np.int64) * n_bars) // n_blocks
    return np.diff(edges)


def sharpe_from_moments(sums: Any, sumsq: Any, counts: Any) -> np.ndarray:
    r"""Per-period Sharpe ratio (mean / std, ddof=1) from the sum, sum of squares and count of returns.

    ``mean = Σr / n``, ``var = (Σr² - (Σr)² / n) / (n - 1)``; NaN where the variance is zero (or within
    rounding of zero) or ``n < 2``. Arguments broadcast.

    Examples
    --------
    >>> r = np.array([0.01, -0.02, 0.03, 0.0])
    >>> bool(np.isclose(sharpe_from_moments(r.sum(), (r**2).sum(), 4), r.mean() / r.std(ddof=1)))
    True
    """
    s = np.asarray(sums, dtype=np.float64)
    ss = np.asarray(sumsq, dtype=np.float64)
    n = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        centered = ss - s * s / n
        var = centered / (n - 1.0)
        ok = (n >= 2) & (centered > 1e-12 * ss)
        out = np.where(ok, (s / n) / np.sqrt(np.where(ok, var, 1.0)), np.nan)
    return out


def merge_blocks(
    block_sums: np.ndarray, block_sumsq: np.ndarray, block_counts: np.ndarray, n_splits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge ``S`` consecutive blocks into ``n_splits`` groups: group ``g`` holds blocks
    ``[g * S // n_splits, (g + 1) * S // n_splits)``. Returns (sums, sums of squares, counts).

    Examples
    --------
    >>> s, q, c = merge_blocks(np.ones((1, 4)), np.ones((1, 4)), np.array([2, 2, 3, 3]), 2)
    >>> s.tolist(), c.tolist()
    ([[2.0, 2.0]], [4, 6])
    """
    n_blocks = block_sums.shape[1]
    edges = (np.arange(n_splits + 1) * n_blocks) // n_splits
    return (
        np.add.reduceat(block_sums, edges[:-1], axis=1),
        np.add.reduceat(block_sumsq, edges[:-1], axis=1),
        np.add.reduceat(np.asarray(block_counts), edges[:-1]),
    )


@njit(cache=True, nogil=True, error_model="numpy")
def _score_nb(s: float, q: float, inv_n: float) -> float:
    """Sharpe ratio up to the positive factor ``n / sqrt(n - 1)`` (n fixed per split), -inf for no variance.

    ``SR = (s / n) / sqrt((q - s^2 / n) / (n - 1))``, so ``s / sqrt(q - s^2 / n)`` ranks trials of equal n
    exactly like their Sharpe ratios; NaN Sharpe (zero variance, as in ``sharpe_from_moments``) -> -inf.
    """
    centered = q - s * s * inv_n
    if not centered > 1e-12 * q:
        return -np.inf
    return s / np.sqrt(centered)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _cscv_omega_nb(lo_idx, hi_idx, lo_s, lo_q, lo_n, hi_s, hi_q, hi_n, tot_s, tot_q, tot_n, omega_out):
    """For each split c: the out-of-sample relative rank of the in-sample best trial.

    The in-sample groups of split c are the subset ``lo_idx[c]`` of the first half of the groups plus the
    subset ``hi_idx[c]`` of the second half; ``lo_*``/``hi_*`` hold every subset's summed moments
    (``[2^k, trials]``), so a split's in-sample moments cost two additions per trial. The in-sample winner is
    the first trial with the highest Sharpe; its out-of-sample rank is 1-based, ascending, ties averaged,
    divided by N + 1.
    """
    n_trials = tot_s.shape[0]
    for c in prange(lo_idx.shape[0]):
        a = lo_idx[c]
        b = hi_idx[c]
        n_in = lo_n[a] + hi_n[b]
        n_out = tot_n - n_in
        inv_in = 1.0 / n_in if n_in >= 2 else np.nan
        inv_out = 1.0 / n_out if n_out >= 2 else np.nan
        best = 0
        best_sr = -np.inf
        for i in range(n_trials):
            sr = _score_nb(lo_s[a, i] + hi_s[b, i], lo_q[a, i] + hi_q[b, i], inv_in)
            if sr > best_sr:
                best_sr = sr
                best = i
        pick = _score_nb(
            tot_s[best] - (lo_s[a, best] + hi_s[b, best]), tot_q[best] - (lo_q[a, best] + hi_q[b, best]), inv_out
        )
        less = 0
        equal = 0
        for i in range(n_trials):
            sr = _score_nb(tot_s[i] - (lo_s[a, i] + hi_s[b, i]), tot_q[i] - (lo_q[a, i] + hi_q[b, i]), inv_out)
            if sr < pick:
                less += 1
            elif sr == pick:
                equal += 1
        omega_out[c] = (less + (equal + 1) / 2.0) / (n_trials + 1.0)


def _subset_sums(values: np.ndarray) -> np.ndarray:
    """``out[mask] = values[..., bits of mask].sum(-1)`` for every mask of the last axis (``[2^k, ...]``)."""
    k = values.shape[-1]
    out = np.zeros((1 << k, *values.shape[:-1]))
    for mask in range(1, 1 << k):
        bit = (mask & -mask).bit_length() - 1
        out[mask] = out[mask ^ (1 << bit)] + values[..., bit]
    return out


def probability_of_backtest_overfitting(
    block_sums: np.ndarray,
    block_sumsq: np.ndarray,
    block_counts: np.ndarray,
    n_splits: int | None = None,
) -> tuple[float, np.ndarray]:
    r"""PBO by combinatorially symmetric cross-validation over per-block return moments.

    Bailey, Borwein, López de Prado & Zhu (2015), section 2: the ``S`` blocks (merged into ``n_splits``
    groups first when fewer are asked) are split in every one of the ``C(S, S/2)`` ways into an in-sample
    half J and its complement J̄. For each split the trial with the best in-sample Sharpe ratio n* is taken,
    its out-of-sample relative rank ``ω = rank(n*) / (N + 1)`` (rank 1..N ascending, ties averaged) gives
    the logit ``λ = ln(ω / (1 - ω))``, and::

        PBO = #{λ <= 0} / C(S, S/2)

    the fraction of splits where the in-sample winner lands at or below the out-of-sample median. A NaN
    Sharpe ratio (no variance) ranks below every other value.

    Parameters
    ----------
    block_sums, block_sumsq : arrays ``[N trials, S blocks]`` of the sum and the sum of squares of each
        trial's per-bar returns in each block.
    block_counts : ``[S]`` returns per block (the same for every trial).
    n_splits : even number of groups, 2 <= n_splits <= S; default ``S``.

    Returns
    -------
    (pbo, logits)
        The probability and the ``C(n_splits, n_splits/2)`` logits, one per split (lexicographic order of
        the in-sample groups).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = rng.normal(size=(20, 16, 50))  # 20 noise trials, 16 blocks of 50 returns
    >>> pbo, logits = probability_of_backtest_overfitting(r.sum(2), (r**2).sum(2), np.full(16, 50), 8)
    >>> len(logits), 0.0 <= pbo <= 1.0
    (70, True)
    """
    sums = np.atleast_2d(np.asarray(block_sums, dtype=np.float64))
    sumsq = np.atleast_2d(np.asarray(block_sumsq, dtype=np.float64))
    counts = np.asarray(block_counts, dtype=np.float64).reshape(-1)
    n_trials, n_blocks = sums.shape
    if sumsq.shape != sums.shape or counts.shape != (n_blocks,):
        raise ValueError(
            f"block_sums {sums.shape}, block_sumsq {sumsq.shape} and block_counts {counts.shape} disagree: "
            "expected [N, S], [N, S] and [S]"
        )
    if n_trials < 2:
        raise ValueError(f"PBO needs at least 2 trials to select from, got {n_trials}")
    n_splits = n_blocks if n_splits is None else int(n_splits)
    if n_splits < 2 or n_splits % 2 or n_splits > n_blocks:
        raise ValueError(f"n_splits={n_splits}: must be an even number between 2 and {n_blocks} (the blocks kept)")
    if n_splits < n_blocks:
        sums, sumsq, counts = merge_blocks(sums, sumsq, counts, n_splits)

    # Splits in lexicographic order of their in-sample groups, each coded as (subset of the first half of
    # the groups, subset of the second half) as bit masks.
    half = n_splits // 2
    combos = np.array(list(combinations(range(n_splits), half)), dtype=np.int64)
    bits = np.zeros((len(combos), n_splits), dtype=np.int64)
    bits[np.arange(len(combos))[:, None], combos] = 1
    lo_idx = np.ascontiguousarray(bits[:, :half] @ (1 << np.arange(half)))
    hi_idx = np.ascontiguousarray(bits[:, half:] @ (1 << np.arange(n_splits - half)))
    omega = np.empty(len(combos))
    _cscv_omega_nb(
        lo_idx,
        hi_idx,
        _subset_sums(sums[:, :half]),
        _subset_sums(sumsq[:, :half]),
        _subset_sums(counts[:half]),
        _subset_sums(sums[:, half:]),
        _subset_sums(sumsq[:, half:]),
        _subset_sums(counts[half:]),
        sums.sum(axis=1),
        sumsq.sum(axis=1),
        float(counts.sum()),
        omega,
    )
    logits = np.log(omega / (1.0 - omega))
    return float(np.mean(logits <= 0.0)), logits


# --------------------------------------------------------------------------------------------------------
# Parameter stability
# --------------------------------------------------------------------------------------------------------


def parameter_stability(metrics: pd.Series, best_key: Any = None) -> float:
    """Mean of the metric over the grid neighbours of the best cell, divided by the best value.

    Each swept parameter (index level) is placed on the grid of its sorted unique values; the neighbours
    of the best cell are the cells whose position differs by at most one step in every parameter, the
    cell itself, cells missing from the grid (e.g. excluded by a constraint) and cells with a NaN metric
    excluded. 1.0 means a plateau, a value near 0 (or negative) an isolated spike. Meant for metrics where
    higher is better and the best value is positive.

    Parameters
    ----------
    metrics : one metric per parameter set of a single symbol, indexed by the parameters.
    best_key : index label of the best cell (a tuple for several parameters); default: the maximum.

    Returns
    -------
    float
        The ratio; NaN when the best cell has no neighbour or its value is 0 or NaN.

    Examples
    --------
    >>> idx = pd.MultiIndex.from_product([[1, 2, 3], [10, 20]], names=["fast", "slow"])
    >>> s = pd.Series([1.0, 0.9, 1.0, 1.0, 0.9, 0.8], index=idx)
    >>> round(parameter_stability(s, (2, 10)), 3)
    0.92
    """
    if "symbol" in (metrics.index.names or []):
        raise ValueError("metrics has a 'symbol' level: pass one symbol's rows, e.g. metrics.xs('SPY', level='symbol')")
    if best_key is None:
        best_key = metrics.idxmax()
    values = metrics.to_numpy(dtype=np.float64)
    index = metrics.index
    levels = index.nlevels
    key = best_key if isinstance(best_key, tuple) else (best_key,)
    if len(key) != levels:
        raise ValueError(f"best_key={best_key!r} does not match the {levels} index level(s) {list(index.names)}")
    pos = np.empty((len(index), levels), dtype=np.int64)
    best_pos = np.empty(levels, dtype=np.int64)
    for i in range(levels):
        labels = index.get_level_values(i)
        uniq = np.sort(pd.unique(np.asarray(labels)))
        pos[:, i] = np.searchsorted(uniq, np.asarray(labels))
        j = int(np.searchsorted(uniq, key[i]))
        if j >= len(uniq) or uniq[j] != key[i]:
            raise ValueError(f"best_key={best_key!r}: {key[i]!r} is not a value of {index.names[i]!r}")
        best_pos[i] = j
    at_best = np.all(pos == best_pos, axis=1)
    if not at_best.any():
        raise ValueError(f"best_key={best_key!r} is not a cell of the grid")
    best_value = float(values[np.argmax(at_best)])
    near = np.all(np.abs(pos - best_pos) <= 1, axis=1) & ~at_best & ~np.isnan(values)
    if not near.any() or not np.isfinite(best_value) or best_value == 0.0:
        return math.nan
    return float(values[near].mean() / best_value)


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


def trial_returns(result: SweepResult, params: dict[str, Any], symbol: str) -> np.ndarray:
    """Per-bar simple returns of equity of one parameter set on ``symbol``, re-simulated as the sweep did.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.sweep("sma_cross", wb.load("SPY"), fast=[10, 20], slow=[50], progress=False)
    >>> r = trial_returns(res, {"fast": 10, "slow": 50}, res.symbols[0])  # doctest: +SKIP
    """
    from workbench.engine.single import simulate

    frame = result.frames[symbol]
    run = simulate(result.strategy(**params), frame, result.costs, float(result.periods_per_year[symbol]))
    equity = run.equity.to_numpy()
    prev = np.concatenate([[float(result.costs.cash)], equity[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev > 0, equity / prev - 1.0, 0.0)


def _assess_symbol(result: SweepResult, rows: np.ndarray, symbol: str, n_splits: int | None) -> OverfittingReport:
    from workbench.research.result import LOWER_IS_BETTER

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
    counts = block_counts(len(result.frames[symbol]), blocks.shape[1])
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
    ann = math.sqrt(result.periods_per_year[symbol])

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


def assess(result: SweepResult, n_splits: int | None = None) -> OverfittingReport | dict[str, OverfittingReport]:
    """Deflated Sharpe ratio, PBO and parameter stability of a sweep's best run, with a verdict.

    The best run is the best row by the sweep's metric (``result.metric``); it is re-simulated once to get
    its returns' length, skewness and kurtosis for the deflated Sharpe ratio. The Sharpe variance across
    trials comes from each run's full-sample per-period Sharpe ratio (its blocks merged). Every row counts
    as a trial; correlated trials (neighbouring parameters) make the variance, and so the deflation,
    smaller than for independent ones. PBO selects the in-sample winner by Sharpe ratio whatever the metric.
    An interrupted sweep is assessed on the rows it has.

    Parameters
    ----------
    result : a ``SweepResult`` (``wb.sweep(...)``).
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
        return _assess_symbol(result, np.arange(n_rows), result.symbols[0], n_splits)
    symbols = result.metrics.index.get_level_values("symbol").to_numpy()
    return {s: _assess_symbol(result, np.flatnonzero(symbols == s), s, n_splits) for s in result.symbols}
