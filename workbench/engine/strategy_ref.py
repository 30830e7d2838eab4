"""A strategy class as a cluster task argument: by module and name when importable, by value otherwise.

A strategy from a module (the ``strategies/`` folder, a package, an entry point) travels as a
``StrategyRef``: the worker imports the module (or loads the same file through the registry, or its own
``strategies/`` folder) and checks that its source is byte-for-byte the client's, so a worker running other
code refuses the chunk rather than returning different rows. A class defined in a notebook, a script's
``__main__`` or a function travels by value (cloudpickle, as Dask pickles task arguments); its numba
signal function is compiled again on the worker.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.strategies.base import StrategyBase


class StrategyImportError(WorkbenchError, ImportError):
    """A worker cannot import the strategy a chunk runs, or its copy differs from the client's."""


@dataclass(frozen=True)
class StrategyRef:
    """Where a worker finds a strategy class: its module, its qualified name, and the client's source file."""

    module: str
    qualname: str
    path: str | None  # the module's file on the client
    digest: str | None  # sha1 of that file: a worker's copy must match

    def describe(self) -> str:
        return f"{self.qualname} (module {self.module}, file {self.path})"


def strategy_ref(cls: type[StrategyBase]) -> StrategyRef | type[StrategyBase]:
    """What a chunk task receives for ``cls``: a ``StrategyRef``, or the class itself when it has no module.

    Examples
    --------
    >>> import workbench as wb
    >>> strategy_ref(wb.strategy("sma_cross")).qualname
    'SmaCross'
    """
    module = sys.modules.get(cls.__module__)
    if cls.__module__ == "__main__" or module is None or "<locals>" in cls.__qualname__:
        return cls
    path = getattr(module, "__file__", None)
    return StrategyRef(cls.__module__, cls.__qualname__, path, _digest(path))


def resolve(strategy: StrategyRef | type[StrategyBase]) -> type[StrategyBase]:
    """The class ``strategy_ref`` described, in this (worker) process; each reference is resolved once.

    Examples
    --------
    >>> import workbench as wb
    >>> cls = wb.strategy("sma_cross")
    >>> resolve(strategy_ref(cls)) is cls
    True
    """
    return strategy if isinstance(strategy, type) else _resolve(strategy)


@cache
def _resolve(ref: StrategyRef) -> type[StrategyBase]:
    module = _import(ref)
    cls = module
    for part in ref.qualname.split("."):
        cls = getattr(cls, part, None)
    if not (isinstance(cls, type) and issubclass(cls, StrategyBase)):
        raise StrategyImportError(f"strategy {ref.describe()}: module {module.__name__} has no such Strategy class")
    mine = _digest(getattr(module, "__file__", None))
    if ref.digest and mine != ref.digest:
        raise StrategyImportError(
            f"strategy {ref.describe()}: the worker's copy ({module.__file__}) differs from the client's; "
            "deploy the same version of the strategy to every worker"
        )
    return cls


def _import(ref: StrategyRef):
    """The module by import; else the client's file, or a file of the same name, found by the registry."""
    from workbench.strategies.registry import StrategyNotFoundError, strategy

    try:
        return importlib.import_module(ref.module)
    except ImportError:
        pass
    stem = Path(ref.path).stem if ref.path else ref.module.rpartition(".")[2]
    folder = [Path(ref.path).parent] if ref.path and Path(ref.path).is_file() else []
    try:
        return sys.modules[strategy(stem, extra=folder).__module__]
    except StrategyNotFoundError:
        raise StrategyImportError(
            f"strategy {ref.describe()} cannot be imported on this worker: start the workers where the module is "
            "importable (e.g. `dask worker` from the project folder with it on PYTHONPATH, or pip install the "
            "package that defines it), or define the class in the notebook (it is then sent by value)"
        ) from None


def _digest(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()
