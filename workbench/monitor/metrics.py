"""`Metrics`: the workbench's Prometheus metrics, in a registry of their own (tests and several sessions in one
process stay apart), scraped as text by `metrics_text`.

What is measured, all prefixed ``workbench_``:

* trading sessions of one or several symbols (`Metrics.attach`) and accounts traded by hand through the API
  (`Metrics.attach_account`): ``bars_processed_total{symbol}``, ``signal_latency_seconds`` (a bar's strategy,
  risk and order work), ``order_events_total{kind}``, ``orders{state}`` (orders of the attached accounts now in
  each state), ``fills_total{symbol,side}``, ``rejections_total{symbol}``, ``risk_denials_total{rule}``,
  ``risk_halts_total{rule}`` (``kill_switch``: halted in the store), ``risk_alerts_total{measure,level}``,
  ``pnl{strategy,symbol,kind}`` (realized net of fees / unrealized, per symbol), ``equity{strategy,symbol}``
  (the account's; ``symbol`` lists the session's symbols), ``exposure_ratio{strategy,symbol,kind}`` (gross/net
  position value over equity),
  ``feed_lag_seconds{symbol}`` (arrival time minus the bar's timestamp), ``last_bar_timestamp_seconds{symbol}``,
  ``broker_latency_seconds{operation}``;
* caches (`Metrics.watch_cache`, `Metrics.watch_source`): ``cache_<counter>_total{level}`` (hits, misses,
  writes, ...), ``cache_entries{level}``, ``cache_bytes{level}``, ``source_<counter>_total{source}``;
* scheduled notebooks (`Metrics.observe_run`, `Metrics.attach_schedule`): ``scheduled_runs_total{notebook,
  status}``, ``scheduled_run_duration_seconds{notebook}``;
* notifications (`Metrics.watch_dispatcher`): ``notifications_total{outcome}``;
* and the process (CPU, memory, open files) from prometheus-client.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workbench.logs import get_logger
from workbench.orders.model import EventKind, OrderEvent, OrderStatus
from workbench.risk.manager import RiskEvent
from workbench.risk.monitor import Alert

if TYPE_CHECKING:
    from workbench.notify.dispatcher import Dispatcher
    from workbench.schedule.notebook_run import NotebookRun
    from workbench.schedule.scheduler import NotebookSchedule
    from workbench.trading.account import Session, TradingContext

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "metrics_text"]

_log = get_logger(__name__)
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_RUNS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
#: Broker calls timed by `Metrics.attach`.
BROKER_OPERATIONS = ("submit", "cancel", "account")


class Metrics:
    """Every workbench metric, registered in ``registry`` (a new `CollectorRegistry` by default).

    Examples
    --------
    >>> metrics = Metrics()
    >>> metrics.bars.labels("SPY").inc()
    >>> b"workbench_bars_processed_total{symbol=\\"SPY\\"} 1.0" in metrics_text(metrics)
    True
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._lock = threading.Lock()
        self._sessions: list[TradingContext] = []  # the accounts attached, for the orders gauge
        self._last_bar: dict[str, datetime] = {}
        r, ns = self.registry, "workbench"
        session_labels = ["strategy", "symbol"]
        self.bars = Counter("bars_processed", "Bars taken by trading sessions.", ["symbol"], namespace=ns, registry=r)
        self.signal_latency = Histogram(
            "signal_latency_seconds",
            "Time a session spends on a bar: strategy signal, risk checks and order placement.",
            ["strategy"],
            namespace=ns,
            registry=r,
            buckets=_FAST,
        )
        self.order_events = Counter("order_events", "Order events by kind.", ["kind"], namespace=ns, registry=r)
        self.fills = Counter("fills", "Fills.", ["symbol", "side"], namespace=ns, registry=r)
        self.rejections = Counter("rejections", "Orders rejected.", ["symbol"], namespace=ns, registry=r)
        self.risk_denials = Counter(
            "risk_denials", "Orders refused by a risk rule.", ["rule"], namespace=ns, registry=r
        )
        self.risk_halts = Counter(
            "risk_halts", "Trading halted: by a risk rule, or kill_switch.", ["rule"], namespace=ns, registry=r
        )
        self.risk_alerts = Counter(
            "risk_alerts", "Risk monitor level changes.", ["measure", "level"], namespace=ns, registry=r
        )
        self.pnl = Gauge(
            "pnl",
            "P&L of a session (realized net of fees, unrealized).",
            [*session_labels, "kind"],
            namespace=ns,
            registry=r,
        )
        self.equity = Gauge("equity", "Account equity seen by a session.", session_labels, namespace=ns, registry=r)
        self.exposure = Gauge(
            "exposure_ratio",
            "Position value over equity: gross and net.",
            [*session_labels, "kind"],
            namespace=ns,
            registry=r,
        )
        self.feed_lag = Gauge(
            "feed_lag_seconds",
            "Arrival time of the last bar minus its timestamp.",
            ["symbol"],
            namespace=ns,
            registry=r,
        )
        self.last_bar_time = Gauge(
            "last_bar_timestamp_seconds",
            "Timestamp of the last bar (Unix seconds).",
            ["symbol"],
            namespace=ns,
            registry=r,
        )
        self.broker_latency = Histogram(
            "broker_latency_seconds",
            "Duration of broker calls.",
            ["operation"],
            namespace=ns,
            registry=r,
            buckets=_FAST,
        )
        self.runs = Counter(
            "scheduled_runs", "Scheduled notebook runs by outcome.", ["notebook", "status"], namespace=ns, registry=r
        )
        self.run_duration = Histogram(
            "scheduled_run_duration_seconds",
            "Duration of scheduled notebook runs.",
            ["notebook"],
            namespace=ns,
            registry=r,
            buckets=_RUNS,
        )
        r.register(_OrdersCollector(self))
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)

    # -- trading sessions -------------------------------------------------------------------------------------

    def attach(self, session: Session) -> None:
        """Measure a trading session (one symbol or several): `attach_account`, plus its risk alerts, its bars, the
        time each takes (wraps ``session.on_bar`` on this instance), P&L and exposure per symbol and the account's
        equity."""
        self.attach_account(session)
        session.monitor.subscribe(self._alert)
        session.on_bar = self._on_bar(session, session.on_bar)  # type: ignore[method-assign]

    def attach_account(self, context: TradingContext) -> None:
        """Measure an account's order path (a session, or the API's `PaperAccount`): its orders, fills,
        rejections, risk decisions and broker calls.

        Subscribes to the OrderManager, RiskManager and RiskMonitor, and wraps (on this broker instance only) the
        broker's ``submit``, ``cancel`` and ``account`` with timers.
        """
        context.om.subscribe(lambda event: self._order_event(event, context))
        context.risk_manager.subscribe(self.observe_risk)
        broker = context.om.broker
        for operation in BROKER_OPERATIONS:
            setattr(broker, operation, _timed(getattr(broker, operation), self.broker_latency.labels(operation)))
        with self._lock:
            self._sessions.append(context)

    def observe_risk(self, event: RiskEvent) -> None:
        """Count a risk decision: a ``deny`` by its rule, a ``halt`` by its rule (approvals and resizes are the
        normal working of the rules). A session's operational refusals (``broker_rejected``) count as denials."""
        if event.decision == "deny":
            self.risk_denials.labels(event.rule).inc()
        elif event.decision == "halt":
            self.risk_halts.labels(event.rule).inc()

    def last_bar(self) -> datetime | None:
        """Timestamp of the newest bar any attached session has taken (for a feed freshness health check)."""
        with self._lock:
            return max(self._last_bar.values(), default=None)

    def _on_bar(self, session: Any, on_bar: Callable[[Any], Any]) -> Callable[[Any], Any]:
        latency = self.signal_latency.labels(session.strategy.name)

        @functools.wraps(on_bar)
        def measured(bar: Any) -> Any:
            arrived = time.time()
            started = time.perf_counter()
            placed = on_bar(bar)
            if bar.symbol.upper() in session.symbols:  # the session ignores other symbols' bars
                latency.observe(time.perf_counter() - started)
                self._bar_taken(session, bar, arrived)
            return placed

        return measured

    def _bar_taken(self, session: Any, bar: Any, arrived: float) -> None:
        symbol = bar.symbol.upper()
        labels = (session.strategy.name, symbol)
        self.bars.labels(symbol).inc()
        self.feed_lag.labels(symbol).set(arrived - bar.timestamp.timestamp())
        self.last_bar_time.labels(symbol).set(bar.timestamp.timestamp())
        with self._lock:
            self._last_bar[symbol] = bar.timestamp
        equity = session.broker.account().equity
        position = session.om.positions.get(symbol)
        qty = 0.0 if position is None else position.qty
        value = qty * bar.close
        self.equity.labels(session.strategy.name, ",".join(session.symbols)).set(equity)
        self.pnl.labels(*labels, "realized").set(0.0 if position is None else position.realized_pnl)
        self.pnl.labels(*labels, "unrealized").set(0.0 if qty == 0.0 else position.unrealized_pnl(bar.close))
        self.exposure.labels(*labels, "gross").set(abs(value) / equity if equity else 0.0)
        self.exposure.labels(*labels, "net").set(value / equity if equity else 0.0)

    def _order_event(self, event: OrderEvent, context: TradingContext) -> None:
        self.order_events.labels(event.kind.value).inc()
        if event.fill is not None:
            self.fills.labels(event.fill.symbol, event.fill.side.value).inc()
        elif event.kind is EventKind.REJECTED:
            order = context.om.orders.get(event.order_id)
            self.rejections.labels(order.symbol if order is not None else "").inc()

    def _alert(self, alert: Alert) -> None:
        self.risk_alerts.labels(alert.measure, alert.level).inc()

    def orders_by_state(self) -> dict[str, int]:
        """Orders of the attached sessions in each `OrderStatus` now."""
        counts = dict.fromkeys((s.value for s in OrderStatus), 0)
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            for order in list(session.om.orders.values()):
                counts[order.status.value] += 1
        return counts

    # -- caches, schedules, notifications ---------------------------------------------------------------------

    def watch_cache(self, cache: Any) -> None:
        """Export a `TieredCache`'s (or one level's) counters and sizes per level at every scrape."""
        self.registry.register(_StatsCollector("cache", "level", cache))

    def watch_source(self, source: Any) -> None:
        """Export a `CachedSource`'s counters (fetches, rows fetched, restatements) at every scrape."""
        self.registry.register(_StatsCollector("source", "source", source))

    def observe_run(self, run: NotebookRun) -> None:
        """Count a scheduled notebook run by outcome and time it."""
        self.runs.labels(run.notebook.name, run.status).inc()
        self.run_duration.labels(run.notebook.name).observe(run.duration)

    def attach_schedule(self, schedule: NotebookSchedule) -> None:
        """`observe_run` every run of a `NotebookSchedule` (wraps its ``trigger`` on this instance)."""
        trigger = schedule.trigger

        @functools.wraps(trigger)
        def observed() -> Any:
            run = trigger()
            if run is not None:
                self.observe_run(run)
            return run

        schedule.trigger = observed  # type: ignore[method-assign]

    def watch_dispatcher(self, dispatcher: Dispatcher) -> None:
        """Export a notification `Dispatcher`'s counts (received, coalesced, sent, dead, ...) at every scrape."""
        self.registry.register(_DispatcherCollector(dispatcher))


def metrics_text(metrics: Metrics) -> bytes:
    """The Prometheus text exposition of ``metrics`` (serve it with ``Content-Type: CONTENT_TYPE_LATEST``).

    Examples
    --------
    >>> metrics_text(Metrics(process=False)).startswith(b"# HELP")
    True
    """
    return generate_latest(metrics.registry)


def _timed(call: Callable[..., Any], histogram: Any) -> Callable[..., Any]:
    @functools.wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        with histogram.time():
            return call(*args, **kwargs)

    return timed


class _OrdersCollector(Collector):
    """``workbench_orders{state}``: orders of the attached sessions in each state, counted at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("workbench_orders", "Orders of the trading sessions by state.", labels=["state"])
        for state, count in self._metrics.orders_by_state().items():
            family.add_metric([state], count)
        yield family


class _StatsCollector(Collector):
    """Counters of a ``stats()`` dict (nested per level for a tiered cache) as ``workbench_<prefix>_*``."""

    _GAUGES = ("entries", "bytes")

    def __init__(self, prefix: str, label: str, owner: Any) -> None:
        self._prefix, self._label, self._owner = prefix, label, owner

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self._owner.stats()
        except Exception as exc:  # a broken cache must not break the scrape
            _log.warning("stats not collected", owner=type(self._owner).__name__, error=repr(exc))
            return
        if not all(isinstance(v, dict) for v in stats.values()):  # one level, or a source
            stats = {getattr(self._owner, "name", self._prefix): stats}
        families: dict[str, Metric] = {}
        for owner, counters in stats.items():
            for name, value in counters.items():
                if value is None:
                    continue
                if name not in families:
                    metric = f"workbench_{self._prefix}_{name}"
                    kind = GaugeMetricFamily if name in self._GAUGES else CounterMetricFamily
                    families[name] = kind(metric, f"{self._prefix} {name} by {self._label}.", labels=[self._label])
                families[name].add_metric([owner], value)
        yield from families.values()


class _DispatcherCollector(Collector):
    """``workbench_notifications_total{outcome}`` from a dispatcher's counts."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "workbench_notifications", "Notification events and deliveries.", labels=["outcome"]
        )
        for outcome, count in self._dispatcher.stats().items():
            if outcome != "busy":
                family.add_metric([outcome], count)
        yield family
