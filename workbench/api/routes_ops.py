"""Operations: ``/health`` (no credentials), ``/metrics`` (Prometheus text) and ``/api/v1/audit`` (admins)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from workbench.api.deps import State, require
from workbench.api.errors import ERROR_RESPONSES, ApiError
from workbench.api.schemas import AuditOut, HealthOut
from workbench.auth.principal import Scope

router = APIRouter(tags=["operations"])


@router.get("/health", responses={503: {"model": HealthOut, "description": "the database is unreachable"}})
def health(state: State) -> HealthOut:
    """Liveness and readiness: 200 when the database answers, 503 when it does not. Needs no credentials and
    says nothing secret."""
    try:
        with state.store.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError:
        database = "unreachable"
    out = HealthOut(
        status="ok" if database == "ok" else "degraded",
        database=database,
        trading="attached" if state.desk is not None else "none",
    )
    if database != "ok":
        return JSONResponse(out.model_dump(), status_code=503)
    return out


@router.get(
    "/metrics",
    dependencies=[Depends(require(Scope.READ))],
    responses={**ERROR_RESPONSES, 200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    response_class=Response,
)
def metrics() -> Response:
    """The process's Prometheus metrics (prometheus-client's default registry), for a scraper holding a read key
    (``Authorization: Bearer <key>``)."""
    try:
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
    except ImportError:
        raise ApiError(503, "metrics need prometheus-client: pip install prometheus-client") from None
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/api/v1/audit",
    dependencies=[Depends(require(Scope.ADMIN))],
    responses=ERROR_RESPONSES,
    tags=["audit"],
)
def audit_log(
    state: State,
    actor: Annotated[str | None, Query(pattern=r"^[^\x00-\x1f\x7f]{1,64}$")] = None,
    action: Annotated[str | None, Query(pattern=r"^[a-z_.]{1,64}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """The audit log, newest first: logins, refreshes, refused credentials, orders, switches, halts."""
    with state.store.unit_of_work(readonly=True) as uow:
        rows = uow.audit.find(actor=actor, action=action, limit=limit)
        return [AuditOut.model_validate(row, from_attributes=True) for row in rows]
