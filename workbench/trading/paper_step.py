"""``paper_step``: advance a recorded paper-trading run by the next bars of its feed, the unit of work of a
scheduled live session: load its state, take the new bars, let strategy, risk and orders act, record, notify."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.orders.model import Fill, OrderEvent
from workbench.risk.monitor import Alert


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
) -> StepResult:
    """Trade ``steps`` more bars (None: all up to ``end``) of a local paper run on the simulated broker.

    A new run (``run_id`` None) starts trading at ``start`` with ``cash``, the bars before it warming up the
    indicators; a recorded run resumes after the last bar it marked, from the database alone. ``run_id=
    "latest"`` resumes the newest local paper run of this strategy and ``params`` on ``symbol``, or starts one (what a
    schedule wants); a resumed run must have been made with them (``ValueError`` otherwise). Every order
    and fill is journaled write-ahead; with ``notify`` the step's fills, rejections, risk decisions and alerts
    go to the notification dispatcher (``workbench.notify``: the channels and routes of the settings).

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
    from workbench.store.journal import OrderJournal
    from workbench.strategies.registry import strategy as lookup
    from workbench.trading.live import check_run, latest_run
    from workbench.trading.session import TradingSession

    if steps is not None and steps < 1:
        raise ValueError(f"steps={steps!r}: must be at least 1 bar (or None for every bar up to the end)")
    instance = lookup(strategy)(**(params or {}))
    settings = load_settings()
    store = store or Store.open(settings)
    bars = load(symbol, end=end, source=source, path=path)
    if run_id == "latest":
        run_id = latest_run(store, instance.name, symbol, "sim", instance.values)
    if run_id is None:
        journal = OrderJournal.start(store, instance.name, cash=cash, params=instance.values, config={"symbol": symbol})
        resume_after = None if start is None else pd.Timestamp(start, tz="UTC") - pd.Timedelta(1, "ns")
    else:
        journal = OrderJournal.resume(store, run_id)
        check_run(store, journal.run_id, symbol, "sim", instance.name, instance.values)
        resume_after = journal.restore().last_bar
    history = bars.loc[:resume_after] if resume_after is not None else bars.iloc[:0]
    upcoming = bars.iloc[len(history) :]
    upcoming = upcoming if steps is None else upcoming.iloc[:steps]
    session = TradingSession.paper(
        instance,
        symbol,
        cash=cash,
        fees=fees,
        slippage=slippage,
        fill=fill,
        risk=risk,
        journal=journal,
        history=history if len(history) else None,
    )
    if on_event is not None:
        session.om.subscribe(on_event)
    dispatcher = None
    if notify:
        from workbench.notify.dispatcher import Dispatcher

        dispatcher = Dispatcher.from_settings(settings, store)
        dispatcher.attach(session)
    try:
        session.run(ReplayFeed({symbol: upcoming}, pace=pace))
    finally:
        if dispatcher is not None:
            dispatcher.close()
    account = session.broker.account()
    result = StepResult(
        run_id=journal.run_id,
        bars=len(upcoming),
        fills=list(session.om.fills),
        alerts=list(session.monitor.alerts),
        cash=account.cash,
        equity=account.equity,
        positions=session.broker.positions(),
        halted=session.risk_manager.halted,
        last_bar=upcoming.index[-1] if len(upcoming) else resume_after,
    )
    return result
