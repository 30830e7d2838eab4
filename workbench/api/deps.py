"""Dependencies of the routes: the app's state, the caller (API key or bearer token), scope checks, rate limits.

Every route but ``/health`` and the login/refresh pair needs a credential: an ``X-API-Key`` header, or an
``Authorization: Bearer`` header carrying an access token (or an API key, for tools that only speak bearer, such as
a Prometheus scraper). Each request counts against the caller's address first, then against its credential.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from workbench.api.config import ApiConfig
from workbench.api.errors import ApiError
from workbench.api.limits import RateLimiter
from workbench.auth.audit import audit
from workbench.auth.errors import PermissionDenied
from workbench.auth.principal import Principal, Scope
from workbench.auth.service import AuthService
from workbench.clock import Clock
from workbench.monitor.health import Check
from workbench.monitor.metrics import Metrics
from workbench.services.desk import Desk
from workbench.store.database import Store

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (`workbench keys create`).")
_bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login, or an API key.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass
class AppState:
    """What the routes share: the store, authentication, rate limits, limits config, the trading desk (None when
    no account is attached), the clock, the metrics ``/metrics`` serves and the checks ``/health`` runs."""

    store: Store
    auth: AuthService
    limiter: RateLimiter
    config: ApiConfig
    desk: Desk | None
    clock: Clock
    metrics: Metrics
    checks: dict[str, Check]


def app_state(request: Request) -> AppState:
    """The `AppState` of the app serving ``request``."""
    return request.app.state.workbench


def client_ip(request: Request) -> str:
    """The caller's address (as the server sees it; behind a proxy, run uvicorn with its proxy-headers options)."""
    return request.client.host if request.client else "unknown"


State = Annotated[AppState, Depends(app_state)]


def limit_ip(request: Request, state: State) -> None:
    """Count the request against the caller's address (every route, before any credential is read)."""
    state.limiter.hit(state.config.per_ip, "ip", client_ip(request))


def limit_login(request: Request, state: State) -> None:
    """Count a login or refresh attempt against the caller's address."""
    state.limiter.hit(state.config.login, "login", client_ip(request))


def principal(
    request: Request,
    state: State,
    api_key: Annotated[str | None, Security(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    """The authenticated caller; 401 without a valid credential. Its requests then count against its own rate."""
    credential = api_key or (bearer.credentials if bearer else None)
    if not credential:
        raise ApiError(401, "credentials required: an X-API-Key header or a bearer token", headers=_CHALLENGE)
    who = state.auth.authenticate(credential, source=client_ip(request))
    state.limiter.hit(state.config.per_key, "key", who.key_prefix or f"user:{who.user_id}")
    return who


def require(scope: Scope) -> Callable[..., Principal]:
    """A dependency that lets through callers whose credential carries ``scope`` (403 otherwise).

    Examples
    --------
    >>> @router.post("/orders")  # doctest: +SKIP
    ... def submit(who: Annotated[Principal, Depends(require(Scope.TRADE))]): ...
    """

    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.allows(scope):
            raise PermissionDenied(f"{who.credential} of {who.username} ({who.role}) lacks scope {scope.value}")
        return who

    return check


def desk(state: State) -> Desk:
    """The trading desk; 503 when the server runs without a trading account."""
    if state.desk is None:
        raise ApiError(503, "no trading account is attached to this server (start it with --paper or a session)")
    return state.desk


#: Parameter types of the routes: the caller (any scope, or holding read / trade), and the trading desk.
Caller = Annotated[Principal, Depends(principal)]
Reader = Annotated[Principal, Depends(require(Scope.READ))]
Trader = Annotated[Principal, Depends(require(Scope.TRADE))]
TradingDesk = Annotated[Desk, Depends(desk)]


def stamp(state: AppState, request: Request, who: Principal) -> dict[str, Any]:
    """What every audit entry of a caller's action carries besides its details: when, with which credential, from
    where (the keywords of `workbench.auth.audit.audit` and of the `workbench.services.switches` switches)."""
    return {"now": state.clock.now(), "credential": who.credential, "source": client_ip(request)}


def record(state: AppState, request: Request, who: Principal, action: str, target: str, **details: object) -> None:
    """Write an action a caller took to the audit log (who, with which credential, from where)."""
    with state.store.unit_of_work() as uow:
        audit(uow, who.username, action, target, **stamp(state, request, who), **details)
