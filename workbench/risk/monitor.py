"""``RiskMonitor``: re-evaluates the account against the risk limits on every bar and fill and raises alerts.

An alert is raised when a measure (``engine.risk_measures.MEASURES``) moves between levels: ``warning`` from
``warn_at`` x its limit, ``breach`` at the limit, ``ok`` once it is back 10 % below the threshold (so a
measure hovering at a threshold does not alert on every bar). The rules themselves act
through the RiskManager; the monitor tells people (log, notifications) before and when they do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from workbench.engine.risk_measures import (
    LEVELS,
    MEASURE_RULES,
    MEASURES,
    N_MEASURES,
    OK,
    alert_level_nb,
    measures_path_nb,
    measures_step_nb,
    new_measures_state,
)
from workbench.engine.risk_rules import RISK_FIELDS
from workbench.orders.model import OrderEvent
from workbench.ports import Broker
from workbench.risk.manager import RiskRules


@dataclass(frozen=True)
class Alert:
    """A measure changed level: ``warning`` (near its limit), ``breach`` (at it) or ``ok`` (cleared)."""

    timestamp: datetime
    measure: str
    level: str
    value: float
    limit: float
    rule: str


class RiskMonitor:
    """Watches a broker's account: call ``on_bar`` with each bar's prices and subscribe ``on_event`` to the
    OrderManager; every level change is an ``Alert`` in ``alerts``, logged and passed to subscribers.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from workbench.brokers.sim import SimBroker
    >>> from workbench.testing import FrozenClock
    >>> clock = FrozenClock(datetime(2024, 1, 2, tzinfo=timezone.utc))
    >>> broker = SimBroker(clock, cash=10_000)
    >>> monitor = RiskMonitor(broker, RiskRules(max_drawdown=0.10), warn_at=0.5)
    >>> monitor.observe(clock.now(), equity=9_400.0, gross_value=0.0, net_value=0.0)[0].level
    'warning'
    """

    def __init__(self, broker: Broker, rules: RiskRules | None = None, *, warn_at: float = 0.8) -> None:
        if not 0.0 < warn_at <= 1.0:
            raise ValueError(f"warn_at={warn_at!r}: must be a fraction of the limit in (0, 1]")
        self.broker = broker
        self.rules = rules or RiskRules()
        self.warn_at = warn_at
        self.alerts: list[Alert] = []
        self.measures = np.zeros(N_MEASURES)
        self._limits = self.rules.array[list(MEASURE_RULES)]
        self._levels = np.zeros(N_MEASURES, dtype=np.int64)
        self._state = new_measures_state(broker.account().cash)
        self._prices: dict[str, float] = {}
        self._handlers: list[Callable[[Alert], None]] = []

    def subscribe(self, handler: Callable[[Alert], None]) -> None:
        """Call ``handler`` with every alert."""
        self._handlers.append(handler)

    def on_bar(self, now: datetime, prices: dict[str, float]) -> list[Alert]:
        """Mark the positions at ``prices`` (symbol -> last price) and re-evaluate."""
        self._prices.update({s.upper(): float(p) for s, p in prices.items()})
        return self._evaluate(now)

    def on_event(self, event: OrderEvent) -> list[Alert]:
        """Re-evaluate after a fill (the filled symbol marked at its fill price); other events change nothing."""
        if event.fill is None:
            return []
        self._prices[event.fill.symbol] = event.fill.price
        return self._evaluate(event.timestamp)

    def observe(self, now: datetime, equity: float, gross_value: float, net_value: float) -> list[Alert]:
        """Re-evaluate from account figures: ``gross_value`` sums absolute position values, ``net_value`` signed."""
        day = float(now.timestamp() // 86_400)  # UTC calendar day, as the daily rules count days
        measures_step_nb(equity, gross_value, net_value, day, self._state, self.measures)
        raised = []
        for m in range(N_MEASURES):
            level = alert_level_nb(self.measures[m], self._limits[m], self.warn_at, self._levels[m])
            if level != self._levels[m]:
                self._levels[m] = level
                raised.append(self._alert(now, m, level, self.measures[m]))
        for alert in raised:
            self._emit(alert)
        return raised

    def _evaluate(self, now: datetime) -> list[Alert]:
        values = [q * self._prices.get(s, np.nan) for s, q in self.broker.positions().items() if q]
        values = [v for v in values if not np.isnan(v)]
        net = float(sum(values))
        return self.observe(now, self.broker.account().cash + net, float(sum(abs(v) for v in values)), net)

    def _alert(self, now: datetime, m: int, level: int, value: float) -> Alert:
        rule = RISK_FIELDS[MEASURE_RULES[m]]
        return Alert(now, MEASURES[m], LEVELS[level], float(value), float(self._limits[m]), rule)

    def _emit(self, alert: Alert) -> None:
        self.alerts.append(alert)
        from workbench.logs import get_logger  # structlog loads on the first alert, not with backtest

        logger = get_logger("workbench.risk")
        log = logger.info if alert.level == LEVELS[OK] else logger.warning
        log("risk alert", **{k: getattr(alert, k) for k in ("measure", "level", "value", "limit", "rule")})
        for handler in self._handlers:
            handler(alert)


def path_alerts(
    index: pd.DatetimeIndex,
    equity: np.ndarray,
    gross_value: np.ndarray,
    net_value: np.ndarray,
    cash: float,
    rules: RiskRules,
    warn_at: float = 0.8,
) -> list[Alert]:
    """The alerts a ``RiskMonitor`` observing every bar of a recorded path would raise (a backtest's)."""
    limits = rules.array[list(MEASURE_RULES)]
    if np.isnan(limits).all() or not len(index):
        return []
    n = len(equity)
    days = (index.as_unit("ns").asi8 // 86_400_000_000_000).astype(np.float64)
    measures, levels = np.empty((n, N_MEASURES)), np.empty((n, N_MEASURES), dtype=np.int64)
    measures_path_nb(equity, gross_value, net_value, days, cash, rules.array, warn_at, measures, levels)
    previous = np.vstack([np.zeros((1, N_MEASURES), dtype=np.int64), levels[:-1]])
    out = []
    for t, m in zip(*np.nonzero(levels != previous), strict=True):
        when, rule = index[t].to_pydatetime(), RISK_FIELDS[MEASURE_RULES[m]]
        out.append(Alert(when, MEASURES[m], LEVELS[levels[t, m]], float(measures[t, m]), float(limits[m]), rule))
    return out
