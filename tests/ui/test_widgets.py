"""The sweep explorer: sliders over the swept values, the selected set re-run exactly as the sweep ran it."""

from __future__ import annotations

import numpy as np
import pytest

import workbench as wb


def _above_past(open, high, low, close, volume, window):
    """Long while the close is above its close ``window`` bars ago."""
    out = np.zeros(close.shape[0])
    out[window:] = close[window:] > close[:-window]
    return out


class Momentum1(wb.Strategy):
    """A strategy of one parameter, whose explorer draws a line over it instead of a heatmap."""

    name = "momentum_one_parameter"
    window = wb.Param(int, 10, min=1)
    signals = staticmethod(_above_past)


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


def test_explorer_draws_the_selected_sets_equity_and_marks_it_on_the_heatmap(sweep) -> None:
    import holoviews as hv

    explorer = wb.widgets.sweep_explorer(sweep)
    explorer.select(fast=20, slow=50)
    figure = hv.render(explorer.curve)  # raised KeyError "'fast'" when the title held a dict's braces
    assert figure.title.text == "equity on SPY, fast=20, slow=50"
    assert figure.renderers and figure.renderers[0].data_source.data["equity"].tolist() == explorer.run.equity.tolist()
    marks = [layer for layer in explorer.heatmap if isinstance(layer, hv.Points)]
    assert len(marks) == 1 and marks[0].data[["fast", "slow"]].values.tolist() == [[20, 50]]
    hv.render(explorer.heatmap)
    one = wb.sweep(Momentum1, sweep.frames["SPY"], window=[5, 10, 20], progress=False)
    line = wb.widgets.sweep_explorer(one)
    line.select(window=10)
    (vline,) = [layer for layer in line.heatmap if isinstance(layer, hv.VLine)]
    assert vline.data == 10


def test_a_backtests_plot_spans_one_width_without_a_warning(caplog) -> None:
    import holoviews as hv

    bt = wb.backtest("sma_cross", wb.load("SPY", start="2020-01-01", end="2020-12-31"))
    with caplog.at_level("WARNING"):
        grid = hv.render(bt.plot())
    figures = [child[0] for child in grid.children]
    assert [f.sizing_mode for f in figures] == ["stretch_width"] * 3
    assert [f.height for f in figures] == [260, 220, 160]
    assert not [r for r in caplog.records if "responsive" in r.getMessage()]
