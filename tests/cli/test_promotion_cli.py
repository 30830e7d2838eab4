"""The commands: `workbench promote` / `promotions`, the promotion guard of `workbench live` (refusal, a promoted
configuration on Alpaca paper against the loopback fake, an audited override) and `workbench drift`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.store import Store

pytest_plugins = ["cli_fixtures"]
pytestmark = pytest.mark.usefixtures("cli_home")
SWEEP = ["sweep", "sma_cross", "--symbols", "SPY", "-p", "fast=5:30:5", "-p", "slow=40:120:20", "--fees", "0", "--save"]
BEST = ["sma_cross", "-p", "fast=10", "-p", "slow=100", "--symbols", "SPY"]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")


def test_promote_runs_the_gates_and_promotions_lists_them(capsys, tmp_path: Path) -> None:
    assert cli(capsys, *SWEEP, "--start", "2005-01-01")[1].rstrip().endswith("saved as run 1")
    assert cli(capsys, *SWEEP, "--start", "2015-01-01")[1].rstrip().endswith("saved as run 2")

    code, out, _ = cli(capsys, "promote", *BEST, "--sweep", "1", "--to", "paper")
    failed, refused, _ = cli(capsys, "promote", *BEST, "--sweep", "2", "--to", "paper")
    listed = cli(capsys, "promotions")[1]

    lines = out.splitlines()
    assert code == 0 and lines[0] == "promotion #1: sma_cross fast=10 slow=100 on SPY to paper"
    assert lines[1] == "  ok   sweep: one of the 20 parameter sets of sweep 1, which reruns alike"
    assert lines[2].startswith("  ok   parity: backtest equals the sweep: SPY ")
    assert lines[4].startswith("  ok   overfitting: SPY: inconclusive: PBO 0.25") and lines[5] == "passed"
    assert failed == 1 and "  FAIL overfitting: SPY: likely overfit: PBO 0.70 > 0.5" in refused
    assert refused.rstrip().endswith("or promote anyway with --override-reason TEXT (audited)")
    rows = listed.splitlines()
    assert rows[0].split() == [
        "id",
        "time",
        "strategy",
        "params",
        "symbols",
        "stage",
        "status",
        "gates",
        "sweep",
        "actor",
        "reason",
    ]
    assert rows[2].split()[0] == "2" and " failed " in rows[2] and " 2 " in rows[2]
    assert rows[3].split()[0] == "1" and " passed " in rows[3] and "overfitting:ok" in rows[3]


def test_live_on_alpaca_refuses_an_unpromoted_configuration_before_connecting(capsys) -> None:
    os.environ.update(WORKBENCH_ALPACA_API_KEY="key", WORKBENCH_ALPACA_SECRET_KEY="secret")  # nothing listens

    code, _, err = cli(capsys, "live", "--strategy", *BEST, "--broker", "alpaca-paper")

    assert code == 1
    assert err == (
        "error: sma_cross fast=10 slow=100 on SPY is not promoted to paper, which --broker alpaca-paper needs: no "
        "promotion of it is recorded (missing: the parity, look-ahead and overfitting gates). Run: workbench promote "
        "sma_cross -p fast=10 -p slow=100 --symbols SPY --sweep RUN_ID --to paper (or start anyway with "
        "--override-reason TEXT, which is audited)\n"
    )
    code, out, _ = cli(capsys, "live", "--strategy", *BEST, "--broker", "sim", "--start", "2026-01-02", "--once")
    assert code == 0 and "run 1: 1 bars" in out  # the local simulation needs no promotion


@pytest.mark.usefixtures("loopback_alpaca")
def test_a_promoted_configuration_trades_on_alpaca_paper_and_an_override_is_audited(capsys, tmp_path) -> None:
    cli(capsys, *SWEEP, "--start", "2005-01-01")
    assert cli(capsys, "promote", *BEST, "--sweep", "1", "--to", "paper")[0] == 0
    live = ["live", "--broker", "alpaca-paper", "--start", "2026-03-02", "--once", "--strategy"]

    promoted = cli(capsys, *live, *BEST)
    other = cli(
        capsys, *live, "sma_cross", "-p", "fast=5", "-p", "slow=40", "--run", "new", "--override-reason", "a drill"
    )

    assert promoted[0] == 0 and "run 2: 1 bars" in promoted[1] and "via alpaca-paper" in promoted[1]
    assert other[0] == 0 and "run 3: 1 bars" in other[1]
    with store(tmp_path).unit_of_work(readonly=True) as uow:
        [entry] = uow.audit.find(action="live.override")
        runs = uow.runs.find(kind="live")
    assert entry.actor.startswith("cli:") and entry.target == "strategy:sma_cross"
    assert entry.details["reason"] == "a drill" and entry.details["params"] == {"fast": 5, "slow": 40}
    assert [r.config["broker"] for r in runs] == ["alpaca-paper", "alpaca-paper"]


def test_drift_prints_the_table_and_writes_the_report(capsys, tmp_path: Path) -> None:
    cli(capsys, "live", "--strategy", "sma_cross", "-p", "fast=3", "-p", "slow=8", "--start", "2026-01-02")

    code, out, _ = cli(capsys, "drift", "latest", "--out", "drift.html")

    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("run 1: sma_cross fast=3 slow=8 on SPY via sim, ")
    components = {line.split()[0]: float(line.split()[1].replace(",", "")) for line in lines[2:11]}
    assert list(components) == ["slippage", "latency", "missed", "partial", "size", "fees", "data", "other", "total"]
    assert all(abs(value) < 0.005 for value in components.values())  # replayed data, simulated fills: no drift
    assert lines[-1] == "report: drift.html" and ">total<" in (tmp_path / "drift.html").read_text()
    assert cli(capsys, "drift", "7")[2] == "error: session=7: no run 7 is stored\n"
