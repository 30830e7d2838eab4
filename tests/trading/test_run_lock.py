"""One process per run (workbench.trading.run_lock), with real processes on SQLite and PostgreSQL: a second session
on a run that is traded is refused with one line naming the holder; a killed holder does not keep the run; a holder
on another host keeps it until its lease expires; a session that loses its lease stops; and a run killed before its
first recorded bar resumes from its recorded start."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench.store import Store
from workbench.store.models_runs import RunState, state_of
from workbench.trading.run_lock import RunLease, RunLocked

pytest_plugins = ["store_fixtures"]

HOLDER = Path(__file__).parents[1] / "run_holder.py"


class Process:
    """``tests/run_holder.py`` in a process of its own, its ``@`` lines read on a thread (a wait can time out)."""

    def __init__(self, *args: str) -> None:
        root = str(HOLDER.parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen(
            [sys.executable, str(HOLDER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith("@"):
                self.lines.put(line[1:].strip())

    def expect(self, word: str, timeout: float = 120.0) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            raise AssertionError(f"no @{word} line: {self.process.stderr.read()}") from None
        assert line.split()[0] == word, line
        return line.partition(" ")[2]

    def kill(self) -> None:
        """SIGKILL, and reap it (the shell that started a session would)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self) -> int:
        self.process.stdin.close()
        return self.process.wait(timeout=60)


def _live_run(store: Store) -> int:
    with store.unit_of_work() as uow:
        return uow.runs.start("live", "sma_cross", config={"symbol": "SPY", "broker": "sim", "cash": 1.0}).id


def test_a_second_process_is_refused_naming_the_first_until_the_first_is_killed(db_url: str, store: Store) -> None:
    run_id = _live_run(store)
    first = Process("lease", db_url, str(run_id))
    first_pid = int(first.expect("held"))

    second = Process("lease", db_url, str(run_id))
    refusal = second.expect("refused")
    assert second.process.wait(timeout=60) == 3
    host = socket.gethostname()
    assert refusal.startswith(f"run {run_id} is being traded by pid {first_pid} on {host} since 20")
    assert "\n" not in refusal and "UTC (last heartbeat" in refusal

    first.kill()  # no release: its row still says running, under a heartbeat that stopped
    with store.unit_of_work(readonly=True) as uow:
        assert uow.run_states.get(run_id).state == "running"
    third = Process("lease", db_url, str(run_id))
    third_pid = int(third.expect("held"))  # at once: the holder's process on this host is gone
    with store.unit_of_work(readonly=True) as uow:
        row = uow.run_states.get(run_id)
        assert (row.state, row.pid, row.host) == ("running", third_pid, host)
    assert third.finish() == 0
    with store.unit_of_work(readonly=True) as uow:
        row = uow.run_states.get(run_id)
        assert (row.state, row.ended_at is not None) == ("stopped", True)


def test_a_holder_on_another_host_keeps_the_run_until_its_lease_expires(store: Store) -> None:
    run_id = _live_run(store)
    now = datetime.now(UTC)
    with store.unit_of_work() as uow:  # a session elsewhere, beating a moment ago
        uow.run_states.take(run_id, host="elsewhere", pid=1, token="t", now=now, expires_at=now + timedelta(hours=1))
    with pytest.raises(RunLocked, match=rf"^run {run_id} is being traded by pid 1 on elsewhere since "):
        RunLease.acquire(store, run_id)
    with store.unit_of_work() as uow:  # it stopped beating long ago: the run reads crashed, and can be taken
        uow.run_states.take(run_id, host="elsewhere", pid=1, token="t", now=now, expires_at=now - timedelta(seconds=1))
    with store.unit_of_work(readonly=True) as uow:
        assert state_of(uow.run_states.get(run_id), datetime.now(UTC)) is RunState.CRASHED
    lease = RunLease.acquire(store, run_id)
    with store.unit_of_work(readonly=True) as uow:
        row = uow.run_states.get(run_id)
        assert (row.host, row.pid, row.token) == (socket.gethostname(), os.getpid(), lease.token)
    assert lease.release("finished") and not lease.release("finished")  # ended once


def test_only_a_stored_live_run_can_be_taken(store: Store) -> None:
    with store.unit_of_work() as uow:
        backtest = uow.runs.start("backtest", "sma_cross").id
    for run_id in (backtest, backtest + 1):
        with pytest.raises(ValueError, match=f"^run {run_id} is not a stored live run$"):
            RunLease.acquire(store, run_id)
    with store.unit_of_work(readonly=True) as uow:
        assert uow.run_states.of_runs([backtest, backtest + 1]) == {}


def test_one_process_cannot_open_a_run_twice(store: Store) -> None:
    run_id = _live_run(store)
    lease = RunLease.acquire(store, run_id)
    with pytest.raises(RunLocked, match=f"by pid {os.getpid()} on "):
        RunLease.acquire(store, run_id)
    lease.release("stopped")
    RunLease.acquire(store, run_id).release("stopped")  # once ended, the run is free


def test_a_session_that_loses_its_lease_is_told_and_writes_no_end(store: Store) -> None:
    run_id = _live_run(store)
    lease = RunLease.acquire(store, run_id, ttl=0.4)
    told = threading.Event()
    lease.on_lost = lambda why: told.set()
    now = datetime.now(UTC)
    with store.unit_of_work() as uow:  # another session took the run over while this one stalled
        uow.run_states.take(run_id, host="other", pid=2, token="theirs", now=now, expires_at=now + timedelta(hours=1))
    assert told.wait(timeout=30)
    assert lease.lost.startswith("another session took the run over")
    assert not lease.release("stopped")
    with store.unit_of_work(readonly=True) as uow:
        row = uow.run_states.get(run_id)
        assert (row.state, row.token) == ("running", "theirs")


def test_a_run_killed_before_its_first_bar_resumes_from_its_start(tmp_path: Path, monkeypatch) -> None:
    """It used to resume as finished: its history was every bar, so no bar was left to trade, and it exited 0."""
    from typer.testing import CliRunner

    from workbench.cli import app

    for name in [n for n in os.environ if n.startswith("WORKBENCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    db_url = f"sqlite:///{tmp_path / 'workbench.db'}"
    opened = Process("open", db_url, "2024-01-02")
    run_id = int(opened.expect("opened"))
    opened.kill()  # before its first recorded bar

    args = ["live", "--strategy", "sma_cross", "-p", "fast=5", "-p", "slow=20", "--symbols", "SPY", "--once"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith(f"run {run_id}: 1 bars")
    with Store.open(db_url) as store, store.unit_of_work(readonly=True) as uow:
        (mark,) = uow.equity.series(run_id)
        assert mark.timestamp == datetime(2024, 1, 2, tzinfo=UTC)  # the recorded start, not the data's end
        assert uow.runs.get(run_id).config["start"] == "2024-01-02T00:00:00+00:00"
        assert uow.run_states.get(run_id).state == "finished"


def test_two_starts_racing_for_the_latest_run_make_one_run_and_one_refusal(store: Store, monkeypatch) -> None:
    """Two `run="latest"` starts that both found no run each record one: the first recorded is the run, the other
    is stopped as superseded (never picked as the latest) and its session refused, naming the first's holder."""
    import workbench.trading.live as live_module
    from workbench.brokers.sim import SimBroker
    from workbench.clock import SimClock
    from workbench.trading.live import LiveSession, latest_run

    clock = SimClock(datetime(2024, 1, 2, tzinfo=UTC))
    params = {"fast": 2, "slow": 5}
    first = LiveSession.open(store, "sma_cross", "SPY", SimBroker(clock), clock=clock, params=params, notify=False)
    monkeypatch.setattr(live_module, "latest_run", lambda *args, **kwargs: None)  # it looked before run 1 existed
    with pytest.raises(RunLocked, match=rf"run {first.run_id} is being traded by pid {os.getpid()} on "):
        LiveSession.open(store, "sma_cross", "SPY", SimBroker(clock), clock=clock, params=params, notify=False)
    monkeypatch.undo()
    with store.unit_of_work(readonly=True) as uow:
        (twin,) = [r for r in uow.runs.find(kind="live", limit=None) if r.id != first.run_id]
        state = uow.run_states.get(twin.id)
    assert (state.state, state.reason) == ("stopped", f"superseded by run {first.run_id}, started at the same time "
                                           "by another session")  # fmt: skip
    assert latest_run(store, "sma_cross", "SPY", "sim", params) == first.run_id
    first.shutdown()
    again = LiveSession.open(store, "sma_cross", "SPY", SimBroker(clock), clock=clock, params=params, notify=False)
    assert again.run_id == first.run_id
    again.shutdown()
