"""``Venue``: where a run trades and what time it is there — its clock, its broker and the ``Simulation`` port the
replay code tells times and prices to — and `Simulated`, the one implementation of that port, which the composition
root (`trading.build`) gives each venue: a simulated clock (a backtest, a re-simulation, a replay in a test) is
moved to each time it is told, a simulated broker (a backtest, local paper trading) fills market orders at each
price it is told, and what is real — the wall clock, a real broker — is told nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workbench.brokers.sim import SimBroker
from workbench.clock import Clock, SimClock
from workbench.ports import Broker, Simulation


@dataclass(frozen=True)
class Venue:
    """A run's clock, broker and simulation controls, chosen together by the composition root."""

    clock: Clock
    broker: Broker
    simulation: Simulation

    @property
    def kind(self) -> str:
        """What a run records as its broker: ``sim``, ``alpaca-paper`` or ``alpaca-live``."""
        return self.broker.kind


class Simulated:
    """The simulation controls of a venue with a simulated ``clock`` and/or a simulated ``broker`` (None: real)."""

    def __init__(self, clock: SimClock | None, broker: SimBroker | None) -> None:
        self.clock, self.broker = clock, broker

    def set_time(self, moment: datetime) -> None:
        """Move a simulated clock to ``moment`` (the wall clock moves on its own)."""
        if self.clock is not None:
            self.clock.set(moment)

    def quote(self, symbol: str, price: float) -> None:
        """Tell a simulated broker the price ``symbol`` trades at now (a real market sets its own)."""
        if self.broker is not None:
            self.broker.quote(symbol, price)
