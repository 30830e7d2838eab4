"""A broker for drift tests: fills one symbol's orders worse than its quotes by a known amount."""

from __future__ import annotations

from workbench.brokers.sim import SimBroker
from workbench.clock import Clock
from workbench.orders.model import Order


class SlippingBroker(SimBroker):
    """A SimBroker filling every order of ``symbol`` ``by`` worse than its quote: buys above, sells below."""

    def __init__(self, clock: Clock, symbol: str, by: float, cash: float) -> None:
        super().__init__(clock, cash=cash)
        self.symbol, self.by, self.quotes = symbol, by, {}

    def quote(self, symbol: str, price: float, volume: float | None = None) -> None:
        self.quotes[symbol.upper()] = price
        super().quote(symbol, price, volume)

    def submit(self, order: Order) -> Order:
        if order.symbol != self.symbol:
            return super().submit(order)
        price = self.quotes[order.symbol]
        super().quote(order.symbol, price + self.by * order.side.sign)
        try:
            return super().submit(order)
        finally:
            super().quote(order.symbol, price)
