"""The overfitting statistics over a sweep's runs: probabilistic and deflated Sharpe ratio, probability of backtest
overfitting by combinatorially symmetric cross-validation (its kernels ``*_nb``), parameter stability.

A sweep tries many parameter sets and keeps the best; the best is then better than its true skill by
selection luck alone. Three independent checks, combined by ``workbench.research.overfitting.assess`` into one verdict:

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
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from numba import njit, prange
from scipy.stats import norm

EULER_GAMMA = 0.5772156649015329
"""Euler–Mascheroni constant γ of the expected-maximum approximation."""

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
