"""Rows of the promotion log: a strategy configuration moved from research to paper, or from paper to live."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workbench.store.base import Base, check
from workbench.store.types import utcnow
from workbench.store.validation import one_of


class PromotionStage(StrEnum):
    """Where a promotion lets a configuration trade: Alpaca's paper account, or real money."""

    PAPER = "paper"
    LIVE = "live"


class PromotionStatus(StrEnum):
    """Every gate passed; a gate failed (the attempt is kept, so a refusal can say why); or a person promoted it
    anyway, with a reason (``override_reason``, also in the audit log)."""

    PASSED = "passed"
    FAILED = "failed"
    OVERRIDDEN = "overridden"


class PromotionRow(Base):
    """One promotion attempt of a configuration (strategy, parameters, symbols, source hash) to a stage.

    ``gates`` maps each gate's name to its outcome: ``passed``, a one-line ``detail`` and its numbers.
    ``sweep_run_id`` is the saved sweep the configuration was chosen from (its bars are the gates' bars).
    """

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    strategy: Mapped[str] = mapped_column(sa.String(64), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    symbols: Mapped[list[str]] = mapped_column(default=list)
    stage: Mapped[str] = mapped_column(sa.String(16), info=check(one_of(PromotionStage)))
    status: Mapped[str] = mapped_column(sa.String(16), info=check(one_of(PromotionStatus)))
    sweep_run_id: Mapped[int | None] = mapped_column(sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL"))
    strategy_source_hash: Mapped[str] = mapped_column(sa.String(128))
    gates: Mapped[dict[str, Any]] = mapped_column(default=dict)
    override_reason: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
