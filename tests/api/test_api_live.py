"""The API in front of a running LiveSession (two symbols, local paper): ``/metrics`` serves the session's own metrics
(its bars, orders, fills, P&L and the API's manual orders, counted exactly against a backtest of the same bars),
and the kill switch pressed through the API stops the session's order path before its next bar."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from api_support import make_api, samples, value

import workbench as wb
from workbench.brokers.sim import SimBroker
from workbench.data.feeds import Bar, ReplayFeed
from workbench.risk.manager import RiskEvent, RiskRules
from workbench.services.desk import Desk
from workbench.store import Store
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession

STRATEGY = wb.strategy("sma_cross")(fast=3, slow=10)
BARS = {s: wb.load(s, start="2023-01-01", end="2023-06-30") for s in ("SPY", "QQQ")}
RULES = RiskRules(allowed_symbols=("SPY", "QQQ"))


def _live(tmp_path, **options: object) -> LiveSession:
    """A paper session of SPY and QQQ on the API's database (the store the API switches are set in)."""
    clock = FrozenClock(datetime(2022, 12, 31, tzinfo=UTC))
    store = Store.open(f"sqlite:///{tmp_path / 'api.db'}")
    broker = SimBroker(clock, cash=10_000)
    return LiveSession.open(store, STRATEGY, list(BARS), broker, clock=clock, run=None, risk=RULES, **options)


def test_metrics_of_a_live_session_and_its_manual_orders(tmp_path) -> None:
    live = _live(tmp_path)
    api = make_api(tmp_path, trading=Desk(live.session, live.lock), metrics=live.metrics)
    for bar in ReplayFeed(BARS):
        live.step(bar)
    trader = api.key("trader")
    manual = {"side": "buy", "qty": 1, "type": "market"}
    assert api.client.post("/api/v1/orders", json={**manual, "symbol": "SPY"}, headers=trader).status_code == 201
    denied = api.client.post(
        "/api/v1/orders", json={**manual, "symbol": "NVDA", "type": "limit", "limit_price": 1.0}, headers=trader
    )
    assert denied.json()["error"]["rule"] == "allowed_symbols"
    bt = wb.backtest(STRATEGY, BARS, cash=10_000, risk=RULES, fees=0.0)  # the oracle of the strategy's orders

    found = samples(api)

    n = sum(len(f) for f in BARS.values())
    assert value(found, "workbench_bars_processed_total", symbol="SPY") == len(BARS["SPY"])
    assert value(found, "workbench_bars_processed_total", symbol="QQQ") == len(BARS["QQQ"])
    assert value(found, "workbench_signal_latency_seconds_count", strategy="sma_cross") == n
    orders = len(bt.order_records)
    assert orders > 20 and len(live.session.om.orders) == orders + 2
    assert value(found, "workbench_order_events_total", kind="accepted") == orders + 1
    assert value(found, "workbench_order_events_total", kind="fill") == len(bt.fills) + 1 == orders + 1
    for symbol in BARS:
        for side in ("buy", "sell"):
            count = sum(f.symbol == symbol and f.side.value == side for f in bt.fill_records)
            manual_fill = int((symbol, side) == ("SPY", "buy"))
            assert value(found, "workbench_fills_total", symbol=symbol, side=side) == count + manual_fill
    assert value(found, "workbench_rejections_total", symbol="NVDA") == 1
    assert value(found, "workbench_risk_denials_total", rule="allowed_symbols") == 1
    assert value(found, "workbench_orders", state="filled") == orders + 1
    assert value(found, "workbench_orders", state="rejected") == 1
    labels = {"strategy": "sma_cross", "symbol": "SPY,QQQ"}
    assert value(found, "workbench_equity", **labels) == pytest.approx(bt.equity.iloc[-1], rel=1e-12)
    spy = live.session.om.positions["SPY"]
    assert value(found, "workbench_pnl", strategy="sma_cross", symbol="SPY", kind="realized") == spy.realized_pnl
    last = BARS["QQQ"].index[-1].timestamp()
    assert value(found, "workbench_last_bar_timestamp_seconds", symbol="QQQ") == last


def test_a_halt_through_the_api_stops_the_running_sessions_orders_before_its_next_bar(tmp_path) -> None:
    alerts: list[object] = []
    live = _live(tmp_path, poll=0.05, on_alert=alerts.append)
    api = make_api(tmp_path, trading=Desk(live.session, live.lock), metrics=live.metrics)
    bars = list(ReplayFeed(BARS))
    held = wb.backtest(STRATEGY, BARS, cash=10_000, risk=RULES, fees=0.0).positions
    cut = 2 * (int((held != 0).all(axis=1).to_numpy().argmax()) + 1)  # the bars by which both symbols are held
    resume = threading.Event()

    def feed() -> Iterator[Bar]:
        yield from bars[:cut]
        resume.wait(10)  # a live feed with nothing to say for a while
        yield from bars[cut:]

    runner = threading.Thread(target=live.run, args=(feed(),))
    runner.start()
    deadline = time.monotonic() + 10
    while live.bars < cut and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.session.broker.positions().keys() == {"SPY", "QQQ"}
    placed = len(live.session.om.orders)

    halted = api.client.post("/api/v1/risk/halt", json={"reason": "drill"}, headers=api.key("trader"))
    assert halted.json()["strategies"] == ["sma_cross"]
    deadline = time.monotonic() + 2
    while live.session.broker.positions() and time.monotonic() < deadline:  # no bar comes meanwhile
        time.sleep(0.01)
    assert live.session.broker.positions() == {} and live.bars == cut
    assert len(live.session.om.orders) == placed + 2  # one market order closing each symbol
    manual = {"symbol": "SPY", "side": "buy", "qty": 1, "type": "market"}
    refused = api.client.post("/api/v1/orders", json=manual, headers=api.key("trader"))
    assert refused.status_code == 409 and "trading is halted (drill (tom))" in refused.json()["error"]["message"]

    resume.set()
    runner.join(20)
    assert not runner.is_alive() and live.bars == len(bars)
    assert len(live.session.om.orders) == placed + 2  # the rest of the bars placed nothing
    (kill,) = [a for a in alerts if isinstance(a, RiskEvent) and a.rule == "kill_switch"]
    assert kill.decision == "halt" and kill.details == {"reason": "drill (tom)"}
    assert value(samples(api), "workbench_risk_halts_total", rule="kill_switch") == 1
