"""Multi-symbol backtests: one cash account, each symbol traded to ``weight x exposure`` of total equity.

Each symbol's signals come from its own bars (the sweep's signal function); orders go through the same
OrderManager and SimBroker as a single-symbol backtest and are sized with the sweep's ``target_size_nb``
against the whole account (cash plus the other holdings), sells before buys within a bar so cash is
freed first. Equity is marked at each bar's close with the last known price of every holding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.brokers.sim import SimBroker
from workbench.engine.inputs import Costs
from workbench.engine.metrics import METRIC_NAMES, N_METRICS, equity_metrics_nb
from workbench.engine.risk_rules import MAX_EXPOSURE, MAX_NET_EXPOSURE, scale_portfolio_nb
from workbench.engine.sessions import CLOSED
from workbench.orders.manager import OrderManager
from workbench.orders.model import Fill, Order, OrderEvent
from workbench.risk.manager import RiskEvent, RiskManager
from workbench.risk.monitor import Alert, path_alerts
from workbench.runner.records import RecordFrames
from workbench.strategies.base import Strategy
from workbench.testing.clock import FrozenClock


@dataclass
class PortfolioResult(RecordFrames):
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

    ``costs.risk`` may hold the exposure limits (``max_exposure`` per symbol, ``max_gross_exposure``,
    ``max_net_exposure``): whenever a target changes, all targets are scaled to fit (``scale_portfolio_nb``)
    and every symbol whose scaled target moved is rebalanced; each cut is a resize event.
    """
    risk_manager = risk_manager or RiskManager()
    frames = {s.upper(): f for s, f in frames.items()}  # brokers and orders know symbols in upper case
    weights = {s.upper(): w for s, w in weights.items()}
    symbols = list(frames)
    timeline = frames[symbols[0]].index
    for frame in list(frames.values())[1:]:
        timeline = timeline.union(frame.index)
    closes = pd.DataFrame({s: f["close"] for s, f in frames.items()}).reindex(timeline)
    opens = pd.DataFrame({s: f["open"] for s, f in frames.items()}).reindex(timeline)
    targets = pd.DataFrame({s: instance.exposure(f) for s, f in frames.items()}).reindex(timeline)
    effective = targets.ffill().fillna(0.0)
    changes = effective.ne(effective.shift(1).fillna(0.0)) & targets.notna()

    clock = FrozenClock(timeline[0].to_pydatetime())
    broker = SimBroker(clock, cash=costs.cash, fees=costs.fees, fixed_fee=costs.fixed_fee, slippage=costs.slippage)
    om = OrderManager(
        broker,
        clock,
        fees=costs.fees,
        fixed_fee=costs.fixed_fee,
        slippage=costs.slippage,
        strategy=type(instance).name,
    )
    closed = {s: pd.Series(costs.sessions(f.index, s) == CLOSED, index=f.index) for s, f in frames.items()}
    closed_values = pd.DataFrame(closed).reindex(timeline, fill_value=True).to_numpy(dtype=bool)
    for s in symbols:
        if costs.allowed is not None and s not in costs.allowed:
            risk_manager.denied(timeline[0].to_pydatetime(), s, "allowed_symbols", {"weight": weights[s]})
            weights[s] = 0.0
    n = len(timeline)
    positions = np.zeros((n, len(symbols)))
    cash = np.full(n, costs.cash)
    close_values, open_values = closes.to_numpy(), opens.to_numpy()
    last_price = np.full(len(symbols), np.nan)
    due: dict[int, list[tuple[int, float]]] = {}  # bar -> [(symbol index, target weight)]
    weight_vector = np.array([weights[s] for s in symbols])
    scaled = np.zeros(len(symbols))
    for t in range(n):
        if changes.iloc[t].any():
            wanted = weight_vector * effective.iloc[t].to_numpy()
            new = scale_portfolio_nb(wanted, costs.risk)
            for j in np.flatnonzero(new != wanted):
                rule = "max_exposure" if abs(new[j]) == costs.risk[MAX_EXPOSURE] else "max_gross_exposure"
                if not np.isnan(costs.risk[MAX_NET_EXPOSURE]) and abs(new.sum()) == costs.risk[MAX_NET_EXPOSURE]:
                    rule = "max_net_exposure"
                risk_manager.resized(timeline[t].to_pydatetime(), symbols[j], float(wanted[j]), float(new[j]), rule)
            moved = [(j, float(new[j])) for j in np.flatnonzero(new != scaled)]
            scaled = new
            due.setdefault(t if costs.fill_close else t + 1, []).extend(moved)
        orders = due.pop(t, [])
        prices = close_values[t] if costs.fill_close else open_values[t]
        if orders:
            clock.set(timeline[t].to_pydatetime())
            marks = np.where(np.isnan(prices), last_price, prices)
            orders = _sells_first(orders, broker, symbols, marks)
            for j, weight in orders:
                symbol, price = symbols[j], prices[j]
                if np.isnan(price) or closed_values[t, j]:  # no bar or out of session: wait for its next bar
                    due.setdefault(t + 1, []).append((j, weight))
                    continue
                broker.quote(symbol, price)
                others = sum(q * last_price[symbols.index(s)] for s, q in broker.positions().items() if s != symbol)
                om.target(symbol, weight, price, other_holdings=others)
        last_price = np.where(np.isnan(close_values[t]), last_price, close_values[t])
        for j, s in enumerate(symbols):
            if not np.isnan(close_values[t, j]):
                broker.quote(s, close_values[t, j])
        held = broker.positions()
        positions[t] = [held.get(s, 0.0) for s in symbols]
        cash[t] = broker.account().cash
    values = np.nan_to_num(positions * pd.DataFrame(close_values).ffill().to_numpy())
    equity = cash + values.sum(axis=1)
    trades = _round_trips(om, symbols, dict(zip(symbols, last_price, strict=True)))
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
        strategy=instance,
        weights=weights,
        equity=pd.Series(equity, index=timeline, name="equity"),
        positions=pd.DataFrame(positions, index=timeline, columns=symbols),
        order_records=list(om.orders.values()),
        fill_records=om.fills,
        trades=trades,
        metrics=pd.Series(metrics, index=list(METRIC_NAMES), name=repr(instance)),
        events=om.events,
        risk_events=risk_manager.events,
        alerts=path_alerts(
            timeline, equity, np.abs(values).sum(axis=1), values.sum(axis=1), costs.cash, risk_manager.rules
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
