"""`workbench live` started twice on one run, as two real processes against the loopback Alpaca, on SQLite and
PostgreSQL: the second is refused before it connects to the broker, with one line naming the first; the first,
stopped with SIGTERM, leaves its run ``stopped``, and ``workbench runs list`` says so with the run's symbols.

(Issue #15: the second process used to trade the run too, doubling the position and sending duplicate orders.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alpaca_fake import LoopbackServer, TradingApi

from workbench.store import Store

pytest_plugins = ["store_fixtures"]

ROOT = Path(__file__).parents[2]
LIVE = ["live", "--strategy", "sma_cross", "-p", "fast=5", "-p", "slow=20", "--symbols", "SPY"]
LIVE += ["--override-reason", "the loopback fake, not Alpaca", "--status-every", "0"]


@pytest.fixture
def trading() -> Iterator[TradingApi]:
    with LoopbackServer() as server:
        api = TradingApi(server, cash=10_000.0)
        api.quote("SPY", 500.0)
        yield api


def _env(tmp_path: Path, db_url: str, server: LoopbackServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    return env | {
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "WORKBENCH_HOME": str(tmp_path),
        "WORKBENCH_DB_URL": db_url,
        "WORKBENCH_BROKER": "alpaca-paper",
        "WORKBENCH_ALPACA_API_KEY": server.api_key,
        "WORKBENCH_ALPACA_SECRET_KEY": server.secret_key,
        "WORKBENCH_ALPACA_BASE_URL": server.rest_url,
        "WORKBENCH_ALPACA_STREAM_URL": server.ws_url("/stream"),
    }


def _workbench(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    code = "import sys; from workbench.cli import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(check, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


def test_a_second_live_process_is_refused_before_it_connects(
    db_url: str, store: Store, trading: TradingApi, tmp_path: Path
) -> None:
    env = _env(tmp_path, db_url, trading.server)
    first = _workbench(env, tmp_path, *LIVE, "--start", "2026-01-02", "--pace", "60")

    def trading_now() -> bool:
        assert first.poll() is None, first.communicate()
        with store.unit_of_work(readonly=True) as uow:
            state = uow.run_states.get(1)
            return state is not None and state.state == "running" and uow.equity.latest(1) is not None

    _wait_for(trading_now, "first bar of the first session")
    assert trading.connections == 1

    second = _workbench(env, tmp_path, *LIVE)
    out, err = second.communicate(timeout=120)

    assert second.returncode == 1, (out, err)
    (line,) = err.strip().splitlines()
    host = socket.gethostname()
    assert line.startswith(f"error: run 1 is being traded by pid {first.pid} on {host} since 20"), line
    assert trading.connections == 1  # the second never logged in to the broker's stream
    with store.unit_of_work(readonly=True) as uow:
        assert [r.id for r in uow.runs.find(kind="live")] == [1]
        assert uow.run_states.get(1).pid == first.pid

    first.send_signal(signal.SIGTERM)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert out.splitlines()[-1].startswith("run 1: 1 bars")
    with store.unit_of_work(readonly=True) as uow:
        state = uow.run_states.get(1)
        assert (state.state, state.reason, state.ended_at is not None) == ("stopped", None, True)

    listed = _workbench(env, tmp_path, "runs", "list")
    out, err = listed.communicate(timeout=120)
    assert listed.returncode == 0, err
    header, _, row = out.splitlines()
    assert header.split()[:8] == ["id", "kind", "strategy", "name", "params", "symbols", "started", "status"]
    cells = row.split()
    assert cells[:3] == ["1", "live", "sma_cross"] and "SPY" in cells and "stopped" in cells
