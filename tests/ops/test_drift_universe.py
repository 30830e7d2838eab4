"""The drift report of a universe strategy's paper session: the model is a UniverseSession on the bars received,
within the leverage the run recorded, so a session that filled like it has no drift and equals ``wb.backtest`` of
those bars; fills made worse on one symbol are that symbol's slippage, exactly what was paid above the quotes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
from drift_support import SlippingBroker

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.clock import SimClock
from workbench.data.feeds import ReplayFeed
from workbench.ops.drift import drift
from workbench.store import Store
from workbench.trading.live import LiveSession

pytest_plugins = ["store_fixtures"]

CASH = 10_000.0
SYMBOLS = ["SPY", "QQQ", "IWM", "DIA"]
BARS = {s: wb.load(s, start="2019-01-01", end="2019-06-30") for s in SYMBOLS}
MOMENTUM = {"lookback": 20, "top": 2, "every": 5}
GROSS = '''
"""Every symbol at ``gross / n`` of equity, rebalanced every ``every`` bars: a gross exposure past 1."""
import numpy as np
from numba import njit
from workbench import Param, UniverseStrategy


@njit(cache=True)
def _gross_weights_nb(open, high, low, close, volume, gross, every):
    out = np.full(close.shape, np.nan)
    out[::every] = gross / close.shape[1]
    return out


class Gross(UniverseStrategy):
    gross = Param(float, 1.5, min=0.0)
    every = Param(int, 20, min=1)
    weights = staticmethod(_gross_weights_nb)
'''


def run_session(store: Store, strategy: str, params: dict, broker=None, leverage: float | None = None) -> int:
    """A paper session of ``strategy`` on the bars, from their first (no warm-up), as a replay feeds it."""
    clock = SimClock(BARS["SPY"].index[0].to_pydatetime())
    broker = broker(clock) if broker else SimBroker(clock, cash=CASH)
    live = LiveSession.open(
        store, strategy, SYMBOLS, broker, clock=clock, run=None, params=params, leverage=leverage, notify=False
    )
    live.run(ReplayFeed(BARS))
    live.shutdown()
    return live.run_id


def test_a_universe_session_that_filled_like_the_model_has_no_drift(store: Store) -> None:
    run_id = run_session(store, "momentum", MOMENTUM)

    report = drift(run_id, store, reference=BARS)

    backtest = wb.backtest(wb.strategy("momentum")(**MOMENTUM), BARS, cash=CASH, fees=0.0)
    assert report.model_pnl == pytest.approx(backtest.metrics["end_value"] - CASH, rel=1e-12)
    assert report.session_pnl == pytest.approx(report.model_pnl, rel=1e-12) and report.model_pnl != 0.0
    assert report.table["pnl"].abs().max() < 1e-6
    assert list(report.by_symbol.columns) == SYMBOLS
    matched = sum((report.orders_of(s)["kind"] == "matched").sum() for s in SYMBOLS)
    assert matched == len(backtest.order_records) > 10


def test_fills_made_worse_on_one_symbol_are_its_slippage(store: Store) -> None:
    run_id = run_session(store, "momentum", MOMENTUM, broker=lambda clock: SlippingBroker(clock, "QQQ", 0.05, CASH))

    report = drift(run_id, store, reference=BARS)

    with store.unit_of_work(readonly=True) as uow:
        paid = sum(f.qty * 0.05 for f in uow.fills.find(run_id=run_id) if f.symbol == "QQQ")
    assert paid > 0.0
    assert report.by_symbol.loc["slippage", "QQQ"] == pytest.approx(-paid, rel=1e-9)
    assert report.by_symbol.loc["slippage"].drop("QQQ").abs().max() < 1e-9
    assert report.table["pnl"].drop("total").sum() == pytest.approx(report.total, abs=1e-9)
    assert report.total == pytest.approx(report.session_pnl - report.reference_pnl, abs=1e-9)


def test_the_model_trades_within_the_leverage_the_run_recorded(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "gross.py").write_text(textwrap.dedent(GROSS))
    monkeypatch.chdir(tmp_path)
    run_id = run_session(store, "gross", {}, leverage=1.5)

    report = drift(run_id, store, reference=BARS)

    backtest = wb.backtest("gross", BARS, cash=CASH, leverage=1.5, fees=0.0)
    assert report.model_pnl == pytest.approx(backtest.metrics["end_value"] - CASH, rel=1e-12)
    assert report.table["pnl"].abs().max() < 1e-6
    with pytest.raises(ValueError, match="more than the leverage allowed"):
        wb.backtest("gross", BARS, cash=CASH, fees=0.0)  # at the default leverage the model could not have run
    assert isinstance(report.bars, pd.DataFrame)
