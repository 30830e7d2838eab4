"""A universe strategy trading live: the same orders, in the same order, at the same prices as its backtest over
the same bars, on the local simulated broker and on Alpaca paper (the loopback fake, real alpaca-py); recorded
and resumed by LiveSession; bars of a time held until the time is complete; bad inputs refused."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from alpaca_fake import LoopbackServer, TradingApi

import workbench as wb
from workbench.brokers.alpaca import AlpacaBroker
from workbench.brokers.sim import SimBroker
from workbench.clock import SimClock
from workbench.data.feeds import ReplayFeed
from workbench.store import Store
from workbench.trading.build import paper_venue
from workbench.trading.live import LiveSession
from workbench.trading.universe_session import UniverseSession

pytest_plugins = ["store_fixtures"]

CASH = 10_000.0
BARS = {s: wb.load(s, start="2019-01-01", end="2020-06-30") for s in ("SPY", "QQQ", "IWM", "DIA")}
MOMENTUM = wb.strategy("momentum")(lookback=20, top=2, every=5)
FAKE = "tests: the loopback Alpaca fake"


def orders(placed) -> list[tuple]:
    return [(o.symbol, o.side.value, o.qty, o.avg_fill_price, o.created_at) for o in placed]


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_a_universe_session_places_the_backtests_orders(fill) -> None:
    clock = SimClock(datetime(2018, 12, 31, tzinfo=UTC))
    broker = SimBroker(clock, cash=CASH, fees=0.001, slippage=0.0005)
    session = UniverseSession(MOMENTUM, list(BARS), broker, clock, fees=0.001, slippage=0.0005, fill=fill)
    placed = session.run(ReplayFeed(BARS))
    bt = wb.backtest(MOMENTUM, BARS, fees=0.001, slippage=0.0005, fill=fill)
    assert orders(placed) == orders(bt.order_records) and len(placed) > 40
    assert broker.account().equity == pytest.approx(bt.equity.iloc[-1], rel=1e-12)


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_a_universe_session_under_risk_rules_places_the_backtests_orders_and_decisions(fill) -> None:
    rules = {"stop_loss": 0.03, "max_gross_exposure": 0.9, "max_orders_per_day": 3, "daily_loss": 0.02}
    clock = SimClock(datetime(2018, 12, 31, tzinfo=UTC))
    broker = SimBroker(clock, cash=CASH, fees=0.001)
    session = UniverseSession(MOMENTUM, list(BARS), broker, clock, fees=0.001, fill=fill, risk=rules)
    placed = session.run(ReplayFeed(BARS))
    bt = wb.backtest(MOMENTUM, BARS, fees=0.001, fill=fill, risk=rules)
    assert orders(placed) == orders(bt.order_records) and len(placed) > 20
    decisions = [(e.timestamp, e.symbol, e.decision, e.rule) for e in session.risk_manager.events]
    assert decisions == [(e.timestamp, e.symbol, e.decision, e.rule) for e in bt.risk_events]
    assert {rule for *_, decision, rule in decisions if decision != "approve"} >= {"stop_loss", "max_gross_exposure"}


@pytest.mark.parametrize(
    "rules", [None, {"max_drawdown": 0.12, "daily_loss": 0.03, "max_orders_per_day": 3}], ids=["none", "account"]
)
def test_a_live_universe_run_is_recorded_and_resumes_as_if_it_had_not_stopped(store: Store, rules) -> None:
    """Stopped after every 75 bar times and resumed from the store: the same orders (and risk decisions) as one
    uninterrupted run; the account's rules go on from the recorded drawdown peak, day start and day's orders."""
    times = BARS["SPY"].index
    placed, decisions = [], []
    for start in range(0, len(times), 75):
        part = {s: f.loc[times[start] : times[min(start + 74, len(times) - 1)]] for s, f in BARS.items()}
        history = {s: f.loc[: times[start - 1]] for s, f in BARS.items()} if start else None
        venue = paper_venue(CASH, fees=0.001, clock=SimClock(datetime(2018, 12, 31, tzinfo=UTC)))
        live = LiveSession.open(
            store, MOMENTUM, list(BARS), venue.broker, clock=venue.clock, history=history, fees=0.001, notify=False,
            risk=rules,
        )  # fmt: skip
        assert live.run_id == 1
        live.run(ReplayFeed(part))
        placed.extend(live.session.om.orders.values())
        decisions += [(e.timestamp, e.symbol, e.decision, e.rule) for e in live.session.risk_manager.events]
    bt = wb.backtest(MOMENTUM, BARS, fees=0.001, risk=rules)
    assert orders(sorted(placed, key=lambda o: o.created_at)) == orders(bt.order_records)
    expected = [(e.timestamp, e.symbol, e.decision, e.rule) for e in bt.risk_events]
    assert [d for d in decisions if d[2] != "approve"] == [d for d in expected if d[2] != "approve"]
    if rules:
        assert any(d[2] == "halt" for d in expected)  # the drawdown halt comes after a cut
    with store.unit_of_work(readonly=True) as uow:
        assert len(uow.orders.find(run_id=1)) == len(bt.order_records)
        held = {s: p.qty for s, p in uow.positions.current(1).items()}
    assert held == pytest.approx({s: q for s, q in bt.positions.iloc[-1].items() if q}, rel=1e-12)


def test_a_universe_session_on_alpaca_paper_places_the_backtests_orders(tmp_path) -> None:
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=CASH)
        broker = AlpacaBroker(
            server.api_key,
            server.secret_key,
            url_override=server.rest_url,
            stream_url_override=server.ws_url("/stream"),
            settle_timeout=2.0,
            reconnect=(0.05, 0.2),
            requests_per_minute=100_000,  # a replay asks faster than Alpaca's budget lets a live session ask
        ).start()
        store = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
        clock = SimClock(datetime(2018, 12, 31, tzinfo=UTC))
        live = LiveSession.open(
            store, MOMENTUM, list(BARS), broker, clock=clock, run=None, override_reason=FAKE, notify=False
        )

        def feed():
            for bar in ReplayFeed(BARS):
                trading.quote(bar.symbol, bar.open)  # next-open orders fill at the open of the bar that arrives
                yield bar

        live.run(feed())
        broker.close()
        placed = list(live.session.om.orders.values())
        store.close()
    bt = wb.backtest(MOMENTUM, BARS, fees=0.0)
    assert [(o.symbol, o.side.value) for o in placed] == [(o.symbol, o.side.value) for o in bt.order_records]
    qty, expected = [o.qty for o in placed], [o.qty for o in bt.order_records]
    np.testing.assert_allclose(qty, expected, rtol=1e-9, atol=1e-8)  # Alpaca takes 9 decimals of a share
    np.testing.assert_allclose([o.avg_fill_price for o in placed], [o.avg_fill_price for o in bt.order_records])


def test_universe_sessions_refuse_what_they_cannot_trade(store: Store) -> None:
    clock = SimClock(datetime(2018, 12, 31, tzinfo=UTC))
    with pytest.raises(ValueError, match=r"symbols=\['SPY'\]: a universe trades two or more symbols, each once"):
        UniverseSession(MOMENTUM, ["SPY"], SimBroker(clock), clock)
    with pytest.raises(ValueError, match="momentum is a universe strategy and chooses its own weights"):
        LiveSession.open(store, MOMENTUM, ["SPY", "QQQ"], SimBroker(clock), clock=clock, weights={"SPY": 1.0})
    with pytest.raises(ValueError, match=r"stop_loss=5: must be a fraction in \(0, 1\]"):
        UniverseSession(MOMENTUM, ["SPY", "QQQ"], SimBroker(clock), clock, risk={"stop_loss": 5})
    with pytest.raises(ValueError, match=r"leverage=2: a one-symbol strategy's exposure is in \[-1, 1\]"):
        LiveSession.open(store, "sma_cross", ["SPY"], SimBroker(clock), clock=clock, leverage=2)


def test_a_run_keeps_the_leverage_it_was_started_with(store: Store) -> None:
    clock = SimClock(datetime(2018, 12, 31, tzinfo=UTC))
    first = LiveSession.open(store, MOMENTUM, ["SPY", "QQQ"], SimBroker(clock), clock=clock, leverage=1.5)
    first.shutdown()
    with store.unit_of_work(readonly=True) as uow:
        assert uow.runs.get(first.run_id).config["leverage"] == 1.5
    with pytest.raises(ValueError, match=rf"leverage=2.0: run {first.run_id} trades with leverage 1.5; a run keeps"):
        LiveSession.open(store, MOMENTUM, ["SPY", "QQQ"], SimBroker(clock), clock=clock, run=first.run_id, leverage=2.0)
    again = LiveSession.open(store, MOMENTUM, ["SPY", "QQQ"], SimBroker(clock), clock=clock, run=first.run_id)
    assert again.session.driver.leverage == 1.5
    again.shutdown()
