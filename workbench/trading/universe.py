"""Several symbols in one account traded through the objects that trade live: ``UniverseDriver`` turns each bar
time's target weights into orders with the sweep's own step and rules (`engine.portfolio_rules` decides,
`engine.portfolio.plan_nb` sizes and orders them, sells first; `engine.portfolio.fill_order_nb` cuts a buy to the
cash) and sends each through RiskManager -> OrderManager -> broker. `run_weights` is the event-driven backtest of
several symbols: a universe strategy's weights (`run_universe`, equal to its sweep row) or a one-symbol strategy's
exposures at fixed weights (`trading.exposure_weights`, sized as the one-symbol kernel sizes)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from workbench.engine.exposure_weights import exposure_rows_nb
from workbench.engine.fills import MIN_ORDER_SIZE, is_close_nb, is_less_nb
from workbench.engine.inputs import Costs
from workbench.engine.metrics import METRIC_NAMES, N_METRICS, equity_metrics_nb
from workbench.engine.portfolio import (
    AFTER_FEES,
    N_TRIP_FIELDS,
    N_TRIP_STATE,
    TARGET_PERCENT,
    account_value_nb,
    book_trip_nb,
    fill_order_nb,
    open_trip_nb,
    order_units_nb,
    plan_nb,
    write_open_trip_nb,
)
from workbench.engine.portfolio_rules import (
    DAY,
    DAY_START,
    HALTED,
    LAST_EQUITY,
    ORDERS_TODAY,
    PEAK,
    days_on_nb,
    decide_nb,
    exit_orders_nb,
    halted_nb,
    lift_held_nb,
    mark_extremes_nb,
    new_rule_state_nb,
    opened_nb,
    roll_day_nb,
    settle_nb,
)
from workbench.engine.quiet_bars import quiet_bars_nb
from workbench.engine.risk_rules import (
    MAX_EXPOSURE,
    MAX_NET_EXPOSURE,
    NO_EXIT,
    exit_rules_active_nb,
    order_allowed_nb,
)
from workbench.engine.sessions import CLOSED
from workbench.engine.universe_run import trip_table
from workbench.engine.weights_kernel import gross_nb, rules_active_nb
from workbench.orders.manager import OrderManager
from workbench.orders.model import Order, Side
from workbench.risk.manager import ACCOUNT, RiskManager, RiskRules
from workbench.risk.monitor import path_alerts
from workbench.strategies.base import Strategy
from workbench.strategies.universe import Panel, UniverseStrategy, call_weights
from workbench.trading.build import backtest_account
from workbench.trading.exposure_weights import ExposureWeights
from workbench.trading.gc_pause import gc_paused
from workbench.trading.moments import Moments
from workbench.trading.rule_resume import AccountRules
from workbench.trading.venue import Venue


class UniverseDriver:
    """The orders of a universe strategy's weights, bar time by bar time, through ``om`` at ``venue``, with the
    sweep kernel's decisions (`engine.weights_kernel`): the same phase kernels (`engine.portfolio_rules`) in the same
    order, each order sized by `plan_nb`, cut by the risk manager's caps and to the cash by `fill_order_nb`, sent
    through the OrderManager. The round trips of every symbol follow the fills (``trips``), as the sweep books them.

    Feed it each complete row with `bar`. With next-open fills a row's decisions need the next row (is its fill bar
    in session, has each symbol an open there?), so they are made when that row arrives, before its orders.

    With ``targets`` (a one-symbol strategy at fixed weights) the rows given to `bar` are the symbols' exposures,
    turned into weights by ``targets`` when the fill row is known; ``sizing`` is then ``AFTER_FEES``."""

    def __init__(
        self,
        symbols: list[str],
        costs: Costs,
        venue: Venue,
        om: OrderManager,
        risk_manager: RiskManager,
        leverage: float,
        *,
        sizing: int = TARGET_PERCENT,
        targets: ExposureWeights | None = None,
    ) -> None:
        self.symbols, self.costs, self.venue, self.om, self.risk_manager = symbols, costs, venue, om, risk_manager
        self.leverage, self.sizing, self.targets = leverage, sizing, targets
        self._denied = False  # a fixed-weight portfolio names the symbols it may not trade once
        m = len(symbols)
        self.allowed = costs.account_sessions(pd.DatetimeIndex([], tz="UTC"), symbols)[1]
        self.rules_on = bool(rules_active_nb(costs.risk, np.zeros(0, dtype=np.int64), self.allowed)) or (
            costs.hours is not None
        )
        self.exits_on = self.rules_on and bool(exit_rules_active_nb(costs.risk))
        self.days_on = self.rules_on and bool(days_on_nb(costs.risk))
        self.account, self.rule_state = new_rule_state_nb(m, costs.cash)
        self.val_prices, self.last_close = np.full(m, np.nan), np.full(m, np.nan)
        self.waiting, self.held, self.due = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
        self.n_due = 0
        self._limited, self._reasons = np.empty(m), np.zeros(m, dtype=np.int64)
        self.trips = np.zeros((m, N_TRIP_STATE))
        self.stats = np.zeros(5)  # round trips closed, wins, gross win, gross loss, (unused)
        self.closed: list[np.ndarray] = []
        self._seq, self._sizes = np.empty(m, dtype=np.int64), np.empty(m)
        self._previous: tuple[int, datetime, np.ndarray, np.ndarray] | None = None  # next-open: the row to decide

    def adopt(self, positions: dict[str, tuple[float, float]], bar: int) -> None:
        """Take over positions opened before this driver (symbol -> (qty, average price)): each is a round trip
        open since ``bar`` at its average price (the fees it paid are not known here), measured by the stops from
        that price."""
        for j, symbol in enumerate(self.symbols):
            qty, avg_price = positions.get(symbol, (0.0, np.nan))
            if qty != 0.0:
                open_trip_nb(self.trips, j, bar, qty, avg_price, 0.0)
                opened_nb(self.rule_state, j, 0.0, qty, avg_price)

    def resume_rules(self, rules: AccountRules) -> None:
        """Go on from a recorded run's account rule state: its drawdown peak, last equity and day (`rule_resume`)."""
        self.account[PEAK], self.account[LAST_EQUITY] = rules.peak, rules.last_equity
        if rules.day != CLOSED:
            self.account[DAY], self.account[DAY_START] = rules.day, rules.day_start
            self.account[ORDERS_TODAY] = rules.orders_today

    def halt(self) -> None:
        """A recorded run resumed halted: no rule trades until a person lifts the halt (`lift_halt`)."""
        self.account[HALTED] = 1.0

    def lift_halt(self) -> None:
        """A person restarted trading after a halt: the drawdown rule's halt is lifted, its peak measured again from
        the next close (a pause that was not a halt keeps its peak)."""
        if self.account[HALTED] != 0.0:
            self.account[HALTED] = 0.0
            self.account[PEAK] = np.nan

    def prime(self, t: int, moment: datetime, closes: np.ndarray, weights: np.ndarray) -> None:
        """Take the last warm-up row as traded: its closes are the last prices, and with next-open fills its weights
        are decided (and traded) at the first row given to `bar`."""
        np.copyto(self.last_close, closes, where=closes == closes)
        if not self.costs.fill_close:
            self._previous = (t, moment, closes, weights)

    def holdings(self) -> tuple[float, np.ndarray]:
        """The broker's cash and the driver's symbols' positions."""
        held = self.venue.broker.positions()
        return self.venue.broker.account().cash, np.array([held.get(s, 0.0) for s in self.symbols])

    def bar(
        self, t: int, moment: datetime, day: int, opens: np.ndarray, closes: np.ndarray, weights: np.ndarray,
        paused: bool = False,
    ) -> None:  # fmt: skip
        """Row ``t`` (its time, session id, opens and closes; NaN where a symbol has no bar) with the strategy's
        ``weights`` of it: every decision and order it completes. ``paused`` (a switched-off strategy) places no
        order and drops the weights that come due. ``ValueError`` when weights ask for more than the leverage or to
        trade a symbol without a price."""
        fill_close = self.costs.fill_close
        if not fill_close and self._previous is not None:  # the previous row's decisions: its fill bar is here
            self._decide(*self._previous, day, opens, paused)
        fill_prices = closes if fill_close else opens
        np.copyto(self.val_prices, fill_prices, where=fill_prices == fill_prices)
        if self.days_on:
            roll_day_nb(self.account, day)
            lift_held_nb(self.account, self.held, self.waiting)
        if not fill_close:
            self._trade(t, moment, opens, paused)
            np.copyto(self.last_close, closes, where=closes == closes)
            self._previous = (t, moment, closes, weights)
            return
        self._decide(t, moment, closes, weights, day, closes, paused)

    def _decide(
        self, t: int, moment: datetime, closes: np.ndarray, weights: np.ndarray, fill_day: int, fill_prices,
        paused: bool,
    ) -> None:  # fmt: skip
        """Row ``t``'s weights under the rules (released if the fill bar, of session ``fill_day`` at ``fill_prices``,
        is in session), then its close: marks, the exit rules, the account's peak and day."""
        fill_close = self.costs.fill_close
        fill_open = fill_day != CLOSED
        if self.targets is not None:
            if not self._denied:
                self.deny_disallowed(moment, self.targets.weights)
            weights = self.targets.row(weights, self.allowed & fill_open & ~np.isnan(fill_prices))
        self._check_leverage(moment, weights)
        self.n_due = int(
            decide_nb(
                weights, self.allowed, self.costs.risk, fill_open, fill_prices, self.account, self.rule_state,
                self._limited,
                self.waiting, self.held, self.due,
            )
        )  # fmt: skip
        self._report_limits(moment, weights)
        if fill_close:
            self._trade(t, moment, closes, paused)
            np.copyto(self.last_close, closes, where=closes == closes)
        cash, positions = self.holdings()
        equity = float(account_value_nb(cash, positions, self.last_close))
        if self.exits_on and not halted_nb(self.account):
            mark_extremes_nb(positions, closes, self.rule_state)
            if self.n_due == 0:
                self.due[:] = np.nan
            tradable = self.allowed & fill_open & ~np.isnan(fill_prices)
            rule, n = exit_orders_nb(
                positions, self.last_close, tradable, equity, self.costs.risk, self.account, self.rule_state,
                self._reasons, self.waiting, self.due,
            )  # fmt: skip
            self.n_due = int(n)
            self._report_exits(moment, int(rule), positions, closes, equity)
            if fill_close and self.n_due:
                self._trade(t, moment, closes, paused)
                cash, positions = self.holdings()
                equity = float(account_value_nb(cash, positions, self.last_close))
        if self.rules_on:
            settle_nb(self.account, equity)

    def deny_disallowed(self, moment: datetime, weights: np.ndarray) -> None:
        """Deny a fixed-weight portfolio's symbols that may not trade (at their ``weights``), once: the weights of
        its rows leave them out."""
        self._denied = True
        for j in np.flatnonzero(~self.allowed):
            self.risk_manager.denied(moment, self.symbols[j], "allowed_symbols", {"weight": float(weights[j])})

    def _check_leverage(self, moment: datetime, weights: np.ndarray) -> None:
        gross = float(gross_nb(weights)[0])
        if gross > self.leverage and not is_close_nb(gross, self.leverage):
            held = {s: round(float(w), 6) for s, w in zip(self.symbols, weights, strict=True) if w == w and w != 0.0}
            raise ValueError(
                f"the weights at {pd.Timestamp(moment)} hold {gross:.6g} of equity in {held}: more than the leverage "
                f"allowed ({self.leverage:g})"
            )

    def _trade(self, t: int, moment: datetime, prices: np.ndarray, paused: bool) -> None:
        """Send the weights due (``due``) at ``prices`` (bar ``t``), sells first, through the OrderManager."""
        if not self.n_due:
            return
        self.n_due = 0
        if paused:
            return
        weights = self.due
        cash, held = self.holdings()
        pending = np.array([self.om.working(symbol) for symbol in self.symbols])
        working = bool(pending.any())  # working orders (a closed market, a slow fill) count as held: none stacked on
        if working:
            held = held + pending
            cash -= float(np.nansum(pending * prices))
        n, missing = plan_nb(weights, prices, self.val_prices, cash, held, self._seq, self._sizes)
        if missing >= 0:
            raise ValueError(
                f"weights ask to trade {self.symbols[missing]}, which has no price at {pd.Timestamp(moment)} where the "
                "order would fill (no bar): a weight there must be NaN"
            )
        self.venue.simulation.set_time(moment)
        costs = self.costs
        for k in range(n):
            j, size = int(self._seq[k]), float(self._sizes[k])
            symbol, weight = self.symbols[j], float(weights[j])
            cash, positions = self.holdings() if k or working else (cash, held)  # read once before the first
            if self.sizing != TARGET_PERCENT:  # sized now, from the cash the orders before it left
                spendable = cash - float(np.nansum(pending * prices)) if working else cash
                size = order_units_nb(
                    self.sizing, size, weight, j, spendable, positions + pending if working else positions,
                    prices, self.val_prices, costs.fees, costs.fixed_fee, costs.slippage,
                )  # fmt: skip
            if size == 0.0 or is_close_nb(size, 0.0):
                continue
            if pending[j] != 0.0:  # the working order makes way for the one that replaces it
                if not self.om.replace_working(symbol):
                    continue
                before = float(positions[j] + pending[j])
                pending[j] = 0.0
                cash, positions = self.holdings()
                size = before + size - positions[j]
                if is_close_nb(size, 0.0):
                    continue
            if weight != 0.0:  # exits are never capped nor refused; every other order is approved, cut or denied
                if self.rules_on and not order_allowed_nb(self.account[ORDERS_TODAY], weight, costs.risk):
                    self.risk_manager.denied(moment, symbol, "max_orders_per_day", {"target": weight})
                    continue
                size = self.risk_manager.cap_size(moment, symbol, size, float(positions[j]), float(prices[j]))
                if size == 0.0 or is_less_nb(abs(size), MIN_ORDER_SIZE):
                    continue
            units = fill_order_nb(
                cash, positions[j], size, prices[j], costs.fees, costs.fixed_fee, costs.slippage,
                self.sizing == AFTER_FEES,
            )[0]  # fmt: skip
            if units == 0.0:
                continue
            self.venue.simulation.quote(symbol, float(prices[j]))
            side = Side.BUY if units > 0 else Side.SELL
            order = Order.market(
                symbol=symbol, side=side, qty=abs(units), created_at=self.om.clock.now(), strategy=self.om.strategy
            )  # stamped by the clock: the bar's time in a backtest, the wall clock live
            sent = self.om.submit_target(order)
            if sent.filled_qty > 0.0:
                if self.rules_on:
                    self.account[ORDERS_TODAY] += 1.0
                    after = positions[j] + sent.filled_qty * sent.side.sign
                    opened_nb(self.rule_state, j, float(positions[j]), after, sent.avg_fill_price)
                self._book(t, j, positions[j], sent)

    def _report_limits(self, moment: datetime, weights: np.ndarray) -> None:
        """Risk events of the row's weights: a symbol not allowed, a weight cut by an exposure limit."""
        if not self.rules_on:
            return
        for j in np.flatnonzero(~np.isnan(weights)):
            symbol, wanted, allowed = self.symbols[j], float(weights[j]), float(self._limited[j])
            if not self.allowed[j]:
                self.risk_manager.denied(moment, symbol, "allowed_symbols", {"weight": wanted})
            elif allowed == allowed and not is_close_nb(allowed, wanted):
                self.risk_manager.resized(moment, symbol, wanted, allowed, _limit_of(self._limited, j, self.costs.risk))

    def _report_exits(
        self, moment: datetime, rule: int, positions: np.ndarray, closes: np.ndarray, equity: float
    ) -> None:
        """Risk events of the exit rules: each position a rule closes; the account's rule with nothing held."""
        exits = np.flatnonzero(self._reasons != NO_EXIT)
        for j in exits:
            details = {"close": float(closes[j]), "position": float(positions[j])}
            self.risk_manager.exited(moment, self.symbols[j], int(self._reasons[j]), details)
        if rule != NO_EXIT and not len(exits):
            self.risk_manager.exited(moment, ACCOUNT, rule, {"equity": equity})

    def _book(self, bar: int, j: int, position: float, order: Order) -> None:
        """Follow a filled order into symbol ``j``'s round trip, as the sweep books it."""
        row = np.empty((1, N_TRIP_FIELDS))
        size = order.filled_qty * order.side.sign
        count, pnl = book_trip_nb(self.trips, j, bar, position, size, order.avg_fill_price, order.fees, True, row, 0)
        if count:
            self._close(row[0], pnl)

    def _close(self, row: np.ndarray, pnl: float) -> None:
        self.closed.append(row.copy())
        self.stats[0] += 1.0
        if pnl > 0.0:
            self.stats[1] += 1.0
            self.stats[2] += pnl
        elif pnl < 0.0:
            self.stats[3] -= pnl


def _limit_of(weights: np.ndarray, j: int, risk: np.ndarray) -> str:
    """The exposure limit that cut symbol ``j``'s weight to ``weights[j]``."""
    if risk[MAX_NET_EXPOSURE] == risk[MAX_NET_EXPOSURE] and is_close_nb(
        abs(np.nansum(weights)), risk[MAX_NET_EXPOSURE]
    ):
        return "max_net_exposure"
    if risk[MAX_EXPOSURE] == risk[MAX_EXPOSURE] and is_close_nb(abs(weights[j]), risk[MAX_EXPOSURE]):
        return "max_exposure"
    return "max_gross_exposure"


def run_universe(
    instance: UniverseStrategy, panel: Panel, costs: Costs, leverage: float, ppy: float, rules: RiskRules
) -> dict[str, object]:
    """The event-driven backtest of ``instance`` over ``panel`` under ``rules``: its weights (computed once, as the
    sweep does) traded by `run_weights`."""
    weights = call_weights(type(instance), panel, tuple(instance.values.values()))
    return run_weights(weights, panel, costs, leverage, ppy, rules, type(instance).name, repr(instance))


def run_exposures(
    instance: Strategy, frames: dict[str, pd.DataFrame], weights: dict[str, float], costs: Costs, ppy: float,
    rules: RiskRules,
) -> dict[str, object]:  # fmt: skip
    """The event-driven backtest of one-symbol strategy ``instance`` over every symbol of ``frames`` in one account,
    each held at ``weights[symbol] x`` its exposure (from its own bars; `engine.exposure_weights` makes the rows),
    sized as the one-symbol kernel sizes (``AFTER_FEES``): on one symbol at weight 1 it is the one-symbol backtest."""
    panel = Panel.of(frames)
    exposures = np.column_stack(
        [instance.exposure(frame).reindex(panel.index).to_numpy(dtype=np.float64) for frame in frames.values()]
    )
    fixed = np.array([weights[s] for s in panel.symbols], dtype=np.float64)
    days, allowed = costs.account_sessions(panel.index, panel.symbols)
    opens, closes = panel.arrays[0], panel.arrays[3]
    if costs.fill_close:
        tradable = (days != CLOSED)[:, None] & ~np.isnan(closes)
    else:  # the order of bar t fills at t + 1's open: none for the last bar
        tradable = np.zeros(panel.shape, dtype=np.bool_)
        tradable[:-1] = (days[1:] != CLOSED)[:, None] & ~np.isnan(opens[1:])
    rows = np.empty(panel.shape)
    exposure_rows_nb(exposures, fixed, tradable & allowed, rows)
    name, label = type(instance).name, repr(instance)
    return run_weights(rows, panel, costs, 1.0, ppy, rules, name, label, sizing=AFTER_FEES, fixed=fixed)


def run_weights(
    rows: np.ndarray,
    panel: Panel,
    costs: Costs,
    leverage: float,
    ppy: float,
    rules: RiskRules,
    strategy: str,
    label: str,
    *,
    sizing: int = TARGET_PERCENT,
    fixed: np.ndarray | None = None,
) -> dict[str, object]:
    """``rows`` (bars x symbols of weights) traded bar time by bar time by a `UniverseDriver` through RiskManager ->
    OrderManager -> SimBroker on a simulated clock, equity marked at each close; the bars where nothing can trade
    advance in one compiled loop (`engine.quiet_bars`). ``fixed``: a fixed-weight portfolio's weights (its symbols
    that may not trade are denied once). Returns the pieces of a result (see ``trading.backtest.backtest``), the
    metrics named ``label``."""
    opens, closes = panel.arrays[0], panel.arrays[3]
    n, m = panel.shape
    stamps = Moments(panel.index)
    days = costs.account_sessions(panel.index, panel.symbols)[0]
    venue, risk_manager, om = backtest_account(costs, stamps[0], strategy, rules)
    driver = UniverseDriver(panel.symbols, costs, venue, om, risk_manager, leverage, sizing=sizing)
    if fixed is not None:
        driver.deny_disallowed(stamps[0], fixed)
    equity, cash, positions = np.empty(n), np.empty(n), np.empty((n, m))
    fill_close, risk = costs.fill_close, costs.risk
    t = 0
    with gc_paused():
        while t < n:
            if t > 0:
                money, held = cash[t - 1], positions[t - 1].copy()  # the holdings after the last bar traded
                s = quiet_bars_nb(
                    t, n, opens, closes, rows, days, risk, fill_close, driver.rules_on, driver.exits_on,
                    driver.days_on, money, held, driver.val_prices, driver.last_close, driver.account,
                    driver.rule_state, driver.waiting, driver.held, equity,
                )  # fmt: skip
                if s > t:
                    cash[t:s], positions[t:s] = money, held
                    if not fill_close:  # the last quiet row is decided at the next bar, as the driver does
                        driver.prime(s - 1, stamps[s - 1], closes[s - 1], rows[s - 1])
                    _quote(venue, panel.symbols, driver.last_close)
                    t = s
                    if t == n:
                        break
            driver.bar(t, stamps[t], int(days[t]), opens[t], closes[t], rows[t])
            _quote(venue, panel.symbols, closes[t])  # marks the account at the close
            cash[t], positions[t] = driver.holdings()
            equity[t] = account_value_nb(cash[t], positions[t], driver.last_close)
            t += 1
    trades = _trades(driver, positions[-1], driver.last_close, panel)
    metrics = np.empty(N_METRICS)
    stats = driver.stats
    gross = np.abs(positions).sum(axis=1)
    equity_metrics_nb(equity, gross, costs.cash, stats[0], stats[1], stats[2], stats[3], ppy, metrics)
    values = np.nan_to_num(positions * pd.DataFrame(closes).ffill().to_numpy())
    return {
        "equity": pd.Series(equity, index=panel.index, name="equity"),
        "positions": pd.DataFrame(positions, index=panel.index, columns=panel.symbols),
        "trades": trades,
        "metrics": pd.Series(metrics, index=list(METRIC_NAMES), name=label),
        "order_records": list(om.orders.values()),
        "fill_records": om.fills,
        "events": om.events,
        "risk_events": risk_manager.events,
        "alerts": path_alerts(
            panel.index, equity, np.abs(values).sum(axis=1), values.sum(axis=1), costs.cash, risk_manager.rules
        ),
    }


def _quote(venue: Venue, symbols: list[str], prices: np.ndarray) -> None:
    """Tell the simulated venue each symbol's price, where it has one (NaN: no bar)."""
    for symbol, price in zip(symbols, prices.tolist(), strict=True):
        if price == price:
            venue.simulation.quote(symbol, price)


def _trades(driver: UniverseDriver, held: np.ndarray, last_close: np.ndarray, panel: Panel) -> pd.DataFrame:
    """Every round trip, closed ones as they closed and the open ones marked at the last close (no exit fee), as
    a table: symbol, entry and exit time, bars, direction, size, prices, fees, P&L and return."""
    rows = list(driver.closed)
    for j in np.flatnonzero(held != 0.0):
        row = np.empty(N_TRIP_FIELDS)
        pnl = write_open_trip_nb(driver.trips[j], j, abs(held[j]), last_close[j], row)
        driver._close(row, pnl)
        rows.append(row)
    return trip_table(np.array(rows), panel)
