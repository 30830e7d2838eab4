"""What a report shows, gathered in one place: the backtest, buy-and-hold of the same bars, the sweep and
walk-forward it came from (when given), either run from checked parameters or handed over from a notebook.

A finished result reaches the report's kernel through a file (``handover.hand_over``), so any result a
notebook holds can be reported without running it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.data.bars import Bars

# the cost settings buy-and-hold shares with the strategy (a universe's leverage is the strategy's own)
HOLD_COSTS = ("cash", "fees", "slippage", "fill", "fixed_fee", "periods_per_year")


@dataclass
class ReportRun:
    """The results one report shows: ``bt`` (a BacktestResult), ``hold`` (buy-and-hold),
    ``sweep`` and ``walk_forward`` (or None), and ``costs``, the cost model both runs used."""

    bt: Any
    hold: Any
    costs: dict[str, Any]
    sweep: Any = None
    walk_forward: Any = None
    handed_over: bool = False
    risk: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """The bars the backtest ran on, by symbol."""
        return dict(self.bt.frames)


def bars_of(result: Any) -> pd.DataFrame | Bars:
    """A result's bars as ``wb.backtest`` takes them: one DataFrame, or ``Bars`` of several symbols."""
    if len(result.frames) == 1:
        return result.bars
    return Bars(dict(result.frames))


def hold_of(result: Any) -> Any:
    """Buy-and-hold of the result's bars with its cash, costs and fixed weights (no risk rules)."""
    from workbench.reports.benchmark import buy_and_hold

    costs = result.settings.get("costs", {})
    weights = result.settings.get("weights")
    return buy_and_hold(bars_of(result), weights=weights, **{k: costs[k] for k in HOLD_COSTS if k in costs})


def taken_over(path: str | Path) -> ReportRun:
    """The results ``handover.hand_over`` wrote, with buy-and-hold of the same bars made here (and, for a
    sweep handed over alone, the backtest of its best set)."""
    import pickle

    with open(path, "rb") as handle:
        data = pickle.load(handle)
    bt = data["result"] if data["result"] is not None else best_backtest(data["sweep"])
    return ReportRun(
        bt=bt,
        hold=hold_of(bt),
        costs=dict(bt.settings.get("costs", {})),
        sweep=data["sweep"],
        walk_forward=data["walk_forward"],
        handed_over=True,
        risk=dict(bt.settings.get("risk") or {}),
    )


def from_parameters(inputs: Any) -> ReportRun:
    """Run the report's backtest, buy-and-hold, sweep and walk-forward (its ``{"train": ..., "test": ...}``
    windows over the sweep's grid) from checked ``inputs`` (``parameters.check_parameters``)."""
    from workbench.reports.benchmark import buy_and_hold
    from workbench.research.sweep import sweep as run_sweep
    from workbench.research.walk_forward import walk_forward as run_walk_forward
    from workbench.trading.backtest import backtest

    bt = backtest(
        inputs.strategy, inputs.bars, risk=inputs.risk, weights=inputs.weights, leverage=inputs.leverage, **inputs.costs
    )
    hold = buy_and_hold(inputs.bars, weights=inputs.weights, **inputs.costs)
    sweep = wf = None
    if inputs.sweep is not None:
        common = {"risk": inputs.risk, "metric": inputs.metric, "progress": False, "leverage": inputs.leverage}
        sweep = run_sweep(inputs.strategy, inputs.bars, **common, **inputs.costs, **inputs.sweep)
        if inputs.walk_forward:
            wf = run_walk_forward(
                inputs.strategy, inputs.bars, **inputs.walk_forward, **common, **inputs.costs, **inputs.sweep
            )
    costs = dict(inputs.costs) if inputs.leverage is None else {**inputs.costs, "leverage": inputs.leverage}
    return ReportRun(bt=bt, hold=hold, costs=costs, sweep=sweep, walk_forward=wf, risk=dict(inputs.risk))


def best_backtest(sweep: Any) -> Any:
    """A backtest of a sweep's best parameter set (by its metric) on the sweep's bars, costs and risk rules."""
    from workbench.trading.backtest import backtest

    settings = sweep.settings
    strategy = sweep.strategy(**sweep.best_params())
    bars = sweep.frames[sweep.symbols[0]] if len(sweep.frames) == 1 else Bars(dict(sweep.frames))
    return backtest(strategy, bars, risk=settings.get("risk") or None, **settings.get("costs", {}))


def rerun_note(spec: Any) -> str:
    """Whether and how the run can be made again from scratch, in a sentence or two."""
    from workbench.errors import WorkbenchError
    from workbench.reports.parameters import spec_parameters

    try:
        spec_parameters(spec)
    except (WorkbenchError, ValueError) as exc:
        return f"No: {exc} This report was built from the result held in memory."
    return (
        "Yes: wb.rerun(spec) (or `workbench runs rerun ID` once saved with .save()) loads the same bars, checks "
        "them and the strategy's source by hash, and runs it again to the same numbers."
    )


def hold_of_range(hold: Any, equity: pd.Series) -> pd.Series:
    """Buy-and-hold's equity over the bars of ``equity`` (a walk-forward curve), rescaled to start where it does."""
    part = hold.equity.loc[equity.index[0] : equity.index[-1]]
    return part / part.iloc[0] * equity.iloc[0]
