"""The `workbench` command: a thin layer that parses flags, loads Settings and calls the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.cli.api import api_app
from workbench.cli.cache import cache_app
from workbench.cli.dashboard import dashboard_cmd
from workbench.cli.db import db_app
from workbench.cli.drift import drift_cmd
from workbench.cli.monitor import monitor_app
from workbench.cli.notify import notify_app
from workbench.cli.promotion import promote_cmd, promotions_cmd
from workbench.cli.report import report_cmd
from workbench.cli.runs import runs_app
from workbench.cli.trading import (
    halt_cmd,
    live_cmd,
    resume_cmd,
    strategies_disable,
    strategies_enable,
    strategies_status,
)
from workbench.cli.users import keys_app, users_app
from workbench.errors import ConfigError, WorkbenchError

try:  # typer >= 0.26 vendors click; its exceptions are not the `click` package's
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on the real click
    from click.exceptions import ClickException

app = typer.Typer(
    name="workbench",
    help="Quant Workbench: research sweeps, backtests and paper/live trading from one set of objects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the merged configuration.", no_args_is_help=True)
data_app = typer.Typer(help="List, show and validate bar data.", no_args_is_help=True)
strategies_app = typer.Typer(help="List and describe strategies.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(data_app, name="data")
app.add_typer(strategies_app, name="strategies")
app.add_typer(db_app, name="db")
app.add_typer(runs_app, name="runs")
app.add_typer(cache_app, name="cache")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(api_app, name="api")
app.add_typer(notify_app, name="notify")
app.add_typer(monitor_app, name="monitor")
app.command("live")(live_cmd)
app.command("halt")(halt_cmd)
app.command("resume")(resume_cmd)
strategies_app.command("enable")(strategies_enable)
strategies_app.command("disable")(strategies_disable)
strategies_app.command("switches")(strategies_status)
app.command("report")(report_cmd)
app.command("promote")(promote_cmd)
app.command("promotions")(promotions_cmd)
app.command("drift")(drift_cmd)
app.command("dashboard")(dashboard_cmd)


def _parse_sets(pairs: list[str]) -> dict[str, str]:
    """Turn repeated ``--set key=value`` flags into an overrides dict."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = value
    return out


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="workbench.toml to read (else $WORKBENCH_CONFIG, ./workbench.toml)."),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="research, paper or live.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Override any setting (repeatable)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings and errors only.")] = False,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="Log JSON lines instead of console text.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    from workbench.config import load_settings
    from workbench.logs import configure_logging, secret_values

    overrides: dict[str, Any] = {"profile": profile, **_parse_sets(set_ or [])}
    if verbose:
        overrides["log_level"] = "DEBUG"
    elif quiet:
        overrides["log_level"] = "WARNING"
    if json_logs:
        overrides["log_json"] = True
    settings = load_settings(config, overrides)
    configure_logging(
        settings.log_level, json=settings.log_json, file=settings.log_file, secrets=secret_values(settings)
    )
    ctx.obj = settings


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """Plain left-aligned columns (no terminal-width truncation, so CI logs keep every value)."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print every setting, its value (secrets masked) and where the value came from."""
    from workbench.config import describe_settings

    rows = [list(r) for r in describe_settings(ctx.obj)]
    typer.echo(_table(["key", "value", "source"], rows))


@data_app.command("list")
def data_list(ctx: typer.Context) -> None:
    """List the symbols of the configured data source with their date range and row count."""
    from workbench.data.load import load

    settings = ctx.obj
    symbols = _source_symbols(settings)
    rows = []
    for symbol in symbols:
        frame = load(symbol, source=settings.data_source, path=settings.data_path)
        rows.append([symbol, _day(frame.index[0]), _day(frame.index[-1]), str(len(frame))])
    typer.echo(_table(["symbol", "first", "last", "rows"], rows))


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
        f"{symbol.upper()}: {len(frame)} bars, {_day(frame.index[0])} .. {_day(frame.index[-1])}, "
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
            typer.echo(f"ok   {symbol}: {len(frame)} bars, {_day(frame.index[0])} .. {_day(frame.index[-1])}")
    typer.echo(f"{len(items) - failures} passed, {failures} failed")
    if failures:
        raise typer.Exit(1)


@strategies_app.command("list")
def strategies_list() -> None:
    """List the strategies found in ./strategies, the bundled folder and entry points."""
    from workbench.strategies.registry import available, strategy

    rows = []
    for name, origin in sorted(available().items()):
        cls = strategy(name)
        params = ", ".join(f"{p.name}={p.default!r}" for p in cls.params().values())
        rows.append([name, cls.__name__, params, origin])
    typer.echo(_table(["name", "class", "parameters (defaults)", "source"], rows))


@strategies_app.command("show")
def strategies_show(name: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross.")]) -> None:
    """Describe a strategy: summary, parameters with ranges, constraints and default sweep grid."""
    from workbench.strategies.registry import strategy

    cls = strategy(name)
    typer.echo(cls.describe())
    for param, values in cls.sweep_ranges.items():
        typer.echo(f"  sweeps {param} over {values!r}")


_SHOWN = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "trades", "win_rate", "exposure"]


# Options shared by the commands that run strategies.
StartOpt = Annotated[str | None, typer.Option("--start", help="First date (inclusive).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last date (inclusive).")]
FeesOpt = Annotated[
    float | None, typer.Option("--fees", help="Fee as a fraction of traded value (default: setting fees).")
]
FixedFeeOpt = Annotated[float, typer.Option("--fixed-fee", help="Fee per order, in account currency.")]
SlippageOpt = Annotated[float, typer.Option("--slippage", help="Slippage as a fraction of price.")]
CashOpt = Annotated[float | None, typer.Option("--cash", help="Starting cash (default: setting initial_cash).")]
FillOpt = Annotated[str, typer.Option("--fill", help="next_open or close.")]
SaveOpt = Annotated[bool, typer.Option("--save", help="Save the run in the database (see `workbench runs`).")]
RiskOpt = Annotated[Path | None, typer.Option("--risk", help="TOML file of risk rules, e.g. stop_loss = 0.05.")]


@app.command("sweep")
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
    slippage: SlippageOpt = 0.0,
    cash: CashOpt = None,
    fill: FillOpt = "next_open",
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
    ranges = dict(_parse_param(p) for p in param or [])
    if out is not None and out.suffix not in (".parquet", ".csv"):
        raise ValueError(f"--out {out}: use a .parquet or .csv file")
    if scheduler is not None and engine != "dask":
        raise ValueError(f"--scheduler {scheduler}: needs --engine dask")
    bars = load(symbols, start=start, end=end, source=settings.data_source, path=settings.data_path)
    began = time.perf_counter()
    result = sweep(
        name,
        bars,
        fees=settings.fees if fees is None else fees,
        fixed_fee=fixed_fee,
        slippage=slippage,
        cash=settings.initial_cash if cash is None else cash,
        fill=fill,
        metric=metric,
        risk=_risk_rules(risk).active(),
        engine=engine,
        client=scheduler,
        **ranges,
    )
    elapsed = time.perf_counter() - began
    cells = sum(len(f) for f in result.frames.values()) * len(result.metrics) / len(result.symbols)
    typer.echo(
        f"{name}: {len(result.metrics):,} runs over {', '.join(result.symbols)} "
        f"({cells / 1e6:.1f} M bar-runs) in {elapsed:.2f} s; best {top} by {metric}:"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4f}".format):
        typer.echo(result.best(top)[_SHOWN].to_string())
    if out is not None:
        table = result.to_frame()
        table.to_parquet(out) if out.suffix == ".parquet" else table.to_csv(out, index=False)
        typer.echo(f"wrote {len(table)} rows to {out}")
    if save:
        typer.echo(f"saved as run {result.save(_store(ctx))}")


@app.command("backtest")
def backtest_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross.")],
    symbols: Annotated[
        list[str] | None,
        typer.Option("--symbols", "--symbol", help="Symbol(s): comma-separated or repeated; several make a portfolio."),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", metavar="NAME=VALUE", help="e.g. fast=12 (repeatable).")
    ] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    fees: FeesOpt = None,
    fixed_fee: FixedFeeOpt = 0.0,
    slippage: SlippageOpt = 0.0,
    cash: CashOpt = None,
    fill: FillOpt = "next_open",
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
    values = _single_values(param)
    names = [s.strip() for item in symbols or ["SPY"] for s in item.split(",") if s.strip()]
    bars = load(
        names if len(names) > 1 else names[0],
        start=start,
        end=end,
        source=settings.data_source,
        path=settings.data_path,
    )
    result = backtest(
        strategy(name)(**values),
        bars,
        fees=settings.fees if fees is None else fees,
        fixed_fee=fixed_fee,
        slippage=slippage,
        cash=settings.initial_cash if cash is None else cash,
        fill=fill,
        risk=_risk_rules(risk),
    )
    typer.echo(repr(result))
    for event in (e for e in result.risk_events if e.decision != "approve"):
        when = f"{event.timestamp:%Y-%m-%d %H:%M}"
        typer.echo(f"risk {event.decision} {event.rule} {event.symbol} at {when}: {event.details}")
    for alert in result.alerts:
        when = f"{alert.timestamp:%Y-%m-%d %H:%M}"
        typer.echo(f"alert {alert.level} {alert.measure} {alert.value:.2%} (limit {alert.limit:.2%}) at {when}")
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4f}".format):
        typer.echo(result.metrics.to_string())
        if trades and len(result.trades):
            typer.echo(f"last {min(trades, len(result.trades))} of {len(result.trades)} trades:")
            typer.echo(result.trades.tail(trades).to_string())
    if save:
        typer.echo(f"saved as run {result.save(_store(ctx))}")


@app.command("paper")
def paper_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross.")],
    symbol: Annotated[str, typer.Option("--symbol", help="The symbol to trade.")] = "SPY",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", metavar="NAME=VALUE", help="e.g. fast=12 (repeatable).")
    ] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    fees: FeesOpt = None,
    slippage: SlippageOpt = 0.0,
    cash: CashOpt = None,
    fill: FillOpt = "next_open",
    risk: RiskOpt = None,
    pace: Annotated[float, typer.Option(help="Seconds between bars (0: as fast as possible).", min=0.0)] = 0.0,
    resume: Annotated[int | None, typer.Option(help="Continue the recorded paper run with this id.")] = None,
) -> None:
    """Paper-trade on the local simulated broker (no keys): the data source's bars replayed as a live feed from
    --start (earlier bars warm up the indicators), the strategy, risk and orders as live; every order and fill
    is recorded write-ahead, and --resume continues a recorded run after its last bar."""
    from workbench.trading.paper_step import paper_step

    settings = ctx.obj
    step = paper_step(
        name,
        symbol,
        params=_single_values(param),
        store=_store(ctx),
        run_id=resume,
        start=start,
        end=end,
        steps=None,
        cash=settings.initial_cash if cash is None else cash,
        fees=settings.fees if fees is None else fees,
        slippage=slippage,
        fill=fill,
        risk=_risk_rules(risk),
        source=settings.data_source,
        path=settings.data_path,
        pace=pace or None,
        on_event=_echo_fill,
        notify=False,
    )
    typer.echo(
        f"{step.bars} bars, {len(step.fills)} fills, cash {step.cash:,.2f}, equity {step.equity:,.2f}; "
        f"recorded as run {step.run_id}"
    )


def _echo_fill(event) -> None:
    if event.fill is not None:
        f = event.fill
        when = f"{f.timestamp:%Y-%m-%d %H:%M:%S}"
        typer.echo(f"{when} {f.side.value} {f.qty:.4f} {f.symbol} @ {f.price:.4f} fee {f.fee:.2f}")


def _single_values(param: list[str] | None) -> dict[str, Any]:
    """``--param NAME=VALUE`` options as parameter values, one each (a range is refused)."""
    from workbench.engine.grid import parse_range

    values = {}
    for key, spec in (_parse_param(p) for p in param or []):
        parsed = parse_range(spec)
        if len(parsed) != 1:
            raise ValueError(f"--param {key}={spec}: a backtest takes one value per parameter")
        values[key] = parsed[0]
    return values


# `-p NAME VALUE` pairs (papermill's form) arrive as extra arguments: Typer options take one value each.
_PAIRS = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command("run", context_settings=_PAIRS)
def run_cmd(
    ctx: typer.Context,
    notebook: Annotated[Path, typer.Argument(help="The .ipynb to execute (its cell tagged 'parameters').")],
    out_dir: Annotated[Path, typer.Option(help="Runs go to OUT_DIR/<notebook name>/.")] = Path("reports/runs"),
) -> None:
    """Execute a notebook once with papermill into OUT_DIR (+ HTML) and record the run; exit 1 if it failed.

    Parameters: -p NAME VALUE (repeatable; a VALUE that reads as JSON, such as 5, true or ["SPY"], is that).
    """
    from workbench.schedule.notebook_run import run_notebook

    run = run_notebook(notebook, _notebook_parameters(ctx.args), out_dir=out_dir, store=_store(ctx))
    typer.echo(f"{run.status} in {run.duration:.1f} s: {run.output} (run {run.run_id})")
    if run.error:
        typer.echo(f"error: {run.error}", err=True)
        raise typer.Exit(1)


@app.command("schedule", context_settings=_PAIRS)
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
    from workbench.notify.dispatcher import Dispatcher
    from workbench.schedule.scheduler import NotebookSchedule

    store = _store(ctx)
    dispatcher = Dispatcher.from_settings(ctx.obj, store)  # failed runs go out on the configured channels
    schedule = NotebookSchedule(
        notebook,
        every,
        parameters=_notebook_parameters(ctx.args),
        market_hours=market_hours,
        calendar=calendar,
        store=store,
        out_dir=out_dir,
        notify=dispatcher.notify,
    )
    typer.echo(f"running {notebook} every {every}{' in market hours' if market_hours else ''}; Ctrl-C stops")
    try:
        schedule.start(max_runs=max_runs)
    finally:
        dispatcher.close()
    failed = sum(r.status == "failed" for r in schedule.runs)
    typer.echo(f"{len(schedule.runs)} runs ({failed} failed), {schedule.skipped} skipped")


def _notebook_parameters(args: list[str]) -> dict[str, Any]:
    """``-p NAME VALUE`` triples as parameters: a value that reads as JSON (numbers, true, lists, ...) is that
    value, anything else the text."""
    import json

    if len(args) % 3 or any(flag not in ("-p", "--parameter") for flag in args[::3]):
        raise ValueError(f"unexpected arguments {' '.join(args)}: notebook parameters are -p NAME VALUE")
    values = {}
    for name, text in zip(args[1::3], args[2::3], strict=True):
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError:
            values[name] = text
    return values


def _store(ctx: typer.Context):
    """The configured database (created and migrated on first use)."""
    from workbench.store import Store

    return Store.open(ctx.obj)


def _risk_rules(path: Path | None):
    from workbench.risk.manager import RiskRules

    return RiskRules() if path is None else RiskRules.from_toml(path)


def _parse_param(text: str) -> tuple[str, str]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise ValueError(f"--param expects NAME=RANGE such as fast=5:60, got {text!r}")
    return name.strip(), spec.strip()


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


def _day(ts) -> str:
    return ts.strftime("%Y-%m-%d") if ts.hour == 0 and ts.minute == 0 else ts.isoformat()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: one clear line on a known error, a traceback only with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=args, prog_name="workbench", standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except (WorkbenchError, ValueError, NotImplementedError) as exc:
        if "--debug" in args:
            raise
        typer.echo(f"error: {exc}", err=True)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
