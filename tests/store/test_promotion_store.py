"""The store side of promotions and drift: migration 0004 up and down on SQLite and PostgreSQL, the promotion log,
and the bars a run received with how far its order records had got when each was done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from workbench.data.feeds import Bar
from workbench.orders.model import Fill, Order
from workbench.store import Store, StoreValidationError, create_store_engine
from workbench.store.journal import OrderJournal
from workbench.store.migrate import downgrade, upgrade
from workbench.store.models import RunRow

pytest_plugins = ["store_fixtures"]

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def bar(minute: int, close: float = 100.0) -> Bar:
    return Bar("SPY", T0 + timedelta(minutes=minute), close - 0.1, close + 0.5, close - 0.5, close, 1_000.0)


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migration_0004_adds_both_tables_and_drops_them_keeping_every_other_row(db_url: str) -> None:
    engine = create_store_engine(db_url)
    try:
        assert upgrade(engine, "0003") == "0003"
        store = Store(engine)
        with store.unit_of_work() as uow:
            run_id = uow.runs.start("live", "sma_cross", config={"symbol": "SPY", "cash": 1_000.0}).id
            uow.equity.add(run_id, T0, cash=1_000.0, equity=1_000.0)
        assert {"promotions", "received_bars"}.isdisjoint(tables(engine))

        assert upgrade(engine, "0004") == "0004"
        assert {"promotions", "received_bars"} <= tables(engine)
        with store.unit_of_work() as uow:
            uow.received_bars.add(run_id, bar(1))
            uow.promotions.add(
                "sma_cross",
                params={"fast": 10},
                symbols=["SPY"],
                stage="paper",
                status="failed",
                strategy_source_hash="abc",
                gates={"sweep": {"passed": False}},
                actor="ada",
                sweep_run_id=run_id,
            )
        assert downgrade(engine, "0003") == "0003"

        assert {"promotions", "received_bars"}.isdisjoint(tables(engine))
        with store.unit_of_work(readonly=True) as uow:
            assert uow.runs.get(run_id).config["symbol"] == "SPY" and uow.equity.latest(run_id).equity == 1_000.0
        assert upgrade(engine, "0004") == "0004"  # and up again
    finally:
        engine.dispose()


def test_a_received_bar_records_the_orders_and_events_recorded_before_it(store: Store) -> None:
    journal = OrderJournal.start(store, "sma_cross", cash=10_000.0, config={"symbol": "SPY"})
    journal.record_mark(T0, 10_000.0, 10_000.0, bars=(bar(0),))
    order = Order(symbol="SPY", side="buy", qty=2, created_at=T0)
    journal.record_order(order)
    journal.record_event(order.transition("accepted", T0), order)
    journal.record_event(order.apply_fill(Fill.for_order(order, qty=2, price=100.0, timestamp=T0)), order)
    journal.record_mark(T0 + timedelta(minutes=1), 9_800.0, 10_000.0, bars=(bar(1),))
    journal.record_mark(T0 + timedelta(minutes=2), 9_800.0, 10_002.0, bars=(bar(2, 101.0),))

    with store.unit_of_work(readonly=True) as uow:
        rows = uow.received_bars.series(journal.run_id)
        log = uow.order_events.log(journal.run_id)

    assert [(r.orders_seen, r.events_seen) for r in rows] == [(0, 0), (1, log[-1][0]), (1, log[-1][0])]
    assert [e.kind.value for _, e in log] == ["accepted", "fill"] and log[1][1].fill.price == 100.0
    assert [(r.timestamp, r.open, r.close, r.volume) for r in rows][2] == (T0 + timedelta(minutes=2), 100.9, 101.0, 1e3)
    assert rows[0].received_at.tzinfo is not None


def test_received_bars_go_with_their_run_and_a_promotion_outlives_its_sweep(store: Store) -> None:
    journal = OrderJournal.start(store, "sma_cross", cash=10_000.0, config={"symbol": "SPY"})
    journal.record_mark(T0, 10_000.0, 10_000.0, bars=(bar(0),))
    with store.unit_of_work() as uow:
        sweep_id = uow.runs.start("sweep", "sma_cross").id
        promotion = uow.promotions.add(
            "sma_cross",
            params={},
            symbols=["SPY"],
            stage="paper",
            status="passed",
            strategy_source_hash="abc",
            gates={},
            actor="ada",
            sweep_run_id=sweep_id,
        ).id
    with store.unit_of_work() as uow:
        uow.session.execute(sa.delete(RunRow).where(RunRow.id.in_([journal.run_id, sweep_id])))

    with store.unit_of_work(readonly=True) as uow:
        assert uow.received_bars.series(journal.run_id) == []
        assert uow.promotions.get(promotion).sweep_run_id is None


def test_bad_promotion_values_are_refused_before_any_sql(store: Store) -> None:
    stage = StoreValidationError, r"promotions.stage='production' is invalid: expected one of paper"
    with pytest.raises(stage[0], match=stage[1]), store.unit_of_work() as uow:
        uow.promotions.add(
            "sma_cross",
            params={},
            symbols=["SPY"],
            stage="production",
            status="passed",
            strategy_source_hash="abc",
            gates={},
            actor="ada",
        )
    with store.unit_of_work() as uow:
        run_id = uow.runs.start("live", "sma_cross").id
    price = StoreValidationError, r"received_bars.open=-1.1 is invalid: expected a finite number > 0"
    with pytest.raises(price[0], match=price[1]), store.unit_of_work() as uow:
        uow.received_bars.add(run_id, bar(0, close=-1.0))
