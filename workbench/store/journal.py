"""``OrderJournal``: the write-ahead record of a trading run, and the state rebuilt from it after a restart.

Every order is stored before it is sent (with its ``client_order_id``, so it is never sent twice); every
broker event is stored together with the order's new state, its fill and the position that fill moves, in
one transaction. A process killed at any moment leaves either all of an event or none of it, and
``restore`` rebuilds open orders, positions, cash and the halted flag from the database alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from workbench.data.feeds import Bar
from workbench.engine.fills import cash_after_fill_nb
from workbench.orders.manager import PositionState
from workbench.orders.model import Order, OrderEvent
from workbench.risk.manager import RiskEvent
from workbench.store.database import Store

_RECENT = timedelta(days=7)  # the marks a restart reads to continue the day's rules (a day, with room for gaps)


@dataclass
class TradingState:
    """What a trading run holds, as its records say: cash, positions, open orders, sent ids, halted."""

    cash: float
    positions: dict[str, PositionState]
    open_orders: list[Order]
    client_order_ids: set[str] = field(default_factory=set)
    halted: bool = False
    halted_reason: str | None = None
    last_bar: datetime | None = None  # the time of the last bar the run marked (``record_mark``)
    peak_equity: float | None = None  # the highest equity the run marked: its drawdown rule's peak
    recent_marks: list[tuple[datetime, float]] = field(default_factory=list)  # (time, equity) of its last days
    fill_times: list[tuple[datetime, str]] = field(default_factory=list)  # (time, order id) of every fill
    enabled_strategies: list[str] = field(default_factory=list)  # every strategy switched on, halted or not


class OrderJournal:
    """Records one run's orders, events, fills, positions and risk decisions (see the module docstring).

    Examples
    --------
    >>> store = Store.open("sqlite://")
    >>> journal = OrderJournal.start(store, "sma_cross", cash=10_000.0, params={"fast": 10})
    >>> journal.restore().cash
    10000.0
    """

    def __init__(self, store: Store, run_id: int, strategy: str, cash: float) -> None:
        self.store, self.run_id, self.strategy, self.cash = store, run_id, strategy, float(cash)

    @classmethod
    def start(
        cls,
        store: Store,
        strategy: str,
        *,
        cash: float,
        params: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        register: bool = True,
    ) -> OrderJournal:
        """A new live (or paper) run of ``strategy`` starting with ``cash``; the strategy is registered enabled (unless
        ``register`` is False: an account of manual orders has no strategy to switch)."""
        with store.unit_of_work() as uow:
            run = uow.runs.start("live", strategy, params=params, config={**(config or {}), "cash": float(cash)})
            if register and uow.strategies.get(strategy) is None:
                uow.strategies.add(strategy, params=dict(params or {}), enabled=True, mode="paper")
        return cls(store, run.id, strategy, cash)

    @classmethod
    def resume(cls, store: Store, run_id: int) -> OrderJournal:
        """The journal of a stored run, to continue it after a restart."""
        with store.unit_of_work(readonly=True) as uow:
            run = uow.runs.get(run_id)
            if run is None or run.kind != "live":
                raise ValueError(f"run {run_id} is not a stored live run")
            return cls(store, run_id, run.strategy, float(run.config["cash"]))

    def record_order(self, order: Order) -> None:
        """Store ``order`` before it is sent (a ``client_order_id`` stored before is refused by the database)."""
        with self.store.unit_of_work() as uow:
            uow.orders.add(order, run_id=self.run_id)

    def record_event(self, event: OrderEvent, order: Order) -> None:
        """Store a broker event with the order's state after it, and its fill with the position it moves."""
        with self.store.unit_of_work() as uow:
            if event.fill is not None:
                uow.fills.add(event.fill, run_id=self.run_id)
                uow.positions.apply_fill(self.run_id, event.fill)
            uow.orders.update(order)
            uow.order_events.add(event, order.status)

    def record_risk(self, event: RiskEvent) -> None:
        """Store a risk decision; a halt also marks the strategy halted, so a restart does not trade."""
        with self.store.unit_of_work() as uow:
            uow.risk_events.add(self.run_id, event)
            if event.decision == "halt":
                uow.strategies.halt(self.strategy, f"{event.rule} at {event.timestamp.isoformat()}")

    def record_mark(self, bar_time: datetime, cash: float, equity: float, *, bars: Iterable[Bar] = ()) -> None:
        """Store the account marked at a bar's close: the equity curve, and where a restart picks up; with
        ``bars``, the bars received at that time too (the drift report re-simulates the run on them)."""
        with self.store.unit_of_work() as uow:
            uow.equity.add(self.run_id, bar_time, cash=cash, equity=equity)
            for bar in bars:
                uow.received_bars.add(self.run_id, bar)

    def record_costs(self, costs: Mapping[str, Any]) -> None:
        """Store the cost model the run trades with (fees, slippage, fixed_fee, fill, risk rules) as its costs,
        so a re-simulation of the run uses the same; a resumed run records the ones it continues with."""
        with self.store.unit_of_work() as uow:
            uow.runs.set_costs(self.run_id, costs)

    def restore(self) -> TradingState:
        """The run's state from the database alone: cash (starting cash moved by every fill), positions,
        open orders, every ``client_order_id`` sent, whether the strategy is halted, the enabled strategies."""
        with self.store.unit_of_work(readonly=True) as uow:
            fills = uow.fills.find(run_id=self.run_id)
            orders = uow.orders.find(run_id=self.run_id)
            strategy = uow.strategies.get(self.strategy)
            mark = uow.equity.latest(self.run_id)
            cash = self.cash
            for fill in fills:  # in time order, with the broker's arithmetic
                cash = float(cash_after_fill_nb(cash, fill.qty * fill.side.sign, fill.price, fill.fee))
            return TradingState(
                cash=cash,
                positions=uow.positions.current(self.run_id),
                open_orders=[o for o in orders if o.is_open],
                client_order_ids={o.client_order_id for o in orders},
                halted=bool(strategy is not None and strategy.halted),
                halted_reason=None if strategy is None else strategy.halted_reason,
                last_bar=None if mark is None else mark.timestamp,
                peak_equity=uow.equity.peak(self.run_id),
                recent_marks=[]
                if mark is None
                else [(row.timestamp, row.equity) for row in uow.equity.since(self.run_id, mark.timestamp - _RECENT)],
                fill_times=[(fill.timestamp, fill.order_id) for fill in fills],
                enabled_strategies=[row.name for row in uow.strategies.enabled(include_halted=True)],
            )
