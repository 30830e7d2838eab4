"""``/api/v1/runs``: saved backtests, sweeps and sessions (``workbench.services.runs``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from workbench.api.deps import State, require
from workbench.api.errors import ERROR_RESPONSES, ApiError, documented
from workbench.api.schemas import NAME, EquityOut, OrderOut, RiskEventOut, RunDetailOut, RunOut, plain
from workbench.auth.principal import Scope
from workbench.services import runs
from workbench.store.errors import StoreError

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], responses=ERROR_RESPONSES)
RunKind = Literal["backtest", "sweep", "walk_forward", "live", "notebook"]


@router.get("", dependencies=[Depends(require(Scope.READ))])
def list_runs(
    state: State,
    kind: RunKind | None = None,
    strategy: Annotated[str | None, Query(pattern=NAME)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RunOut]:
    """Saved runs, newest first, with their headline metrics (backtests) or best value (sweeps)."""
    table = runs.saved(state.store, kind=kind, strategy=strategy, limit=limit)
    return [RunOut(id=int(run_id), **plain(row.to_dict())) for run_id, row in table.iterrows()]


@router.get("/{run_id}", responses=documented(404), dependencies=[Depends(require(Scope.READ))])
def get_run(run_id: Annotated[int, Path(ge=1, le=2**31 - 1)], state: State) -> RunDetailOut:
    """Everything saved of one run: spec, metrics, orders, fills, risk events and daily equity."""
    try:
        run = runs.show(state.store, run_id)
    except StoreError:
        raise ApiError(404, f"run {run_id} is not stored") from None
    equity = run["equity"]
    return RunDetailOut(
        id=run["id"],
        kind=run["kind"],
        strategy=run["strategy"],
        name=run["name"],
        params=plain(run["params"]),
        symbols=run["spec"].get("symbols"),
        status=run["status"],
        reason=run["reason"],
        started_at=run["started_at"],
        spec=plain(run["spec"]),
        metrics=plain(run["metrics"]),
        error=run["error"],
        orders=[OrderOut.of(order) for order in run["orders"]],
        fills=[plain(fill.to_dict()) for fill in run["fills"]],
        risk_events=[RiskEventOut.of(event) for event in run["risk_events"]],
        equity=[
            EquityOut(timestamp=when.to_pydatetime(), cash=plain(cash), equity=plain(value))
            for when, cash, value in zip(equity.index, equity["cash"], equity["equity"], strict=True)
        ],
    )
