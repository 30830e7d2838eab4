"""`workbench cache stats / clear`: look into and empty the configured cache (a thin layer over it)."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli.options import settings as _settings

# The cache (pandas, pyarrow, diskcache) loads inside the commands, so `workbench` starts fast.

cache_app = typer.Typer(help="Inspect and clear the bar cache (memory, Redis, disk).", no_args_is_help=True)


@cache_app.command("stats")
def cache_stats(ctx: typer.Context) -> None:
    """Print each level's location, size and counters.

    In a new process the hit/miss counters of memory and Redis start at 0; the disk level's lifetime_* counters
    sum every process that used the cache folder.
    """
    from workbench.cache.factory import cache_from_settings

    with cache_from_settings(_settings(ctx)) as cache:
        for level in cache.levels:
            typer.echo(f"{level.name}: {level.location}")
            for counter, value in level.stats().items():
                typer.echo(f"  {counter}: {'n/a' if value is None else f'{value:,}'}")


@cache_app.command("clear")
def cache_clear(
    ctx: typer.Context,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Only entries with this tag, e.g. symbol:SPY or source:sample.")
    ] = None,
) -> None:
    """Remove every cached entry, or only those tagged TAG, from every level; print how many per level."""
    from workbench.cache.factory import cache_from_settings

    with cache_from_settings(_settings(ctx)) as cache:
        for level in cache.levels:
            removed = level.clear() if tag is None else level.invalidate_tag(tag)
            typer.echo(f"{level.name}: removed {removed:,} entries" + ("" if tag is None else f" tagged {tag}"))
