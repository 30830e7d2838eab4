"""``drift``: a live or paper run against the backtest of the same period, and where the P&L difference comes from.

The run's strategy, parameters, starting cash, costs and risk rules (all recorded with the run) are re-simulated on
the bars it actually received (recorded with each mark) by the objects a backtest uses: the strategy's signals,
the core's UniverseDriver, RiskManager, OrderManager and SimBroker on a simulated clock — a `TradingSession` fed them,
which places the orders ``wb.backtest`` would (bars before the first received one, from the reference data, only
warm the indicators up, as the run's history did). The two paths are then compared order by order
(`workbench.ops.drift_attribution`): slippage, latency, missed, partial and re-sized fills, and fees.

A run of several symbols in one account is re-simulated by a `PortfolioSession` with the run's weights (a universe
strategy's by a `UniverseSession` with the run's leverage), fed every symbol's received bars in time order (ties in
the run's symbol order, as a `ReplayFeed` orders them): the multi-symbol backtest's decisions. Its orders are
compared symbol by symbol, each on its own symbol's bars, and the components summed into the account's table; data
and other are measured for the whole account.

With reference data (the data source's stored bars for the same timestamps) the model is run a second time on
them; the difference between the two models is **data** (bars revised, missing or never received). **other** is
what the run's recorded equity holds beyond its fills marked at the last close (positions or cash from before the
run, a broker's own marks). Every component adds up to the total: recorded P&L minus the model's.

Where a run's order or fill belongs in time is where it was recorded: on the bar being handled then (a broker's
asynchronous fill recorded after bar t-1 was done is a fill of bar t), whatever clock the broker stamped it with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from workbench.engine.fills import fill_price_nb
from workbench.errors import WorkbenchError
from workbench.ops.drift_attribution import COMPONENTS, Attribution, Execution, Placed, attribute, pnl
from workbench.ops.drift_report import DriftReport
from workbench.orders.model import Fill, Order
from workbench.store.models_trading import ReceivedBarRow, RunKind, RunRow

#: Bars of one symbol (a bar table), or of several (symbol -> bar table).
Frames = pd.DataFrame | Mapping[str, pd.DataFrame]
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
    """A run cannot be re-simulated: it is not a live or paper run, it recorded no bars, or the bars given for it
    do not fit its symbols."""


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


def run_symbols(row: RunRow) -> tuple[str, ...]:
    """The symbols run ``row`` traded, upper-case, in its order (``symbols``; ``symbol`` for a run of one)."""
    config = row.config or {}
    return tuple(str(s).upper() for s in config.get("symbols") or [config.get("symbol", "")])


def drift(
    run: int | str,
    store: Any,
    *,
    reference: Frames | None = None,
    history: Frames | None = None,
) -> DriftReport:
    """Re-simulate run ``run`` (an id or ``"latest"``) on the bars it received and attribute the P&L difference.

    ``reference``: the stored bars of the run's symbol (e.g. ``wb.load(symbol)``), for the data component and the
    warm-up bars; ``history``: the warm-up bars, when not the reference's bars before the first received one. For
    a run of several symbols each is a mapping symbol -> bar table (``reference`` must hold every symbol; a
    symbol ``history`` leaves out is not warmed up).

    Examples
    --------
    >>> report = drift("latest", Store.open(), reference=wb.load("SPY"))  # doctest: +SKIP
    >>> report.table["pnl"]  # doctest: +SKIP
    >>> both = drift(7, store, reference={"SPY": wb.load("SPY"), "QQQ": wb.load("QQQ")})  # doctest: +SKIP
    >>> both.by_symbol  # doctest: +SKIP
    """
    row = session_run(store, run)
    config = row.config or {}
    symbols = run_symbols(row)
    references = _per_symbol(row.id, symbols, reference, "reference")
    histories = _per_symbol(row.id, symbols, history, "history")
    if references is not None and (absent := [s for s in symbols if s not in references]):
        raise DriftError(f"session={row.id}: the reference data holds no bars of {', '.join(absent)}")
    with store.unit_of_work(readonly=True) as uow:
        received = {s: uow.received_bars.series(row.id, s) for s in symbols}
        orders = uow.orders.find(run_id=row.id)
        log = uow.order_events.log(row.id)
        mark = uow.equity.latest(row.id)
    if missing := [s for s in symbols if not received[s]]:
        raise DriftError(
            f"session={row.id}: run {row.id} recorded no received bars of {', '.join(missing) or 'its symbol'} (runs "
            "record them since store revision 0004); nothing to re-simulate"
        )
    notes = []
    costs = {**DEFAULT_COSTS, **(row.costs or {})}
    weights = costs.pop("weights", None) or config.get("weights") or {}
    if not row.costs:
        notes.append(f"run {row.id} recorded no costs: re-simulated with {DEFAULT_COSTS}")
    cash = float(config["cash"])
    bars = {s: _frame(received[s]) for s in symbols}
    start, end = min(f.index[0] for f in bars.values()), max(f.index[-1] for f in bars.values())
    warm = _warm_up(symbols, histories, references, start, notes)

    leverage = config.get("leverage")
    model = _simulate(row.strategy, row.params, bars, cash, costs, weights, warm, leverage)
    per_symbol = {s: _attribute(model, s, orders, log, received[s], bars[s], costs) for s in symbols}
    attributions = {s: a for s, (a, _) in per_symbol.items()}
    components = {c: sum(a.components[c] for a in attributions.values()) for c in COMPONENTS}
    session_fills = sum(fills for _, fills in per_symbol.values())
    session_pnl = float(mark.equity) - cash  # marked with the last received bars, in the same transaction
    model_pnl = float(model.broker.account().equity) - cash

    reference_pnl, differences = None, _no_differences(several=len(symbols) > 1)
    if references is not None:
        stored = {s: _window(references[s], start, end) for s in symbols}
        differences = _stacked({s: _differences(bars[s], stored[s]) for s in symbols}, differences)
        on_stored = {s: stored[s].combine_first(bars[s]) for s in symbols}
        on_reference = _simulate(row.strategy, row.params, on_stored, cash, costs, weights, warm, leverage)
        reference_pnl = float(on_reference.broker.account().equity) - cash
    else:
        notes.append("no reference data: the data component is not measured")
    table = _table(components, model_pnl, reference_pnl, session_pnl, session_fills)
    orders_tables = {s: _orders_table(a, bars[s].index) for s, a in attributions.items()}
    return DriftReport(
        run_id=row.id,
        strategy=row.strategy,
        params=dict(row.params),
        symbol=",".join(symbols),
        broker=str(config.get("broker", "sim")),
        cash=cash,
        costs=costs,
        bars=_stacked(bars, pd.DataFrame()).sort_index(kind="stable"),
        session_pnl=session_pnl,
        model_pnl=model_pnl,
        reference_pnl=reference_pnl,
        table=table,
        orders=_stacked(orders_tables, pd.DataFrame(columns=["symbol"]), ignore_index=True),
        data_differences=differences,
        notes=notes,
        symbols=symbols,
        weights=dict(weights),
        by_symbol=_by_symbol(attributions),
    )


def _per_symbol(
    run_id: int, symbols: tuple[str, ...], frames: Frames | None, what: str
) -> dict[str, pd.DataFrame] | None:
    """``reference`` or ``history`` as symbol -> bar table: a mapping as given (upper-case keys); one bar table only
    for a run of one symbol (for several it cannot say whose bars it holds)."""
    if frames is None:
        return None
    if isinstance(frames, pd.DataFrame):
        if len(symbols) > 1:
            raise DriftError(
                f"session={run_id}: run {run_id} trades {', '.join(symbols)} in one account: pass {what} as a "
                "mapping of each symbol to its bar table, not one bar table"
            )
        return {symbols[0]: frames}
    return {str(s).upper(): f for s, f in frames.items()}


def _warm_up(
    symbols: tuple[str, ...],
    histories: dict[str, pd.DataFrame] | None,
    references: dict[str, pd.DataFrame] | None,
    start: pd.Timestamp,
    notes: list[str],
) -> dict[str, pd.DataFrame]:
    """Each symbol's warm-up bars: its ``history``, else its reference bars before the first received time (the
    run's history ended there too); symbols without any are noted."""
    if histories is None and references is not None:
        histories = {s: f.loc[f.index < start] for s, f in references.items()}
    warm = {s: histories[s][list(_OHLCV)] for s in symbols if histories and s in histories and len(histories[s])}
    cold = [s for s in symbols if s not in warm]
    if len(cold) == len(symbols):
        notes.append("no warm-up bars: the model's indicators start on the first received bar")
    elif cold:
        notes.append(f"no warm-up bars of {', '.join(cold)}: their indicators start on their first received bar")
    return warm


def _frame(received: list[ReceivedBarRow]) -> pd.DataFrame:
    index = pd.DatetimeIndex([r.timestamp for r in received], name="timestamp").as_unit("ns")
    return pd.DataFrame({c: [getattr(r, c) for r in received] for c in _OHLCV}, index=index)


def _simulate(
    strategy: str,
    params: dict[str, Any],
    bars: Mapping[str, pd.DataFrame],
    cash: float,
    costs: dict[str, Any],
    weights: Mapping[str, float],
    history: Mapping[str, pd.DataFrame],
    leverage: float | None = None,
) -> Any:
    """The model on a SimBroker and a simulated clock: a `TradingSession` (one symbol), a `UniverseSession` (a
    universe strategy, within the run's ``leverage``) or a `PortfolioSession` (several, by ``weights``; equal when
    none are recorded), fed ``bars`` after ``history`` in time order, ties in the run's symbol order (as
    `ReplayFeed` orders them)."""
    from workbench.data.feeds import ReplayFeed
    from workbench.strategies.registry import strategy as lookup
    from workbench.strategies.universe import UniverseStrategy
    from workbench.trading.build import replay_venue
    from workbench.trading.portfolio_session import PortfolioSession
    from workbench.trading.session import TradingSession
    from workbench.trading.universe_session import UniverseSession

    charges = {"fees": costs["fees"], "slippage": costs["slippage"], "fixed_fee": costs["fixed_fee"]}
    venue = replay_venue(cash, min(f.index[0] for f in bars.values()).to_pydatetime(), **charges)
    rules = {"fill": costs["fill"], "risk": costs["risk"] or None}
    instance = lookup(strategy)(**params)
    session: Any
    if isinstance(instance, UniverseStrategy):
        session = UniverseSession(
            instance, list(bars), venue.broker, venue.clock, history=history, leverage=leverage, **charges, **rules
        )
    elif len(bars) == 1:
        [symbol] = bars
        session = TradingSession(
            instance, symbol, venue.broker, venue.clock, history=history.get(symbol), **charges, **rules
        )
    else:
        session = PortfolioSession(
            instance,
            list(bars),
            venue.broker,
            venue.clock,
            weights=weights or None,
            history=history,
            **charges,
            **rules,
        )
    session.run(ReplayFeed({s: f[list(_OHLCV)] for s, f in bars.items()}))
    return session


def _attribute(
    model: Any,
    symbol: str,
    orders: list[Order],
    log: list[tuple[int, Any]],
    received: list[ReceivedBarRow],
    bars: pd.DataFrame,
    costs: dict[str, Any],
) -> tuple[Attribution, float]:
    """``symbol``'s orders of the run against the model's, on that symbol's bars (``received``, as ``bars``), and
    the P&L of the run's fills of it marked at its last close (what the account's ``other`` is measured from)."""
    model_orders = _model_orders(
        [o for o in model.om.orders.values() if o.symbol == symbol],
        [f for f in model.om.fills if f.symbol == symbol],
        bars.index,
    )
    session_orders = _session_orders(orders, log, received, symbol)
    close = float(bars["close"].iloc[-1])
    attribution = attribute(model_orders, session_orders, close, _reference_price(bars, costs))
    return attribution, pnl(session_orders, close)


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


def _no_differences(*, several: bool) -> pd.DataFrame:
    """An empty differences table (led by a ``symbol`` column for a run of ``several`` symbols)."""
    columns = ["status", *(f"{c}_{side}" for side in ("received", "reference") for c in _OHLCV)]
    columns = ["symbol", *columns] if several else columns
    return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="timestamp", tz="UTC"))


def _window(reference: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The reference bars of the run's period (its first to its last received time, over every symbol)."""
    return reference.loc[(reference.index >= start) & (reference.index <= end), list(_OHLCV)]


def _stacked(tables: Mapping[str, pd.DataFrame], empty: pd.DataFrame, *, ignore_index: bool = False) -> pd.DataFrame:
    """One symbol's table as it is; several symbols' as one, each row led by its symbol, in the run's symbol order
    (``empty`` when none of them has a row)."""
    if len(tables) == 1:
        return next(iter(tables.values()))
    parts = [t.assign(symbol=s)[["symbol", *t.columns]] for s, t in tables.items() if len(t)]
    return pd.concat(parts, ignore_index=ignore_index) if parts else empty


def _by_symbol(attributions: Mapping[str, Attribution]) -> pd.DataFrame:
    """The execution components of each symbol (one column each): the account's rows are their sums."""
    return pd.DataFrame(
        {s: [a.components[c] for c in COMPONENTS] for s, a in attributions.items()},
        index=pd.Index(COMPONENTS, name="component"),
    )


def _table(
    components: Mapping[str, float],
    model_pnl: float,
    reference_pnl: float | None,
    session_pnl: float,
    session_fills: float,
) -> pd.DataFrame:
    """The drift table: one row per component and the total, with what each means."""
    values = dict(components)
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
