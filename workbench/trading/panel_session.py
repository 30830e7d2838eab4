"""``PanelSession``: the part every session of several symbols in one account shares - bars grouped into bar times,
the panel they make, and the `UniverseDriver` that trades each completed time (`UniverseSession` for a universe
strategy's weights, `PortfolioSession` for a one-symbol strategy at fixed weights).

Bars arrive one symbol at a time; the session holds those of one time until it has every symbol's (or a later
time's bar arrives, or the feed ends with `flush`), then appends the row to its panel and gives the driver the row's
weights (a subclass's `_row`, from the bars so far only). With ``fill="close"`` they are traded at once, at the row's
closes; with ``"next_open"`` at the next row's opens. So a session fed a backtest's bars places the backtest's orders
in the same order. A bar of an earlier time arriving after that time was done is dropped (logged): its time was
already traded. Like a `TradingSession` it has ``om``, ``risk_manager``, ``monitor``, ``broker`` and ``clock``,
journals every order write-ahead when given a journal, and is run by `LiveSession`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.clock import Clock
from workbench.data.feeds import Bar
from workbench.data.schema import BAR_COLUMNS
from workbench.engine.portfolio import TARGET_PERCENT
from workbench.logs import get_logger
from workbench.orders.model import Order
from workbench.ports import Broker
from workbench.risk.manager import RiskRules
from workbench.strategies.universe import Panel
from workbench.trading.build import trading_core, venue_of
from workbench.trading.exposure_weights import ExposureWeights
from workbench.trading.universe import UniverseDriver

if TYPE_CHECKING:
    from workbench.store.journal import OrderJournal

_log = get_logger("workbench.session")


class PanelSession:
    """Trade ``symbols`` in one account through ``broker`` as their bars arrive: call ``on_bar`` with each new bar
    (or ``run`` a feed); see the module docstring. A subclass gives each row's weights (`_row`) and acts on the
    warm-up bars (`_primed`)."""

    def __init__(
        self,
        strategy_name: str,
        symbols: tuple[str, ...],
        broker: Broker,
        clock: Clock,
        *,
        fees: float,
        slippage: float,
        fixed_fee: float,
        fill: str,
        risk: RiskRules | dict[str, Any] | None,
        history: Mapping[str, pd.DataFrame] | None,
        journal: OrderJournal | None,
        leverage: float,
        sizing: int = TARGET_PERCENT,
        targets: ExposureWeights | None = None,
    ) -> None:
        self.symbols = symbols
        self.rules = risk if isinstance(risk, RiskRules) else RiskRules.from_mapping(risk)
        self.venue = venue_of(broker, clock)
        self.history = {s.upper(): f for s, f in (history or {}).items() if s.upper() in self.symbols and len(f)}
        for symbol, frame in self.history.items():
            self.venue.simulation.quote(symbol, float(frame["close"].iloc[-1]))  # an account worth its marks
        self.costs, self.risk_manager, self.om, self.monitor = trading_core(
            self.venue, self.rules, strategy_name, journal, fees=fees, slippage=slippage, fixed_fee=fixed_fee, fill=fill
        )
        self.broker, self.clock, self.journal = broker, clock, journal
        self.driver = UniverseDriver(
            list(self.symbols), self.costs, self.venue, self.om, self.risk_manager, leverage,
            sizing=sizing, targets=targets,
        )  # fmt: skip
        self._times: list[datetime] = []
        self._rows = np.empty((256, len(BAR_COLUMNS), len(self.symbols)))
        self._pending: dict[str, Bar] = {}
        self._last_of: dict[str, datetime] = {}  # each symbol's last bar taken
        self.paused = False

    # --- what a subclass gives ----------------------------------------------------------------------------------

    def _row(self) -> np.ndarray:
        """What the driver trades for the last row (weights, or exposures for a driver with targets)."""
        raise NotImplementedError

    def _primed(self) -> None:
        """Act on the warm-up bars just taken (the driver's state as of the last of them)."""
        raise NotImplementedError

    def _unpaused(self) -> None:
        """Trading starts again after a pause."""

    # --- what a session does ------------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> list[Order]:
        """Take ``bar`` (bars of other symbols are ignored); once its time is complete, place the orders it calls
        for. Returns the orders placed."""
        symbol = bar.symbol.upper()
        if symbol not in self.symbols:
            return []
        previous = self._pending[symbol].timestamp if symbol in self._pending else self._last_of.get(symbol)
        if previous is not None and bar.timestamp <= previous:
            raise ValueError(
                f"{symbol} bar at {bar.timestamp.isoformat()} is not after the previous one "
                f"({previous.isoformat()}): bars must arrive in time order"
            )
        pending = next(iter(self._pending.values())).timestamp if self._pending else None
        late = (
            bar.timestamp < pending
            if pending is not None
            else self.last_bar is not None and bar.timestamp <= self.last_bar
        )
        if late:
            _log.warning("late bar dropped: its time was traded", symbol=symbol, bar=bar.timestamp.isoformat())
            return []
        before = len(self.om.orders)
        if pending is not None and bar.timestamp > pending:
            self._complete()
        self._pending[symbol] = bar
        if len(self._pending) == len(self.symbols):
            self._complete()
        return list(self.om.orders.values())[before:]

    def run(self, feed: Iterable[Bar]) -> list[Order]:
        """``on_bar`` for every bar of ``feed`` until it ends, then `flush`; returns every order placed."""
        placed = []
        for bar in feed:
            placed.extend(self.on_bar(bar))
        placed.extend(self.flush())
        return placed

    def flush(self) -> list[Order]:
        """Trade the bars held back now (the feed ended: no other symbol's bar of their time is coming)."""
        if not self._pending:
            return []
        before = len(self.om.orders)
        self._complete()
        return list(self.om.orders.values())[before:]

    def pause(self, paused: bool) -> None:
        """Place no new orders while ``paused`` (a strategy switched off or halted in the store); weights that
        come due meanwhile are dropped. Once unpaused, a drawdown halt a person lifted is lifted here too."""
        if self.paused and not paused:
            self.driver.lift_halt()
            self._unpaused()
        self.paused = paused

    def last_price(self, symbol: str) -> float | None:
        """The last close of ``symbol`` this session saw (None for another symbol, or before its first bar)."""
        if symbol.upper() not in self.symbols:
            return None
        closes = self._rows[: len(self._times), 3, self.symbols.index(symbol.upper())]
        seen = closes[~np.isnan(closes)]
        return float(seen[-1]) if len(seen) else None

    @property
    def last_bar(self) -> datetime | None:
        """The last time traded (warm-up included): bars held back for their time to complete do not count."""
        return self._times[-1] if self._times else None

    def panel(self) -> Panel:
        """The bars taken so far (history included), aligned as a universe strategy reads them."""
        n = len(self._times)
        arrays = tuple(np.ascontiguousarray(self._rows[:n, i, :]) for i in range(len(BAR_COLUMNS)))
        index = pd.DatetimeIndex(self._times, name="timestamp").as_unit("ns")
        return Panel(index, list(self.symbols), arrays)

    def frame(self, symbol: str) -> pd.DataFrame:
        """``symbol``'s bars taken so far (history included), as a canonical bar table."""
        j = self.symbols.index(symbol.upper())
        n = len(self._times)
        values = self._rows[:n, :, j]
        has_bar = ~np.isnan(values[:, 3])
        index = pd.DatetimeIndex(self._times, name="timestamp").as_unit("ns")[has_bar]
        frame = pd.DataFrame(values[has_bar], index=index, columns=list(BAR_COLUMNS))
        frame.attrs["symbol"] = symbol.upper()
        return frame

    # --- internals ----------------------------------------------------------------------------------------------

    def _warm(self) -> None:
        """Take the warm-up bars into the panel, then let the subclass act on them (`_primed`)."""
        if not self.history:
            return
        index = pd.DatetimeIndex(sorted(set().union(*(f.index for f in self.history.values()))))
        tables = {s: f[list(BAR_COLUMNS)].reindex(index).to_numpy(dtype=np.float64) for s, f in self.history.items()}
        for t, moment in enumerate(index.to_pydatetime()):
            values = np.full((len(BAR_COLUMNS), len(self.symbols)), np.nan)
            for j, symbol in enumerate(self.symbols):
                table = tables.get(symbol)
                if table is not None and not np.isnan(table[t, 3]):
                    values[:, j] = table[t]
                    self._last_of[symbol] = moment
            self._append(moment, values)
        self._primed()

    def _complete(self) -> None:
        """Append the held bars of one time as a row, trade what it completes, then mark the account."""
        moment, received = next(iter(self._pending.values())).timestamp, list(self._pending.values())
        values = np.full((len(BAR_COLUMNS), len(self.symbols)), np.nan)
        for j, symbol in enumerate(self.symbols):
            bar = self._pending.get(symbol)
            if bar is not None:
                values[:, j] = (bar.open, bar.high, bar.low, bar.close, bar.volume)
                self._last_of[symbol] = bar.timestamp
        self._pending.clear()
        self._append(moment, values)
        t = len(self._times) - 1
        day = int(self.costs.account_sessions(pd.DatetimeIndex([moment]), list(self.symbols))[0][0])
        self.driver.bar(t, moment, day, values[0], values[3], self._row(), paused=self.paused)
        self.venue.simulation.set_time(moment)
        closes = {s: float(values[3, j]) for j, s in enumerate(self.symbols) if not np.isnan(values[3, j])}
        for symbol, price in closes.items():
            self.venue.simulation.quote(symbol, price)  # a simulated broker marks at the close
        self.monitor.on_bar(moment, closes)
        if self.journal is not None:
            account = self.broker.account()
            self.journal.record_mark(moment, account.cash, account.equity, bars=received)

    def _append(self, moment: datetime, values: np.ndarray) -> None:
        n = len(self._times)
        if n == len(self._rows):
            self._rows = np.concatenate([self._rows, np.empty_like(self._rows)])
        self._rows[n] = values
        self._times.append(moment)
