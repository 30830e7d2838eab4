"""HTML reports: the numbers and plot data in the file are the backtest's, the file renders offline in headless
Chromium, bad parameters fail before any kernel starts, and no failure leaves a file or a temporary behind."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from browser_support import check_page, offline_browser
from reports_support import bokeh_arrays, has_array, html_metrics, html_table
from typer.testing import CliRunner

import workbench as wb
from workbench.cli.research import report_cmd
from workbench.config import load_settings
from workbench.data.load import load
from workbench.errors import DataNotFoundError
from workbench.reports import build_report, report_result
from workbench.reports.benchmark import buy_and_hold
from workbench.reports.build import default_out
from workbench.reports.display import percent
from workbench.reports.export import write_atomic
from workbench.reports.notebook import ReportError, report_notebook
from workbench.reports.parameters import check_parameters
from workbench.reports.tables import drawdown, format_metric, monthly_returns
from workbench.reports.tearsheet import bar_returns
from workbench.strategies.params import ParameterError
from workbench.strategies.registry import StrategyNotFoundError

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
BARS = {"start": "2018-01-01", "end": "2021-12-31"}
RISK = {"stop_loss": 0.03, "max_drawdown": 0.15}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """A backtest with risk events and alerts, the sweep its parameters came from, a walk-forward over that
    sweep's grid, and its report."""
    bars = load("SPY", **BARS)
    bt = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=40), bars, fees=0.001, risk=RISK)
    grid = {"fast": range(5, 30, 5), "slow": range(20, 100, 20)}
    res = wb.sweep("sma_cross", bars, fees=0.001, risk=RISK, progress=False, **grid)
    wf = wb.walk_forward("sma_cross", bars, train="2Y", test="1Y", fees=0.001, risk=RISK, progress=False, **grid)
    path = bt.report(out=tmp_path_factory.mktemp("report") / "bt.html", sweep=res, walk_forward=wf)
    hold = buy_and_hold(bars, fees=0.001)
    return {"bt": bt, "res": res, "wf": wf, "hold": hold, "path": path, "html": path.read_text()}


@pytest.mark.slow
def test_the_report_is_one_file_with_no_temporary_left(run) -> None:
    assert run["path"].name == "bt.html" and run["path"].is_absolute()
    assert [p.name for p in run["path"].parent.iterdir()] == ["bt.html"]


@pytest.mark.slow
def test_the_metrics_table_shows_the_backtests_numbers_and_buy_and_hold(run) -> None:
    table = html_metrics(run["html"])
    assert list(table.index) == list(run["bt"].metrics.index)
    for column, result in (("strategy", run["bt"]), ("buy & hold", run["hold"])):
        for name, value in result.metrics.items():
            shown, step = table.loc[name, column]
            assert shown == pytest.approx(value, abs=step / 2 + 1e-12, nan_ok=True), (column, name)


@pytest.mark.slow
def test_the_plots_carry_the_runs_data(run) -> None:
    arrays = bokeh_arrays(run["html"])
    bt, res = run["bt"], run["res"]
    assert has_array(arrays, bt.equity.to_numpy())
    assert has_array(arrays, run["hold"].equity.to_numpy())
    assert has_array(arrays, monthly_returns(bt.equity, 10_000.0).stack().to_numpy(), sort=True)
    assert has_array(arrays, drawdown(bt.equity).to_numpy(), sort=True, unique=True)
    heat = res.metrics["sharpe"].groupby(level=["fast", "slow"]).mean().dropna()
    assert has_array(arrays, heat.to_numpy(), sort=True)
    assert has_array(arrays, np.array([10.0])) and has_array(arrays, np.array([40.0]))  # the chosen-set cross


@pytest.mark.slow
def test_the_tables_list_every_trade_risk_decision_and_the_provenance(run) -> None:
    bt, html = run["bt"], run["html"]
    trades = html_table(html, "trades")
    assert len(trades) == len(bt.trades)
    np.testing.assert_allclose(trades["pnl"].str.replace(",", "").astype(float), bt.trades["pnl"], atol=0.005)
    assert set(trades["side"]) == {"long"} and list(trades["entry"][:1]) == [f"{bt.trades['entry_time'][0]:%Y-%m-%d}"]
    assert (trades["exit"] == "open").sum() == bt.trades["exit_time"].isna().sum()
    returns = trades["return"].str.rstrip("%").astype(float) / 100
    np.testing.assert_allclose(returns, bt.trades["return"], atol=0.00005)
    events = [e for e in bt.risk_events if e.decision != "approve"]
    assert len(events) > 0 and len(html_table(html, "risk-events")) == len(events)
    assert len(bt.alerts) > 0 and len(html_table(html, "alerts")) == len(bt.alerts)
    assert len(html_table(html, "sweep-best")) == 10
    provenance = html_table(html, "provenance").set_index("field")["value"]
    spec = bt.spec
    assert provenance["data hash (SHA-256)"] == spec.data_hash
    assert provenance["strategy source hash (SHA-256)"] == spec.strategy_hash
    assert provenance["workbench version"] == spec.code_version
    assert json.loads(provenance["parameters"]) == {"fast": 10, "slow": 40}
    assert json.loads(provenance["risk rules"]) == RISK
    assert "SPY: 1008 bars, 2018-01-02 .. 2021-12-31" in provenance["bars"]
    assert provenance["can it be run again"].startswith("Yes: wb.rerun(spec)")
    overfitting = html_table(html, "overfitting").iloc[0]
    verdict = run["res"].overfitting()  # one symbol: one report
    assert (
        overfitting["PBO"] == f"{verdict.pbo:.3f}"
        and overfitting["deflated Sharpe"] == f"{verdict.deflated_sharpe:.3f}"
    )
    assert overfitting["verdict"] == verdict.verdict
    windows = html_table(html, "walk-forward")
    assert list(windows["fast"].astype(int)) == list(run["wf"].summary()["fast"])
    best = html_table(html, "sweep-best")
    assert best["total_return"].str.endswith("%").all() and best["sharpe"].str.match(r"-?\d+\.\d{3}$").all()


@pytest.mark.slow
def test_the_report_hides_code_and_needs_no_network(run) -> None:
    html = run["html"]
    assert 'class="jp-CodeMirrorEditor' not in html and "check_parameters" not in html
    assert not re.findall(r"<script[^>]+src=", html) and not re.findall(r"<link[^>]+href=[\"']?https?:", html)
    assert "cdn.bokeh.org" not in html and "cdn.holoviz.org" not in html


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_report_and_an_exported_notebook_draw_every_plot_offline(run, tmp_path) -> None:
    """Both kinds of HTML a researcher shares open with the network blocked: nothing is fetched from outside,
    nothing fails in the console, and every Bokeh plot has drawn its canvas."""
    from workbench.schedule.notebook_run import run_notebook

    small = {"start": "2020-01-01", "end": "2021-12-31", "params": {"fast": 10, "slow": 40}}
    notebook = run_notebook(
        ROOT / "notebooks" / "01_quickstart.ipynb",
        {**small, "sweep": {"fast": [5, 10], "slow": [40, 60]}},
        out_dir=tmp_path / "runs",
    )
    assert notebook.status == "finished", notebook.error
    with offline_browser() as browser:
        pages = {
            "report": check_page(browser, run["path"].as_uri(), plots=10),
            "notebook": check_page(browser, notebook.html.as_uri(), plots=4),
        }
    for name, page in pages.items():
        assert page.outside == [] and page.errors == [], name
        assert page.canvases == page.plots, name
    # equity, underwater, yearly, monthly, rolling Sharpe and volatility, distribution, exposure, sweep, walk-forward;
    # the notebook's price, equity and drawdown panels and its heatmap
    assert pages["report"].plots == 10 and pages["notebook"].plots == 4


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = load_settings(overrides={}, env={})

    app.command("report")(report_cmd)
    return app


@pytest.mark.slow
def test_the_command_writes_a_portfolio_report_and_prints_its_path(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["report", "sma_cross", "--symbols", "SPY,QQQ", "-p", "fast=10", "-p", "slow=40", "--fees", "0.001"]
    result = CliRunner().invoke(_app(), [*args, "--start", "2019-01-01", "--end", "2020-12-31", "--show-code"])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path.parent == tmp_path / "reports" and path.name.startswith("sma_cross_SPY-QQQ_")
    html = path.read_text()
    expected = wb.backtest(
        wb.strategy("sma_cross")(fast=10, slow=40),
        load(["SPY", "QQQ"], start="2019-01-01", end="2020-12-31"),
        fees=0.001,
    )
    table = html_metrics(html)
    for name, value in expected.metrics.items():
        shown, step = table.loc[name, "strategy"]
        assert shown == pytest.approx(value, abs=step / 2 + 1e-12, nan_ok=True), name
    assert 'class="jp-CodeMirrorEditor' in html and "check_parameters" in html  # --show-code keeps the code cells
    assert [p.name for p in (tmp_path / "reports").iterdir()] == [path.name]


@pytest.mark.slow
def test_a_universe_strategys_report_shows_its_account_its_trades_and_its_sweep(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    symbols, dates = ["SPY", "QQQ", "AAPL", "XOM"], ["--start", "2019-01-01", "--end", "2021-12-31"]
    args = ["report", "momentum", "--symbols", ",".join(symbols), "-p", "top=2", "--fees", "0.001", *dates]
    result = CliRunner().invoke(_app(), [*args, "--leverage", "1.5", "--sweep", "lookback=20:80:20"])
    assert result.exit_code == 0, result.output
    html = Path(result.output.strip()).read_text()
    bars = load(symbols, start="2019-01-01", end="2021-12-31")
    expected = wb.backtest(wb.strategy("momentum")(top=2), bars, fees=0.001, leverage=1.5)
    hold = buy_and_hold(bars, fees=0.001)
    table = html_metrics(html)
    for column, run in (("strategy", expected), ("buy & hold", hold)):
        for name, value in run.metrics.items():
            shown, step = table.loc[name, column]
            assert shown == pytest.approx(value, abs=step / 2 + 1e-12, nan_ok=True), (column, name)
    trades = html_table(html, "trades")
    assert list(trades["symbol"]) == list(expected.trades["symbol"])
    np.testing.assert_allclose(trades["pnl"].str.replace(",", "").astype(float), expected.trades["pnl"], atol=0.005)
    res = wb.sweep("momentum", bars, fees=0.001, leverage=1.5, top=2, lookback=range(20, 80, 20), progress=False)
    best = html_table(html, "sweep-best")
    assert list(best["lookback"].astype(int)) == list(res.best(10).reset_index()["lookback"])
    provenance = html_table(html, "provenance").set_index("field")["value"]
    assert "leverage 1.5" in html and json.loads(provenance["costs and fills"])["leverage"] == 1.5


BAD = [
    ({"strategy": "no_such_strategy"}, StrategyNotFoundError, "unknown strategy 'no_such_strategy'"),
    ({"symbols": "NOPE"}, DataNotFoundError, "NOPE"),
    ({"start": "2020-01-01", "end": "2019-01-01"}, ValueError, "start 2020-01-01 is after end 2019-01-01"),
    ({"params": {"fast": 0}}, ParameterError, "fast=0: below the minimum 1"),
    ({"params": {"fast": 60, "slow": 50}}, ParameterError, "violates the constraint 'fast < slow'"),
    ({"params": {"speed": 3}}, ParameterError, "has no parameter speed"),
    ({"sweep": {"fast": "0:10"}}, ParameterError, "fast=0: below the minimum 1"),
    ({"sweep": {"fast": [5]}}, ParameterError, "the grid holds one parameter set"),
    ({"risk": {"stop_los": 0.05}}, ValueError, "unknown risk rule stop_los"),
    ({"fees": -0.1}, ValueError, "fees=-0.1: must be a fraction in [0, 1)"),
    ({"fill": "open"}, ValueError, "fill='open': must be one of next_open, close"),
    ({"symbols": "SPY,QQQ", "weights": {"SPY": 0.9}}, ValueError, "weights must name exactly the symbols"),
    ({"out": "report.pdf"}, ValueError, "a report is an .html file"),
    ({"leverage": 2.0}, ValueError, "leverage=2.0: a one-symbol strategy's exposure is in [-1, 1]"),
    ({"strategy": "momentum", "symbols": "SPY,QQQ", "leverage": 0}, ValueError, "leverage=0: must be a positive"),
    ({"strategy": "momentum", "symbols": "SPY"}, ValueError, "a universe strategy trades several symbols"),
    (
        {"strategy": "momentum", "symbols": "SPY,QQQ", "weights": {"SPY": 0.5, "QQQ": 0.5}},
        ValueError,
        "momentum is a universe strategy and chooses its own weights",
    ),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD, ids=[str(c) for c, _, _ in BAD])
def test_bad_parameters_fail_before_any_kernel_starts_and_leave_nothing(
    change, error, message, tmp_path, monkeypatch
) -> None:
    import papermill

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started for bad parameters")

    monkeypatch.setattr(papermill, "execute_notebook", no_kernel)
    monkeypatch.chdir(tmp_path)
    arguments = {"strategy": "sma_cross", "symbols": "SPY", "out": tmp_path / "out" / "r.html", **change}
    with pytest.raises(error) as caught:
        build_report(**arguments)
    assert message in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_the_command_refuses_a_range_where_one_value_is_needed(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(_app(), ["report", "sma_cross", "-p", "fast=5:10"])
    assert isinstance(result.exception, ValueError)
    assert "a report takes one value per parameter; sweep ranges with --sweep" in str(result.exception)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_failing_cell_is_reported_in_one_line_and_leaves_no_file(tmp_path, monkeypatch) -> None:
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "boom.py").write_text(
        "from workbench import Param, Strategy\n\n\n"
        "def boom_signals(open, high, low, close, volume, window):\n"
        "    raise RuntimeError('the signal function broke')\n\n\n"
        "class Boom(Strategy):\n"
        "    window = Param(int, 5, min=1)\n"
        "    signals = staticmethod(boom_signals)\n"
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ReportError, match=r"failed in cell \d+: RuntimeError: the signal function broke"):
        build_report("boom", "SPY", start="2020-01-01", end="2020-06-30", out=tmp_path / "boom.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["strategies"]


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch) -> None:
    target = write_atomic(tmp_path / "r.html", "old")

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_report_result_refuses_a_sweep_of_other_bars(spy) -> None:
    bt = wb.backtest("sma_cross", load("SPY", start="2019-01-01"))
    other = wb.sweep("sma_cross", spy, fast=[5, 10], slow=[50, 100], progress=False)
    with pytest.raises(ValueError, match="did not run on the backtest's strategy and bars"):
        report_result(bt, sweep=other)


def test_parameters_become_plain_values_that_load_the_same_bars() -> None:
    inputs = check_parameters(
        "sma_cross",
        ["spy", "qqq"],
        {"fast": np.int64(12)},
        start=date(2020, 1, 1),
        end=pd.Timestamp("2020-06-30"),
        sweep={"fast": range(5, 20, 5), "slow": "50:150:50"},
        risk={"allowed_symbols": ("SPY", "QQQ")},
    )
    parameters = inputs.parameters
    assert json.loads(json.dumps(parameters)) == parameters
    assert parameters["symbols"] == ["SPY", "QQQ"] and parameters["params"] == {"fast": 12, "slow": 50}
    assert parameters["start"] == "2020-01-01" and parameters["end"] == "2020-06-30T00:00:00"
    assert parameters["sweep"] == {"fast": [5, 10, 15], "slow": "50:150:50"}
    assert parameters["risk"] == {"allowed_symbols": ["QQQ", "SPY"]}
    again = check_parameters(**parameters)
    assert again.parameters == parameters
    assert all(again.bars[s].equals(inputs.bars[s]) for s in inputs.bars)


def test_the_notebooks_parameters_are_exactly_the_checked_ones() -> None:
    import papermill

    declared = set(papermill.inspect_notebook(str(report_notebook()))) - {"result_file"}  # a handed-over result
    assert set(declared) == set(check_parameters("sma_cross", "SPY", start="2020-01-01").parameters)
    assert set(declared) == set(inspect.signature(check_parameters).parameters)


def test_the_default_report_path_is_under_reports_in_the_current_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = default_out("sma_cross", "spy,qqq", datetime(2025, 3, 4, 5, 6, 7))
    assert path == tmp_path / "reports" / "sma_cross_SPY-QQQ_20250304-050607.html"


def test_the_command_line_imports_nothing_heavy() -> None:
    code = "import json, sys\nimport workbench.cli\nprint(json.dumps(sorted(sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    heavy = (
        "numba",
        "bokeh",
        "holoviews",
        "panel",
        "papermill",
        "nbconvert",
        "workbench.trading",
        "workbench.store.database",
        "pandas",
    )
    assert [m for m in loaded if m.startswith(heavy)] == []


def test_the_packaged_report_notebook_is_the_checkout_one() -> None:
    checkout = Path(__file__).resolve().parents[2] / "notebooks" / "backtest_report.ipynb"
    assert report_notebook().read_bytes() == checkout.read_bytes()


@pytest.mark.slow
def test_a_report_can_be_made_from_inside_a_notebook(tmp_path) -> None:
    import nbformat
    import papermill

    code = (
        "import workbench as wb\n"
        "bt = wb.backtest('sma_cross', wb.load('SPY', start='2021-01-01', end='2021-12-31'), fees=0.001)\n"
        f"path = bt.report(out={str(tmp_path / 'nested.html')!r})"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    papermill.execute_notebook(notebook, None, kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    expected = wb.backtest("sma_cross", load("SPY", start="2021-01-01", end="2021-12-31"), fees=0.001)
    shown, step = html_metrics((tmp_path / "nested.html").read_text()).loc["end_value", "strategy"]
    assert shown == pytest.approx(expected.metrics["end_value"], abs=step)


@pytest.mark.slow
def test_the_tearsheet_numbers_equal_quantstats_on_the_same_returns(run) -> None:
    """Worst drawdowns, yearly returns and the rolling Sharpe ratio and volatility shown in the report equal
    quantstats' on the report's own per-bar returns."""
    import quantstats as qs

    html, arrays = run["html"], bokeh_arrays(run["html"])
    strategy = bar_returns(run["bt"].equity, 10_000.0)
    hold = bar_returns(run["hold"].equity, 10_000.0)
    details = qs.stats.drawdown_details(qs.stats.to_drawdown_series(strategy))
    details = details.sort_values("max drawdown", kind="stable").head(5).reset_index(drop=True)
    shown = html_table(html, "worst-drawdowns")
    assert list(shown["start"]) == list(details["start"]) and list(shown["valley"]) == list(details["valley"])
    assert list(shown["days"].astype(int)) == list(details["days"])
    np.testing.assert_allclose(shown["depth"].str.rstrip("%").astype(float), details["max drawdown"], atol=0.005)
    dates = strategy.index.strftime("%Y-%m-%d")
    for recovery, end in zip(shown["recovery"], details["end"], strict=True):  # qs' end: the last bar under water
        at = list(dates).index(end)
        assert recovery == (dates[at + 1] if at + 1 < len(dates) else "not yet")
    yearly = html_table(html, "yearly").set_index("year")
    for column, returns in (("strategy", strategy), ("buy & hold", hold)):
        expected = qs.utils.group_returns(returns, returns.index.year, compounded=True)
        np.testing.assert_allclose(yearly[column].str.rstrip("%").astype(float) / 100, expected, atol=0.00005)
    for returns in (strategy, hold):
        assert has_array(arrays, qs.stats.rolling_sharpe(returns, rolling_period=126, prepare_returns=False).to_numpy())
        volatility = qs.stats.rolling_volatility(returns, rolling_period=126, prepare_returns=False)
        assert has_array(arrays, volatility.to_numpy())


def test_monthly_returns_are_in_calendar_order_without_a_stray_month_or_negative_zero() -> None:
    index = pd.DatetimeIndex(["1999-12-31", "2000-01-03", "2000-01-31", "2000-02-01", "2001-01-02"], tz="UTC")
    equity = pd.Series([10_000.0, 10_100.0, 10_200.0, 10_199.9999, 11_000.0], index=index)
    table = monthly_returns(equity, 10_000.0)
    assert list(table.index) == [2000, 2001]  # the one bar of December 1999 makes no row of its own
    assert table.loc[2000, "Jan"] == pytest.approx(0.02) and table.loc[2000, "Feb"] == pytest.approx(-0.0001 / 10_200)
    assert percent(table.loc[2000, "Feb"], 1) == "0.0%" and percent(-0.0123) == "-1.23%"
    assert format_metric("profit_factor", float("inf")) == "no losing trade"


def _above_past(open, high, low, close, volume, window):
    """Long while the close is above its close ``window`` bars ago."""
    out = np.zeros(close.shape[0])
    out[window:] = close[window:] > close[:-window]
    return out


class LocalMomentum(wb.Strategy):
    """A strategy defined where it is used, as in a notebook: no registry knows it."""

    name = "local_momentum"
    window = wb.Param(int, 20, min=1)
    signals = staticmethod(_above_past)


@pytest.mark.slow
def test_any_result_a_notebook_holds_gets_a_report_that_says_whether_it_can_be_rerun(walk, tmp_path) -> None:
    """Bars passed in memory with a strategy defined on the spot, and a universe sweep reported by its best
    set: both reports hold the result's own numbers and say plainly whether the run can be made again."""
    bt = wb.backtest(LocalMomentum(window=15), walk, fees=0.001)
    html = bt.report(out=tmp_path / "local.html").read_text()
    table = html_metrics(html)
    for name, value in bt.metrics.items():
        shown, step = table.loc[name, "strategy"]
        assert shown == pytest.approx(value, abs=step / 2 + 1e-12, nan_ok=True), name
    provenance = html_table(html, "provenance").set_index("field")["value"]
    assert provenance["can it be run again"] == (
        "No: The bars of this run were passed in memory, not loaded by wb.load, so a new session cannot load them "
        "again. This report was built from the result held in memory."
    )
    assert provenance["data source"].startswith("in memory")
    bars = load(["SPY", "QQQ", "XOM"], start="2019-01-01", end="2021-12-31")
    res = wb.sweep("momentum", bars, fees=0.001, top=[1, 2], lookback=[20, 60], progress=False)
    html = res.report(out=tmp_path / "universe.html").read_text()
    best = wb.backtest(wb.strategy("momentum")(**res.best_params()), bars, fees=0.001)
    shown, step = html_metrics(html).loc["end_value", "strategy"]
    assert shown == pytest.approx(best.metrics["end_value"], abs=step)
    assert len(html_table(html, "sweep-best")) == 4
    assert html_table(html, "provenance").set_index("field")["value"]["can it be run again"].startswith("Yes")
    with pytest.raises(ValueError, match=r"^A report shows a backtest or a sweep; str is neither\.$"):
        report_result("sma_cross")


def test_exporting_drops_outputs_without_data_and_warns_nothing() -> None:
    import warnings

    import nbformat

    from workbench.reports.export import to_html

    cell = nbformat.v4.new_code_cell("plot", outputs=[nbformat.v4.new_output("display_data", data={})])
    cell.outputs.append(nbformat.v4.new_output("display_data", data={"text/html": "<p id='kept'>kept</p>"}))
    notebook = nbformat.v4.new_notebook(cells=[cell])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nbconvert's "not able to be represented" UserWarning would raise
        page = to_html(notebook)
    assert '<p id="kept">kept</p>' in page and len(notebook.cells[0].outputs) == 2  # the caller's copy untouched
