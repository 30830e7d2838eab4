"""Every notebook in notebooks/ is committed without outputs, has one literal ``parameters`` cell, runs under
papermill with small parameters (its key outputs checked against the library) and passes ``nbval-lax``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from reports_support import html_metrics

import workbench as wb
from workbench.reports.benchmark import buy_and_hold

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# Small parameters each notebook runs with in CI (seconds each on the bundled data).
SMALL = {
    "01_quickstart.ipynb": {
        "start": "2019-01-01",
        "end": "2021-12-31",
        "params": {"fast": 10, "slow": 40},
        "sweep": {"fast": "5:25:5", "slow": "30:90:20"},
    },
    "research_sweep.ipynb": {
        "start": "2016-01-01",
        "end": "2021-12-31",
        "sweep": {"fast": "5:25:5", "slow": "30:90:20"},
        "train": "2Y",
        "test": "1Y",
    },
    "live_session.ipynb": {"steps": 3, "start": "2024-01-02"},
    "universe_research.ipynb": {
        "start": "2014-01-01",
        "end": "2019-12-31",
        "sweep": {"lookback": "20:120:20", "top": [1, 2, 3]},
        "train": "2Y",
    },
    "backtest_report.ipynb": {
        "start": "2019-01-01",
        "end": "2020-12-31",
        "params": {"fast": 10, "slow": 40},
        "risk": {"stop_loss": 0.05},
        "sweep": {"fast": "5:25:5", "slow": "30:90:20"},
    },
}


def _texts(notebook) -> list[str]:
    """Every output of ``notebook`` as text (plain text, HTML and streams)."""
    out = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            out.append(output.get("text", ""))
            out += [str(output.get("data", {}).get(kind, "")) for kind in ("text/plain", "text/html")]
    return out


def _run(name: str, tmp_path: Path, **extra):
    import papermill

    return papermill.execute_notebook(
        str(ROOT / "notebooks" / name),
        str(tmp_path / name),
        parameters={**SMALL[name], **extra},
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )


def test_every_notebook_has_small_ci_parameters() -> None:
    assert [p.name for p in NOTEBOOKS] == sorted(SMALL)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_stripped_with_one_literal_parameters_cell(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "commit notebooks without outputs"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for statement in ast.parse(tagged[0].source).body:
        assert isinstance(statement, ast.Assign), ast.unparse(statement)
        ast.literal_eval(statement.value)  # papermill parameters are literals
    assert set(SMALL[path.name]) <= {t.id for s in ast.parse(tagged[0].source).body for t in s.targets}


@pytest.mark.slow
def test_quickstart_runs_a_backtest_and_a_sweep(tmp_path) -> None:
    texts = _texts(_run("01_quickstart.ipynb", tmp_path))
    small = SMALL["01_quickstart.ipynb"]
    bars = wb.load("SPY", start=small["start"], end=small["end"])
    bt = wb.backtest(wb.strategy("sma_cross")(**small["params"]), bars, fees=0.001)
    res = wb.sweep("sma_cross", bars, fees=0.001, progress=False, **small["sweep"])
    assert repr(bt) in texts
    assert any(":HeatMap   [fast,slow]   (sharpe)" in t for t in texts)
    assert any(f"{res.best(1)['sharpe'].iloc[0]:.6f}" in t for t in texts)


@pytest.mark.slow
def test_research_sweep_walks_forward_and_reports_out_of_sample(tmp_path) -> None:
    texts = _texts(_run("research_sweep.ipynb", tmp_path))
    small = SMALL["research_sweep.ipynb"]
    bars = wb.load(["SPY"], start=small["start"], end=small["end"])
    wf = wb.walk_forward(
        "sma_cross", bars, train=small["train"], test=small["test"], fees=0.001, progress=False, **small["sweep"]
    )
    assert any(repr(wf) in t for t in texts)
    assert any("PBO" in t and "deflated Sharpe" in t for t in texts)
    assert any(f"{wf.oos_metrics.loc['SPY', 'total_return']:.6f}" in t for t in texts)


@pytest.mark.slow
def test_universe_research_sweeps_walks_forward_and_backtests_the_three_bundled_strategies(tmp_path) -> None:
    texts = _texts(_run("universe_research.ipynb", tmp_path))
    small = SMALL["universe_research.ipynb"]
    symbols = ["AAPL", "MSFT", "IBM", "INTC", "JNJ", "PFE", "XOM", "CVX", "JPM", "WMT", "HD", "MCD"]  # its default
    bars = wb.load(symbols, start=small["start"], end=small["end"])
    res = wb.sweep("momentum", bars, fees=0.001, every=[21], progress=False, **small["sweep"])
    best = dict(zip(res.params, res.best(1).index[0], strict=True))
    wf = wb.walk_forward(
        "momentum", bars, train="2Y", test="1Y", fees=0.001, every=[21], progress=False, **small["sweep"]
    )
    pair = wb.backtest("pair_zscore", wb.load(["XOM", "CVX"], start=small["start"], end=small["end"]), fees=0.001)
    assert any(repr(wb.backtest(wb.strategy("momentum")(**best), bars, fees=0.001)) in t for t in texts)
    assert any(repr(wb.backtest(wb.strategy("risk_parity")(every=21), bars, fees=0.001)) in t for t in texts)
    assert any(repr(wf) in t for t in texts) and any(repr(pair) in t for t in texts)
    assert any(":HeatMap   [lookback,top]   (sharpe)" in t for t in texts)
    assert any("portfolio: best of 15 trials by sharpe" in t for t in texts)


@pytest.mark.slow
def test_backtest_report_shows_the_runs_metrics(tmp_path) -> None:
    from workbench.reports.export import to_html

    small = SMALL["backtest_report.ipynb"]
    bars = wb.load("SPY", start=small["start"], end=small["end"])
    bt = wb.backtest(wb.strategy("sma_cross")(**small["params"]), bars, fees=0.001, risk=small["risk"])
    table = html_metrics(to_html(_run("backtest_report.ipynb", tmp_path)))
    for column, result in (("strategy", bt), ("buy & hold", buy_and_hold(bars, fees=0.001))):
        for name, value in result.metrics.items():
            shown, step = table.loc[name, column]
            assert shown == pytest.approx(value, abs=step / 2 + 1e-12, nan_ok=True), (column, name)


@pytest.mark.slow
def test_live_session_steps_resume_the_same_recorded_run(tmp_path) -> None:
    from workbench.store import Store

    database = f"sqlite:///{tmp_path / 'wb.db'}"
    first = _texts(_run("live_session.ipynb", tmp_path, database=database, steps=40))
    second = _texts(_run("live_session.ipynb", tmp_path, database=database, steps=10))
    assert any("bars" in t and "40" in t for t in first) and any("bars" in t and "10" in t for t in second)
    store = Store.open(database)
    with store.unit_of_work(readonly=True) as uow:
        (run,) = uow.runs.find(kind="live")  # the second step resumed it
        marks = uow.equity.series(run.id)
    assert len(marks) == 50 and str(marks[0].timestamp.date()) == "2024-01-02"
    store.close()


@pytest.mark.slow
def test_notebooks_pass_nbval_lax(tmp_path) -> None:
    """nbval runs every notebook with its small parameters injected (papermill, without executing)."""
    import papermill

    prepared = tmp_path / "notebooks"
    prepared.mkdir()
    for path in NOTEBOOKS:
        papermill.execute_notebook(
            str(path), str(prepared / path.name), parameters=SMALL[path.name], prepare_only=True, kernel_name="python3"
        )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-q",
            str(prepared),
        ],
        cwd=tmp_path,  # outside the project, without its options: each notebook's cells run in order in one kernel
        env={**os.environ, "WORKBENCH_HOME": str(tmp_path)},  # the live session records into a scratch database
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
