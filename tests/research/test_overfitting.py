"""Deflated Sharpe ratio, probability of backtest overfitting (CSCV), parameter stability and ``assess``."""

from __future__ import annotations

import dataclasses
import math
from itertools import combinations, pairwise

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm, rankdata

import workbench as wb
from workbench.engine.overfitting import (
    block_counts,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    merge_blocks,
    parameter_stability,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_from_moments,
)
from workbench.research.overfitting import OverfittingReport, assess, trial_returns, verdict

GAMMA = 0.5772156649015329


# ---------------------------------------------------------------------------------------------- DSR / PSR


def test_psr_matches_the_formula_by_hand():
    sr, bench, t, skew, kurt = 0.12, 0.05, 500, -0.8, 6.0
    expected = norm.cdf((sr - bench) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))
    assert probabilistic_sharpe_ratio(sr, bench, t, skew, kurt) == pytest.approx(expected, rel=1e-12)
    assert 0.9 < expected < 1.0


def test_psr_of_sharpe_equal_to_benchmark_is_one_half():
    assert probabilistic_sharpe_ratio(0.07, 0.07, 1000, -1.5, 9.0) == pytest.approx(0.5, abs=1e-15)


def test_dsr_matches_the_formula_by_hand_and_the_papers_example():
    # Bailey & López de Prado (2014), section 6: SR 2.5 annualized over 1250 days, 100 trials with variance
    # 0.5 of annualized Sharpe ratios, skewness -3, kurtosis 10 -> DSR ~ 0.9004.
    sr, n, v, t, skew, kurt = 2.5 / math.sqrt(250), 100, 0.5 / 250, 1250, -3.0, 10.0
    sr0 = math.sqrt(v) * ((1 - GAMMA) * norm.ppf(1 - 1 / n) + GAMMA * norm.ppf(1 - 1 / (n * math.e)))
    expected = norm.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))
    assert expected_max_sharpe(n, v) == pytest.approx(sr0, rel=1e-12)
    assert deflated_sharpe_ratio(sr, n, v, t, skew, kurt) == pytest.approx(expected, rel=1e-12)
    assert deflated_sharpe_ratio(sr, n, v, t, skew, kurt) == pytest.approx(0.9004, abs=5e-4)


def test_dsr_decreases_as_trials_grow():
    values = [deflated_sharpe_ratio(0.08, n, 0.001, 750, -0.5, 5.0) for n in (2, 5, 10, 100, 1000, 10_000)]
    assert all(a > b for a, b in pairwise(values)), values
    # one trial: nothing selected, the benchmark is 0 -> the PSR against 0
    assert deflated_sharpe_ratio(0.08, 1, 0.001, 750, -0.5, 5.0) == pytest.approx(
        probabilistic_sharpe_ratio(0.08, 0.0, 750, -0.5, 5.0)
    )


def test_psr_rejects_too_few_observations():
    with pytest.raises(ValueError, match="n_obs"):
        probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0)


# ---------------------------------------------------------------------------------------------- moments / PBO


def _moments(returns: np.ndarray, n_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-block (sums, sums of squares, counts) of ``returns`` [trials, bars], blocks laid out as a sweep's."""
    counts = block_counts(returns.shape[1], n_blocks)
    edges = np.concatenate([[0], np.cumsum(counts)])[:-1]
    return np.add.reduceat(returns, edges, axis=1), np.add.reduceat(returns**2, edges, axis=1), counts


def test_merged_moment_sharpe_equals_the_direct_sharpe_of_concatenated_returns():
    rng = np.random.default_rng(3)
    r = rng.normal(0.001, 0.01, size=(3, 103))
    s, q, c = _moments(r, 16)
    assert c.sum() == 103 and set(c.tolist()) == {6, 7}
    assert np.allclose(sharpe_from_moments(s.sum(1), q.sum(1), c.sum()), r.mean(1) / r.std(1, ddof=1), rtol=1e-10)
    # blocks 3, 4 and 9 together vs the same bars concatenated
    edges = np.concatenate([[0], np.cumsum(c)])
    bars = np.concatenate([r[:, edges[b] : edges[b + 1]] for b in (3, 4, 9)], axis=1)
    merged = sharpe_from_moments(s[:, [3, 4, 9]].sum(1), q[:, [3, 4, 9]].sum(1), c[[3, 4, 9]].sum())
    assert np.allclose(merged, bars.mean(1) / bars.std(1, ddof=1), rtol=1e-10)
    # adjacent groups, as n_splits < S merges them
    gs, gq, gc = merge_blocks(s, q, c, 4)
    assert gc.tolist() == [c[0:4].sum(), c[4:8].sum(), c[8:12].sum(), c[12:16].sum()]
    second = r[:, edges[4] : edges[8]]
    assert np.allclose(sharpe_from_moments(gs[:, 1], gq[:, 1], gc[1]), second.mean(1) / second.std(1, ddof=1))
    # no variance -> NaN
    assert np.isnan(sharpe_from_moments(0.0, 0.0, 10)) and np.isnan(sharpe_from_moments(0.5, 0.025, 10))


def test_block_counts_follow_the_sweep_layout():
    n, s = 6642, 16
    counts = block_counts(n, s)
    assert counts.sum() == n
    assert [int(counts[:b].sum()) for b in range(s)] == [b * n // s for b in range(s)]


def _pbo_reference(sums, sumsq, counts):
    """CSCV written out literally: every half of the blocks, Sharpe, IS argmax, OOS rank (ties averaged)."""
    n_trials, n_blocks = sums.shape
    logits = []
    for ins in combinations(range(n_blocks), n_blocks // 2):
        out = [b for b in range(n_blocks) if b not in ins]
        is_sr = sharpe_from_moments(sums[:, ins].sum(1), sumsq[:, ins].sum(1), counts[list(ins)].sum())
        oos_sr = sharpe_from_moments(sums[:, out].sum(1), sumsq[:, out].sum(1), counts[out].sum())
        is_sr = np.where(np.isnan(is_sr), -np.inf, is_sr)
        oos_sr = np.where(np.isnan(oos_sr), -np.inf, oos_sr)
        best = int(np.argmax(is_sr))
        omega = rankdata(oos_sr)[best] / (n_trials + 1)
        logits.append(math.log(omega / (1 - omega)))
    logits = np.array(logits)
    return float(np.mean(logits <= 0)), logits


def test_pbo_equals_a_literal_cscv():
    rng = np.random.default_rng(11)
    r = rng.normal(0.0002, 0.01, size=(7, 80))
    r[2] = 0.0  # a flat run: NaN Sharpe everywhere, ranks last
    r[5] = r[4]  # identical runs (different parameters, same trades): tied ranks
    s, q, c = _moments(r, 8)
    pbo, logits = probability_of_backtest_overfitting(s, q, c)
    ref_pbo, ref_logits = _pbo_reference(s, q, c)
    assert len(logits) == math.comb(8, 4)
    assert np.allclose(logits, ref_logits, rtol=1e-12)
    assert pbo == ref_pbo


def test_pbo_is_low_when_one_trial_has_real_drift():
    rng = np.random.default_rng(7)
    r = rng.normal(0.0, 0.01, size=(40, 16 * 100))
    r[13] += 0.002  # per-bar Sharpe 0.2 in every block; the noise trials' in-sample max is ~0.08
    s, q, c = _moments(r, 16)
    pbo, logits = probability_of_backtest_overfitting(s, q, c)
    assert pbo < 0.2
    assert np.median(logits) > 2.0


def test_pbo_of_pure_noise_is_near_one_half():
    values = []
    for seed in range(8):
        r = np.random.default_rng(seed).normal(0.0, 0.01, size=(50, 16 * 50))
        values.append(probability_of_backtest_overfitting(*_moments(r, 16))[0])
    assert 0.3 <= float(np.mean(values)) <= 0.7, values


@pytest.mark.parametrize(("n_splits", "expected"), [(None, 12_870), (16, 12_870), (10, 252), (8, 70), (2, 2)])
def test_pbo_enumerates_every_half_split(n_splits, expected):
    r = np.random.default_rng(1).normal(size=(5, 160))
    pbo, logits = probability_of_backtest_overfitting(*_moments(r, 16), n_splits=n_splits)
    assert len(logits) == expected == math.comb(n_splits or 16, (n_splits or 16) // 2)
    assert 0.0 <= pbo <= 1.0 and np.all(np.isfinite(logits))


def test_pbo_with_fewer_splits_equals_cscv_on_merged_blocks():
    r = np.random.default_rng(2).normal(0.0001, 0.01, size=(6, 170))
    s, q, c = _moments(r, 16)
    pbo, logits = probability_of_backtest_overfitting(s, q, c, n_splits=6)
    ref_pbo, ref_logits = _pbo_reference(*merge_blocks(s, q, c, 6))
    assert np.allclose(logits, ref_logits) and pbo == ref_pbo


def test_pbo_runs_on_thousands_of_trials():
    r = np.random.default_rng(5).normal(size=(2_329, 16, 8))  # per-block returns of 2,329 trials
    pbo, logits = probability_of_backtest_overfitting(r.sum(2), (r**2).sum(2), np.full(16, 8))
    assert len(logits) == 12_870 and 0.0 <= pbo <= 1.0


@pytest.mark.parametrize("n_splits", [3, 0, 18])
def test_pbo_rejects_a_bad_split_count(n_splits):
    r = np.random.default_rng(1).normal(size=(5, 160))
    with pytest.raises(ValueError, match="n_splits"):
        probability_of_backtest_overfitting(*_moments(r, 16), n_splits=n_splits)


def test_pbo_needs_two_trials():
    r = np.random.default_rng(1).normal(size=(1, 160))
    with pytest.raises(ValueError, match="at least 2 trials"):
        probability_of_backtest_overfitting(*_moments(r, 16))


# ---------------------------------------------------------------------------------------------- stability


def _grid(values: np.ndarray, xs, ys) -> pd.Series:
    index = pd.MultiIndex.from_product([xs, ys], names=["fast", "slow"])
    return pd.Series(values.ravel(), index=index, name="sharpe")


def test_stability_of_a_smooth_bowl_is_near_one():
    xs, ys = np.arange(5, 100, 5), np.arange(20, 220, 10)
    x, y = np.meshgrid(xs, ys, indexing="ij")
    bowl = 1.0 - 0.0002 * ((x - 50) ** 2 + (y - 120) ** 2)
    s = _grid(bowl, xs, ys)
    assert s.idxmax() == (50, 120)
    assert parameter_stability(s, (50, 120)) > 0.95
    assert parameter_stability(s) == parameter_stability(s, (50, 120))


def test_stability_of_a_single_spike_is_low():
    xs, ys = np.arange(5, 100, 5), np.arange(20, 220, 10)
    noise = np.random.default_rng(0).normal(0.0, 0.05, size=(len(xs), len(ys)))
    noise[7, 9] = 1.5
    s = _grid(noise, xs, ys)
    assert abs(parameter_stability(s, (xs[7], ys[9]))) < 0.1


def test_stability_uses_only_existing_neighbours():
    idx = pd.MultiIndex.from_tuples([(1, 10), (1, 20), (2, 10), (2, 20), (3, 30), (2, 30)], names=["a", "b"])
    s = pd.Series([2.0, 1.0, 4.0, np.nan, 0.0, 3.0], index=idx)
    # neighbours of (2, 10): (1, 10)=2, (1, 20)=1; (2, 20) is NaN; (3, 30) and (2, 30) are two steps away in b
    assert parameter_stability(s, (2, 10)) == pytest.approx((2.0 + 1.0) / 2 / 4.0)
    lonely = pd.Series([1.0, 2.0], index=pd.MultiIndex.from_tuples([(1, 10), (3, 30)], names=["a", "b"]))
    assert parameter_stability(lonely, (3, 30)) == pytest.approx(0.5)  # unique values make them adjacent
    assert math.isnan(parameter_stability(pd.Series([1.0], index=pd.Index([5], name="w")), 5))
    one_level = pd.Series([0.5, 1.0, 0.7, 0.1], index=pd.Index([10, 20, 30, 40], name="w"))
    assert parameter_stability(one_level, 20) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="not a value"):
        parameter_stability(one_level, 25)


# ---------------------------------------------------------------------------------------------- verdict


def test_verdicts():
    assert verdict(0.62, 0.99, 0.95).startswith("likely overfit: PBO 0.62 > 0.5")
    assert verdict(0.1, 0.2, 0.95).startswith("likely overfit: deflated Sharpe 0.20")
    assert verdict(0.08, 0.97, 0.91) == "robust: PBO 0.08, deflated Sharpe 0.97, stability 0.91"
    assert verdict(0.35, 0.97, 0.91).startswith("inconclusive: PBO 0.35")
    assert verdict(0.05, 0.97, float("nan")).startswith("inconclusive")


# ---------------------------------------------------------------------------------------------- assess


@pytest.fixture(scope="module")
def spy_sweep():
    return wb.sweep(
        "sma_cross", wb.load("SPY"), fast=range(5, 30, 5), slow=range(40, 120, 20), fill="close", progress=False
    )


@pytest.fixture(scope="module")
def two_symbol_sweep():
    return wb.sweep(
        "sma_cross",
        wb.load(["SPY", "QQQ"]),
        fast=range(5, 30, 5),
        slow=range(40, 120, 20),
        fill="close",
        progress=False,
    )


def _check_report(report: OverfittingReport, res, symbol: str) -> None:
    assert isinstance(report, OverfittingReport)
    assert report.symbol == symbol
    assert report.n_trials == 20 and report.n_splits == 16 and len(report.logits) == 12_870
    for value in (report.deflated_sharpe, report.pbo):
        assert np.isfinite(value) and 0.0 <= value <= 1.0
    assert np.isfinite(report.stability) and -1.0 < report.stability <= 1.0 + 1e-12
    assert report.verdict.split(":")[0] in {"robust", "likely overfit", "inconclusive"}
    text = str(report)
    assert text.startswith(report.verdict) and f"{report.pbo:.3f}" in text and symbol in text
    # the best row by the sweep's metric, and its re-simulated Sharpe equals the sweep's
    table = res.metrics.xs(symbol, level="symbol") if "symbol" in res.metrics.index.names else res.metrics
    assert report.best_params == res.best_params(symbol=symbol if len(res.symbols) > 1 else None)
    assert report.sharpe == pytest.approx(table["sharpe"].max(), rel=1e-9)
    # variance of the per-period Sharpe ratios across trials, from the metrics table directly
    variance = float(np.var(table["sharpe"] / math.sqrt(res.periods_per_year[symbol]), ddof=1))
    assert report.expected_max_sharpe == pytest.approx(
        expected_max_sharpe(20, variance) * math.sqrt(res.periods_per_year[symbol]), rel=1e-8
    )


def test_assess_a_single_symbol_sweep(spy_sweep):
    report = assess(spy_sweep)
    _check_report(report, spy_sweep, spy_sweep.symbols[0])
    assert dataclasses.replace(spy_sweep.overfitting(), logits=report.logits) == report


def test_assess_deflated_sharpe_uses_the_best_runs_returns(spy_sweep):
    report = assess(spy_sweep)
    symbol = spy_sweep.symbols[0]
    r = trial_returns(spy_sweep, report.best_params, symbol)
    from scipy.stats import kurtosis, skew

    table = spy_sweep.metrics["sharpe"] / math.sqrt(spy_sweep.periods_per_year[symbol])
    expected = deflated_sharpe_ratio(
        r.mean() / r.std(ddof=1), 20, float(np.var(table, ddof=1)), len(r), skew(r), kurtosis(r) + 3.0
    )
    assert report.deflated_sharpe == pytest.approx(expected, rel=1e-9)


def test_trial_returns_reproduce_the_sweeps_blocks(spy_sweep):
    symbol = spy_sweep.symbols[0]
    row = 7
    key = spy_sweep.metrics.index[row]
    r = trial_returns(spy_sweep, dict(zip(spy_sweep.params, key, strict=True)), symbol)
    s, q, _ = _moments(r[None, :], 16)
    assert np.allclose(s[0], spy_sweep.blocks[row, :, 0], rtol=1e-9, atol=1e-13)
    assert np.allclose(q[0], spy_sweep.blocks[row, :, 1], rtol=1e-9, atol=1e-15)


def test_assess_with_fewer_splits(spy_sweep):
    report = assess(spy_sweep, n_splits=8)
    assert report.n_splits == 8 and len(report.logits) == 70 and 0.0 <= report.pbo <= 1.0
    with pytest.raises(ValueError, match="n_splits"):
        assess(spy_sweep, n_splits=7)


def test_assess_a_multi_symbol_sweep_per_symbol(two_symbol_sweep):
    reports = assess(two_symbol_sweep)
    assert isinstance(reports, dict) and list(reports) == ["SPY", "QQQ"]
    for symbol, report in reports.items():
        _check_report(report, two_symbol_sweep, symbol)
    assert reports["SPY"].pbo != reports["QQQ"].pbo or reports["SPY"].best_params != reports["QQQ"].best_params


def test_assess_an_interrupted_sweep_on_the_rows_it_has(spy_sweep):
    part = dataclasses.replace(
        spy_sweep, metrics=spy_sweep.metrics.iloc[:6], blocks=spy_sweep.blocks[:6], complete=False
    )
    report = assess(part)
    assert report.n_trials == 6 and 0.0 <= report.pbo <= 1.0 and 0.0 <= report.deflated_sharpe <= 1.0
    one = dataclasses.replace(
        spy_sweep, metrics=spy_sweep.metrics.iloc[:1], blocks=spy_sweep.blocks[:1], complete=False
    )
    with pytest.raises(ValueError, match=r"at least 2 parameter sets.*interrupted"):
        assess(one)
