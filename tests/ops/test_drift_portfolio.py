"""The drift report of a paper session trading three symbols in one account (PortfolioSession on SimBroker): the
model is the multi-symbol backtest of the bars received, each symbol's orders are attributed on its own bars and
the account's table sums them; every number is checked against one computed by hand.

The strategy trades what the bars' volume says (long while it is 3e6), so each symbol's round trips are known in
advance; ``max_shares = 10`` holds every position at 0 or 10 shares whatever the cash (each symbol's equal weight
asks for more), so no knock-on of one symbol's fills resizes another's orders. BBB misses one bar (time 8), so
its bar index is not the account's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drift_support import SlippingBroker

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.data.feeds import ReplayFeed
from workbench.ops.drift import DriftError, drift
from workbench.store import Store
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession

pytest_plugins = ["store_fixtures", "cli_fixtures", "drift_fixtures"]
pytestmark = pytest.mark.usefixtures("volume_signal")

CASH = 10_000.0
RISK = {"max_shares": 10}
N = 40
SYMBOLS = ("AAA", "BBB", "CCC")
BASE = {"AAA": 100.0, "BBB": 50.0, "CCC": 200.0}
#: signal bars: entries at the open after a trip's first bar, exits at the open after its last bar + 1; CCC's
#: last trip is still open at the end
LONG = {"AAA": [range(3, 6), range(17, 20)], "BBB": [range(12, 15), range(22, 25)], "CCC": [range(5, 8), range(35, 40)]}
GAP = 8  # the time BBB has no bar


def opens(symbol: str) -> np.ndarray:
    t = np.arange(N)
    return BASE[symbol] + 0.5 * t + 0.3 * (t % 4) + 0.1 * (t % 3)


def closes(symbol: str) -> np.ndarray:
    return opens(symbol) + 0.2


def full_bars(symbol: str) -> pd.DataFrame:
    """``symbol``'s bars at every time of the period (BBB's gap included)."""
    volume = np.full(N, 1e6)
    for trip in LONG[symbol]:
        volume[list(trip)] = 3e6
    open_, close = opens(symbol), closes(symbol)
    index = pd.date_range("2024-01-02 14:30", periods=N, freq="1min", tz="UTC", name="timestamp")
    frame = pd.DataFrame(
        {"open": open_, "high": close + 0.5, "low": open_ - 0.5, "close": close, "volume": volume}, index=index
    )
    return wb.validate_bars(frame, symbol=symbol)


def received_bars() -> dict[str, pd.DataFrame]:
    """The bars the session receives: every symbol's, but BBB's of time ``GAP``."""
    frames = {s: full_bars(s) for s in SYMBOLS}
    frames["BBB"] = frames["BBB"].drop(frames["BBB"].index[GAP])
    return frames


def trips_pnl(symbol: str) -> float:
    """By hand: 10 shares per round trip, bought at the open after the first signal bar and sold at the open after
    the last signal bar + 1, or marked at the last close while still held."""
    total = 0.0
    for trip in LONG[symbol]:
        entry = opens(symbol)[trip[0] + 1]
        exit_ = opens(symbol)[trip[-1] + 2] if trip[-1] + 2 < N else closes(symbol)[N - 1]
        total += 10 * (exit_ - entry)
    return total


def fills_of(symbol: str) -> int:
    """By hand: how many fills ``symbol``'s round trips make (an entry, and an exit unless still held)."""
    return sum(2 if trip[-1] + 2 < N else 1 for trip in LONG[symbol])


def run_session(store: Store, frames: dict[str, pd.DataFrame], slip: tuple[str, float] | None = None) -> int:
    """A paper session of volume_signal on the three symbols, fed ``frames`` as a replay would; returns its run."""
    clock = FrozenClock(frames["AAA"].index[0].to_pydatetime())
    broker = SlippingBroker(clock, *slip, cash=CASH) if slip else SimBroker(clock, cash=CASH)
    live = LiveSession.open(store, "volume_signal", list(SYMBOLS), broker, clock=clock, run=None, risk=RISK)
    for bar in ReplayFeed(frames):
        live.step(bar)
    live.flush()
    live.shutdown()
    return live.run_id


def recorded_pnl(store: Store, run_id: int) -> float:
    with store.unit_of_work(readonly=True) as uow:
        return uow.equity.latest(run_id).equity - CASH


def test_a_portfolio_session_that_filled_like_the_model_has_no_drift(store: Store) -> None:
    frames = received_bars()
    run_id = run_session(store, frames)

    report = drift(run_id, store, reference=frames)

    by_hand = sum(trips_pnl(s) for s in SYMBOLS)
    assert report.model_pnl == pytest.approx(by_hand, abs=1e-9) and by_hand != 0.0
    assert report.session_pnl == pytest.approx(by_hand, abs=1e-9)
    assert recorded_pnl(store, run_id) == pytest.approx(by_hand, abs=1e-9)
    backtest = wb.backtest(wb.strategy("volume_signal")(), frames, cash=CASH, risk=RISK, fees=0.0)
    assert report.model_pnl == pytest.approx(backtest.metrics["end_value"] - CASH, abs=1e-9)
    assert report.table["pnl"].abs().max() < 1e-9
    assert report.by_symbol.abs().max().max() < 1e-9 and list(report.by_symbol.columns) == list(SYMBOLS)
    assert report.symbols == SYMBOLS and report.symbol == "AAA,BBB,CCC"
    assert report.weights == pytest.approx(dict.fromkeys(SYMBOLS, 1 / 3))
    assert len(report.bars) == 3 * N - 1 and report.bars["symbol"].iloc[:3].tolist() == list(SYMBOLS)
    assert report.data_differences.empty and "symbol" in report.data_differences.columns
    for symbol in SYMBOLS:
        orders = report.orders_of(symbol)
        assert len(orders) == fills_of(symbol) and (orders["kind"] == "matched").all()
    # BBB's entries at times 13 and 23, which are its bars 12 and 22: its orders are placed on its own bars
    times = full_bars("BBB").index
    entries = report.orders_of("BBB").loc[lambda o: o["model_qty"] > 0, ["model_time", "run_time"]]
    assert entries.to_numpy().tolist() == [[times[13], times[13]], [times[23], times[23]]]


def test_fills_at_a_worse_price_on_one_symbol_are_its_slippage(store: Store) -> None:
    frames = received_bars()
    run_id = run_session(store, frames, slip=("BBB", 0.25))

    report = drift(run_id, store, reference=frames)

    pnl_ = report.table["pnl"]
    slipped = -fills_of("BBB") * 10 * 0.25  # every BBB fill, 10 shares each, 0.25 worse
    assert slipped == -10.0
    assert pnl_["slippage"] == pytest.approx(slipped, abs=1e-9)
    assert pnl_.drop(["slippage", "total"]).abs().max() < 1e-9
    assert report.by_symbol.loc["slippage"].tolist() == pytest.approx([0.0, slipped, 0.0], abs=1e-9)
    assert report.session_pnl == pytest.approx(sum(trips_pnl(s) for s in SYMBOLS) + slipped, abs=1e-9)
    assert report.total == pytest.approx(slipped, abs=1e-9)
    assert pnl_.drop("total").sum() == pytest.approx(report.total, abs=1e-9)


def test_a_received_bar_that_differs_from_the_reference_is_data(store: Store) -> None:
    frames = received_bars()
    run_session(store, frames)
    reference = {s: full_bars(s) for s in SYMBOLS}  # the vendor has BBB's bar of time GAP
    reference["AAA"].iloc[4, reference["AAA"].columns.get_loc("open")] += 0.5  # AAA's first entry bar
    reference["CCC"] = reference["CCC"].drop(reference["CCC"].index[30])  # a bar the vendor does not have

    report = drift("latest", store, reference=reference)

    # the model on the reference buys AAA's first 10 shares 0.5 higher; the other two bars change no order
    assert report.table.loc["data", "pnl"] == pytest.approx(10 * 0.5, abs=1e-9)
    assert report.reference_pnl == pytest.approx(sum(trips_pnl(s) for s in SYMBOLS) - 5.0, abs=1e-9)
    assert report.total == pytest.approx(5.0, abs=1e-9)
    assert report.table["pnl"].drop(["data", "total"]).abs().max() < 1e-9
    differences = report.data_differences
    index = full_bars("AAA").index
    assert list(zip(differences["symbol"], differences.index, differences["status"], strict=True)) == [
        ("AAA", index[4], "differs"),
        ("BBB", index[GAP], "not received"),
        ("CCC", index[30], "not in reference"),
    ]


def test_a_multi_symbol_run_needs_bars_per_symbol(store: Store) -> None:
    frames = received_bars()
    run_id = run_session(store, frames)

    with pytest.raises(DriftError, match=f"run {run_id} trades AAA, BBB, CCC in one account: pass reference as a"):
        drift(run_id, store, reference=frames["AAA"])
    with pytest.raises(DriftError, match="trades AAA, BBB, CCC in one account: pass history as a mapping"):
        drift(run_id, store, history=frames["AAA"])
    with pytest.raises(DriftError, match="the reference data holds no bars of BBB, CCC"):
        drift(run_id, store, reference={"aaa": frames["AAA"]})


def test_the_html_report_shows_the_account_and_each_symbols_orders(store: Store, tmp_path: Path) -> None:
    frames = received_bars()
    run_session(store, frames, slip=("BBB", 0.25))
    report = drift("latest", store, reference=frames)

    page = report.write(tmp_path / "drift.html").read_text()

    assert "on AAA,BBB,CCC" in page and "Weights: AAA 0.3333, BBB 0.3333, CCC 0.3333." in page
    for component in ("slippage", "latency", "missed", "partial", "size", "fees", "data", "other", "total"):
        assert f">{component}<" in page
    for symbol in SYMBOLS:
        assert f"<h2>Orders of {symbol}, model and run side by side</h2>" in page
    assert "<h2>By symbol</h2>" in page
    assert page.count('<td class="neg">-10.00</td>') == 3  # BBB's slippage, the account's slippage and total


@pytest.mark.usefixtures("cli_home")
def test_workbench_drift_loads_each_symbols_reference(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from workbench.cli import main

    live = ["live", "--strategy", "sma_cross", "-p", "fast=3", "-p", "slow=8", "--symbols", "SPY,QQQ"]
    assert main([*live, "--start", "2026-01-02"]) == 0
    capsys.readouterr()

    code = main(["drift", "latest", "--out", "drift.html"])

    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and lines[0].startswith("run 1: sma_cross fast=3 slow=8 on SPY,QQQ via sim, ")
    components = {line.split()[0]: float(line.split()[1].replace(",", "")) for line in lines[2:11]}
    assert list(components) == ["slippage", "latency", "missed", "partial", "size", "fees", "data", "other", "total"]
    assert all(abs(value) < 0.005 for value in components.values())  # replayed data, simulated fills: no drift
    assert not any(line.startswith("note: no warm-up") for line in lines)  # each symbol warmed up on its history
    page = (tmp_path / "drift.html").read_text()
    assert "Orders of SPY," in page and "Orders of QQQ," in page
