"""``workbench promote`` and ``workbench promotions``: move a configuration to paper or live through its gates, and
list the attempts (a thin layer over `workbench.ops.promotion`)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from workbench.cli.options import ParamOpt, single_values, symbol_list, table
from workbench.ops.paper_period import PAPER_BROKERS, PAPER_DAYS


def promote_cmd(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross.")],
    to: Annotated[str, typer.Option("--to", help="paper (parity, look-ahead, overfitting) or live (a paper period).")],
    param: ParamOpt = None,
    symbols: Annotated[
        list[str] | None, typer.Option("--symbols", help="Symbol(s) it trades: comma-separated or repeated.")
    ] = None,
    sweep: Annotated[
        int | None, typer.Option("--sweep", help="Run id of the saved sweep the parameters were chosen from.")
    ] = None,
    override_reason: Annotated[
        str | None, typer.Option("--override-reason", help="Promote even if a gate fails; recorded and audited.")
    ] = None,
    paper_days: Annotated[
        int, typer.Option("--paper-days", min=1, help="Trading days of paper trading that live needs.")
    ] = PAPER_DAYS,
    paper_broker: Annotated[
        list[str] | None,
        typer.Option(
            "--paper-broker", help=f"Brokers whose runs count as paper trading (default: {PAPER_BROKERS[0]})."
        ),
    ] = None,
) -> None:
    """Run a configuration's gates to paper or live and record the outcome; exit 1 when a gate fails (unless
    overridden with a reason)."""
    from workbench.ops.promotion import promote
    from workbench.store import Store

    names = symbol_list(symbols)
    with Store.open(ctx.obj) as store:
        result = promote(
            strategy,
            single_values(param),
            names,
            to=to,
            store=store,
            sweep=sweep,
            override_reason=override_reason,
            actor=f"cli:{getpass.getuser()}",
            paper_days=paper_days,
            paper_brokers=tuple(paper_broker or PAPER_BROKERS),
        )
    params = " ".join(f"{k}={v}" for k, v in result.params.items())
    typer.echo(f"promotion #{result.id}: {result.strategy} {params} on {','.join(result.symbols)} to {result.stage}")
    for gate in result.gates:
        typer.echo(f"  {'ok  ' if gate.passed else 'FAIL'} {gate.name}: {gate.detail}")
    typer.echo(f"{result.status}" + (f" (override: {result.override_reason})" if result.override_reason else ""))
    if result.status == "failed":
        typer.echo("not promoted: fix the failing gate(s), or promote anyway with --override-reason TEXT (audited)")
        raise typer.Exit(1)


def promotions_cmd(
    ctx: typer.Context,
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help="Only this strategy's.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
) -> None:
    """List the promotion attempts, newest first: configuration, stage, outcome and each gate."""
    import pandas as pd

    from workbench.ops.promotion import promotions
    from workbench.store import Store

    with Store.open(ctx.obj) as store:
        frame = promotions(store, strategy=strategy, limit=limit)
    headers = ["id", "time", "strategy", "params", "symbols", "stage", "status", "gates", "sweep", "actor", "reason"]
    rows = [
        [
            str(promotion_id),
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            r["strategy"],
            " ".join(f"{k}={v}" for k, v in r["params"].items()),
            r["symbols"],
            r["stage"],
            r["status"],
            r["gates"],
            "" if pd.isna(r["sweep"]) else str(r["sweep"]),
            r["actor"],
            r["reason"] or "",
        ]
        for promotion_id, r in frame.iterrows()
    ]
    typer.echo(table(headers, rows) if rows else "no promotions recorded")
