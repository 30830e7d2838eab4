"""Bad values are refused in Python, with an error naming table.field, the value and what is allowed, before any
SQL is sent (no statement reaches the database, no row is written)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from workbench.orders.model import Order
from workbench.risk.manager import RiskEvent
from workbench.store import Store, StoreValidationError
from workbench.store.models import EquitySnapshotRow, FillRow, OrderRow

pytest_plugins = ["store_fixtures"]


@pytest.fixture
def statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store's engine sends while the test runs."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(store.engine, "before_cursor_execute", record)


def _refused(store: Store, statements: list[str], expected: str, write) -> StoreValidationError:
    """Run ``write(uow)`` and check it raises exactly ``expected`` without sending SQL."""
    with pytest.raises(StoreValidationError) as caught, store.unit_of_work() as uow:
        write(uow)
    assert str(caught.value) == expected
    assert statements == []
    return caught.value


@pytest.fixture
def run_id(store: Store) -> int:
    with store.unit_of_work() as uow:
        return uow.runs.start("live", "sma_cross").id


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("qty", -1, "orders.qty=-1 is invalid: expected a finite number > 0"),
        ("qty", "10", "orders.qty='10' is invalid: expected a finite number > 0"),
        ("qty", float("nan"), "orders.qty=nan is invalid: expected a finite number > 0"),
        ("qty", True, "orders.qty=True is invalid: expected a finite number > 0"),
        ("side", "hold", "orders.side='hold' is invalid: expected one of buy, sell"),
        ("fees", -0.5, "orders.fees=-0.5 is invalid: expected a finite number >= 0"),
        ("limit_price", 0.0, "orders.limit_price=0.0 is invalid: expected a finite number > 0 or None"),
        (
            "created_at",
            datetime(2024, 7, 1, 14, 30),
            "orders.created_at=datetime.datetime(2024, 7, 1, 14, 30) is invalid: expected a timezone-aware "
            "datetime (or an ISO 8601 string with a UTC offset)",
        ),
        (
            "symbol",
            "X" * 33,
            f"orders.symbol='{'X' * 33}' is invalid: expected a non-empty string of at most 32 characters",
        ),
        ("tags", {"when": datetime(2024, 1, 1)}, None),
    ],
)
def test_bad_order_field_is_refused_before_sql(store, statements, t0, field, value, expected) -> None:
    """A domain order changed behind its validation (its dataclass is mutable) is still refused by the store."""
    order = Order(symbol="SPY", side="buy", qty=10, type="limit", limit_price=100.0, created_at=t0)
    object.__setattr__(order, field, value)
    if expected is None:  # JSON: the message says where inside the value
        expected = (
            f"orders.tags={value!r} is invalid: expected JSON data (dicts with string keys, lists, strings, numbers, "
            "booleans, None) (tags['when'] is a datetime)"
        )
    error = _refused(store, statements, expected, lambda uow: uow.orders.add(order))
    assert (error.table, error.field, error.value) == ("orders", field, value)
    with store.unit_of_work(readonly=True) as uow:
        assert uow.orders.find() == []


def test_repository_arguments_are_refused_before_sql(store, run_id, statements, t0) -> None:
    naive = datetime(2024, 7, 1)
    _refused(
        store,
        statements,
        f"equity_snapshots.timestamp={naive!r} is invalid: expected a timezone-aware datetime (or an ISO 8601 "
        "string with a UTC offset)",
        lambda uow: uow.equity.add(run_id, naive, cash=1.0, equity=1.0),
    )
    _refused(
        store,
        statements,
        "equity_snapshots.cash=inf is invalid: expected a finite number",
        lambda uow: uow.equity.add(run_id, t0, cash=float("inf"), equity=1.0),
    )
    _refused(
        store,
        statements,
        "runs.kind='paper_trade' is invalid: expected one of backtest, sweep, walk_forward, live, notebook",
        lambda uow: uow.runs.start("paper_trade", "sma_cross"),
    )
    _refused(
        store,
        statements,
        "risk_events.decision='maybe' is invalid: expected one of approve, resize, deny, exit, halt",
        lambda uow: uow.risk_events.add(run_id, RiskEvent(t0, "SPY", "maybe", "x")),
    )
    _refused(
        store,
        statements,
        "strategies.enabled='yes' is invalid: expected True or False",
        lambda uow: uow.strategies.add("sma_cross", enabled="yes"),
    )
    _refused(
        store,
        statements,
        "users.role='root' is invalid: expected one of admin, trader, viewer",
        lambda uow: uow.users.add("ada", "hash", role="root"),
    )
    _refused(
        store,
        statements,
        "notifications.channel='' is invalid: expected a non-empty string of at most 32 characters",
        lambda uow: uow.notifications.add("", "subject", "body"),
    )
    with store.unit_of_work(readonly=True) as uow:
        assert (uow.equity.latest(run_id), uow.strategies.find(), uow.users.find()) == (None, [], [])


def test_updates_are_validated_too(store, statements) -> None:
    with store.unit_of_work() as uow:
        uow.strategies.add("sma_cross")
    statements.clear()
    with pytest.raises(StoreValidationError) as caught, store.unit_of_work() as uow:
        strategy = uow.strategies.get("sma_cross")  # one SELECT
        statements.clear()
        strategy.mode = "yolo"
    assert str(caught.value) == "strategies.mode='yolo' is invalid: expected one of research, paper, live"
    assert statements == []
    unknown = "strategies.colour='red' is invalid: expected a column of strategies"
    with pytest.raises(StoreValidationError) as caught, store.unit_of_work() as uow:
        uow.strategies.update("sma_cross", colour="red")
    assert str(caught.value) == unknown


def test_rows_validate_on_construction_and_normalize(t0) -> None:
    with pytest.raises(StoreValidationError, match=r"^fills.price=-3.0 is invalid: expected a finite number > 0$"):
        FillRow(price=-3.0)
    with pytest.raises(StoreValidationError, match=r"^fills.order_id=None is invalid: expected a non-empty string"):
        FillRow(order_id=None)
    row = EquitySnapshotRow(timestamp="2024-07-01T16:30:00.123456+02:00", cash=1, equity=2)
    assert row.timestamp == t0 and row.timestamp.tzinfo is UTC
    assert (row.cash, type(row.cash)) == (1.0, float)
    assert OrderRow(side="buy", tags={"a": (1, 2)}).tags == {"a": [1, 2]}


def test_database_checks_back_up_the_python_ones(store: Store, run_id: int, t0) -> None:
    """Writes that bypass the ORM (Core inserts) still meet the CHECK constraints."""
    table = EquitySnapshotRow.__table__
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as connection:
        connection.execute(
            sa.insert(OrderRow.__table__).values(
                id="x",
                client_order_id="x",
                symbol="SPY",
                side="hold",
                type="market",
                time_in_force="day",
                qty=1.0,
                status="new",
                filled_qty=0.0,
                fees=0.0,
                tags={},
                created_at=t0,
                updated_at=t0,
            )
        )
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), store.engine.begin() as connection:
        connection.execute(sa.insert(table).values(run_id=run_id, timestamp=datetime(2024, 1, 1), cash=1.0, equity=1.0))
