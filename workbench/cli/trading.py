"""The trading commands of ``workbench``: ``live``, ``paper`` and the kill switch (``halt``, ``resume``).

Both ``live`` and ``paper`` open a `workbench.trading.live.LiveSession`, which the composition root
(`workbench.trading.build`) wires: ``paper`` is ``live --broker sim`` with a paper run's defaults (a new run
unless ``--resume``, every fill printed), under the same promotion rule and the same store switches. The feed is
the data source's bars replayed from ``--start`` at ``--pace``, or Alpaca's live minute bars when the data source
is ``alpaca`` (with ``--once``, only the bars that are complete now). Several ``--symbols`` trade in one account,
as ``workbench backtest`` allocates them; the session's metrics and health are served with ``--metrics-port``;
notifications go to the channels the settings configure. The switches are set and audited by
`workbench.services.switches`, as the API and the dashboard set them.
"""

from __future__ import annotations

from contextlib import ExitStack, closing
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.cli.options import (
    CashOpt,
    EndOpt,
    FeesOpt,
    FillOpt,
    LeverageOpt,
    ParamOpt,
    RiskOpt,
    SlippageOpt,
    StartOpt,
    actor,
    choose_costs,
    open_store,
    risk_rules,
    single_values,
    symbol_list,
)
from workbench.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

BrokerOpt = Annotated[
    str | None,
    typer.Option("--broker", help="sim (local paper, no keys), alpaca-paper or alpaca-live (default: setting)."),
]
#: Minute bars of Alpaca history a session warms its indicators up with.
ALPACA_WARMUP = timedelta(days=5)


def live_cmd(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="Strategy name, e.g. sma_cross.")],
    param: ParamOpt = None,
    symbols: Annotated[
        list[str] | None,
        typer.Option("--symbols", help="Symbols to trade, e.g. SPY or SPY,QQQ (several: one account, by weight)."),
    ] = None,
    weight: Annotated[
        list[str] | None,
        typer.Option("--weight", "-w", metavar="SYMBOL=FRACTION", help="Target weight, e.g. SPY=0.6 (default: equal)."),
    ] = None,
    broker: BrokerOpt = None,
    once: Annotated[
        bool, typer.Option("--once", help="Take the bars complete now, then stop (a scheduled step).")
    ] = False,
    run: Annotated[str, typer.Option("--run", help="Run to continue: latest (default), new, or a run id.")] = "latest",
    start: Annotated[str | None, typer.Option("--start", help="A new replayed run trades from this date.")] = None,
    pace: Annotated[float, typer.Option(min=0.0, help="Seconds between replayed bars (0: at once).")] = 0.0,
    cash: Annotated[float | None, typer.Option("--cash", help="sim: starting cash (default: initial_cash).")] = None,
    fees: Annotated[float | None, typer.Option("--fees", help="Fee fraction for sizing (default: setting).")] = None,
    slippage: Annotated[
        float | None, typer.Option("--slippage", help="Slippage fraction for sizing (default: setting).")
    ] = None,
    fill: FillOpt = None,
    leverage: LeverageOpt = None,
    risk: Annotated[Path | None, typer.Option("--risk", help="TOML file of risk rules.")] = None,
    cancel_on_stop: Annotated[
        bool, typer.Option("--cancel-on-stop/--leave-orders", help="On stop, cancel working orders or leave them.")
    ] = True,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", min=0, max=65535, help="Serve /metrics and /health on 127.0.0.1:PORT."),
    ] = None,
    override_reason: Annotated[
        str | None,
        typer.Option("--override-reason", help="Trade on Alpaca without the promotion it needs; audited."),
    ] = None,
    status_every: Annotated[
        float,
        typer.Option("--status-every", min=0.0, help="Print a status line every this many seconds (0: never)."),
    ] = 10.0,
) -> None:
    """Trade a strategy live until Ctrl-C or SIGTERM (a clean stop: no new orders, working orders canceled or
    left, everything recorded), or for one step with --once. A recorded run is continued and reconciled with
    the broker first. Live trading (real money) needs profile 'live' and confirm_live. Alpaca paper needs the
    configuration promoted to paper, Alpaca live promoted to live (`workbench promote`); sim needs none. One
    process trades a run: a second one is refused before it connects to the broker, naming the first."""
    from workbench.ops.promotion import require_promotion
    from workbench.store import Store
    from workbench.strategies.registry import strategy as lookup
    from workbench.trading import build
    from workbench.trading.live import LiveSession, latest_run, run_until_stopped
    from workbench.trading.run_lock import RunLease

    settings = ctx.obj
    names = symbol_list(symbols)
    weights = _weights(weight, names)
    name = broker or settings.broker
    instance = lookup(strategy)(**single_values(param, "a live session"))
    rules = risk_rules(risk)
    costs = choose_costs(settings, fees=fees, slippage=slippage, fill=fill)
    store = Store.open(settings)
    chosen = build.broker(settings, name, cash=cash, fees=costs.fees)  # its settings checked; connected once entered
    if override_reason is None:  # refused before connecting; an override is audited once, by LiveSession.open
        require_promotion(store, instance, names, name)
    run_id = _run_id(run, lambda: latest_run(store, instance.name, names, name, instance.values))
    lease = None if run_id is None else RunLease.acquire(store, run_id)  # refused before connecting, naming the holder
    with ExitStack() as stack:
        if lease is not None:
            stack.push(lambda kind, exc, tb: _release_on_error(lease, exc))
        trader = stack.enter_context(chosen)
        bars, stream = _bars(settings, names, once)
        live_data = settings.data_source == "alpaca"
        history = bars if run_id is not None or live_data else {s: _before(f, start) for s, f in bars.items()}
        _announce(name, instance, names, weights, rules, costs.text)
        live = LiveSession.open(
            store,
            instance,
            names,
            trader,
            run=run_id,
            history={s: f for s, f in history.items() if f is not None},
            weights=weights,
            fees=costs.fees,
            slippage=costs.slippage,
            fill=costs.fill,
            leverage=leverage,
            risk=rules,
            settings=settings,
            cancel_on_stop=cancel_on_stop and not once,
            override_reason=override_reason,
            actor=actor(),
            lease=lease,
            start=None if live_data else _first_bar(bars, start),
        )
        if metrics_port is not None:
            url = _serve_metrics(live, store, trader, metrics_port, live_data, stack)
            typer.echo(f"metrics at {url}/metrics, health at {url}/health")
        if live.reconciliation is not None and not live.reconciliation.ok:
            typer.echo("RECONCILIATION FAILED, trading halted:\n  " + "\n  ".join(live.reconciliation.differences))
        if stream is not None:
            feed: Any = stack.enter_context(closing(stream(live.last_bar)))  # closed on the way out
        else:
            from workbench.data.feeds import ReplayFeed

            upcoming = _after(bars, live.last_bar)
            step = _first_time(upcoming) if once and not live_data else upcoming  # a replay steps one time a run
            feed = ReplayFeed(step, pace=pace or None)
        if status_every > 0:
            stack.enter_context(_StatusLine(live, status_every, live_data))
        summary = live.run(feed) if once else run_until_stopped(live, feed)
    typer.echo(
        f"run {summary.run_id}: {summary.bars} bars, {summary.orders} orders, {summary.fills} fills; "
        f"cash {summary.cash:,.2f}, equity {summary.equity:,.2f}, positions {summary.positions or 'none'}"
        f"{f', HALTED: {summary.halt_reason}' if summary.halted else ''}"
    )


def paper_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross.")],
    symbol: Annotated[str, typer.Option("--symbol", help="The symbol to trade.")] = "SPY",
    param: ParamOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    fees: FeesOpt = None,
    slippage: SlippageOpt = None,
    cash: CashOpt = None,
    fill: FillOpt = None,
    risk: RiskOpt = None,
    pace: Annotated[float, typer.Option(help="Seconds between bars (0: as fast as possible).", min=0.0)] = 0.0,
    resume: Annotated[int | None, typer.Option(help="Continue the recorded paper run with this id.")] = None,
) -> None:
    """Paper-trade on the local simulated broker (no keys): the data source's bars replayed as a live feed from
    --start (earlier bars warm up the indicators), the strategy, risk and orders as live; every order and fill
    is recorded write-ahead, and --resume continues a recorded run after its last bar."""
    from workbench.trading.paper_step import paper_step

    settings = ctx.obj
    costs = choose_costs(settings, fees=fees, slippage=slippage, fill=fill, cash=cash)
    typer.echo(f"{name} on {symbol} via sim; {costs.text}; cash {costs.cash:,g}")
    step = paper_step(
        name,
        symbol,
        params=single_values(param),
        store=open_store(ctx),
        run_id=resume,
        start=start,
        end=end,
        steps=None,
        cash=costs.cash,
        fees=costs.fees,
        slippage=costs.slippage,
        fill=costs.fill,
        risk=risk_rules(risk),
        source=settings.data_source,
        path=settings.data_path,
        pace=pace or None,
        on_event=_echo_fill,
        settings=settings,
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


def halt_cmd(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded with the halt).")] = "kill switch",
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help="Halt only this strategy.")] = None,
) -> None:
    """The kill switch: every enabled strategy (or --strategy) is halted; its running sessions cancel their
    orders, flatten and stop trading, and restarted ones stay halted, until `workbench resume`."""
    from workbench.services import switches

    with open_store(ctx).unit_of_work() as uow:
        names = switches.halt(uow, reason, actor(), strategy)
    typer.echo(f"halted: {', '.join(names) or 'no enabled strategy'}")


def resume_cmd(
    ctx: typer.Context,
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help="Resume only this strategy.")] = None,
) -> None:
    """Lift the kill switch: every halted strategy (or --strategy) may trade again (a person's decision, so one
    halted by its drawdown rule or by a failed reconciliation too)."""
    from workbench.services import switches

    with open_store(ctx).unit_of_work() as uow:
        names = switches.resume(uow, actor(), strategy)
    typer.echo(f"resumed: {', '.join(names) or 'no halted strategy'}")


# --- the composition of a session -----------------------------------------------------------------------------


def _bars(settings: Any, symbols: list[str], once: bool) -> tuple[dict[str, pd.DataFrame], Any]:
    """The bars known now per symbol, and (Alpaca data, not ``once``) how to open the live stream from a bar on."""
    if settings.data_source != "alpaca":
        from workbench.data.load import load

        return {s: load(s, source=settings.data_source, path=settings.data_path) for s in symbols}, None
    from workbench.data.alpaca import AlpacaDataSource

    source = AlpacaDataSource.from_settings(settings)
    import pandas as pd

    since = pd.Timestamp.now(tz="UTC") - ALPACA_WARMUP
    bars = {s: source.history(s, start=since, timeframe="1Min") for s in symbols}
    if once:
        return bars, None

    def stream(last: Any) -> Any:
        return source.stream(symbols, since=None if last is None else pd.Timestamp(last) + pd.Timedelta(1, "min"))

    return bars, stream


def _release_on_error(lease: Any, exc: BaseException | None) -> None:
    """A start that failed before its session took the lease over: the run is stopped, and says why."""
    if exc is not None:
        lease.release("stopped", f"the session did not start: {exc}"[:500])


class _StatusLine:
    """Prints one status line every ``every`` seconds while a session runs: bars, orders, fills, the equity of its
    last mark and (on live data) how late its last bar is, so a session waiting for the market does not look dead.
    Read from the session's counters and the store (no broker call)."""

    def __init__(self, live: Any, every: float, live_data: bool) -> None:
        import threading

        self.live, self.every, self.live_data = live, every, live_data
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="live-status", daemon=True)

    def __enter__(self) -> _StatusLine:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                typer.echo(self.line())
            except Exception as exc:  # a status line must never stop the session
                typer.echo(f"status: unavailable ({exc})")

    def line(self) -> str:
        """``status: 12 bars, 3 orders, 2 fills, equity 10,123.45 at 2026-01-02 14:31, 1 working, market closed until
        2026-01-05 14:30, lag 2.1 s``."""
        from datetime import UTC, datetime

        live, session = self.live, self.live.session
        with live.journal.store.unit_of_work(readonly=True) as uow:
            mark = uow.equity.latest(live.run_id)
        bars, orders, fills = live.counts()
        text = f"status: {bars} bars, {orders} orders, {fills} fills"
        text += ", no bar yet" if mark is None else f", equity {mark.equity:,.2f} at {mark.timestamp:%Y-%m-%d %H:%M}"
        working = sum(1 for o in list(session.om.orders.values()) if o.is_open)
        if working:
            text += f", {working} working"
        if live.market_open is False:
            text += ", market closed" + (f" until {live.next_open:%Y-%m-%d %H:%M}" if live.next_open else "")
        last = session.last_bar
        if self.live_data and last is not None:
            text += f", lag {(datetime.now(UTC) - last).total_seconds():.1f} s"
        return text + (", HALTED" if session.risk_manager.halted else "")


def _serve_metrics(live: Any, store: Any, broker: Any, port: int, live_data: bool, stack: ExitStack) -> str:
    """Serve the session's metrics and health checks (database, broker; the feed's freshness on live data) on
    loopback, stopped with the session; returns the base URL."""
    from workbench.monitor.health import standard_checks
    from workbench.monitor.server import MonitorServer

    last_bar = live.metrics.last_bar if live_data else None
    checks = standard_checks(store=store, broker=broker, last_bar=last_bar)
    server = MonitorServer(live.metrics, checks, port=port).start()
    stack.callback(server.close)
    return server.url


def _announce(
    broker: str, strategy: Any, symbols: list[str], weights: dict[str, float] | None, rules: Any, costs: str
) -> None:
    limits = ", ".join(f"{k}={v}" for k, v in rules.active().items()) or "none"
    if broker == "alpaca-live":
        typer.echo("LIVE TRADING WITH REAL MONEY (alpaca-live)")
    held = ", ".join(symbols)
    if weights is not None and len(symbols) > 1:
        held += " (weights " + ", ".join(f"{s} {w:g}" for s, w in weights.items()) + ")"
    typer.echo(f"{strategy.name} {strategy.values} on {held} via {broker}; risk limits: {limits}; {costs}")


def _run_id(run: str, latest: Any) -> int | None:
    if run == "new":
        return None
    if run == "latest":
        return latest()
    try:
        return int(run)
    except ValueError:
        raise ConfigError(f"--run {run!r}: expected latest, new or a run id") from None


def _first_bar(bars: dict[str, pd.DataFrame], start: str | None) -> Any:
    """Where a new replayed run trades from: ``start``, else the first bar of the replay (every bar trades)."""
    if start is not None:
        return start
    firsts = [f.index[0] for f in bars.values() if len(f)]
    return min(firsts) if firsts else None


def _before(bars: pd.DataFrame, start: str | None) -> pd.DataFrame | None:
    """History of a new run: the bars before ``start`` (None: no history, every bar trades)."""
    import pandas as pd

    if start is None:
        return None
    return bars.loc[bars.index < pd.Timestamp(start, tz="UTC")]


def _after(bars: dict[str, pd.DataFrame], last: Any) -> dict[str, pd.DataFrame]:
    """The bars still to trade: those after ``last`` (None: all)."""
    import pandas as pd

    if last is None:
        return bars
    return {s: f.loc[f.index > pd.Timestamp(last)] for s, f in bars.items()}


def _first_time(bars: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The bars of the earliest time among ``bars`` (one step of a replay: every symbol's bar of that time)."""
    starts = [f.index[0] for f in bars.values() if len(f)]
    if not starts:
        return bars
    first = min(starts)
    return {s: f.loc[f.index == first] for s, f in bars.items()}


def _weights(weight: list[str] | None, symbols: list[str]) -> dict[str, float] | None:
    """``--weight SYMBOL=FRACTION`` as target weights (None: equal weights); they must name every symbol."""
    if not weight:
        return None
    weights: dict[str, float] = {}
    for text in weight:
        key, sep, raw = text.partition("=")
        value = _fraction(raw) if sep and key.strip() else None
        if value is None:
            raise ConfigError(f"--weight {text!r}: expected SYMBOL=FRACTION with a fraction in [0, 1], e.g. SPY=0.6")
        weights[key.strip().upper()] = value
    from workbench.engine.inputs import check_weights

    try:
        return check_weights(weights, symbols)
    except ValueError as exc:
        raise ConfigError(f"--weight: {exc}") from None


def _fraction(text: str) -> float | None:
    """``text`` as a number in [0, 1], else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None
