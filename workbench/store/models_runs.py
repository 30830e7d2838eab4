"""The state of a recorded live or paper run: who trades it now (host, process, since when, its heartbeat), or how
its last session ended (stopped, finished, halted with the reason).

One row per run, written by the session that trades it (`workbench.trading.run_lock.RunLease`): the row is the
run's lock (a second session is refused while the state is ``running`` and the lease has not expired) and what the
faces show as the run's state. A session that was killed leaves ``running`` behind with a lease that expires:
read after ``expires_at``, the run is ``crashed`` (`RunState.CRASHED` is derived, never written).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workbench.store.base import Base, check
from workbench.store.validation import NON_NEGATIVE, one_of


class RunState(StrEnum):
    """What a live or paper run is doing: traded now, or how its last session ended."""

    RUNNING = "running"  # a session holds the lease and beats its heartbeat
    STOPPED = "stopped"  # stopped before its feed ended (Ctrl-C, SIGTERM, a failed start)
    FINISHED = "finished"  # its feed ended (a replay, a step)
    HALTED = "halted"  # ended halted (the kill switch, a risk rule, a broker that stayed unavailable): see reason
    CRASHED = "crashed"  # derived: running, but the heartbeat stopped (the process died)


#: The states a session writes (``crashed`` is read, never written).
STORED_STATES = (RunState.RUNNING, RunState.STOPPED, RunState.FINISHED, RunState.HALTED)


class RunStateRow(Base):
    """The state of run ``run_id`` and the lease of the session trading it.

    ``token`` names the lease: a session writes its heartbeat and its end only while the token is still its own
    (a session that lost its lease to another writes nothing). ``since`` is when the current holder took the run,
    ``heartbeat_at`` its last beat and ``expires_at`` the time after which another session may take it over.
    """

    __tablename__ = "run_states"

    run_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    state: Mapped[str] = mapped_column(sa.String(16), info=check(one_of(STORED_STATES)))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int] = mapped_column(info=check(NON_NEGATIVE))
    token: Mapped[str] = mapped_column(sa.String(36))
    since: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


def state_of(row: RunStateRow | None, now: datetime) -> RunState:
    """What a run's state row says at ``now``: its stored state, ``crashed`` when it says running but its lease
    expired (the session's heartbeat stopped), ``stopped`` for a run no session has a state for (recorded before
    run states existed, or never opened by a session)."""
    if row is None:
        return RunState.STOPPED
    if row.state == RunState.RUNNING.value and row.expires_at <= now:
        return RunState.CRASHED
    return RunState(row.state)
