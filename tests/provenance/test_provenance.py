"""Run specs: what a run was made of, enough to run it again and get the same numbers, or to say why not."""

from __future__ import annotations

import dataclasses
import json

import pytest

import workbench as wb
from workbench.ops.rerun import rerun
from workbench.provenance.spec import NotReproducible, RunSpec, bars_hash


def test_a_backtest_spec_names_every_input_and_survives_json() -> None:
    bars = wb.load("SPY", start="2015-01-01", end="2019-12-31")
    bt = wb.backtest(
        wb.strategy("sma_cross")(fast=12, slow=80), bars, fees=0.001, slippage=0.0002, risk={"stop_loss": 0.05}
    )
    spec = bt.spec
    assert (spec.kind, spec.strategy, spec.params, spec.symbols) == (
        "backtest",
        "sma_cross",
        {"fast": 12, "slow": 80},
        ["SPY"],
    )
    assert spec.origin == {
        "source": "sample",
        "path": None,
        "start": "2015-01-01T00:00:00+00:00",
        "end": "2019-12-31T23:59:59.999999999+00:00",
        "nan_policy": "raise",
    }
    assert spec.costs == {
        "cash": 10_000.0,
        "fees": 0.001,
        "slippage": 0.0002,
        "fill": "next_open",
        "fixed_fee": 0.0,
        "periods_per_year": None,
    }
    assert spec.risk == {"stop_loss": 0.05}
    assert len(spec.data_hash) == len(spec.strategy_hash) == 64 and spec.code_version
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_bars_hash_sees_a_single_changed_value() -> None:
    bars = wb.load("SPY", start="2020-01-01")
    changed = bars.copy()
    changed.iloc[100, changed.columns.get_loc("close")] += 0.01
    assert bars_hash({"SPY": bars}) == bars_hash({"spy": bars.copy()})
    assert bars_hash({"SPY": bars}) != bars_hash({"SPY": changed})


@pytest.mark.parametrize("risk", [None, {"stop_loss": 0.04, "allowed_symbols": ["SPY"], "max_drawdown": 0.3}])
def test_rerun_reproduces_backtests_and_portfolios(risk) -> None:
    single = wb.backtest("rsi_reversion", wb.load("SPY", start="2012-01-01"), fees=0.001, fill="close", risk=risk)
    again = rerun(json.loads(json.dumps(single.spec.to_dict())))
    assert again.metrics.equals(single.metrics)
    columns = ["timestamp", "symbol", "side", "qty", "price", "fee"]  # order and fill ids are new per run
    assert again.fills[columns].equals(single.fills[columns])
    portfolio = wb.backtest(
        "sma_cross", wb.load(["SPY", "QQQ"], start="2012-01-01"), weights={"SPY": 0.4, "QQQ": 0.6}, risk=risk
    )
    assert rerun(portfolio.spec).metrics.equals(portfolio.metrics)


def test_rerun_reproduces_a_sweep_with_a_function_constraint() -> None:
    bars = wb.load("SPY_1min", end="2011-01-25")
    res = wb.sweep(
        "sma_cross",
        bars,
        fast=range(5, 30, 5),
        slow=[60, 90, 120],
        constraint=lambda g: g.slow > 4 * g.fast,
        fees=0.0002,
        fill="close",
        progress=False,
    )
    assert res.spec.constraint == "<function>" and len(res.spec.params["rows"]) == len(res.metrics) < 15
    again = rerun(res.spec)
    assert again.metrics.equals(res.metrics)


def test_rerun_says_why_it_cannot_reproduce(tmp_path) -> None:
    in_memory = wb.load("SPY", start="2020-01-01").copy()
    in_memory.attrs.clear()
    with pytest.raises(NotReproducible, match=r"passed in memory, not made by wb\.load"):
        rerun(wb.backtest("sma_cross", in_memory).spec)

    folder = tmp_path / "bars"
    folder.mkdir()
    wb.load("QQQ", start="2020-01-01").to_csv(folder / "QQQ.csv")
    bt = wb.backtest("sma_cross", wb.load("QQQ", source="csv", path=folder))
    assert rerun(bt.spec).metrics.equals(bt.metrics)
    text = (folder / "QQQ.csv").read_text().splitlines()
    fields = text[50].split(",")
    fields[4] = str(float(fields[4]) * 1.01)  # edit one close
    text[50] = ",".join(fields)
    (folder / "QQQ.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(NotReproducible, match="bars of QQQ from csv changed since the run"):
        rerun(bt.spec)

    spec = dataclasses.replace(
        wb.backtest("sma_cross", wb.load("SPY", start="2020-01-01")).spec, strategy_hash="0" * 64
    )
    with pytest.raises(NotReproducible, match="source of strategy 'sma_cross' changed since the run"):
        rerun(spec)
    assert rerun(spec, check_code=False).metrics["trades"] > 0


def test_results_save_to_the_default_store_and_wb_runs_lists_them(monkeypatch, tmp_path) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("WORKBENCH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    bars = wb.load("SPY", start="2018-01-01")
    bt = wb.backtest("sma_cross", bars, fees=0.001)
    res = wb.sweep("sma_cross", bars, fast=[5, 10], slow=[50, 100], progress=False)
    ids = [bt.save(), res.save(name="grid")]
    assert (tmp_path / "workbench.db").is_file()  # created and migrated on first use
    table = wb.runs()
    assert list(table.index) == ids[::-1]  # newest first
    assert table.loc[ids[0], "kind"] == "backtest" and table.loc[ids[1], "kind"] == "sweep"
    assert table.loc[ids[0], "total_return"] == bt.metrics["total_return"]
