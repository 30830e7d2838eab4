"""``TradingSession``: a strategy trading one symbol as bars arrive, through the objects a backtest uses.

It is the one-symbol case of `PortfolioSession` (weight 1): each bar goes to the N-symbol core's `UniverseDriver`
(RiskManager -> OrderManager -> broker) that ``wb.backtest`` runs over history, so a session fed the bars of a
backtest places the same orders at the same prices. Only the three ports differ: the broker (SimBroker for local
paper trading, Alpaca live), the clock (the wall clock) and the feed (a paced replay, a live stream).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.clock import Clock
from workbench.ports import Broker
from workbench.risk.manager import RiskRules
from workbench.strategies.base import Strategy
from workbench.trading.build import paper_venue, resume
from workbench.trading.portfolio_session import PortfolioSession

if TYPE_CHECKING:
    from workbench.store.journal import OrderJournal


class TradingSession(PortfolioSession):
    """Trade ``strategy`` on ``symbol`` through ``broker``: call ``on_bar`` with each new bar (or ``run`` a feed).

    A signal of bar t is acted on as in a backtest: with ``fill="close"`` at once, with ``"next_open"``
    when bar t + 1 arrives (at its open). ``history`` (bars before the session) warms up the indicators
    without trading them; the first live bar then trades toward the strategy's current target.

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.data.feeds import ReplayFeed
    >>> session = TradingSession.paper(wb.strategy("sma_cross")(fast=5, slow=20), "SPY", cash=10_000)
    >>> orders = session.run(ReplayFeed({"SPY": wb.load("SPY", start="2024-01-01", end="2024-06-30")}))
    >>> len(orders) > 0 and session.om.positions["SPY"].symbol == "SPY"
    True
    """

    def __init__(
        self,
        strategy: Strategy | type[Strategy] | str,
        symbol: str,
        broker: Broker,
        clock: Clock,
        *,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        fill: str = "next_open",
        risk: RiskRules | dict[str, Any] | None = None,
        history: pd.DataFrame | None = None,
        journal: OrderJournal | None = None,
    ) -> None:
        self.symbol = symbol.upper()
        super().__init__(
            strategy, [self.symbol], broker, clock, fees=fees, slippage=slippage, fixed_fee=fixed_fee, fill=fill,
            risk=risk, history={self.symbol: history} if history is not None else None, journal=journal,
        )  # fmt: skip

    @classmethod
    def paper(
        cls,
        strategy: Strategy | type[Strategy] | str,
        symbol: str,
        *,
        cash: float = 10_000.0,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        clock: Clock | None = None,
        journal: OrderJournal | None = None,
        **kwargs: Any,
    ) -> TradingSession:
        """A local paper session: a simulated broker holding ``cash`` on the wall clock (or ``clock``), no keys
        needed (`trading.build.paper_venue`). With a ``journal`` the account is the journal's (its cash, positions and
        working orders, after a restart)."""
        costs = {"fees": fees, "slippage": slippage, "fixed_fee": fixed_fee}
        venue = paper_venue(cash, clock=clock, **costs)
        if journal is not None:
            resume(venue, journal, [symbol], resumed=True, cash_tolerance=None)
        return cls(strategy, symbol, venue.broker, venue.clock, **costs, journal=journal, **kwargs)

    def frame(self, symbol: str | None = None) -> pd.DataFrame:
        """The bars seen so far (history included), as a canonical bar table."""
        return super().frame(symbol or self.symbol)
