"""``Desk``: the trading actions on one recorded account (a `TradingContext` whose OrderManager journals every
order), one at a time: what the API's trading routes and the dashboard's cancel and kill switch act through. What
the account holds and placed is read back from the store (`services.snapshot`), as every front end reads it.

A manual order takes a strategy order's path: the RiskManager's size caps (``max_shares``, ``max_order_value``:
``cap_size``, the kernel a strategy's target goes through), then ``OrderManager.submit`` (allowed symbols and
trading hours, then the broker). A strategy's target is cut to a cap; a manual order is refused instead, naming
the rule (nobody asked for a smaller order), and the refusal is a ``deny`` risk event like any other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from workbench.errors import ConfigError, WorkbenchError
from workbench.orders.model import Order, OrderStatus, OrderType
from workbench.ports import Account
from workbench.risk.manager import RiskEvent
from workbench.services import snapshot
from workbench.trading.account import TradingContext


class DeskError(WorkbenchError):
    """The desk cannot do what was asked now (an order that is not open, trading halted, no price, ...)."""


class OrderNotFound(DeskError):
    """No order with that id was placed on this account."""


class RiskDenied(DeskError):
    """The RiskManager refused an order: ``rule`` names the rule, ``order`` is the refused order."""

    def __init__(self, message: str, *, rule: str, order: Order) -> None:
        super().__init__(message)
        self.rule, self.order = rule, order


@dataclass(frozen=True)
class RiskStatus:
    """The rules in force, whether trading is halted (and why), and the latest risk decisions, newest first."""

    rules: dict[str, Any]
    halted: bool
    halt_reason: str | None
    events: list[RiskEvent]


class Desk:
    """Orders, positions, account and the halt switch of ``context``, serialized by ``lock`` (pass the lock of a
    session loop that trades the same objects, so an API request never interleaves with a bar).

    Examples
    --------
    >>> from workbench.risk.manager import RiskRules
    >>> from workbench.store import Store
    >>> from workbench.trading.build import api_account
    >>> account = api_account(Store.open("sqlite://"), cash=10_000, rules=RiskRules(max_order_value=1_000))
    >>> account.quote("SPY", 500.0)
    >>> desk = Desk(account)
    >>> now = account.om.clock.now()
    >>> desk.submit(Order(symbol="SPY", side="buy", qty=1, created_at=now)).status.value
    'filled'
    >>> desk.submit(Order(symbol="SPY", side="buy", qty=3, created_at=now))
    Traceback (most recent call last):
    ...
    workbench.services.desk.RiskDenied: order ... denied by risk rule max_order_value: ...
    """

    def __init__(self, context: TradingContext, lock: threading.RLock | None = None) -> None:
        if context.om.journal is None:
            raise ConfigError(
                "a desk trades a recorded account: give the session a journal (store.journal.OrderJournal), or use "
                "trading.build.api_account"
            )
        self.context, self.journal = context, context.om.journal
        self.lock = lock or threading.RLock()
        self.halt_reason: str | None = None

    @property
    def run_id(self) -> int:
        """The run the account's orders, fills and positions are recorded in."""
        return self.journal.run_id

    @property
    def halted(self) -> bool:
        """Whether new orders are refused: halted from the API, or by the drawdown kill switch."""
        return self.context.risk_manager.halted

    def submit(self, order: Order) -> Order:
        """Send ``order`` through the RiskManager and the OrderManager; returns it as the broker left it.

        Raises
        ------
        RiskDenied
            A size cap, the allowed symbols or the trading hours refused it (``rule`` says which).
        DeskError
            Trading is halted, or a market order has no price to be valued at.
        """
        om, risk = self.context.om, self.context.risk_manager
        with self.lock:
            if self.halted:
                raise DeskError(f"trading is halted ({self.halt_reason or 'by the risk rules'}): no new orders")
            price = _order_price(order)
            if price is None:
                price = self.context.last_price(order.symbol)
            if price is None:
                raise DeskError(f"no price for {order.symbol}: a market order cannot be checked against the risk rules")
            now = om.clock.now()
            position = om.broker.positions().get(order.symbol, 0.0)
            allowed = risk.cap_size(now, order.symbol, order.signed_qty, position, price)
            if allowed != order.signed_qty:
                rule = risk.events[-1].rule
                details = {"wanted": order.signed_qty, "allowed": allowed, "price": price}
                risk.denied(now, order.symbol, rule, details)
                raise RiskDenied(
                    f"order {order.id} denied by risk rule {rule}: {order.qty:g} {order.symbol} at {price:g}, "
                    f"at most {abs(allowed):g} allowed",
                    rule=rule,
                    order=order,
                )
            seen = len(risk.events)
            sent = om.submit(order)
            denial = next((e for e in risk.events[seen:] if e.decision == "deny"), None)
            if sent.status is OrderStatus.REJECTED and denial is not None:
                raise RiskDenied(f"order {order.id} denied by risk rule {denial.rule}", rule=denial.rule, order=sent)
            return sent

    def cancel(self, order_id: str) -> Order:
        """Cancel an open order placed on this account."""
        with self.lock:
            order = self.order(order_id)
            if not order.is_open:
                raise DeskError(f"order {order_id} is {order.status.value} and cannot be canceled")
            return self.context.om.broker.cancel(order_id)

    def order(self, order_id: str) -> Order:
        """The order ``order_id`` (strategy or manual) placed on this account, as recorded."""
        found = snapshot.order(self.journal.store, self.run_id, order_id)
        if found is None:
            raise OrderNotFound(f"order {order_id} was not placed on this account")
        return found

    def orders(self, *, open_only: bool = False) -> list[Order]:
        """Every order placed on this account (only the working ones with ``open_only``), newest first."""
        return snapshot.orders(self.journal.store, self.run_id, open_only=open_only)

    def positions(self) -> list[dict[str, Any]]:
        """The account's open positions, one dict each (``services.snapshot.POSITION_COLUMNS``): as the dashboard
        shows them."""
        return snapshot.positions(self.journal.store, [self.run_id]).to_dict("records")

    def account(self) -> Account:
        """Cash and equity at the latest prices."""
        with self.lock:
            return self.context.om.broker.account()

    def risk(self, last: int = 50) -> RiskStatus:
        """The rules in force, the halt state and the ``last`` risk decisions."""
        risk = self.context.risk_manager
        with self.lock:
            events = risk.events[-last:][::-1]
        return RiskStatus(risk.rules.active(), self.halted, self.halt_reason if self.halted else None, events)

    def halt(self, reason: str) -> None:
        """Refuse every new order until `resume` (orders already working stay; cancel them to pull them)."""
        with self.lock:
            self.context.risk_manager.halted = True
            self.halt_reason = reason

    def resume(self) -> None:
        """Accept orders again after `halt` (or after the drawdown kill switch, by a person's decision)."""
        with self.lock:
            self.context.risk_manager.halted = False
            self.halt_reason = None


def _order_price(order: Order) -> float | None:
    """The price an order is valued at by the size caps: its limit, else its stop; None for a market order."""
    if order.type is OrderType.MARKET:
        return None
    return order.limit_price if order.limit_price is not None else order.stop_price
