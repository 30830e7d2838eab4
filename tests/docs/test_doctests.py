"""Every docstring example in the package runs, as written, and prints what it says (``doctest``).

Examples that need what a test machine has not (Alpaca keys, a Dask cluster, a notebook's display) are marked
``# doctest: +SKIP`` where they are written. One test per module, so the modules spread over the workers.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest
import structlog

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "workbench"
# Alembic's migration environment runs only inside Alembic (it reads alembic.context.config at import).
NOT_IMPORTABLE = {"workbench.store.migrations.env"}


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if name not in NOT_IMPORTABLE and ">>>" in path.read_text(encoding="utf-8"):
            names.append(name)
    return names


MODULES = _modules_with_examples()


def test_the_package_has_examples_to_run() -> None:
    assert len(MODULES) > 100


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, tmp_path, monkeypatch) -> None:
    from workbench.logs import configure_logging

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))  # an example that saves or opens a database does it here
    monkeypatch.chdir(tmp_path)

    module = importlib.import_module(name)
    saved = structlog.get_config()
    configure_logging("INFO", stream=io.StringIO())  # log lines would otherwise mix with the examples' output
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    try:
        for test in doctest.DocTestFinder().find(module, name):
            runner.run(test, out=report.write)
    finally:
        structlog.configure(**saved)
    assert runner.failures == 0, report.getvalue()
