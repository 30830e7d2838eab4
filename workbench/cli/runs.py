"""`workbench runs list / show / rerun`: saved backtests and sweeps (a thin layer over `workbench.provenance.saved`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from workbench.cli.options import settings as _settings
from workbench.cli.options import table

# pandas, SQLAlchemy and the trading core load inside the commands, so `workbench` starts fast.

runs_app = typer.Typer(help="List, show and rerun saved backtests and sweeps.", no_args_is_help=True)


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only runs of this kind: backtest or sweep.")] = None,
    strategy: Annotated[str | None, typer.Option(help="Only runs of this strategy.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs, newest first.")] = 50,
) -> None:
    """Print the saved runs, newest first, with their headline numbers; a live or paper run's status is its state
    (running, stopped, finished, halted or crashed, with why)."""
    from workbench.services import runs
    from workbench.store import Store

    with Store.open(_settings(ctx)) as store:
        frame = runs.saved(store, kind=kind, strategy=strategy, limit=limit)
    frame = frame.astype(object).where(frame.notna(), None)  # a missing name, metric or number prints empty
    headers = ["id", "kind", "strategy", "name", "params", "symbols", "started", "status"]
    headers += ["return", "sharpe", "max_dd", "trades", "best"]
    rows = [
        [
            str(run_id),
            r["kind"],
            r["strategy"],
            r["name"] or "",
            _params(r["params"], sweep=r["kind"] == "sweep"),
            ",".join(r["symbols"] or []),
            r["started_at"].strftime("%Y-%m-%d %H:%M"),
            _status(r["status"], r["reason"]),
            _num(r["total_return"], "{:.2%}"),
            _num(r["sharpe"], "{:.2f}"),
            _num(r["max_drawdown"], "{:.2%}"),
            _num(r["trades"], "{:.0f}"),
            f"{r['metric']}={_num(r['best'], '{:.4g}')}" if r["metric"] else "",
        ]
        for run_id, r in frame.iterrows()
    ]
    typer.echo(table(headers, rows) if rows else "no saved runs")


@runs_app.command("show")
def runs_show(ctx: typer.Context, run_id: Annotated[int, typer.Argument(help="Run id (see `runs list`).")]) -> None:
    """Print a run's spec, metrics and how many orders, fills, risk events and equity snapshots it kept."""
    from workbench.services import runs
    from workbench.store import Store

    with Store.open(_settings(ctx)) as store:
        run = runs.show(store, run_id)
    title = f"run {run['id']}: {run['kind']} of {run['strategy']}" + (f" ({run['name']})" if run["name"] else "")
    saved = run["finished_at"] or run["started_at"]
    typer.echo(f"{title}, {_status(run['status'], run['reason'])}, saved {saved:%Y-%m-%d %H:%M:%S} UTC")
    typer.echo(f"data: {run['data_source']} (hash {run['data_hash']})")
    typer.echo("spec:")
    for key, value in run["spec"].items():
        shown = _params(value["ranges"], sweep=True) if key == "params" and run["kind"] == "sweep" else value
        typer.echo(f"  {key}: {shown}")
    metrics = dict(run["metrics"] or {})
    best = metrics.pop("best", None)
    typer.echo("metrics:")
    for key, value in metrics.items():
        typer.echo(f"  {key}: {_num(value, '{:.6g}') or 'n/a'}")
    if best:
        typer.echo(f"best {len(best)} by {metrics['metric']}:")
        typer.echo(table(list(best[0]), [[_num(v, "{:.4g}") for v in row.values()] for row in best]))
    counts = {"orders": run["orders"], "fills": run["fills"], "risk events": run["risk_events"]}
    counts["daily equity snapshots"] = run["equity"]
    typer.echo("records: " + ", ".join(f"{len(items)} {what}" for what, items in counts.items()))
    if run["error"]:
        typer.echo(f"error: {run['error']}")


@runs_app.command("rerun")
def runs_rerun(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="Run id (see `runs list`).")],
    ignore_code: Annotated[
        bool, typer.Option("--ignore-code", help="Run the current strategy code even if its source changed.")
    ] = False,
) -> None:
    """Run a saved run again on the same bars and settings; exit 1 unless every number comes out the same."""
    from workbench.provenance.spec import NotReproducible
    from workbench.services import runs
    from workbench.store import Store

    with Store.open(_settings(ctx)) as store:
        try:
            result, differences = runs.rerun(store, run_id, check_code=not ignore_code)
        except NotReproducible as exc:
            typer.echo(str(exc))
            raise typer.Exit(1) from None
    if differences:
        for difference in differences:
            typer.echo(f"differs: {difference}")
        typer.echo(f"not reproduced: {len(differences)} difference{'s' if len(differences) > 1 else ''}")
        raise typer.Exit(1)
    typer.echo(f"reproduced: {result.metrics.size} metrics identical")


def _status(status: str, reason: str | None) -> str:
    """``halted: drill`` (a reason cut to 60 characters), or the status alone."""
    if not reason:
        return status
    return f"{status}: {reason if len(reason) <= 60 else reason[:59] + '…'}"


def _params(params: dict[str, Any], *, sweep: bool) -> str:
    """``fast=10 slow=50``; a sweep's ranges as ``fast=5..55 (11)``."""
    if sweep:
        return " ".join(f"{k}={min(v)}..{max(v)} ({len(v)})" for k, v in params.items())
    return " ".join(f"{k}={v}" for k, v in params.items())


def _num(value: Any, fmt: str) -> str:
    """``value`` formatted, or empty when missing (a metric with no value is saved as null)."""
    if value is None:
        return ""
    return fmt.format(value) if isinstance(value, int | float) else str(value)
