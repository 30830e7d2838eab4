"""`workbench monitor serve / health`: ``/metrics`` and ``/health`` without the API, or the health report once."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli.options import settings as _settings
from workbench.cli.options import table

# prometheus-client, the store and the cache load inside the commands, so `workbench` starts fast.

monitor_app = typer.Typer(help="Serve Prometheus metrics and health checks; print the health report.")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@monitor_app.command("serve")
def monitor_serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; the routes take no credentials.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 9108,
) -> None:
    """Serve /metrics (cache counters, process) and /health (database, cache) until Ctrl-C."""
    from workbench.cache.factory import cache_from_settings
    from workbench.logs import get_logger
    from workbench.monitor.health import standard_checks
    from workbench.monitor.metrics import Metrics
    from workbench.monitor.server import MonitorServer
    from workbench.store import Store

    settings = _settings(ctx)
    if host not in _LOOPBACK:
        get_logger(__name__).warning("serving metrics and health beyond loopback, without credentials", host=host)
    with Store.open(settings, upgrade=False) as store, cache_from_settings(settings) as cache:
        metrics = Metrics()
        metrics.watch_cache(cache)
        server = MonitorServer(metrics, standard_checks(store=store, cache=cache), host=host, port=port)
        typer.echo(f"serving {server.url}/metrics and {server.url}/health (Ctrl-C to stop)")
        server.serve_forever()


@monitor_app.command("health")
def monitor_health(ctx: typer.Context) -> None:
    """Check the database and the cache once; print each check; exit 1 if anything is down."""
    from workbench.cache.factory import cache_from_settings
    from workbench.monitor.health import health_report, standard_checks
    from workbench.store import Store

    settings = _settings(ctx)
    with Store.open(settings, upgrade=False) as store, cache_from_settings(settings) as cache:
        report = health_report(standard_checks(store=store, cache=cache))
    rows = [[c.name, c.status, c.detail] for c in report.checks]
    typer.echo(table(["check", "status", "detail"], rows))
    typer.echo(f"health: {report.status}")
    if report.status == "down":
        raise typer.Exit(1)
