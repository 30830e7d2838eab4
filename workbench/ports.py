"""The three runtime boundaries: Clock, DataFeed and Broker. Only these differ between a backtest and a live
session; the composition root picks the implementations, everything else is written against these Protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from workbench.orders.model import Order, OrderEvent


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar of one symbol; ``timestamp`` is the bar's start (UTC)."""

    symbol: str
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Account:
    """Cash and the value of the account at the last marked prices."""

    cash: float
    equity: float


@runtime_checkable
class Clock(Protocol):
    """The time the system acts at: simulated in a backtest, the wall or market clock live."""

    def now(self) -> datetime: ...


@runtime_checkable
class DataFeed(Protocol):
    """Bars in time order: a replay of history or a live stream."""

    def __iter__(self) -> Iterator[Bar]: ...


@runtime_checkable
class Broker(Protocol):
    """Where orders go: SimBroker (backtest and local paper) or AlpacaBroker."""

    def submit(self, order: Order) -> Order: ...

    def cancel(self, order_id: str) -> Order: ...

    def get_order(self, order_id: str) -> Order: ...

    def list_orders(self, open_only: bool = False) -> list[Order]: ...

    def positions(self) -> dict[str, float]: ...

    def account(self) -> Account: ...

    def subscribe(self, handler: Callable[[OrderEvent], None]) -> None: ...
