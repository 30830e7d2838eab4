"""The account's risk-rule state a resumed run goes on from, read from its records: the drawdown rule's peak, the
last equity, the day of the daily rules, the equity that day started from and the orders of that day. Without it
a restart would measure the drawdown from the restart and give the day a fresh order count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.engine.inputs import Costs
from workbench.engine.sessions import CLOSED

if TYPE_CHECKING:  # a backtest imports this module and needs no database
    from workbench.store.journal import TradingState


@dataclass(frozen=True)
class AccountRules:
    """The rule state of an account after its last recorded bar; ``day`` is a session id (``CLOSED``: none yet)."""

    peak: float
    last_equity: float
    day: int
    day_start: float
    orders_today: int


def resumed_rules(state: TradingState, costs: Costs, symbols: list[str], start_cash: float) -> AccountRules | None:
    """The rule state of the run ``state`` restores (None before its first recorded bar); ``start_cash``: the
    equity the run started with (the day's start when its first day is not over)."""
    if not state.recent_marks or state.peak_equity is None:
        return None
    times = pd.to_datetime([t for t, _ in state.recent_marks], utc=True)
    equities = np.array([e for _, e in state.recent_marks])
    ids = costs.account_sessions(times, symbols)[0]
    in_session = np.flatnonzero(ids != CLOSED)
    if not len(in_session):
        return AccountRules(state.peak_equity, float(equities[-1]), CLOSED, float(equities[-1]), 0)
    day = int(ids[in_session[-1]])
    first = int(np.flatnonzero(ids == day)[0])
    day_start = float(equities[first - 1]) if first > 0 else start_cash
    fill_times = pd.to_datetime([t for t, _ in state.fill_times], utc=True)
    recent = np.flatnonzero(fill_times >= times[first])
    fill_days = costs.account_sessions(fill_times[recent], symbols)[0]
    orders = {state.fill_times[i][1] for i, fill_day in zip(recent, fill_days, strict=True) if fill_day == day}
    return AccountRules(state.peak_equity, float(equities[-1]), day, day_start, len(orders))
