"""Requests to running sessions, used through a unit of work: written by the dashboard (or any other process),
taken and answered by the live session of the run (`workbench.trading.live.LiveSession.apply_controls`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from workbench.store.errors import StoreError
from workbench.store.models_requests import OrderRequestAction, OrderRequestRow
from workbench.store.repositories import Repository
from workbench.store.types import utcnow


class OrderRequestRepository(Repository):
    """Order requests: added pending, found pending by run, marked handled with their outcome."""

    def add(
        self,
        run_id: int,
        order_id: str,
        *,
        requested_by: str,
        action: OrderRequestAction | str = OrderRequestAction.CANCEL,
    ) -> OrderRequestRow:
        """Ask run ``run_id`` to ``action`` its order ``order_id`` on behalf of ``requested_by``; returns the row
        (its ``id`` names the request)."""
        row = OrderRequestRow(run_id=run_id, order_id=order_id, action=action, requested_by=requested_by)
        self._add(row, f"{action} request of order {order_id} in run {run_id}")
        return row

    def get(self, request_id: int) -> OrderRequestRow | None:
        """The request ``request_id``, or None."""
        return self._session.get(OrderRequestRow, request_id)

    def latest(self, order_id: str) -> OrderRequestRow | None:
        """The newest request about order ``order_id``, or None."""
        query = sa.select(OrderRequestRow).where(OrderRequestRow.order_id == order_id)
        return self._session.scalars(query.order_by(OrderRequestRow.id.desc()).limit(1)).first()

    def pending(self, run_id: int) -> list[OrderRequestRow]:
        """The requests to run ``run_id`` not handled yet, oldest first (the order they are acted on in)."""
        query = (
            sa.select(OrderRequestRow)
            .where(OrderRequestRow.run_id == run_id, OrderRequestRow.handled_at.is_(None))
            .order_by(OrderRequestRow.id)
        )
        return list(self._session.scalars(query))

    def mark_handled(self, request_id: int, outcome: str, *, at: datetime | None = None) -> OrderRequestRow:
        """Record that request ``request_id`` was acted on at ``at`` (now by default) with ``outcome``; a request
        is handled once."""
        row = self.get(request_id)
        if row is None:
            raise StoreError(f"order request {request_id} is not stored")
        if row.handled_at is not None:
            raise StoreError(f"order request {request_id} was handled already ({row.outcome})")
        return self._update(row, {"handled_at": at or utcnow(), "outcome": outcome}, f"order request {request_id}")
