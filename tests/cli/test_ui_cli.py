"""`workbench dashboard`: registered without loading Panel, and refusing what it must refuse before serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("WORKBENCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def test_the_command_line_loads_no_panel_until_the_dashboard_runs() -> None:
    code = "import json, sys; import workbench.cli; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [m for m in loaded if m.split(".")[0] in ("panel", "bokeh", "holoviews", "hvplot")]
    assert "workbench.cli.dashboard" in loaded and "workbench.ui.server" not in loaded


def test_help_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--poll", "--risk", "--reports", "--session-hours"):
        assert option in out


def test_no_address_beyond_loopback_before_a_user_exists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--host", "0.0.0.0", "--port", "0"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: refusing to serve the dashboard on 0.0.0.0: no user can log in yet. Add one with "
        "`workbench users add NAME --role trader`, or serve on 127.0.0.1"
    )


def test_a_missing_risk_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--risk", str(tmp_path / "nope.toml")]) == 1
    assert capsys.readouterr().err.strip() == f"error: risk file {tmp_path / 'nope.toml'} does not exist"
