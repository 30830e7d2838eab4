"""``workbench data list / show / validate``: the bars of the configured data source, and checking files of bars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.options import day, table
from workbench.errors import WorkbenchError

data_app = typer.Typer(help="List, show and validate bar data.", no_args_is_help=True)


@data_app.command("list")
def data_list(ctx: typer.Context) -> None:
    """List the symbols of the configured data source with their date range and row count."""
    from workbench.data.load import load

    settings = ctx.obj
    symbols = _source_symbols(settings)
    rows = []
    for symbol in symbols:
        frame = load(symbol, source=settings.data_source, path=settings.data_path)
        rows.append([symbol, day(frame.index[0]), day(frame.index[-1]), str(len(frame))])
    typer.echo(table(["symbol", "first", "last", "rows"], rows))


@data_app.command("show")
def data_show(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="Symbol to show, e.g. SPY.")],
    start: Annotated[str | None, typer.Option(help="First date (inclusive), e.g. 2020-01-01.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (inclusive).")] = None,
    rows: Annotated[int, typer.Option(min=1, help="Rows to print at each end.")] = 5,
) -> None:
    """Print the first and last bars of SYMBOL and a one-line summary."""
    import pandas as pd

    from workbench.data.load import load

    settings = ctx.obj
    frame = load(symbol, start=start, end=end, source=settings.data_source, path=settings.data_path)
    typer.echo(
        f"{symbol.upper()}: {len(frame)} bars, {day(frame.index[0])} .. {day(frame.index[-1])}, "
        f"last close {frame['close'].iloc[-1]:.4f}"
    )
    shown = frame if len(frame) <= 2 * rows else pd.concat([frame.head(rows), frame.tail(rows)])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        typer.echo(shown.to_string())


@data_app.command("validate")
def data_validate(
    path: Annotated[Path, typer.Argument(help="A bar file (CSV/Parquet) or a folder with one file per symbol.")],
    nan_policy: Annotated[str, typer.Option(help="raise, drop or ffill.")] = "raise",
) -> None:
    """Check bar files against the canonical schema; exit 1 if any file fails."""
    from workbench.data.sources import FolderSource, read_bar_file
    from workbench.data.validate import validate_bars
    from workbench.errors import DataNotFoundError

    if not path.exists():
        raise DataNotFoundError(f"path {path} does not exist")
    if path.is_dir():
        source = FolderSource(path)
        items = [(s, lambda s=s: source.read(s)) for s in source.symbols()]
    else:
        items = [(path.name.split(".")[0], lambda: read_bar_file(path))]
    failures = 0
    for symbol, read in items:
        try:
            frame = validate_bars(read(), symbol=symbol, nan_policy=nan_policy)
        except WorkbenchError as exc:
            failures += 1
            typer.echo(f"FAIL {exc}")
        else:
            typer.echo(f"ok   {symbol}: {len(frame)} bars, {day(frame.index[0])} .. {day(frame.index[-1])}")
    typer.echo(f"{len(items) - failures} passed, {failures} failed")
    if failures:
        raise typer.Exit(1)


def _source_symbols(settings) -> list[str]:
    from workbench.data.sources import FolderSource, SampleSource
    from workbench.errors import ConfigError

    if settings.data_source == "sample":
        return SampleSource().symbols()
    if settings.data_source == "csv":
        if settings.data_path is None:
            raise ConfigError("data_source 'csv' needs data_path (set WORKBENCH_DATA_PATH or --set data_path=DIR)")
        return FolderSource(settings.data_path).symbols()
    raise ConfigError(f"data_source {settings.data_source!r} cannot list symbols; use 'sample' or 'csv'")
