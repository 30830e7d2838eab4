"""``RiskRules`` (validated rule settings) and ``RiskManager``: every decision as an event with its numbers."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from workbench.engine.risk_rules import EXIT_MAX_DRAWDOWN, EXIT_REASONS, RISK_FIELDS, cap_order_size_nb, risk_array
from workbench.engine.sessions import (
    DEFAULT_TIMEZONE,
    SESSION_RULES,
    check_symbols,
    check_timezone,
    in_hours_nb,
    parse_hours,
)


@dataclass(frozen=True)
class RiskRules:
    """Thresholds of the risk rules (fractions; None = off), applied identically by sweeps and backtests.

    Examples
    --------
    >>> RiskRules(stop_loss=0.05, max_drawdown=0.2).active()
    {'stop_loss': 0.05, 'max_drawdown': 0.2}
    """

    max_exposure: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    max_drawdown: float | None = None
    max_shares: float | None = None
    max_order_value: float | None = None
    daily_loss: float | None = None
    max_orders_per_day: int | None = None
    max_gross_exposure: float | None = None
    max_net_exposure: float | None = None
    allowed_symbols: tuple[str, ...] | None = None
    trading_hours: str | None = None
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        risk_array(**self._thresholds())  # raises ValueError naming a bad threshold
        if self.allowed_symbols is not None:
            object.__setattr__(self, "allowed_symbols", tuple(sorted(check_symbols(self.allowed_symbols))))
        if self.trading_hours is not None:
            parse_hours(self.trading_hours)
        check_timezone(self.timezone)

    @property
    def array(self) -> np.ndarray:
        """The rule array the kernels take (the numeric rules)."""
        return risk_array(**self._thresholds())

    def active(self) -> dict[str, Any]:
        """The rules that are switched on (``timezone`` goes with ``trading_hours``)."""
        on = {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None and f.name != "timezone"}
        if self.trading_hours is not None:
            on["timezone"] = self.timezone
        return on

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> RiskRules:
        """Rules from a dict such as ``{"stop_loss": 0.05}``; unknown names are refused."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(RISK_FIELDS) - set(SESSION_RULES))
        if unknown:
            rules = ", ".join((*RISK_FIELDS, *SESSION_RULES))
            raise ValueError(f"unknown risk rule {', '.join(unknown)}; rules: {rules}")
        return cls(**values)

    def _thresholds(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in RISK_FIELDS}

    @classmethod
    def from_toml(cls, path: str | Path) -> RiskRules:
        """Rules from a TOML file of ``rule = threshold`` lines (the CLI's ``--risk``)."""
        path = Path(path)
        try:
            return cls.from_mapping(tomllib.loads(path.read_text()))
        except FileNotFoundError:
            raise ValueError(f"risk file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"risk file {path}: {exc}") from None


#: The ``symbol`` of a decision about the whole account (a drawdown halt while nothing is held).
ACCOUNT = "*"


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One risk decision: ``approve`` (an order passed), ``resize`` (a target or order cut), ``deny`` (an order
    refused), ``exit`` (a rule closed a position; ``daily_loss`` also pauses trading until the next day) or
    ``halt`` (the drawdown kill switch flattened and stopped trading)."""

    timestamp: datetime
    symbol: str
    decision: str
    rule: str
    details: dict[str, Any] = field(default_factory=dict)


class RiskManager:
    """Applies ``RiskRules`` and records each decision as a ``RiskEvent`` (subscribers are called with it).

    The rule arithmetic lives in ``engine.risk_rules`` kernels, the ones the sweep runs bar by bar.
    """

    def __init__(self, rules: RiskRules | None = None) -> None:
        self.rules = rules or RiskRules()
        self._array = self.rules.array
        self._hours = parse_hours(self.rules.trading_hours) if self.rules.trading_hours else None
        self._zone = ZoneInfo(self.rules.timezone)
        #: Whether `allows` can refuse anything (allowed symbols or trading hours are set).
        self.screens_orders = self.rules.allowed_symbols is not None or self._hours is not None
        self.events: list[RiskEvent] = []
        self.halted = False
        self._handlers: list = []

    def subscribe(self, handler) -> None:
        self._handlers.append(handler)

    def cap_size(self, now: datetime, symbol: str, size: float, position: float, price: float) -> float:
        """``size`` within ``max_shares`` and ``max_order_value`` (the sweep's kernel): an ``approve`` event, or
        a ``resize`` event naming the binding cap."""
        capped = float(cap_order_size_nb(size, position, price, self._array))
        details = {"wanted": float(size), "allowed": capped, "price": float(price)}
        if capped == size:
            self._emit(RiskEvent(now, symbol, "approve", "", details))
            return capped
        value_cap = self.rules.max_order_value
        at_value_cap = value_cap is not None and np.isclose(abs(capped) * price, value_cap, rtol=1e-12)
        self._emit(RiskEvent(now, symbol, "resize", "max_order_value" if at_value_cap else "max_shares", details))
        return capped

    def allows(self, now: datetime, symbol: str, size: float, position: float) -> bool:
        """Whether an order of ``size`` may go out now under ``allowed_symbols`` (an order that only reduces
        a position always may) and ``trading_hours`` (``now`` in the local session); a refusal is a ``deny``
        event naming the rule."""
        allowed = self.rules.allowed_symbols
        reduces = position != 0.0 and (size > 0) != (position > 0) and abs(size) <= abs(position)
        if allowed is not None and symbol.upper() not in allowed and not reduces:
            details = {"size": float(size), "position": float(position)}
            self._emit(RiskEvent(now, symbol, "deny", "allowed_symbols", details))
            return False
        if self._hours is not None:
            local = now.astimezone(self._zone)
            minute = local.hour * 60 + local.minute
            if not in_hours_nb(minute, *self._hours):
                details = {"minute": float(minute), "open": float(self._hours[0]), "close": float(self._hours[1])}
                self._emit(RiskEvent(now, symbol, "deny", "trading_hours", {"size": float(size), **details}))
                return False
        return True

    def denied(self, now: datetime, symbol: str, rule: str, details: dict[str, float]) -> None:
        """Record an order refused by ``rule`` (e.g. ``max_orders_per_day``); a numeric limit joins the details."""
        limit = getattr(self.rules, rule)
        self._emit(RiskEvent(now, symbol, "deny", rule, {**details, "limit": limit} if limit is not None else details))

    def resized(self, now: datetime, symbol: str, wanted: float, allowed: float, rule: str = "max_exposure") -> None:
        """Record that ``rule`` (an exposure limit) cut a target from ``wanted`` to ``allowed``."""
        limit = getattr(self.rules, rule)
        self._emit(RiskEvent(now, symbol, "resize", rule, {"wanted": wanted, "allowed": allowed, "limit": limit}))

    def exited(self, now: datetime, symbol: str, reason: int, details: dict[str, float]) -> None:
        """Record an exit ordered by rule ``reason`` (an ``EXIT_*`` code); a drawdown breach flattens and halts."""
        rule = EXIT_REASONS[reason]
        decision = "halt" if reason == EXIT_MAX_DRAWDOWN else "exit"
        self.halted = self.halted or decision == "halt"
        self._emit(RiskEvent(now, symbol, decision, rule, {**details, "limit": getattr(self.rules, rule)}))

    def _emit(self, event: RiskEvent) -> None:
        self.events.append(event)
        for handler in self._handlers:
            handler(event)
