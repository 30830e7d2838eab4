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
    assert out.splitlines()[1] == repr(expected)
    assert f"{expected.metrics['end_value']:.4f}" in out
    assert f"of {len(expected.trades)} trades:" in out


def test_backtest_command_refuses_a_range(capsys) -> None:
    assert main(["backtest", "sma_cross", "-p", "fast=5:10"]) == 1
    assert "a backtest takes one value per parameter" in capsys.readouterr().err


def test_backtest_command_runs_a_portfolio_under_a_risk_file(capsys, tmp_path) -> None:
    risk = tmp_path / "risk.toml"
    risk.write_text('allowed_symbols = ["SPY"]\nstop_loss = 0.05\nmax_drawdown = 0.2\n')
    code = main(["backtest", "sma_cross", "--symbols", "SPY,QQQ", "--start", "2000-01-01", "--risk", str(risk)])
    out = capsys.readouterr().out
    expected = wb.backtest(
        "sma_cross",
        wb.load(["SPY", "QQQ"], start="2000-01-01"),
        risk={"allowed_symbols": ["SPY"], "stop_loss": 0.05, "max_drawdown": 0.2},
    )
    assert code == 0
    assert out.splitlines()[1] == repr(expected)
    assert "risk deny allowed_symbols QQQ" in out and "risk halt max_drawdown SPY" in out
    assert "alert breach drawdown" in out


def test_backtest_command_names_a_bad_risk_file(capsys, tmp_path) -> None:
    risk = tmp_path / "risk.toml"
    risk.write_text('trading_hours = "9-16"\n')
    assert main(["backtest", "sma_cross", "--risk", str(risk)]) == 1
    assert "trading_hours='9-16': must look like '09:30-16:00'" in capsys.readouterr().err


def test_paper_command_records_and_resumes_where_an_uninterrupted_run_ends(capsys) -> None:
    args = ["paper", "sma_cross", "-p", "fast=5", "-p", "slow=20", "--start", "2023-01-03"]
    assert main([*args, "--end", "2024-12-31"]) == 0
    whole = capsys.readouterr().out
    assert main([*args, "--end", "2023-12-31"]) == 0
    first = capsys.readouterr().out
    assert main([*args, "--end", "2024-12-31", "--resume", "2"]) == 0
    second = capsys.readouterr().out
    fills = [line for line in whole.splitlines() if line[:2] == "20"]
    assert len(fills) > 10 and len(fills) == sum(line[:2] == "20" for line in (first + second).splitlines())
    assert whole.split("equity ")[1].split(";")[0] == second.split("equity ")[1].split(";")[0]
    assert whole.rstrip().endswith("recorded as run 1") and second.rstrip().endswith("recorded as run 2")


def test_backtest_and_sweep_commands_save_runs(capsys) -> None:
    assert main(["backtest", "sma_cross", "--start", "2020-01-01", "--save"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("saved as run 1")
    assert main(["sweep", "sma_cross", "--start", "2020-01-01", "-p", "fast=5:20:5", "-p", "slow=50", "--save"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("saved as run 2")
    assert main(["runs", "rerun", "1"]) == 0 and main(["runs", "rerun", "2"]) == 0
    assert capsys.readouterr().out.count("reproduced") == 2
