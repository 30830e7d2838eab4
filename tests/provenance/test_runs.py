"""Saved runs on SQLite and PostgreSQL: backtests, portfolios and sweeps are saved whole, listed with their
numbers, shown with their spec and records, and rerun to the same numbers (or the differences are named)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from conftest import make_walk

import workbench as wb
from workbench.ops.rerun import rerun_run
from workbench.provenance.saved import runs, save_run, show_run
from workbench.provenance.spec import NotReproducible, metrics_hash
from workbench.store import Store, StoreError

pytest_plugins = ["store_fixtures"]


@pytest.fixture(scope="module")
def bt(spy):
    return wb.backtest(wb.strategy("sma_cross")(fast=10, slow=40), spy, fees=0.001, risk={"stop_loss": 0.02})


@pytest.fixture(scope="module")
def portfolio():
    bars = wb.load(["SPY", "QQQ"], start="2016-01-01", end="2018-12-31")  # one origin for both: reproducible
    return wb.backtest("sma_cross", bars, weights={"SPY": 0.6, "QQQ": 0.4}, fees=0.0)


@pytest.fixture(scope="module")
def sweep(spy):
    # donchian_breakout's parameters (entry, exit) come back in another key order from PostgreSQL's JSONB
    return wb.sweep("donchian_breakout", spy, entry=range(10, 60, 10), exit=range(5, 30, 5), metric="calmar", fees=0.0)


def _tamper(store: Store, run_id: int, **metrics) -> None:
    with store.unit_of_work() as uow:
        row = uow.runs.get(run_id)
        row.metrics = {**row.metrics, **metrics}


def test_runs_lists_saved_runs_with_their_numbers(store: Store, bt, portfolio, sweep) -> None:
    ids = [save_run(bt, store, name="baseline"), save_run(portfolio, store), save_run(sweep, store)]
    table = runs(store)
    assert list(table.index) == ids[::-1]  # newest first
    assert list(table["kind"]) == ["sweep", "backtest", "backtest"]
    for run_id, result in zip(ids[:2], (bt, portfolio), strict=True):
        for name in ("total_return", "sharpe", "max_drawdown", "trades"):
            assert table.loc[run_id, name] == pytest.approx(result.metrics[name], rel=1e-12)
        assert table.loc[run_id, "params"] == result.spec.params
        assert table.loc[run_id, "symbols"] == result.spec.symbols
    assert table.loc[ids[0], "name"] == "baseline"
    assert table.loc[ids[0], "data_source"] == "sample SPY 2015-01-01..2018-12-31"
    assert table.loc[ids[1], "symbols"] == ["SPY", "QQQ"]
    row = table.loc[ids[2]]
    assert row["metric"] == "calmar" and row["best"] == pytest.approx(sweep.best(1)["calmar"].iloc[0], rel=1e-12)
    assert row["params"] == {"entry": [10, 20, 30, 40, 50], "exit": [5, 10, 15, 20, 25]}
    assert np.isnan(row["sharpe"]) and np.isnan(table.loc[ids[0], "best"])

    assert list(runs(store, kind="sweep").index) == [ids[2]]
    assert list(runs(store, strategy="sma_cross", limit=1).index) == [ids[1]]
    assert runs(store, strategy="nothing").empty


def test_show_run_returns_the_spec_and_every_record(store: Store, bt) -> None:
    run_id = save_run(bt, store)
    shown = show_run(run_id, store)
    assert shown["spec"] == bt.spec.to_dict()
    assert (shown["kind"], shown["strategy"], shown["status"]) == ("backtest", "sma_cross", "finished")
    assert shown["code_version"] == bt.spec.code_version and shown["data_hash"] == bt.spec.data_hash
    assert shown["strategy_source_hash"] == bt.spec.strategy_hash
    assert shown["costs"] == {**bt.spec.costs, "risk": {"stop_loss": 0.02}}
    assert shown["metrics"] == pytest.approx(bt.metrics.to_dict(), rel=1e-12)
    assert sorted(shown["orders"], key=lambda o: o.id) == sorted(bt.order_records, key=lambda o: o.id)
    assert sorted(shown["fills"], key=lambda f: f.fill_id) == sorted(bt.fill_records, key=lambda f: f.fill_id)
    assert shown["risk_events"] == bt.risk_events and any(e.rule == "stop_loss" for e in bt.risk_events)
    # daily bars: one snapshot per bar, cash = equity - position value
    assert shown["equity"]["equity"].to_numpy() == pytest.approx(bt.equity.to_numpy(), rel=1e-12)
    cash = bt.equity - bt.position * bt.bars["close"]
    assert shown["equity"]["cash"].to_numpy() == pytest.approx(cash.to_numpy(), rel=1e-9, abs=1e-6)
    with pytest.raises(StoreError, match="run 999 is not stored"):
        show_run(999, store)


def test_saved_runs_rerun_to_the_same_numbers(store: Store, bt, portfolio, sweep) -> None:
    for result in (bt, portfolio, sweep):
        again, differences = rerun_run(save_run(result, store), store)
        assert differences == []
        assert type(again) is type(result)
    assert metrics_hash(again.metrics) == metrics_hash(sweep.metrics)


def test_nan_and_infinite_metrics_are_saved_as_null_and_reproduce(store: Store) -> None:
    bars = wb.load("SPY", start="2024-01-01", end="2024-02-15")
    flat = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=30), bars, fees=0.0)  # no trades: sharpe is NaN
    winner = wb.backtest(wb.strategy("sma_cross")(fast=2, slow=5), bars, fees=0.0)  # no losing trade: profit factor inf
    assert np.isnan(flat.metrics["sharpe"]) and np.isinf(winner.metrics["profit_factor"])
    for result, name in ((flat, "sharpe"), (winner, "profit_factor")):
        run_id = save_run(result, store)
        assert show_run(run_id, store)["metrics"][name] is None
        assert rerun_run(run_id, store)[1] == []


def test_a_tampered_metric_is_a_difference(store: Store, bt, sweep) -> None:
    run_id = save_run(bt, store)
    sharpe = float(bt.metrics["sharpe"])
    _tamper(store, run_id, sharpe=sharpe * (1 + 1e-13))  # within the tolerance
    assert rerun_run(run_id, store)[1] == []
    _tamper(store, run_id, sharpe=sharpe * (1 + 1e-9), trades=None)
    assert rerun_run(run_id, store)[1] == [
        f"sharpe: saved {sharpe * (1 + 1e-9)!r}, rerun {sharpe!r}",
        f"trades: saved None, rerun {float(bt.metrics['trades'])!r}",
    ]
    sweep_id = save_run(sweep, store)
    _tamper(store, sweep_id, metrics_hash="0" * 64)
    assert rerun_run(sweep_id, store)[1] == [f"metrics_hash: saved {'0' * 64!r}, rerun {metrics_hash(sweep.metrics)!r}"]


def test_changed_strategy_code_is_refused_unless_ignored(store: Store, bt) -> None:
    run_id = save_run(bt, store)
    with store.unit_of_work() as uow:
        row = uow.runs.get(run_id)
        row.config = {**row.config, "strategy_hash": "0" * 64}
    with pytest.raises(NotReproducible, match="source of strategy 'sma_cross' changed"):
        rerun_run(run_id, store)
    assert rerun_run(run_id, store, check_code=False)[1] == []


def test_bars_passed_in_memory_save_but_do_not_rerun(store: Store) -> None:
    result = wb.backtest("sma_cross", make_walk(300), fees=0.0)
    run_id = save_run(result, store)
    assert runs(store).loc[run_id, "data_source"] == "memory"
    assert show_run(run_id, store)["spec"]["origin"] is None
    with pytest.raises(NotReproducible, match="passed in memory"):
        rerun_run(run_id, store)


def test_runs_without_a_spec_do_not_rerun(store: Store) -> None:
    with store.unit_of_work() as uow:
        live = uow.runs.start("live", "sma_cross").id
    with pytest.raises(NotReproducible, match=f"Run {live} \\(live\\) has no run spec"):
        rerun_run(live, store)
    with pytest.raises(StoreError, match="run 999 is not stored"):
        rerun_run(999, store)


def test_a_backtest_is_saved_once_and_an_interrupted_sweep_not_at_all(store: Store, bt, sweep) -> None:
    run_id = save_run(bt, store)
    with pytest.raises(StoreError, match=f"already saved as run {run_id}"):
        save_run(bt, store)
    with pytest.raises(ValueError, match="interrupted after 25 runs"):
        save_run(dataclasses.replace(sweep, complete=False), store)
    assert list(runs(store).index) == [run_id]  # nothing half-written


def test_minute_bars_keep_one_equity_snapshot_per_day(store: Store) -> None:
    result = wb.backtest("sma_cross", wb.load("SPY_1min", end="2011-01-20"), fees=0.0)
    equity = show_run(save_run(result, store), store)["equity"]
    days = result.equity.index.normalize()
    assert len(result.equity) > 9_000 and len(equity) == days.nunique() < 20
    last_bars = result.equity.groupby(days).tail(1)
    pd.testing.assert_index_equal(equity.index, last_bars.index.as_unit("us"), check_names=False)
    assert equity["equity"].to_numpy() == pytest.approx(last_bars.to_numpy(), rel=1e-12)
    assert math.isclose(equity["equity"].iloc[-1], result.metrics["end_value"], rel_tol=1e-12)


def test_the_configured_database_is_the_default(tmp_path, monkeypatch, bt) -> None:
    monkeypatch.setenv("WORKBENCH_DB_URL", f"sqlite:///{tmp_path / 'default.db'}")
    run_id = save_run(bt)
    assert list(runs().index) == [run_id]
    assert show_run(run_id)["spec"] == bt.spec.to_dict()
    assert rerun_run(run_id)[1] == []
