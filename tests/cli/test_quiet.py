"""Quiet by default: no third-party warnings, bookkeeping lines or closed-tab tracebacks on the console; ``--verbose``
brings them back."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

import workbench
from workbench.logs import configure_logging


@pytest.fixture
def console():
    """The console of `configure_logging` as a buffer; the logging setup is restored afterwards."""
    root, handlers, level = logging.getLogger(), logging.getLogger().handlers[:], logging.getLogger().level
    buffer = io.StringIO()
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def _closed_tab() -> tuple:
    class WebSocketClosedError(Exception):  # the name is what tornado's is
        pass

    try:
        raise WebSocketClosedError()
    except WebSocketClosedError:
        return sys.exc_info()


def _make_noise() -> None:
    warnings.warn_explicit(
        "Your element with mimetype(s) dict_keys([]) is not able to be represented.",
        UserWarning,
        "/venv/share/jupyter/nbconvert/templates/base/display_priority.j2",
        32,
    )
    warnings.warn_explicit("a workbench warning", UserWarning, str(Path(workbench.__file__).parent / "x.py"), 1)
    logging.getLogger("papermill").info("Input Notebook:  a.ipynb")
    logging.getLogger("tornado.application").error("Uncaught exception", exc_info=_closed_tab())
    logging.getLogger("workbench.cli").info("a line of ours")


@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_the_console_drops_third_party_noise_and_keeps_ours(console, level) -> None:
    configure_logging(level, stream=console)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        _make_noise()
    text = console.getvalue()
    assert "a workbench warning" in text
    assert ("a line of ours" in text) == (level == "INFO")
    for noise in ("dict_keys([])", "Input Notebook", "WebSocketClosedError", "Uncaught exception", "Traceback"):
        assert noise not in text


def test_verbose_brings_the_noise_back(console) -> None:
    configure_logging("DEBUG", stream=console)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        _make_noise()
    text = console.getvalue()
    for line in ("dict_keys([])", "Input Notebook", "WebSocketClosedError", "Traceback", "a workbench warning"):
        assert line in text


def _run_quiet_and_verbose(tmp_path: Path, name: str, cells: list) -> tuple[subprocess.CompletedProcess, ...]:
    """``workbench run`` of a notebook of ``cells`` in a subprocess, without and with ``--verbose``; each run's
    output under ``tmp_path/quiet`` or ``tmp_path/verbose``."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(notebook, path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")} | {"WORKBENCH_HOME": str(tmp_path)}
    runs = []
    for flags in ([], ["--verbose"]):
        out = tmp_path / ("verbose" if flags else "quiet")
        args = [sys.executable, "-c", "import sys; from workbench.cli import main; sys.exit(main())", *flags, "run",
                str(path), "--out-dir", str(out)]  # fmt: skip
        runs.append(subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300))
    quiet, verbose = runs
    assert quiet.returncode == 0 and verbose.returncode == 0, quiet.stderr + verbose.stderr
    return quiet, verbose


@pytest.mark.slow
def test_workbench_run_is_quiet_and_verbose_shows_what_it_hid(tmp_path) -> None:
    """A real papermill run: a kernel over TCP, papermill's bookkeeping and nbconvert's warning on an empty output."""
    quiet, verbose = _run_quiet_and_verbose(
        tmp_path,
        "tiny",
        [
            nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("from IPython.display import display\ndisplay({}, raw=True)"),
        ],
    )
    assert quiet.stdout.startswith("finished in ")
    assert quiet.stderr == ""
    for line in ("Kernel is running over TCP", "Input Notebook"):  # the export itself makes no nbconvert warning now
        assert line in verbose.stderr


@pytest.mark.slow
def test_what_the_kernel_writes_to_stderr_goes_to_the_runs_kernel_log_unless_verbose(tmp_path) -> None:
    """The kernel inherits the command's stderr: its own writes there (shutdown noise on a loaded machine) are kept
    in ``<run>.kernel.log``, not printed; ``--verbose`` prints them."""
    cell = nbformat.v4.new_code_cell("import os\nos.write(2, b'noise from the kernel\\n')")
    quiet, verbose = _run_quiet_and_verbose(tmp_path, "noisy", [cell])
    assert "noise from the kernel" not in quiet.stderr and "noise from the kernel" in verbose.stderr
    logs = list((tmp_path / "quiet" / "noisy").glob("*.kernel.log"))
    assert len(logs) == 1 and "noise from the kernel" in logs[0].read_text()
    assert not list((tmp_path / "verbose" / "noisy").glob("*.kernel.log"))
