"""Validation and packing of what a sweep or walk-forward receives: strategy, bars, costs, windows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.engine.metrics import METRIC_NAMES
from workbench.engine.risk_rules import RISK_FIELDS, risk_array
from workbench.engine.sessions import (
    DEFAULT_TIMEZONE,
    SESSION_RULES,
    check_symbols,
    check_timezone,
    parse_hours,
    session_ids,
)
from workbench.strategies.base import BAR_ARGS, Strategy, StrategyBase
from workbench.strategies.params import ParameterError
from workbench.strategies.universe import Panel

FILLS = ("next_open", "close")


def resolve_strategy(strategy: type[StrategyBase] | StrategyBase | str) -> tuple[type[Any], dict[str, Any]]:
    """The strategy class (a ``Strategy`` or a ``UniverseStrategy``) and the parameter values an instance fixes
    (``{}`` for a class or a name)."""
    if isinstance(strategy, str):
        from workbench.strategies.registry import strategy as lookup

        return lookup(strategy), {}
    if isinstance(strategy, StrategyBase):
        return type(strategy), strategy.values
    if isinstance(strategy, type) and issubclass(strategy, StrategyBase):
        return strategy, {}
    raise TypeError(f"expected a Strategy subclass, instance or name, got {strategy!r}")


def prepare_bars(bars: Any) -> tuple[dict[str, pd.DataFrame], bool]:
    """Validated frames by symbol, and whether the caller passed several symbols (a ``Bars`` or a mapping)."""
    from workbench.data.validate import validate_bars

    if isinstance(bars, pd.DataFrame):
        symbol = str(bars.attrs.get("symbol") or "bars")
        return {symbol: validate_bars(bars, symbol=symbol)}, False
    if isinstance(bars, Mapping):
        if not bars:
            raise ValueError("bars is empty: pass a DataFrame or a non-empty Bars/dict of DataFrames")
        return {str(s): validate_bars(f, symbol=str(s)) for s, f in bars.items()}, True
    raise TypeError(f"bars must be a DataFrame, a Bars or a dict of DataFrames, not {type(bars).__name__}")


def prepare_panel(bars: Any) -> Panel:
    """The panel a universe strategy reads: at least two symbols' validated bars (a ``Bars`` or a mapping), aligned
    on the union of their timestamps; ``ValueError`` for one symbol, or for symbols whose dates do not overlap."""
    frames, multi = prepare_bars(bars)
    if not multi or len(frames) < 2:
        raise ValueError(
            f"a universe strategy trades several symbols in one account; got {', '.join(frames)} alone: "
            "pass a Bars or a dict of two or more symbols' bars"
        )
    first = max(f.index[0] for f in frames.values())
    last = min(f.index[-1] for f in frames.values())
    if first > last:
        spans = ", ".join(f"{s} {f.index[0]:%Y-%m-%d}..{f.index[-1]:%Y-%m-%d}" for s, f in frames.items())
        raise ValueError(f"the symbols' bars do not overlap in time ({spans}): a universe needs a common period")
    return Panel.of({s.upper(): f for s, f in frames.items()})


def check_leverage(leverage: float | None, universe: bool = True) -> float | None:
    """The gross exposure (sum of absolute weights) a universe strategy may hold, as a positive float (1 when
    ``None``); a one-symbol strategy takes none, its exposure being in [-1, 1] already."""
    if not universe:
        if leverage is not None:
            raise ValueError(
                f"leverage={leverage!r}: a one-symbol strategy's exposure is in [-1, 1]; leverage is for a universe "
                "strategy's weights"
            )
        return None
    if leverage is None:
        return 1.0
    number = isinstance(leverage, (int, float, np.number)) and not isinstance(leverage, bool)
    if not number or not np.isfinite(leverage) or leverage <= 0:
        raise ValueError(f"leverage={leverage!r}: must be a positive multiple of equity, e.g. 1.0")
    return float(leverage)


@dataclass(frozen=True)
class Costs:
    """Execution settings shared by every simulated run of a sweep: costs, fill model and risk rules."""

    cash: float
    fees: float
    slippage: float
    fill: str
    risk: np.ndarray = field(default_factory=lambda: risk_array(), compare=False)
    fixed_fee: float = 0.0
    hours: tuple[int, int] | None = None  # trading hours in local minutes (sessions.parse_hours)
    timezone: str = DEFAULT_TIMEZONE
    allowed: frozenset[str] | None = None  # allowed symbols (None: all)

    @property
    def fill_close(self) -> bool:
        return self.fill == "close"

    def sessions(self, index: pd.Index, symbol: str = "") -> np.ndarray:
        """Session array of one symbol's bars: its day ids, ``CLOSED`` where it may not trade."""
        return session_ids(index, symbol, hours=self.hours, timezone=self.timezone, allowed=self.allowed)

    def account_sessions(self, index: pd.Index, symbols: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The sessions of an N-symbol account: each bar time's day id (``CLOSED`` outside the trading hours) and
        whether each symbol may trade (``allowed_symbols``)."""
        days = session_ids(index, ", ".join(symbols), hours=self.hours, timezone=self.timezone)
        allowed = np.array([self.allowed is None or s.upper() in self.allowed for s in symbols], dtype=np.bool_)
        return days, allowed


def check_costs(
    cash: float,
    fees: float,
    slippage: float,
    fill: str,
    risk: Mapping[str, Any] | None = None,
    fixed_fee: float = 0.0,
) -> Costs:
    """Raise ``ValueError`` naming the argument for a negative fee, an unknown fill model, a bad risk rule, ...

    ``risk`` maps rule names of ``risk_rules.RISK_FIELDS`` to thresholds, plus the session rules
    ``allowed_symbols`` (a list), ``trading_hours`` (``"09:30-16:00"``) and their ``timezone``;
    ``fixed_fee`` is charged per order.
    """
    for name, value, lo, hi in (("fees", fees, 0.0, 1.0), ("slippage", slippage, 0.0, 1.0)):
        if not np.isfinite(value) or not lo <= value < hi:
            raise ValueError(f"{name}={value!r}: must be a fraction in [0, 1)")
    if not np.isfinite(cash) or cash <= 0:
        raise ValueError(f"cash={cash!r}: must be a positive amount")
    if fill not in FILLS:
        raise ValueError(f"fill={fill!r}: must be one of {', '.join(FILLS)}")
    risk = {k: v for k, v in (risk or {}).items() if v is not None}
    unknown = sorted(set(risk) - set(RISK_FIELDS) - set(SESSION_RULES))
    if unknown:
        rules = ", ".join((*RISK_FIELDS, *SESSION_RULES))
        raise ValueError(f"unknown risk rule {', '.join(unknown)}; rules: {rules}")
    if isinstance(fixed_fee, bool) or not np.isfinite(fixed_fee) or fixed_fee < 0:
        raise ValueError(f"fixed_fee={fixed_fee!r}: must be a non-negative amount per order")
    hours = parse_hours(risk.pop("trading_hours")) if "trading_hours" in risk else None
    timezone = check_timezone(risk.pop("timezone", DEFAULT_TIMEZONE))
    allowed = check_symbols(risk.pop("allowed_symbols")) if "allowed_symbols" in risk else None
    return Costs(
        float(cash), float(fees), float(slippage), fill, risk_array(**risk), float(fixed_fee), hours, timezone, allowed
    )


def check_weights(weights: dict[str, float] | None, symbols: list[str]) -> dict[str, float]:
    """Equal weights by default; given weights must name every symbol, be >= 0 and sum to at most 1."""
    if weights is None:
        return {s: 1.0 / len(symbols) for s in symbols}
    weights = {str(k).upper(): float(v) for k, v in weights.items()}
    missing, extra = sorted(set(symbols) - set(weights)), sorted(set(weights) - set(symbols))
    if missing or extra:
        raise ValueError(f"weights must name exactly the symbols {symbols}; missing {missing}, unknown {extra}")
    if any(not np.isfinite(w) or w < 0 for w in weights.values()) or sum(weights.values()) > 1 + 1e-12:
        raise ValueError(f"weights {weights}: each must be >= 0 and together at most 1")
    return {s: weights[s] for s in symbols}


def check_periods_per_year(value: float | None) -> float | None:
    """None (infer from the bars) or a positive, finite number of bars per year."""
    if value is not None and (isinstance(value, bool) or not np.isfinite(value) or value <= 0):
        raise ValueError(f"periods_per_year={value!r}: must be a positive number of bars per year (or None)")
    return value


def check_metric(metric: str) -> str:
    if metric not in METRIC_NAMES:
        raise ValueError(f"metric={metric!r}: must be one of {', '.join(METRIC_NAMES)}")
    return metric


def periods_per_year(index: pd.Index) -> float:
    """Bars per year used to annualize: 252 for daily (or coarser: 52 weekly, 12 monthly) bars, else observed.

    Intraday bars count how many bars a year of this data holds: the bar count over the span in years.
    """
    if len(index) < 2 or not isinstance(index, pd.DatetimeIndex):
        return 252.0
    nanos = index.as_unit("ns").asi8
    step = int(np.median(np.diff(nanos)))
    if step >= 25 * _DAY_NS:
        return 12.0
    if step >= 5 * _DAY_NS:
        return 52.0
    if step >= 20 * _HOUR_NS:
        return 252.0
    span_years = int(nanos[-1] - nanos[0]) / _YEAR_NS
    return float((len(index) - 1) / span_years)


_HOUR_NS = 3_600 * 10**9
_DAY_NS = 24 * _HOUR_NS
_YEAR_NS = 36_525 * _DAY_NS // 100  # 365.25 days


def check_windows(cls: type[Strategy], grid: pd.DataFrame, frames: Mapping[str, pd.DataFrame]) -> None:
    """Refuse look-back parameters that leave no bar to trade in some symbol."""
    for name, spec in cls.params().items():
        if not spec.window:
            continue
        longest = int(grid[name].max())
        for symbol, frame in frames.items():
            if longest >= len(frame):
                raise ParameterError(f"{name}={longest} needs more than {longest} bars but {symbol} has {len(frame)}")


@dataclass(frozen=True)
class Packed:
    """Bars of all symbols concatenated into contiguous float64 arrays; symbol s is ``offsets[s]:offsets[s+1]``."""

    arrays: tuple[np.ndarray, ...]
    offsets: np.ndarray
    sessions: np.ndarray  # session id of every bar (engine.sessions): its day, or CLOSED where it may not trade

    def symbol_arrays(self, s: int) -> list[np.ndarray]:
        a, b = self.offsets[s], self.offsets[s + 1]
        return [arr[a:b] for arr in self.arrays]


def pack(frames: Mapping[str, pd.DataFrame], costs: Costs) -> Packed:
    """Concatenate the bars of every symbol, with their session arrays under ``costs``' session rules."""
    lengths = [len(f) for f in frames.values()]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    arrays = tuple(
        np.ascontiguousarray(np.concatenate([f[c].to_numpy(dtype=np.float64) for f in frames.values()]))
        for c in BAR_ARGS
    )
    sessions = np.concatenate([costs.sessions(f.index, s) for s, f in frames.items()])
    return Packed(arrays, offsets, np.ascontiguousarray(sessions, dtype=np.int64))
