"""``run_notebook``: one parameterized notebook executed by papermill in a real kernel, saved with its HTML,
and recorded in the store (status, duration, parameters, error)."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

KERNEL = "python3"


class NotebookError(WorkbenchError, ValueError):
    """A notebook cannot be run as asked: it is missing, or a parameter is not one it declares."""


@dataclass(frozen=True)
class NotebookRun:
    """One execution: where its output went, how it ended (``finished`` or ``failed``) and how long it took."""

    notebook: Path
    output: Path
    html: Path | None
    status: str
    started_at: datetime
    duration: float
    parameters: dict[str, Any]
    error: str | None = None
    run_id: int | None = None


def check_notebook(notebook: str | Path, parameters: dict[str, Any] | None = None) -> Path:
    """``notebook`` as a path, if it exists and declares every name in ``parameters`` in its cell tagged
    ``parameters`` (checked before a kernel starts, so a typo fails at once)."""
    import papermill

    path = Path(notebook)
    if path.suffix != ".ipynb" or not path.is_file():
        raise NotebookError(f"notebook {path} does not exist (expected an .ipynb file)")
    declared = papermill.inspect_notebook(str(path))
    unknown = sorted(set(parameters or {}) - set(declared))
    if unknown:
        takes = ", ".join(declared) or "nothing (no cell is tagged 'parameters')"
        raise NotebookError(f"{path.name} has no parameter {', '.join(unknown)}; it takes {takes}")
    return path


def run_notebook(
    notebook: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    out_dir: str | Path = "reports/runs",
    store: Any = None,
    html: bool = True,
    kernel_log: bool = False,
) -> NotebookRun:
    """Execute ``notebook`` with ``parameters`` into ``out_dir/<name>/<UTC time>.ipynb`` (+ ``.html``).

    A failing cell does not raise: the run comes back ``failed`` with the cell's error, its partial output
    saved, and is recorded as such in ``store`` (a ``Store``; None records nothing). ``kernel_log`` (a command's
    run) sends what the kernel process writes to stderr to ``<output>.kernel.log`` unless logging DEBUG.

    Examples
    --------
    >>> run = run_notebook("notebooks/01_quickstart.ipynb", {"symbol": "SPY"})  # doctest: +SKIP
    >>> run.status, run.output  # doctest: +SKIP
    ('finished', PosixPath('reports/runs/01_quickstart/20261125T170000123456Z.ipynb'))
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    path = check_notebook(notebook, parameters)
    parameters = dict(parameters or {})
    started = datetime.now(UTC)
    output = Path(out_dir) / path.stem / f"{started:%Y%m%dT%H%M%S%fZ}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    run_id = _record_start(store, path, output, parameters, started)
    clock, error = time.perf_counter(), None
    try:
        with _kernel_stderr(output.with_suffix(".kernel.log") if kernel_log else None):
            papermill.execute_notebook(
                str(path),
                str(output),
                parameters=parameters,
                kernel_name=KERNEL,
                cwd=str(path.parent),
                progress_bar=False,
                log_output=False,
                extra_arguments=_kernel_arguments(),
            )
    except PapermillExecutionError as exc:
        error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    except Exception as exc:  # the kernel died, a dependency is missing, ...: recorded, not raised
        error = f"{type(exc).__name__}: {exc}"
    duration = time.perf_counter() - clock
    page = _write_html(output) if html and output.is_file() else None
    _record_end(store, run_id, duration, error)
    status = "failed" if error else "finished"
    return NotebookRun(path, output, page, status, started, duration, parameters, error, run_id)


def _write_html(output: Path) -> Path:
    import nbformat

    from workbench.reports.export import to_html, write_atomic

    return write_atomic(output.with_suffix(".html"), to_html(nbformat.read(output, as_version=4), show_code=True))


def _record_start(store: Any, path: Path, output: Path, parameters: dict[str, Any], started: datetime) -> int | None:
    if store is None:
        return None
    config = {"notebook": str(path.resolve()), "output": str(output.resolve())}
    with store.unit_of_work() as uow:
        return uow.runs.start("notebook", path.stem, params=parameters, config=config, started_at=started).id


def _record_end(store: Any, run_id: int | None, duration: float, error: str | None) -> None:
    if store is None or run_id is None:
        return
    with store.unit_of_work() as uow:
        uow.runs.finish(run_id, metrics={"duration_s": round(duration, 3)}, error=error)


@contextmanager
def _kernel_stderr(log: Path | None) -> Iterator[None]:
    """Unless we log DEBUG (``workbench --verbose``), what the kernel process writes to the stderr it inherits (its
    shutdown noise on a loaded machine: an interrupt, a zmq assertion) goes to ``log`` instead of a command's quiet
    stderr; the file is kept only when something was written. Process-wide (file descriptor 2): for the CLI only."""
    if log is None or logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "wb") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    if log.stat().st_size == 0:
        log.unlink()


def _kernel_arguments() -> list[str]:
    """The kernel's own log level: its startup warnings (a kernel over TCP, ...) only when we log DEBUG
    (``workbench --verbose``); the kernel writes them to our stderr."""
    import logging

    return [] if logging.getLogger().getEffectiveLevel() <= logging.DEBUG else ["--IPKernelApp.log_level=ERROR"]
