"""`workbench api serve`: run the REST API with uvicorn (127.0.0.1 by default; see `check_bind`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli.options import settings as _settings

if TYPE_CHECKING:
    from workbench.config import Settings
    from workbench.store import Store
    from workbench.trading.account import PaperAccount

# FastAPI, uvicorn and the trading core load inside the command, so `workbench` starts fast without the extra.

api_app = typer.Typer(help="Serve the REST API (needs the `api` extra: pip install 'workbench[api]').")


@api_app.command("serve")
def api_serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on; beyond loopback only with users set up.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    paper: Annotated[
        bool, typer.Option("--paper", help="Attach a local paper account (simulated broker, setting initial_cash).")
    ] = False,
    symbols: Annotated[
        str, typer.Option(help="With --paper: comma-separated symbols quoted at their last close.")
    ] = "SPY",
    risk: Annotated[Path | None, typer.Option(help="With --paper: TOML file of risk rules.")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (serve HTTPS).")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (serve HTTPS).")] = None,
) -> None:
    """Serve the API: health, metrics, strategies, runs, orders, positions, account, risk, halt/resume.

    Refuses a non-loopback --host until a user exists (`workbench users add`). Docs at /docs."""
    try:
        import uvicorn

        from workbench.api.app import create_app
    except ImportError as exc:
        raise typer.BadParameter(f"the API needs its extra: pip install 'workbench[api]' ({exc})") from None
    from workbench.auth.listen import check_bind, is_loopback
    from workbench.cache.factory import cache_from_settings
    from workbench.logs import get_logger
    from workbench.monitor.health import cache_check
    from workbench.monitor.metrics import Metrics
    from workbench.store import Store

    settings = _settings(ctx)
    store = Store.open(settings)
    cache = cache_from_settings(settings)
    trading = None
    try:
        check_bind(host, store)
        trading = _paper_account(settings, store, symbols, risk) if paper else None
        metrics = Metrics()
        metrics.watch_cache(cache)
        if trading is not None:
            metrics.attach_account(trading)
        if not is_loopback(host) and ssl_certfile is None:
            get_logger("workbench.api").warning("serving beyond loopback without TLS: keys travel in clear", host=host)
        uvicorn.run(
            create_app(store, trading, settings, metrics=metrics, checks={"cache": cache_check(cache)}),
            host=host,
            port=port,
            log_config=None,  # uvicorn's lines go through the workbench's logging setup
            ssl_keyfile=None if ssl_keyfile is None else str(ssl_keyfile),
            ssl_certfile=None if ssl_certfile is None else str(ssl_certfile),
        )
    finally:
        if trading is not None:
            trading.close()
        cache.close()
        store.close()


def _paper_account(settings: Settings, store: Store, symbols: str, risk: Path | None) -> PaperAccount:
    """A recorded local paper account holding ``initial_cash``, each symbol quoted at the last close of the data
    source (wired by the composition root)."""
    from workbench.data.load import load
    from workbench.risk.manager import RiskRules
    from workbench.trading.build import api_account

    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    rules = RiskRules.from_toml(risk) if risk is not None else None
    account = api_account(store, cash=settings.initial_cash, rules=rules, fees=settings.fees, symbols=names)
    for symbol in names:
        bars = load(symbol, source=settings.data_source, path=settings.data_path)
        account.quote(symbol, float(bars["close"].iloc[-1]))
    return account
