"""Quant Workbench: from a notebook sweep to a paper/live session with the same strategy, order and risk objects.

A notebook session::

    import workbench as wb
    bars = wb.load("SPY", start="2015-01-01")          # bundled real daily bars, no network
    many = wb.load(["SPY", "QQQ"])                      # several symbols -> wb.Bars

Importing the package is light: names are resolved on first use, so no numba compilation, Panel or
FastAPI is loaded until a feature that needs it is called.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first attribute access)
_EXPORTS = {
    "load": "workbench.data.load",
    "Bars": "workbench.data.bars",
    "validate_bars": "workbench.data.validate",
    "Strategy": "workbench.strategy.base",
    "Param": "workbench.strategy.params",
    "strategy": "workbench.strategy.registry",
    "sweep": "workbench.engine.sweep",
    "SweepResult": "workbench.engine.result",
    "Settings": "workbench.config",
    "load_settings": "workbench.config",
    "WorkbenchError": "workbench.errors",
    "ConfigError": "workbench.errors",
    "DataValidationError": "workbench.errors",
    "DataNotFoundError": "workbench.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from workbench.config import Settings, load_settings
    from workbench.data.bars import Bars
    from workbench.data.load import load
    from workbench.data.validate import validate_bars
    from workbench.engine.result import SweepResult
    from workbench.engine.sweep import sweep
    from workbench.strategy.base import Strategy
    from workbench.strategy.params import Param
    from workbench.strategy.registry import strategy
    from workbench.errors import ConfigError, DataNotFoundError, DataValidationError, WorkbenchError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
