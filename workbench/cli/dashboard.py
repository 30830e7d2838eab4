"""`workbench dashboard`: serve the Panel dashboard of the configured database, behind the workbench's login.

Panel, Bokeh and the store load inside the command, so `workbench` starts fast for every other command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.options import settings as _settings


def dashboard_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on; beyond loopback only once a user exists.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free one).")] = 5006,
    poll: Annotated[
        float, typer.Option(min=0.1, max=60.0, help="Seconds between reads of the store (and tab refreshes).")
    ] = 1.0,
    risk: Annotated[
        Path | None, typer.Option(help="TOML file of the risk rules the sessions trade with (limits vs use).")
    ] = None,
    reports: Annotated[Path, typer.Option(help="Folder of HTML reports to list and serve at /reports.")] = Path(
        "reports"
    ),
    max_bar_age: Annotated[
        float, typer.Option(min=0.1, help="Minutes without a new mark before the feed counts as stale.")
    ] = 5.0,
    session_hours: Annotated[float, typer.Option(min=0.1, max=168.0, help="How long a login lasts.")] = 8.0,
    origin: Annotated[
        list[str] | None, typer.Option(help="Another host:port the page is opened at (a proxy, a name); repeatable.")
    ] = None,
) -> None:
    """Serve the dashboard: overview, positions, orders and fills, strategy switches, risk and the kill switch,
    runs and reports, research. Users log in with their workbench password (`workbench users add`); viewers
    look, traders act, and every action is audited. Ctrl-C stops it."""
    from datetime import timedelta

    from workbench.auth.vault import Vault
    from workbench.cache.factory import cache_from_settings
    from workbench.risk.manager import RiskRules
    from workbench.store import Store
    from workbench.ui.server import serve

    settings = _settings(ctx)
    rules = RiskRules.from_toml(risk) if risk is not None else None
    secret = settings.api_secret.get_secret_value() if settings.api_secret is not None else None
    with Store.open(settings) as store, cache_from_settings(settings) as cache:
        serve(
            store,
            host=host,
            port=port,
            rules=rules,
            reports_dir=reports,
            period=poll,
            cache=cache,
            max_bar_age=timedelta(minutes=max_bar_age),
            cookie_secret=secret,
            session=timedelta(hours=session_hours),
            origins=origin,
            vault=Vault(settings=settings),
            ready=lambda url: typer.echo(f"dashboard at {url} (Ctrl-C to stop)"),
        )
