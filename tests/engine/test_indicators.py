"""Indicator and signal kernels against their pandas (or vectorbt) equivalents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vectorbt.generic.nb import crossed_above_1d_nb as vbt_crossed_above

from workbench.engine import indicators as ind


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    rng = np.random.default_rng(3)
    return 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 600)))


@pytest.mark.parametrize("window", [1, 2, 5, 20, 200])
def test_sma_matches_pandas(series: np.ndarray, window: int) -> None:
    expected = pd.Series(series).rolling(window).mean().to_numpy()
    np.testing.assert_allclose(ind.sma_nb(series, window), expected, rtol=1e-12, equal_nan=True)


def test_sma_with_nan_waits_for_a_full_window() -> None:
    a = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0])
    expected = pd.Series(a).rolling(3).mean().to_numpy()
    np.testing.assert_allclose(ind.sma_nb(a, 3), expected, equal_nan=True)


@pytest.mark.parametrize("window", [2, 10, 50])
def test_rolling_max_min_std_match_pandas(series: np.ndarray, window: int) -> None:
    s = pd.Series(series)
    np.testing.assert_allclose(ind.rolling_max_nb(series, window), s.rolling(window).max(), equal_nan=True)
    np.testing.assert_allclose(ind.rolling_min_nb(series, window), s.rolling(window).min(), equal_nan=True)
    np.testing.assert_allclose(ind.rolling_std_nb(series, window), s.rolling(window).std(), rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("window", [3, 12, 26])
def test_ema_matches_pandas_ewm_after_sma_seed(series: np.ndarray, window: int) -> None:
    seeded = pd.Series(series).copy()
    seeded.iloc[window - 1] = series[:window].mean()
    expected = seeded.iloc[window - 1 :].ewm(span=window, adjust=False).mean().reindex(range(len(series)))
    np.testing.assert_allclose(ind.ema_nb(series, window), expected, rtol=1e-12, equal_nan=True)


def test_rsi_matches_hand_computed_wilder() -> None:
    close = np.array(
        [
            44.34,
            44.09,
            44.15,
            43.61,
            44.33,
            44.83,
            45.10,
            45.42,
            45.84,
            46.08,
            45.89,
            46.03,
            45.61,
            46.28,
            46.28,
            46.00,
            46.03,
            46.41,
            46.22,
            45.64,
        ]
    )
    rsi = ind.rsi_nb(close, 14)
    assert np.isnan(rsi[:14]).all()
    diffs = np.diff(close)
    gain, loss = diffs[:14].clip(min=0).mean(), (-diffs[:14]).clip(min=0).mean()
    assert rsi[14] == pytest.approx(100 - 100 / (1 + gain / loss), rel=1e-12)
    gain = (gain * 13 + max(diffs[14], 0)) / 14
    loss = (loss * 13 + max(-diffs[14], 0)) / 14
    assert rsi[15] == pytest.approx(100 - 100 / (1 + gain / loss), rel=1e-12)
    assert 0 < rsi[14] < 100


def test_rsi_of_a_rising_series_is_100() -> None:
    assert ind.rsi_nb(np.arange(1.0, 30.0), 5)[-1] == 100.0


def test_crossings_match_vectorbt_including_ties_and_nan() -> None:
    rng = np.random.default_rng(5)
    a = np.round(rng.normal(0, 1, 2000), 1)  # rounding makes ties frequent
    b = np.round(rng.normal(0, 1, 2000), 1)
    a[rng.integers(0, 2000, 50)] = np.nan
    np.testing.assert_array_equal(ind.crossed_above_nb(a, b), vbt_crossed_above(a, b))
    np.testing.assert_array_equal(ind.crossed_below_nb(a, b), vbt_crossed_above(b, a))


def test_no_cross_when_fast_starts_above() -> None:
    fast = np.array([np.nan, 5.0, 6.0, 7.0, 4.0, 6.0])
    slow = np.array([np.nan, 4.0, 4.0, 4.0, 5.0, 5.0])
    np.testing.assert_array_equal(ind.crossed_above_nb(fast, slow), [False, False, False, False, False, True])


def test_hold_between_entries_and_exits() -> None:
    entries = np.array([0, 1, 1, 0, 0, 1, 1, 0], dtype=bool)
    exits = np.array([1, 0, 0, 1, 1, 0, 1, 1], dtype=bool)
    # bar 6: entry and exit together cancel (state kept: long); bar 7 exits
    np.testing.assert_array_equal(ind.hold_nb(entries, exits, 1.0), [0, 1, 1, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(ind.hold_nb(entries, exits, -1.0), [0, -1, -1, 0, 0, -1, -1, 0])


def test_shift() -> None:
    np.testing.assert_array_equal(ind.shift_nb(np.array([1.0, 2.0, 3.0]), 1), [np.nan, 1.0, 2.0])


def test_fused_crossover_exposure_equals_composition() -> None:
    rng = np.random.default_rng(9)
    a = np.round(rng.normal(0, 1, 3000), 1)
    b = np.round(rng.normal(0, 1, 3000), 1)
    a[rng.integers(0, 3000, 40)] = np.nan
    composed = ind.hold_nb(ind.crossed_above_nb(a, b), ind.crossed_below_nb(a, b), 1.0)
    np.testing.assert_array_equal(ind.crossover_exposure_nb(a, b, 1.0), composed)


def test_sma_window_longer_than_data_is_all_nan() -> None:
    assert np.isnan(ind.sma_nb(np.arange(5.0), 8)).all()
    np.testing.assert_allclose(ind.sma_nb(np.arange(5.0), 5), [np.nan] * 4 + [2.0], equal_nan=True)
