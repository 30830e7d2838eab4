"""Walk-forward: window splitting, selection that never sees test data, out-of-sample runs, stitched equity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench as wb
import workbench.research.walk_forward as wf_module
from workbench.engine.metrics import METRIC_NAMES, N_METRICS
from workbench.engine.risk_rules import day_ids, risk_array
from workbench.engine.simulate import N_TRADE_FIELDS, run_nb
from workbench.research.walk_forward import split_windows
from workbench.strategies.base import BAR_ARGS
from workbench.strategies.params import ParameterError

GRID = {"fast": range(5, 30, 5), "slow": range(20, 100, 20)}  # 19 parameter sets with fast < slow
TRAIN, TEST = "2Y", "6M"  # on SPY 2015-2018: 4 windows
CASH, FEES = 10_000.0, 0.001


@pytest.fixture(scope="module")
def SmaCross():
    return wb.strategy("sma_cross")


def _walk(bars, **kwargs):
    args = {"train": TRAIN, "test": TEST, "fees": FEES, "cash": CASH, "progress": False, **GRID, **kwargs}
    return wb.walk_forward("sma_cross", bars, **args)


@pytest.fixture(scope="module")
def rolling(spy):
    return _walk(spy)


@pytest.fixture(scope="module")
def anchored(spy):
    return _walk(spy, anchored=True)


def _arrays(frame):
    return [np.ascontiguousarray(frame[c].to_numpy(dtype=np.float64)) for c in BAR_ARGS]


def _run(frame, exposure, start, end, fees=FEES, cash=CASH, fill_close=False, ppy=252.0) -> dict[str, float]:
    """Metrics of ``exposure`` over bars [start, end), starting flat: the engine's run_nb, called directly."""
    out = np.empty(N_METRICS)
    run_nb(
        frame["open"].to_numpy(np.float64),
        frame["close"].to_numpy(np.float64),
        exposure,
        day_ids(frame.index),
        start,
        end,
        cash,
        fees,
        0.0,
        0.0,
        fill_close,
        ppy,
        risk_array(),
        out,
        np.zeros((0, 2)),
        False,
        np.empty(0),
        np.empty(0),
        np.empty((0, N_TRADE_FIELDS)),
    )
    return dict(zip(METRIC_NAMES, out, strict=True))


def _grid_rows(cls):
    from workbench.engine.grid import build_grid

    grid = build_grid(cls, GRID)
    return [dict(zip(grid.columns, map(int, row), strict=True)) for row in grid.to_numpy()]


def _assert_metrics(got: dict, want: dict, rtol=1e-12):
    for name in METRIC_NAMES:
        a, b = float(got[name]), float(want[name])
        if np.isnan(b) or np.isinf(b):
            assert (np.isnan(a) and np.isnan(b)) or a == b, (name, a, b)
        else:
            assert a == pytest.approx(b, rel=rtol, abs=1e-15), (name, a, b)


def _params(row) -> dict[str, int]:
    return {"fast": int(row["fast"]), "slow": int(row["slow"])}


# ---------------------------------------------------------------------------------------------------------------
# split_windows
# ---------------------------------------------------------------------------------------------------------------


def _expected_calendar(index, train_months, test_months, step_months, anchored=False):
    """Boundaries computed independently: one combined month offset from the first bar, snapped forward."""
    n, out, k = len(index), [], 0
    at = lambda months: int(index.searchsorted(index[0] + pd.DateOffset(months=months)))  # noqa: E731
    while True:
        b = at(k * step_months + train_months)
        if b >= n:
            return np.array(out)
        test_end = min(at(k * step_months + train_months + test_months), n)
        out.append((0 if anchored else at(k * step_months), b, test_end))
        k += 1


def test_split_windows_calendar_spans(spy):
    idx = spy.index
    got = split_windows(idx, "2Y", "6M")
    np.testing.assert_array_equal(got, _expected_calendar(idx, 24, 6, 6))
    assert len(got) == 4
    a, b, c = got.T
    assert (a < b).all() and (b < c).all()
    # training [a, b) and test [b, c) share no bar; test windows tile the data after the first training window
    np.testing.assert_array_equal(c[:-1], b[1:])
    assert c[-1] == len(idx)
    assert idx[b[0]] == idx[idx.searchsorted(pd.Timestamp("2017-01-02", tz="UTC"))]
    # window k trains from the first bar + 6k months for two calendar years (boundaries snapped to the next bar)
    for k, (ai, bi) in enumerate(zip(a, b, strict=True)):
        start = idx[0] + pd.DateOffset(months=6 * k)
        assert (ai == 0 or idx[ai - 1] < start) and start <= idx[ai]
        assert idx[bi - 1] < idx[0] + pd.DateOffset(months=6 * k + 24) <= idx[bi]


def test_split_windows_anchored_start_at_the_first_bar(spy):
    rolling = split_windows(spy.index, "2Y", "6M")
    anchored = split_windows(spy.index, "2Y", "6M", anchored=True)
    assert (anchored[:, 0] == 0).all()
    np.testing.assert_array_equal(anchored[:, 1:], rolling[:, 1:])
    assert (rolling[1:, 0] > 0).all()


def test_split_windows_bar_counts(spy):
    n = len(spy)  # 1006
    want = np.array([[0, 500, 625], [125, 625, 750], [250, 750, 875], [375, 875, 1000], [500, 1000, n]])
    np.testing.assert_array_equal(split_windows(spy.index, 500, 125), want)
    np.testing.assert_array_equal(split_windows(spy.index, "500bars", "125 bars"), want)
    np.testing.assert_array_equal(split_windows(spy.index, np.int64(500), 125), want)
    anchored = split_windows(spy.index, 500, 125, anchored=True)
    np.testing.assert_array_equal(anchored, np.column_stack([np.zeros(5, int), want[:, 1:]]))


def test_split_windows_step_smaller_than_test(spy):
    n = len(spy)
    got = split_windows(spy.index, 500, 200, step=100)
    want = [(100 * k, 100 * k + 500, min(100 * k + 700, n)) for k in range(6)]  # 100k + 500 < 1006
    np.testing.assert_array_equal(got, np.array(want))
    a, b, c = got.T
    assert (c[:-1] > b[1:]).all()  # consecutive test windows overlap each other ...
    assert (b > a).all() and (c > b).all()  # ... but never their own training window
    cal = split_windows(spy.index, "2Y", "6M", step="3M")
    np.testing.assert_array_equal(cal, _expected_calendar(spy.index, 24, 6, 3))
    assert len(cal) == 8


def test_split_windows_step_larger_than_test_leaves_gaps(spy):
    got = split_windows(spy.index, 300, 50, step=100)
    _, b, c = got.T
    np.testing.assert_array_equal(b[1:] - c[:-1], 50)
    np.testing.assert_array_equal(c[:-1] - b[:-1], 50)
    assert c[-1] == len(spy) and 0 < c[-1] - b[-1] <= 50  # the last test window is cut by the data's end


@pytest.mark.parametrize(("train", "test"), [("4Y", "1D"), ("5Y", "1M"), (1006, 10), (1500, 1), ("1006bars", "1bar")])
def test_split_windows_too_short_data(spy, train, test):
    with pytest.raises(ParameterError, match=r"too short for train=.* plus test=") as info:
        split_windows(spy.index, train, test)
    assert "1006 bars" in str(info.value)


def test_split_windows_one_bar_of_test_is_enough(spy):
    np.testing.assert_array_equal(split_windows(spy.index, 1005, 10), [[0, 1005, 1006]])


@pytest.mark.parametrize("span", ["3X", "Y", "-1Y", "0Y", "1.5Y", "", "three years", 0, -5, True, None, "3 Y Y"])
def test_bad_span_strings_raise_value_error(spy, span):
    with pytest.raises(ValueError, match=r"span"):
        split_windows(spy.index, span, "6M")
    with pytest.raises(ValueError, match=r"span"):
        split_windows(spy.index, "2Y", span)


def test_mixed_bar_counts_and_time_spans_raise(spy):
    with pytest.raises(ValueError, match="all be bar counts or all be time lengths"):
        split_windows(spy.index, 500, "6M")
    with pytest.raises(ValueError, match="all be bar counts or all be time lengths"):
        split_windows(spy.index, "2Y", "6M", step=50)


def test_month_spans_tile_from_a_month_end_start():
    idx = pd.bdate_range("2015-01-30", periods=400, tz="UTC", name="timestamp")
    got = split_windows(idx, "1M", "1M")
    _, b, c = got.T
    np.testing.assert_array_equal(c[:-1], b[1:])


# ---------------------------------------------------------------------------------------------------------------
# walk_forward: the result table
# ---------------------------------------------------------------------------------------------------------------


def test_window_table_matches_the_splits(rolling, spy, SmaCross):
    splits = split_windows(spy.index, TRAIN, TEST)
    w = rolling.windows
    assert len(w) == len(splits) == 4
    assert (w["symbol"] == "SPY").all()
    idx = spy.index
    for (a, b, c), (_, row) in zip(splits, w.iterrows(), strict=True):
        dates = (row.train_start, row.train_end, row.test_start, row.test_end)
        assert dates == (idx[a], idx[b - 1], idx[b], idx[c - 1])
        assert row.train_end < row.test_start  # no overlap
        assert idx.get_loc(row.test_start) == idx.get_loc(row.train_end) + 1  # adjacent
        assert row.fast < row.slow and row.fast in GRID["fast"] and row.slow in GRID["slow"]
    for prev, nxt in zip(list(w.itertuples())[:-1], list(w.itertuples())[1:], strict=True):
        assert idx.get_loc(nxt.test_start) == idx.get_loc(prev.test_end) + 1  # test windows tile
    for m in METRIC_NAMES:
        assert f"is_{m}" in w.columns and f"oos_{m}" in w.columns
    assert list(rolling.summary().columns) == [
        "symbol",
        "test_start",
        "test_end",
        "fast",
        "slow",
        "is_sharpe",
        "oos_sharpe",
    ]
    assert rolling.efficiency() == pytest.approx(w["oos_sharpe"].mean() / w["is_sharpe"].mean())
    assert "4 windows" in repr(rolling)


@pytest.mark.parametrize("anchored", [False, True])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_selection_never_sees_test_data(spy, anchored, k):
    """Perturb bars inside test window k only: nothing known at its training end may change."""
    base = _walk(spy, anchored=anchored)
    _, b, c = split_windows(spy.index, TRAIN, TEST, anchored=anchored)[k]
    rng = np.random.default_rng(k)
    factor = np.exp(np.cumsum(rng.normal(0.0, 0.03, c - b)))  # a different path inside the window only
    bent = spy.copy()
    for col in ("open", "high", "low", "close"):
        bent.iloc[b:c, bent.columns.get_loc(col)] = spy[col].to_numpy()[b:c] * factor
    bent.iloc[b:c, bent.columns.get_loc("volume")] = spy["volume"].to_numpy()[b:c][::-1]
    moved = _walk(bent, anchored=anchored)
    is_cols = ["fast", "slow", "train_start", "train_end", *[f"is_{m}" for m in METRIC_NAMES]]
    pd.testing.assert_frame_equal(moved.windows.loc[:k, is_cols], base.windows.loc[:k, is_cols], check_exact=True)
    oos_cols = [f"oos_{m}" for m in METRIC_NAMES]
    pd.testing.assert_frame_equal(
        moved.windows.loc[: k - 1, oos_cols], base.windows.loc[: k - 1, oos_cols], check_exact=True
    )
    # the perturbation is real: window k's out-of-sample result and the stitched equity from bar b change
    assert moved.windows.loc[k, "oos_end_value"] != base.windows.loc[k, "oos_end_value"]
    first_test = split_windows(spy.index, TRAIN, TEST)[0, 1]
    eq_new, eq_old = moved.equity["SPY"], base.equity["SPY"]
    pd.testing.assert_series_equal(eq_new.iloc[: b - first_test], eq_old.iloc[: b - first_test], check_exact=True)
    assert not np.array_equal(eq_new.iloc[b - first_test :].to_numpy(), eq_old.iloc[b - first_test :].to_numpy())


def test_chosen_params_are_the_in_sample_argmax_rolling(rolling, spy, SmaCross):
    """Oracle: the engine's run_nb over each training window [a, b) of full-data signals, for every grid row.

    Signals come from the full history (a causal strategy's value at t < b does not depend on bars >= b, which
    the look-ahead tests check), so an indicator's warm-up may reach before a; a sweep on the sliced frame
    ``spy.iloc[a:b]`` would restart every indicator at a and is not the same quantity.
    """
    rows = _grid_rows(SmaCross)
    exposures = [SmaCross(**p).exposure(spy).to_numpy() for p in rows]
    for (a, b, _), (_, win) in zip(split_windows(spy.index, TRAIN, TEST), rolling.windows.iterrows(), strict=True):
        scores = [_run(spy, e, a, b) for e in exposures]
        sharpe = np.array([s["sharpe"] for s in scores])
        best = int(np.nanargmax(sharpe))
        assert np.sum(sharpe == sharpe[best]) == 1  # a unique winner, so the comparison is exact
        assert _params(win) == rows[best]
        _assert_metrics({m: win[f"is_{m}"] for m in METRIC_NAMES}, scores[best])


def test_chosen_params_are_the_in_sample_argmax_anchored(anchored, spy):
    """Oracle: an independent ``wb.sweep`` on the bars before the test window, ``spy.iloc[:b]``.

    With anchored windows training is [0, b), and a causal strategy's signals on the truncated frame equal the
    full-data ones there, so the sweep's metric table is exactly the in-sample table walk_forward ranks.
    """
    for (a, b, _), (_, win) in zip(
        split_windows(spy.index, TRAIN, TEST, anchored=True), anchored.windows.iterrows(), strict=True
    ):
        assert a == 0
        res = wb.sweep("sma_cross", spy.iloc[:b], fees=FEES, cash=CASH, progress=False, **GRID)
        sharpe = res.metrics["sharpe"]
        assert (sharpe == sharpe.max()).sum() == 1
        assert _params(win) == res.best_params()
        _assert_metrics(
            {m: win[f"is_{m}"] for m in METRIC_NAMES}, res.metrics.loc[tuple(res.best_params().values())].to_dict()
        )


def test_lower_is_better_metric_selects_the_minimum(spy, SmaCross):
    wf = _walk(spy, metric="volatility")
    rows = _grid_rows(SmaCross)
    exposures = [SmaCross(**p).exposure(spy).to_numpy() for p in rows]
    for (a, b, _), (_, win) in zip(split_windows(spy.index, TRAIN, TEST), wf.windows.iterrows(), strict=True):
        vol = np.array([_run(spy, e, a, b)["volatility"] for e in exposures])
        assert _params(win) == rows[int(np.nanargmin(vol))]
        assert win["is_volatility"] == pytest.approx(np.nanmin(vol), rel=1e-12)
    assert "on volatility" in repr(wf)


def test_out_of_sample_metrics_equal_a_fresh_run_on_the_test_window(rolling, spy, SmaCross):
    """Each window's oos_* metrics: the chosen parameters simulated over [b, c) only, starting flat with cash."""
    for (_, b, c), (_, win) in zip(split_windows(spy.index, TRAIN, TEST), rolling.windows.iterrows(), strict=True):
        exposure = SmaCross(**_params(win)).exposure(spy).to_numpy()
        want = _run(spy, exposure, b, c)
        _assert_metrics({m: win[f"oos_{m}"] for m in METRIC_NAMES}, want)
        assert win["oos_end_value"] == pytest.approx(CASH * (1 + want["total_return"]), rel=1e-12)


def _simulate(frame, exposure, start, end, cash, fees):
    """Long-only all-in/flat at the next open, in plain Python: an independent ledger for the stitched equity."""
    open_, close = frame["open"].to_numpy(), frame["close"].to_numpy()
    units, last, pending, equity = 0.0, 0.0, None, []
    for t in range(start, end):
        if pending is not None:
            if pending == 1.0 and units == 0.0:
                units, cash = cash / (open_[t] * (1 + fees)), 0.0
            elif pending == 0.0 and units > 0.0:
                units, cash = 0.0, units * open_[t] * (1 - fees)
            pending = None
        if exposure[t] != last:
            last = pending = exposure[t]
        equity.append(cash + units * close[t])
    return np.array(equity)


@pytest.mark.parametrize("anchored_", [False, True])
def test_stitched_equity_is_one_continuous_out_of_sample_run(spy, SmaCross, anchored_, rolling, anchored):
    wf = anchored if anchored_ else rolling
    splits = split_windows(spy.index, TRAIN, TEST, anchored=anchored_)
    equity = wf.equity["SPY"]
    start, end = splits[0, 1], splits[-1, 2]
    assert equity.index.equals(spy.index[start:end])
    assert equity.iloc[0] == CASH  # nothing fills on the first test bar (next-open fills)
    assert np.isfinite(equity.to_numpy()).all() and (equity > 0).all()
    exposure = np.zeros(len(spy))
    for (_, b, c), (_, win) in zip(splits, wf.windows.iterrows(), strict=True):
        exposure[b:c] = SmaCross(**_params(win)).exposure(spy).to_numpy()[b:c]
    np.testing.assert_allclose(equity.to_numpy(), _simulate(spy, exposure, start, end, CASH, FEES), rtol=1e-9)
    oos = wf.oos_metrics.loc["SPY"]
    assert oos["total_return"] == pytest.approx(equity.iloc[-1] / CASH - 1, rel=1e-12)
    assert oos["end_value"] == pytest.approx(equity.iloc[-1], rel=1e-12)
    assert oos["trades"] >= 1
    # continuity: no reset to cash at a window boundary while a position is held across it
    held_across = [b for (_, b, _) in splits[1:] if exposure[b - 1] == 1.0 and exposure[b] == 1.0]
    for b in held_across:
        assert equity.iloc[b - start] != CASH


def test_multi_symbol_walk_forward(spy, qqq):
    wf = _walk({"SPY": spy, "QQQ": qqq}, train=400, test=100)
    assert set(wf.equity) == {"SPY", "QQQ"}
    assert list(wf.oos_metrics.index) == ["SPY", "QQQ"]
    for symbol, frame in {"SPY": spy, "QQQ": qqq}.items():
        mine = wf.windows[wf.windows["symbol"] == symbol].reset_index(drop=True)
        alone = _walk(frame, train=400, test=100).windows
        assert len(mine) == len(split_windows(frame.index, 400, 100))
        pd.testing.assert_frame_equal(mine, alone, check_exact=True)


# ---------------------------------------------------------------------------------------------------------------
# walk_forward: bad input before any computation
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def no_compute(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("walk_forward started computing before rejecting its input")

    monkeypatch.setattr(wf_module, "run_grid", forbidden)


@pytest.mark.parametrize(
    ("kwargs", "exc", "part"),
    [
        ({"fees": -0.01}, ValueError, "fees=-0.01"),
        ({"fill": "midday"}, ValueError, "fill='midday'"),
        ({"metric": "nope"}, ValueError, "metric='nope'"),
        ({"fsat": [5]}, ParameterError, "no parameter fsat"),
        ({"fast": []}, ParameterError, "is empty"),
        ({"train": "3X"}, ValueError, "span '3X'"),
        ({"train": "4Y"}, ParameterError, "too short"),
        ({"slow": [600]}, ParameterError, "slow=600"),
    ],
)
def test_walk_forward_bad_input(no_compute, spy, kwargs, exc, part):
    with pytest.raises(exc, match=part.replace("(", r"\(").replace("[", r"\[")):
        _walk(spy, **kwargs)


def test_walk_forward_window_check_names_the_training_window(no_compute, spy):
    with pytest.raises(ParameterError, match=r"slow=600 needs more than 600 bars but SPY training window has 504"):
        _walk(spy, slow=[600])


def test_training_windows_on_their_own_bars_choose_what_a_sweep_of_the_slice_chooses(spy, rolling):
    """Oracle: ``wb.sweep`` on ``spy.iloc[a:b]``, whose indicators restart at a; out of sample nothing changes."""
    own = _walk(spy, train_warmup="window")
    splits = split_windows(spy.index, TRAIN, TEST)
    differ = 0
    for (a, b, _), (_, win), (_, warm) in zip(splits, own.windows.iterrows(), rolling.windows.iterrows(), strict=True):
        res = wb.sweep("sma_cross", spy.iloc[a:b], fees=FEES, cash=CASH, progress=False, **GRID)
        assert _params(win) == res.best_params()
        best = res.metrics.loc[tuple(res.best_params().values())].to_dict()
        _assert_metrics({m: win[f"is_{m}"] for m in METRIC_NAMES}, best)
        differ += win["is_sharpe"] != warm["is_sharpe"]
        if _params(win) == _params(warm):  # the same choice trades the same test window
            _assert_metrics({m: win[f"oos_{m}"] for m in METRIC_NAMES}, {m: warm[f"oos_{m}"] for m in METRIC_NAMES})
    assert differ > 0  # the two warm-ups are different questions on these windows


def test_an_unknown_train_warmup_is_refused(spy):
    with pytest.raises(ValueError, match=r"^train_warmup='cold': must be one of 'history', 'window'$"):
        _walk(spy, train_warmup="cold")


def test_a_universe_walk_forward_on_its_own_bars_chooses_what_a_sweep_of_the_slice_chooses():
    from workbench.engine.inputs import prepare_panel

    bars = wb.load(["SPY", "QQQ", "IWM"], start="2016-01-01", end="2019-12-31")
    grid = {"lookback": [20, 60], "top": [1, 2]}
    own = wb.walk_forward(
        "momentum", bars, train=300, test=150, fees=FEES, progress=False, train_warmup="window", **grid
    )
    splits = split_windows(prepare_panel(bars).index, 300, 150)
    assert len(own.windows) == len(splits) > 1
    for (a, b, _), (_, win) in zip(splits, own.windows.iterrows(), strict=True):
        res = wb.sweep("momentum", {s: f.iloc[a:b] for s, f in bars.items()}, fees=FEES, progress=False, **grid)
        chosen = {k: int(v) for k, v in res.best_params().items() if k in grid}
        assert {k: int(win[k]) for k in grid} == chosen


def test_a_backtest_refuses_too_few_bars_as_a_sweep_does(spy):
    short = spy.iloc[:50]
    message = r"^slow=100 needs more than 100 bars but SPY has 50$"
    with pytest.raises(ParameterError, match=message):
        wb.sweep("sma_cross", short, fast=10, slow=100, progress=False)
    with pytest.raises(ParameterError, match=message):
        wb.backtest(wb.strategy("sma_cross")(fast=10, slow=100), short)
    with pytest.raises(ParameterError, match=r"^slow=100 needs more than 100 bars but QQQ has 50$"):
        wb.backtest(wb.strategy("sma_cross")(fast=10, slow=100), {"SPY": spy, "QQQ": short})
