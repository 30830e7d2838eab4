"""``/api/v1/strategies``: the strategies the live side knows, switched on and off, halted and resumed."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from workbench.api.deps import AppState, State, Trader, record, require, stamp
from workbench.api.errors import ERROR_RESPONSES, ApiError, documented
from workbench.api.schemas import NAME, HaltIn, StrategyOut
from workbench.auth.principal import Principal, Scope
from workbench.services import switches as controls
from workbench.store.models_trading import StrategyRow
from workbench.store.unit_of_work import UnitOfWork

router = APIRouter(prefix="/api/v1/strategies", tags=["strategies"], responses=ERROR_RESPONSES)
StrategyName = Annotated[str, Path(pattern=NAME, description="The strategy's name, e.g. sma_cross.")]


def _out(row: StrategyRow) -> StrategyOut:
    return StrategyOut.model_validate(row, from_attributes=True)


def _row(uow: UnitOfWork, name: str) -> StrategyRow:
    row = uow.strategies.get(name)
    if row is None:
        raise ApiError(404, f"strategy {name!r} is not stored")
    return row


@router.get("", dependencies=[Depends(require(Scope.READ))])
def list_strategies(state: State) -> list[StrategyOut]:
    """Every strategy with its switches: enabled, mode, halted (and why)."""
    return [StrategyOut.model_validate(row, from_attributes=True) for row in controls.strategies(state.store)]


def _switch(
    state: AppState, request: Request, who: Principal, name: str, action: str, switch: Callable[..., object]
) -> StrategyOut:
    """Flip ``switch`` (a `workbench.services.switches` function, its strategy bound) of stored strategy ``name``:
    the change and its audit entry commit together. An unknown ``name`` is a 404, audited as a failed ``action`` (as the
    dashboard audits a refused change)."""
    try:
        with state.store.unit_of_work() as uow:
            row = _row(uow, name)
            switch(uow, actor=who.username, **stamp(state, request, who))
            return _out(row)
    except ApiError as exc:
        record(state, request, who, action, controls.target(name), outcome="failure", reason=str(exc))
        raise


@router.post("/{name}/enable", responses=documented(404))
def enable(
    name: StrategyName,
    request: Request,
    who: Trader,
    state: State,
) -> StrategyOut:
    """Switch a strategy on (it trades from its next bar, unless halted)."""
    return _switch(state, request, who, name, controls.ENABLE, partial(controls.set_enabled, name=name, enabled=True))


@router.post("/{name}/disable", responses=documented(404))
def disable(
    name: StrategyName,
    request: Request,
    who: Trader,
    state: State,
) -> StrategyOut:
    """Switch a strategy off."""
    switch = partial(controls.set_enabled, name=name, enabled=False)
    return _switch(state, request, who, name, controls.DISABLE, switch)


@router.post("/{name}/halt", responses=documented(404))
def halt(
    name: StrategyName,
    body: HaltIn,
    request: Request,
    who: Trader,
    state: State,
) -> StrategyOut:
    """Halt a strategy (its kill switch): it stays halted, across restarts, until resumed."""
    return _switch(state, request, who, name, controls.HALT, partial(controls.halt, reason=body.reason, strategy=name))


@router.post("/{name}/resume", responses=documented(404))
def resume(
    name: StrategyName,
    request: Request,
    who: Trader,
    state: State,
) -> StrategyOut:
    """Lift a strategy's halt."""
    return _switch(state, request, who, name, controls.RESUME, partial(controls.resume, strategy=name))
