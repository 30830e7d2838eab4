"""``UniverseSession``: a universe strategy trading its symbols in one account as bars arrive, with the decisions
of its backtest (`trading.universe`): each completed bar time's weights (from the bars so far only) become orders
through the same `UniverseDriver` (`trading.panel_session` groups the bars into times).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.clock import Clock
from workbench.engine.inputs import check_leverage, resolve_strategy
from workbench.ports import Broker
from workbench.risk.manager import RiskRules
from workbench.strategies.universe import UniverseStrategy, call_weights
from workbench.trading.build import journal_run
from workbench.trading.panel_session import PanelSession
from workbench.trading.rule_resume import resumed_rules

if TYPE_CHECKING:
    from workbench.store.journal import OrderJournal


class UniverseSession(PanelSession):
    """Trade universe ``strategy`` on ``symbols`` in one account through ``broker``: call ``on_bar`` with each new
    bar (or ``run`` a feed); see the module docstring. ``history`` (bars before the session, per symbol) warms the
    strategy up; with next-open fills the weights of its last time are traded at the first live time's open.

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.brokers.sim import SimBroker
    >>> from workbench.clock import SimClock
    >>> from workbench.data.feeds import ReplayFeed
    >>> bars = {s: wb.load(s, start="2023-01-01", end="2023-12-31") for s in ("SPY", "QQQ", "IWM")}
    >>> clock = SimClock(bars["SPY"].index[0].to_pydatetime())
    >>> momentum = wb.strategy("momentum")(lookback=20, top=1, every=5)
    >>> session = UniverseSession(momentum, list(bars), SimBroker(clock), clock)
    >>> len(session.run(ReplayFeed(bars))) > 0
    True
    """

    def __init__(
        self,
        strategy: UniverseStrategy | type[UniverseStrategy] | str,
        symbols: Iterable[str],
        broker: Broker,
        clock: Clock,
        *,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        fill: str = "next_open",
        risk: RiskRules | dict[str, Any] | None = None,
        history: Mapping[str, pd.DataFrame] | None = None,
        journal: OrderJournal | None = None,
        leverage: float | None = None,
    ) -> None:
        cls, values = resolve_strategy(strategy)
        self.strategy = strategy if isinstance(strategy, UniverseStrategy) else cls(**values)
        symbols = tuple(s.upper() for s in symbols)
        if len(symbols) < 2 or len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols={list(symbols)!r}: a universe trades two or more symbols, each once")
        super().__init__(
            cls.name, symbols, broker, clock, fees=fees, slippage=slippage, fixed_fee=fixed_fee, fill=fill,
            risk=risk, history=history, journal=journal, leverage=check_leverage(leverage),
        )  # fmt: skip
        self._warm()
        if journal is not None:
            self._resume(journal)

    def _primed(self) -> None:
        """With next-open fills, the last warm-up time's weights are due at the first live time's open."""
        t = len(self._times) - 1
        self.driver.prime(t, self._times[t], self._rows[t, 3].copy(), self._row())

    def _resume(self, journal: OrderJournal) -> None:
        """Continue the journal's run: its positions, working orders and sent ids; a halted run stays halted; the
        costs and risk rules it trades with are recorded (the drift report re-simulates with them)."""
        state = journal.restore()
        self.om.restore(state.positions, state.open_orders, state.client_order_ids)
        self.driver.adopt({s: (p.qty, p.avg_price) for s, p in state.positions.items()}, len(self._times))
        if state.halted:
            self.risk_manager.halted = True
            self.driver.halt()
            self.paused = True
        rules = resumed_rules(state, self.costs, list(self.symbols), journal.cash)
        if rules is not None:
            self.driver.resume_rules(rules)
        journal_run(journal, self.risk_manager, self.costs, self.rules)

    def _row(self) -> np.ndarray:
        """The strategy's weights of the last row, from the bars up to it only."""
        return call_weights(type(self.strategy), self.panel(), tuple(self.strategy.values.values()))[-1]
