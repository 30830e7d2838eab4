"""``create_app``: the FastAPI application of the workbench, built around a store and (optionally) a trading
account.

Routes: ``/health``, ``/metrics``, ``/api/v1/auth/*``, ``/api/v1/strategies``, ``/api/v1/runs``,
``/api/v1/orders``, ``/api/v1/positions``, ``/api/v1/account``, ``/api/v1/risk``, ``/api/v1/audit``; the OpenAPI
document at ``/openapi.json``, browsable at ``/docs``.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Depends, FastAPI

from workbench.api import routes_account, routes_auth, routes_ops, routes_orders, routes_runs, routes_strategies
from workbench.api.config import ApiConfig
from workbench.api.deps import AppState, limit_ip
from workbench.api.errors import install_error_handlers
from workbench.api.limits import BodySizeLimit, RateLimiter
from workbench.auth.service import AuthService
from workbench.auth.vault import Vault
from workbench.clock import Clock, SystemClock
from workbench.config import Settings
from workbench.monitor.health import Check, broker_check, standard_checks
from workbench.monitor.metrics import Metrics
from workbench.services.desk import Desk
from workbench.store.database import Store
from workbench.trading.account import TradingContext

DESCRIPTION = """The Quant Workbench's REST API.

Authenticate with an API key (`X-API-Key: wbk_...`, made by `workbench keys create`) or a bearer token from
`POST /api/v1/auth/login`. Viewers may read; traders may also trade (orders, strategy switches, halt); admins may
also read the audit log. Every error answers `{"error": {"status", "code", "message", ...}}`.
"""


def create_app(
    store: Store,
    trading: TradingContext | Desk | None = None,
    settings: Settings | None = None,
    *,
    config: ApiConfig | None = None,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    checks: Mapping[str, Check] | None = None,
) -> FastAPI:
    """The API over ``store``, trading through ``trading`` (a recorded session, the `PaperAccount` of
    `trading.build.api_account`, or a `Desk` sharing a session loop's lock; None: the trading routes answer 503).
    Positions and orders are read back from ``store``, where the account records them.

    ``/metrics`` serves ``metrics``: by default a `Metrics` of the app's own, attached to the trading account so
    the orders placed through the API count; pass the one a running session is measured by already
    (``LiveSession.metrics``) to serve that session's bars, P&L and exposure too. ``/health`` runs the ``database``
    check, the ``broker`` check of the trading account, and ``checks`` (e.g. ``cache``, ``feed``, ``scheduler`` from
    `standard_checks`).
    Rate-limit counters live in ``config.storage_url``, else ``settings.redis_url``, else in memory.

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> app = create_app(Store.open("sqlite://"))
    >>> health = TestClient(app).get("/health").json()
    >>> health["status"], health["checks"]["database"]["status"], health["trading"]
    ('ok', 'ok', 'none')
    >>> TestClient(app).get("/api/v1/orders").status_code
    401
    """
    config = config or ApiConfig()
    clock = clock or SystemClock()
    storage = config.storage_url or (settings.redis_url if settings is not None else None) or "memory://"
    app = FastAPI(
        title="Quant Workbench API",
        version="1",
        description=DESCRIPTION,
        dependencies=[Depends(limit_ip)],
    )
    app.add_middleware(BodySizeLimit, max_body=config.max_body)
    desk = trading if isinstance(trading, Desk) or trading is None else Desk(trading)
    if metrics is None:
        metrics = Metrics()
        if desk is not None:
            metrics.attach_account(desk.context)
    health = standard_checks(store=store)
    if desk is not None:
        health["broker"] = broker_check(desk.context.om.broker, lock=desk.lock)
    app.state.workbench = AppState(
        store=store,
        auth=AuthService(store, config.policy, clock, Vault(settings=settings)),
        limiter=RateLimiter(storage, namespace=config.namespace),
        config=config,
        desk=desk,
        clock=clock,
        metrics=metrics,
        checks={**health, **(checks or {})},
    )
    install_error_handlers(app)
    for module in (routes_ops, routes_auth, routes_strategies, routes_runs, routes_orders, routes_account):
        app.include_router(module.router)
    return app
