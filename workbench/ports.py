"""The runtime boundaries: only these differ between a backtest and a live session, and the composition root
(`workbench.trading.build`) picks their implementations; everything else is written against these Protocols.

* ``Clock`` (`workbench.clock`): `SystemClock` live, `SimClock` in a simulation;
* ``DataFeed`` (`workbench.data.feeds`): a replay of history or a live stream of ``Bar``;
* ``Broker``: `SimBroker` (backtests, local paper) or `AlpacaBroker` (paper and live);
* ``Simulation``: what only a simulated venue can be told (the time, a symbol's price); a live venue's
  simulation does nothing, so the code that drives orders never asks what it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from workbench.clock import Clock
from workbench.data.feeds import Bar, DataFeed
from workbench.orders.model import Order, OrderEvent

__all__ = ["Account", "Bar", "Broker", "Clock", "DataFeed", "MarketClock", "Simulation"]


@dataclass(frozen=True, slots=True)
class Account:
    """Cash and the value of the account at the last marked prices."""

    cash: float
    equity: float


@dataclass(frozen=True, slots=True)
class MarketClock:
    """Whether a venue's market trades now, and when that changes next (None: never, a simulated venue)."""

    timestamp: datetime
    is_open: bool
    next_open: datetime | None
    next_close: datetime | None


@runtime_checkable
class Broker(Protocol):
    """Where orders go: SimBroker (backtest and local paper) or AlpacaBroker.

    ``kind`` is what a run records as its broker (``sim``, ``alpaca-paper``, ``alpaca-live``). ``pump`` hands the
    subscribers the events that arrived since the last call (a streaming broker; a simulated one has emitted its
    events already) and ``track`` makes the broker move the very ``Order`` objects given (a resumed run's working
    orders) when their updates arrive. ``market_clock`` says whether a market order fills now or queues for the
    open (Alpaca's clock; a simulated venue is open whenever it is told a price).
    """

    @property
    def kind(self) -> str: ...

    def submit(self, order: Order) -> Order: ...

    def cancel(self, order_id: str) -> Order: ...

    def get_order(self, order_id: str) -> Order: ...

    def list_orders(self, open_only: bool = False) -> list[Order]: ...

    def positions(self) -> dict[str, float]: ...

    def account(self) -> Account: ...

    def subscribe(self, handler: Callable[[OrderEvent], None]) -> None: ...

    def pump(self, timeout: float = 0.0) -> int: ...

    def track(self, orders: Iterable[Order]) -> None: ...

    def market_clock(self) -> MarketClock: ...


class Simulation(Protocol):
    """What only a simulated venue can be told, by the code that replays bars through it: the time it is now
    (its clock is moved to each fill's time) and the price a symbol trades at (market orders fill there). At a
    live venue time and prices are the market's: its simulation does nothing."""

    def set_time(self, moment: datetime) -> None: ...

    def quote(self, symbol: str, price: float) -> None: ...
