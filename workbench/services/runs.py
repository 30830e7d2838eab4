"""Saved runs as the front ends list, show and rerun them: the CLI's ``workbench runs``, the API's ``/runs``, the
dashboard's runs tab (`workbench.provenance.saved` keeps them, `workbench.ops.rerun` runs them again); and the state
of live and paper runs (`states`, `live_runs`), the one answer to "what is trading now" of every face.

A live or paper run's status is its session's state (`workbench.store.models_runs`): ``running`` while a session
holds it and beats its heartbeat, ``crashed`` once the heartbeat stopped without an end, else how its last session
ended (``stopped``, ``finished``, ``halted`` with the reason). A backtest's or sweep's is as saved.

>>> from workbench.store import Store
>>> store = Store.open("sqlite://")
>>> with store.unit_of_work() as uow:
...     run_id = uow.runs.start("live", "sma_cross", config={"symbol": "SPY"}).id
>>> states(store, [run_id])[run_id].state, live_runs(store)
('stopped', [])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from workbench.ops.rerun import rerun_run
from workbench.provenance.saved import runs, show_run
from workbench.store.database import Store
from workbench.store.models_runs import RunState, RunStateRow, state_of
from workbench.store.models_trading import RunKind


@dataclass(frozen=True)
class LiveState:
    """The state of one live or paper run at ``as_of``: ``state`` (running, stopped, finished, halted, crashed) with
    its ``reason`` (why it halted or did not start), and the session that holds or last held it (host, pid, since
    when, its last heartbeat); None where no session of this version has opened the run."""

    run_id: int
    state: str
    reason: str | None
    host: str | None
    pid: int | None
    since: datetime | None
    heartbeat_at: datetime | None
    as_of: datetime

    @classmethod
    def of(cls, run_id: int, row: RunStateRow | None, now: datetime) -> LiveState:
        state = state_of(row, now)
        if row is None:
            return cls(run_id, state.value, None, None, None, None, None, now)
        reason = row.reason
        if state is RunState.CRASHED:
            reason = f"no heartbeat since {row.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (pid {row.pid} on {row.host})"
        return cls(run_id, state.value, reason, row.host, row.pid, row.since, row.heartbeat_at, now)

    @property
    def running(self) -> bool:
        return self.state == RunState.RUNNING.value


def states(store: Store, run_ids: list[int], *, now: datetime | None = None) -> dict[int, LiveState]:
    """The state of each run of ``run_ids`` at ``now`` (the wall clock by default), by run id."""
    now = now or datetime.now(UTC)
    with store.unit_of_work(readonly=True) as uow:
        rows = uow.run_states.of_runs(run_ids)
    return {run_id: LiveState.of(run_id, rows.get(run_id), now) for run_id in run_ids}


def live_runs(store: Store, *, now: datetime | None = None) -> list[int]:
    """The runs a session trades now (``running``: its lease held and its heartbeat fresh), by run id."""
    now = now or datetime.now(UTC)
    with store.unit_of_work(readonly=True) as uow:
        rows = uow.run_states.running()
    return [row.run_id for row in rows if state_of(row, now) is RunState.RUNNING]


def saved(
    store: Store, *, kind: str | None = None, strategy: str | None = None, limit: int | None = 50
) -> pd.DataFrame:
    """The saved runs, newest first, indexed by run id (`workbench.provenance.saved.runs`); a live or paper run's
    ``status`` is its state (see the module docstring) with its ``reason``, and its ``symbols`` are the ones it
    trades."""
    frame = runs(store, kind=kind, strategy=strategy, limit=limit)
    frame["reason"] = None
    live = [int(i) for i in frame.index[frame["kind"] == RunKind.LIVE.value]]
    if not live:
        return frame
    found = states(store, live)
    with store.unit_of_work(readonly=True) as uow:
        configs = {i: (uow.runs.get(i).config or {}) for i in live}
    for run_id in live:
        frame.at[run_id, "status"] = found[run_id].state
        frame.at[run_id, "reason"] = found[run_id].reason
        frame.at[run_id, "symbols"] = _symbols(configs[run_id])
    return frame


def show(store: Store, run_id: int) -> dict[str, Any]:
    """Everything saved of run ``run_id`` (`workbench.provenance.saved.show_run`); ``StoreError`` when unknown. A
    live or paper run's ``status`` is its state, with its ``reason``."""
    shown = show_run(run_id, store)
    shown["reason"] = None
    if shown["kind"] == RunKind.LIVE.value:
        state = states(store, [run_id])[run_id]
        shown["status"], shown["reason"] = state.state, state.reason
    return shown


def rerun(store: Store, run_id: int, *, check_code: bool = True) -> tuple[Any, list[str]]:
    """Run saved run ``run_id`` again: the fresh result and the numbers that came out different
    (`workbench.ops.rerun.rerun_run`)."""
    return rerun_run(run_id, store, check_code=check_code)


def _symbols(config: dict[str, Any]) -> list[str] | None:
    """The symbols a live run's configuration names (``symbols``, else ``symbol``: ``"SPY"`` or ``"SPY,QQQ"``)."""
    if config.get("symbols"):
        return list(config["symbols"])
    return [s for s in str(config.get("symbol") or "").split(",") if s] or None
