"""LiveSession on Alpaca paper (the loopback fake, real alpaca-py): bars in, orders out, fills back, recorded; the
same orders as a backtest over the same bars, for one symbol and for a portfolio of three in one account; runtime
switches through the store; a clean stop.

The fake fills every market order in two halves at the bar's open, the price a backtest fills at, so the
backtest is the oracle for the orders and the fake's account the oracle for the records.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from alpaca_fake import LoopbackServer, TradingApi

import workbench as wb
from workbench.brokers.alpaca import AlpacaBroker
from workbench.data.feeds import Bar, ReplayFeed
from workbench.ops.promotion import PromotionRequired, promote
from workbench.orders.model import Order, OrderStatus
from workbench.risk.manager import RiskEvent
from workbench.store import Store
from workbench.store.journal import OrderJournal
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession, run_until_stopped

CASH = 10_000.0
BARS = wb.load("SPY", start="2023-01-01", end="2023-06-30")
STRATEGY = wb.strategy("sma_cross")(fast=3, slow=10)
#: Three symbols trading the same days: each time is complete at its last symbol's bar, so every order goes out
#: while the fake still quotes that time's opens (symbols with gaps: tests/test_live_portfolio.py, simulated).
PORTFOLIO = {s: wb.load(s, start="2023-01-01", end="2023-06-30") for s in ("SPY", "QQQ", "IWM")}
WEIGHTS = {"SPY": 0.5, "QQQ": 0.3, "IWM": 0.2}
#: Alpaca needs a promoted configuration; these sessions trade the loopback fake (audited as an override).
FAKE = "tests: the loopback Alpaca fake"


def feed(trading: TradingApi, bars: pd.DataFrame | dict[str, pd.DataFrame], symbol: str = "SPY") -> Iterator[Bar]:
    """The bars in time order (ties in symbol order, as a replay), each quoted at its open by the fake as it
    arrives (a next-open order fills there)."""
    for bar in ReplayFeed(bars if isinstance(bars, dict) else {symbol: bars}):
        trading.quote(bar.symbol, bar.open)
        yield bar


def alpaca(server: LoopbackServer) -> AlpacaBroker:
    """The real client against the fake; its request budget is the fake's (no limit worth waiting for: the budget
    is tested in tests/cli/test_live_cli.py), so a half year of three symbols replays in seconds."""
    return AlpacaBroker(
        server.api_key,
        server.secret_key,
        url_override=server.rest_url,
        stream_url_override=server.ws_url("/stream"),
        settle_timeout=2.0,
        reconnect=(0.05, 0.2),
        requests_per_minute=1_000_000,
    ).start()


@pytest.fixture(scope="module")
def paper(tmp_path_factory) -> Iterator[tuple[LiveSession, TradingApi, Store]]:
    """One paper session over SPY's bars of 2023 H1 against the fake, done."""
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=CASH, partial=(0.5, 0.5))
        store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('live') / 'workbench.db'}")
        broker = alpaca(server)
        clock = FrozenClock(datetime(2022, 12, 31, tzinfo=UTC))
        live = LiveSession.open(store, STRATEGY, "SPY", broker, clock=clock, run=None, override_reason=FAKE)
        live.run(feed(trading, BARS))
        broker.close()
        yield live, trading, store
        store.close()


def test_a_paper_session_places_the_backtests_orders_in_the_same_order(paper) -> None:
    live, trading, _ = paper
    bt = wb.backtest(STRATEGY, BARS, cash=CASH, fill="next_open", fees=0.0)

    placed = list(live.session.om.orders.values())

    assert len(placed) == len(bt.order_records) > 5
    for mine, theirs in zip(placed, bt.order_records, strict=True):
        assert (mine.side, mine.status) == (theirs.side, OrderStatus.FILLED)
        assert mine.qty == pytest.approx(theirs.qty, rel=1e-9)
        assert mine.avg_fill_price == pytest.approx(theirs.avg_fill_price, rel=1e-12)
    assert [o.client_order_id for o in trading.orders.values()] == [o.client_order_id for o in placed]
    assert len(live.session.om.fills) == 2 * len(placed)  # each in two halves, each recorded once


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory) -> Iterator[tuple[LiveSession, TradingApi, Store]]:
    """One paper session of three symbols in one account (weights 50/30/20) over 2023 H1 against the fake, done."""
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=CASH, partial=(0.5, 0.5))
        store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('portfolio') / 'workbench.db'}")
        broker = alpaca(server)
        clock = FrozenClock(datetime(2022, 12, 31, tzinfo=UTC))
        live = LiveSession.open(
            store, STRATEGY, list(PORTFOLIO), broker, clock=clock, run=None, weights=WEIGHTS, override_reason=FAKE
        )
        live.run(feed(trading, PORTFOLIO))
        broker.close()
        yield live, trading, store
        store.close()


def test_a_portfolio_session_places_the_portfolio_backtests_orders_in_the_same_order(portfolio) -> None:
    live, trading, store = portfolio
    bt = wb.backtest(STRATEGY, PORTFOLIO, cash=CASH, fill="next_open", weights=WEIGHTS, fees=0.0)

    placed = list(live.session.om.orders.values())

    assert len(placed) == len(bt.order_records) > 20
    assert {o.symbol for o in placed} == set(PORTFOLIO)
    for mine, theirs in zip(placed, bt.order_records, strict=True):
        assert (mine.symbol, mine.side, mine.status) == (theirs.symbol, theirs.side, OrderStatus.FILLED)
        assert mine.created_at == theirs.created_at
        assert mine.qty == pytest.approx(theirs.qty, rel=1e-9, abs=1e-9)  # Alpaca takes 9 decimals of a share
        assert mine.avg_fill_price == pytest.approx(theirs.avg_fill_price, rel=1e-12)
    assert [o.client_order_id for o in trading.orders.values()] == [o.client_order_id for o in placed]
    assert live.bars == sum(len(f) for f in PORTFOLIO.values())
    state = OrderJournal.resume(store, live.run_id).restore()
    assert state.cash == pytest.approx(trading.cash, rel=1e-12, abs=1e-6)  # dust of 9-decimal quantities
    held = {s: q for s, (q, _) in trading.positions.items()}
    assert {s: p.qty for s, p in state.positions.items()} == pytest.approx(held)
    assert state.last_bar == BARS.index[-1] and not state.halted
    with store.unit_of_work(readonly=True) as uow:
        config = uow.runs.get(live.run_id).config
    assert (config["symbol"], config["symbols"], config["weights"]) == ("SPY,QQQ,IWM", list(PORTFOLIO), WEIGHTS)


def test_the_store_ends_equal_to_the_brokers_account(paper) -> None:
    live, trading, store = paper
    state = OrderJournal.resume(store, live.run_id).restore()
    last = trading.quotes["SPY"]

    assert state.cash == pytest.approx(trading.cash, rel=1e-12, abs=1e-6)  # all-in buys: cent dust
    assert {s: p.qty for s, p in state.positions.items()} == pytest.approx(
        {s: q for s, (q, _) in trading.positions.items()}
    )
    for symbol, (_, entry) in trading.positions.items():
        assert state.positions[symbol].avg_price == pytest.approx(entry, rel=1e-12)
    with store.unit_of_work(readonly=True) as uow:
        pnl = sum(p.realized_pnl for p in uow.positions.current(live.run_id, include_flat=True).values())
        fills = uow.fills.find(run_id=live.run_id)
    unrealized = sum(p.qty * (last - p.avg_price) for p in state.positions.values())
    assert pnl + unrealized == pytest.approx(trading.equity() - CASH, rel=1e-9)
    assert sorted(f.fill_id for f in fills) == sorted(a["id"][-36:] for a in trading.activities)
    assert state.open_orders == [] and not state.halted


@pytest.fixture
def session_on_fake(tmp_path) -> Iterator[tuple[LiveSession, TradingApi, Store]]:
    with LoopbackServer() as server:
        trading = TradingApi(server, cash=CASH)
        store = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
        broker = alpaca(server)
        clock = FrozenClock(datetime(2023, 1, 1, tzinfo=UTC))
        alerts: list[object] = []
        live = LiveSession.open(
            store,
            wb.strategy("sma_cross")(fast=2, slow=4),
            "SPY",
            broker,
            clock=clock,
            poll=0.05,
            on_alert=alerts.append,
            override_reason=FAKE,
        )
        live.alerts = alerts  # type: ignore[attr-defined]
        yield live, trading, store
        broker.close()
        store.close()


def test_the_kill_switch_in_the_store_cancels_flattens_and_halts(session_on_fake) -> None:
    live, trading, store = session_on_fake
    bars = feed(trading, BARS)
    while not live.session.broker.positions():
        live.step(next(bars))
    with store.unit_of_work() as uow:
        uow.strategies.halt(STRATEGY.name, "operator: kill switch")

    for _ in range(10):
        live.step(next(bars))

    assert live.session.broker.positions() == {} and live.session.risk_manager.halted
    assert trading.equity() == pytest.approx(trading.cash)
    orders = len(trading.orders)
    with store.unit_of_work() as uow:
        uow.strategies.resume(STRATEGY.name)
        uow.strategies.update(STRATEGY.name, enabled=False)
    for _ in range(20):
        live.step(next(bars))
    assert len(trading.orders) == orders  # disabled: no new orders
    with store.unit_of_work() as uow:
        uow.strategies.update(STRATEGY.name, enabled=True)
    for bar in bars:
        live.step(bar)
    assert len(trading.orders) > orders and not live.session.risk_manager.halted


def test_a_refusal_is_an_ops_event_and_a_stop_cancels_working_orders(session_on_fake) -> None:
    live, trading, store = session_on_fake
    trading.reject_next("insufficient buying power")
    for bar in feed(trading, BARS.iloc[:30]):
        live.step(bar)
    now = live.session.clock.now()
    resting = live.session.om.submit(
        Order(symbol="SPY", side="buy", qty=1, type="limit", limit_price=1.0, created_at=now)
    )
    stop = threading.Event()
    stop.set()

    live.run(iter(()), stop)

    rejected = [e for e in live.alerts if isinstance(e, RiskEvent) and e.rule == "broker_rejected"]
    assert len(rejected) == 1 and "insufficient buying power" in rejected[0].details["reason"]
    with store.unit_of_work(readonly=True) as uow:
        assert [e.rule for e in uow.risk_events.find(live.run_id, decision="deny")] == ["broker_rejected"]
        assert uow.audit.find(action="live.stop")
    assert resting.status is OrderStatus.CANCELED and trading.order(resting.client_order_id).status == "canceled"


def test_sigterm_stops_a_session_waiting_for_bars(session_on_fake) -> None:
    live, _, _ = session_on_fake

    def endless() -> Iterator[Bar]:
        threading.Event().wait(60)  # a live feed with nothing to say
        yield from ()

    threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
    started = datetime.now(UTC)
    summary = run_until_stopped(live, endless())

    assert summary.bars == 0 and datetime.now(UTC) - started < timedelta(seconds=5)
    assert signal.getsignal(signal.SIGTERM) is not None


def test_alpaca_needs_the_configuration_promoted_and_an_override_is_audited(tmp_path) -> None:
    """The promotion gate is LiveSession.open's, so a notebook meets it as `workbench live` does."""
    strategy = wb.strategy("sma_cross")(fast=2, slow=4)
    store = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
    with LoopbackServer() as server:
        TradingApi(server, cash=CASH)
        broker = alpaca(server)

        def session(**options: object) -> LiveSession:
            live = LiveSession.open(
                store, strategy, "SPY", broker, clock=FrozenClock(datetime(2023, 1, 1, tzinfo=UTC)), **options
            )
            live.shutdown()
            return live

        with pytest.raises(PromotionRequired, match=r"sma_cross fast=2 slow=4 on SPY is not promoted to paper"):
            session(run=None)
        with store.unit_of_work(readonly=True) as uow:
            assert uow.runs.find(kind="live") == [] and uow.audit.find(action="live.override") == []

        overridden = session(run=None, override_reason="a drill", actor="ada")
        with store.unit_of_work(readonly=True) as uow:
            [entry] = uow.audit.find(action="live.override")
        assert (entry.actor, entry.target, entry.details["reason"]) == ("ada", "strategy:sma_cross", "a drill")
        assert (entry.details["broker"], entry.details["params"]) == ("alpaca-paper", {"fast": 2, "slow": 4})

        promote("sma_cross", strategy.values, ["SPY"], to="paper", store=store, override_reason="gates not run here")
        assert session(run="latest").run_id == overridden.run_id  # promoted: no override needed, nothing audited
        with store.unit_of_work(readonly=True) as uow:
            assert len(uow.audit.find(action="live.override")) == 1
        broker.close()
    store.close()
