"""The sweep explorer: sliders over the swept values, the selected set re-run exactly as the sweep ran it."""

from __future__ import annotations

import numpy as np
import pytest

import workbench as wb


@pytest.fixture(scope="module")
def sweep():
    bars = wb.load(["SPY", "QQQ"], start="2015-01-01")
    return wb.sweep(
        "sma_cross", bars, fast=[5, 10, 20], slow=[50, 100, 150], fees=0.001, risk={"stop_loss": 0.08}, progress=False
    )


def test_explorer_starts_at_the_best_set_and_reruns_what_it_selects(sweep) -> None:
    explorer = wb.widgets.sweep_explorer(sweep)
    best = sweep.best_params()
    assert explorer.values == {k: best[k] for k in ("fast", "slow")}
    run = explorer.select(fast=10, slow=150)
    row = sweep.metrics.loc[(10, 150, "SPY")]
    np.testing.assert_allclose(run.metrics.to_numpy(), row.to_numpy(), rtol=1e-12, equal_nan=True)
    explorer.symbol.value = "QQQ"  # the dropdown re-runs too
    np.testing.assert_allclose(
        explorer.run.metrics.to_numpy(), sweep.metrics.loc[(10, 150, "QQQ")].to_numpy(), rtol=1e-12, equal_nan=True
    )
    assert "total return" in explorer.summary.value and "10" in explorer.summary.value
    np.testing.assert_array_equal(explorer.curve.dframe()["equity"].to_numpy(), explorer.run.equity.to_numpy())
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


def test_explorer_refuses_what_was_not_swept(sweep) -> None:
    explorer = wb.widgets.sweep_explorer(sweep)
    with pytest.raises(ValueError, match=r"fast=7 was not swept; values: \[5, 10, 20\]"):
        explorer.select(fast=7)
    with pytest.raises(ValueError, match="'speed' is not a parameter of this sweep"):
        explorer.select(speed=1)
