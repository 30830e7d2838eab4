"""Run states, used through a unit of work: a session takes its run (`RunStateRepository.lock` then `take`), beats
its heartbeat (`beat`) and says how it ended (`end`); the faces read them (`of_runs`).

The decisions (is the run held? may its lease be taken over?) are the caller's (`workbench.trading.run_lock`):
this module only reads and writes the rows, each write conditional on the lease's token where it must be.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from workbench.store.models_runs import RunState, RunStateRow
from workbench.store.repositories import Repository


class RunStateRepository(Repository):
    """The state row of each live or paper run (see `workbench.store.models_runs`)."""

    def get(self, run_id: int) -> RunStateRow | None:
        """The state of run ``run_id``, or None (no session has opened it)."""
        return self._session.get(RunStateRow, run_id)

    def lock(self, run_id: int) -> RunStateRow | None:
        """The state of run ``run_id``, locked until the unit of work ends (PostgreSQL's ``FOR UPDATE``; a SQLite
        write unit of work holds the database's write lock already), or None."""
        query = sa.select(RunStateRow).where(RunStateRow.run_id == run_id).with_for_update()
        return self._session.scalars(query).one_or_none()

    def take(self, run_id: int, *, host: str, pid: int, token: str, now: datetime, expires_at: datetime) -> RunStateRow:
        """Make run ``run_id`` ``running`` under the lease ``token`` of process ``pid`` on ``host`` from ``now``
        (a new row, or the existing one overwritten: call `lock` first and decide)."""
        values = {
            "state": RunState.RUNNING.value,
            "reason": None,
            "host": host,
            "pid": pid,
            "token": token,
            "since": now,
            "heartbeat_at": now,
            "expires_at": expires_at,
            "ended_at": None,
        }
        row = self.get(run_id)
        if row is None:
            row = RunStateRow(run_id=run_id, **values)
            self._add(row, f"state of run {run_id}")
            return row
        return self._update(row, values, f"state of run {run_id}")

    def beat(self, run_id: int, token: str, now: datetime, expires_at: datetime) -> bool:
        """The heartbeat of lease ``token``: True when written, False when the lease is no longer running under it
        (taken over by another session, or ended)."""
        query = (
            sa.update(RunStateRow)
            .where(
                RunStateRow.run_id == run_id,
                RunStateRow.token == token,
                RunStateRow.state == RunState.RUNNING.value,
            )
            .values(heartbeat_at=now, expires_at=expires_at)
        )
        return self._session.execute(query).rowcount == 1

    def end(self, run_id: int, token: str, state: RunState | str, reason: str | None, now: datetime) -> bool:
        """Say how the session of lease ``token`` ended (``stopped``, ``finished`` or ``halted`` with ``reason``);
        False, and nothing written, when the lease is no longer its own."""
        row = self.get(run_id)
        if row is None or row.token != token or row.state != RunState.RUNNING.value:
            return False
        self._update(row, {"state": str(state), "reason": reason, "ended_at": now}, f"state of run {run_id}")
        return True

    def of_runs(self, run_ids: Iterable[int]) -> dict[int, RunStateRow]:
        """The stored states of the runs ``run_ids`` that have one, by run id."""
        ids = list(run_ids)
        if not ids:
            return {}
        query = sa.select(RunStateRow).where(RunStateRow.run_id.in_(ids))
        return {row.run_id: row for row in self._session.scalars(query)}

    def running(self) -> list[RunStateRow]:
        """The states stored as ``running`` (a live lease, or one whose holder died: see ``expires_at``)."""
        query = sa.select(RunStateRow).where(RunStateRow.state == RunState.RUNNING.value)
        return list(self._session.scalars(query.order_by(RunStateRow.run_id)))
