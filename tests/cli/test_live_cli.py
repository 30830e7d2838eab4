"""The live commands of `workbench` (workbench.cli.trading, workbench.cli.strategies): live (sim and Alpaca paper
against the loopback fake), the strategy switches, the kill switch."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from alpaca_fake import TradingApi
from typer.testing import CliRunner

from workbench.cli import app
from workbench.errors import ConfigError
from workbench.monitor.server import MonitorServer
from workbench.store import Store
from workbench.store.journal import OrderJournal

pytest_plugins = ["cli_fixtures"]
pytestmark = pytest.mark.usefixtures("cli_home")

SMA = ["--strategy", "sma_cross", "-p", "fast=5", "-p", "slow=20", "--symbols", "SPY"]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")


def test_live_once_steps_a_local_paper_run_one_bar_at_a_time(tmp_path: Path) -> None:
    first = invoke("live", *SMA, "--start", "2026-01-02", "--once")
    second = invoke("live", *SMA, "--once")
    rest = invoke("live", *SMA)

    assert "sma_cross {'fast': 5, 'slow': 20} on SPY via sim; risk limits: none" in first
    assert first.splitlines()[-1].startswith("run 1: 1 bars") and second.splitlines()[-1].startswith("run 1: 1 bars")
    assert "run 1: " in rest and int(rest.splitlines()[-1].split()[2]) > 50  # the replay's remaining bars
    with store(tmp_path).unit_of_work(readonly=True) as uow:
        assert [r.id for r in uow.runs.find(kind="live")] == [1]
        assert len(uow.equity.series(1)) == int(rest.splitlines()[-1].split()[2]) + 2


def test_live_trades_several_symbols_in_one_account_and_serves_its_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scraped: list[tuple[str, dict]] = []
    close = MonitorServer.close

    def scrape_then_close(server: MonitorServer) -> None:  # what a scraper sees at the end of the session
        with urllib.request.urlopen(f"{server.url}/metrics") as metrics:
            text = metrics.read().decode()
        with urllib.request.urlopen(f"{server.url}/health") as health:
            scraped.append((text, json.loads(health.read())))
        close(server)

    monkeypatch.setattr(MonitorServer, "close", scrape_then_close)
    pair = ["--strategy", "sma_cross", "-p", "fast=5", "-p", "slow=20", "--symbols", "SPY,QQQ", "-w", "SPY=0.6"]
    pair += ["-w", "QQQ=0.4", "--metrics-port", "0"]

    def fills() -> int:
        with store(tmp_path).unit_of_work(readonly=True) as uow:
            return len(uow.fills.find(run_id=1))

    first = invoke("live", *pair, "--start", "2026-01-02", "--once")
    before = fills()
    rest = invoke("live", *pair)

    assert "sma_cross {'fast': 5, 'slow': 20} on SPY, QQQ (weights SPY 0.6, QQQ 0.4) via sim" in first
    assert "metrics at http://127.0.0.1:" in first
    assert first.splitlines()[-1].startswith("run 1: 2 bars") and rest.splitlines()[-1].startswith("run 1: 202 bars")
    with store(tmp_path).unit_of_work(readonly=True) as uow:
        (run,) = uow.runs.find(kind="live")
        orders = uow.orders.find(run_id=run.id)
        positions = uow.positions.current(run.id, include_flat=True)
    assert (run.config["symbols"], run.config["weights"]) == (["SPY", "QQQ"], {"SPY": 0.6, "QQQ": 0.4})
    assert {o.symbol for o in orders} == {"SPY", "QQQ"} and set(positions) == {"SPY", "QQQ"}
    text, health = scraped[-1]
    assert 'workbench_bars_processed_total{symbol="SPY"} 101.0' in text  # the second run's bars
    assert 'workbench_bars_processed_total{symbol="QQQ"} 101.0' in text
    assert f'workbench_order_events_total{{kind="fill"}} {float(fills() - before)}' in text and fills() > before
    assert health["status"] == "ok" and set(health["checks"]) == {"database", "broker"}


def test_switches_and_the_kill_switch_act_on_the_stores_flags(tmp_path: Path) -> None:
    invoke("live", *SMA, "--start", "2025-06-02")
    assert invoke("strategies", "disable", "sma_cross") == "sma_cross: disabled\n"
    assert "sma_cross  no       paper  -" in invoke("strategies", "switches")
    invoke("strategies", "enable", "sma_cross")
    assert invoke("halt", "--reason", "drill") == "halted: sma_cross\n"
    assert "HALTED: drill (cli:" in invoke("strategies", "switches")

    after = invoke("live", *SMA, "--once")

    assert "positions none, HALTED: drill (cli:" in after.splitlines()[-1]  # a halted start says why
    assert invoke("resume") == "resumed: sma_cross\n"
    with store(tmp_path).unit_of_work(readonly=True) as uow:
        actions = [a.action for a in uow.audit.find()]
    assert actions[:3] == ["trading.resume", "live.stop", "trading.halt"]  # newest first
    assert {"strategy.disable", "strategy.enable"} <= set(actions)


def test_live_on_alpaca_paper_against_the_fake(
    loopback_alpaca: TradingApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trading = loopback_alpaca
    monkeypatch.setenv("WORKBENCH_BROKER", "alpaca-paper")
    out = invoke("live", *SMA, "--start", "2026-03-02", "--override-reason", "the loopback fake, not Alpaca")

    state = OrderJournal.resume(store(tmp_path), 1).restore()
    assert "via alpaca-paper" in out and trading.orders
    assert state.cash == pytest.approx(trading.cash)
    assert {s: p.qty for s, p in state.positions.items()} == {s: q for s, (q, _) in trading.positions.items()}


def test_bad_requests_are_refused_before_trading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="real money"):
        CliRunner().invoke(
            app,
            ["--set", "alpaca_api_key=k", "--set", "alpaca_secret_key=s", "live", *SMA, "--broker", "alpaca-live"],
            catch_exceptions=False,
        )
    with pytest.raises(ConfigError, match=r"--symbols SPY,SPY: expected one or more symbols, each once"):
        CliRunner().invoke(app, ["live", *SMA, "--symbols", "spy"], catch_exceptions=False)
    with pytest.raises(ConfigError, match=r"--weight 'SPY=2': expected SYMBOL=FRACTION with a fraction in \[0, 1\]"):
        CliRunner().invoke(app, ["live", *SMA, "--weight", "SPY=2"], catch_exceptions=False)
    with pytest.raises(ConfigError, match=r"--weight: weights must name exactly the symbols \['SPY', 'QQQ'\]"):
        CliRunner().invoke(app, ["live", *SMA, "--symbols", "QQQ", "-w", "SPY=0.5"], catch_exceptions=False)
    invoke("live", *SMA, "--start", "2026-05-20", "--once")
    with pytest.raises(ValueError, match="run 1 traded SPY via sim, not QQQ via sim"):
        CliRunner().invoke(
            app, ["live", "--strategy", "sma_cross", "--symbols", "QQQ", "--run", "1"], catch_exceptions=False
        )


def test_a_fast_replay_on_alpaca_keeps_to_the_request_budget(
    loopback_alpaca: TradingApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay as fast as the fake answers: no minute holds more requests than Alpaca allows (200; the budget keeps
    to 180), and the account and positions are read once a second at most, plus again after each order's events (it
    used to read the account about 4 times a bar and the positions twice: 680 requests a minute)."""
    trading = loopback_alpaca
    monkeypatch.setenv("WORKBENCH_BROKER", "alpaca-paper")
    out = invoke("live", *SMA, "--start", "2025-08-01", "--override-reason", "the loopback fake, not Alpaca")

    bars = int(out.splitlines()[-1].split()[2])
    requests = trading.server.requests
    times = [r.at for r in requests]
    busiest = max(sum(1 for t in times if start <= t < start + 60.0) for start in times)
    elapsed = times[-1] - times[0]
    reads = {path: sum(1 for r in requests if r.path == path) for path in ("/v2/account", "/v2/positions")}
    orders = len(trading.orders)
    assert bars > 100 and orders > 5
    assert busiest <= 200  # Alpaca's limit (the budget's 180 counts starts at the client: arrivals may bunch)
    assert reads["/v2/account"] <= 2 * orders + elapsed + 2, (reads, orders, elapsed)
    assert reads["/v2/positions"] <= 2 * orders + elapsed + 2, (reads, orders, elapsed)


def test_live_prints_a_status_line_while_it_runs(tmp_path: Path) -> None:
    """It used to print nothing for minutes: now bars, orders, fills, equity (and on live data the lag) every few
    seconds."""
    out = invoke("live", *SMA, "--start", "2026-03-02", "--pace", "0.05", "--status-every", "0.2")

    lines = [line for line in out.splitlines() if line.startswith("status: ")]
    assert lines, out
    assert re.fullmatch(
        r"status: \d+ bars, \d+ orders, \d+ fills, (no bar yet|equity [\d,]+\.\d\d at [\d-]+ [\d:]+)", lines[-1]
    )
    bars = [int(line.split()[1]) for line in lines]
    assert bars == sorted(bars) and bars[-1] > 0


def test_the_summary_lists_only_the_runs_symbols(
    loopback_alpaca: TradingApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account holds QQQ, which another run trades: this run's summary listed it as its own."""
    trading = loopback_alpaca
    trading.positions["QQQ"] = (5.0, 400.0)
    trading.quote("QQQ", 400.0)
    monkeypatch.setenv("WORKBENCH_BROKER", "alpaca-paper")

    out = invoke("live", *SMA, "--start", "2026-03-02", "--override-reason", "the loopback fake, not Alpaca")

    last = out.splitlines()[-1]
    assert last.startswith("run 1: ") and "QQQ" not in last and "'SPY'" in last
