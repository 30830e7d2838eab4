"""``backtest``: one strategy driven bar by bar through RiskManager -> OrderManager -> SimBroker, the objects that
trade live, into one result type (`trading.result.BacktestResult`) whatever the number of symbols.

Python runs only where something happens: signals or weights come from the strategy's vectorized function (the
sweep's), orders are sized, risk-checked and filled at the bars where a target changes, and the bars between are
marked in compiled loops. Every backtest runs on the N-symbol core (`trading.universe`): a universe strategy's
weights directly; a one-symbol strategy as a universe whose weights are ``weight x exposure``, one symbol being the
core's N = 1 case (weight 1), sized as the one-symbol kernel sizes. So a backtest equals the sweep's row for the
same parameters, fill model and costs: trades, fill prices and equity.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.config import cost_defaults
from workbench.engine.inputs import (
    Costs,
    check_costs,
    check_leverage,
    check_periods_per_year,
    check_weights,
    check_windows,
    prepare_bars,
    prepare_panel,
    resolve_strategy,
)
from workbench.engine.inputs import periods_per_year as infer_periods_per_year
from workbench.risk.manager import RiskRules
from workbench.strategies.base import Strategy, StrategyBase
from workbench.strategies.universe import UniverseStrategy
from workbench.trading.result import BacktestResult
from workbench.trading.universe import run_exposures, run_universe


def backtest(
    strategy: Strategy | type[Strategy] | str,
    bars: Any,
    *,
    cash: float = 10_000.0,
    fees: float | None = None,
    slippage: float | None = None,
    fill: str | None = None,
    periods_per_year: float | None = None,
    risk: RiskRules | dict[str, float | None] | None = None,
    weights: dict[str, float] | None = None,
    fixed_fee: float = 0.0,
    leverage: float | None = None,
) -> BacktestResult:
    """Run ``strategy`` on ``bars`` through RiskManager -> OrderManager -> SimBroker, one decision at a time; a
    ``BacktestResult`` (one type for one symbol or many, ``bt["SPY"]`` one symbol's view).

    Fill semantics, costs and metrics are the sweep's (see ``workbench.sweep``): a signal of bar t trades at
    bar t+1's open (``fill="next_open"``) or bar t's close (``fill="close"``) with a market order sized to
    the target exposure; costs left out are the settings', as in ``sweep``. A class or name runs at its default
    parameters. ``risk`` rules (a ``RiskRules`` or a dict such as ``{"stop_loss": 0.05}``) act as in
    ``sweep(risk=...)``, through the RiskManager, whose decisions are in ``result.risk_events``.

    Several symbols (a ``Bars`` or dict) make a portfolio with one cash account: each symbol is traded to
    ``weights[symbol] x its exposure`` of total equity (equal weights by default), rebalanced when a target moves,
    sells before buys. Every risk rule applies: the exposure limits scale all targets together (each cut is a
    resize event); stop-loss, take-profit and trailing stop act per position; ``max_drawdown`` and ``daily_loss``
    watch the whole account and flatten every position; ``max_orders_per_day`` counts the account's orders; the
    size caps apply per order; the session rules per symbol.

    A ``UniverseStrategy`` trades its target weights over all the symbols in one account (equal to its
    ``wb.sweep`` row); ``leverage`` bounds the gross exposure its weights may ask for (default 1).

    Examples
    --------
    >>> import workbench as wb
    >>> bt = wb.backtest(wb.strategy("sma_cross")(fast=12, slow=80), wb.load("SPY"), fees=0.001)
    >>> bool(bt.metrics["trades"] > 0)
    True
    """
    cls, values = resolve_strategy(strategy)
    instance = strategy if isinstance(strategy, StrategyBase) else cls(**values)
    rules = risk if isinstance(risk, RiskRules) else RiskRules.from_mapping(risk)
    fees, slippage, fill = cost_defaults(fees, slippage, fill)
    costs = check_costs(cash, fees, slippage, fill, rules.active(), fixed_fee)
    periods_per_year = check_periods_per_year(periods_per_year)
    settings = {
        "costs": {
            "cash": costs.cash,
            "fees": costs.fees,
            "slippage": costs.slippage,
            "fill": costs.fill,
            "fixed_fee": costs.fixed_fee,
            "periods_per_year": periods_per_year,
        },
        "risk": rules.active(),
        "weights": weights,
    }
    if issubclass(cls, UniverseStrategy):
        return _backtest_universe(instance, bars, costs, rules, periods_per_year, settings, leverage)
    check_leverage(leverage, universe=False)
    frames, multi = prepare_bars(bars)
    frames = {s.upper(): f for s, f in frames.items()}  # brokers and orders know symbols in upper case
    check_windows(cls, pd.DataFrame([instance.values]), frames)  # too few bars: refused as wb.sweep refuses them
    ppy = float(periods_per_year or infer_periods_per_year(next(iter(frames.values())).index))
    several = multi and len(frames) > 1
    fixed = check_weights(weights, list(frames)) if several else {next(iter(frames)): 1.0}
    pieces = run_exposures(instance, frames, fixed, costs, ppy, rules)
    settings["weights"] = fixed if several else None
    return BacktestResult(strategy=instance, frames=frames, settings=settings, weights=settings["weights"], **pieces)


def _backtest_universe(
    instance: UniverseStrategy,
    bars: Any,
    costs: Costs,
    rules: RiskRules,
    periods_per_year: float | None,
    settings: dict[str, Any],
    leverage: float | None,
) -> BacktestResult:
    """A universe strategy's event-driven backtest (``trading.universe.run_universe``)."""
    leverage = check_leverage(leverage)
    panel = prepare_panel(bars)
    check_windows(type(instance), pd.DataFrame([instance.values]), {"the panel": pd.DataFrame(index=panel.index)})
    ppy = float(periods_per_year or infer_periods_per_year(panel.index))
    frames, _ = prepare_bars(bars)
    return BacktestResult(
        strategy=instance,
        frames={s.upper(): f for s, f in frames.items()},
        settings={**settings, "costs": {**settings["costs"], "leverage": leverage}, "weights": None},
        **run_universe(instance, panel, costs, leverage, ppy, rules),
    )
