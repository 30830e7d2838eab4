"""Report parameters, checked before a kernel starts so a bad one fails fast with the library's own message.

``check_parameters`` is also the first thing the report notebook calls, so the notebook and the command line
accept exactly the same values.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.bars import Bars
from workbench.data.load import TimeBound, load
from workbench.engine.grid import build_grid
from workbench.engine.inputs import (
    check_costs,
    check_leverage,
    check_metric,
    check_periods_per_year,
    check_weights,
    prepare_panel,
)
from workbench.provenance.spec import NotReproducible, RunSpec, Specified, bars_hash, strategy_hash
from workbench.risk.manager import RiskRules
from workbench.strategies.base import StrategyBase
from workbench.strategies.params import ParameterError
from workbench.strategies.registry import StrategyNotFoundError
from workbench.strategies.registry import strategy as lookup
from workbench.strategies.universe import UniverseStrategy


@dataclass(frozen=True)
class ReportInputs:
    """Checked report parameters: the strategy, its bars and run settings, and ``parameters``, the same
    values as plain JSON-ready data for papermill. ``leverage`` is a universe strategy's (None for another)."""

    strategy: StrategyBase
    bars: pd.DataFrame | Bars
    costs: dict[str, Any]
    risk: dict[str, Any]
    weights: dict[str, float] | None
    sweep: dict[str, Any] | None
    metric: str
    parameters: dict[str, Any]
    leverage: float | None = None
    walk_forward: dict[str, Any] | None = None


def check_parameters(
    strategy: str,
    symbols: str | Sequence[str] = "SPY",
    params: Mapping[str, Any] | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    *,
    source: str = "sample",
    data_path: str | os.PathLike[str] | None = None,
    nan_policy: str = "raise",
    cash: float = 10_000.0,
    fees: float = 0.0,
    slippage: float = 0.0,
    fill: str = "next_open",
    fixed_fee: float = 0.0,
    periods_per_year: float | None = None,
    risk: Mapping[str, Any] | None = None,
    weights: Mapping[str, float] | None = None,
    sweep: Mapping[str, Any] | None = None,
    metric: str = "sharpe",
    data_hash: str | None = None,
    leverage: float | None = None,
    walk_forward: Mapping[str, Any] | None = None,
) -> ReportInputs:
    """Resolve and check every report parameter the way ``wb.load``, ``wb.backtest`` and ``wb.sweep`` do.

    Raises the library's own error for the first bad value: ``StrategyNotFoundError`` (unknown strategy),
    ``ParameterError`` (unknown parameter, value out of its range, broken constraint, bad sweep range),
    ``DataNotFoundError`` (unknown symbol, no bars in the range), ``ValueError`` (start after end, bad
    cost, fill, risk rule, weights or leverage) or ``NotReproducible`` (the bars differ from ``data_hash``).
    A universe strategy (``wb.UniverseStrategy``) takes ``leverage`` and neither fixed ``weights`` nor risk
    rules; a one-symbol strategy takes no ``leverage``.

    Examples
    --------
    >>> inputs = check_parameters("sma_cross", "SPY", {"fast": 12}, start="2020-01-01", fees=0.001)
    >>> inputs.parameters["params"], inputs.parameters["symbols"]
    ({'fast': 12, 'slow': 50}, ['SPY'])
    >>> check_parameters("sma_cross", "SPY", {"fast": 0})
    Traceback (most recent call last):
    ...
    workbench.strategies.params.ParameterError: fast=0: below the minimum 1
    """
    if not isinstance(strategy, str):
        raise ValueError(f"strategy={strategy!r}: give a registered strategy's name (see `workbench strategies list`)")
    if not isinstance(source, str):
        raise ValueError(f"source={source!r}: a report loads its bars by source name, e.g. 'sample' or 'csv'")
    cls = lookup(strategy)
    instance = cls(**dict(params or {}))
    rules = RiskRules.from_mapping(dict(risk or {}))
    check_costs(cash, fees, slippage, fill, rules.active(), fixed_fee)
    universe = isinstance(instance, UniverseStrategy)
    leverage = check_leverage(leverage, universe)
    if universe and weights is not None:
        raise ValueError(f"weights={dict(weights)!r}: {strategy} is a universe strategy and chooses its own weights")
    check_periods_per_year(periods_per_year)
    ranges = None if sweep is None else {name: _range(spec) for name, spec in sweep.items()}
    if ranges is not None:
        check_metric(metric)
        if build_grid(cls, ranges, instance.values).nunique().max() < 2:
            raise ParameterError(f"sweep={ranges!r}: the grid holds one parameter set; give a range of several values")
    windows = _walk_forward(walk_forward, ranges)
    names = _symbols(symbols)
    path = None if data_path is None else str(Path(data_path).expanduser().resolve())
    bars = load(names if len(names) > 1 else names[0], start, end, source, path, nan_policy)
    frames = dict(bars) if isinstance(bars, Bars) else {str(bars.attrs["symbol"]): bars}
    if universe:
        prepare_panel(frames)  # two or more symbols over a common period
    checked = None if weights is None else check_weights(dict(weights), [s.upper() for s in frames])
    if data_hash is not None and bars_hash(frames) != data_hash:
        raise NotReproducible(
            f"the bars of {', '.join(frames)} from {source} differ from the run's (their hash changed): "
            "the data was updated or edited since"
        )
    costs = {
        "cash": float(cash),
        "fees": float(fees),
        "slippage": float(slippage),
        "fill": fill,
        "fixed_fee": float(fixed_fee),
        "periods_per_year": None if periods_per_year is None else float(periods_per_year),
    }
    parameters = {
        "strategy": strategy,
        "symbols": list(frames),
        "params": instance.values,
        "start": _bound(start),
        "end": _bound(end),
        "source": source,
        "data_path": path,
        "nan_policy": nan_policy,
        **costs,
        "risk": rules.active(),
        "weights": checked,
        "sweep": ranges,
        "metric": metric,
        "data_hash": data_hash,
        "leverage": leverage,
        "walk_forward": windows,
    }
    return ReportInputs(
        instance, bars, costs, rules.active(), checked, ranges, metric, _plain(parameters), leverage, windows
    )


def spec_parameters(spec: RunSpec, sweep: Specified | None = None) -> dict[str, Any]:
    """``check_parameters`` arguments that run the backtest recorded in ``spec`` again on the same bars (and,
    given the ``sweep`` it was chosen from, that sweep's grid and metric).

    Raises ``NotReproducible`` when the run cannot be made again in a fresh kernel: bars passed in memory,
    a strategy that is not registered by name, or one whose source changed since the run.

    Examples
    --------
    >>> import workbench as wb
    >>> bt = wb.backtest("sma_cross", wb.load("SPY", start="2020-01-01"), fees=0.001)
    >>> spec_parameters(bt.spec)["start"]
    '2020-01-01T00:00:00+00:00'
    """
    if spec.kind != "backtest":
        raise ValueError(f"A report shows a backtest, not a {spec.kind}; pass the sweep as sweep= with its backtest.")
    if spec.origin is None:
        raise NotReproducible(
            "The bars of this run were passed in memory, not loaded by wb.load, so a new session cannot load them "
            "again."
        )
    try:
        cls = lookup(spec.strategy)
    except StrategyNotFoundError as exc:
        raise NotReproducible(
            f"Strategy {spec.strategy!r} is not registered by name, so a new session cannot find it ({exc})."
        ) from None
    if strategy_hash(cls) != spec.strategy_hash:
        raise NotReproducible(
            f"The source of strategy {spec.strategy!r} changed since the run; run the backtest again."
        )
    origin = spec.origin
    out: dict[str, Any] = {
        "strategy": spec.strategy,
        "symbols": list(spec.symbols),
        "params": dict(spec.params),
        "start": origin["start"],
        "end": origin["end"],
        "source": origin["source"],
        "data_path": origin["path"],
        "nan_policy": origin["nan_policy"],
        **spec.costs,
        "risk": dict(spec.risk),
        "weights": spec.weights,
        "data_hash": spec.data_hash,
    }
    if sweep is not None:
        swept = sweep.spec
        if swept.strategy != spec.strategy or swept.data_hash != spec.data_hash:
            raise ValueError(
                f"The sweep ({swept.strategy} on {', '.join(swept.symbols)}) did not run on the backtest's strategy "
                "and bars, so its heatmap would not show where these parameters came from."
            )
        out.update(sweep=swept.params["ranges"], metric=swept.metric or "sharpe")
    return out


WINDOW_KEYS = ("train", "test", "step", "anchored")


def _walk_forward(windows: Mapping[str, Any] | None, ranges: dict[str, Any] | None) -> dict[str, Any] | None:
    """Walk-forward windows as given (``train``, ``test``, ``step``, ``anchored``), once they make sense."""
    if windows is None:
        return None
    if not isinstance(windows, Mapping):
        raise ValueError(
            f"walk_forward={windows!r}: give the windows as a mapping, e.g. {{'train': '3Y', 'test': '1Y'}}."
        )
    unknown = sorted(set(windows) - set(WINDOW_KEYS))
    if unknown:
        raise ValueError(
            f"walk_forward={dict(windows)!r}: unknown key {', '.join(unknown)}; the keys are {', '.join(WINDOW_KEYS)}."
        )
    if ranges is None:
        raise ValueError(
            "walk_forward needs sweep ranges: each training window chooses its parameters from the sweep's grid."
        )
    return dict(windows)


def _symbols(symbols: str | Sequence[str]) -> list[str]:
    names = symbols.split(",") if isinstance(symbols, str) else list(symbols)
    names = [str(name).strip() for name in names if str(name).strip()]
    if not names:
        raise ValueError(f"symbols={symbols!r}: name at least one symbol")
    return names


def _range(spec: Any) -> Any:
    """A sweep range as plain data: range text such as ``"5:60:5"`` as is, any other iterable as a list."""
    if isinstance(spec, str) or not isinstance(spec, Iterable):
        return spec
    return list(spec)


def _bound(value: TimeBound) -> str | None:
    """A time bound as text that ``wb.load`` reads back the same (a date stays a whole day)."""
    if value is None or isinstance(value, str):
        return value
    if type(value) is date:
        return value.isoformat()
    return pd.Timestamp(value).isoformat()


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready copy (tuples to lists, numpy scalars to Python numbers), as papermill passes values on."""

    def scalar(item: Any) -> Any:
        if isinstance(item, np.generic):
            return item.item()
        raise ValueError(f"report parameter value {item!r} is not plain data (numbers, text, lists, dicts)")

    return json.loads(json.dumps(value, default=scalar))
