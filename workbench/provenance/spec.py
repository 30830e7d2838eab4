"""What a run was made of, precisely enough to run it again: ``RunSpec`` and the hashes behind it.

A spec names the strategy and its parameters (or grid), where the bars came from (``origin``, set by
``wb.load``) with a hash of the exact bars used, every cost, fill and risk setting, the hash of the
strategy's source and the package version. ``rerun`` reloads the bars, refuses if they changed, and runs again.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

import numpy as np
import pandas as pd

from workbench.data.schema import BAR_COLUMNS
from workbench.errors import WorkbenchError

KINDS = ("backtest", "sweep")


class NotReproducible(WorkbenchError):
    """A run cannot be run again as recorded: its bars were passed in memory or have changed, or its
    strategy's code changed."""


@dataclass(frozen=True)
class RunSpec:
    """Everything a run depends on (see the module docstring); ``to_dict``/``from_dict`` round-trip as JSON."""

    kind: str
    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    origin: dict[str, Any] | None
    data_hash: str
    costs: dict[str, Any]
    risk: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, float] | None = None
    constraint: str | None = None
    metric: str | None = None
    strategy_hash: str = ""
    code_version: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r}: must be one of {', '.join(KINDS)}")

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        return cls(**dict(data))


class Specified(Protocol):
    """A result that knows what it was made of (a backtest's or a sweep's): what reports and reruns read."""

    @property
    def spec(self) -> RunSpec: ...


def bars_hash(frames: Mapping[str, pd.DataFrame]) -> str:
    """SHA-256 of the exact bars: symbols (case ignored), timestamps and OHLCV values, in order."""
    digest = hashlib.sha256()
    for symbol, frame in frames.items():
        digest.update(str(symbol).upper().encode())  # backtests name symbols in upper case, load() as stored
        digest.update(np.ascontiguousarray(frame.index.as_unit("ns").asi8).tobytes())
        digest.update(np.ascontiguousarray(frame[list(BAR_COLUMNS)].to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()


def strategy_hash(cls: type) -> str:
    """SHA-256 of the source of the module defining ``cls`` (its signal code and helpers)."""
    module = sys.modules.get(cls.__module__)
    try:
        source = inspect.getsource(module) if module is not None else inspect.getsource(cls)
    except (OSError, TypeError):  # defined in a notebook cell or the REPL: hash what inspect can see
        source = repr(sorted(vars(cls)))
    return hashlib.sha256(source.encode()).hexdigest()


def code_version() -> str:
    """The installed workbench version."""
    try:
        return version("workbench")
    except PackageNotFoundError:
        return "unknown"


def data_origin(frames: Mapping[str, pd.DataFrame]) -> dict[str, Any] | None:
    """How ``wb.load`` made these bars (source, path, bounds), if it did, for all of them alike; else None."""
    origins = [f.attrs.get("origin") for f in frames.values()]
    if not origins or origins[0] is None or any(o != origins[0] for o in origins[1:]):
        return None
    return dict(origins[0])


def metrics_hash(table: pd.DataFrame) -> str:
    """SHA-256 of a metrics table's index and values (NaN-safe): a sweep's numbers in 64 characters."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(table.index.to_frame(index=False), index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(table.to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """JSON-ready: tuples to lists, numpy scalars to Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def make_spec(
    kind: str,
    strategy_cls: type,
    params: Mapping[str, Any],
    frames: Mapping[str, pd.DataFrame],
    settings: Mapping[str, Any],
) -> RunSpec:
    """The spec of a finished run from its inputs; ``settings`` holds ``costs``, ``risk`` and the optional
    ``weights``, ``constraint`` and ``metric``."""
    return RunSpec(
        kind=kind,
        strategy=strategy_cls.name,
        params=_plain(dict(params)),
        symbols=list(frames),
        origin=data_origin(frames),
        data_hash=bars_hash(frames),
        costs=_plain(dict(settings["costs"])),
        risk=_plain(dict(settings.get("risk") or {})),
        weights=_plain(settings.get("weights")),
        constraint=settings.get("constraint"),
        metric=settings.get("metric"),
        strategy_hash=strategy_hash(strategy_cls),
        code_version=code_version(),
    )
