"""`workbench backtest` prints the run and its metrics; a range where one value is needed is refused."""

from __future__ import annotations

import pytest

import workbench as wb
from workbench.cli import main


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    for key in [k for k in __import__("os").environ if k.startswith("WORKBENCH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def test_backtest_command_matches_the_library(capsys) -> None:
    code = main(["backtest", "sma_cross", "-p", "fast=12", "-p", "slow=80", "--fees", "0.001", "--start", "2010-01-01"])
    out = capsys.readouterr().out
    expected = wb.backtest(wb.strategy("sma_cross")(fast=12, slow=80), wb.load("SPY", start="2010-01-01"), fees=0.001)
    assert code == 0
    assert out.startswith(repr(expected))
    assert f"{expected.metrics['end_value']:.4f}" in out
    assert f"of {len(expected.trades)} trades:" in out


def test_backtest_command_refuses_a_range(capsys) -> None:
    assert main(["backtest", "sma_cross", "-p", "fast=5:10"]) == 1
    assert "a backtest takes one value per parameter" in capsys.readouterr().err
