"""The promotion log, used through a unit of work: every attempt to move a configuration to paper or live."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from workbench.store.models_promotion import PromotionRow, PromotionStage, PromotionStatus
from workbench.store.repositories import Repository


class PromotionRepository(Repository):
    """Promotion attempts: recorded whatever their outcome, found again by strategy, stage and status."""

    def add(
        self,
        strategy: str,
        *,
        params: Mapping[str, Any],
        symbols: Sequence[str],
        stage: PromotionStage | str,
        status: PromotionStatus | str,
        strategy_source_hash: str,
        gates: Mapping[str, Any],
        actor: str,
        sweep_run_id: int | None = None,
        override_reason: str | None = None,
    ) -> PromotionRow:
        """Record one attempt to promote ``strategy`` with ``params`` on ``symbols`` to ``stage``."""
        row = PromotionRow(
            strategy=strategy,
            params=dict(params),
            symbols=list(symbols),
            stage=stage,
            status=status,
            sweep_run_id=sweep_run_id,
            strategy_source_hash=strategy_source_hash,
            gates=dict(gates),
            override_reason=override_reason,
            actor=actor,
        )
        self._add(row, f"promotion of {strategy} to {stage}")
        return row

    def get(self, promotion_id: int) -> PromotionRow | None:
        """The attempt ``promotion_id``, or None."""
        return self._session.get(PromotionRow, promotion_id)

    def find(
        self,
        *,
        strategy: str | None = None,
        stage: PromotionStage | str | None = None,
        status: Sequence[PromotionStatus | str] | None = None,
        limit: int | None = 100,
    ) -> list[PromotionRow]:
        """Attempts matching every filter given, newest first, at most ``limit``."""
        query = sa.select(PromotionRow).order_by(PromotionRow.created_at.desc(), PromotionRow.id.desc()).limit(limit)
        if strategy is not None:
            query = query.where(PromotionRow.strategy == strategy)
        if stage is not None:
            query = query.where(PromotionRow.stage == str(stage))
        if status is not None:
            query = query.where(PromotionRow.status.in_([str(s) for s in status]))
        return list(self._session.scalars(query))
