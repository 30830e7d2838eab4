"""``drift``: a live or paper run against the backtest of the same period, and where the P&L difference comes from.

The run's strategy, parameters, starting cash, costs and risk rules (all recorded with the run) are re-simulated on
the bars it actually received (recorded with each mark) by the objects a backtest uses: the strategy's signals,
the TargetDriver, RiskManager, OrderManager and SimBroker on a simulated clock — a `TradingSession` fed those bars,
which places the orders ``wb.backtest`` would (bars before the first received one, from the reference data, only
warm the indicators up, as the run's history did). The two paths are then compared order by order
(`workbench.runner.drift_attribution`): slippage, latency, missed, partial and re-sized fills, and fees.

With reference data (the data source's stored bars for the same timestamps) the model is run a second time on
them; the difference between the two models is **data** (bars revised, missing or never received). **other** is
what the run's recorded equity holds beyond its fills marked at the last close (positions or cash from before the
run, a broker's own marks). Every component adds up to the total: recorded P&L minus the model's.

Where a run's order or fill belongs in time is where it was recorded: on the bar being handled then (a broker's
asynchronous fill recorded after bar t-1 was done is a fill of bar t), whatever clock the broker stamped it with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.engine.fills import fill_price_nb
from workbench.errors import WorkbenchError
from workbench.orders.model import Fill, Order
from workbench.ports import Bar
from workbench.runner.drift_attribution import COMPONENTS, Attribution, Execution, Placed, attribute, pnl
from workbench.store.models_trading import ReceivedBarRow, RunKind, RunRow

_OHLCV = ("open", "high", "low", "close", "volume")
#: What each row of the drift table means.
EXPLANATIONS = {
    "slippage": "fill prices against the model's price on the bar they filled",
    "latency": "fills on a later bar than the model's: the price move in between",
    "missed": "orders one side filled and the other did not",
    "partial": "the unfilled part of the run's orders, until the position caught up",
    "size": "orders sized differently (knock-on of a different cash balance)",
    "fees": "fees paid minus the model's fees",
    "data": "bars received against the reference data (model on reference minus model on received)",
    "other": "recorded equity beyond the run's fills marked at the last close",
    "total": "recorded P&L minus the model's P&L",
}
#: Costs assumed for a run recorded before runs recorded their costs.
DEFAULT_COSTS = {"fees": 0.0, "slippage": 0.0, "fixed_fee": 0.0, "fill": "next_open", "risk": {}}


class DriftError(WorkbenchError):
    """A run cannot be re-simulated: it is not a live or paper run, or it recorded no bars."""


@dataclass
class DriftReport:
    """A run against its model: the P&Ls, the attribution table, the orders side by side, the data differences."""

    run_id: int
    strategy: str
    params: dict[str, Any]
    symbol: str
    broker: str
    cash: float
    costs: dict[str, Any]
    bars: pd.DataFrame = field(repr=False)
    session_pnl: float
    model_pnl: float
    reference_pnl: float | None
    table: pd.DataFrame = field(repr=False)
    orders: pd.DataFrame = field(repr=False)
    data_differences: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        """The run's recorded P&L minus the model's (on the reference data when there is some)."""
        return float(self.table.loc["total", "pnl"])

    def to_html(self) -> str:
        """The report as one standalone HTML page (`workbench.runner.drift_report`)."""
        from workbench.runner.drift_report import render

        return render(self)

    def write(self, path: str | Path) -> Path:
        """Write `to_html` to ``path`` atomically; returns it."""
        from workbench.reports.export import write_atomic

        return write_atomic(Path(path), self.to_html())


def session_run(store: Any, run: int | str = "latest") -> RunRow:
    """The stored live or paper run ``run`` (an id, or ``"latest"``: the newest).

    Raises
    ------
    DriftError
        No such run, or a run that is not a live or paper session.
    """
    with store.unit_of_work(readonly=True) as uow:
        if run == "latest":
            rows = uow.runs.find(kind=RunKind.LIVE, limit=1)
            if not rows:
                raise DriftError("session 'latest': no live or paper run is stored")
            return rows[0]
        try:
            run_id = int(run)
        except (TypeError, ValueError):
            raise DriftError(f"session={run!r}: expected a run id or 'latest'") from None
        row = uow.runs.get(run_id)
    if row is None:
        raise DriftError(f"session={run_id}: no run {run_id} is stored")
    if row.kind != RunKind.LIVE:
        raise DriftError(f"session={run_id}: run {run_id} is a {row.kind} run; expected a live or paper session")
    return row


def drift(
    run: int | str,
    store: Any,
    *,
    reference: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
) -> DriftReport:
    """Re-simulate run ``run`` (an id or ``"latest"``) on the bars it received and attribute the P&L difference.

    ``reference``: the stored bars of the run's symbol (e.g. ``wb.load(symbol)``), for the data component and the
    warm-up bars; ``history``: the warm-up bars, when not the reference's bars before the first received one.

    Examples
    --------
    >>> report = drift("latest", Store.open(), reference=wb.load("SPY"))  # doctest: +SKIP
    >>> report.table["pnl"]  # doctest: +SKIP
    """
    row = session_run(store, run)
    config = row.config or {}
    symbols = config.get("symbols") or [config.get("symbol", "")]
    if len(symbols) > 1:
        raise DriftError(
            f"session={row.id}: run {row.id} trades {', '.join(symbols)} in one account; drift re-simulates runs "
            "of one symbol"
        )
    symbol = str(symbols[0]).upper()
    with store.unit_of_work(readonly=True) as uow:
        received = uow.received_bars.series(row.id, symbol)
        orders = uow.orders.find(run_id=row.id)
        log = uow.order_events.log(row.id)
        mark = uow.equity.latest(row.id)
    if not received:
        raise DriftError(
            f"session={row.id}: run {row.id} recorded no received bars of {symbol or 'its symbol'} (runs record them "
            "since store revision 0004); nothing to re-simulate"
        )
    notes = []
    costs = {**DEFAULT_COSTS, **(row.costs or {})}
    if not row.costs:
        notes.append(f"run {row.id} recorded no costs: re-simulated with {DEFAULT_COSTS}")
    cash = float(config["cash"])
    bars = _frame(received)
    if history is None and reference is not None:
        history = reference.loc[reference.index < bars.index[0]]
    if history is None or not len(history):
        notes.append("no warm-up bars: the model's indicators start on the first received bar")
        history = None

    model = _simulate(row.strategy, row.params, symbol, bars, cash, costs, history)
    model_orders = _model_orders(model.om.orders.values(), model.om.fills, bars.index)
    session_orders = _session_orders(orders, log, received, symbol)
    close = float(bars["close"].iloc[-1])
    attribution = attribute(model_orders, session_orders, close, _reference_price(bars, costs))
    session_fills = pnl(session_orders, close)
    session_pnl = float(mark.equity) - cash  # marked with the last received bar, in the same transaction
    model_pnl = float(model.broker.account().equity) - cash

    reference_pnl, differences = None, _no_differences()
    if reference is not None:
        stored = reference.loc[(reference.index >= bars.index[0]) & (reference.index <= bars.index[-1]), list(_OHLCV)]
        differences = _differences(bars, stored)
        on_reference = _simulate(row.strategy, row.params, symbol, stored.combine_first(bars), cash, costs, history)
        reference_pnl = float(on_reference.broker.account().equity) - cash
    else:
        notes.append("no reference data: the data component is not measured")
    table = _table(attribution, model_pnl, reference_pnl, session_pnl, session_fills)
    return DriftReport(
        run_id=row.id,
        strategy=row.strategy,
        params=dict(row.params),
        symbol=symbol,
        broker=str(config.get("broker", "sim")),
        cash=cash,
        costs=costs,
        bars=bars,
        session_pnl=session_pnl,
        model_pnl=model_pnl,
        reference_pnl=reference_pnl,
        table=table,
        orders=_orders_table(attribution, bars.index),
        data_differences=differences,
        notes=notes,
    )


def _frame(received: list[ReceivedBarRow]) -> pd.DataFrame:
    index = pd.DatetimeIndex([r.timestamp for r in received], name="timestamp").as_unit("ns")
    return pd.DataFrame({c: [getattr(r, c) for r in received] for c in _OHLCV}, index=index)


def _simulate(
    strategy: str,
    params: dict[str, Any],
    symbol: str,
    bars: pd.DataFrame,
    cash: float,
    costs: dict[str, Any],
    history: pd.DataFrame | None,
) -> Any:
    """The model: a `TradingSession` on a SimBroker and a simulated clock, fed ``bars`` after ``history``."""
    from workbench.runner.session import TradingSession
    from workbench.strategies.registry import strategy as lookup
    from workbench.testing.clock import FrozenClock

    clock = FrozenClock(bars.index[0].to_pydatetime())
    session = TradingSession.paper(
        lookup(strategy)(**params),
        symbol,
        cash=cash,
        fees=costs["fees"],
        slippage=costs["slippage"],
        fixed_fee=costs["fixed_fee"],
        fill=costs["fill"],
        risk=costs["risk"] or None,
        clock=clock,
        history=None if history is None else history[list(_OHLCV)],
    )
    for stamp, values in zip(bars.index, bars[list(_OHLCV)].itertuples(index=False), strict=True):
        session.on_bar(Bar(symbol, stamp.to_pydatetime(), *map(float, values)))
    return session


def _model_orders(orders: Iterable[Order], fills: list[Fill], index: pd.DatetimeIndex) -> list[Placed]:
    """The model's orders: placed and filled at bar times (its clock is the bars')."""
    bar_of = {stamp: i for i, stamp in enumerate(index)}
    executions: dict[str, list[Execution]] = {}
    for fill in fills:
        executions.setdefault(fill.order_id, []).append(_execution(fill, bar_of[pd.Timestamp(fill.timestamp)]))
    return [
        Placed(o.id, bar_of[pd.Timestamp(o.created_at)], o.signed_qty, str(o.status), tuple(executions.get(o.id, ())))
        for o in orders
    ]


def _session_orders(
    orders: list[Order], log: list[tuple[int, Any]], received: list[ReceivedBarRow], symbol: str
) -> list[Placed]:
    """The run's orders of ``symbol``, each placed on the bar being handled when it was recorded (the bar rows count
    every order of the run), and its fills likewise (by the id of their event)."""
    first_event: dict[str, int] = {}
    for event_id, event in log:
        first_event.setdefault(event.order_id, event_id)
    orders_seen = np.array([r.orders_seen for r in received])
    events_seen = np.array([r.events_seen for r in received])
    last = len(received) - 1
    executions: dict[str, list[Execution]] = {}
    for event_id, event in log:
        if event.fill is not None:
            bar = min(int(np.searchsorted(events_seen, event_id, side="left")), last)
            executions.setdefault(event.order_id, []).append(_execution(event.fill, bar))
    # recording order: the clock's time, then the first event (a frozen clock gives one bar's orders one time)
    ordered = sorted(orders, key=lambda o: (o.created_at, first_event.get(o.id, math.inf)))
    return [
        Placed(
            order.id,
            min(int(np.searchsorted(orders_seen, n, side="left")), last),
            order.signed_qty,
            str(order.status),
            tuple(executions.get(order.id, ())),
        )
        for n, order in enumerate(ordered, start=1)
        if order.symbol == symbol
    ]


def _execution(fill: Fill, bar: int) -> Execution:
    return Execution(fill.qty * fill.side.sign, fill.price, fill.fee, bar)


def _reference_price(bars: pd.DataFrame, costs: dict[str, Any]) -> Callable[[int, float], float]:
    """The model's fill price of ``qty`` units on bar ``bar``: its open (or close) with the model's slippage."""
    prices = bars["close" if costs["fill"] == "close" else "open"].to_numpy(dtype=np.float64)
    slippage = float(costs["slippage"])

    def price(bar: int, qty: float) -> float:
        return float(fill_price_nb(prices[bar], qty, slippage))

    return price


def _differences(bars: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """Timestamps where the received bars and the stored ones disagree: values, or a bar only one of them has."""
    joined = bars.join(stored, how="outer", suffixes=("_received", "_reference"))
    received = joined[[f"{c}_received" for c in _OHLCV]].to_numpy()
    reference = joined[[f"{c}_reference" for c in _OHLCV]].to_numpy()
    same = np.isclose(received, reference, rtol=1e-12, atol=0.0).all(axis=1)
    status = np.select(
        [np.isnan(received).all(axis=1), np.isnan(reference).all(axis=1), ~same],
        ["not received", "not in reference", "differs"],
        "",
    )
    joined.insert(0, "status", status)
    return joined[status != ""]


def _no_differences() -> pd.DataFrame:
    columns = ["status", *(f"{c}_{side}" for side in ("received", "reference") for c in _OHLCV)]
    return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="timestamp", tz="UTC"))


def _table(
    attribution: Attribution, model_pnl: float, reference_pnl: float | None, session_pnl: float, session_fills: float
) -> pd.DataFrame:
    """The drift table: one row per component and the total, with what each means."""
    values = dict(attribution.components)
    values["data"] = 0.0 if reference_pnl is None else model_pnl - reference_pnl
    values["other"] = session_pnl - session_fills
    values["total"] = session_pnl - (model_pnl if reference_pnl is None else reference_pnl)
    names = [*COMPONENTS, "data", "other", "total"]
    return pd.DataFrame(
        {"pnl": [values[n] for n in names], "explanation": [EXPLANATIONS[n] for n in names]},
        index=pd.Index(names, name="component"),
    )


def _orders_table(attribution: Attribution, index: pd.DatetimeIndex) -> pd.DataFrame:
    """The orders side by side: model and run, what each pair contributed to each component."""
    records = []
    for row in attribution.rows:
        m, s = row["model"], row["session"]
        records.append(
            {
                "kind": ("matched" if s.filled else "unfilled") if m and s else "model only" if m else "run only",
                "model_time": _time(index, m.bar) if m else None,
                "model_qty": m.filled if m else 0.0,
                "model_price": m.price if m else math.nan,
                "run_time": _time(index, s.bar) if s else None,
                "run_qty": s.qty if s else 0.0,
                "run_filled": s.filled if s else 0.0,
                "run_price": s.price if s else math.nan,
                "run_status": s.status if s else "",
                "delay_bars": ",".join(str(f.bar - m.bar) for f in s.fills) if m and s else "",
                **{c: row[c] for c in COMPONENTS},
            }
        )
    return pd.DataFrame.from_records(records)


def _time(index: pd.DatetimeIndex, bar: int) -> datetime:
    return index[bar].to_pydatetime()
