"""``workbench run`` and ``workbench schedule``: notebooks as jobs (one papermill run, or one every interval)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.options import notebook_parameters, open_store, settings

# `-p NAME VALUE` pairs (papermill's form) arrive as extra arguments: Typer options take one value each.
_PAIRS = {"allow_extra_args": True, "ignore_unknown_options": True}


def run_cmd(
    ctx: typer.Context,
    notebook: Annotated[Path, typer.Argument(help="The .ipynb to execute (its cell tagged 'parameters').")],
    out_dir: Annotated[Path, typer.Option(help="Runs go to OUT_DIR/<notebook name>/.")] = Path("reports/runs"),
) -> None:
    """Execute a notebook once with papermill into OUT_DIR (+ HTML) and record the run; exit 1 if it failed.

    Parameters: -p NAME VALUE (repeatable; a VALUE that reads as JSON, such as 5, true or ["SPY"], is that).
    """
    from workbench.schedule.notebook_run import run_notebook

    run = run_notebook(notebook, notebook_parameters(ctx.args), out_dir=out_dir, store=open_store(ctx), kernel_log=True)
    typer.echo(f"{run.status} in {run.duration:.1f} s: {run.output} (run {run.run_id})")
    if run.error:
        typer.echo(f"error: {run.error}", err=True)
        raise typer.Exit(1)


def schedule_cmd(
    ctx: typer.Context,
    notebook: Annotated[Path, typer.Argument(help="The .ipynb to execute repeatedly.")],
    every: Annotated[str, typer.Option(help="Interval: 30s, 5m, 1h, 1d.")] = "5m",
    market_hours: Annotated[bool, typer.Option(help="Only while the exchange (--calendar) is open.")] = False,
    calendar: Annotated[str, typer.Option(help="Exchange calendar code for --market-hours.")] = "XNYS",
    out_dir: Annotated[Path, typer.Option(help="Runs go to OUT_DIR/<notebook name>/.")] = Path("reports/runs"),
    max_runs: Annotated[int | None, typer.Option(help="Stop after this many attempts.", min=1)] = None,
) -> None:
    """Run a notebook now and every --every until Ctrl-C: never two at once, failures recorded and notified.

    Parameters: -p NAME VALUE (repeatable), as for `workbench run`.
    """
    from workbench.schedule.scheduler import NotebookSchedule
    from workbench.trading.build import notifier

    store = open_store(ctx)
    dispatcher = notifier(settings(ctx), store)  # failed runs go out on the configured channels, if any
    schedule = NotebookSchedule(
        notebook,
        every,
        parameters=notebook_parameters(ctx.args),
        market_hours=market_hours,
        calendar=calendar,
        store=store,
        out_dir=out_dir,
        notify=None if dispatcher is None else dispatcher.notify,
    )
    typer.echo(f"running {notebook} every {every}{' in market hours' if market_hours else ''}; Ctrl-C stops")
    try:
        schedule.start(max_runs=max_runs)
    finally:
        if dispatcher is not None:
            dispatcher.close()
    failed = sum(r.status == "failed" for r in schedule.runs)
    typer.echo(f"{len(schedule.runs)} runs ({failed} failed), {schedule.skipped} skipped")
