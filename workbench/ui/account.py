"""The account the dashboard watches, summed over the live runs of a `Snapshot`: equity, cash, the day's P&L,
exposure and the running/halted state, and the combined equity path the charts and risk alerts use.

A live run trades one symbol, so at each mark its position is worth ``equity - cash``; the runs' marks are
carried forward onto one time axis and summed.

>>> from workbench.services.snapshot import Snapshot
>>> summary = account_summary(Snapshot(taken_at=datetime(2024, 7, 1, tzinfo=UTC)))
>>> summary.equity, summary.state
(0.0, 'idle: no session running')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from workbench.services.snapshot import Snapshot


@dataclass(frozen=True)
class AccountSummary:
    """Totals of the watched live runs as of their last marks; exposures are position values over equity."""

    equity: float
    cash: float
    day_pnl: float
    gross_exposure: float
    net_exposure: float
    as_of: datetime | None
    running: tuple[str, ...]
    halted: tuple[str, ...]

    @property
    def state(self) -> str:
        """``HALTED: ...`` when any strategy is halted, else ``running: ...`` (strategies a session trades now), else
        idle."""
        if self.halted:
            return f"HALTED: {', '.join(self.halted)}"
        if self.running:
            return f"running: {', '.join(self.running)}"
        return "idle: no session running"


def account_summary(snapshot: Snapshot) -> AccountSummary:
    """The account totals of ``snapshot`` (see `AccountSummary`)."""
    runs, positions, strategies = snapshot.runs, snapshot.positions, snapshot.strategies
    equity = float(runs["equity"].sum()) if len(runs) else 0.0
    cash = float(runs["cash"].sum()) if len(runs) else 0.0
    day_open = sum(snapshot.day_open.get(int(r), e) for r, e in zip(runs["run_id"], runs["equity"], strict=True))
    values = positions["market_value"].astype(float) if len(positions) else pd.Series(dtype=float)
    marks = [t for t in runs["last_mark"] if t is not None and not pd.isna(t)]
    halted = strategies["halted"].astype(bool)
    running = strategies["enabled"].astype(bool) & ~halted & (strategies["sessions"].astype(int) > 0)
    return AccountSummary(
        equity=equity,
        cash=cash,
        day_pnl=equity - float(day_open),
        gross_exposure=float(values.abs().sum()) / equity if equity > 0 else 0.0,
        net_exposure=float(values.sum()) / equity if equity > 0 else 0.0,
        as_of=max(marks) if marks else None,
        running=tuple(strategies.loc[running, "name"]),
        halted=tuple(strategies.loc[halted, "name"]),
    )


def equity_path(snapshot: Snapshot) -> pd.DataFrame:
    """The watched runs' marks on one time axis (each run carried forward from its first mark), summed: columns
    ``equity``, ``cash``, ``gross_value`` and ``net_value`` (position values, absolute and signed), indexed by
    time (UTC)."""
    marks = snapshot.marks
    columns = ["equity", "cash", "gross_value", "net_value"]
    if not len(marks):
        return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], tz=UTC, name="timestamp"), dtype=float)
    frame = marks.assign(value=marks["equity"] - marks["cash"], timestamp=pd.to_datetime(marks["timestamp"], utc=True))
    wide = frame.pivot_table(index="timestamp", columns="run_id", values=["equity", "cash", "value"], aggfunc="last")
    wide = wide.sort_index().ffill()
    out = pd.DataFrame(
        {
            "equity": wide["equity"].sum(axis=1, min_count=1),
            "cash": wide["cash"].sum(axis=1, min_count=1),
            "gross_value": wide["value"].abs().sum(axis=1, min_count=1),
            "net_value": wide["value"].sum(axis=1, min_count=1),
        }
    )
    out.index.name = "timestamp"
    return out
