"""A result that is a notebook cell's value shows an HTML summary: what ran, its costs, key metrics in the
report's format, and the best rows of a sweep or the windows of a walk-forward."""

from __future__ import annotations

import pytest
from reports_support import html_table

import workbench as wb
from workbench.reports.summary import register_notebook_html

BARS = {"start": "2018-01-01", "end": "2021-12-31"}


@pytest.fixture(scope="module")
def bars():
    return wb.load("SPY", **BARS)


def _tagged(page: str) -> str:
    """The summary's tables given ids in order (t0, t1, ...), so the test helper can read them."""
    parts = page.split('<table class="dataframe wb-summary">')
    return parts[0] + "".join(f'<table id="t{i}">{part}' for i, part in enumerate(parts[1:]))


def test_a_backtest_and_an_account_show_what_ran_their_costs_and_key_metrics(bars) -> None:
    bt = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), bars, fees=0.001, risk={"stop_loss": 0.05})
    page = bt._repr_html_()
    assert "<b>SmaCross(fast=10, slow=50)</b> on SPY: 2018-01-02 to 2021-12-31 (1,008 bars)" in page
    assert "Costs: fees 0.10% of traded value, slippage 0.00% of price, fixed fee 0.00 per order" in page
    assert f"{len(bt.trades)} trades (1 open at the end)" in page
    table = html_table(_tagged(page), "t0").set_index("")["value"]
    assert table["total_return"] == f"{bt.metrics['total_return']:.2%}"
    assert table["sharpe"] == f"{bt.metrics['sharpe']:.3f}" and table["trades"] == f"{bt.metrics['trades']:.0f}"
    account = wb.backtest("sma_cross", wb.load(["SPY", "QQQ"], **BARS), fees=0.0)
    page = account._repr_html_()
    assert "<i>BacktestResult</i>" in page and "on SPY, QQQ" in page and "fees 0.00% of traded value" in page


def test_a_sweep_shows_its_best_rows_in_percent_and_a_walk_forward_its_windows(bars) -> None:
    from types import SimpleNamespace

    from IPython.core.formatters import DisplayFormatter

    res = wb.sweep("sma_cross", bars, fast=[5, 10, 20], slow=[50, 100], fees=0.001, progress=False)
    page = res._repr_html_()
    assert "<b>sma_cross</b>: 6 runs over SPY, parameters fast (3), slow (2)." in page
    best = html_table(_tagged(page), "t0")
    expected = res.best(5).reset_index()
    assert list(best["fast"].astype(int)) == list(expected["fast"])
    assert list(best["total_return"]) == [f"{v:.2%}" for v in expected["total_return"]]
    wf = wb.walk_forward("sma_cross", bars, train="2Y", test="1Y", fast=[5, 10], slow=[50, 100], progress=False)
    shell = SimpleNamespace(display_formatter=DisplayFormatter())  # a notebook's, without starting IPython here
    register_notebook_html(shell)
    data, _ = shell.display_formatter.format(wf)
    page = data["text/html"]
    assert f"<b>sma_cross</b>: {len(wf.windows)} windows, efficiency {wf.efficiency():.2f}" in page
    windows = html_table(_tagged(page), "t1")
    assert list(windows["test_start"]) == list(wf.summary()["test_start"].dt.strftime("%Y-%m-%d"))
    oos = html_table(_tagged(page), "t0").set_index("")
    assert oos.loc["SPY", "sharpe"] == f"{wf.oos_metrics.loc['SPY', 'sharpe']:.3f}"


def test_a_lookahead_check_says_whether_it_tested_anything() -> None:
    from types import SimpleNamespace

    from workbench.reports.summary import lookahead_html

    counts = {"strategy": "sma_cross", "symbols": ("SPY",), "bars": 1_008, "signals": 4_200}
    passed = lookahead_html(SimpleNamespace(**counts, cuts=50, active=2_100, compared=True))
    assert "<b>sma_cross</b> on SPY: No look-ahead found." in passed
    table = html_table(_tagged(passed), "t0").set_index("")["value"]
    assert table.to_dict() == {
        "cut points": "50",
        "bars": "1,008",
        "signal values compared": "4,200",
        "of them a position": "2,100",
    }
    untested = lookahead_html(SimpleNamespace(**counts, cuts=50, active=0, compared=False))
    assert "<b>Not tested</b>: nothing was compared." in untested
