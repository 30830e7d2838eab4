"""Rows of the requests to a running live or paper session: a person asks, through the store, for one of the
run's orders to be canceled, and the session (in whatever process it runs) acts on it at its next check."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workbench.store.base import Base, check
from workbench.store.types import utcnow
from workbench.store.validation import one_of


class OrderRequestAction(StrEnum):
    """What a request asks the session to do with the order."""

    CANCEL = "cancel"


class OrderRequestRow(Base):
    """A request for run ``run_id`` to act on its order ``order_id`` (our id, ``orders.id``).

    ``order_id`` is not a foreign key: the request records what was asked, and the session answers a request for an
    order that is not its own with an error ``outcome`` rather than the store refusing it. ``handled_at`` and
    ``outcome`` are set together when the session has acted: the order's status after the cancel (``canceled``)
    or why it could not (``order ... is filled and cannot be canceled``).
    """

    __tablename__ = "order_requests"
    __table_args__ = (
        sa.CheckConstraint("(handled_at IS NULL) = (outcome IS NULL)", name="handled_with_outcome"),
        sa.Index(None, "run_id", "handled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"))
    order_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    action: Mapped[str] = mapped_column(
        sa.String(16), default=OrderRequestAction.CANCEL.value, info=check(one_of(OrderRequestAction))
    )
    requested_by: Mapped[str] = mapped_column(sa.String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.Text)
