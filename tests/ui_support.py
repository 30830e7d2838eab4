"""Helpers of the dashboard tests: users of each role, a paper account that journals to the store like a live
session, and a store seeded with two live runs (positions, filled and working orders, marks, a risk event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher

from workbench.auth.accounts import Accounts
from workbench.auth.policy import AuthPolicy
from workbench.brokers.sim import SimBroker
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order
from workbench.risk.manager import RiskEvent, RiskManager
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock

#: argon2id at its cheapest (the server verifies these hashes with its own, default, parameters and rehashes).
CHEAP = AuthPolicy(hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
PASSWORD = "correct horse battery"
USERS = {"trader": "tom", "viewer": "vic", "admin": "ada"}
T0 = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)


def add_users(store: Store) -> None:
    """A user of each role (``USERS``), all with ``PASSWORD``."""
    accounts = Accounts(store, CHEAP)
    for role, name in USERS.items():
        accounts.add_user(name, PASSWORD, role=role, actor="test")


class JournaledAccount:
    """A paper account trading one symbol whose every order, fill and position goes to the store, as a live
    session's do (a `workbench.trading.account.TradingContext`, so a `Desk` can cancel through it). Like a session it
    holds its run's lease, so the run is live until `stop`."""

    def __init__(
        self,
        store: Store,
        strategy: str,
        symbol: str,
        price: float,
        *,
        cash: float = 10_000.0,
        params: dict[str, int] | None = None,
    ) -> None:
        self.clock = FrozenClock(T0)
        self.symbol = symbol
        params = params or {"fast": 5, "slow": 20}
        config = {"symbol": symbol, "broker": "sim"}
        self.journal = OrderJournal.start(store, strategy, cash=cash, params=params, config=config)
        self.broker = SimBroker(self.clock, cash=cash)
        self.risk_manager = RiskManager()
        self.om = OrderManager(self.broker, self.clock, strategy=strategy, risk=self.risk_manager, journal=self.journal)
        self.price = price
        self.broker.quote(symbol, price)
        self.store = store
        with store.unit_of_work() as uow:  # a lease that lasts the test, without a heartbeat thread
            now = datetime.now(UTC)
            run_id = self.journal.run_id
            uow.run_states.take(run_id, host="test", pid=0, token="t", now=now, expires_at=now + timedelta(days=1))

    def stop(self, state: str = "stopped") -> None:
        """The session ends: its run is live no more."""
        with self.store.unit_of_work() as uow:
            uow.run_states.end(self.journal.run_id, "t", state, None, datetime.now(UTC))

    def last_price(self, symbol: str) -> float | None:
        return self.price if symbol.upper() == self.symbol else None

    def move(self, price: float, minutes: int = 1) -> None:
        """Time passes and the price moves."""
        self.clock.advance(timedelta(minutes=minutes))
        self.price = price
        self.broker.quote(self.symbol, price)

    def trade(self, side: str, qty: float) -> Order:
        """A market order, filled at the current price."""
        return self.om.submit(Order(symbol=self.symbol, side=side, qty=qty, created_at=self.clock.now()))

    def working(self, side: str, qty: float, limit: float) -> Order:
        """A limit order away from the price: it stays working."""
        order = Order(
            symbol=self.symbol, side=side, qty=qty, type="limit", limit_price=limit, created_at=self.clock.now()
        )
        return self.om.submit(order)

    def mark(self) -> None:
        """Record the account at the current price (what a session does at each bar's close)."""
        account = self.broker.account()
        self.journal.record_mark(self.clock.now(), account.cash, account.equity)


@dataclass
class Seeded:
    """The two live runs of a seeded store."""

    spy: JournaledAccount
    qqq: JournaledAccount
    working: Order


def seed(store: Store) -> Seeded:
    """``sma_cross`` long 10 SPY (bought at 500, marked at 510, a buy limit working at 450) and ``rsi_reversion``
    long 20 QQQ (bought at 400, marked at 390), each with a risk event; both strategies enabled."""
    spy = JournaledAccount(store, "sma_cross", "SPY", 500.0)
    spy.mark()
    spy.trade("buy", 10)
    spy.move(510.0)
    working = spy.working("buy", 2, 450.0)
    spy.mark()
    spy.journal.record_risk(RiskEvent(spy.clock.now(), "SPY", "resize", "max_shares", {"wanted": 12, "allowed": 10}))
    qqq = JournaledAccount(store, "rsi_reversion", "QQQ", 400.0, cash=20_000.0)
    qqq.mark()
    qqq.trade("buy", 20)
    qqq.move(390.0)
    qqq.mark()
    qqq.journal.record_risk(RiskEvent(qqq.clock.now(), "QQQ", "deny", "allowed_symbols", {"symbol": "QQQ"}))
    return Seeded(spy, qqq, working)
