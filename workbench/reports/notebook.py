"""Runs the report notebook with papermill in a real Jupyter kernel."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

KERNEL = "python3"
NOTEBOOK = "backtest_report.ipynb"


class ReportError(WorkbenchError):
    """The report notebook could not run (no kernel, no notebook) or one of its cells failed."""


def report_notebook() -> Path:
    """The report notebook: shipped in the wheel beside this module, else ``notebooks/`` of a source checkout.

    Examples
    --------
    >>> report_notebook().name
    'backtest_report.ipynb'
    """
    inside = Path(__file__).with_name(NOTEBOOK)
    if inside.is_file():
        return inside
    checkout = Path(__file__).resolve().parents[2] / "notebooks" / NOTEBOOK
    if checkout.is_file():
        return checkout
    raise ReportError(f"The report notebook is missing: neither {inside} nor {checkout} exists.")


def execute(parameters: dict[str, Any], cwd: Path | None = None) -> Any:
    """The report notebook executed with ``parameters`` in a new ``python3`` kernel started in ``cwd``
    (default: the current directory, so ``./strategies`` resolves as here); nothing is written to disk.

    Examples
    --------
    >>> from workbench.reports.parameters import check_parameters
    >>> nb = execute(check_parameters("sma_cross", "SPY", start="2024-01-01").parameters)  # doctest: +SKIP
    """
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    try:
        with _quiet("papermill"):
            return papermill.execute_notebook(
                str(report_notebook()),
                None,
                parameters=parameters,
                kernel_name=KERNEL,
                cwd=str(cwd or Path.cwd()),
                progress_bar=False,
                log_output=False,
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],  # cell errors come as messages, not logs
            )
    except PapermillExecutionError as exc:
        raise ReportError(f"The report notebook failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}") from None
    except DeadKernelError as exc:
        raise ReportError(f"The report notebook's kernel died: {exc}") from None
    except NoSuchKernel:
        raise ReportError(
            f"No Jupyter kernel is named {KERNEL!r}; install one with: python -m ipykernel install --user"
        ) from None


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Hold logger ``name`` at WARNING meanwhile: papermill logs each step at INFO, noise around one path."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
