"""Operations: ``/health`` (no credentials), ``/metrics`` (Prometheus text) and ``/api/v1/audit`` (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from workbench.api.deps import State, require
from workbench.api.errors import ERROR_RESPONSES
from workbench.api.schemas import AuditOut, CheckOut, HealthOut
from workbench.auth.principal import Scope
from workbench.monitor.health import health_report
from workbench.monitor.metrics import CONTENT_TYPE_LATEST, metrics_text
from workbench.services import audit

router = APIRouter(tags=["operations"])


@router.get("/health", responses={503: {"model": HealthOut, "description": "a part the server needs is down"}})
def health(state: State) -> HealthOut:
    """Liveness and readiness: every health check of the server (the database; the broker of an attached account;
    the cache, the feed's freshness or the scheduler where the server was given them), each with its status and
    detail, and the aggregate: 200 when ``ok`` or ``degraded``, 503 when something needed is ``down``. Needs no
    credentials and says nothing secret."""
    report = health_report(state.checks)
    checks = {c.name: CheckOut(status=c.status, detail=c.detail, seconds=round(c.seconds, 4)) for c in report.checks}
    database = checks.get("database")
    out = HealthOut(
        status=report.status,
        timestamp=report.timestamp,
        checks=checks,
        database="ok" if database is not None and database.status == "ok" else "unreachable",
        trading="attached" if state.desk is not None else "none",
    )
    if report.http_status != 200:
        return JSONResponse(out.model_dump(mode="json"), status_code=report.http_status)
    return out


@router.get(
    "/metrics",
    dependencies=[Depends(require(Scope.READ))],
    responses={**ERROR_RESPONSES, 200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    response_class=Response,
)
def metrics(state: State) -> Response:
    """The server's Prometheus metrics (`workbench.monitor.metrics`): the orders, fills, rejections and risk
    decisions of the attached account (the API's own orders included), broker latency, and the process; for a
    scraper holding a read key (``Authorization: Bearer <key>``)."""
    return Response(metrics_text(state.metrics), media_type=CONTENT_TYPE_LATEST)


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
    found = audit.entries(state.store, actor=actor, action=action, limit=limit)
    return [AuditOut.model_validate(entry, from_attributes=True) for entry in found]
