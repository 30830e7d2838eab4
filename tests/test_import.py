"""`import workbench` stays light, and its lazily resolved public names all work."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import import_module

import pytest

import workbench

HEAVY = ("numba", "panel", "fastapi", "bokeh", "holoviews", "vectorbt")

PUBLIC = {
    "load": "workbench.data.load",
    "Bars": "workbench.data.bars",
    "validate_bars": "workbench.data.validate",
    "Strategy": "workbench.strategies.base",
    "Param": "workbench.strategies.params",
    "strategy": "workbench.strategies.registry",
    "sweep": "workbench.research.sweep",
    "backtest": "workbench.trading.backtest",
    "BacktestResult": "workbench.trading.result",
    "SweepResult": "workbench.research.result",
    "walk_forward": "workbench.research.walk_forward",
    "WalkForwardResult": "workbench.research.walk_forward",
    "check_lookahead": "workbench.research.lookahead",
    "LookaheadError": "workbench.research.lookahead",
    "Settings": "workbench.config",
    "load_settings": "workbench.config",
    "WorkbenchError": "workbench.errors",
    "ConfigError": "workbench.errors",
    "DataValidationError": "workbench.errors",
    "DataNotFoundError": "workbench.errors",
    "runs": "workbench.provenance.saved",
    "rerun": "workbench.ops.rerun",
    "TradingSession": "workbench.trading.session",
    "UniverseStrategy": "workbench.strategies.universe",
}


def _fresh(code: str) -> dict:
    """Run `code` in a new interpreter (no inherited sys.modules) and return the JSON it prints last."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def after_import() -> dict:
    return _fresh(
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import workbench\n"
        "print(json.dumps({'new': sorted(set(sys.modules) - before), 'all': sorted(sys.modules),"
        " 'version': workbench.__version__}))\n"
    )


def test_import_loads_no_heavy_dependency(after_import: dict) -> None:
    heavy = [m for m in after_import["all"] if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == []


def test_import_does_not_load_sweep_kernel(after_import: dict) -> None:
    assert "workbench.engine.sweep_kernel" not in after_import["all"]
    assert "workbench.research.sweep" not in after_import["all"]
    assert "workbench" in after_import["new"]


def test_version() -> None:
    assert isinstance(workbench.__version__, str)
    assert workbench.__version__.count(".") >= 2
    assert "__version__" in dir(workbench)


def test_version_matches_metadata() -> None:
    from importlib.metadata import version

    assert workbench.__version__ == version("workbench")


def test_dir_lists_public_names() -> None:
    assert set(dir(workbench)) == {*PUBLIC, "__version__", "widgets"}
    assert dir(workbench) == sorted(dir(workbench))
    assert set(workbench.__all__) == set(dir(workbench))


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_name_resolves_to_its_definition(name: str) -> None:
    value = getattr(workbench, name)
    assert value is getattr(import_module(PUBLIC[name]), name)
    assert getattr(workbench, name) is value  # stable on second access


def test_public_names_importable_with_from() -> None:
    from workbench import Bars, Param, Strategy, check_lookahead, load, strategy, sweep, walk_forward

    assert callable(load) and callable(sweep) and callable(walk_forward) and callable(check_lookahead)
    assert callable(strategy)
    assert isinstance(Strategy, type) and isinstance(Bars, type) and isinstance(Param, type)
    assert issubclass(workbench.ConfigError, workbench.WorkbenchError)


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        workbench.no_such_name  # noqa: B018
    assert not hasattr(workbench, "sweep_kernel")
    with pytest.raises(ImportError):
        exec("from workbench import no_such_name", {})


def test_fresh_star_import_gives_public_names() -> None:
    result = _fresh(
        "import json\n"
        "ns = {}\n"
        "exec('from workbench import *', ns)\n"
        "print(json.dumps(sorted(k for k in ns if not k.startswith('__') or k == '__version__')))\n"
    )
    assert set(result) == {*PUBLIC, "__version__", "widgets"}


def test_widgets_is_a_lazily_imported_submodule() -> None:
    code = (
        "import json, sys, workbench as wb\n"
        "before = 'workbench.widgets' in sys.modules\n"
        "explorer = wb.widgets.sweep_explorer\n"
        "print(json.dumps([before, wb.widgets.__name__, 'ipywidgets' in sys.modules]))"
    )
    assert _fresh(code) == [False, "workbench.widgets", False]
