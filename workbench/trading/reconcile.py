"""Restart reconciliation: a run's records against the broker's account, order by order (``client_order_id``).

When a session starts on a recorded run, its records may lag the broker: the process may have stopped (even by
SIGKILL) after it recorded an order and before it sent it, after it sent it and before it heard back, or after
a fill happened and before it was recorded. `reconcile` settles all of these before any new order goes out:

* every order the records hold as working or unsent is looked up at the broker by its ``client_order_id``:
  found, it is brought to the broker's state (acceptance, the fills it missed with their execution ids, its
  end), each event recorded as it would have been live; not found, an unsent order ends ``canceled`` ("never
  sent") and its id stays used, so it is never sent again;
* then what is left must agree: the broker's open orders in the run's symbols are all known, the positions
  recorded equal the broker's, and so does the cash (the run's starting cash moved by every fill recorded) within
  a tolerance. Anything else (a working order the broker never had, a position or order made elsewhere, a deposit,
  a withdrawal or a fee the records do not know) cannot be explained: trading halts (a ``halt`` risk event on the
  run, the strategy halted in the store until a person resumes it), and it is logged and audited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from workbench.logs import get_logger
from workbench.orders.model import Order, OrderEvent, OrderStatus
from workbench.ports import Account
from workbench.risk.manager import ACCOUNT, RiskEvent
from workbench.store.journal import OrderJournal

_log = get_logger("workbench.reconcile")
#: The rule of the risk event that halts a run whose records and broker disagree.
RECONCILE = "reconcile"
#: The reason an order recorded but never sent ends with.
NEVER_SENT = "never sent: the session stopped after recording it and before sending it"
#: The cash difference (in the account's currency) a reconciliation accepts: a broker rounding to cents over many
#: fills; a regulatory fee or a dividend is more, and is for a person to look at.
CASH_TOLERANCE = 1.0


class RemoteBroker(Protocol):
    """A broker that holds the truth of an account elsewhere and can be asked about an order by its
    ``client_order_id`` (``AlpacaBroker``)."""

    def track(self, orders: Iterable[Order]) -> None: ...

    def sync(self, order: Order) -> bool: ...

    def get_order(self, order_id: str) -> Order: ...

    def list_orders(self, open_only: bool = False) -> list[Order]: ...

    def positions(self) -> dict[str, float]: ...

    def account(self) -> Account: ...

    def subscribe(self, handler: Callable[[OrderEvent], None]) -> None: ...

    def unsubscribe(self, handler: Callable[[OrderEvent], None]) -> None: ...


@dataclass
class Reconciliation:
    """What reconciling a run did: orders found to have been sent, orders never sent, events recorded that
    happened while the run was down, and the differences it could not explain (non-empty: trading halted)."""

    sent: list[str] = field(default_factory=list)
    never_sent: list[str] = field(default_factory=list)
    events: int = 0
    differences: list[str] = field(default_factory=list)
    halt: RiskEvent | None = None

    @property
    def ok(self) -> bool:
        """True when the records and the broker agree."""
        return not self.differences


def reconcile(
    journal: OrderJournal,
    broker: RemoteBroker,
    symbols: Iterable[str],
    now: datetime,
    *,
    tolerance: float = 1e-6,
    cash_tolerance: float | None = CASH_TOLERANCE,
) -> Reconciliation:
    """Bring the run of ``journal`` up to ``broker``'s account, then check they agree in ``symbols`` (see the
    module docstring). Positions agree within ``tolerance`` x ``max(1, |qty|)``, cash within ``cash_tolerance``
    (None: cash is not compared, for an account other runs or people trade too).

    Examples
    --------
    >>> result = reconcile(journal, broker, ["SPY"], clock.now())  # doctest: +SKIP
    >>> result.ok, result.never_sent  # doctest: +SKIP
    (True, ['6f0c...'])
    """
    result = Reconciliation()
    state = journal.restore()
    recorder = _Recorder(journal, broker, _stored_ids(journal))
    broker.subscribe(recorder)
    try:
        broker.track(state.open_orders)
        for order in state.open_orders:
            unsent = order.status is OrderStatus.NEW
            if broker.sync(order):
                if unsent:
                    result.sent.append(order.client_order_id)
            elif unsent:
                journal.record_event(order.transition(OrderStatus.CANCELED, now, NEVER_SENT), order)
                result.never_sent.append(order.client_order_id)
            else:
                result.differences.append(
                    f"order {order.client_order_id} ({order.side} {order.qty:g} {order.symbol}) is {order.status} "
                    "in the records but unknown to the broker"
                )
    finally:
        broker.unsubscribe(recorder)
    result.events = recorder.count
    result.differences += _differences(journal, broker, {s.upper() for s in symbols}, tolerance, cash_tolerance)
    if result.differences:
        result.halt = _halt(journal, result.differences, now)
    else:
        _log.info("reconciled", run_id=journal.run_id, events=result.events, never_sent=len(result.never_sent))
    return result


class _Recorder:
    """Records each event the broker emits while reconciling, with the order's state after it (an order the
    broker made, such as a bracket's leg, is recorded first)."""

    def __init__(self, journal: OrderJournal, broker: RemoteBroker, stored: set[str]) -> None:
        self.journal, self.broker, self.stored, self.count = journal, broker, stored, 0

    def __call__(self, event: OrderEvent) -> None:
        order = self.broker.get_order(event.order_id)
        if order.id not in self.stored:
            self.journal.record_order(order)
            self.stored.add(order.id)
        self.journal.record_event(event, order)
        self.count += 1


def _stored_ids(journal: OrderJournal) -> set[str]:
    with journal.store.unit_of_work(readonly=True) as uow:
        return {o.id for o in uow.orders.find(run_id=journal.run_id)}


def _differences(
    journal: OrderJournal, broker: RemoteBroker, symbols: set[str], tolerance: float, cash_tolerance: float | None
) -> list[str]:
    """What the records and the broker disagree on, after catching up: unknown open orders, positions, cash."""
    state = journal.restore()
    stored = _stored_ids(journal)
    found = []
    for order in broker.list_orders(open_only=True):
        known = order.client_order_id in state.client_order_ids or order.parent_id in stored
        if order.symbol in symbols and not known:
            found.append(
                f"open order {order.client_order_id} ({order.side} {order.qty:g} {order.symbol}) at the broker "
                "is not in the records"
            )
    held = broker.positions()
    for symbol in sorted(symbols | set(state.positions)):
        mine = state.positions[symbol].qty if symbol in state.positions else 0.0
        theirs = held.get(symbol, 0.0)
        if abs(mine - theirs) > tolerance * max(1.0, abs(theirs)):
            found.append(f"position {symbol}: {mine:g} in the records, {theirs:g} at the broker")
    if cash_tolerance is not None:
        cash = broker.account().cash
        if abs(state.cash - cash) > cash_tolerance:
            found.append(
                f"cash: {state.cash:,.2f} in the records, {cash:,.2f} at the broker "
                f"({cash - state.cash:+,.2f}, more than the {cash_tolerance:,.2f} tolerated)"
            )
    return found


def _halt(journal: OrderJournal, differences: list[str], now: datetime) -> RiskEvent:
    """Halt the run's strategy (a ``halt`` risk event on the run), log and audit why."""
    event = RiskEvent(now, ACCOUNT, "halt", RECONCILE, {"differences": differences})
    journal.record_risk(event)
    with journal.store.unit_of_work() as uow:
        details = {"run_id": journal.run_id, **event.details}
        uow.audit.add("live", "reconcile.halt", f"strategy:{journal.strategy}", details)
    _log.error("records and broker disagree: trading halted", run_id=journal.run_id, differences=differences)
    return event
