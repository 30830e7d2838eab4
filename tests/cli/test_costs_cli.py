"""Costs are never silent: the commands run with the settings' cost model unless a flag says otherwise, and every
header and table caption names the fees, slippage, fill model and the bars' dates, with where each value came from.
The notebook API takes the same defaults from the same settings."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import workbench as wb
from workbench.cli import main
from workbench.config import Settings, cost_defaults

SPY = wb.load("SPY", start="2020-01-01")
SPAN = f"SPY {SPY.index[0]:%Y-%m-%d} to {SPY.index[-1]:%Y-%m-%d}, {len(SPY):,} bars"
SWEEP = ["sweep", "sma_cross", "--start", "2020-01-01", "-p", "fast=5:15:5", "-p", "slow=30", "--top", "2"]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    for key in [k for k in os.environ if k.startswith("WORKBENCH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def _run(capsys, *argv: str) -> list[str]:
    assert main(list(argv)) == 0
    return capsys.readouterr().out.splitlines()


def _sharpe(lines: list[str]) -> dict[tuple[int, int], float]:
    """The printed sweep table's sharpe by (fast, slow)."""
    columns = lines[2].split()
    rows = [line.split() for line in lines[4:]]
    return {(int(r[0]), int(r[1])): float(r[2 + columns.index("sharpe")]) for r in rows}


def test_the_default_cost_model_is_a_nonzero_fee_from_the_settings() -> None:
    assert Settings.model_fields["fees"].default == 0.001
    assert cost_defaults() == (0.001, 0.0, "next_open")
    assert "half the bid-ask spread of a US equities retail fill" in Settings.model_fields["fees"].description


def test_a_sweep_names_its_default_costs_and_dates_and_runs_with_them(capsys) -> None:
    lines = _run(capsys, *SWEEP)
    assert lines[0] == (
        f"sma_cross on {SPAN}; fees 0.001 (default of setting fees), slippage 0 (default of setting slippage), "
        "fill next_open (default of setting fill); cash 10,000"
    )
    assert lines[1].endswith("best 2 by sharpe (fees 0.001, slippage 0, fill next_open):")
    expected = wb.sweep("sma_cross", SPY, fast=range(5, 15, 5), slow=30, fees=0.001, progress=False)
    assert _sharpe(lines) == {k: round(v, 4) for k, v in expected.metrics["sharpe"].items()}


def test_fees_zero_is_a_choice_the_output_states(capsys) -> None:
    lines = _run(capsys, *SWEEP, "--fees", "0", "--fill", "close", "--slippage", "0.0005")
    assert "fees 0 (set by --fees), slippage 0.0005 (set by --slippage), fill close (set by --fill)" in lines[0]
    assert lines[1].endswith("(fees 0, slippage 0.0005, fill close):")
    expected = wb.sweep(
        "sma_cross", SPY, fast=range(5, 15, 5), slow=30, fees=0, slippage=0.0005, fill="close", progress=False
    )
    assert _sharpe(lines) == {k: round(v, 4) for k, v in expected.metrics["sharpe"].items()}


def test_the_environment_overrides_the_default_and_the_header_says_so(capsys, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_FEES", "0.002")
    monkeypatch.setenv("WORKBENCH_FILL", "close")
    lines = _run(capsys, *SWEEP)
    assert "fees 0.002 (setting fees from WORKBENCH_FEES)" in lines[0]
    assert "fill close (setting fill from WORKBENCH_FILL)" in lines[0]
    expected = wb.sweep("sma_cross", SPY, fast=range(5, 15, 5), slow=30, fees=0.002, fill="close", progress=False)
    assert _sharpe(lines) == {k: round(v, 4) for k, v in expected.metrics["sharpe"].items()}


def test_a_workbench_toml_and_set_are_named_as_the_source(capsys, tmp_path) -> None:
    (tmp_path / "workbench.toml").write_text("slippage = 0.0001\n")
    lines = _run(capsys, "--set", "fees=0.003", *SWEEP)
    assert "fees 0.003 (setting fees from --set), slippage 0.0001 (setting slippage from workbench.toml)" in lines[0]


def test_a_backtest_names_its_costs_in_the_header_and_the_metrics_caption(capsys) -> None:
    lines = _run(capsys, "backtest", "sma_cross", "--start", "2020-01-01", "--fees", "0", "--trades", "0")
    assert lines[0] == (
        f"sma_cross on {SPAN}; fees 0 (set by --fees), slippage 0 (default of setting slippage), "
        "fill next_open (default of setting fill); cash 10,000"
    )
    expected = wb.backtest("sma_cross", SPY, fees=0)
    assert lines[1] == repr(expected)
    assert "metrics (fees 0, slippage 0, fill next_open):" in lines


def test_the_notebook_api_takes_the_same_defaults_from_the_same_settings(monkeypatch) -> None:
    sweep = wb.sweep("sma_cross", SPY, fast=10, slow=30, progress=False)
    assert sweep.settings["costs"]["fees"] == 0.001
    explicit = wb.sweep("sma_cross", SPY, fast=10, slow=30, fees=0.001, progress=False)
    pd.testing.assert_frame_equal(sweep.metrics, explicit.metrics)
    bt = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=30), SPY)
    assert bt.fees == 0.001 and bt.metrics["end_value"] == explicit.metrics["end_value"].iloc[0]
    monkeypatch.setenv("WORKBENCH_FEES", "0")
    free = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=30), SPY)
    assert free.fees == 0 and free.metrics["end_value"] > bt.metrics["end_value"]


def test_a_paper_run_names_its_costs_first(capsys) -> None:
    args = ["paper", "sma_cross", "-p", "fast=5", "-p", "slow=20", "--start", "2023-01-03", "--end", "2023-02-28"]
    lines = _run(capsys, *args, "--slippage", "0.0002")
    assert lines[0] == (
        "sma_cross on SPY via sim; fees 0.001 (default of setting fees), slippage 0.0002 (set by --slippage), "
        "fill next_open (default of setting fill); cash 10,000"
    )
    assert lines[-1].endswith("recorded as run 1")
