"""Cancel requests through the store: migration 0005 up and down on SQLite and PostgreSQL, the repository, a live
session on the local sim broker acting on a request written by another store handle (as the dashboard does from
its own process), and the dashboard writing a request when no trading account is in its process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from ui_support import CHEAP, PASSWORD, add_users, seed

import workbench as wb
from workbench.auth.errors import PermissionDenied
from workbench.auth.service import AuthService
from workbench.brokers.sim import SimBroker
from workbench.orders.model import Order
from workbench.store import Store, StoreError, StoreValidationError, create_store_engine
from workbench.store.migrate import downgrade, upgrade
from workbench.testing import FrozenClock
from workbench.trading.live import LiveSession
from workbench.ui.actions import Controls
from workbench.ui.errors import DashboardError
from workbench.ui.poller import Poller
from workbench.ui.views.common import Feedback
from workbench.ui.views.orders import OrdersView

pytest_plugins = ["store_fixtures"]

T0 = datetime(2022, 12, 31, tzinfo=UTC)


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migration_0005_adds_the_table_and_drops_it_keeping_the_runs(db_url: str) -> None:
    engine = create_store_engine(db_url)
    try:
        assert upgrade(engine, "0004") == "0004"
        store = Store(engine)
        with store.unit_of_work() as uow:
            run_id = uow.runs.start("live", "sma_cross", config={"symbol": "SPY"}).id
        assert "order_requests" not in _tables(engine)
        assert upgrade(engine, "0005") == "0005"
        with store.unit_of_work() as uow:
            uow.order_requests.add(run_id, "o-1", requested_by="tom")
        assert downgrade(engine, "0004") == "0004"
        assert "order_requests" not in _tables(engine)
        with store.unit_of_work(readonly=True) as uow:
            assert uow.runs.get(run_id).config == {"symbol": "SPY"}
        assert upgrade(engine, "0005") == "0005"  # and up again
    finally:
        engine.dispose()


def test_requests_are_pending_until_handled_once(store: Store) -> None:
    with store.unit_of_work() as uow:
        run_id = uow.runs.start("live", "sma_cross").id
        other = uow.runs.start("live", "rsi_reversion").id
        first = uow.order_requests.add(run_id, "o-1", requested_by="tom").id
        second = uow.order_requests.add(run_id, "o-2", requested_by="ada").id
        uow.order_requests.add(other, "o-3", requested_by="tom")
    with store.unit_of_work() as uow:
        assert [(r.id, r.order_id, r.action) for r in uow.order_requests.pending(run_id)] == [
            (first, "o-1", "cancel"),
            (second, "o-2", "cancel"),
        ]
        handled = uow.order_requests.mark_handled(first, "canceled")
        assert handled.outcome == "canceled" and handled.handled_at >= handled.requested_at
    with store.unit_of_work() as uow:
        assert [r.id for r in uow.order_requests.pending(run_id)] == [second]
        with pytest.raises(StoreError, match=rf"order request {first} was handled already \(canceled\)"):
            uow.order_requests.mark_handled(first, "canceled")
        with pytest.raises(StoreError, match="order request 999999 is not stored"):
            uow.order_requests.mark_handled(999_999, "canceled")
    with pytest.raises(StoreValidationError, match="action"), store.unit_of_work() as uow:
        uow.order_requests.add(run_id, "o-4", requested_by="tom", action="replace")


@pytest.fixture
def live(db_url: str, store: Store) -> Iterator[LiveSession]:
    """A sim session on SPY quoted at 500, with 10 shares bought and a buy limit at 450 resting."""
    clock = FrozenClock(T0)
    session = LiveSession.open(store, wb.strategy("sma_cross")(fast=3, slow=10), "SPY", SimBroker(clock), clock=clock)
    broker = session.session.broker
    broker.quote("SPY", 500.0)
    session.session.om.submit(Order(symbol="SPY", side="buy", qty=10, created_at=T0))
    yield session
    session.shutdown()


def _request(db_url: str, run_id: int, order_id: str) -> int:
    """A request written through a store handle of its own, as another process would."""
    other = Store.open(db_url)
    try:
        with other.unit_of_work() as uow:
            return uow.order_requests.add(run_id, order_id, requested_by="tom").id
    finally:
        other.close()


def test_a_session_cancels_a_requested_order_at_its_next_check(db_url: str, store: Store, live: LiveSession) -> None:
    om = live.session.om
    resting = om.submit(Order(symbol="SPY", side="buy", qty=2, type="limit", limit_price=450.0, created_at=T0))
    [filled] = [o for o in om.orders.values() if o.id != resting.id]
    requests = {
        "resting": _request(db_url, live.run_id, resting.id),
        "filled": _request(db_url, live.run_id, filled.id),
        "unknown": _request(db_url, live.run_id, "not-an-order"),
    }
    assert resting.is_open  # nothing happens until the session checks the store
    live.apply_controls()  # what it does before every bar and while waiting for one
    with store.unit_of_work(readonly=True) as uow:
        assert uow.orders.get(resting.id).status.value == "canceled"
        assert uow.orders.get(filled.id).status.value == "filled"
        assert uow.order_requests.pending(live.run_id) == []
        outcomes = {name: uow.order_requests.get(i) for name, i in requests.items()}
    assert outcomes["resting"].outcome == "canceled" and outcomes["resting"].handled_at is not None
    assert outcomes["filled"].outcome == f"order {filled.id} is filled and cannot be canceled"
    assert outcomes["unknown"].outcome == f"order not-an-order is not an order of run {live.run_id}"
    live.apply_controls()  # handled requests are not acted on again
    with store.unit_of_work(readonly=True) as uow:
        assert uow.order_requests.get(requests["resting"]).outcome == "canceled"


# --- the dashboard, with no trading account in its process ---------------------------------------------------


def _controls(store: Store, username: str) -> Controls:
    auth = AuthService(store, CHEAP)
    return Controls(store, auth, auth.login(username, PASSWORD).access_token, source="10.0.0.7")


def test_a_trader_without_a_desk_requests_the_cancel_and_it_is_audited(store: Store) -> None:
    add_users(store)
    seeded = seed(store)
    order_id, run_id = seeded.working.id, seeded.spy.journal.run_id
    controls = _controls(store, "tom")
    assert controls.can_cancel and controls.desk is None
    assert controls.cancel(order_id) == (
        f"cancel of order {order_id} requested; the session acts on it at its next check"
    )
    with store.unit_of_work(readonly=True) as uow:
        [request] = uow.order_requests.pending(run_id)
        [entry] = uow.audit.find(action="order.cancel_request")
        assert uow.orders.get(order_id).is_open  # until its session acts
    assert (request.order_id, request.action, request.requested_by) == (order_id, "cancel", "tom")
    assert (entry.actor, entry.target) == ("tom", f"order:{order_id}")
    assert entry.details["outcome"] == "success" and entry.details["run_id"] == run_id
    assert entry.details["request_id"] == request.id
    assert controls.last_cancel_request(order_id).id == request.id

    with pytest.raises(DashboardError, match="order no-such-order is not stored"):
        controls.cancel("no-such-order")
    filled = next(o.id for o in seeded.spy.om.orders.values() if o.status.value == "filled")
    with pytest.raises(DashboardError, match=f"order {filled} is filled and cannot be canceled"):
        controls.cancel(filled)
    with store.unit_of_work(readonly=True) as uow:
        assert len(uow.order_requests.pending(run_id)) == 1
        failures = [e.details["outcome"] for e in uow.audit.find(action="order.cancel_request")]
    assert failures == ["failure", "failure", "success"]  # newest first

    with store.unit_of_work() as uow:
        uow.order_requests.mark_handled(request.id, "canceled")
    assert controls.last_cancel_request(order_id).outcome == "canceled"
    assert controls.last_cancel_request(filled) is None


def test_a_viewer_cannot_request_a_cancel(store: Store) -> None:
    add_users(store)
    seeded = seed(store)
    controls = _controls(store, "vic")
    assert not controls.can_cancel
    with pytest.raises(PermissionDenied, match=r"vic is a viewer: order\.cancel_request needs the trader role"):
        controls.cancel(seeded.working.id)
    with store.unit_of_work(readonly=True) as uow:
        assert uow.order_requests.pending(seeded.spy.journal.run_id) == []
        [entry] = uow.audit.find(action="order.cancel_request")
    assert entry.details["outcome"] == "failure" and entry.details["reason"] == "forbidden"


def test_the_orders_view_requests_a_cancel_and_shows_its_outcome(store: Store) -> None:
    add_users(store)
    seeded = seed(store)
    poller = Poller(store, period=60, health_every=3600)
    poller.tick()
    feedback = Feedback()
    view = OrdersView(_controls(store, "tom"), feedback)
    view.update(poller.current)
    assert view.cancel_note.object.startswith("A cancel is requested through the store")
    assert not view.cancel_button.disabled and view.working.value == seeded.working.id
    assert view.cancel()
    assert feedback.message.endswith("requested; the session acts on it at its next check")
    assert view.cancel_note.object.endswith("requested by tom: pending: the session acts on it at its next check")
    with store.unit_of_work() as uow:
        [request] = uow.order_requests.pending(seeded.spy.journal.run_id)
        uow.order_requests.mark_handled(request.id, "canceled")
    view.update(poller.current)
    assert view.cancel_note.object == f"Cancel of order {seeded.working.id} requested by tom: canceled"
