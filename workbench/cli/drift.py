"""``workbench drift SESSION``: a live or paper run against the backtest of its bars, as a table and an HTML report
(a thin layer over `workbench.ops.drift`; the reference bars of each of the run's symbols come from the
configured data source)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas as pd


def drift_cmd(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Run id of a live or paper session, or latest.")] = "latest",
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML report to write (default: reports/drift_run<ID>_<time>.html).")
    ] = None,
    reference: Annotated[
        bool,
        typer.Option("--reference/--no-reference", help="Compare the bars received with the data source's bars."),
    ] = True,
) -> None:
    """Re-simulate a paper or live run with the backtest on the bars it actually received, and attribute the P&L
    difference to slippage, latency, missed, partial and re-sized fills, fees and data differences. A run of
    several symbols is re-simulated as one account; the table printed is the account's."""
    from workbench.ops.drift import drift, run_symbols, session_run
    from workbench.store import Store

    settings = ctx.obj
    store = Store.open(settings)
    run = session_run(store, session)
    bars = _reference(settings, run_symbols(run)) if reference else None
    report = drift(run.id, store, reference=bars)
    index = report.bars.index
    params = " ".join(f"{k}={v}" for k, v in report.params.items()) or "defaults"
    typer.echo(
        f"run {report.run_id}: {report.strategy} {params} on {report.symbol} via {report.broker}, "
        f"{len(index)} bars {index[0]:%Y-%m-%d %H:%M}..{index[-1]:%Y-%m-%d %H:%M}"
    )
    on_reference = "n/a" if report.reference_pnl is None else f"{report.reference_pnl:,.2f}"
    typer.echo(
        f"P&L recorded {report.session_pnl:,.2f}, model on the bars received {report.model_pnl:,.2f}, "
        f"model on the reference {on_reference}"
    )
    width = max(len(name) for name in report.table.index)
    for name, row in report.table.iterrows():
        typer.echo(f"  {name.ljust(width)}  {row['pnl']:>14,.2f}  {row['explanation']}")
    for note in report.notes:
        typer.echo(f"note: {note}")
    target = out or Path("reports") / f"drift_run{report.run_id}_{datetime.now(UTC):%Y%m%d-%H%M%S}.html"
    typer.echo(f"report: {report.write(target)}")


def _reference(settings: Any, symbols: tuple[str, ...]) -> dict[str, pd.DataFrame] | None:
    """The data source's bars of every symbol of the run; None (and why, printed) when one of them cannot be
    loaded: the data component is then not measured, rather than measured for part of the account."""
    from workbench.data.load import load

    try:
        return {s: load(s, source=settings.data_source, path=settings.data_path) for s in symbols}
    except WorkbenchError as exc:
        typer.echo(f"no reference data from {settings.data_source}: {exc}")
        return None
