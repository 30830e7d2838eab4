"""Multi-symbol backtests: one cash account, each symbol traded to ``weight x exposure`` of total equity.

Each symbol's signals come from its own bars (the sweep's signal function); orders go through the same
OrderManager and SimBroker as a single-symbol backtest and are sized with the sweep's ``target_size_nb``
against the whole account (cash plus the other holdings), sells before buys within a bar so cash is
freed first. Equity is marked at each bar's close with the last known price of every holding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from workbench.brokers.sim import SimBroker
from workbench.engine.inputs import Costs
from workbench.engine.metrics import METRIC_NAMES, N_METRICS, equity_metrics_nb
from workbench.engine.risk_rules import (
    DAILY_LOSS,
    EXIT_DAILY_LOSS,
    EXIT_MAX_DRAWDOWN,
    MAX_EXPOSURE,
    MAX_NET_EXPOSURE,
    MAX_ORDERS_PER_DAY,
    NO_EXIT,
    day_ids,
    exit_reason_nb,
    exit_rules_active_nb,
    order_allowed_nb,
    scale_portfolio_nb,
    update_extreme_nb,
)
from workbench.engine.sessions import CLOSED
from workbench.orders.manager import OrderManager
from workbench.orders.model import Fill, Order, OrderEvent
from workbench.risk.manager import ACCOUNT, RiskEvent, RiskManager
from workbench.risk.monitor import Alert, path_alerts
from workbench.runner.provenance import RunSpec, Saveable, make_spec
from workbench.runner.records import RecordFrames
from workbench.strategies.base import Strategy
from workbench.testing.clock import FrozenClock


@dataclass
class PortfolioResult(RecordFrames, Saveable):
    """A multi-symbol backtest: equity, positions per symbol, orders, fills, round trips, metrics."""

    strategy: Strategy
    weights: dict[str, float]
    equity: pd.Series
    positions: pd.DataFrame
    trades: pd.DataFrame
    metrics: pd.Series
    order_records: list[Order] = field(repr=False)
    fill_records: list[Fill] = field(repr=False)
    events: list[OrderEvent] = field(repr=False)
    risk_events: list[RiskEvent] = field(default_factory=list, repr=False)
    alerts: list[Alert] = field(default_factory=list, repr=False)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def spec(self) -> RunSpec:
        """What this run was made of, to save it and run it again (``runner.provenance``)."""
        return make_spec("backtest", type(self.strategy), self.strategy.values, self.frames, self.settings)

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"PortfolioResult({self.strategy!r} on {', '.join(self.weights)}: {len(self.fills)} fills, "
            f"total return {m['total_return']:.2%}, sharpe {m['sharpe']:.2f}, max drawdown {m['max_drawdown']:.2%})"
        )


def check_weights(weights: dict[str, float] | None, symbols: list[str]) -> dict[str, float]:
    """Equal weights by default; given weights must name every symbol, be >= 0 and sum to at most 1."""
    if weights is None:
        return {s: 1.0 / len(symbols) for s in symbols}
    weights = {str(k).upper(): float(v) for k, v in weights.items()}
    missing, extra = sorted(set(symbols) - set(weights)), sorted(set(weights) - set(symbols))
    if missing or extra:
        raise ValueError(f"weights must name exactly the symbols {symbols}; missing {missing}, unknown {extra}")
    if any(not np.isfinite(w) or w < 0 for w in weights.values()) or sum(weights.values()) > 1 + 1e-12:
        raise ValueError(f"weights {weights}: each must be >= 0 and together at most 1")
    return {s: weights[s] for s in symbols}


def run_portfolio(
    instance: Strategy,
    frames: dict[str, pd.DataFrame],
    costs: Costs,
    weights: dict[str, float],
    ppy: float,
    risk_manager: RiskManager | None = None,
) -> PortfolioResult:
    """The multi-symbol backtest loop; see the module docstring for its semantics.

    ``costs.risk`` may hold every rule of a single-symbol backtest, applied as there: the exposure limits
    scale all targets together whenever one changes (``scale_portfolio_nb``; each cut is a resize event);
    stop-loss, take-profit and trailing stop act per position; ``max_drawdown`` and ``daily_loss`` watch the
    whole account and flatten every position; ``max_orders_per_day`` counts the account's orders; the size
    caps apply per order; the session rules per symbol.
    """
    run = _PortfolioRun(instance, frames, costs, weights, risk_manager or RiskManager())
    for t in range(run.n):
        run.step(t)
    return run.result(ppy)


class _PortfolioRun:
    """State of one multi-symbol backtest, advanced bar by bar by ``step`` (the order of ``run_nb``: day roll,
    orders due at the open, signals, exit rules, marking)."""

    def __init__(
        self,
        instance: Strategy,
        frames: dict[str, pd.DataFrame],
        costs: Costs,
        weights: dict[str, float],
        risk_manager: RiskManager,
    ) -> None:
        self.instance, self.costs, self.risk_manager = instance, costs, risk_manager
        self.frames = frames = {s.upper(): f for s, f in frames.items()}  # brokers and orders: upper case
        self.weights = {s.upper(): w for s, w in weights.items()}
        self.symbols = symbols = list(frames)
        timeline = frames[symbols[0]].index
        for frame in list(frames.values())[1:]:
            timeline = timeline.union(frame.index)
        self.timeline, self.n, m = timeline, len(timeline), len(symbols)
        self.moments = timeline.to_pydatetime()
        self.closes = pd.DataFrame({s: f["close"] for s, f in frames.items()}).reindex(timeline).to_numpy()
        self.opens = pd.DataFrame({s: f["open"] for s, f in frames.items()}).reindex(timeline).to_numpy()
        targets = pd.DataFrame({s: instance.exposure(f) for s, f in frames.items()}).reindex(timeline)
        self.effective = targets.ffill().fillna(0.0).to_numpy()
        changes = pd.DataFrame(self.effective).ne(pd.DataFrame(self.effective).shift(1).fillna(0.0))
        self.changes = (changes.to_numpy() & targets.notna().to_numpy()).any(axis=1)
        closed = {s: pd.Series(costs.sessions(f.index, s) == CLOSED, index=f.index) for s, f in frames.items()}
        self.closed = pd.DataFrame(closed).reindex(timeline, fill_value=True).to_numpy(dtype=bool)
        # The daily rules' day: a calendar day, started at the first bar where some symbol is in session.
        self.days = np.where(self.closed.all(axis=1), CLOSED, day_ids(timeline))
        for s in symbols:
            if costs.allowed is not None and s not in costs.allowed:
                risk_manager.denied(self.moments[0], s, "allowed_symbols", {"weight": self.weights[s]})
                self.weights[s] = 0.0
        self.weight_vector = np.array([self.weights[s] for s in symbols])

        self.clock = FrozenClock(self.moments[0])
        self.broker = SimBroker(
            self.clock, cash=costs.cash, fees=costs.fees, fixed_fee=costs.fixed_fee, slippage=costs.slippage
        )
        self.om = OrderManager(
            self.broker,
            self.clock,
            fees=costs.fees,
            fixed_fee=costs.fixed_fee,
            slippage=costs.slippage,
            strategy=type(instance).name,
            risk=risk_manager,
        )
        self.positions, self.cash = np.zeros((self.n, m)), np.full(self.n, costs.cash)
        self.last_price = np.full(m, np.nan)
        self.due: dict[int, list[tuple[int, float]]] = {}  # bar -> [(symbol index, target weight)]
        self.scaled = np.zeros(m)  # the target weights last sent (or waiting to be)
        self.unsynced = False  # a target could not be sent yet (no bar, out of session, paused)
        self.stopped: set[int] = set()  # symbols a risk rule closed: out until their own target changes
        self.entry, self.extreme = np.full(m, np.nan), np.full(m, np.nan)
        self.exits_on = exit_rules_active_nb(costs.risk)
        self.days_on = not (np.isnan(costs.risk[DAILY_LOSS]) and np.isnan(costs.risk[MAX_ORDERS_PER_DAY]))
        self.day, self.day_start, self.prev_equity, self.peak = -1, costs.cash, costs.cash, np.nan
        self.orders_today, self.halted, self.day_halted = 0, False, False

    def step(self, t: int) -> None:
        if self.days_on and self.days[t] != CLOSED and self.days[t] != self.day:
            self.day, self.day_start, self.orders_today = self.days[t], self.prev_equity, 0
            self.unsynced = self.unsynced or self.day_halted
            self.day_halted = False
        if not self.costs.fill_close:
            self._execute(t, self.due.pop(t, []))
        if not (self.halted or self.day_halted) and (self.changes[t] or self.unsynced):
            self._signal(t)
        if self.costs.fill_close:
            self._execute(t, self.due.pop(t, []))
        self.last_price = np.where(np.isnan(self.closes[t]), self.last_price, self.closes[t])
        for j, s in enumerate(self.symbols):
            if not np.isnan(self.closes[t, j]):
                self.broker.quote(s, self.closes[t, j])
                if self.exits_on:
                    held = self.broker.positions().get(s, 0.0)
                    self.extreme[j] = update_extreme_nb(held, self.extreme[j], self.closes[t, j])
        if self.exits_on and not (self.halted or self.day_halted):
            self._exit_rules(t)
        held = self.broker.positions()
        self.positions[t] = [held.get(s, 0.0) for s in self.symbols]
        self.cash[t] = self.broker.account().cash
        equity = self.cash[t] + float(np.nansum(self.positions[t] * self.last_price))
        self.peak = equity if not equity <= self.peak else self.peak
        self.prev_equity = equity

    def _fill_bar(self, t: int) -> int:
        return t if self.costs.fill_close else t + 1

    def _can_trade(self, t: int, j: int) -> bool:
        """Whether symbol ``j``'s order of bar ``t`` can fill: its fill bar exists, has a price, is in session."""
        f = self._fill_bar(t)
        prices = self.closes if self.costs.fill_close else self.opens
        return f < self.n and not np.isnan(prices[f, j]) and not self.closed[f, j]

    def _signal(self, t: int) -> None:
        """Scale the targets of bar ``t``; when one moved, trade it and bring every other holding back to its
        target weight (drift since the last rebalance would otherwise leave the buys short of cash). A symbol
        that cannot trade now waits; one a risk rule closed stays out until its own target changes."""
        wanted = self.weight_vector * self.effective[t]
        new = scale_portfolio_nb(wanted, self.costs.risk)
        self.unsynced = False
        moved = []
        for j in np.flatnonzero(new != self.scaled):
            if not self._can_trade(t, j):
                self.unsynced = True
                continue
            if new[j] != wanted[j]:
                rule = self._cut_by(new, j)
                self.risk_manager.resized(self.moments[t], self.symbols[j], float(wanted[j]), float(new[j]), rule)
            self.scaled[j] = new[j]
            self.stopped.discard(j)
            moved.append(j)
        if not moved:
            return
        drifted = [
            j
            for j in np.flatnonzero(self.scaled != 0.0)
            if j not in moved and j not in self.stopped and self._can_trade(t, j)
        ]
        self.due.setdefault(self._fill_bar(t), []).extend((j, float(self.scaled[j])) for j in [*moved, *drifted])

    def _cut_by(self, new: np.ndarray, j: int) -> str:
        """The exposure limit that cut symbol ``j``'s target to ``new[j]``."""
        risk = self.costs.risk
        if not np.isnan(risk[MAX_NET_EXPOSURE]) and abs(new.sum()) == risk[MAX_NET_EXPOSURE]:
            return "max_net_exposure"
        return "max_exposure" if abs(new[j]) == risk[MAX_EXPOSURE] else "max_gross_exposure"

    def _execute(self, t: int, orders: list[tuple[int, float]]) -> None:
        """Trade each (symbol, weight) at bar ``t``'s fill price, reductions first."""
        if not orders:
            return
        self.clock.set(self.moments[t])
        prices = self.closes[t] if self.costs.fill_close else self.opens[t]
        marks = np.where(np.isnan(prices), self.last_price, prices)
        for j, weight in _sells_first(orders, self.broker, self.symbols, marks):
            symbol, price = self.symbols[j], float(prices[j])
            if not order_allowed_nb(self.orders_today, weight, self.costs.risk):
                self.risk_manager.denied(self.moments[t], symbol, "max_orders_per_day", {"target": weight})
                continue
            self.broker.quote(symbol, price)
            held = self.broker.positions()
            others = sum(q * marks[self.symbols.index(s)] for s, q in held.items() if s != symbol)
            before = held.get(symbol, 0.0)
            order = self.om.target(symbol, weight, price, other_holdings=others)
            if order is None or order.filled_qty <= 0.0:
                continue
            self.orders_today += 1
            after = self.broker.positions().get(symbol, 0.0)
            if after != 0.0 and (before == 0.0 or (before > 0) != (after > 0)):  # a new trade: the rules' entry
                self.entry[j] = self.extreme[j] = order.avg_fill_price

    def _exit_rules(self, t: int) -> None:
        """The exit rules at bar ``t``'s close: the account's (drawdown, daily loss) flatten everything and
        pause, a position's (stops, take-profit) close it; fills at this close or the next open."""
        risk, held = self.costs.risk, self.broker.positions()
        equity = self.broker.account().cash + sum(q * self.last_price[self.symbols.index(s)] for s, q in held.items())
        tradable = [j for j in range(len(self.symbols)) if self._can_trade(t, j)]
        if not tradable:
            return
        reason = exit_reason_nb(0.0, np.nan, np.nan, np.nan, equity, self.peak, self.day_start, risk)
        if reason != NO_EXIT:
            self.halted = self.halted or reason == EXIT_MAX_DRAWDOWN
            self.day_halted = reason == EXIT_DAILY_LOSS
            self.unsynced = True
            pending = self.due.pop(self._fill_bar(t), []) if not self.costs.fill_close else []
            exits = sorted({j for j, _ in pending} | {self.symbols.index(s) for s in held})
            flattened = [j for j in exits if self.symbols[j] in held]
            self.stopped.update(exits)
            for j in flattened:
                self._record_exit(t, j, reason, held[self.symbols[j]])
            if not flattened:  # nothing held: the rule still pauses (or halts) the account
                self.risk_manager.exited(self.moments[t], ACCOUNT, reason, {"equity": float(equity)})
            self._send_exits(t, [(j, 0.0) for j in exits])
            return
        exits = []
        for j in tradable:
            position = held.get(self.symbols[j], 0.0)
            if position == 0.0 or np.isnan(self.closes[t, j]):
                continue
            price, entry, extreme = self.closes[t, j], self.entry[j], self.extreme[j]
            reason = exit_reason_nb(position, entry, extreme, price, equity, self.peak, self.day_start, risk)
            if reason == NO_EXIT:
                continue
            pending = self.due.get(self._fill_bar(t), []) if not self.costs.fill_close else []
            if any(k == j for k, _ in pending):  # an order already due at that open takes precedence
                continue
            self._record_exit(t, j, reason, position)
            self.stopped.add(j)
            exits.append((j, 0.0))
        self._send_exits(t, exits)

    def _record_exit(self, t: int, j: int, reason: int, position: float) -> None:
        details = {"close": float(self.closes[t, j]), "position": float(position)}
        self.risk_manager.exited(self.moments[t], self.symbols[j], reason, details)

    def _send_exits(self, t: int, exits: list[tuple[int, float]]) -> None:
        if self.costs.fill_close:
            self._execute(t, exits)
        elif exits:
            self.due.setdefault(t + 1, []).extend(exits)

    def result(self, ppy: float) -> PortfolioResult:
        """Metrics, trades and records of the finished run."""
        symbols, positions, costs = self.symbols, self.positions, self.costs
        values = np.nan_to_num(positions * pd.DataFrame(self.closes).ffill().to_numpy())
        equity = self.cash + values.sum(axis=1)
        trades = _round_trips(self.om, symbols, dict(zip(symbols, self.last_price, strict=True)))
        pnl = trades["pnl"].to_numpy() if len(trades) else np.zeros(0)
        metrics = np.empty(N_METRICS)
        equity_metrics_nb(
            equity,
            np.abs(positions).sum(axis=1),
            costs.cash,
            len(pnl),
            float((pnl > 0).sum()),
            float(pnl[pnl > 0].sum()),
            float(-pnl[pnl < 0].sum()),
            ppy,
            metrics,
        )
        return PortfolioResult(
            strategy=self.instance,
            weights=self.weights,
            equity=pd.Series(equity, index=self.timeline, name="equity"),
            positions=pd.DataFrame(positions, index=self.timeline, columns=symbols),
            order_records=list(self.om.orders.values()),
            fill_records=self.om.fills,
            trades=trades,
            metrics=pd.Series(metrics, index=list(METRIC_NAMES), name=repr(self.instance)),
            events=self.om.events,
            risk_events=self.risk_manager.events,
            frames=self.frames,
            alerts=path_alerts(
                self.timeline, equity, np.abs(values).sum(axis=1), values.sum(axis=1), costs.cash,
                self.risk_manager.rules,
            ),
        )


def _sells_first(
    orders: list[tuple[int, float]], broker: SimBroker, symbols: list[str], marks: np.ndarray
) -> list[tuple[int, float]]:
    """Orders sorted by how much they cut a holding's weight: the reductions free the cash the buys need."""
    held = broker.positions()
    total = broker.account().cash + sum(q * marks[symbols.index(s)] for s, q in held.items())

    def weight_change(order: tuple[int, float]) -> float:
        j, weight = order
        return weight - held.get(symbols[j], 0.0) * np.nan_to_num(marks[j]) / total

    return sorted(orders, key=weight_change)


def _round_trips(om: OrderManager, symbols: list[str], last: dict[str, float]) -> pd.DataFrame:
    """Round trips per symbol from the fills: flat to flat, P&L by average cost net of fees; one still open
    is marked at the last close without an exit fee (as single-symbol backtests and vectorbt do)."""
    from workbench.engine.ledger import position_after_fill_nb

    rows = []
    for symbol in symbols:
        qty = avg = realized = 0.0
        start = None
        for fill in (f for f in om.fills if f.symbol == symbol):
            before = realized
            if qty == 0.0:
                start = (fill.timestamp, fill.price, before)
            qty, avg, realized = position_after_fill_nb(
                qty, avg, realized, fill.qty * fill.side.sign, fill.price, fill.fee
            )
            if qty == 0.0 and start is not None:
                rows.append((symbol, start[0], fill.timestamp, start[1], fill.price, realized - start[2]))
                start = None
        if start is not None:
            marked = realized - start[2] + qty * (last[symbol] - avg)
            rows.append((symbol, start[0], None, start[1], last[symbol], marked))
    return pd.DataFrame(rows, columns=["symbol", "entry_time", "exit_time", "entry_price", "exit_price", "pnl"])
