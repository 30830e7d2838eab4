"""Repositories: domain orders, fills, events and positions round-trip unchanged; the other records CRUD."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from workbench.engine.ledger import position_after_fill_nb
from workbench.orders.model import EventKind, Fill, Order, OrderStatus
from workbench.risk.manager import RiskEvent
from workbench.store import Store, StoreError, StoreIntegrityError
from workbench.store.models import FillRow, OrderRow, RunRow

pytest_plugins = ["store_fixtures"]


def _run(store: Store, **kwargs) -> int:
    with store.unit_of_work() as uow:
        return uow.runs.start(kwargs.pop("kind", "live"), kwargs.pop("strategy", "sma_cross"), **kwargs).id


def _bracket(t0: datetime) -> Order:
    return Order(
        symbol="spy",
        side="buy",
        qty=10,
        type="limit",
        time_in_force="gtc",
        limit_price=545.25,
        take_profit=560.0,
        stop_loss=530.0,
        stop_loss_limit=529.5,
        strategy="sma_cross",
        tags={"signal": "cross_up"},
        created_at=t0,
    )


def test_order_round_trip(store: Store, t0: datetime) -> None:
    run_id = _run(store)
    order = _bracket(t0)
    with store.unit_of_work() as uow:
        uow.orders.add(order, run_id=run_id)
    with store.unit_of_work(readonly=True) as uow:
        loaded = uow.orders.get(order.id)
        assert uow.orders.by_client_order_id(order.client_order_id) == order
        assert uow.orders.get("no-such-order") is None
    assert loaded == order
    assert loaded.created_at.tzinfo is UTC and loaded.created_at == t0

    later = t0 + timedelta(seconds=3)
    order.transition("accepted", t0 + timedelta(seconds=1))
    order.apply_fill(Fill.for_order(order, qty=4, price=545.0, timestamp=later, fee=0.25))
    with store.unit_of_work() as uow:
        uow.orders.update(order)
        uow.orders.set_broker_order_id(order.id, "alpaca-123")
    with store.unit_of_work(readonly=True) as uow:
        loaded = uow.orders.by_broker_order_id("alpaca-123")
    assert loaded == order
    assert (loaded.status, loaded.filled_qty, loaded.avg_fill_price, loaded.fees) == ("partially_filled", 4, 545, 0.25)
    assert loaded.updated_at == later


def test_open_orders_and_filters(store: Store, t0: datetime) -> None:
    run_a, run_b = _run(store), _run(store)
    orders = [Order(symbol=s, side="buy", qty=1, created_at=t0 + timedelta(minutes=i)) for i, s in enumerate("ABCD")]
    orders[1].transition("accepted", t0)
    orders[2].transition("canceled", t0)
    with store.unit_of_work() as uow:
        for order in orders[:3]:
            uow.orders.add(order, run_id=run_a)
        uow.orders.add(orders[3], run_id=run_b)
    with store.unit_of_work(readonly=True) as uow:
        assert [o.symbol for o in uow.orders.open(run_a)] == ["A", "B"]
        assert [o.symbol for o in uow.orders.open()] == ["A", "B", "D"]
        assert [o.symbol for o in uow.orders.find(status="canceled")] == ["C"]
        assert [o.symbol for o in uow.orders.find(run_id=run_b, symbol="D")] == ["D"]
        assert [o.symbol for o in uow.orders.find(limit=2)] == ["A", "B"]


def test_duplicate_client_order_id_is_refused(store: Store, t0: datetime) -> None:
    order = Order(symbol="SPY", side="buy", qty=1, client_order_id="once", created_at=t0)
    with store.unit_of_work() as uow:
        uow.orders.add(order)
    twin = Order(symbol="SPY", side="buy", qty=1, client_order_id="once", created_at=t0)
    refused = f"order {twin.id} \\(client_order_id once\\): refused by the database"
    with pytest.raises(StoreIntegrityError, match=refused), store.unit_of_work() as uow:
        uow.orders.add(twin)
    with store.unit_of_work(readonly=True) as uow:
        assert uow.orders.find() == [order]


def test_fills_events_and_position_in_one_unit_of_work(store: Store, t0: datetime) -> None:
    run_id = _run(store)
    order = Order(symbol="SPY", side="buy", qty=10, created_at=t0)
    accepted = order.transition("accepted", t0)
    with store.unit_of_work() as uow:
        uow.orders.add(order, run_id=run_id)
        uow.order_events.add(accepted, order.status, {"broker": "sim"})
    events = [accepted]
    fills = [
        Fill.for_order(order, qty=4, price=100.0, fee=0.5, timestamp=t0 + timedelta(seconds=1), venue="IEX"),
        Fill.for_order(order, qty=6, price=101.0, fee=0.5, timestamp=t0 + timedelta(seconds=2), liquidity="taker"),
    ]
    for fill in fills:
        event = order.apply_fill(fill)
        events.append(event)
        with store.unit_of_work() as uow:
            uow.fills.add(fill)
            uow.order_events.add(event, order.status)
            uow.orders.update(order)
            position = uow.positions.apply_fill(run_id, fill)
    assert (position.qty, position.avg_price, position.fees) == (10.0, 100.6, 1.0)

    with store.unit_of_work(readonly=True) as uow:
        assert uow.fills.for_order(order.id) == fills
        assert uow.fills.get(fills[1].fill_id) == fills[1]
        assert uow.fills.find(run_id=run_id, symbol="SPY") == fills
        assert uow.order_events.for_order(order.id) == events
        assert [e.kind for e in events] == [EventKind.ACCEPTED, EventKind.PARTIAL_FILL, EventKind.FILL]
        assert uow.orders.get(order.id) == order and order.status is OrderStatus.FILLED
        assert uow.fills.for_order(order.id)[0].timestamp.tzinfo is UTC
        fill_run = uow.session.scalar(sa.select(FillRow.run_id).where(FillRow.id == fills[0].fill_id))
        assert fill_run == run_id  # the order's run, by default


def test_positions_follow_the_ledger_through_a_flip(store: Store, t0: datetime) -> None:
    run_id = _run(store)
    trades = [("buy", 10, 100.0), ("buy", 5, 106.0), ("sell", 12, 110.0), ("sell", 8, 90.0), ("buy", 5, 95.0)]
    qty = avg = realized = 0.0
    for i, (side, size, price) in enumerate(trades):
        order = Order(symbol="QQQ", side=side, qty=size, created_at=t0)
        order.transition("accepted", t0)
        fill = Fill.for_order(order, qty=size, price=price, fee=0.1, timestamp=t0 + timedelta(minutes=i))
        order.apply_fill(fill)
        with store.unit_of_work() as uow:
            uow.orders.add(order, run_id=run_id)
            uow.fills.add(fill)
            stored = uow.positions.apply_fill(run_id, fill)
        sign = 1 if side == "buy" else -1
        qty, avg, realized = position_after_fill_nb(qty, avg, realized, sign * size, price, 0.1)
        assert (stored.qty, stored.avg_price, stored.realized_pnl) == (qty, avg, realized)
    with store.unit_of_work() as uow:
        assert uow.positions.get(run_id, "QQQ").qty == qty == 0.0
        uow.positions.snapshot(run_id, t0 + timedelta(days=1))
    with store.unit_of_work(readonly=True) as uow:
        assert uow.positions.current(run_id) == {}  # flat
        flat = uow.positions.current(run_id, include_flat=True)["QQQ"]
        assert flat.realized_pnl == pytest.approx(realized) and flat.fees == pytest.approx(0.5)
        assert uow.positions.get(run_id, "QQQ") == flat
        (snap,) = uow.positions.snapshots(run_id)
        assert (snap.symbol, snap.qty, snap.timestamp) == ("QQQ", 0.0, t0 + timedelta(days=1))


def test_a_fill_needs_its_order(store: Store, t0: datetime) -> None:
    order = Order(symbol="SPY", side="buy", qty=1, created_at=t0)
    order.transition("accepted", t0)
    fill = Fill.for_order(order, qty=1, price=10.0, timestamp=t0)
    missing = f"fill {fill.fill_id}: no stored order {order.id} with client_order_id {order.client_order_id}"
    with pytest.raises(StoreError, match=missing), store.unit_of_work() as uow:
        uow.fills.add(fill)


def test_equity_and_risk_events(store: Store, t0: datetime) -> None:
    run_id = _run(store)
    events = [
        RiskEvent(t0, "SPY", "resize", "max_shares", {"wanted": 120.0, "allowed": 100.0, "limit": 100.0}),
        RiskEvent(t0 + timedelta(days=1), "SPY", "approve", "", {"wanted": 5.0}),
        RiskEvent(t0 + timedelta(days=2), "SPY", "halt", "max_drawdown", {"drawdown": 0.21, "limit": 0.2}),
    ]
    with store.unit_of_work() as uow:
        for day in range(3):
            uow.equity.add(run_id, t0 + timedelta(days=day), cash=1000.0 - day, equity=1000.0 + day)
        for event in events:
            uow.risk_events.add(run_id, event)
    with store.unit_of_work(readonly=True) as uow:
        latest = uow.equity.latest(run_id)
        assert (latest.timestamp, latest.cash, latest.equity) == (t0 + timedelta(days=2), 998.0, 1002.0)
        assert [s.equity for s in uow.equity.series(run_id)] == [1000.0, 1001.0, 1002.0]
        assert uow.equity.latest(run_id + 1) is None
        assert uow.risk_events.find(run_id) == events
        assert uow.risk_events.find(run_id, decision="halt") == events[2:]


def test_runs(store: Store, t0: datetime) -> None:
    costs = {"cash": 10_000.0, "fees": 0.001, "slippage": 0.0, "fill": "next_open", "fixed_fee": 0.0, "risk": {}}
    with store.unit_of_work() as uow:
        first = uow.runs.start(
            "backtest",
            "sma_cross",
            params={"fast": 10, "slow": 50},
            started_at=t0,
            config={"symbol": "SPY"},
            code_version="0.1.0+g1b5a1e5",
            strategy_source_hash="ab12",
            data_source="sample",
            data_hash="cd34",
            costs=costs,
        )
        uow.runs.start("sweep", "sma_cross", started_at=t0 + timedelta(hours=1))
        uow.runs.start("backtest", "rsi", started_at=t0 + timedelta(hours=2))
    with store.unit_of_work() as uow:
        done = uow.runs.finish(first.id, metrics={"sharpe": float("nan"), "trades": 3}, finished_at=t0 + timedelta(1))
        assert done.status == "finished" and done.metrics == {"sharpe": None, "trades": 3}  # JSON has no NaN
        failed = uow.runs.start("live", "rsi", started_at=t0 + timedelta(hours=3))
        uow.runs.finish(failed.id, error="broker gone")
    with store.unit_of_work(readonly=True) as uow:
        assert [r.strategy for r in uow.runs.find()] == ["rsi", "rsi", "sma_cross", "sma_cross"]
        assert [r.kind for r in uow.runs.find(strategy="sma_cross")] == ["sweep", "backtest"]
        assert [r.strategy for r in uow.runs.find(kind="backtest", limit=1)] == ["rsi"]
        run = uow.runs.get(first.id)
        assert uow.runs.get(failed.id).status == "failed" and uow.runs.get(failed.id).error == "broker gone"
    assert (run.params, run.costs, run.config) == ({"fast": 10, "slow": 50}, costs, {"symbol": "SPY"})
    assert (run.code_version, run.data_hash, run.started_at) == ("0.1.0+g1b5a1e5", "cd34", t0)


def test_strategies(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.strategies.add("sma_cross", params={"fast": 10}, mode="paper", enabled=True)
        uow.strategies.add("rsi", enabled=True)
        uow.strategies.add("breakout")
        uow.strategies.halt("rsi", "daily loss limit")
    with store.unit_of_work() as uow:
        assert [s.name for s in uow.strategies.enabled()] == ["sma_cross"]
        assert [s.name for s in uow.strategies.enabled(include_halted=True)] == ["rsi", "sma_cross"]
        assert uow.strategies.get("rsi").halted_reason == "daily loss limit"
        uow.strategies.resume("rsi")
        uow.strategies.update("breakout", enabled=True, mode="live", params={"window": 20})
    with store.unit_of_work(readonly=True) as uow:
        assert [s.name for s in uow.strategies.enabled()] == ["breakout", "rsi", "sma_cross"]
        assert (uow.strategies.get("breakout").mode, uow.strategies.get("breakout").params) == ("live", {"window": 20})
    unknown = "strategy 'nope' is not stored \\(stored: breakout, rsi, sma_cross\\)"
    with pytest.raises(StoreError, match=unknown), store.unit_of_work() as uow:
        uow.strategies.halt("nope", "why")


def test_users_keys_sessions_notifications_audit(store: Store, t0: datetime) -> None:
    with store.unit_of_work() as uow:
        user = uow.users.add("ada", "argon2$hash", role="admin", now=t0)
        key = uow.api_keys.add(
            user.id, "keyhash", "wb_ab12", scopes=["read", "trade"], expires_at=t0 + timedelta(30), now=t0
        )
        session = uow.sessions.add(user.id, "tokenhash", t0 + timedelta(hours=1), now=t0)
        uow.sessions.add(user.id, "tokenhash2", t0 + timedelta(hours=1), now=t0)
        note = uow.notifications.add("email", "halted", "rsi hit its daily loss limit", now=t0)
        uow.audit.add("ada", "strategy.halt", "rsi", {"reason": "daily loss"}, now=t0)
    with store.unit_of_work() as uow:
        assert uow.users.by_username("ada").role == "admin" and uow.users.get(user.id).created_at == t0
        assert uow.api_keys.by_hash("keyhash").scopes == ["read", "trade"]
        assert uow.api_keys.revoke(key.id, now=t0 + timedelta(1)).revoked_at == t0 + timedelta(1)
        assert uow.sessions.revoke(session.id, now=t0).revoked_at == t0
        assert uow.sessions.revoke_all(user.id, now=t0) == 1
        assert uow.notifications.mark_failed(note.id, "smtp down").status == "pending"
        assert [n.id for n in uow.notifications.pending()] == [note.id]
        sent = uow.notifications.mark_sent(note.id, now=t0)
        assert (sent.status, sent.attempts, sent.error) == ("sent", 2, "smtp down")
        uow.users.update(user.id, disabled=True)
    with store.unit_of_work(readonly=True) as uow:
        assert uow.notifications.pending() == []
        assert uow.users.find()[0].disabled is True
        assert uow.sessions.by_token_hash("tokenhash2").revoked_at == t0
        assert [k.prefix for k in uow.api_keys.for_user(user.id)] == ["wb_ab12"]
        (entry,) = uow.audit.find(actor="ada")
        assert (entry.action, entry.target, entry.details, entry.timestamp) == (
            "strategy.halt",
            "rsi",
            {"reason": "daily loss"},
            t0,
        )


def test_deleting_a_run_deletes_its_records_but_an_order_keeps_its_fills(store: Store, t0: datetime) -> None:
    run_id = _run(store)
    order = Order(symbol="SPY", side="buy", qty=1, created_at=t0)
    order.transition("accepted", t0)
    fill = Fill.for_order(order, qty=1, price=10.0, timestamp=t0)
    with store.unit_of_work() as uow:
        uow.orders.add(order, run_id=run_id)
        uow.fills.add(fill)
        uow.positions.apply_fill(run_id, fill)
        uow.equity.add(run_id, t0, cash=0.0, equity=10.0)
    with pytest.raises(StoreIntegrityError, match="commit refused"), store.unit_of_work() as uow:
        uow.session.delete(uow.session.get(OrderRow, order.id))
    with store.unit_of_work() as uow:
        uow.session.delete(uow.session.get(RunRow, run_id))
    with store.unit_of_work(readonly=True) as uow:
        assert (uow.orders.find(), uow.fills.find(), uow.positions.current(run_id)) == ([], [], {})
        assert uow.equity.latest(run_id) is None
