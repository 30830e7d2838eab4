"""Strategy constraints: the compiled expressions agree with pandas ``eval`` (the oracle), on one parameter set
and on a whole grid, and a bad constraint is refused when the class is defined, naming what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import Param, Strategy
from workbench.engine.grid import build_grid
from workbench.strategies.constraints import compile_constraint
from workbench.strategies.params import ParameterError

PARAMS = {"a": int, "b": int, "c": float}
EXPRESSIONS = [
    "a < b",
    "a <= b < c",
    "a < b & b < c",
    "a < b | ~(b < c)",
    "not a == b",
    "a * 2 <= b ** 2 and c != 1",
    "abs(a - b) > 2 or c >= 3.5",
    "(a + b) // 2 % 3 == 1",
    "-a < +b - c / 2",
    "a != b and True",
]


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {"a": rng.integers(-5, 6, 400), "b": rng.integers(-5, 6, 400), "c": rng.integers(-10, 11, 400) / 2}
    )


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_grid_evaluation_equals_pandas_eval(grid, text):
    constraint = compile_constraint(text, PARAMS, "T")
    expected = grid.eval(text).to_numpy(dtype=bool)
    assert 0 < expected.sum() < len(grid) or text == "a != b and True"  # the grid exercises both outcomes
    np.testing.assert_array_equal(np.asarray(constraint(grid), dtype=bool), expected)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_one_parameter_set_equals_its_grid_row(grid, text):
    constraint = compile_constraint(text, PARAMS, "T")
    expected = grid.eval(text).to_numpy(dtype=bool)
    for i in range(0, len(grid), 37):
        row = {name: grid[name].iloc[i].item() for name in PARAMS}
        assert bool(constraint(row)) == expected[i], (text, row)


def test_names_lists_the_parameters_read_once_each():
    assert compile_constraint("a < b and b < a + 1", PARAMS, "T").names == ("a", "b")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a <", "T: constraint 'a <' is not a valid expression (invalid syntax)"),
        ("a < (b", "T: constraint 'a < (b' is not a valid expression"),
        ("d < a", "T: constraint 'd < a' uses 'd', which is not a parameter; parameters: a, b, c"),
        ("a.real > 1", "T: constraint 'a.real > 1': Attribute is not allowed in a constraint"),
        ("max(a, b) > 1", "T: constraint 'max(a, b) > 1': the only function allowed is abs(x)"),
        ("'x' < a", "T: constraint \"'x' < a\": only numbers and True/False may appear as values, not 'x'"),
        ("a if b else c", "T: constraint 'a if b else c': IfExp is not allowed in a constraint"),
        ("__import__('os')", "the only function allowed is abs(x)"),
    ],
)
def test_bad_constraints_are_refused_with_the_reason(text, message):
    with pytest.raises(ParameterError) as info:
        compile_constraint(text, PARAMS, "T")
    assert message in str(info.value)


def test_a_strategy_with_a_bad_constraint_is_refused_when_defined():
    with pytest.raises(ParameterError, match=r"Typo: constraint 'fats < slow' uses 'fats', which is not a parameter"):

        class Typo(Strategy):
            fast = Param(int, 5)
            slow = Param(int, 20)
            constraints = ("fats < slow",)

            @staticmethod
            def signals(open, high, low, close, volume, fast, slow):
                return np.zeros(close.shape[0])


class Band(Strategy):
    """Two levels whose distance is bounded, with the pandas spelling of ``and``."""

    lower = Param(float, 20.0, min=0.0, max=100.0)
    upper = Param(float, 80.0, min=0.0, max=100.0)
    constraints = ("lower < upper & upper - lower <= 60",)

    @staticmethod
    def signals(open, high, low, close, volume, lower, upper):
        return np.zeros(close.shape[0])


def test_instances_and_grids_apply_the_same_constraint():
    assert Band(lower=30, upper=90).values == {"lower": 30.0, "upper": 90.0}
    with pytest.raises(ParameterError, match=r"Band\(lower=10.0, upper=90.0\) violates the constraint"):
        Band(lower=10, upper=90)
    levels = [0.0, 10.0, 30.0, 50.0, 70.0, 90.0]
    grid = build_grid(Band, {"lower": levels, "upper": levels})
    expected = [(lo, up) for lo in levels for up in levels if lo < up and up - lo <= 60]
    assert list(grid.itertuples(index=False, name=None)) == expected
    assert Band.failed_constraints(pd.DataFrame({"lower": [10.0, 30.0], "upper": [90.0, 90.0]})) == [
        "lower < upper & upper - lower <= 60"
    ]
