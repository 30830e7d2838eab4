"""Finds strategies by name: the project's ``strategies/`` folder, the bundled ones, then entry points.

A strategy module is a file ``NAME.py`` defining one ``Strategy`` subclass (or several, one of which has
``name == NAME``). Packages can publish strategies under the entry-point group ``workbench.strategies``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
from importlib import metadata, resources
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.strategies.base import StrategyBase

ENTRY_POINT_GROUP = "workbench.strategies"


class StrategyNotFoundError(WorkbenchError, LookupError):
    """No strategy of that name in the searched folders or entry points."""


@functools.cache
def _wheel_dir() -> Path:
    """Where a wheel installs the bundled strategies (``workbench/bundled_strategies``)."""
    return Path(str(resources.files("workbench"))) / "bundled_strategies"


@functools.cache
def bundled_dir() -> Path:
    """Folder of the strategies shipped with workbench (inside the wheel, or ``strategies/`` of a checkout)."""
    inside = _wheel_dir()
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parents[2] / "strategies"


def search_path(extra: list[Path] | None = None) -> list[Path]:
    """Folders searched in order: ``extra``, ``./strategies``, then the bundled folder (duplicates removed)."""
    folders = [*(extra or []), Path.cwd() / "strategies", bundled_dir()]
    seen: dict[Path, None] = {}
    for folder in folders:
        if folder.is_dir():
            seen.setdefault(_resolved(folder), None)
    return list(seen)


@functools.lru_cache(maxsize=64)
def _resolved(folder: Path) -> Path:
    """``folder.resolve()``, remembered: strategy lookups run on every ``wb.strategy`` call."""
    return folder.resolve()


def _module_files(folders: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            if not path.name.startswith("_"):
                found.setdefault(path.stem, path)
    return found


def _module_file(name: str, folders: list[Path]) -> Path | None:
    """The file ``_module_files(folders)`` would list under ``name``, found without listing the folders."""
    if not name or name.startswith(("_", ".")) or Path(name).name != name:
        return None
    return next((path for folder in folders if (path := folder / f"{name}.py").is_file()), None)


def _module_name(name: str, path: Path) -> str:
    """The name a plain import of ``path`` would give the module, so numba's on-disk cache (which records it)
    serves both ``wb.strategy(name)`` and ``from strategies.NAME import ...`` in any order or process."""
    if path.parent == _wheel_dir():
        return f"workbench.bundled_strategies.{name}"
    if path.parent.name == "strategies":
        return f"strategies.{name}"
    return f"workbench_strategies.{name}"


def _load_file(name: str, path: Path) -> type[StrategyBase]:
    module_name = _module_name(name, path)
    module = sys.modules.get(module_name)
    if module is not None and module.__file__ != str(path) and Path(module.__file__ or "").resolve() != path.resolve():
        module_name = f"workbench_strategies.{name}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise StrategyNotFoundError(f"cannot import strategy file {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception:
            del sys.modules[module_name]
            raise
    classes = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, StrategyBase) and v.__module__ == module.__name__
    ]
    named = [c for c in classes if c.name == name]
    if len(named) == 1 or len(classes) == 1:
        return (named or classes)[0]
    raise StrategyNotFoundError(f"{path} defines {len(classes)} Strategy classes; give one of them name = {name!r}")


def available(extra: list[Path] | None = None) -> dict[str, str]:
    """Strategy names and where each comes from (file path or entry point), first match wins."""
    out = {name: str(path) for name, path in _module_files(search_path(extra)).items()}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        out.setdefault(ep.name, f"entry point {ep.value}")
    return out


def strategy(name: str, extra: list[Path] | None = None) -> type[StrategyBase]:
    """The ``Strategy`` subclass registered under ``name``.

    Examples
    --------
    >>> import workbench as wb
    >>> wb.strategy("sma_cross").name
    'sma_cross'
    """
    path = _module_file(name, search_path(extra))
    if path is not None:
        return _load_file(name, path)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded = ep.load()
            if not (isinstance(loaded, type) and issubclass(loaded, StrategyBase)):
                raise StrategyNotFoundError(f"entry point {name} = {ep.value} is not a Strategy subclass")
            return loaded
    raise StrategyNotFoundError(
        f"unknown strategy {name!r}; available: {', '.join(sorted(available(extra))) or 'none'}"
    )
