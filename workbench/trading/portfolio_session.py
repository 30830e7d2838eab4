"""``PortfolioSession``: a one-symbol strategy trading several symbols in one account as bars arrive, allocating as
the multi-symbol backtest does (``wb.backtest`` on several symbols, `trading.universe.run_exposures`).

Each symbol is traded to ``weight x its exposure`` (from its own bars) of the whole account, rebalanced when a target
moves, sells before buys: the exposures become a universe's weights (`trading.exposure_weights`) traded by the
`UniverseDriver` the backtest uses, sized as the one-symbol kernel sizes; `trading.panel_session` groups the bars
into times. So a session fed a backtest's bars places the backtest's orders in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.clock import Clock
from workbench.engine.inputs import check_weights, resolve_strategy
from workbench.engine.portfolio import AFTER_FEES
from workbench.ports import Broker
from workbench.risk.manager import RiskRules
from workbench.strategies.base import Strategy
from workbench.trading.build import journal_run
from workbench.trading.exposure_weights import ExposureWeights
from workbench.trading.panel_session import PanelSession
from workbench.trading.rule_resume import resumed_rules

if TYPE_CHECKING:
    from workbench.store.journal import OrderJournal, TradingState


class PortfolioSession(PanelSession):
    """Trade ``strategy`` on ``symbols`` in one account through ``broker``: call ``on_bar`` with each new bar (or
    ``run`` a feed); see the module docstring.

    ``weights`` (symbol -> fraction of equity, at most 1 together) default to equal; ``history`` (bars before the
    session, per symbol) warms the indicators up, and the last warm-up time's signal is acted on at the first live
    time (with next-open fills: at its open): a new run trades to the targets then, a run resumed from its
    ``journal`` (history up to its last recorded time) goes on as if it had not stopped.

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.brokers.sim import SimBroker
    >>> from workbench.data.feeds import ReplayFeed
    >>> from workbench.clock import SimClock
    >>> bars = {s: wb.load(s, start="2024-01-01", end="2024-06-30") for s in ("SPY", "QQQ")}
    >>> clock = SimClock(bars["SPY"].index[0].to_pydatetime())
    >>> session = PortfolioSession("sma_cross", ["SPY", "QQQ"], SimBroker(clock, cash=10_000), clock)
    >>> orders = session.run(ReplayFeed(bars))
    >>> sorted({o.symbol for o in orders})
    ['QQQ', 'SPY']
    """

    def __init__(
        self,
        strategy: Strategy | type[Strategy] | str,
        symbols: Iterable[str],
        broker: Broker,
        clock: Clock,
        *,
        weights: Mapping[str, float] | None = None,
        fees: float = 0.0,
        slippage: float = 0.0,
        fixed_fee: float = 0.0,
        fill: str = "next_open",
        risk: RiskRules | dict[str, Any] | None = None,
        history: Mapping[str, pd.DataFrame] | None = None,
        journal: OrderJournal | None = None,
    ) -> None:
        cls, values = resolve_strategy(strategy)
        self.strategy = strategy if isinstance(strategy, Strategy) else cls(**values)
        symbols = tuple(s.upper() for s in symbols)
        if not symbols or len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols={list(symbols)!r}: expected one or more symbols, each once")
        self.weights = check_weights(dict(weights) if weights is not None else None, list(symbols))
        self.targets = ExposureWeights(np.array([self.weights[s] for s in symbols]))
        super().__init__(
            cls.name, symbols, broker, clock, fees=fees, slippage=slippage, fixed_fee=fixed_fee, fill=fill,
            risk=risk, history=history, journal=journal, leverage=1.0, sizing=AFTER_FEES, targets=self.targets,
        )  # fmt: skip
        state = journal.restore() if journal is not None else None
        self._resumed = bool(state is not None and state.client_order_ids)
        self._warm()
        if journal is not None and state is not None:
            self._resume(journal, state, targets_known=bool(self.history))

    def _primed(self) -> None:
        """The targets as of the last warm-up time: a new run trades to them at the first live time, a resumed one
        counts as sent what it traded before it stopped (with next-open fills: the targets of the time before the
        last, whose signal is acted on at the first live open)."""
        m, t = len(self.symbols), len(self._times) - 1
        previous, last = np.zeros(m), np.zeros(m)
        for j, symbol in enumerate(self.symbols):
            frame = self.frame(symbol)
            if frame.empty:  # no warm-up bars of this symbol: no target yet
                continue
            targets = self.strategy.exposure(frame).ffill().fillna(0.0)
            last[j] = targets.iloc[-1]
            before = targets.iloc[:-1] if frame.index[-1] == self._times[t] else targets  # in force the time before
            previous[j] = before.iloc[-1] if len(before) else 0.0
        fill_close = self.costs.fill_close
        sent = (last if fill_close else previous) if self._resumed else np.zeros(m)
        self.targets.start(last if fill_close else previous, sent)
        self.driver.prime(t, self._times[t], self._rows[t, 3].copy(), last)

    def _resume(self, journal: OrderJournal, state: TradingState, *, targets_known: bool) -> None:
        """Continue the journal's run: its positions, working orders and sent ids; a halted run stays halted; the
        costs and risk rules it trades with are recorded (the drift report re-simulates with them). Without warm-up
        bars the targets of the positions held are not known: each is traded to its target at the first signal."""
        self.om.restore(state.positions, state.open_orders, state.client_order_ids)
        positions = {s: (p.qty, p.avg_price) for s, p in state.positions.items()}
        self.driver.adopt(positions, len(self._times))
        if not targets_known:
            self.targets.resync(np.array([positions.get(s, (0.0,))[0] != 0.0 for s in self.symbols]))
        if state.halted:
            self.risk_manager.halted = True
            self.driver.halt()
            self.paused = True
        rules = resumed_rules(state, self.costs, list(self.symbols), journal.cash)
        if rules is not None:
            self.driver.resume_rules(rules)
        journal_run(journal, self.risk_manager, self.costs, self.rules, weights=self.weights)

    def _unpaused(self) -> None:
        """After a pause (a kill switch may have flattened the account) every target is sent again."""
        self.targets.resync()

    def _row(self) -> np.ndarray:
        """Each symbol's exposure at the last row, from its own bars up to it (NaN for a symbol without a bar)."""
        t = len(self._times) - 1
        row = np.full(len(self.symbols), np.nan)
        for j, symbol in enumerate(self.symbols):
            if not np.isnan(self._rows[t, 3, j]):
                row[j] = float(self.strategy.exposure(self.frame(symbol)).iloc[-1])
        return row
