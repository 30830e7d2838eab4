"""The live-trading commands of ``workbench`` (registered by ``workbench.cli``): ``live``, the strategy switches
and the kill switch. They are thin: the session is `workbench.runner.live.LiveSession`, the switches are the
store's strategy flags, which the API and the dashboard set too, and every switch is audited.

The composition root of a live session is here: which broker (``sim`` local paper by default, ``alpaca-paper``,
``alpaca-live``), which clock (the wall clock) and which feed (the data source's bars replayed from ``--start``
at ``--pace``, or Alpaca's live minute bars when the data source is ``alpaca``; with ``--once``, only the bars
that are complete now).
"""

from __future__ import annotations

import getpass
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from workbench.errors import ConfigError

BrokerOpt = Annotated[
    str | None,
    typer.Option("--broker", help="sim (local paper, no keys), alpaca-paper or alpaca-live (default: setting)."),
]
#: Minute bars of Alpaca history a session warms its indicators up with.
ALPACA_WARMUP = timedelta(days=5)


def live_cmd(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="Strategy name, e.g. sma_cross.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", metavar="NAME=VALUE", help="e.g. fast=12 (repeatable).")
    ] = None,
    symbols: Annotated[list[str] | None, typer.Option("--symbols", help="The symbol to trade (one a session).")] = None,
    broker: BrokerOpt = None,
    once: Annotated[
        bool, typer.Option("--once", help="Take the bars complete now, then stop (a scheduled step).")
    ] = False,
    run: Annotated[str, typer.Option("--run", help="Run to continue: latest (default), new, or a run id.")] = "latest",
    start: Annotated[str | None, typer.Option("--start", help="A new replayed run trades from this date.")] = None,
    pace: Annotated[float, typer.Option(min=0.0, help="Seconds between replayed bars (0: at once).")] = 0.0,
    cash: Annotated[float | None, typer.Option("--cash", help="sim: starting cash (default: initial_cash).")] = None,
    fees: Annotated[float | None, typer.Option("--fees", help="Fee fraction for sizing (default: setting).")] = None,
    slippage: Annotated[float, typer.Option("--slippage", help="Slippage fraction for sizing.")] = 0.0,
    fill: Annotated[str, typer.Option("--fill", help="next_open or close.")] = "next_open",
    risk: Annotated[Path | None, typer.Option("--risk", help="TOML file of risk rules.")] = None,
    cancel_on_stop: Annotated[
        bool, typer.Option("--cancel-on-stop/--leave-orders", help="On stop, cancel working orders or leave them.")
    ] = True,
) -> None:
    """Trade a strategy live until Ctrl-C or SIGTERM (a clean stop: no new orders, working orders canceled or
    left, everything recorded), or for one step with --once. A recorded run is continued and reconciled with
    the broker first. Live trading (real money) needs profile 'live' and confirm_live."""
    from workbench.runner.live import LiveSession, latest_run, run_until_stopped
    from workbench.store import Store
    from workbench.strategies.registry import strategy as lookup

    settings = ctx.obj
    symbol = _one_symbol(symbols)
    name = broker or settings.broker
    instance = lookup(strategy)(**_values(param))
    rules = _rules(risk)
    fees = settings.fees if fees is None else fees
    store = Store.open(settings)
    with ExitStack() as stack:
        trader = stack.enter_context(_broker(settings, name, cash, fees))
        run_id = _run_id(run, lambda: latest_run(store, instance.name, symbol, name))
        bars, stream = _bars(settings, symbol, once)
        live_data = settings.data_source == "alpaca"
        history = bars if run_id is not None or live_data else _before(bars, start)
        dispatcher = _dispatcher(settings, store, stack)
        _announce(name, instance, symbol, rules)
        live = LiveSession.open(
            store,
            instance,
            symbol,
            trader,
            run=run_id,
            history=history,
            fees=fees,
            slippage=slippage,
            fill=fill,
            risk=rules,
            cancel_on_stop=cancel_on_stop and not once,
            on_alert=None if dispatcher is None else dispatcher.notify,
        )
        if dispatcher is not None:
            dispatcher.attach(live.session)
        if live.reconciliation is not None and not live.reconciliation.ok:
            typer.echo("RECONCILIATION FAILED, trading halted:\n  " + "\n  ".join(live.reconciliation.differences))
        if stream is not None:
            feed: Any = stream(live.last_bar)
        else:
            from workbench.data.feeds import ReplayFeed

            upcoming = bars if live.last_bar is None else bars.loc[bars.index > pd.Timestamp(live.last_bar)]
            step = upcoming.iloc[:1] if once and not live_data else upcoming  # a replay steps one bar a time
            feed = ReplayFeed({symbol: step}, pace=pace or None)
        summary = live.run(feed) if once else run_until_stopped(live, feed)
    typer.echo(
        f"run {summary.run_id}: {summary.bars} bars, {summary.orders} orders, {summary.fills} fills; "
        f"cash {summary.cash:,.2f}, equity {summary.equity:,.2f}, positions {summary.positions or 'none'}"
        f"{', HALTED' if summary.halted else ''}"
    )


def strategies_enable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Strategy name.")]) -> None:
    """Switch a strategy on: its live sessions trade from their next bar (unless halted)."""
    _switch(ctx, name, "enable", enabled=True)


def strategies_disable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Strategy name.")]) -> None:
    """Switch a strategy off: its live sessions place no new orders (positions are left as they are)."""
    _switch(ctx, name, "disable", enabled=False)


def strategies_status(ctx: typer.Context) -> None:
    """List the strategies the live side knows, with their switches: enabled, mode, halted (and why)."""
    from workbench.store import Store

    with Store.open(ctx.obj).unit_of_work(readonly=True) as uow:
        rows = [
            [r.name, "yes" if r.enabled else "no", r.mode, f"HALTED: {r.halted_reason}" if r.halted else "-"]
            for r in uow.strategies.find()
        ]
    widths = [max(len(str(c)) for c in col) for col in zip(["name", "enabled", "mode", "halted"], *rows, strict=False)]
    for row in [["name", "enabled", "mode", "halted"], *rows]:
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def halt_cmd(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded with the halt).")] = "kill switch",
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help="Halt only this strategy.")] = None,
) -> None:
    """The kill switch: every enabled strategy (or --strategy) is halted; its running sessions cancel their
    orders, flatten and stop trading, and restarted ones stay halted, until `workbench resume`."""
    from workbench.store import Store

    text = f"{reason} ({_actor()})"
    with Store.open(ctx.obj).unit_of_work() as uow:
        names = [strategy] if strategy else [row.name for row in uow.strategies.enabled()]
        for name in names:
            uow.strategies.halt(name, text)
        uow.audit.add(_actor(), "trading.halt", "trading", {"reason": reason, "strategies": names})
    typer.echo(f"halted: {', '.join(names) or 'no enabled strategy'}")


def resume_cmd(
    ctx: typer.Context,
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help="Resume only this strategy.")] = None,
) -> None:
    """Lift the kill switch: every halted strategy (or --strategy) may trade again (a person's decision, so one
    halted by its drawdown rule or by a failed reconciliation too)."""
    from workbench.store import Store

    with Store.open(ctx.obj).unit_of_work() as uow:
        names = [strategy] if strategy else [row.name for row in uow.strategies.find() if row.halted]
        for name in names:
            uow.strategies.resume(name)
        uow.audit.add(_actor(), "trading.resume", "trading", {"strategies": names})
    typer.echo(f"resumed: {', '.join(names) or 'no halted strategy'}")


# --- the composition of a session -----------------------------------------------------------------------------


def _broker(settings: Any, name: str, cash: float | None, fees: float) -> Any:
    """The broker called ``name``, as a context manager (an Alpaca one is connected, then closed)."""
    from contextlib import nullcontext

    if name == "sim":
        from workbench.brokers.sim import SimBroker
        from workbench.clock import SystemClock

        return nullcontext(SimBroker(SystemClock(), cash=settings.initial_cash if cash is None else cash, fees=fees))
    from workbench.brokers.alpaca import AlpacaBroker

    return AlpacaBroker.from_settings(settings, broker=name)


def _bars(settings: Any, symbol: str, once: bool) -> tuple[pd.DataFrame, Any]:
    """The bars known now, and (Alpaca data, not ``once``) how to open the live stream from a bar on."""
    if settings.data_source != "alpaca":
        from workbench.data.load import load

        return load(symbol, source=settings.data_source, path=settings.data_path), None
    from workbench.data.alpaca import AlpacaDataSource

    source = AlpacaDataSource.from_settings(settings)
    bars = source.history(symbol, start=pd.Timestamp.now(tz="UTC") - ALPACA_WARMUP, timeframe="1Min")
    if once:
        return bars, None

    def stream(last: Any) -> Any:
        return source.stream([symbol], since=None if last is None else pd.Timestamp(last) + pd.Timedelta(1, "min"))

    return bars, stream


def _dispatcher(settings: Any, store: Any, stack: ExitStack) -> Any:
    """The notification dispatcher when channels are configured (closed with the session), else None."""
    if not settings.notify_channels:
        return None
    from workbench.notify import Dispatcher

    dispatcher = Dispatcher.from_settings(settings, store)
    stack.callback(dispatcher.close)
    return dispatcher


def _announce(broker: str, strategy: Any, symbol: str, rules: Any) -> None:
    limits = ", ".join(f"{k}={v}" for k, v in rules.active().items()) or "none"
    if broker == "alpaca-live":
        typer.echo("LIVE TRADING WITH REAL MONEY (alpaca-live)")
    typer.echo(f"{strategy.name} {strategy.values} on {symbol} via {broker}; risk limits: {limits}")


def _run_id(run: str, latest: Any) -> int | None:
    if run == "new":
        return None
    if run == "latest":
        return latest()
    try:
        return int(run)
    except ValueError:
        raise ConfigError(f"--run {run!r}: expected latest, new or a run id") from None


def _before(bars: pd.DataFrame, start: str | None) -> pd.DataFrame | None:
    """History of a new run: the bars before ``start`` (None: no history, every bar trades)."""
    if start is None:
        return None
    return bars.loc[bars.index < pd.Timestamp(start, tz="UTC")]


def _one_symbol(symbols: list[str] | None) -> str:
    names = [s.strip().upper() for item in symbols or ["SPY"] for s in item.split(",") if s.strip()]
    if len(names) != 1:
        raise ConfigError(f"--symbols {','.join(names)}: a live session trades one symbol; start one per symbol")
    return names[0]


def _values(param: list[str] | None) -> dict[str, Any]:
    """``--param NAME=VALUE`` as values (numbers where they read as numbers)."""
    values: dict[str, Any] = {}
    for text in param or []:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param expects NAME=VALUE such as fast=12, got {text!r}")
        for kind in (int, float):
            try:
                values[key.strip()] = kind(raw)
                break
            except ValueError:
                continue
        else:
            values[key.strip()] = raw
    return values


def _rules(path: Path | None) -> Any:
    from workbench.risk.manager import RiskRules

    return RiskRules() if path is None else RiskRules.from_toml(path)


def _switch(ctx: typer.Context, name: str, action: str, **values: Any) -> None:
    from workbench.store import Store

    with Store.open(ctx.obj).unit_of_work() as uow:
        if uow.strategies.get(name) is None and values.get("enabled"):
            uow.strategies.add(name, enabled=True, mode="paper")
        else:
            uow.strategies.update(name, **values)
        uow.audit.add(_actor(), f"strategy.{action}", f"strategy:{name}", values)
    typer.echo(f"{name}: {action}d")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"
