"""``LiveSession``: a strategy trading one symbol or several live or on paper, crash-safe and controlled through
the store.

It is a `TradingSession` (one symbol) or a `PortfolioSession` (several symbols in one account, allocated as the
multi-symbol backtest does), each the backtest's driver, RiskManager and OrderManager with every order journaled
write-ahead, with what a long-running session needs around it:

* a broker of any kind: the local simulated one (``sim``, no keys), or Alpaca's paper or live account
  (``AlpacaBroker``), whose events it pumps on its own thread;
* a restart from the store: `LiveSession.open` resumes the run (``"latest"`` by default) and, with a broker that
  holds the truth elsewhere, reconciles it first (`workbench.trading.reconcile`): fills made while it was down are
  recorded, orders recorded but maybe never sent are resolved by ``client_order_id``, and differences it cannot
  explain halt trading;
* runtime control through the store's strategy switches, which the CLI, the API and the dashboard all set:
  ``enabled`` off pauses new orders, ``halted`` (the kill switch) cancels working orders, flattens the position
  and pauses until resumed; checked before every bar and while waiting for one;
* cancel requests through the store (the dashboard writes them from any process): the run's pending requests are
  taken where the switches are checked, each order canceled through the broker as the kill switch does, and the
  outcome (``canceled``, or why not) recorded with the request;
* a clean stop (`LiveSession.run` until its stop event, SIGINT or SIGTERM with `run_until_stopped`): no new
  orders, working orders canceled (or left, ``cancel_on_stop=False``), the last events handled and recorded;
* operational events: a broker's refusal of an order and a failed broker call are recorded as ``deny`` risk
  events (``broker_rejected``, ``broker_error``) and passed to ``on_alert``;
* monitoring: a `Metrics` attached to the session (bars, orders, fills, rejections, risk decisions, P&L,
  exposure, broker latency; ``LiveSession.metrics``) and, when the settings configure a channel, a notification
  `Dispatcher` telling people of fills, rejections, risk decisions and alerts, operational events and halts
  (the kill switch included);
* a ``lock`` held while a bar or a switch is handled: an API `Desk` given it never interleaves with a bar;
* one process per run: the run's lease (`workbench.trading.run_lock`), taken by `LiveSession.open` before anything
  else, kept by a heartbeat and ended with the run's state (stopped, finished, or halted with why); a broker that
  stays unavailable past its deadline (`BrokerUnavailable`) halts the strategy, touching nothing, and tells people.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.brokers import BrokerError, BrokerUnavailable
from workbench.clock import Clock
from workbench.data.feeds import Bar
from workbench.engine.inputs import check_leverage, check_weights, resolve_strategy
from workbench.logs import get_logger
from workbench.monitor.metrics import Metrics
from workbench.ops.promotion import require_promotion
from workbench.orders.model import EventKind, Order, OrderEvent
from workbench.ports import Broker
from workbench.risk.manager import ACCOUNT, RiskEvent
from workbench.store.journal import OrderJournal
from workbench.store.models_runs import RunState
from workbench.strategies.base import StrategyBase
from workbench.strategies.universe import UniverseStrategy
from workbench.trading.build import notifier, resume, venue_of
from workbench.trading.portfolio_session import PortfolioSession
from workbench.trading.reconcile import CASH_TOLERANCE, RECONCILE, Reconciliation
from workbench.trading.run_lock import RunLease, take_run
from workbench.trading.session import TradingSession
from workbench.trading.universe_session import UniverseSession

if TYPE_CHECKING:
    from workbench.config import Settings
    from workbench.notify.dispatcher import Dispatcher

_log = get_logger("workbench.live")
_END = object()  # the feed ended
#: The rule of a halt because the broker stayed unavailable (its store reason starts with it; nothing is flattened).
UNAVAILABLE = "broker_unavailable"


@dataclass
class LiveSummary:
    """Where a session stands: its run, what it did since it opened, and the account now."""

    run_id: int
    bars: int
    orders: int
    fills: int
    halted: bool
    cash: float
    equity: float
    positions: dict[str, float]
    last_bar: datetime | None
    halt_reason: str | None = None  # why it is halted (the kill switch's reason, a rule's, a broker's)


class LiveSession:
    """A trading session (`TradingSession` or `PortfolioSession`) run live: see the module docstring. Build it
    with `open`.

    Examples
    --------
    >>> from workbench.store import Store
    >>> from workbench.brokers.sim import SimBroker
    >>> from workbench.clock import SimClock
    >>> from workbench.testing import ListFeed, make_bars
    >>> from datetime import datetime, timezone
    >>> store = Store.open("sqlite://")
    >>> clock = SimClock(datetime(2019, 12, 31, tzinfo=timezone.utc))
    >>> live = LiveSession.open(store, "sma_cross", "SYN", SimBroker(clock), clock=clock, params={"fast": 2, "slow": 5})
    >>> live.run(ListFeed({"SYN": make_bars(30)})).bars  # logs "live session stopped"  # doctest: +SKIP
    30
    """

    def __init__(
        self,
        session: TradingSession | PortfolioSession,
        journal: OrderJournal,
        *,
        reconciliation: Reconciliation | None = None,
        cancel_on_stop: bool = True,
        poll: float = 0.5,
        on_alert: Callable[[Any], Any] | None = None,
        metrics: Metrics | None = None,
        dispatcher: Dispatcher | None = None,
        owns_dispatcher: bool = False,
        lease: RunLease | None = None,
    ) -> None:
        self.session, self.journal = session, journal
        self.reconciliation = reconciliation
        self.cancel_on_stop = cancel_on_stop
        self.poll = poll
        self.on_alert = on_alert
        self.lock = threading.RLock()
        self.metrics = metrics if metrics is not None else Metrics()
        self.metrics.attach(session)
        self.dispatcher, self._owns_dispatcher = dispatcher, owns_dispatcher
        if dispatcher is not None:
            dispatcher.attach(session)
            self.metrics.watch_dispatcher(dispatcher)
        self.bars = 0
        #: The venue's market at the last bar: open, closed (market orders queue for the open) or None (not asked).
        self.market_open: bool | None = None
        self.next_open: datetime | None = None
        self._first_order = len(session.om.orders)
        self._first_fill = len(session.om.fills)
        self._flattened = False  # the kill switch acted for the current halt
        self._own_halt = False  # the current halt is this session's own (its drawdown rule): already told
        self._closed = False
        self._run_lease(lease)
        session.om.subscribe(self._on_order_event)
        session.risk_manager.subscribe(self._on_risk_event)
        if reconciliation is not None and reconciliation.halt is not None:
            self._alert(reconciliation.halt)
        self.apply_controls()

    @classmethod
    def open(
        cls,
        store: Any,
        strategy: StrategyBase | type[StrategyBase] | str,
        symbols: str | Sequence[str],
        broker: Broker,
        *,
        clock: Clock | None = None,
        params: dict[str, Any] | None = None,
        run: int | str | None = "latest",
        history: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
        weights: Mapping[str, float] | None = None,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        fill: str = "next_open",
        risk: Any = None,
        cash_tolerance: float | None = CASH_TOLERANCE,
        settings: Settings | None = None,
        metrics: Metrics | None = None,
        dispatcher: Dispatcher | None = None,
        override_reason: str | None = None,
        actor: str | None = None,
        notify: bool = True,
        leverage: float | None = None,
        start: Any = None,
        lease: RunLease | None = None,
        **options: Any,
    ) -> LiveSession:
        """Start or resume a recorded run of ``strategy`` on ``symbols`` (one, or several traded in one account by
        ``weights``, equal by default; a universe strategy trades its own weights, within ``leverage``) with
        ``broker``, reconciled first.

        ``run``: a run id, ``"latest"`` (the newest run of this strategy, these symbols and broker kind, else a new
        one) or None (a new run). A new run starts with the broker's cash. ``history`` (a bar table, or one per
        symbol) warms the indicators up; of a resumed run only the bars up to its last recorded time are history
        (later ones are still to trade). ``cash_tolerance`` bounds the cash difference a reconciliation accepts
        (None: cash is not compared, for an account other runs trade too). ``metrics`` measures the session (a new
        `Metrics` by default); ``dispatcher`` notifies its events, by default one made from ``settings`` (or
        `load_settings`) when they configure a notification channel, closed with the session (none with
        ``notify=False``). ``options`` go to
        the constructor (``cancel_on_stop``, ``poll``, ``on_alert``).

        One process trades a run: the run's lease (`workbench.trading.run_lock`) is taken before anything else is
        done (or ``lease``, taken by the caller before it connected its broker), and `RunLocked` names the session
        holding it. ``start``, the time a new run trades from (a replay's start or first bar), is recorded with the
        run: resumed before its first recorded bar, it trades from there again.

        On Alpaca the configuration must be promoted first (``workbench promote``): to paper for a paper
        account, to live for a live one; ``PromotionRequired`` names what is missing. ``override_reason`` goes
        ahead anyway and is written to the audit log with ``actor``. The local ``SimBroker`` needs none.
        """
        cls_, values = resolve_strategy(strategy)
        instance = strategy if isinstance(strategy, StrategyBase) else cls_(**{**values, **(params or {})})
        names, venue = _symbols(symbols), venue_of(broker, clock)
        kind = venue.kind
        require_promotion(store, instance, names, kind, override_reason=override_reason, actor=actor)
        latest = run == "latest"
        if latest:
            run = latest_run(store, instance.name, names, kind, instance.values)
        universe = isinstance(instance, UniverseStrategy)
        check_leverage(leverage, universe)
        if universe and weights is not None:
            raise ValueError(
                f"weights={dict(weights)!r}: {instance.name} is a universe strategy and chooses its own weights; "
                "fixed weights are for a one-symbol strategy traded over several symbols"
            )
        lease = take_run(store, None if run is None else int(run), lease)  # refused here while another trades it
        try:
            if run is None:
                config: dict[str, Any] = {"symbol": ",".join(names), "broker": kind}
                if universe:
                    config.update(symbols=list(names), leverage=check_leverage(leverage))
                elif len(names) > 1:
                    weights = check_weights(dict(weights) if weights is not None else None, list(names))
                    config.update(symbols=list(names), weights=weights)
                if start is not None:  # where a restart before the first recorded bar trades from
                    config["start"] = _utc(start).isoformat()
                cash = broker.account().cash
                journal = OrderJournal.start(store, instance.name, cash=cash, params=instance.values, config=config)
                lease = take_run(store, journal.run_id, None)
                if latest:
                    _first_of_twins(store, journal, lease, instance.name, names, kind, instance.values)
            else:
                journal = OrderJournal.resume(store, int(run))
                recorded = check_run(store, journal.run_id, names, kind, instance.name, instance.values)
                weights = weights if weights is not None else recorded.get("weights")
                if universe and leverage is not None and check_leverage(leverage) != recorded.get("leverage"):
                    raise ValueError(
                        f"leverage={leverage!r}: run {journal.run_id} trades with leverage "
                        f"{recorded.get('leverage')!r}; a run keeps its leverage (start a new run for another)"
                    )
                leverage = recorded.get("leverage", leverage)
                start = recorded.get("start")
            state = journal.restore()
            frames = _history(history, names)
            if state.last_bar is not None:
                frames = {s: f.loc[: pd.Timestamp(state.last_bar)] for s, f in frames.items()}
            elif run is not None and start is not None:  # killed before its first mark: it trades from its start
                frames = {s: f.loc[f.index < _utc(start)] for s, f in frames.items()}
            reconciliation = resume(venue, journal, names, resumed=run is not None, cash_tolerance=cash_tolerance)
            costs = {"fees": fees, "slippage": slippage, "fixed_fee": fixed_fee, "fill": fill, "risk": risk}
            session: TradingSession | PortfolioSession | UniverseSession
            if universe:
                session = UniverseSession(
                    instance, names, broker, venue.clock, **costs, journal=journal, history=frames, leverage=leverage
                )
            elif len(names) == 1:
                history_ = frames.get(names[0])
                session = TradingSession(
                    instance, names[0], broker, venue.clock, **costs, journal=journal, history=history_
                )
            else:
                session = PortfolioSession(
                    instance, names, broker, venue.clock, weights=weights, **costs, journal=journal, history=frames
                )
            broker.track(session.om.orders.values())  # its updates must move the objects the OrderManager holds
            owns = dispatcher is None
            if dispatcher is None and notify:
                dispatcher = notifier(settings, store)
            return cls(
                session,
                journal,
                reconciliation=reconciliation,
                metrics=metrics,
                dispatcher=dispatcher,
                owns_dispatcher=owns,
                lease=lease,
                **options,
            )
        except BaseException as exc:
            if lease is not None:
                lease.release(RunState.STOPPED, f"the session did not start: {exc}"[:500])
            raise

    @property
    def run_id(self) -> int:
        return self.journal.run_id

    @property
    def last_bar(self) -> datetime | None:
        """The time of the last bar traded (history included)."""
        return self.session.last_bar

    def step(self, bar: Bar) -> list[Order]:
        """Take one bar: the switches first, then the strategy, risk and orders; returns the orders placed."""
        with self.lock:
            if self.lease is not None and self.lease.lost is not None:  # another session trades the run now
                return []
            self.apply_controls()
            self._pump()
            try:
                self._read_market()
                placed = self.session.on_bar(bar)
            except BrokerError as exc:
                self._broker_failed(exc, bar.symbol)
                placed = []
            if bar.symbol.upper() in self.session.symbols:
                self.bars += 1
            self._pump()
            return placed

    def flush(self) -> list[Order]:
        """The feed ended: trade the bars a session of several symbols held back for the rest of their time."""
        with self.lock:
            try:
                placed = self.session.flush()
            except BrokerError as exc:
                self._broker_failed(exc, self._account_symbol)
                placed = []
            self._pump()
            return placed

    def run(self, feed: Iterable[Bar], stop: threading.Event | None = None) -> LiveSummary:
        """`step` through ``feed`` until it ends or ``stop`` is set, then `shutdown`; returns the summary.

        The feed is read on a helper thread one bar at a time (the next bar is asked for once this one is
        done); while none comes, the broker's events and the store's switches are still handled every ``poll``
        seconds, so a kill switch acts without waiting for a bar. A live stream stays open: whoever opened it
        closes it (which also ends a reader thread still waiting on it).
        """
        stop = self._stop = stop or threading.Event()
        bars: queue.Queue[Any] = queue.Queue()
        done = threading.Semaphore(0)
        reader = threading.Thread(target=_read, args=(feed, bars, done, stop), name="live-feed", daemon=True)
        reader.start()
        try:
            while not stop.is_set():
                try:
                    item = bars.get(timeout=self.poll)
                except queue.Empty:
                    self.apply_controls()
                    self._pump()
                    continue
                if item is _END:
                    self.flush()
                    self._feed_ended = True
                    break
                try:
                    self.step(item)
                finally:
                    done.release()
        finally:
            stop.set()
            self.shutdown()
        return self.summary()

    def apply_controls(self) -> None:
        """Act on the store's switches of this strategy: halted -> cancel working orders, flatten (once per
        halt; not after a reconciliation's halt, which leaves the account as it is), tell people (unless the halt
        is this session's own drawdown rule's, told already) and trade no more; not enabled -> no new orders;
        otherwise trade. Then act on the run's pending cancel requests (`_handle_requests`)."""
        with self.lock:
            with self.journal.store.unit_of_work(readonly=True) as uow:  # one read for the switches and requests
                row = uow.strategies.get(self.journal.strategy)
                halted, enabled = bool(row and row.halted), bool(row is None or row.enabled)
                reason = row.halted_reason if row is not None else None
                pending = [(r.id, r.order_id, r.requested_by) for r in uow.order_requests.pending(self.run_id)]
            # a reconciliation's halt touches nothing, nor does one of a broker that stays unavailable
            reconciling = (reason or "").startswith((f"{RECONCILE} ", f"{UNAVAILABLE} "))
            if halted and not self._flattened and not reconciling:
                self._flatten(reason or "halted")
                if not self._own_halt:
                    details = {"reason": reason or "halted"}
                    event = RiskEvent(self.session.clock.now(), ACCOUNT, "halt", "kill_switch", details)
                    self.metrics.observe_risk(event)
                    self._alert(event)
            self._flattened = halted
            self._own_halt = self._own_halt and halted
            self._halt_reason = reason if halted else None
            self.session.risk_manager.halted = halted
            self.session.pause(halted or not enabled)
            self._handle_requests(pending)

    def shutdown(self) -> None:
        """Stop cleanly: working orders canceled (unless ``cancel_on_stop`` is off), the broker's last events
        handled and recorded, the notifications queued sent (a dispatcher of the session's own). The run stays
        resumable."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            if self.cancel_on_stop:
                self._cancel_working()
            self._pump(timeout=0.2)
            ended, why = self._ended()
            with self.journal.store.unit_of_work() as uow:
                details = {"run_id": self.run_id, "bars": self.bars, "cancel_on_stop": self.cancel_on_stop}
                uow.audit.add("live", "live.stop", f"strategy:{self.journal.strategy}", {**details, "state": ended})
            if self.lease is not None:
                self.lease.release(ended, why)
        if self.dispatcher is not None and self._owns_dispatcher:
            self.dispatcher.close()  # waits for deliveries: outside the lock, which an API request may want
        _log.info("live session stopped", run_id=self.run_id, bars=self.bars)

    def counts(self) -> tuple[int, int, int]:
        """Bars, orders and fills since `open` (what `summary` reports, without asking the broker)."""
        om = self.session.om
        return self.bars, len(om.orders) - self._first_order, len(om.fills) - self._first_fill

    def summary(self) -> LiveSummary:
        """The run, the bars, orders and fills since `open`, and the account now."""
        broker = self.session.broker
        account = broker.account()
        symbols = self.session.symbols  # the account may hold symbols other runs trade: not this run's
        return LiveSummary(
            run_id=self.run_id,
            bars=self.bars,
            orders=len(self.session.om.orders) - self._first_order,
            fills=len(self.session.om.fills) - self._first_fill,
            halted=self.session.risk_manager.halted,
            cash=account.cash,
            equity=account.equity,
            positions={s: q for s, q in broker.positions().items() if s.upper() in symbols},
            last_bar=self.last_bar,
            halt_reason=self._halt_reason if self.session.risk_manager.halted else None,
        )

    # --- internals ---------------------------------------------------------------------------------------------

    def _read_market(self) -> None:
        """Ask the venue's market clock (the broker keeps its answer until it changes): when the market closes, say
        once that market orders now queue for the open, where sizing counts them as held until they fill."""
        market = self.session.broker.market_clock()
        if market.is_open is not self.market_open:
            if not market.is_open:
                _log.warning(
                    "market closed: market orders queue for the open and count as held until they fill",
                    run_id=self.run_id,
                    next_open=str(market.next_open),
                )
            elif self.market_open is not None:
                _log.info("market open", run_id=self.run_id, next_close=str(market.next_close))
        self.market_open, self.next_open = market.is_open, market.next_open

    def _run_lease(self, lease: RunLease | None) -> None:
        """Hold ``lease`` on the run (one process trades it); losing it stops the session."""
        self.lease = lease
        self._stop: threading.Event | None = None  # the stop of `run`, set when the lease is lost
        self._feed_ended = False
        self._halt_reason: str | None = None
        if lease is not None:
            lease.on_lost = self._lease_lost

    def _lease_lost(self, why: str) -> None:
        """Another session took the run (this one stalled past its lease): trade no more, tell people, stop."""
        event = RiskEvent(self.session.clock.now(), self._account_symbol, "halt", "run_lease_lost", {"reason": why})
        self._alert(event)
        if self._stop is not None:
            self._stop.set()

    def _ended(self) -> tuple[RunState, str | None]:
        """How this session ended: halted (with why), finished (its feed ended) or stopped (before that)."""
        if self.session.risk_manager.halted:
            return RunState.HALTED, self._halt_reason or "halted"
        return (RunState.FINISHED if self._feed_ended else RunState.STOPPED), None

    @property
    def _account_symbol(self) -> str:
        """What an event about the whole account names as its symbol: the one symbol, or ``*`` for several."""
        symbols = self.session.symbols
        return symbols[0] if len(symbols) == 1 else ACCOUNT

    def _flatten(self, reason: str) -> None:
        """The kill switch: cancel working orders and close each position of the session's symbols with a
        market order (through the OrderManager, so it is journaled like any other)."""
        _log.warning("kill switch: cancel, flatten and halt", run_id=self.run_id, reason=reason)
        self._cancel_working()
        om, held = self.session.om, self.session.broker.positions()
        for symbol in self.session.symbols:
            if held.get(symbol, 0.0) == 0.0:
                continue
            price = self.session.last_price(symbol)
            try:
                om.target(symbol, 0.0, price if price is not None else om.positions[symbol].avg_price)
            except BrokerError as exc:
                self._broker_failed(exc, symbol)

    def _cancel_working(self) -> None:
        for order in [o for o in self.session.om.orders.values() if o.is_open]:
            try:
                self.session.broker.cancel(order.id)
            except BrokerError as exc:
                _log.warning("could not cancel order", client_order_id=order.client_order_id, error=str(exc))

    def _handle_requests(self, pending: list[tuple[int, str, str]]) -> None:
        """Cancel the orders ``pending`` requests (id, order id, who; oldest first) to this run name, and record
        each outcome: the order's status after the cancel, or why it was not canceled (never raised: a bad request
        must not stop trading)."""
        for request_id, order_id, requested_by in pending:
            outcome = self._cancel_requested(order_id)
            _log.info("cancel request handled", run_id=self.run_id, order_id=order_id, by=requested_by, outcome=outcome)
            with self.journal.store.unit_of_work() as uow:
                uow.order_requests.mark_handled(request_id, outcome)

    def _cancel_requested(self, order_id: str) -> str:
        """Cancel this run's working order ``order_id`` through the broker (its events journal it); returns the
        order's status after it, or the reason it could not be canceled."""
        order = self.session.om.orders.get(order_id)
        if order is None:
            return f"order {order_id} is not an order of run {self.run_id}"
        if not order.is_open:
            return f"order {order_id} is {order.status.value} and cannot be canceled"
        try:
            return self.session.broker.cancel(order_id).status.value
        except BrokerError as exc:
            return str(exc)

    def _pump(self, timeout: float = 0.0) -> None:
        with self.lock:  # the broker's events move the orders and positions an API request may read
            try:
                self.session.broker.pump(timeout)
            except BrokerError as exc:
                self._broker_failed(exc, self._account_symbol)

    def _on_risk_event(self, event: RiskEvent) -> None:
        """A halt by the session's own rules (drawdown) is told by the dispatcher already: the kill switch that
        follows it in the store is not told again."""
        if event.decision == "halt":
            self._own_halt = True

    def _on_order_event(self, event: OrderEvent) -> None:
        """A refusal by the broker (not by our own risk rules) is an operational event."""
        if event.kind is not EventKind.REJECTED or event.reason == "denied by risk rules":
            return
        order = self.session.om.orders.get(event.order_id)
        symbol = order.symbol if order is not None else self._account_symbol
        details = {"client_order_id": event.client_order_id, "reason": event.reason or ""}
        self._ops_event(RiskEvent(event.timestamp, symbol, "deny", "broker_rejected", details))

    def _broker_failed(self, exc: BrokerError, symbol: str) -> None:
        _log.error("broker call failed", run_id=self.run_id, error=str(exc), transient=exc.transient)
        if isinstance(exc, BrokerUnavailable):
            self._broker_unavailable(exc, symbol)
            return
        details = {"error": str(exc), "transient": exc.transient}
        self._ops_event(RiskEvent(self.session.clock.now(), symbol, "deny", "broker_error", details))

    def _broker_unavailable(self, exc: BrokerUnavailable, symbol: str) -> None:
        """The broker kept failing past its deadline: halt this strategy (in the store, so a restart stays halted
        until a person resumes it) without flattening (the broker is what fails), and tell people."""
        details = {"error": str(exc), "order_followed": exc.uncertain}
        self._own_halt = True  # told here, not again as a kill switch
        self._ops_event(RiskEvent(self.session.clock.now(), symbol, "halt", UNAVAILABLE, details))
        self.session.risk_manager.halted = True
        self.session.pause(True)

    def _ops_event(self, event: RiskEvent) -> None:
        self.journal.record_risk(event)
        self.metrics.observe_risk(event)
        self._alert(event)

    def _alert(self, event: Any) -> None:
        """Tell people of an event the session's objects do not publish (operational events, halts found in the
        store or by a reconciliation): the dispatcher and ``on_alert``."""
        if self.dispatcher is not None:
            self.dispatcher.notify(event, strategy=self.journal.strategy)
        if self.on_alert is not None:
            try:
                self.on_alert(event)
            except Exception as exc:  # telling people must never stop trading
                _log.error("alert failed", error=str(exc))


_SUPERSEDED = "superseded by run"  # the reason a run made by a losing twin start is stopped with


def run_until_stopped(live: LiveSession, feed: Iterable[Bar]) -> LiveSummary:
    """`LiveSession.run` until the feed ends or the process gets SIGINT or SIGTERM, which stop it cleanly
    (the previous handlers are restored afterwards). Call it from the main thread.

    Examples
    --------
    >>> summary = run_until_stopped(live, source.stream(["SPY"]))  # Ctrl-C to stop  # doctest: +SKIP
    >>> summary.run_id, summary.halted  # doctest: +SKIP
    (7, False)
    """
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return live.run(feed, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def latest_run(
    store: Any, strategy: str, symbols: str | Sequence[str], broker: str, params: Mapping[str, Any] | None = None
) -> int | None:
    """The newest recorded live run of ``strategy`` on ``symbols`` (the same, in the same order) with a
    ``broker`` of that kind and, when given, the same ``params`` (another parameter set is another run), if any."""
    runs = _matching_runs(store, strategy, _symbols(symbols), broker, params)
    return max(runs) if runs else None


def _matching_runs(
    store: Any, strategy: str, names: tuple[str, ...], broker: str, params: Mapping[str, Any] | None
) -> list[int]:
    """The recorded live runs `latest_run` chooses from: this strategy (and ``params``) on ``names`` with a
    ``broker`` of that kind, less those a twin superseded (see `_first_of_twins`)."""
    with store.unit_of_work(readonly=True) as uow:
        runs = uow.runs.find(kind="live", strategy=strategy, limit=None)
        states = uow.run_states.of_runs([row.id for row in runs])
    matching = []
    for row in runs:
        config, state = row.config or {}, states.get(row.id)
        same = params is None or dict(row.params or {}) == dict(params)
        same = same and _recorded_symbols(config) == names and config.get("broker", "sim") == broker
        if same and not (state is not None and (state.reason or "").startswith(_SUPERSEDED)):
            matching.append(row.id)
    return matching


def _first_of_twins(
    store: Any, journal: OrderJournal, lease: RunLease | None, strategy: str, names: tuple[str, ...], kind: str,
    params: Mapping[str, Any],
) -> None:  # fmt: skip
    """A run just made because ``run="latest"`` found none. When another session made one at the same time (two
    starts racing), the first made is the run: this one is stopped as superseded (``latest`` never picks it) and
    this session refused, naming the session trading the first (`RunLocked`)."""
    twins = [r for r in _matching_runs(store, strategy, names, kind, params) if r < journal.run_id]
    if not twins:
        return
    first = min(twins)
    if lease is not None:
        lease.release(RunState.STOPPED, f"{_SUPERSEDED} {first}, started at the same time by another session")
    other = take_run(store, first, None)  # RunLocked while the other session trades it
    if other is not None:
        other.release(RunState.STOPPED, "its session ended before trading")
    raise ValueError(
        f"run {first} of {strategy} on {','.join(names)} was started at the same time by another session, which has "
        f"ended since: start again to resume run {first}"
    )


def check_run(
    store: Any,
    run_id: int,
    symbols: str | Sequence[str],
    broker: str,
    strategy: str,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """A resumed run must be of this strategy with these parameters, on these symbols and this kind of broker
    (a local paper account is not Alpaca's): trading on with others would record orders under a configuration
    that did not make them. Returns the run's recorded configuration; ``ValueError`` names what differs."""
    names = _symbols(symbols)
    with store.unit_of_work(readonly=True) as uow:
        row = uow.runs.get(run_id)
        config, recorded_params, recorded_strategy = row.config or {}, dict(row.params or {}), row.strategy
    if recorded_strategy != strategy:
        raise ValueError(f"run {run_id} traded {recorded_strategy}, not {strategy}: start a new run for {strategy}")
    recorded = (",".join(_recorded_symbols(config) or names), config.get("broker", "sim"))
    if recorded != (",".join(names), broker):
        raise ValueError(
            f"run {run_id} traded {recorded[0]} via {recorded[1]}, not {','.join(names)} via {broker}: resume it "
            "with those, or start a new run"
        )
    if recorded_params != dict(params):
        raise ValueError(
            f"run {run_id} traded {strategy} with {_param_text(recorded_params)}, not {_param_text(params)}: resume "
            "it with those parameters, or start a new run"
        )
    return config


def _param_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "no parameters"


def _recorded_symbols(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The symbols a run's configuration records (``symbols``; ``symbol`` alone for a run of one)."""
    if "symbols" in config:
        return tuple(s.upper() for s in config["symbols"])
    return (config["symbol"].upper(),) if config.get("symbol") else ()


def _symbols(symbols: str | Sequence[str]) -> tuple[str, ...]:
    """``"SPY"``, ``"SPY,QQQ"`` or a list of them as upper-case names, each once, in the order given."""
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    names = [s.strip().upper() for item in items for s in item.split(",") if s.strip()]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"symbols={symbols!r}: expected one or more symbols, each once")
    return tuple(names)


def _utc(moment: Any) -> pd.Timestamp:
    """``moment`` (text, datetime or Timestamp) as a UTC Timestamp; a naive one is taken as UTC."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _history(history: pd.DataFrame | Mapping[str, pd.DataFrame] | None, names: tuple[str, ...]) -> dict[str, Any]:
    """Warm-up bars by symbol: a mapping as given (upper-case keys), or one bar table for a single symbol."""
    if history is None:
        return {}
    if isinstance(history, pd.DataFrame):
        if len(names) != 1:
            raise ValueError(f"history of {', '.join(names)}: expected a bar table per symbol (a dict), got one table")
        return {names[0]: history}
    return {s.upper(): f for s, f in history.items()}


def _read(feed: Iterable[Bar], bars: queue.Queue[Any], done: threading.Semaphore, stop: threading.Event) -> None:
    """The feed thread: one bar at a time, the next asked for only once the session is done with this one."""
    try:
        for bar in feed:
            bars.put(bar)
            while not done.acquire(timeout=0.5):
                if stop.is_set():
                    return
            if stop.is_set():
                return
    except Exception as exc:  # a broken feed ends the session cleanly; the error is logged
        _log.error("feed failed; the session stops", error=str(exc))
    finally:
        bars.put(_END)
