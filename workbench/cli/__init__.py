"""The ``workbench`` command: the root options (settings, logging), every command group registered, and ``main``.

Each command lives in the module of its group (``cli.research``, ``cli.trading``, ...) and shares its options,
parsing and table printing through ``cli.options``; trading runs are wired by the composition root
(``workbench.trading.build``) and shared queries and commands go through ``workbench.services``.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.cli import notebooks, research, trading
from workbench.cli.api import api_app
from workbench.cli.cache import cache_app
from workbench.cli.compiling import warmup_cmd
from workbench.cli.config import config_app
from workbench.cli.dashboard import dashboard_cmd
from workbench.cli.data import data_app
from workbench.cli.db import db_app
from workbench.cli.drift import drift_cmd
from workbench.cli.monitor import monitor_app
from workbench.cli.notify import notify_app
from workbench.cli.options import parse_sets
from workbench.cli.promotion import promote_cmd, promotions_cmd
from workbench.cli.runs import runs_app
from workbench.cli.strategies import strategies_app
from workbench.cli.users import keys_app, users_app
from workbench.errors import WorkbenchError

try:  # typer >= 0.26 vendors click; its exceptions are not the `click` package's
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on the real click
    from click.exceptions import ClickException

app = typer.Typer(
    name="workbench",
    help="Quant Workbench: research sweeps, backtests and paper/live trading from one set of objects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for group, name in (
    (config_app, "config"),
    (data_app, "data"),
    (strategies_app, "strategies"),
    (db_app, "db"),
    (runs_app, "runs"),
    (cache_app, "cache"),
    (users_app, "users"),
    (keys_app, "keys"),
    (api_app, "api"),
    (notify_app, "notify"),
    (monitor_app, "monitor"),
):
    app.add_typer(group, name=name)
# `-p NAME VALUE` pairs (papermill's form) arrive as extra arguments: Typer options take one value each.
_PAIRS = {"allow_extra_args": True, "ignore_unknown_options": True}
for command, name, extra in (
    (research.sweep_cmd, "sweep", None),
    (research.backtest_cmd, "backtest", None),
    (research.report_cmd, "report", None),
    (trading.paper_cmd, "paper", None),
    (trading.live_cmd, "live", None),
    (trading.halt_cmd, "halt", None),
    (trading.resume_cmd, "resume", None),
    (notebooks.run_cmd, "run", _PAIRS),
    (notebooks.schedule_cmd, "schedule", _PAIRS),
    (promote_cmd, "promote", None),
    (promotions_cmd, "promotions", None),
    (drift_cmd, "drift", None),
    (dashboard_cmd, "dashboard", None),
    (warmup_cmd, "warmup", None),
):
    app.command(name, context_settings=extra)(command)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="workbench.toml to read (else $WORKBENCH_CONFIG, ./workbench.toml)."),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="research, paper or live.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Override any setting (repeatable)."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log debug messages and the third-party warnings hidden by default.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings and errors only.")] = False,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="Log JSON lines instead of console text.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    from workbench.config import load_settings
    from workbench.logs import configure_logging, secret_values

    overrides: dict[str, Any] = {"profile": profile, **parse_sets(set_ or [])}
    if verbose:
        overrides["log_level"] = "DEBUG"
    elif quiet:
        overrides["log_level"] = "WARNING"
    if json_logs:
        overrides["log_json"] = True
    settings = load_settings(config, overrides)
    configure_logging(
        settings.log_level, json=settings.log_json, file=settings.log_file, secrets=secret_values(settings)
    )
    ctx.obj = settings


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: one clear line on a known error, a traceback only with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=args, prog_name="workbench", standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except (WorkbenchError, ValueError, NotImplementedError) as exc:
        if "--debug" in args:
            raise
        typer.echo(f"error: {exc}", err=True)
        return 1
    return code if isinstance(code, int) else 0


def run() -> None:
    """The console script: `main`, then an exit that skips the interpreter's last garbage collections.

    They would walk every object numba and pandas made (0.3-1 s after a sweep on two cores) to free memory that
    the exit frees anyway; ``gc.freeze`` leaves them out. ``atexit`` handlers still run.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
