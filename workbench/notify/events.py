"""What people are told about: `Notice` (kind, severity, coalescing key, template variables) and `to_notice`,
which turns the domain's events into notices.

The domain objects are the payloads: `OrderEvent` (fills, rejections), `RiskEvent` (denials, exits, halts),
`Alert` (risk monitor levels) and a failed `NotebookRun`. Two events have no domain class yet and are defined
here, for whoever sees them to pass to `Dispatcher.notify`: `ErrorEvent` (something broke) and
`DailySummary` (the end of a trading day, made by `daily_summary`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from workbench.orders.model import EventKind, Order, OrderEvent
from workbench.risk.manager import RiskEvent
from workbench.risk.monitor import Alert
from workbench.schedule.notebook_run import NotebookRun

if TYPE_CHECKING:
    from workbench.trading.account import Session

#: Notice kinds (a template of each ships in ``workbench/notify/templates``).
KINDS = ("fill", "rejection", "risk", "halt", "error", "run_failed", "daily_summary", "test")


class Severity(IntEnum):
    """How much a notice matters; a channel gets the notices at or above its minimum."""

    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @classmethod
    def parse(cls, value: str | int) -> Severity:
        """``"warning"`` (any case) or a `Severity` as a `Severity`.

        >>> Severity.parse("Warning") is Severity.WARNING
        True
        """
        if isinstance(value, int):
            return cls(value)
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"severity {value!r}: expected one of {', '.join(s.name.lower() for s in cls)}") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Notice:
    """One thing worth telling people: its ``kind`` (a template name), ``severity``, a ``key`` that makes two
    notices of a kind "the same" for coalescing, and the ``context`` its templates are rendered with.

    ``repeats`` counts the notices like it that a coalescing window held back (a summary notice carries it).

    Examples
    --------
    >>> n = Notice("error", Severity.ERROR, "feed", {"source": "feed", "message": "stream lost"})
    >>> n.dedupe_key, str(n.severity)
    (('error', 'feed'), 'error')
    """

    kind: str
    severity: Severity
    key: str
    context: Mapping[str, Any] = field(default_factory=dict)
    repeats: int = 0

    @property
    def dedupe_key(self) -> tuple[str, str]:
        """What coalescing compares: (kind, key)."""
        return self.kind, self.key

    def repeated(self, count: int) -> Notice:
        """This notice standing for ``count`` more like it."""
        return replace(self, repeats=count)


@dataclass(frozen=True)
class ErrorEvent:
    """Something broke that a person should look at (a session loop crashed, the broker stopped answering).

    ``source`` names the component; identical (source, message) errors are coalesced.
    """

    source: str
    message: str
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    detail: str = ""


@dataclass(frozen=True)
class DailySummary:
    """A trading day of one session, as `daily_summary` reads it off the session."""

    day: date
    strategy: str
    symbol: str
    equity: float
    cash: float
    realized_pnl: float
    fills: int
    orders: int
    alerts: int
    halted: bool


def daily_summary(session: Session, day: date) -> DailySummary:
    """Summarize ``day`` (UTC) of a trading session: account now, and the day's fills, orders and alerts.

    Examples
    --------
    >>> summary = daily_summary(session, date(2024, 7, 1))  # doctest: +SKIP
    >>> dispatcher.notify(summary)  # doctest: +SKIP
    """
    account = session.broker.account()

    def on_day(timestamp: datetime) -> bool:
        return timestamp.astimezone(UTC).date() == day

    return DailySummary(
        day=day,
        strategy=session.strategy.name,
        symbol=",".join(session.symbols),
        equity=account.equity,
        cash=account.cash,
        realized_pnl=session.om.realized_pnl(),
        fills=sum(on_day(f.timestamp) for f in session.om.fills),
        orders=sum(on_day(o.created_at) for o in list(session.om.orders.values())),
        alerts=sum(on_day(a.timestamp) for a in session.monitor.alerts),
        halted=session.risk_manager.halted,
    )


_RISK_SEVERITY = {"deny": Severity.WARNING, "exit": Severity.ERROR, "halt": Severity.CRITICAL}
_ALERT_SEVERITY = {"ok": Severity.INFO, "warning": Severity.WARNING, "breach": Severity.ERROR}


def to_notice(event: Any, *, orders: Mapping[str, Order] | None = None, strategy: str | None = None) -> Notice | None:
    """The notice of a domain event, or None if it is not worth one (an accepted order, an approved size, a
    finished run).

    Parameters
    ----------
    event
        A `Notice` (returned as is), `OrderEvent`, `RiskEvent`, `Alert`, `ErrorEvent`, `DailySummary`, or a
        scheduled `NotebookRun`.
    orders
        Orders by id (an OrderManager's ``orders``), to name the symbol and side of a rejected order.
    strategy
        Name of the strategy the event belongs to, shown in the message.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> deny = RiskEvent(datetime(2024, 7, 1, tzinfo=timezone.utc), "SPY", "deny", "trading_hours")
    >>> n = to_notice(deny, strategy="sma_cross")
    >>> n.kind, str(n.severity), n.key
    ('risk', 'warning', 'deny:trading_hours:SPY')
    """
    if isinstance(event, Notice):
        return event
    base = {"strategy": strategy}
    if isinstance(event, OrderEvent):
        return _order_notice(event, (orders or {}).get(event.order_id), base)
    if isinstance(event, RiskEvent):
        severity = _RISK_SEVERITY.get(event.decision)
        if severity is None:  # approve / resize: the normal working of the rules
            return None
        context = {**base, **_fields(event)}
        kind = "halt" if event.decision == "halt" else "risk"
        return Notice(kind, severity, f"{event.decision}:{event.rule}:{event.symbol}", context)
    if isinstance(event, Alert):
        context = {**base, **_fields(event), "decision": "alert"}
        return Notice("risk", _ALERT_SEVERITY[event.level], f"alert:{event.measure}:{event.level}", context)
    if isinstance(event, ErrorEvent):
        return Notice("error", Severity.ERROR, f"{event.source}:{event.message}", {**base, **_fields(event)})
    if isinstance(event, DailySummary):
        return Notice("daily_summary", Severity.INFO, f"{event.strategy}:{event.symbol}:{event.day}", _fields(event))
    if isinstance(event, NotebookRun):
        if event.status != "failed":
            return None
        context = {**_fields(event), "notebook": event.notebook.name, "timestamp": event.started_at}
        return Notice("run_failed", Severity.ERROR, str(event.notebook), context)
    raise TypeError(f"cannot make a notification of a {type(event).__name__}: expected one of {_ACCEPTED}")


def _fields(event: Any) -> dict[str, Any]:
    """A dataclass's fields by name (shallow, unlike ``asdict``; works with slots, unlike ``vars``)."""
    return {f.name: getattr(event, f.name) for f in fields(event)}


_ACCEPTED = "Notice, OrderEvent, RiskEvent, Alert, ErrorEvent, DailySummary, NotebookRun"


def _order_notice(event: OrderEvent, order: Order | None, base: dict[str, Any]) -> Notice | None:
    """Fills (never coalesced: each is a trade) and rejections (coalesced by symbol and reason)."""
    if event.fill is None and event.kind is not EventKind.REJECTED:
        return None
    context = {**base, **_fields(event), "event_kind": event.kind.value}
    if order is not None:
        strategy = order.strategy or base["strategy"]
        context.update(symbol=order.symbol, side=order.side.value, qty=order.qty, strategy=strategy)
    if event.fill is not None:
        fill = event.fill
        context.update(
            symbol=fill.symbol, side=fill.side.value, qty=fill.qty, price=fill.price, fee=fill.fee, fill_id=fill.fill_id
        )
        return Notice("fill", Severity.INFO, fill.fill_id, context)
    return Notice("rejection", Severity.WARNING, f"{context.get('symbol')}:{event.reason}", context)
