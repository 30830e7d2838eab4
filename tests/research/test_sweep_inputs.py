"""Sweep inputs: every bad input is a clear error before any computation; grids, ranges and SweepResult."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pandas as pd
import pytest

import workbench as wb
import workbench.engine.runner as runner
import workbench.engine.sweep_kernel as sweep_kernel
import workbench.research.sweep as sweep_module
from workbench.engine.grid import build_grid, parse_range
from workbench.engine.inputs import Costs
from workbench.engine.metrics import METRIC_NAMES
from workbench.errors import DataValidationError, WorkbenchError
from workbench.research.result import SweepResult
from workbench.strategies.params import ParameterError
from workbench.strategies.registry import StrategyNotFoundError

REQUIRED_METRICS = [
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "trades",
    "win_rate",
    "profit_factor",
    "exposure",
]
SMALL = {"fast": [5, 10, 20], "slow": [30, 60]}


@pytest.fixture(scope="module")
def SmaCross():
    return wb.strategy("sma_cross")


@pytest.fixture
def no_compute(monkeypatch):
    """Make any attempt to start the computation fail the test: errors must come before it."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the sweep started computing before rejecting its input")

    monkeypatch.setattr(sweep_module, "run_grid", forbidden)
    monkeypatch.setattr(sweep_module, "pack", forbidden)


def _raises(exc, parts, *args, **kwargs):
    with pytest.raises(exc) as info:
        wb.sweep(*args, progress=False, **kwargs)
    message = str(info.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    return info.value


# ---------------------------------------------------------------------------------------------------------------
# bad input, each before any computation
# ---------------------------------------------------------------------------------------------------------------


def test_no_compute_fixture_really_blocks_a_sweep(no_compute, spy):
    with pytest.raises(AssertionError, match="started computing"):
        wb.sweep("sma_cross", spy, fast=[5], slow=[20], progress=False)


def test_unknown_strategy_name(no_compute, spy):
    err = _raises(
        StrategyNotFoundError,
        ["no_such_strategy", "available", "sma_cross", "rsi_reversion"],
        "no_such_strategy",
        spy,
        fast=[5],
    )
    assert isinstance(err, WorkbenchError)


def test_not_a_strategy(no_compute, spy):
    _raises(TypeError, ["expected a Strategy subclass, instance or name"], 42, spy)


def test_unknown_parameter(no_compute, spy):
    _raises(
        ParameterError,
        ["sma_cross has no parameter fsat", "parameters: fast, slow"],
        "sma_cross",
        spy,
        fsat=range(5, 10),
        slow=[50],
    )


@pytest.mark.parametrize("empty", [range(5, 5), [], (), np.array([]), "5:5", "10:5"])
def test_empty_range(no_compute, spy, empty):
    _raises(ParameterError, ["fast", "is empty"], "sma_cross", spy, fast=empty, slow=[50])


def test_window_longer_than_the_data(no_compute, spy):
    short = spy.iloc[:100]
    assert short.attrs.get("symbol") == "SPY"
    _raises(ParameterError, ["slow=300", "100", "SPY"], "sma_cross", short, fast=[5], slow=[50, 300])
    _raises(ParameterError, ["fast=100", "100", "SPY"], "sma_cross", short, fast=[100], slow=[200])
    # several symbols: the short one is named, with its own bar count
    _raises(
        ParameterError,
        ["slow=150", "SHORT has 100"],
        "sma_cross",
        {"LONG": spy, "SHORT": short},
        fast=[5],
        slow=[20, 150],
    )


def test_window_just_inside_the_data_is_accepted(spy):
    res = wb.sweep("sma_cross", spy.iloc[:100], fast=[5], slow=[99], progress=False)
    assert len(res.metrics) == 1


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("close", np.nan, "nan"),
        ("open", np.inf, "non_finite"),
        ("low", -np.inf, "non_finite"),
        ("volume", np.nan, "nan"),
    ],
)
def test_non_finite_bars(no_compute, spy, column, value, rule):
    bad = spy.copy()
    bad.iloc[10, bad.columns.get_loc(column)] = value
    err = _raises(DataValidationError, ["SPY", f"rule {rule}", "2015-01-16"], "sma_cross", bad, fast=[5], slow=[20])
    assert err.rule == rule
    assert np.isfinite(spy[column].iloc[10])  # the fixture itself untouched
    # also inside a multi-symbol mapping, naming that symbol
    _raises(DataValidationError, ["BAD", f"rule {rule}"], "sma_cross", {"SPY": spy, "BAD": bad}, fast=[5], slow=[20])


@pytest.mark.parametrize(
    ("kwargs", "parts"),
    [
        ({"fees": -0.001}, ["fees=-0.001", "[0, 1)"]),
        ({"fees": 1.0}, ["fees=1.0", "[0, 1)"]),
        ({"fees": 1.5}, ["fees=1.5"]),
        ({"fees": float("nan")}, ["fees=nan"]),
        ({"slippage": -0.01}, ["slippage=-0.01", "[0, 1)"]),
        ({"cash": 0}, ["cash=0", "positive"]),
        ({"cash": -10_000}, ["cash=-10000", "positive"]),
        ({"cash": float("inf")}, ["cash=inf"]),
        ({"fill": "midday"}, ["fill='midday'", "next_open", "close"]),
        ({"metric": "nope"}, ["metric='nope'", "sharpe", "total_return"]),
    ],
)
def test_bad_costs_fill_and_metric(no_compute, spy, kwargs, parts):
    _raises(ValueError, parts, "sma_cross", spy, fast=[5], slow=[20], **kwargs)


def test_constraint_removing_every_row(no_compute, spy):
    _raises(
        ParameterError,
        ["no parameter set of sma_cross passes the constraints", "fast < slow", "slow < fast"],
        "sma_cross",
        spy,
        fast=[5, 10],
        slow=[20, 30],
        constraint="slow < fast",
    )
    _raises(
        ParameterError,
        ["no parameter set of sma_cross passes"],
        "sma_cross",
        spy,
        fast=[5],
        slow=[20],
        constraint=lambda g: g["fast"] > 100,
    )
    # the strategy's own constraint alone can empty the grid too
    _raises(ParameterError, ["fast < slow"], "sma_cross", spy, fast=[50, 60], slow=[20, 40])


@pytest.mark.parametrize(
    ("fast", "parts"),
    [
        ([1.5], ["fast=1.5", "integer"]),
        (["ten"], ["fast='ten'", "expected a int"]),
        ([5, None], ["fast=None"]),
        ([0], ["fast=0", "below the minimum 1"]),
        (object(), ["fast=", "expected a value, a range or a sequence"]),
    ],
)
def test_param_of_wrong_type(no_compute, spy, fast, parts):
    _raises(ParameterError, parts, "sma_cross", spy, fast=fast, slow=[50])


def test_bars_of_wrong_kind(no_compute):
    _raises(TypeError, ["bars must be a DataFrame"], "sma_cross", [1.0, 2.0, 3.0], fast=[5], slow=[20])
    _raises(ValueError, ["bars is empty"], "sma_cross", {}, fast=[5], slow=[20])


def test_too_few_bars(no_compute, spy):
    _raises(ValueError, ["SPY", "at least 32 bars"], "sma_cross", spy.iloc[:20], fast=[2], slow=[5])


def test_negative_periods_per_year_is_refused(no_compute, spy):
    _raises(ValueError, ["periods_per_year=-252"], "sma_cross", spy, fast=[5], slow=[20], periods_per_year=-252)


# ---------------------------------------------------------------------------------------------------------------
# grids and ranges
# ---------------------------------------------------------------------------------------------------------------


def _pairs(grid: pd.DataFrame) -> set[tuple[int, int]]:
    return set(map(tuple, grid[["fast", "slow"]].to_numpy().tolist()))


def test_build_grid_respects_the_strategy_constraint(SmaCross):
    grid = build_grid(SmaCross, {"fast": range(5, 60, 5), "slow": range(10, 80, 10)})
    expected = {(f, s) for f in range(5, 60, 5) for s in range(10, 80, 10) if f < s}
    assert _pairs(grid) == expected and len(grid) == len(expected)
    assert list(grid.columns) == ["fast", "slow"]
    assert grid.dtypes.tolist() == [np.int64, np.int64]
    assert grid.index.equals(pd.RangeIndex(len(grid)))


def test_build_grid_with_a_string_constraint(SmaCross):
    grid = build_grid(SmaCross, {"fast": range(5, 60, 5), "slow": range(10, 80, 10)}, constraint="slow >= 2 * fast")
    expected = {(f, s) for f in range(5, 60, 5) for s in range(10, 80, 10) if f < s and s >= 2 * f}
    assert _pairs(grid) == expected
    assert (10, 20) in expected and (15, 20) not in _pairs(grid)


def test_build_grid_with_a_callable_constraint(SmaCross):
    grid = build_grid(
        SmaCross, {"fast": range(5, 60, 5), "slow": range(10, 80, 10)}, constraint=lambda g: (g.slow - g.fast) % 20 == 5
    )
    expected = {(f, s) for f in range(5, 60, 5) for s in range(10, 80, 10) if f < s and (s - f) % 20 == 5}
    assert expected and _pairs(grid) == expected


def test_build_grid_defaults_base_and_dedup(SmaCross):
    grid = build_grid(SmaCross, {"fast": [5, 5, 10.0]})
    assert grid.to_dict("list") == {"fast": [5, 10], "slow": [50, 50]}
    grid = build_grid(SmaCross, {"slow": "30:50:10"}, base={"fast": 7})
    assert grid.to_dict("list") == {"fast": [7, 7], "slow": [30, 40]}
    rsi = wb.strategy("rsi_reversion")
    grid = build_grid(rsi, {"lower": [20, 30], "upper": "60,80"})
    assert grid.dtypes.to_dict() == {"window": np.int64, "lower": np.float64, "upper": np.float64}
    assert grid.to_dict("list") == {"window": [14] * 4, "lower": [20.0, 20.0, 30.0, 30.0], "upper": [60.0, 80.0] * 2}


def test_sweep_uses_the_grid(spy):
    res = wb.sweep("sma_cross", spy, fast="5:25:5", slow=[20, 40], constraint="slow >= 2 * fast", progress=False)
    assert list(res.metrics.index) == [(5, 20), (5, 40), (10, 20), (10, 40), (15, 40), (20, 40)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5:60", range(5, 60)),
        ("20:250:5", range(20, 250, 5)),
        (" 5:8 ", range(5, 8)),
        ("10:0:-5", range(10, 0, -5)),
        ("5,10,20", [5, 10, 20]),
        ("0.5,1.5,2", [0.5, 1.5, 2]),
        ("7", [7]),
        ("1.0,2", [1.0, 2]),
    ],
)
def test_parse_range(text, expected):
    got = parse_range(text)
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]


def test_parse_range_floats():
    got = parse_range("0.5:2:0.25")
    np.testing.assert_allclose(got, [0.5, 0.75, 1.0, 1.25, 1.5, 1.75])
    assert isinstance(got, list)


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("a:b", "cannot read range 'a:b'"),
        ("1:2:3:4", "cannot read range '1:2:3:4'"),
        ("5", None),
        ("5:10:0", "step 0"),
        ("x,y", "cannot read range"),
        (":", "cannot read range"),
    ],
)
def test_parse_range_errors(text, part):
    if part is None:
        assert parse_range(text) == [5]
        return
    with pytest.raises(ParameterError, match=part):
        parse_range(text)


# ---------------------------------------------------------------------------------------------------------------
# SweepResult
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def result(spy):
    return wb.sweep("sma_cross", spy, progress=False, fees=0.001, fast=[5, 10, 20, 40], slow=[30, 60, 120])


def _synthetic(SmaCross, values: dict[str, list[float]]) -> SweepResult:
    index = pd.MultiIndex.from_tuples(
        [(5, 20 + 10 * i) for i in range(len(next(iter(values.values()))))], names=["fast", "slow"]
    )
    metrics = pd.DataFrame({m: values.get(m, np.zeros(len(index))) for m in METRIC_NAMES}, index=index)
    return SweepResult(
        SmaCross,
        metrics,
        "sharpe",
        Costs(10_000.0, 0.0, 0.0, "next_open"),
        ["X"],
        True,
        np.zeros((len(index), 0, 2)),
        {},
        {"X": 252.0},
    )


def test_best_ordering_directions_and_nan_last(SmaCross):
    res = _synthetic(
        SmaCross,
        {
            "sharpe": [0.5, np.nan, 1.5, -0.2],
            "volatility": [0.2, np.nan, 0.1, 0.3],
            "max_drawdown": [-0.3, -0.1, np.nan, -0.2],
            "total_return": [0.1, 0.3, 0.2, np.nan],
        },
    )
    slow = lambda frame: frame.index.get_level_values("slow").tolist()  # noqa: E731
    assert slow(res.best(4)) == [40, 20, 50, 30]  # sharpe, descending, NaN last
    assert slow(res.best(4, by="volatility")) == [40, 20, 50, 30]  # ascending, NaN last
    assert slow(res.best(4, by="max_drawdown")) == [30, 50, 20, 40]  # closest to 0 first
    assert slow(res.best(4, by="total_return")) == [30, 40, 20, 50]
    assert slow(res.best(2)) == [40, 20]
    assert res.best_params() == {"fast": 5, "slow": 40}
    assert res.best_params(by="volatility") == {"fast": 5, "slow": 40}
    assert res.best_params(by="max_drawdown") == {"fast": 5, "slow": 30}
    assert res.best_params(by="total_return") == {"fast": 5, "slow": 30}
    with pytest.raises(ValueError, match="by='nope'"):
        res.best(3, by="nope")


def test_best_on_a_real_sweep(result):
    m = result.metrics
    assert len(m) == 4 * 3 - 1  # (40, 30) violates fast < slow
    for by, ascending in [
        ("sharpe", False),
        ("volatility", True),
        ("max_drawdown", False),
        ("total_return", False),
        ("calmar", False),
    ]:
        top = result.best(5, by=by)
        values = top[by].to_numpy()
        assert len(top) == 5
        assert np.all(np.diff(values) >= 0) if ascending else np.all(np.diff(values) <= 0), by
        best_value = m[by].min() if ascending else m[by].max()
        assert values[0] == best_value
    assert result.best(100).shape[0] == len(m)
    best = result.best_params()
    assert best == dict(zip(["fast", "slow"], m["sharpe"].idxmax(), strict=True))
    assert all(type(v) is int for v in best.values())
    assert result.best_params(by="volatility") == dict(zip(["fast", "slow"], m["volatility"].idxmin(), strict=True))


def test_metrics_and_to_frame_columns(result):
    assert set(REQUIRED_METRICS) <= set(result.metrics.columns)
    assert list(result.metrics.index.names) == ["fast", "slow"]
    assert result.metrics["trades"].dtype == np.int64
    frame = result.to_frame()
    assert list(frame.columns[:2]) == ["fast", "slow"]
    assert set(REQUIRED_METRICS) <= set(frame.columns)
    assert len(frame) == len(result.metrics)
    assert frame.index.equals(pd.RangeIndex(len(frame)))
    assert result.complete and result.params == ["fast", "slow"]
    assert "sma_cross: 11 runs over SPY" in repr(result)


def test_multi_symbol_sweep_rows_equal_single_symbol_sweeps(spy, qqq):
    bars = {"SPY": spy, "QQQ": qqq}
    assert len(spy) != len(qqq)
    multi = wb.sweep("sma_cross", bars, progress=False, fees=0.0005, **SMALL)
    assert list(multi.metrics.index.names) == ["fast", "slow", "symbol"]
    assert len(multi.metrics) == 2 * 6 and multi.symbols == ["SPY", "QQQ"]
    for symbol, frame in bars.items():
        single = wb.sweep("sma_cross", frame, progress=False, fees=0.0005, **SMALL)
        mine = multi.metrics.xs(symbol, level="symbol")
        pd.testing.assert_frame_equal(mine, single.metrics, check_exact=True)
        assert multi.best_params(symbol=symbol) == single.best_params()
    frame = multi.to_frame()
    assert list(frame.columns[:3]) == ["fast", "slow", "symbol"]


def test_sweep_of_a_loaded_bars_mapping(spy):
    bars = wb.load(["SPY", "QQQ"], start="2017-01-01", end="2018-12-31")
    res = wb.sweep("sma_cross", bars, progress=False, **SMALL)
    assert set(res.metrics.index.get_level_values("symbol")) == {"SPY", "QQQ"}
    single = wb.sweep("sma_cross", bars["QQQ"], progress=False, **SMALL)
    pd.testing.assert_frame_equal(res.metrics.xs("QQQ", level="symbol"), single.metrics, check_exact=True)


def test_heatmap_returns_a_holoviews_heatmap(result):
    import holoviews as hv

    plot = result.heatmap("fast", "slow")
    assert isinstance(plot, hv.HeatMap)
    assert [d.name for d in plot.kdims] == ["fast", "slow"]
    assert [d.name for d in plot.vdims] == ["sharpe"]
    data = plot.data.set_index(["fast", "slow"])["sharpe"].sort_index()
    pd.testing.assert_series_equal(data, result.metrics["sharpe"].sort_index(), check_names=False)
    assert [d.name for d in result.heatmap("fast", "slow", "total_return").vdims] == ["total_return"]
    with pytest.raises(ValueError, match="'window' is not a swept level"):
        result.heatmap("fast", "window")


# ---------------------------------------------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------------------------------------------


def test_keyboard_interrupt_returns_rows_done_so_far(monkeypatch, spy):
    grid = {"fast": [5, 10, 20], "slow": [30, 60, 90]}  # 9 parameter sets
    full = wb.sweep("sma_cross", spy, progress=False, **grid)
    real = sweep_kernel.sweep_signals_nb
    calls = []

    def interrupted(*args):
        calls.append(len(args[9]))  # item_symbol: the chunk's size
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    # run_grid imports the kernel from engine.sweep_kernel when it runs, so patch it there
    monkeypatch.setattr(sweep_kernel, "sweep_signals_nb", interrupted)
    monkeypatch.setattr(runner, "_CELLS_PER_CHUNK", 2 * len(spy))  # two parameter sets per chunk
    threads = numba.get_num_threads()
    numba.set_num_threads(1)  # one kernel call per chunk (more threads split a chunk between them)
    try:
        with pytest.warns(RuntimeWarning, match=r"sweep interrupted: 2 of 9 runs done"):
            res = wb.sweep("sma_cross", spy, progress=False, **grid)
    finally:
        numba.set_num_threads(threads)
    assert calls == [2, 2]
    assert res.complete is False
    assert len(res.metrics) == 2
    pd.testing.assert_frame_equal(res.metrics, full.metrics.iloc[:2], check_exact=True)
    assert res.blocks.shape[0] == 2
    assert "interrupted" in repr(res)
    assert full.complete is True


def test_the_rows_are_the_same_on_any_number_of_threads(spy):
    grid = {"fast": [5, 10, 20], "slow": [30, 60, 90], "fees": 0.001}
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = wb.sweep("sma_cross", spy, progress=False, **grid)
    finally:
        numba.set_num_threads(threads)
    pd.testing.assert_frame_equal(
        wb.sweep("sma_cross", spy, progress=False, **grid).metrics, one.metrics, check_exact=True
    )
    np.testing.assert_array_equal(wb.sweep("sma_cross", spy, progress=False, **grid).blocks, one.blocks)


class NumpyMomentum(wb.Strategy):
    """Long while the close is above the close ``fast`` bars ago and below the one ``slow`` bars ago (numpy)."""

    fast = wb.Param(int, 5, min=1, window=True)
    slow = wb.Param(int, 30, min=1, window=True)

    @staticmethod
    def signals(open, high, low, close, volume, fast, slow):
        out = np.zeros(close.shape[0])
        out[slow:] = ((close[slow:] > close[slow - fast : -fast]) & (close[slow:] < close[:-slow])).astype(float)
        return out


def test_keyboard_interrupt_in_a_numpy_strategy_sweep(monkeypatch, spy):
    grid = {"fast": [5, 10, 20], "slow": [30, 60, 90]}
    full = wb.sweep(NumpyMomentum, spy, progress=False, **grid)
    assert (full.metrics["trades"] > 0).all()
    real = sweep_kernel.sweep_exposures_nb
    calls = []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(sweep_kernel, "sweep_exposures_nb", interrupted)
    monkeypatch.setattr(runner, "_CELLS_PER_CHUNK", 3 * len(spy))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = wb.sweep(NumpyMomentum, spy, progress=False, **grid)
    assert [str(w.message) for w in caught if w.category is RuntimeWarning] == [
        "sweep interrupted: 6 of 9 runs done; returning those"
    ]
    assert not res.complete and len(res.metrics) == 6
    pd.testing.assert_frame_equal(res.metrics, full.metrics.iloc[:6], check_exact=True)
