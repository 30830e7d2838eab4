"""`UnitOfWork`: the repositories that read and write inside one transaction (see `Store.unit_of_work`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from workbench.store.repositories import (
    EquityRepository,
    FillRepository,
    OrderEventRepository,
    OrderRepository,
    PositionRepository,
    ReceivedBarRepository,
    RiskEventRepository,
    RunRepository,
    StrategyRepository,
)
from workbench.store.repositories_admin import (
    ApiKeyRepository,
    AuditRepository,
    NotificationRepository,
    SessionRepository,
    UserRepository,
)
from workbench.store.repositories_promotion import PromotionRepository
from workbench.store.repositories_requests import OrderRequestRepository
from workbench.store.repositories_runs import RunStateRepository


class UnitOfWork:
    """One transaction: everything written through these repositories is committed together, or not at all.

    Examples
    --------
    Record an order before sending it, then its fill with the position it moves, each atomically::

        with store.unit_of_work() as uow:
            uow.orders.add(order, run_id=run_id)
        ...
        with store.unit_of_work() as uow:
            uow.fills.add(fill)
            uow.orders.update(order)
            uow.positions.apply_fill(run_id, fill)
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.orders = OrderRepository(session)
        self.order_events = OrderEventRepository(session)
        self.fills = FillRepository(session)
        self.positions = PositionRepository(session)
        self.equity = EquityRepository(session)
        self.received_bars = ReceivedBarRepository(session)
        self.risk_events = RiskEventRepository(session)
        self.runs = RunRepository(session)
        self.strategies = StrategyRepository(session)
        self.users = UserRepository(session)
        self.api_keys = ApiKeyRepository(session)
        self.sessions = SessionRepository(session)
        self.notifications = NotificationRepository(session)
        self.audit = AuditRepository(session)
        self.promotions = PromotionRepository(session)
        self.order_requests = OrderRequestRepository(session)
        self.run_states = RunStateRepository(session)
