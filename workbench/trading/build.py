"""The composition root: the only place that chooses what a run trades through.

For every kind of run it picks the clock, the broker and the simulation controls (the `Venue`), the risk rules'
objects (RiskManager, OrderManager, RiskMonitor: the `TradingCore`), how a recorded run is brought back (a
simulated account restored from its records, a real one reconciled with the broker) and who is told (the
notifier). The callers only say which run they want:

* a backtest, and the drift report's re-simulation: `replay_venue` (a `SimBroker` on a `SimClock`);
* a local paper session (``workbench paper``, ``workbench live --broker sim``, a scheduled notebook, the API's
  paper account): `paper_venue` (a `SimBroker` on the wall clock);
* an Alpaca paper or live session: `broker` (``alpaca-paper`` / ``alpaca-live`` from the settings);
* the API's account of manual orders: `api_account` (a recorded local paper account);
* a broker built by a user or a test (``LiveSession.open``, ``TradingSession``): `venue_of`.

Nothing else in the package builds a broker, picks a clock or asks a broker or clock what it is.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from workbench.brokers.sim import SimBroker
from workbench.clock import Clock, SimClock, SystemClock
from workbench.engine.inputs import Costs, check_costs
from workbench.orders.manager import OrderManager
from workbench.ports import Broker
from workbench.risk.manager import RiskManager, RiskRules
from workbench.risk.monitor import RiskMonitor
from workbench.trading.account import PaperAccount
from workbench.trading.venue import Simulated, Venue

if TYPE_CHECKING:
    from collections.abc import Sequence

    from workbench.config import Settings
    from workbench.notify.dispatcher import Dispatcher
    from workbench.store.journal import OrderJournal
    from workbench.trading.reconcile import Reconciliation


# --- venues ------------------------------------------------------------------------------------------------------


def venue_of(broker: Broker, clock: Clock | None = None) -> Venue:
    """The venue of a ``broker`` built elsewhere (by a test, a notebook), on ``clock`` (the wall clock by default):
    what is simulated of the two is told each fill's time (a `SimClock`) and price (a `SimBroker`)."""
    clock = clock if clock is not None else SystemClock()
    simulated = Simulated(
        clock if isinstance(clock, SimClock) else None, broker if isinstance(broker, SimBroker) else None
    )
    return Venue(clock, broker, simulated)


def replay_venue(
    cash: float, start: datetime, *, fees: float = 0.0, fixed_fee: float = 0.0, slippage: float = 0.0
) -> Venue:
    """A simulated account holding ``cash`` on a simulated clock starting at ``start``: a backtest's, a
    re-simulation's."""
    clock = SimClock(start)
    return venue_of(SimBroker(clock, cash=cash, fees=fees, fixed_fee=fixed_fee, slippage=slippage), clock)


def paper_venue(
    cash: float, *, fees: float = 0.0, fixed_fee: float = 0.0, slippage: float = 0.0, clock: Clock | None = None
) -> Venue:
    """A local paper account: a simulated broker holding ``cash`` on the wall clock (or ``clock``), no keys."""
    clock = clock if clock is not None else SystemClock()
    return venue_of(SimBroker(clock, cash=cash, fees=fees, fixed_fee=fixed_fee, slippage=slippage), clock)


def broker(
    settings: Settings, kind: str, *, cash: float | None = None, fees: float = 0.0
) -> AbstractContextManager[Any]:
    """The broker of kind ``kind``, as a context manager: ``sim`` (a local paper account holding ``cash``, default
    the setting ``initial_cash``), ``alpaca-paper`` or ``alpaca-live`` (its settings checked now, connected once
    entered, closed on exit)."""
    if kind == "sim":
        return nullcontext(paper_venue(settings.initial_cash if cash is None else cash, fees=fees).broker)
    from workbench.brokers.alpaca import AlpacaBroker

    return AlpacaBroker.from_settings(settings, broker=kind)


# --- the objects every order passes --------------------------------------------------------------------------------


class TradingCore(NamedTuple):
    """The costs, RiskManager, OrderManager and RiskMonitor of a run (what a session unpacks)."""

    costs: Costs
    risk_manager: RiskManager
    om: OrderManager
    monitor: RiskMonitor


def trading_core(
    venue: Venue,
    rules: RiskRules,
    strategy: str,
    journal: OrderJournal | None,
    *,
    fees: float,
    slippage: float,
    fixed_fee: float,
    fill: str,
) -> TradingCore:
    """The costs checked against the account's equity (ValueError naming a bad one), a `RiskManager` of ``rules``,
    an `OrderManager` placing ``strategy``'s orders through it at ``venue`` (journaled in ``journal``), and a
    `RiskMonitor` of ``rules`` following those orders."""
    costs = check_costs(venue.broker.account().equity, fees, slippage, fill, rules.active(), fixed_fee)
    risk_manager = RiskManager(rules)
    charges = {"fees": fees, "fixed_fee": fixed_fee, "slippage": slippage}
    om = OrderManager(venue.broker, venue.clock, **charges, strategy=strategy, risk=risk_manager, journal=journal)
    monitor = RiskMonitor(venue.broker, rules)
    om.subscribe(monitor.on_event)
    return TradingCore(costs, risk_manager, om, monitor)


class BacktestAccount(NamedTuple):
    """What a backtest trades through: its venue, the RiskManager of its rules and the OrderManager."""

    venue: Venue
    risk_manager: RiskManager
    om: OrderManager


def backtest_account(costs: Costs, start: datetime, strategy: str, rules: RiskRules) -> BacktestAccount:
    """A backtest's account: a `replay_venue` with ``costs``' cash, fees and slippage from ``start``, a `RiskManager`
    of ``rules``, and the OrderManager that sizes and sends ``strategy``'s orders to it through that manager."""
    charges = {"fees": costs.fees, "fixed_fee": costs.fixed_fee, "slippage": costs.slippage}
    venue = replay_venue(costs.cash, start, **charges)
    risk_manager = RiskManager(rules)
    om = OrderManager(venue.broker, venue.clock, **charges, strategy=strategy, risk=risk_manager)
    return BacktestAccount(venue, risk_manager, om)


def journal_run(journal: OrderJournal, risk_manager: RiskManager, costs: Costs, rules: RiskRules, **extra: Any) -> None:
    """Record ``risk_manager``'s decisions in ``journal`` from now on, and the costs and ``rules`` the run trades with
    (plus ``extra``, such as a portfolio's weights): what the drift report re-simulates the run with."""
    risk_manager.subscribe(journal.record_risk)
    charged = {"fees": costs.fees, "slippage": costs.slippage, "fixed_fee": costs.fixed_fee}
    journal.record_costs({**charged, "fill": costs.fill, "risk": rules.active(), **extra})


# --- a recorded run, brought back ----------------------------------------------------------------------------------


def resume(
    venue: Venue,
    journal: OrderJournal,
    symbols: Sequence[str],
    *,
    resumed: bool,
    cash_tolerance: float | None,
) -> Reconciliation | None:
    """Bring ``venue``'s account to ``journal``'s run before it trades again. A simulated account has no memory of
    its own: a ``resumed`` run's cash, positions and working orders are restored from the records. A real one
    holds the truth: the records are reconciled with it (`trading.reconcile`; ``cash_tolerance`` bounds the cash
    difference accepted), and the reconciliation is returned."""
    if isinstance(venue.broker, SimBroker):
        if resumed:
            state = journal.restore()
            positions = {s: p.qty for s, p in state.positions.items()}
            venue.broker.restore(state.cash, positions, state.open_orders)
        return None
    from workbench.trading.reconcile import reconcile  # the store's machinery: imported by the runs that use it

    return reconcile(journal, venue.broker, symbols, venue.clock.now(), cash_tolerance=cash_tolerance)


# --- the API's account ----------------------------------------------------------------------------------------------

#: The name the API's paper account records its run under: it trades manual orders only.
MANUAL = "manual"


def api_account(
    store: Any,
    *,
    cash: float,
    rules: RiskRules | None = None,
    fees: float = 0.0,
    slippage: float = 0.0,
    clock: Clock | None = None,
    symbols: Sequence[str] = (),
) -> PaperAccount:
    """The API's local paper account (``workbench api serve --paper``): a `paper_venue` holding ``cash``, its
    RiskManager of ``rules``, and an OrderManager recording every order, fill and position in a new run of ``store``
    (strategy ``manual``, broker ``sim``, ``symbols`` it quotes), where every front end reads them; the run is live
    (its lease held) until the account is closed."""
    from workbench.store.journal import OrderJournal

    venue = paper_venue(cash, fees=fees, slippage=slippage, clock=clock)
    names = [s.upper() for s in symbols]
    config = {"symbol": ",".join(names), "symbols": names, "broker": venue.kind}
    journal = OrderJournal.start(store, MANUAL, cash=cash, config=config, register=False)
    risk_manager = RiskManager(rules)
    charges = {"fees": fees, "slippage": slippage}
    om = OrderManager(venue.broker, venue.clock, **charges, risk=risk_manager, journal=journal)
    from workbench.trading.run_lock import RunLease

    return PaperAccount(venue, risk_manager, om, RunLease.acquire(store, journal.run_id))


# --- who is told ---------------------------------------------------------------------------------------------------


def notifier(settings: Settings | None, store: Any) -> Dispatcher | None:
    """A notification dispatcher over the channels ``settings`` configure (`load_settings` when None), recording
    in ``store``, or None when they configure none."""
    from workbench.config import load_settings

    settings = settings if settings is not None else load_settings()
    if not settings.notify_channels:
        return None
    from workbench.notify.dispatcher import Dispatcher

    return Dispatcher.from_settings(settings, store)
