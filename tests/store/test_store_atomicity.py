"""A unit of work is one transaction: a failure anywhere in it leaves none of its writes behind."""

from __future__ import annotations

from datetime import datetime

import pytest

from workbench.orders.model import Fill, Order
from workbench.store import Store, StoreError, StoreIntegrityError

pytest_plugins = ["store_fixtures"]


class Injected(Exception):
    """The failure a test injects between two writes."""


def _accepted_order(t0: datetime, **kwargs) -> Order:
    order = Order(symbol="SPY", side="buy", qty=10, created_at=t0, **kwargs)
    order.transition("accepted", t0)
    return order


def test_failure_between_two_writes_leaves_neither(store: Store, t0: datetime) -> None:
    with store.unit_of_work() as uow:
        run_id = uow.runs.start("live", "sma_cross").id
    order = _accepted_order(t0)
    fill = Fill.for_order(order, qty=10, price=100.0, timestamp=t0)
    with pytest.raises(Injected), store.unit_of_work() as uow:
        uow.orders.add(order, run_id=run_id)
        uow.fills.add(fill)  # both rows are flushed (sent to the database) at this point
        assert uow.orders.get(order.id) is not None
        raise Injected("crash between the fill and the position update")
    with store.unit_of_work(readonly=True) as uow:
        assert uow.orders.get(order.id) is None
        assert uow.fills.get(fill.fill_id) is None
        assert uow.positions.current(run_id) == {}


def test_database_refusal_of_the_second_write_undoes_the_first(store: Store, t0: datetime) -> None:
    with store.unit_of_work() as uow:
        uow.orders.add(_accepted_order(t0, client_order_id="taken"))
    first, clash = _accepted_order(t0), _accepted_order(t0, client_order_id="taken")
    with pytest.raises(StoreIntegrityError), store.unit_of_work() as uow:
        uow.orders.add(first)
        uow.orders.add(clash)  # duplicate client_order_id
    with store.unit_of_work(readonly=True) as uow:
        assert uow.orders.get(first.id) is None
        assert [o.client_order_id for o in uow.orders.find()] == ["taken"]


def test_fill_position_and_order_state_commit_together(store: Store, t0: datetime) -> None:
    with store.unit_of_work() as uow:
        run_id = uow.runs.start("live", "sma_cross").id
    order = _accepted_order(t0)
    with store.unit_of_work() as uow:
        uow.orders.add(order, run_id=run_id)
    fill = Fill.for_order(order, qty=10, price=100.0, timestamp=t0)
    order.apply_fill(fill)
    with pytest.raises(Injected), store.unit_of_work() as uow:
        uow.fills.add(fill)
        uow.positions.apply_fill(run_id, fill)
        raise Injected("crash before the order's new state is written")
    with store.unit_of_work(readonly=True) as uow:
        assert (uow.fills.find(), uow.positions.current(run_id)) == ([], {})
        assert uow.orders.get(order.id).status == "accepted"
    with store.unit_of_work() as uow:  # the retry goes through whole
        uow.fills.add(fill)
        uow.positions.apply_fill(run_id, fill)
        uow.orders.update(order)
    with store.unit_of_work(readonly=True) as uow:
        assert uow.positions.current(run_id)["SPY"].qty == 10.0
        assert uow.orders.get(order.id).status == "filled"


def test_readonly_unit_of_work_refuses_to_write(store: Store) -> None:
    with (
        pytest.raises(StoreError, match=r"^read-only unit of work cannot write StrategyRow$"),
        store.unit_of_work(readonly=True) as uow,
    ):
        uow.strategies.add("sneaky")
    with store.unit_of_work(readonly=True) as uow:
        assert uow.strategies.find() == []
