"""``workbench config show``: every setting, where its value came from."""

from __future__ import annotations

import typer

from workbench.cli.options import table

config_app = typer.Typer(help="Inspect the merged configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print every setting, its value (secrets masked) and where the value came from."""
    from workbench.config import describe_settings

    rows = [list(r) for r in describe_settings(ctx.obj)]
    typer.echo(table(["key", "value", "source"], rows))
