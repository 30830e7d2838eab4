"""Buy-and-hold of the same symbols, run through ``wb.backtest`` so its metrics come from the same code."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.strategies.base import Strategy


def _hold_signals(open, high, low, close, volume):
    """Fully invested on every bar."""
    return np.ones(close.shape[0])


class BuyAndHold(Strategy):
    """Long with all equity from the first bar to the last: the benchmark of a report."""

    name = "buy_and_hold"
    signals = staticmethod(_hold_signals)


def buy_and_hold(bars: Any, *, weights: dict[str, float] | None = None, **costs: Any) -> Any:
    """A backtest of ``BuyAndHold`` on ``bars`` with the strategy's costs and weights (no risk rules).

    Examples
    --------
    >>> import workbench as wb
    >>> hold = buy_and_hold(wb.load("SPY", start="2020-01-01", end="2020-12-31"), fees=0.001)
    >>> int(hold.metrics["trades"])
    1
    """
    from workbench.trading.backtest import backtest

    return backtest(BuyAndHold(), bars, weights=weights, **costs)
