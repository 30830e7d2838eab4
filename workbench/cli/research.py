"""``workbench sweep``, ``backtest`` and ``report``: the research commands, thin layers over ``wb.sweep``,
``wb.backtest`` and ``workbench.reports``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.compiling import say_if_compiling
from workbench.cli.options import (
    CashOpt,
    EndOpt,
    FeesOpt,
    FillOpt,
    FixedFeeOpt,
    LeverageOpt,
    ParamOpt,
    RiskOpt,
    SaveOpt,
    SlippageOpt,
    StartOpt,
    SymbolsOpt,
    bars_span,
    choose_costs,
    open_store,
    parse_param,
    risk_rules,
    single_values,
    symbol_list,
)

_SHOWN = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "trades", "win_rate", "exposure"]


def sweep_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross (see `workbench strategies list`).")],
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols.")] = "SPY",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="NAME=RANGE", help="e.g. fast=5:60 or slow=20:250:5 or z=1,1.5,2."),
    ] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    fees: FeesOpt = None,
    fixed_fee: FixedFeeOpt = 0.0,
    slippage: SlippageOpt = None,
    cash: CashOpt = None,
    fill: FillOpt = None,
    leverage: LeverageOpt = None,
    metric: Annotated[str, typer.Option(help="Metric to rank by.")] = "sharpe",
    top: Annotated[int, typer.Option(min=1, help="Rows to print.")] = 20,
    risk: RiskOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write all rows to .parquet or .csv.")] = None,
    save: SaveOpt = False,
    engine: Annotated[
        str, typer.Option(help="local (numba threads here) or dask (chunks on a Dask cluster, same results).")
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address for --engine dask, e.g. tcp://host:8786 (default: a local cluster)."),
    ] = None,
) -> None:
    """Sweep a strategy's parameters over bundled (or configured) bars and print the best rows."""
    import time

    import pandas as pd

    from workbench.data.load import load
    from workbench.research.sweep import sweep

    settings = ctx.obj
    ranges = dict(parse_param(p) for p in param or [])
    if out is not None and out.suffix not in (".parquet", ".csv"):
        raise ValueError(f"--out {out}: use a .parquet or .csv file")
    if scheduler is not None and engine != "dask":
        raise ValueError(f"--scheduler {scheduler}: needs --engine dask")
    costs = choose_costs(settings, fees=fees, slippage=slippage, fill=fill, fixed_fee=fixed_fee, cash=cash)
    bars = load(symbols, start=start, end=end, source=settings.data_source, path=settings.data_path)
    say_if_compiling("sweep")
    began = time.perf_counter()
    result = sweep(
        name,
        bars,
        fees=costs.fees,
        fixed_fee=costs.fixed_fee,
        slippage=costs.slippage,
        cash=costs.cash,
        fill=costs.fill,
        leverage=leverage,
        metric=metric,
        risk=risk_rules(risk).active(),
        engine=engine,
        client=scheduler,
        **ranges,
    )
    elapsed = time.perf_counter() - began
    cells = sum(len(f) for f in result.frames.values()) * len(result.grid)
    typer.echo(f"{name} on {bars_span(result.frames)}; {costs.text}; cash {costs.cash:,g}")
    typer.echo(
        f"{name}: {len(result.metrics):,} runs over {', '.join(result.symbols)} "
        f"({cells / 1e6:.1f} M bar-runs) in {elapsed:.2f} s; best {top} by {metric} ({costs.short}):"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4f}".format):
        typer.echo(result.best(top)[_SHOWN].to_string())
    if out is not None:
        table = result.to_frame()
        table.to_parquet(out) if out.suffix == ".parquet" else table.to_csv(out, index=False)
        typer.echo(f"wrote {len(table)} rows to {out}")
    if save:
        typer.echo(f"saved as run {result.save(open_store(ctx))}")


def backtest_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross.")],
    symbols: SymbolsOpt = None,
    param: ParamOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    fees: FeesOpt = None,
    fixed_fee: FixedFeeOpt = 0.0,
    slippage: SlippageOpt = None,
    cash: CashOpt = None,
    fill: FillOpt = None,
    leverage: LeverageOpt = None,
    trades: Annotated[int, typer.Option(min=0, help="Last trades to print.")] = 10,
    risk: RiskOpt = None,
    save: SaveOpt = False,
) -> None:
    """Backtest one parameter set through the order manager and simulated broker; print metrics and trades."""
    import pandas as pd

    from workbench.data.load import load
    from workbench.strategies.registry import strategy
    from workbench.trading.backtest import backtest

    settings = ctx.obj
    values = single_values(param)
    names = symbol_list(symbols)
    bars = load(
        names if len(names) > 1 else names[0],
        start=start,
        end=end,
        source=settings.data_source,
        path=settings.data_path,
    )
    costs = choose_costs(settings, fees=fees, slippage=slippage, fill=fill, fixed_fee=fixed_fee, cash=cash)
    say_if_compiling("backtest")
    result = backtest(
        strategy(name)(**values),
        bars,
        fees=costs.fees,
        fixed_fee=costs.fixed_fee,
        slippage=costs.slippage,
        cash=costs.cash,
        fill=costs.fill,
        risk=risk_rules(risk),
        leverage=leverage,
    )
    span = bars_span(dict(bars) if len(names) > 1 else {names[0]: bars})
    typer.echo(f"{name} on {span}; {costs.text}; cash {costs.cash:,g}")
    typer.echo(repr(result))
    for event in (e for e in result.risk_events if e.decision != "approve"):
        when = f"{event.timestamp:%Y-%m-%d %H:%M}"
        typer.echo(f"risk {event.decision} {event.rule} {event.symbol} at {when}: {event.details}")
    for alert in result.alerts:
        when = f"{alert.timestamp:%Y-%m-%d %H:%M}"
        typer.echo(f"alert {alert.level} {alert.measure} {alert.value:.2%} (limit {alert.limit:.2%}) at {when}")
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4f}".format):
        typer.echo(f"metrics ({costs.short}):")
        typer.echo(result.metrics.to_string())
        if trades and len(result.trades):
            typer.echo(f"last {min(trades, len(result.trades))} of {len(result.trades)} trades:")
            typer.echo(result.trades.tail(trades).to_string())
    if save:
        typer.echo(f"saved as run {result.save(open_store(ctx))}")


def report_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross (see `workbench strategies list`).")],
    symbols: SymbolsOpt = None,
    param: ParamOpt = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            "--sweep", metavar="NAME=RANGE", help="Also sweep NAME (e.g. fast=5:60:5) and show the parameter heatmap."
        ),
    ] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    fees: FeesOpt = None,
    fixed_fee: FixedFeeOpt = 0.0,
    slippage: SlippageOpt = None,
    cash: CashOpt = None,
    fill: FillOpt = None,
    leverage: LeverageOpt = None,
    risk: RiskOpt = None,
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
    from workbench.engine.grid import parse_range
    from workbench.reports.build import build_report

    settings = ctx.obj
    values = {}
    for key, spec in (parse_param(p) for p in param or []):
        parsed = parse_range(spec)
        if len(parsed) != 1:
            raise ValueError(f"--param {key}={spec}: a report takes one value per parameter; sweep ranges with --sweep")
        values[key] = parsed[0]
    ranges = dict(parse_param(p) for p in sweep or []) or None
    names = symbol_list(symbols)
    costs = choose_costs(settings, fees=fees, slippage=slippage, fill=fill, fixed_fee=fixed_fee, cash=cash)
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
        cash=costs.cash,
        fees=costs.fees,
        fixed_fee=costs.fixed_fee,
        slippage=costs.slippage,
        fill=costs.fill,
        leverage=leverage,
        risk=risk_rules(risk).active(),
        sweep=ranges,
    )
    typer.echo(str(path))
