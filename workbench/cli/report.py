"""``workbench report``: one backtest as an HTML report, from the command line.

``workbench.cli`` registers ``report_cmd``; this module imports nothing heavy (nor ``workbench.cli``, which
imports it) until the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross (see `workbench strategies list`).")],
    symbols: Annotated[
        list[str] | None,
        typer.Option("--symbols", "--symbol", help="Symbol(s): comma-separated or repeated; several make a portfolio."),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", metavar="NAME=VALUE", help="e.g. fast=12 (repeatable).")
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            "--sweep", metavar="NAME=RANGE", help="Also sweep NAME (e.g. fast=5:60:5) and show the parameter heatmap."
        ),
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="First date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last date (inclusive).")] = None,
    fees: Annotated[
        float | None, typer.Option("--fees", help="Fee as a fraction of traded value (default: setting fees).")
    ] = None,
    fixed_fee: Annotated[float, typer.Option("--fixed-fee", help="Fee per order, in account currency.")] = 0.0,
    slippage: Annotated[float, typer.Option("--slippage", help="Slippage as a fraction of price.")] = 0.0,
    cash: Annotated[float | None, typer.Option("--cash", help="Starting cash (default: setting initial_cash).")] = None,
    fill: Annotated[str, typer.Option("--fill", help="next_open or close.")] = "next_open",
    risk: Annotated[Path | None, typer.Option("--risk", help="TOML file of risk rules, e.g. stop_loss = 0.05.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="The .html file to write (default: reports/NAME_SYMBOLS_TIME.html).")
    ] = None,
    show_code: Annotated[
        bool, typer.Option("--show-code", help="Keep the notebook's code cells in the report.")
    ] = False,
) -> None:
    """Run the report notebook on one parameter set (checked first) and write it as HTML; print the file's path.

    Example: workbench report sma_cross -p fast=12 -p slow=80 --sweep fast=5:60:5 --sweep slow=20:250:10
    """
    from workbench.cli import _parse_param, _risk_rules
    from workbench.engine.grid import parse_range
    from workbench.reports.build import build_report

    settings = ctx.obj
    values = {}
    for key, spec in (_parse_param(p) for p in param or []):
        parsed = parse_range(spec)
        if len(parsed) != 1:
            raise ValueError(f"--param {key}={spec}: a report takes one value per parameter; sweep ranges with --sweep")
        values[key] = parsed[0]
    ranges = dict(_parse_param(p) for p in sweep or []) or None
    names = [s.strip() for item in symbols or ["SPY"] for s in item.split(",") if s.strip()]
    path = build_report(
        name,
        names,
        values,
        start,
        end,
        out=out,
        show_code=show_code,
        source=settings.data_source,
        data_path=settings.data_path,
        cash=settings.initial_cash if cash is None else cash,
        fees=settings.fees if fees is None else fees,
        fixed_fee=fixed_fee,
        slippage=slippage,
        fill=fill,
        risk=_risk_rules(risk).active(),
        sweep=ranges,
    )
    typer.echo(str(path))
