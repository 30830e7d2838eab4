"""``/api/v1/positions``, ``/account``, ``/risk``: the trading account and its risk state; the kill switch."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from workbench.api.deps import State, Trader, TradingDesk, require, stamp
from workbench.api.errors import ERROR_RESPONSES
from workbench.api.schemas import AccountOut, HaltIn, HaltOut, PositionOut, RiskEventOut, RiskOut, plain
from workbench.auth.principal import Scope
from workbench.services import switches as controls

router = APIRouter(prefix="/api/v1", tags=["account"], responses=ERROR_RESPONSES)


@router.get("/positions", dependencies=[Depends(require(Scope.READ))])
def positions(trading: TradingDesk) -> list[PositionOut]:
    """Open positions at average cost, priced at the account's last mark or its last fill after it."""
    return [PositionOut.of(row) for row in trading.positions()]


@router.get("/account", dependencies=[Depends(require(Scope.READ))])
def account(trading: TradingDesk) -> AccountOut:
    """Cash and equity."""
    now = trading.account()
    return AccountOut(cash=now.cash, equity=now.equity)


@router.get("/risk", dependencies=[Depends(require(Scope.READ))])
def risk(trading: TradingDesk) -> RiskOut:
    """The risk rules in force, whether trading is halted, and the latest risk decisions."""
    status = trading.risk()
    return RiskOut(
        rules=plain(status.rules),
        halted=status.halted,
        halt_reason=status.halt_reason,
        events=[RiskEventOut.of(event) for event in status.events],
    )


@router.post("/risk/halt")
def halt(
    body: HaltIn,
    request: Request,
    who: Trader,
    state: State,
) -> HaltOut:
    """The kill switch: the trading account refuses new orders, and every enabled strategy is halted in the
    store (so a restarted session does not trade either), until resumed."""
    with state.store.unit_of_work() as uow:
        halted = controls.halt(uow, body.reason, who.username, **stamp(state, request, who))
    reason = controls.halted_reason(controls.check_reason(body.reason), who.username)
    if state.desk is not None:
        state.desk.halt(reason)
    return HaltOut(halted=True, reason=reason, strategies=halted)


@router.post("/risk/resume")
def resume(
    request: Request,
    who: Trader,
    state: State,
) -> HaltOut:
    """Lift the kill switch: the account accepts orders again and every halted strategy is resumed (a person's
    decision, so one halted by its drawdown rule too)."""
    with state.store.unit_of_work() as uow:
        resumed = controls.resume(uow, who.username, **stamp(state, request, who))
    if state.desk is not None:
        state.desk.resume()
    return HaltOut(halted=False, reason=None, strategies=resumed)
