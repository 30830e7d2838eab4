"""``paper_step``: advance a recorded local paper run by the next bars of its data, the unit of work of a scheduled
paper session (``notebooks/live_session.ipynb``) and of ``workbench paper``.

A step is a `LiveSession` on the local simulated broker, opened as ``workbench live --broker sim`` opens one: the
same promotion rule (none for a local account), the same store switches (a strategy switched off places no
orders, a halted one flattens and stays halted), the same restart from the records, the same notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.orders.model import Fill, OrderEvent
from workbench.risk.monitor import Alert

if TYPE_CHECKING:
    from workbench.config import Settings


@dataclass
class StepResult:
    """What one step did: the run it belongs to, the bars it took, the fills and alerts they caused, and the
    account after them."""

    run_id: int
    bars: int
    fills: list[Fill]
    alerts: list[Alert]
    cash: float
    equity: float
    positions: dict[str, float]
    halted: bool
    last_bar: pd.Timestamp | None = None


def paper_step(
    strategy: str,
    symbol: str,
    *,
    params: dict[str, Any] | None = None,
    store: Any = None,
    run_id: int | str | None = None,
    start: str | None = None,
    end: str | None = None,
    steps: int | None = 1,
    cash: float = 10_000.0,
    fees: float = 0.0,
    slippage: float = 0.0,
    fill: str = "next_open",
    risk: Any = None,
    source: str = "sample",
    path: str | None = None,
    pace: float | None = None,
    on_event: Callable[[OrderEvent], None] | None = None,
    notify: bool = True,
    settings: Settings | None = None,
) -> StepResult:
    """Trade ``steps`` more bars (None: all up to ``end``) of a local paper run on the simulated broker.

    A new run (``run_id`` None) starts trading at ``start`` with ``cash``, the bars before it warming up the
    indicators; a recorded run resumes after the last bar it marked, from the database alone. ``run_id=
    "latest"`` resumes the newest local paper run of this strategy and ``params`` on ``symbol``, or starts one (what a
    schedule wants); a resumed run must have been made with them (``ValueError`` otherwise). Every order and fill
    is journaled write-ahead; the store's switches are obeyed; working orders are left working between steps. With
    ``notify`` the step's fills, rejections, risk decisions and alerts go to the channels the ``settings`` (default:
    `load_settings`) configure.

    Examples
    --------
    >>> params = {"fast": 5, "slow": 20}
    >>> step = paper_step("sma_cross", "SPY", params=params, start="2024-01-02", steps=20)  # doctest: +SKIP
    >>> paper_step("sma_cross", "SPY", params=params, run_id=step.run_id, steps=1).bars  # doctest: +SKIP
    1
    """
    from workbench.config import load_settings
    from workbench.data.feeds import ReplayFeed
    from workbench.data.load import load
    from workbench.store import Store
    from workbench.strategies.registry import strategy as lookup
    from workbench.trading.build import paper_venue
    from workbench.trading.live import LiveSession, latest_run

    if steps is not None and steps < 1:
        raise ValueError(f"steps={steps!r}: must be at least 1 bar (or None for every bar up to the end)")
    instance = lookup(strategy)(**(params or {}))
    settings = settings if settings is not None else load_settings()
    store = store or Store.open(settings)
    bars = load(symbol, end=end, source=source, path=path)
    if run_id == "latest":
        run_id = latest_run(store, instance.name, symbol, "sim", instance.values)
    if run_id is None:  # a new run trades from ``start``; every bar when none is given
        history = bars.loc[: pd.Timestamp(start, tz="UTC") - pd.Timedelta(1, "ns")] if start else bars.iloc[:0]
    else:
        history = bars  # a resumed run keeps the bars up to its last mark as history
    venue = paper_venue(cash, fees=fees, slippage=slippage)
    live = LiveSession.open(
        store,
        instance,
        symbol,
        venue.broker,
        clock=venue.clock,
        run=None if run_id is None else int(run_id),
        history=history,
        fees=fees,
        slippage=slippage,
        fill=fill,
        risk=risk,
        settings=settings,
        notify=notify,
        cancel_on_stop=False,
        start=start if start is not None else (bars.index[0] if len(bars) else None),  # recorded with a new run
    )
    if on_event is not None:
        live.session.om.subscribe(on_event)
    done = live.last_bar  # the last bar of the history: what comes after it is still to trade
    upcoming = bars if done is None else bars.loc[bars.index > pd.Timestamp(done)]
    upcoming = upcoming if steps is None else upcoming.iloc[:steps]
    summary = live.run(ReplayFeed({symbol: upcoming}, pace=pace))
    return StepResult(
        run_id=summary.run_id,
        bars=summary.bars,
        fills=list(live.session.om.fills),
        alerts=list(live.session.monitor.alerts),
        cash=summary.cash,
        equity=summary.equity,
        positions=summary.positions,
        halted=summary.halted,
        last_bar=upcoming.index[-1] if len(upcoming) else (None if done is None else pd.Timestamp(done)),
    )
