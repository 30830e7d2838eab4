"""Every table of the store, imported in one place: `metadata` is what migrations are checked against."""

from __future__ import annotations

from workbench.store.base import Base
from workbench.store.models_admin import (
    ApiKeyRow,
    AuditRow,
    NotificationRow,
    NotificationStatus,
    SessionRow,
    UserRole,
    UserRow,
)
from workbench.store.models_promotion import PromotionRow, PromotionStage, PromotionStatus
from workbench.store.models_requests import OrderRequestAction, OrderRequestRow
from workbench.store.models_runs import RunState, RunStateRow
from workbench.store.models_trading import (
    RISK_DECISIONS,
    EquitySnapshotRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    PositionRow,
    PositionSnapshotRow,
    ReceivedBarRow,
    RiskEventRow,
    RunKind,
    RunRow,
    RunStatus,
    StrategyMode,
    StrategyRow,
)

metadata = Base.metadata

__all__ = [
    "RISK_DECISIONS",
    "ApiKeyRow",
    "AuditRow",
    "Base",
    "EquitySnapshotRow",
    "FillRow",
    "NotificationRow",
    "NotificationStatus",
    "OrderEventRow",
    "OrderRequestAction",
    "OrderRequestRow",
    "OrderRow",
    "PositionRow",
    "PositionSnapshotRow",
    "PromotionRow",
    "PromotionStage",
    "PromotionStatus",
    "ReceivedBarRow",
    "RiskEventRow",
    "RunKind",
    "RunRow",
    "RunState",
    "RunStateRow",
    "RunStatus",
    "SessionRow",
    "StrategyMode",
    "StrategyRow",
    "UserRole",
    "UserRow",
    "metadata",
]
