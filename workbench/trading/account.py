"""What the outside sees of a running account: `TradingContext` (the order path the API's manual orders take),
`Session` (a trading session as the metrics and notifications watch it), and `PaperAccount`, a local recorded paper
account that trades only manual orders (``workbench api serve --paper``), built by `trading.build.api_account`.

A live or paper session (``TradingSession``, ``PortfolioSession``) is a `Session` as it is: it owns ``om`` (its
OrderManager, which holds the broker, the clock and the run's journal), ``risk_manager`` (the RiskManager its
strategy's orders pass) and ``last_price``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from workbench.data.feeds import Bar
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order
from workbench.ports import Broker
from workbench.risk.manager import RiskManager
from workbench.risk.monitor import RiskMonitor
from workbench.strategies.base import Strategy
from workbench.trading.venue import Venue


@runtime_checkable
class TradingContext(Protocol):
    """A running account the API can act on: ``om``, the OrderManager every order goes through (its ``broker``,
    ``clock`` and ``journal`` are the account's), and ``risk_manager``, the RiskManager it applies."""

    om: OrderManager
    risk_manager: RiskManager

    def last_price(self, symbol: str) -> float | None:
        """The latest price of ``symbol`` (what market orders are valued at for the risk rules), or None."""
        ...


class Session(TradingContext, Protocol):
    """A trading session as it is watched from outside: its strategy and symbols, its account's objects, and the
    bars it takes (``on_bar``, which the metrics time)."""

    strategy: Strategy
    symbols: tuple[str, ...]
    broker: Broker
    monitor: RiskMonitor
    on_bar: Callable[[Bar], list[Order]]

    @property
    def last_bar(self) -> datetime | None: ...


class PaperAccount:
    """A local paper account trading manual orders only: a simulated venue, its RiskManager and the OrderManager
    that records every order in the account's run. Market orders fill at the price last given to `quote`.

    Examples
    --------
    >>> from workbench.store import Store
    >>> from workbench.trading.build import api_account
    >>> account = api_account(Store.open("sqlite://"), cash=10_000)
    >>> account.quote("SPY", 500.0)
    >>> account.last_price("spy"), account.om.broker.account().cash
    (500.0, 10000.0)
    """

    def __init__(self, venue: Venue, risk_manager: RiskManager, om: OrderManager, lease: Any = None) -> None:
        self.venue, self.broker, self.risk_manager, self.om = venue, venue.broker, risk_manager, om
        self.lease = lease  # its run's lease (`trading.run_lock.RunLease`): the run is live while the account is
        self._prices: dict[str, float] = {}

    def close(self) -> None:
        """The account is served no more: its run is ``stopped``."""
        if self.lease is not None:
            self.lease.release("stopped")

    def quote(self, symbol: str, price: float) -> None:
        """Set the price ``symbol`` trades at now."""
        self.venue.simulation.quote(symbol, price)
        self._prices[symbol.upper()] = float(price)

    def last_price(self, symbol: str) -> float | None:
        return self._prices.get(symbol.upper())
