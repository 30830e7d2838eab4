"""Notebooks as jobs: one run executed and recorded, schedules that never overlap, survive failures and
killed holders, and respect market hours."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from workbench.cli import main
from workbench.schedule.lock import RunLock
from workbench.schedule.notebook_run import NotebookError, run_notebook
from workbench.schedule.scheduler import NotebookSchedule, parse_every
from workbench.store import Store

WORK = """
import time
from pathlib import Path
counter = Path("count")
n = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(n + 1))
time.sleep(sleep)
assert not fail and not (fail_first and n == 0), "asked to fail"
print(f"run {n} of {symbol}")
"""


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('symbol = "SPY"\nfail = False\nfail_first = False\nsleep = 0.0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(WORK)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "job.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def store(tmp_path: Path):
    opened = Store.open(f"sqlite:///{tmp_path / 'wb.db'}")
    yield opened
    opened.close()


def _stored_runs(store: Store) -> list:
    with store.unit_of_work(readonly=True) as uow:
        return sorted(uow.runs.find(kind="notebook"), key=lambda r: r.id)


def test_a_run_is_saved_with_its_html_and_recorded(notebook: Path, store: Store, tmp_path: Path) -> None:
    run = run_notebook(notebook, {"symbol": "QQQ"}, out_dir=tmp_path / "runs", store=store)
    assert run.status == "finished" and run.error is None
    assert run.output.parent == tmp_path / "runs" / "job" and run.output.is_file()
    assert "run 0 of QQQ" in run.output.read_text()
    assert run.html is not None and "run 0 of QQQ" in run.html.read_text()
    (row,) = _stored_runs(store)
    assert (row.id, row.strategy, row.status, row.params) == (run.run_id, "job", "finished", {"symbol": "QQQ"})
    assert row.metrics["duration_s"] > 0 and row.config["output"] == str(run.output.resolve())


def test_a_failing_run_is_recorded_with_its_error_and_keeps_its_output(
    notebook: Path, store: Store, tmp_path: Path
) -> None:
    run = run_notebook(notebook, {"fail": True}, out_dir=tmp_path / "runs", store=store)
    assert run.status == "failed" and "AssertionError: asked to fail" in run.error
    assert run.output.is_file() and run.html.is_file()  # the partial output shows where it broke
    (row,) = _stored_runs(store)
    assert row.status == "failed" and "asked to fail" in row.error


def test_bad_parameters_fail_before_a_kernel_starts(notebook: Path, tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match=r"job.ipynb has no parameter colour; it takes symbol, fail"):
        run_notebook(notebook, {"colour": "red"}, out_dir=tmp_path / "runs")
    with pytest.raises(NotebookError, match="does not exist"):
        run_notebook(tmp_path / "missing.ipynb", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(ValueError, match="expected a positive number and a unit"):
        parse_every("5 minutes")
    assert parse_every("2h").total_seconds() == 7200


def test_two_overlapping_triggers_give_one_run(notebook: Path, store: Store, tmp_path: Path) -> None:
    schedule = NotebookSchedule(notebook, "1m", parameters={"sleep": 2.0}, store=store, out_dir=tmp_path / "runs")
    results = []
    threads = [threading.Thread(target=lambda: results.append(schedule.trigger())) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.3)
    for thread in threads:
        thread.join()
    assert sorted(r is None for r in results) == [False, True] and schedule.skipped == 1
    assert len(_stored_runs(store)) == 1


def test_a_failed_run_is_notified_and_the_schedule_goes_on(notebook: Path, store: Store, tmp_path: Path) -> None:
    notified = []
    schedule = NotebookSchedule(
        notebook,
        "1s",
        parameters={"fail_first": True},
        store=store,
        out_dir=tmp_path / "runs",
        notify=notified.append,  # the CLI passes the notification dispatcher's notify here
    )
    schedule.start(max_runs=2)
    assert [r.status for r in schedule.runs] == ["failed", "finished"]
    assert [r.status for r in _stored_runs(store)] == ["failed", "finished"]
    assert notified == [schedule.runs[0]]


def test_a_lock_left_by_a_killed_run_is_taken_over(notebook: Path, tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from workbench.schedule.lock import RunLock\n"
            f"with RunLock('job', {str(locks)!r}).hold() as held:\n"
            "    print(held, flush=True)\n"
            "    time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert holder.stdout.readline().strip() == "True"
    with RunLock("job", locks).hold() as held:
        assert not held  # a live holder keeps it
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    schedule = NotebookSchedule(notebook, "1m", out_dir=tmp_path / "runs", lock_dir=locks)
    run = schedule.trigger()
    assert run is not None and run.status == "finished" and schedule.skipped == 0


def test_market_hours_come_from_the_exchange_calendar(notebook: Path, tmp_path: Path) -> None:
    saturday = datetime(2024, 7, 6, 15, 0, tzinfo=UTC)
    holiday = datetime(2024, 7, 4, 15, 0, tzinfo=UTC)  # Independence Day
    monday = datetime(2024, 7, 8, 15, 0, tzinfo=UTC)  # 11:00 in New York
    moments = iter([saturday, holiday, monday])
    schedule = NotebookSchedule(notebook, "5m", market_hours=True, out_dir=tmp_path / "runs", now=lambda: next(moments))
    assert schedule.trigger() is None and schedule.trigger() is None and schedule.skipped == 2
    assert schedule.trigger().status == "finished"
    with pytest.raises(ValueError, match="calendar 'NOPE' is not an exchange calendar code"):
        NotebookSchedule(notebook, "5m", market_hours=True, calendar="NOPE")


def test_run_command_takes_papermill_style_parameters(notebook: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "runs"
    args = ["run", str(notebook), "-p", "symbol", "IWM", "-p", "sleep", "0.1", "--out-dir", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("finished in ") and printed.rstrip().endswith("(run 1)")
    (output,) = (out / "job").glob("*.ipynb")
    assert "run 0 of IWM" in output.read_text()
    assert json.loads(nbformat.read(output, as_version=4).cells[1].source.splitlines()[-1].split("= ", 1)[1]) == 0.1
    assert main(["run", str(notebook), "-p", "fail", "true", "--out-dir", str(out)]) == 1
    assert "asked to fail" in capsys.readouterr().err
    assert main(["run", str(notebook), "-p", "symbol"]) == 1
    assert "notebook parameters are -p NAME VALUE" in capsys.readouterr().err
