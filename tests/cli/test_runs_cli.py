"""`workbench runs list / show / rerun`, through a typer app that registers ``runs_app`` the way `workbench.cli`
does (settings loaded by the root callback into ``ctx.obj``), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import typer
from conftest import make_walk
from typer.testing import CliRunner

import workbench as wb
from workbench.cli.runs import runs_app
from workbench.config import load_settings
from workbench.provenance.saved import save_run
from workbench.store import Store

pytest_plugins = ["store_fixtures"]


@pytest.fixture(scope="module")
def bt(spy):
    return wb.backtest(wb.strategy("sma_cross")(fast=10, slow=40), spy, fees=0.001)


@pytest.fixture(scope="module")
def sweep(spy):
    return wb.sweep("sma_cross", spy, fast=range(5, 25, 5), slow=range(40, 100, 20))


def _invoke(db_url: str, *args: str):
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = load_settings(overrides={"db_url": db_url}, env={})

    app.add_typer(runs_app, name="runs")
    return CliRunner().invoke(app, ["runs", *args])


def test_list_prints_one_line_per_run(db_url: str, store: Store, bt, sweep) -> None:
    assert _invoke(db_url, "list").stdout == "no saved runs\n"
    first, second = save_run(bt, store, name="baseline"), save_run(sweep, store)
    result = _invoke(db_url, "list")
    assert result.exit_code == 0, result.stdout
    header, _, *lines = result.stdout.splitlines()
    assert header.split() == [
        "id", "kind", "strategy", "name", "params", "symbols", "started", "status", "return", "sharpe", "max_dd",
        "trades", "best",
    ]  # fmt: skip
    assert lines[0].split()[:3] == [str(second), "sweep", "sma_cross"]
    assert "fast=5..20 (4) slow=40..80 (3)" in lines[0]
    assert lines[0].split()[-1] == f"sharpe={sweep.best(1)['sharpe'].iloc[0]:.4g}"
    m = bt.metrics
    numbers = [f"{m['total_return']:.2%}", f"{m['sharpe']:.2f}", f"{m['max_drawdown']:.2%}", f"{m['trades']:.0f}"]
    assert lines[1].split()[:4] == [str(first), "backtest", "sma_cross", "baseline"]
    assert "fast=10 slow=40" in lines[1] and lines[1].split()[-4:] == numbers

    only = _invoke(db_url, "list", "--kind", "backtest", "--limit", "5").stdout.splitlines()
    assert len(only) == 3 and only[2].startswith(str(first))


def test_show_prints_spec_metrics_and_record_counts(db_url: str, store: Store, bt, sweep) -> None:
    run_id = save_run(bt, store, name="baseline")
    result = _invoke(db_url, "show", str(run_id))
    assert result.exit_code == 0, result.stdout
    out = result.stdout
    assert out.startswith(f"run {run_id}: backtest of sma_cross (baseline), finished, saved ")
    assert "data: sample SPY 2015-01-01..2018-12-31 (hash " + bt.spec.data_hash in out
    assert "  params: {'fast': 10, 'slow': 40}\n" in out and f"  strategy_hash: {bt.spec.strategy_hash}\n" in out
    assert f"  sharpe: {bt.metrics['sharpe']:.6g}\n" in out
    assert f"records: {len(bt.order_records)} orders, {len(bt.fill_records)} fills, {len(bt.risk_events)} risk " in out
    assert f"{len(bt.equity)} daily equity snapshots" in out

    out = _invoke(db_url, "show", str(save_run(sweep, store))).stdout
    assert "  params: fast=5..20 (4) slow=40..80 (3)\n" in out and "  runs: 12\n" in out
    assert "best 10 by sharpe:" in out and "records: 0 orders" in out


def test_rerun_exits_0_when_reproduced_and_1_otherwise(db_url: str, store: Store, bt, sweep) -> None:
    run_id, sweep_id = save_run(bt, store), save_run(sweep, store)
    result = _invoke(db_url, "rerun", str(run_id))
    assert (result.exit_code, result.stdout) == (0, "reproduced: 12 metrics identical\n")
    assert _invoke(db_url, "rerun", str(sweep_id)).stdout == f"reproduced: {sweep.metrics.size} metrics identical\n"

    with store.unit_of_work() as uow:
        row = uow.runs.get(run_id)
        row.metrics = {**row.metrics, "end_value": 1.0}
        row.config = {**row.config, "strategy_hash": "0" * 64}
    result = _invoke(db_url, "rerun", str(run_id))
    assert result.exit_code == 1 and result.stdout.startswith(
        "This run cannot be run as it was: the source of strategy 'sma_cross'"
    )
    result = _invoke(db_url, "rerun", str(run_id), "--ignore-code")
    assert result.exit_code == 1
    assert result.stdout == (
        f"differs: end_value: saved 1.0, rerun {float(bt.metrics['end_value'])!r}\nnot reproduced: 1 difference\n"
    )


def test_rerun_of_bars_passed_in_memory_exits_1(db_url: str, store: Store) -> None:
    run_id = save_run(wb.backtest("sma_cross", make_walk(300)), store)
    result = _invoke(db_url, "rerun", str(run_id))
    assert result.exit_code == 1
    assert result.stdout.startswith("This run cannot be run again: its bars were passed in memory")
