"""What the API trades through: a `TradingContext` (the order manager and risk manager of a running session, and
the last prices it saw), and `PaperAccount`, a local one on the simulated broker that needs no keys.

A live or paper session (``TradingSession``, ``PortfolioSession``) plugs in as it is: it owns ``om`` (its
OrderManager, which holds the broker and the clock), ``risk_manager`` (the RiskManager its strategy's orders pass)
and ``last_price``. Manual orders from the API then take the strategy's path through the very same objects; give
the `Desk` the ``lock`` of the `LiveSession` running it, and `create_app` its ``metrics``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from workbench.brokers.sim import SimBroker
from workbench.clock import SystemClock
from workbench.orders.manager import OrderManager
from workbench.ports import Clock
from workbench.risk.manager import RiskManager, RiskRules


@runtime_checkable
class TradingContext(Protocol):
    """A running account the API can act on: ``om``, the OrderManager every order goes through (its ``broker``
    and ``clock`` are the account's), and ``risk_manager``, the RiskManager it applies."""

    om: OrderManager
    risk_manager: RiskManager

    def last_price(self, symbol: str) -> float | None:
        """The latest price of ``symbol`` (what market orders are valued at for the risk rules), or None."""
        ...


class PaperAccount:
    """A local paper account: a `SimBroker` holding ``cash``, its OrderManager and a RiskManager with ``rules``.

    Market orders fill at the price last given to `quote`.

    Examples
    --------
    >>> account = PaperAccount(cash=10_000, rules=RiskRules(max_order_value=1_000))
    >>> account.quote("SPY", 500.0)
    >>> account.last_price("spy"), account.om.broker.account().cash
    (500.0, 10000.0)
    """

    def __init__(
        self,
        *,
        cash: float = 10_000.0,
        rules: RiskRules | None = None,
        clock: Clock | None = None,
        fees: float = 0.0,
        slippage: float = 0.0,
    ) -> None:
        clock = clock or SystemClock()
        self.broker = SimBroker(clock, cash=cash, fees=fees, slippage=slippage)
        self.risk_manager = RiskManager(rules)
        self.om = OrderManager(self.broker, clock, fees=fees, slippage=slippage, risk=self.risk_manager)
        self._prices: dict[str, float] = {}

    def quote(self, symbol: str, price: float) -> None:
        """Set the price ``symbol`` trades at now."""
        self.broker.quote(symbol, price)
        self._prices[symbol.upper()] = float(price)

    def last_price(self, symbol: str) -> float | None:
        return self._prices.get(symbol.upper())
