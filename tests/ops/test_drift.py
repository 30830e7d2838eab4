"""The drift report: a paper session against SimBroker re-simulated on the bars it received, and its P&L difference
attributed to slippage, missed, partial and late fills, fees and data, each against numbers computed by hand.

The strategy trades what the bars' volume says (long while it is 3e6), so each round trip is known in advance;
``max_shares = 10`` sizes every entry at 10 shares on both sides, whatever the cash, so no knock-on blurs them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.data.feeds import Bar
from workbench.ops.drift import DriftError, drift
from workbench.ops.drift_attribution import Execution, Placed, attribute, pnl
from workbench.orders.model import Order
from workbench.store import Store
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession

pytest_plugins = ["store_fixtures", "drift_fixtures"]
pytestmark = pytest.mark.usefixtures("volume_signal")

CASH = 10_000.0
RISK = {"max_shares": 10}
N = 40
LONG = [range(3, 6), range(10, 13), range(17, 20), range(24, 27), range(31, 34)]  # signal bars of 5 round trips
OPEN = np.array([100.0 + 0.5 * t + 0.3 * (t % 4) for t in range(N)])


def scripted_bars() -> pd.DataFrame:
    volume = np.full(N, 1e6)
    for signal in LONG:
        volume[list(signal)] = 3e6
    close = OPEN + 0.2
    index = pd.date_range("2024-01-02 14:30", periods=N, freq="1min", tz="UTC", name="timestamp")
    frame = pd.DataFrame(
        {"open": OPEN, "high": close + 0.5, "low": OPEN - 0.5, "close": close, "volume": volume}, index=index
    )
    return wb.validate_bars(frame, symbol="SYN")


class ScriptedBroker(SimBroker):
    """A SimBroker whose n-th order (1-based) executes as ``script[n]`` says, through SimBroker's public API:
    ``("slip", d)`` fills d worse, ``("reject", _)`` cannot be paid for, ``("hold", _)`` rests until the next bar's
    ``process_bar``, ``("fee", f)`` pays a fixed fee f, ``("partial", q)`` fills q units and is canceled."""

    def __init__(self, clock: FrozenClock, script: dict[int, tuple[str, float]]) -> None:
        super().__init__(clock, cash=CASH, max_participation=1.0)
        self.script, self.count, self.price = script, 0, 0.0

    def quote(self, symbol: str, price: float, volume: float | None = None) -> None:
        self.price = price
        super().quote(symbol, price, volume)

    def submit(self, order: Order) -> Order:
        self.count += 1
        action, value = self.script.get(self.count, ("", 0.0))
        price, fixed_fee = self.price, self.fixed_fee
        if action == "slip":
            super().quote(order.symbol, price + value * order.side.sign)
        elif action == "reject":
            super().quote(order.symbol, 1e9)  # no cash for 10 shares at that price: refused
        elif action in ("hold", "partial"):
            super().quote(order.symbol, price, 0.0 if action == "hold" else value)
        elif action == "fee":
            self.fixed_fee = value
        super().submit(order)
        if action == "partial":
            self.cancel(order.id)
        self.fixed_fee = fixed_fee
        super().quote(order.symbol, price)
        return order


def run_session(store: Store, bars: pd.DataFrame, script: dict[int, tuple[str, float]]) -> LiveSession:
    """A paper session of volume_signal over ``bars``; the broker works resting orders as each bar trades."""
    clock = FrozenClock(bars.index[0].to_pydatetime())
    broker = ScriptedBroker(clock, script)
    live = LiveSession.open(store, "volume_signal", "SYN", broker, clock=clock, run=None, risk=RISK)
    for stamp, row in bars.iterrows():
        bar = Bar("SYN", stamp.to_pydatetime(), row.open, row.high, row.low, row.close, row.volume)
        if broker.list_orders(open_only=True):
            clock.set(bar.timestamp)
            broker.process_bar(bar)
        live.step(bar)
    live.shutdown()
    return live


def recorded_pnl(store: Store, run_id: int) -> float:
    with store.unit_of_work(readonly=True) as uow:
        return uow.equity.latest(run_id).equity - CASH


@pytest.fixture
def bars() -> pd.DataFrame:
    return scripted_bars()


def test_injected_slippage_missed_late_fee_and_partial_fills_are_each_recovered(store: Store, bars) -> None:
    script = {1: ("slip", 0.30), 3: ("reject", 0.0), 4: ("hold", 0.0), 7: ("fee", 1.25), 8: ("partial", 4.0)}
    live = run_session(store, bars, script)

    report = drift(live.run_id, store, reference=bars)

    pnl_ = report.table["pnl"]
    # by hand: round trip k enters at the open after its first signal bar and exits at the open after its last + 1
    assert pnl_["slippage"] == pytest.approx(-10 * 0.30, abs=1e-9)  # trip 1: bought 0.30 above the open
    assert pnl_["missed"] == pytest.approx(-10 * (OPEN[14] - OPEN[11]), abs=1e-9)  # trip 2 never entered
    assert pnl_["latency"] == pytest.approx(-10 * (OPEN[19] - OPEN[18]), abs=1e-9)  # trip 3 filled a bar late
    assert pnl_["fees"] == pytest.approx(-1.25, abs=1e-9)  # trip 4's exit paid a fee the model did not
    assert pnl_["partial"] == pytest.approx(-6 * (OPEN[35] - OPEN[32]), abs=1e-9)  # trip 5: 4 of 10 filled
    assert pnl_[["size", "data", "other"]].abs().max() < 1e-9
    # the parts add up to the whole, and the whole is the recorded P&L minus the backtest's
    backtest = wb.backtest(wb.strategy("volume_signal")(), bars, cash=CASH, risk=RISK, fees=0.0)
    assert report.model_pnl == pytest.approx(backtest.metrics["end_value"] - CASH, abs=1e-9)
    assert report.total == pytest.approx(recorded_pnl(store, live.run_id) - report.model_pnl, abs=1e-9)
    assert pnl_.drop("total").sum() == pytest.approx(report.total, abs=1e-9)
    expected = -3.0 - 10 * (OPEN[14] - OPEN[11]) - 10 * (OPEN[19] - OPEN[18]) - 1.25 - 6 * (OPEN[35] - OPEN[32])
    assert report.total == pytest.approx(expected, abs=1e-9)
    kinds = report.orders["kind"].tolist()
    assert kinds.count("matched") == 8 and kinds.count("unfilled") == 1  # trip 2's entry was refused
    assert kinds.count("model only") == 1  # and its exit never needed
    assert report.orders.loc[report.orders["latency"] != 0, "delay_bars"].tolist() == ["1"]


def test_a_session_that_filled_like_the_model_has_no_drift(store: Store, bars) -> None:
    live = run_session(store, bars, {})

    report = drift("latest", store, reference=bars)

    assert report.run_id == live.run_id
    assert report.notes == ["no warm-up bars: the model's indicators start on the first received bar"]  # none traded
    assert report.costs == {"fees": 0.0, "slippage": 0.0, "fixed_fee": 0.0, "fill": "next_open", "risk": RISK}
    assert report.table["pnl"].abs().max() < 1e-9
    assert report.session_pnl == pytest.approx(report.model_pnl, abs=1e-9) and report.session_pnl != 0.0
    assert (report.orders["kind"] == "matched").all() and len(report.orders) == 10
    assert report.data_differences.empty


def test_bars_that_differ_from_the_reference_are_the_data_component(store: Store, bars) -> None:
    run_session(store, bars, {})
    reference = bars.copy()
    reference.iloc[4, reference.columns.get_loc("open")] += 0.5  # trip 1's entry bar, as the data vendor has it
    reference = reference.drop(reference.index[30])  # a bar the vendor does not have

    report = drift("latest", store, reference=reference)

    # the model on the reference buys trip 1's 10 shares 0.5 higher; bar 30 changes no order
    assert report.table.loc["data", "pnl"] == pytest.approx(10 * 0.5, abs=1e-9)
    assert report.reference_pnl == pytest.approx(report.model_pnl - 5.0, abs=1e-9)
    assert report.total == pytest.approx(5.0, abs=1e-9)
    assert report.data_differences["status"].to_dict() == {
        bars.index[4]: "differs",
        bars.index[30]: "not in reference",
    }


def test_the_model_warms_up_on_the_bars_before_the_session(store: Store) -> None:
    """The run's history warmed its indicators up: the model's must too, or its first orders differ."""
    bars = wb.load("SPY", start="2022-01-01", end="2023-06-30")
    clock = FrozenClock(datetime(2021, 12, 31, tzinfo=UTC))
    broker = SimBroker(clock, cash=CASH, fees=0.001)
    history, traded = bars.loc[:"2022-12-31"], bars.loc["2023-01-01":]
    params = {"fast": 5, "slow": 20}
    live = LiveSession.open(store, "sma_cross", "SPY", broker, clock=clock, params=params, history=history, fees=0.001)
    for stamp, row in traded.iterrows():
        live.step(Bar("SPY", stamp.to_pydatetime(), row.open, row.high, row.low, row.close, row.volume))

    warm = drift(live.run_id, store, reference=bars)
    cold = drift(live.run_id, store)

    assert warm.table["pnl"].abs().max() < 1e-9 and len(warm.orders) > 4
    assert cold.notes == [
        "no warm-up bars: the model's indicators start on the first received bar",
        "no reference data: the data component is not measured",
    ]
    assert cold.table.loc["total", "pnl"] == pytest.approx(cold.table["pnl"].drop("total").sum(), abs=1e-9)


def test_the_html_report_holds_the_table_and_the_orders(store: Store, bars, tmp_path: Path) -> None:
    run_session(store, bars, {1: ("slip", 0.30)})
    report = drift("latest", store, reference=bars)

    page = report.write(tmp_path / "drift.html").read_text()

    assert f"run {report.run_id}" in page and "volume_signal" in page
    for component in ("slippage", "latency", "missed", "partial", "size", "fees", "data", "other", "total"):
        assert f">{component}<" in page
    assert "-3.00" in page  # the slippage of the one late-priced fill


def test_only_live_runs_with_received_bars_can_be_re_simulated(store: Store) -> None:
    with store.unit_of_work() as uow:
        backtest = uow.runs.start("backtest", "sma_cross").id
        live = uow.runs.start("live", "sma_cross", config={"symbol": "SPY", "cash": CASH}).id
    with pytest.raises(DriftError, match=f"session={backtest}: run {backtest} is a backtest run"):
        drift(backtest, store)
    with pytest.raises(DriftError, match=f"run {live} recorded no received bars of SPY"):
        drift(live, store)
    with pytest.raises(DriftError, match="session=99: no run 99 is stored"):
        drift(99, store)
    with pytest.raises(DriftError, match="session='yesterday': expected a run id or 'latest'"):
        drift("yesterday", store)


def test_a_partial_entry_costs_what_the_missing_shares_made_until_the_exit() -> None:
    """The exit of a partially filled entry sells less: that is the partial fill's cost, not a new cause."""

    def order(name: str, bar: int, qty: float, *fills: tuple[float, float, int]) -> Placed:
        return Placed(name, bar, qty, "filled", tuple(Execution(q, p, 0.0, b) for q, p, b in fills))

    opens = {1: 50.0, 6: 58.0, 9: 61.0}
    model = [order("m1", 1, 100, (100, 50.0, 1)), order("m2", 6, -100, (-100, 58.0, 6))]
    run = [order("s1", 1, 100, (40, 50.0, 1)), order("s2", 6, -40, (-40, 58.0, 6))]

    for close in (61.0, 40.0):  # whatever the last close, the partial fill cost 60 shares x (58 - 50)
        result = attribute(model, run, close, lambda bar, qty: opens[bar])
        assert result.components["partial"] == pytest.approx(-60 * 8.0)
        assert result.components["size"] == 0.0
        assert result.total == pytest.approx(pnl(run, close) - pnl(model, close))


def test_an_entry_sized_on_less_cash_is_a_size_difference() -> None:
    opens = {2: 20.0, 5: 25.0}
    model = [
        Placed("m", 2, 50, "filled", (Execution(50, 20.0, 0.0, 2),)),
        Placed("n", 5, -50, "filled", (Execution(-50, 25.0, 0.0, 5),)),
    ]
    run = [
        Placed("s", 2, 48, "filled", (Execution(48, 20.0, 0.0, 2),)),
        Placed("t", 5, -48, "filled", (Execution(-48, 25.0, 0.0, 5),)),
    ]

    result = attribute(model, run, 30.0, lambda bar, qty: opens[bar])

    assert result.components == pytest.approx({**dict.fromkeys(result.components, 0.0), "size": -2 * 5.0})
