"""``workbench strategies ...``: list and describe strategies, and switch stored ones on and off."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli.options import actor, open_store, table

strategies_app = typer.Typer(help="List and describe strategies.", no_args_is_help=True)


@strategies_app.command("list")
def strategies_list() -> None:
    """List the strategies found in ./strategies, the bundled folder and entry points."""
    from workbench.strategies.registry import available, strategy

    rows = []
    for name, origin in sorted(available().items()):
        cls = strategy(name)
        params = ", ".join(f"{p.name}={p.default!r}" for p in cls.params().values())
        rows.append([name, cls.__name__, params, origin])
    typer.echo(table(["name", "class", "parameters (defaults)", "source"], rows))


@strategies_app.command("show")
def strategies_show(name: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross.")]) -> None:
    """Describe a strategy: summary, parameters with ranges, constraints and default sweep grid."""
    from workbench.strategies.registry import strategy

    cls = strategy(name)
    typer.echo(cls.describe())
    for param, values in cls.sweep_ranges.items():
        typer.echo(f"  sweeps {param} over {values!r}")


@strategies_app.command("enable")
def strategies_enable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Strategy name.")]) -> None:
    """Switch a strategy on: its live sessions trade from their next bar (unless halted). The strategy must be
    stored (its first live session stores it, switched on); an unknown name is refused, not created."""
    _switch(ctx, name, enabled=True)


@strategies_app.command("disable")
def strategies_disable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Strategy name.")]) -> None:
    """Switch a strategy off: its live sessions place no new orders (positions are left as they are)."""
    _switch(ctx, name, enabled=False)


@strategies_app.command("switches")
def strategies_status(ctx: typer.Context) -> None:
    """List the strategies the live side knows, with their switches: enabled, mode, halted (and why)."""
    from workbench.services.switches import strategies

    rows = [
        [s.name, "yes" if s.enabled else "no", s.mode, f"HALTED: {s.halted_reason}" if s.halted else "-"]
        for s in strategies(open_store(ctx))
    ]
    typer.echo(table(["name", "enabled", "mode", "halted"], rows))


def _switch(ctx: typer.Context, name: str, *, enabled: bool) -> None:
    """Switch stored strategy ``name`` on or off (a name no session has stored is refused, not created)."""
    from workbench.services import switches

    with open_store(ctx).unit_of_work() as uow:
        switches.set_enabled(uow, name, enabled, actor())
    typer.echo(f"{name}: {'enabled' if enabled else 'disabled'}")
