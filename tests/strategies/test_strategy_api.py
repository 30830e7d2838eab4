"""The Strategy API: declared parameters, validation, describe(), the registry, numpy vs numba strategies."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import uuid

import numpy as np
import pandas as pd
import pytest
from numba import njit

import workbench as wb
from workbench import Param, Strategy
from workbench.errors import WorkbenchError
from workbench.strategies.params import ParameterError
from workbench.strategies.registry import ENTRY_POINT_GROUP, StrategyNotFoundError, available

BUNDLED = ("sma_cross", "rsi_reversion", "donchian_breakout", "zscore_reversion")


@pytest.fixture(scope="module")
def SmaCross():
    return wb.strategy("sma_cross")


# ---------------------------------------------------------------------------------------------------------------
# declaration, describe(), repr
# ---------------------------------------------------------------------------------------------------------------


class Ordered(Strategy):
    """Three parameters declared out of alphabetical order.

    Second paragraph that describe() leaves out.
    """

    zeta = Param(int, 5, min=1, max=50, window=True, doc="a look-back")
    alpha = Param(float, 0.5, min=0.0, max=1.0, doc="a level")
    mid = Param(bool, True, doc="a switch")
    constraints = "zeta > alpha"

    @staticmethod
    def signals(open, high, low, close, volume, zeta, alpha, mid):
        return np.zeros(close.shape[0])


def test_params_keep_declaration_order_and_defaults():
    assert list(Ordered.params()) == ["zeta", "alpha", "mid"]
    assert [p.default for p in Ordered.params().values()] == [5, 0.5, True]
    assert Ordered.name == "ordered"
    assert Ordered.constraints == ("zeta > alpha",)  # a single string becomes a tuple
    inst = Ordered()
    assert inst.values == {"zeta": 5, "alpha": 0.5, "mid": True}
    assert (inst.zeta, inst.alpha, inst.mid) == (5, 0.5, True)
    assert repr(Ordered(zeta=7, mid=False)) == "Ordered(zeta=7, alpha=0.5, mid=False)"


def test_subclass_params_follow_base_params():
    class Child(Ordered):
        extra = Param(int, 3, min=1)

        @staticmethod
        def signals(open, high, low, close, volume, zeta, alpha, mid, extra):
            return np.zeros(close.shape[0])

    assert list(Child.params()) == ["zeta", "alpha", "mid", "extra"]
    assert Child.name == "child"


def test_describe_names_the_strategy_its_params_ranges_and_constraints(SmaCross):
    text = SmaCross.describe()
    lines = [ln.strip() for ln in text.splitlines()]
    assert lines[0].startswith("sma_cross (SmaCross): Long from the bar where SMA(fast) crosses above SMA(slow)")
    assert "fast: int = 10 in [1, 1000]  fast SMA length in bars" in lines
    assert "slow: int = 50 in [2, 5000]  slow SMA length in bars" in lines
    assert text.index("fast:") < text.index("slow:")
    assert "constraint: fast < slow" in text

    text = Ordered.describe()
    assert text.splitlines()[0] == "ordered (Ordered): Three parameters declared out of alphabetical order."
    assert "Second paragraph" not in text
    assert text.index("zeta:") < text.index("alpha:") < text.index("mid:")
    assert "alpha: float = 0.5 in [0, 1]  a level" in text
    assert "mid: bool = True in [-inf, inf]  a switch" in text
    assert "constraint: zeta > alpha" in text


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_strategies_describe_themselves(name):
    cls = wb.strategy(name)
    text = cls.describe()
    assert text.startswith(f"{name} ({cls.__name__}): ")
    assert len(text.splitlines()[0]) > len(f"{name} ({cls.__name__}): ") + 10  # a real summary
    for pname, spec in cls.params().items():
        assert f"{pname}: {spec.type.__name__} = {spec.default!r} in [" in text
    assert cls.sweep_ranges and set(cls.sweep_ranges) <= set(cls.params())


# ---------------------------------------------------------------------------------------------------------------
# bad values
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "parts"),
    [
        ({"fast": "10"}, ["fast='10'", "expected a int"]),
        ({"fast": None}, ["fast=None"]),
        ({"fast": 1.5}, ["fast=1.5", "integer"]),
        ({"fast": float("nan")}, ["fast=nan", "finite"]),
        ({"fast": 0}, ["fast=0", "below the minimum 1"]),
        ({"slow": 6000}, ["slow=6000", "above the maximum 5000"]),
        ({"fastest": 3}, ["fastest", "parameters: fast, slow"]),
        ({"fast": 50, "slow": 10}, ["SmaCross(fast=50, slow=10)", "fast < slow"]),
        ({"fast": 20, "slow": 20}, ["SmaCross(fast=20, slow=20)", "fast < slow"]),
    ],
)
def test_bad_parameter_values_raise_parameter_error_naming_param_and_value(SmaCross, kwargs, parts):
    with pytest.raises(ParameterError) as info:
        SmaCross(**kwargs)
    message = str(info.value)
    for part in parts:
        assert part in message, message
    assert isinstance(info.value, ValueError) and isinstance(info.value, WorkbenchError)


def test_float_parameters_and_other_constraints_are_checked():
    rsi = wb.strategy("rsi_reversion")
    assert rsi(lower=25, upper=75).values == {"window": 14, "lower": 25.0, "upper": 75.0}
    assert isinstance(rsi(lower=25).values["lower"], float)
    with pytest.raises(ParameterError, match=r"lower < upper"):
        rsi(lower=80, upper=20)
    with pytest.raises(ParameterError, match=r"upper=101: above the maximum 100"):
        rsi(upper=101)
    violation = r"Ordered\(zeta=1, alpha=1.0, mid=True\) violates the constraint 'zeta > alpha'"
    with pytest.raises(ParameterError, match=violation):
        Ordered(zeta=1, alpha=1.0)


def test_param_without_default_must_be_given():
    class NeedsValue(Strategy):
        level = Param(float)

        @staticmethod
        def signals(open, high, low, close, volume, level):
            return np.zeros(close.shape[0])

    with pytest.raises(ParameterError, match=r"needs a value for level"):
        NeedsValue()
    assert NeedsValue(level=0.2).level == 0.2


def test_param_declaration_is_checked():
    with pytest.raises(TypeError, match="int, float or bool"):
        Param(str, "x")
    with pytest.raises(ParameterError, match=r"expected an integer"):
        Param(int, 1.5)
    with pytest.raises(ParameterError, match=r"below the minimum"):
        Param(int, 0, min=1)


def test_bool_is_not_accepted_for_an_int_parameter(SmaCross):
    with pytest.raises(ParameterError, match="fast=True"):
        SmaCross(fast=True, slow=3)


# ---------------------------------------------------------------------------------------------------------------
# class creation: signal signature and reserved names
# ---------------------------------------------------------------------------------------------------------------


def test_signals_with_swapped_params_is_refused_at_class_creation():
    with pytest.raises(TypeError, match=r"Swapped.signals must take \(open, high, low, close, volume, fast, slow\)"):

        class Swapped(Strategy):
            fast = Param(int, 5)
            slow = Param(int, 20)

            @staticmethod
            def signals(open, high, low, close, volume, slow, fast):
                return np.zeros(close.shape[0])


def test_signals_with_missing_or_extra_args_is_refused_at_class_creation():
    with pytest.raises(TypeError, match=r"Missing.signals must take"):

        class Missing(Strategy):
            fast = Param(int, 5)
            slow = Param(int, 20)

            @staticmethod
            def signals(open, high, low, close, volume, fast):
                return np.zeros(close.shape[0])

    with pytest.raises(TypeError, match=r"NoBars.signals must take"):

        class NoBars(Strategy):
            fast = Param(int, 5)

            @staticmethod
            def signals(close, fast):
                return np.zeros(close.shape[0])

    with pytest.raises(TypeError, match=r"AsMethod.signals must take .* it takes \(self, open"):

        class AsMethod(Strategy):
            fast = Param(int, 5)

            def signals(self, open, high, low, close, volume, fast):
                return np.zeros(close.shape[0])


def test_numba_signals_signature_is_checked_too():
    @njit
    def kernel(open, high, low, close, volume, b, a):
        return np.zeros(close.shape[0])

    with pytest.raises(TypeError, match=r"NumbaSwapped.signals must take"):

        class NumbaSwapped(Strategy):
            a = Param(int, 1)
            b = Param(int, 2)
            signals = staticmethod(kernel)


def test_subclass_adding_a_param_without_new_signals_is_refused(SmaCross):
    with pytest.raises(TypeError, match=r"signals must take"):

        class WithExtra(SmaCross):
            extra = Param(int, 3)


@pytest.mark.parametrize("reserved", ["name", "describe", "values", "signals", "exposure", "constraints"])
def test_reserved_parameter_names_are_rejected(reserved):
    body = {reserved: Param(int, 1)}
    with pytest.raises(TypeError, match=rf"parameter name\(s\) {reserved} are reserved"):
        type("Reserved", (Strategy,), body)


# ---------------------------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------------------------


def test_registry_finds_bundled_strategies(SmaCross):
    assert SmaCross.__name__ == "SmaCross" and SmaCross.name == "sma_cross"
    assert issubclass(SmaCross, Strategy)
    assert wb.strategy("sma_cross") is SmaCross  # loaded once
    for name in BUNDLED:
        assert wb.strategy(name).name == name
    assert set(BUNDLED) <= set(available())


def test_unknown_strategy_lists_available_names():
    with pytest.raises(StrategyNotFoundError) as info:
        wb.strategy("no_such_strategy")
    message = str(info.value)
    assert "no_such_strategy" in message
    for name in BUNDLED:
        assert name in message
    assert isinstance(info.value, LookupError) and isinstance(info.value, WorkbenchError)


NUMPY_STRATEGY = '''
"""A user's plain-numpy strategy."""
import numpy as np
from workbench import Param, Strategy


class MyStrat(Strategy):
    """Long while the close is above its moving average."""

    window = Param(int, 20, min=2, max=500, window=True)
    level = Param(float, 0.0, min=-1.0, max=1.0)

    @staticmethod
    def signals(open, high, low, close, volume, window, level):
        csum = np.cumsum(close)
        ma = np.full(close.shape[0], np.nan)
        ma[window - 1] = csum[window - 1] / window
        ma[window:] = (csum[window:] - csum[:-window]) / window
        with np.errstate(invalid="ignore"):
            return np.where(close / ma - 1.0 > level, 1.0, 0.0)
'''

NUMBA_STRATEGY = """
import numpy as np
from numba import njit
from workbench import Param, Strategy


@njit(nogil=True)
def _up_nb(open, high, low, close, volume, lag, hold):
    out = np.zeros(close.shape[0])
    for i in range(lag, close.shape[0]):
        out[i] = 1.0 if close[i] > close[i - lag] else 0.0
    return out


class UpDays(Strategy):
    lag = Param(int, 1, min=1, window=True)
    hold = Param(int, 1, min=1)
    signals = staticmethod(_up_nb)
"""


def _write(folder, name, source):
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_strategy_file_in_cwd_strategies_folder_is_found(tmp_path, monkeypatch, spy):
    _write(tmp_path / "strategies", "my_strat", NUMPY_STRATEGY)
    _write(tmp_path / "strategies", "up_days", NUMBA_STRATEGY)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StrategyNotFoundError):
        wb.strategy("not_there")
    cls = wb.strategy("my_strat")
    assert cls.__name__ == "MyStrat" and cls.name == "my_strat"
    assert list(cls.params()) == ["window", "level"]
    assert str(tmp_path / "strategies" / "my_strat.py") in available()["my_strat"]
    assert "sma_cross" in available()  # bundled ones still there
    # a plain numpy strategy found by name sweeps
    res = wb.sweep("my_strat", spy, window=[10, 50], level=[0.0, 0.01], progress=False, fees=0.0)
    assert len(res.metrics) == 4 and res.complete
    assert (res.metrics["trades"] > 0).all()
    # and a numba one
    up = wb.strategy("up_days")
    res = wb.sweep("up_days", spy, lag=[1, 5], progress=False, fees=0.0)
    assert up.name == "up_days" and len(res.metrics) == 2 and (res.metrics["trades"] > 0).all()


def test_strategy_file_with_two_unnamed_classes_is_ambiguous(tmp_path, monkeypatch):
    source = NUMPY_STRATEGY + "\n\nclass Other(MyStrat):\n    pass\n"
    _write(tmp_path / "strategies", "two_of_them", source)
    monkeypatch.chdir(tmp_path)
    match = r"defines 2 Strategy classes; give one of them name = 'two_of_them'"
    with pytest.raises(StrategyNotFoundError, match=match):
        wb.strategy("two_of_them")


def test_local_strategies_folder_shadows_bundled_name(tmp_path, monkeypatch, SmaCross):
    # SmaCross (the bundled class) is loaded first, so the local file cannot take its module's place.
    _write(tmp_path / "strategies", "sma_cross", NUMPY_STRATEGY.replace("class MyStrat", "class LocalSma"))
    monkeypatch.chdir(tmp_path)
    local = wb.strategy("sma_cross")
    assert local.__name__ == "LocalSma"
    monkeypatch.undo()
    assert wb.strategy("sma_cross") is SmaCross


@pytest.fixture
def entry_point_module(tmp_path, monkeypatch):
    """A module importable by name defining an entry-point strategy and a non-strategy object."""
    modname = f"wb_ep_fake_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{modname}.py").write_text(
        textwrap.dedent(NUMPY_STRATEGY).replace("class MyStrat", "class EpStrat") + "\nNOT_A_STRATEGY = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield modname
    sys.modules.pop(modname, None)


def _fake_entry_points(monkeypatch, eps):
    real = importlib.metadata.entry_points

    def entry_points(**kwargs):
        if kwargs.get("group") == ENTRY_POINT_GROUP:
            return importlib.metadata.EntryPoints(eps)
        return real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_entry_point_strategy_is_loaded(entry_point_module, monkeypatch, spy):
    ep = importlib.metadata.EntryPoint(name="ep_strat", value=f"{entry_point_module}:EpStrat", group=ENTRY_POINT_GROUP)
    _fake_entry_points(monkeypatch, [ep])
    cls = wb.strategy("ep_strat")
    assert cls.__name__ == "EpStrat" and issubclass(cls, Strategy)
    assert available()["ep_strat"] == f"entry point {entry_point_module}:EpStrat"
    with pytest.raises(StrategyNotFoundError, match="ep_strat"):  # listed among the available names
        wb.strategy("still_unknown")
    res = wb.sweep(cls, spy, window=[20], level=[0.0], progress=False, fees=0.0)
    assert len(res.metrics) == 1


def test_entry_point_that_is_not_a_strategy_is_refused(entry_point_module, monkeypatch):
    ep = importlib.metadata.EntryPoint(
        name="bogus", value=f"{entry_point_module}:NOT_A_STRATEGY", group=ENTRY_POINT_GROUP
    )
    _fake_entry_points(monkeypatch, [ep])
    with pytest.raises(StrategyNotFoundError, match=r"entry point bogus = .*NOT_A_STRATEGY is not a Strategy subclass"):
        wb.strategy("bogus")


# ---------------------------------------------------------------------------------------------------------------
# numpy strategy == numba strategy
# ---------------------------------------------------------------------------------------------------------------


def _np_sma(a: np.ndarray, window: int) -> np.ndarray:
    # The running-sum SMA, as engine.indicators.sma_nb computes it (bit for bit on NaN-free input).
    csum = np.cumsum(a)
    out = np.full(a.shape[0], np.nan)
    if window <= a.shape[0]:
        out[window - 1] = csum[window - 1] / window
        out[window:] = (csum[window:] - csum[:-window]) / window
    return out


def _np_crossed_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # vectorbt's crossed_above for inputs whose NaNs are a leading warm-up: above now, not above on the
    # previous bar, and below at some earlier bar.
    valid = ~(np.isnan(a) | np.isnan(b))
    above = valid & (a > b)
    below = valid & (a < b)
    armed = np.concatenate([[False], np.maximum.accumulate(below)[:-1]])
    prev_above = np.concatenate([[False], above[:-1]])
    return above & armed & ~prev_above


class NumpySmaCross(Strategy):
    """SMA crossover written with numpy only."""

    fast = Param(int, 10, min=1, window=True)
    slow = Param(int, 50, min=2, window=True)
    constraints = ("fast < slow",)

    @staticmethod
    def signals(open, high, low, close, volume, fast, slow):
        f, s = _np_sma(close, fast), _np_sma(close, slow)
        entries, exits = _np_crossed_above(f, s), _np_crossed_above(s, f)
        marks = np.where(entries, 1.0, np.where(exits, 0.0, np.nan))
        return pd.Series(marks).ffill().fillna(0.0).to_numpy()


GRID = {"fast": [3, 5, 10, 20], "slow": [15, 30, 60]}


def test_numpy_strategy_exposure_matches_bundled_numba(SmaCross, spy):
    from workbench.strategies.kernel import is_compiled

    assert is_compiled(SmaCross) and not is_compiled(NumpySmaCross)
    for fast in GRID["fast"]:
        for slow in GRID["slow"]:
            if fast < slow:
                a = NumpySmaCross(fast=fast, slow=slow).exposure(spy).to_numpy()
                b = SmaCross(fast=fast, slow=slow).exposure(spy).to_numpy()
                np.testing.assert_array_equal(a, b)
                assert 0 < a.sum() < len(a)


@pytest.mark.parametrize("kwargs", [{}, {"fees": 0.001, "slippage": 0.0005, "fill": "close", "cash": 5_000}])
def test_numpy_strategy_sweeps_exactly_like_numba(SmaCross, spy, qqq, kwargs):
    bars = {"SPY": spy, "QQQ": qqq}
    ours = wb.sweep(NumpySmaCross, bars, progress=False, **GRID, **kwargs)
    ref = wb.sweep(SmaCross, bars, progress=False, **GRID, **kwargs)
    assert len(ours.metrics) == 2 * 11  # 11 of the 12 pairs have fast < slow
    assert (ref.metrics["trades"] > 0).all()
    # Everything that follows from the trades and the equity path is bit-identical ...
    exact = [
        "total_return",
        "cagr",
        "max_drawdown",
        "calmar",
        "trades",
        "win_rate",
        "profit_factor",
        "exposure",
        "end_value",
    ]
    pd.testing.assert_frame_equal(ours.metrics[exact], ref.metrics[exact], check_exact=True)
    # ... the return-moment statistics agree to a few ulps: the two kernels (sweep_signals_nb with the numba
    # signal adapter, sweep_exposures_nb for numpy exposures) inline run_nb separately and LLVM may contract
    # the streaming mean/variance arithmetic differently (observed: up to ~1e-14 relative).
    moments = ["volatility", "sharpe", "sortino"]
    pd.testing.assert_frame_equal(ours.metrics[moments], ref.metrics[moments], check_exact=False, rtol=1e-12)
    np.testing.assert_allclose(ours.blocks, ref.blocks, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------------------------
# exposure()
# ---------------------------------------------------------------------------------------------------------------


def test_exposure_is_a_series_aligned_to_the_bars(SmaCross, spy):
    part = spy.iloc[100:400]
    exp = SmaCross(fast=5, slow=20).exposure(part)
    assert isinstance(exp, pd.Series)
    assert exp.index.equals(part.index)
    assert exp.name == "exposure" and exp.dtype == np.float64
    assert set(np.unique(exp.to_numpy())) == {0.0, 1.0}


class WrongLength(Strategy):
    @staticmethod
    def signals(open, high, low, close, volume):
        return np.zeros(close.shape[0] - 1)


class TooBig(Strategy):
    level = Param(float, 2.0)

    @staticmethod
    def signals(open, high, low, close, volume, level):
        out = np.zeros(close.shape[0])
        out[-1] = level
        return out


def test_exposure_of_wrong_length_raises_naming_the_strategy(spy):
    with pytest.raises(ValueError, match=r"WrongLength\.signals returned shape \(1005,\) for 1006 bars"):
        WrongLength().exposure(spy)


def _ends_with(value: float) -> type[Strategy]:
    """A strategy flat on every bar but the last, where its exposure is ``value``."""

    class EndsWith(Strategy):
        @staticmethod
        def signals(open, high, low, close, volume):
            out = np.zeros(close.shape[0])
            out[-1] = value
            return out

    return EndsWith


@pytest.mark.parametrize("value", [2.0, -1.5, 1.0000001, np.inf, -np.inf])
def test_exposure_outside_unit_interval_raises_naming_the_strategy(spy, value):
    with pytest.raises(ValueError, match=r"EndsWith\.signals returned exposure .*must be in \[-1, 1\] or NaN"):
        _ends_with(value)().exposure(spy)


@pytest.mark.parametrize("value", [1.0, -1.0, 0.25, np.nan])
def test_exposure_in_unit_interval_or_nan_is_accepted(spy, value):
    out = _ends_with(value)().exposure(spy)
    np.testing.assert_array_equal(out.iloc[-1:].to_numpy(), [value])
    assert (out.iloc[:-1] == 0.0).all()


def test_sweep_of_bad_numpy_strategy_raises_the_same_error(spy):
    with pytest.raises(ValueError, match=r"TooBig\.signals returned exposure"):
        wb.sweep(TooBig, spy, level=[2.0], progress=False, fees=0.0)
    with pytest.raises(ValueError, match=r"ShortByOne\.signals returned shape"):
        wb.sweep(ShortByOne, spy, lag=[1, 2], progress=False, fees=0.0)


class ShortByOne(Strategy):
    lag = Param(int, 1)

    @staticmethod
    def signals(open, high, low, close, volume, lag):
        return np.zeros(close.shape[0] - lag)


class NoParams(Strategy):
    """Buy and hold: no parameters at all."""

    @staticmethod
    def signals(open, high, low, close, volume):
        return np.ones(close.shape[0])


def test_parameterless_strategy_backs_an_exposure(spy):
    assert NoParams().values == {} and repr(NoParams()) == "NoParams()"
    assert (NoParams().exposure(spy) == 1.0).all()


def test_parameterless_strategy_sweeps_to_one_row(spy):
    res = wb.sweep(NoParams, spy, progress=False, fees=0.0)
    assert len(res.metrics) == 1
    assert res.metrics["total_return"].iloc[0] == pytest.approx(spy["close"].iloc[-1] / spy["open"].iloc[1] - 1)


@njit(nogil=True)
def _pct_nb(open, high, low, close, volume, pct, lag):
    return np.full(close.shape[0], pct / 100.0)


class PctNumba(Strategy):
    pct = Param(int, 50)
    lag = Param(int, 1)
    signals = staticmethod(_pct_nb)


class PctNumpy(Strategy):
    pct = Param(int, 50)
    lag = Param(int, 1)

    @staticmethod
    def signals(open, high, low, close, volume, pct, lag):
        return np.full(close.shape[0], pct / 100.0)


def test_numpy_sweep_refuses_out_of_range_exposure_in_any_row(spy):
    with pytest.raises(ValueError, match=r"PctNumpy\.signals returned exposure"):
        wb.sweep(PctNumpy, spy, pct=[50, 300], progress=False, fees=0.0)


def test_numba_sweep_refuses_out_of_range_exposure_in_any_row(spy):
    with pytest.raises(ValueError, match=r"PctNumba\.signals returned values outside \[-1, 1\] for \{'pct': 300"):
        wb.sweep(PctNumba, spy, pct=[50, 300], progress=False, fees=0.0)


@njit(nogil=True)
def _one_param_nb(open, high, low, close, volume, window):
    out = np.zeros(close.shape[0])
    for i in range(window, close.shape[0]):
        out[i] = 1.0 if close[i] > close[i - window] else 0.0
    return out


class OneParamNumba(Strategy):
    window = Param(int, 5, min=1, window=True)
    signals = staticmethod(_one_param_nb)


class OneParamNumpy(Strategy):
    window = Param(int, 5, min=1, window=True)

    @staticmethod
    def signals(open, high, low, close, volume, window):
        out = np.zeros(close.shape[0])
        out[window:] = (close[window:] > close[:-window]).astype(float)
        return out


def test_one_parameter_numba_strategy_sweeps(spy):
    res = wb.sweep(OneParamNumba, spy, window=[2, 5, 10], progress=False, fees=0.0)
    ref = wb.sweep(OneParamNumpy, spy, window=[2, 5, 10], progress=False, fees=0.0)
    pd.testing.assert_frame_equal(res.metrics, ref.metrics, check_exact=True)
