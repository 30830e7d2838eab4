"""Quant Workbench: from a notebook sweep to a paper/live session with the same strategy, order and risk objects.

A notebook session::

    import workbench as wb
    bars = wb.load("SPY", start="2015-01-01")          # bundled real daily bars, no network
    many = wb.load(["SPY", "QQQ"])                      # several symbols -> wb.Bars
    res = wb.sweep("sma_cross", bars, fast=range(5, 60), slow=range(20, 250, 5), fees=0.001)
    res.best(10); res.heatmap("fast", "slow"); res.overfitting()
    wf = wb.walk_forward("sma_cross", bars, train="3Y", test="1Y", fast=range(5, 60, 5), slow=range(20, 250, 10))
    wb.check_lookahead("sma_cross", bars)
    bt = wb.backtest(wb.strategy("sma_cross")(fast=12, slow=80), bars, fees=0.001)   # through OrderManager
    bt.save(); wb.runs()                                 # run history in the database (SQLite by default)
    wb.rerun(bt.spec)                                    # the same numbers again, or why not

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
    "Strategy": "workbench.strategies.base",
    "UniverseStrategy": "workbench.strategies.universe",
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
}

# submodules reachable as attributes: wb.widgets.sweep_explorer(res)
_SUBMODULES = ("widgets",)

__all__ = [
    "BacktestResult",
    "Bars",
    "ConfigError",
    "DataNotFoundError",
    "DataValidationError",
    "LookaheadError",
    "Param",
    "Settings",
    "Strategy",
    "SweepResult",
    "TradingSession",
    "UniverseStrategy",
    "WalkForwardResult",
    "WorkbenchError",
    "__version__",
    "backtest",
    "check_lookahead",
    "load",
    "load_settings",
    "rerun",
    "runs",
    "strategy",
    "sweep",
    "validate_bars",
    "walk_forward",
    "widgets",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from workbench.config import Settings, load_settings
    from workbench.data.bars import Bars
    from workbench.data.load import load
    from workbench.data.validate import validate_bars
    from workbench.errors import ConfigError, DataNotFoundError, DataValidationError, WorkbenchError
    from workbench.ops.rerun import rerun
    from workbench.provenance.saved import runs
    from workbench.research.lookahead import LookaheadError, check_lookahead
    from workbench.research.result import SweepResult
    from workbench.research.sweep import sweep
    from workbench.research.walk_forward import WalkForwardResult, walk_forward
    from workbench.strategies.base import Strategy
    from workbench.strategies.params import Param
    from workbench.strategies.registry import strategy
    from workbench.strategies.universe import UniverseStrategy
    from workbench.trading.backtest import backtest
    from workbench.trading.result import BacktestResult
    from workbench.trading.session import TradingSession


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:  # modules of helpers, imported on first use like the names above
        value = import_module(f"workbench.{name}")
        globals()[name] = value
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def _inline_plots_in_notebooks() -> None:
    """In a Jupyter kernel, plots carry their JavaScript inline so they render offline and in exported HTML
    (``workbench.reports.offline``) and results without a ``_repr_html_`` of their own show as HTML too;
    elsewhere (the command line, scripts) nothing is imported."""
    import sys

    if "ipykernel" in sys.modules:
        from workbench.reports.offline import inline_notebook_resources
        from workbench.reports.summary import register_notebook_html

        inline_notebook_resources()
        register_notebook_html()


_inline_plots_in_notebooks()
