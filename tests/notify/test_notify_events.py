"""Domain events as notices (kind, severity, coalescing key) and their bundled templates; events given and a
trading session as sources; the doctests of the notify modules."""

from __future__ import annotations

import doctest
import importlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import workbench as wb
from workbench.config import load_settings
from workbench.data.feeds import ReplayFeed
from workbench.notify.channels import Message
from workbench.notify.dispatcher import Dispatcher
from workbench.notify.events import DailySummary, ErrorEvent, Notice, Severity, daily_summary, to_notice
from workbench.notify.render import Renderer
from workbench.orders.model import Fill, Order
from workbench.risk.manager import RiskEvent
from workbench.risk.monitor import Alert
from workbench.schedule.notebook_run import NotebookRun
from workbench.store import Store
from workbench.testing import FrozenClock
from workbench.trading.session import TradingSession

NOW = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)


def _filled_and_rejected() -> tuple[Order, list, Order]:
    buy = Order(symbol="spy", side="buy", qty=10, created_at=NOW, strategy="sma_cross")
    events = [buy.transition("accepted", NOW)]
    events.append(buy.apply_fill(Fill.for_order(buy, qty=10, price=544.5, timestamp=NOW, fee=0.2)))
    sell = Order(symbol="qqq", side="sell", qty=3, created_at=NOW)
    events.append(sell.transition("rejected", NOW, "insufficient buying power"))
    return buy, events, sell


def test_domain_events_map_to_kind_severity_and_key() -> None:
    _, (accepted, fill, rejected), sell = _filled_and_rejected()
    run = NotebookRun(Path("nb/live.ipynb"), Path("out/live.ipynb"), None, "failed", NOW, 12.3, {}, "ValueError: x", 7)
    breach = Alert(NOW, "drawdown", "breach", 0.21, 0.2, "max_drawdown")
    deny = RiskEvent(NOW, "SPY", "deny", "allowed_symbols")
    cases = {
        "accepted": (accepted, None),
        "fill": (fill, ("fill", Severity.INFO, fill.fill.fill_id)),
        "rejection": (rejected, ("rejection", Severity.WARNING, "QQQ:insufficient buying power")),
        "approve": (RiskEvent(NOW, "SPY", "approve", ""), None),
        "resize": (RiskEvent(NOW, "SPY", "resize", "max_shares"), None),
        "deny": (deny, ("risk", Severity.WARNING, "deny:allowed_symbols:SPY")),
        "exit": (RiskEvent(NOW, "SPY", "exit", "stop_loss"), ("risk", Severity.ERROR, "exit:stop_loss:SPY")),
        "halt": (RiskEvent(NOW, "*", "halt", "max_drawdown"), ("halt", Severity.CRITICAL, "halt:max_drawdown:*")),
        "breach": (breach, ("risk", Severity.ERROR, "alert:drawdown:breach")),
        "ok": (Alert(NOW, "drawdown", "ok", 0.1, 0.2, "max_drawdown"), ("risk", Severity.INFO, "alert:drawdown:ok")),
        "error": (ErrorEvent("feed", "stream lost", NOW), ("error", Severity.ERROR, "feed:stream lost")),
        "run": (run, ("run_failed", Severity.ERROR, "nb/live.ipynb")),
        "finished run": (NotebookRun(Path("a.ipynb"), Path("b.ipynb"), None, "finished", NOW, 1.0, {}), None),
    }  # fmt: skip
    orders = {sell.id: sell}
    for name, (event, expected) in cases.items():
        notice = to_notice(event, orders=orders, strategy="sma_cross")
        got = None if notice is None else (notice.kind, notice.severity, notice.key)
        assert got == expected, name
    with pytest.raises(TypeError, match="cannot make a notification of a str"):
        to_notice("halt!")
    assert Severity.parse("ERROR") is Severity.ERROR
    with pytest.raises(ValueError, match="severity 'loud': expected one of info, warning, error, critical"):
        Severity.parse("loud")


def test_every_bundled_template_renders_its_kind() -> None:
    _, (_, fill, rejected), sell = _filled_and_rejected()
    summary = DailySummary(date(2024, 7, 1), "sma_cross", "SPY", 10_234.5, 5_000.0, 234.5, 3, 4, 1, True)
    run = NotebookRun(Path("nb/live.ipynb"), Path("out/live.ipynb"), None, "failed", NOW, 12.3, {}, "ValueError: x", 7)
    expected = {
        "fill": "[info] sma_cross: buy 10 SPY @ 544.5",
        "rejection": "[warning] sma_cross: order rejected (QQQ): insufficient buying power",
        "risk": "[error] sma_cross: risk breach: drawdown 21.34% (limit 20.00%)",
        "halt": "[critical] sma_cross: TRADING HALTED by max_drawdown",
        "error": "[error] error in feed: stream lost",
        "run_failed": "[error] scheduled notebook live.ipynb failed",
        "daily_summary": "[info] sma_cross SPY 2024-07-01: equity 10,234.5 (HALTED)",
        "test": "[info] test notification from the workbench",
        "custom": "[info] custom",
    }
    events = [
        fill,
        rejected,
        Alert(NOW, "drawdown", "breach", 0.2134, 0.2, "max_drawdown"),
        RiskEvent(NOW, "SPY", "halt", "max_drawdown", {"drawdown": 0.21}),
        ErrorEvent("feed", "stream lost", NOW, "Traceback ..."),
        run,
        summary,
        Notice("test", Severity.INFO, "t", {"channel": "email", "timestamp": NOW}),
        Notice("custom", Severity.INFO, "c", {"a": 1.5, "b": None}),
    ]
    renderer = Renderer()
    for event in events:
        notice = to_notice(event, orders={sell.id: sell}, strategy="sma_cross")
        message = renderer.render(notice, window=60)
        assert message.subject == expected[notice.kind]
        assert message.text and "\n\n\n" not in message.text and "Undefined" not in message.text
        assert message.html.startswith("<!doctype html>") and message.subject in message.html
    assert renderer.render(Notice("custom", Severity.INFO, "c", {"a": 1.5})).text == "a: 1.5"
    assert "<script>" not in renderer.render(Notice("error", Severity.ERROR, "x", {"message": "<script>"})).html


def test_daily_summary_of_a_session() -> None:
    bars = wb.load("SPY", start="2023-01-01", end="2023-03-31")
    clock = FrozenClock(datetime(2023, 1, 1, tzinfo=UTC))
    session = TradingSession.paper(wb.strategy("sma_cross")(fast=3, slow=10), "SPY", cash=10_000, clock=clock)
    session.run(ReplayFeed({"SPY": bars}))
    day = session.om.fills[-1].timestamp.date()
    summary = daily_summary(session, day)
    assert (summary.strategy, summary.symbol, summary.day) == ("sma_cross", "SPY", day)
    assert summary.equity == session.broker.account().equity and summary.fills == 1 and not summary.halted


class Recorder:
    name = "rec"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


def test_events_given_and_a_session_attached_feed_the_dispatcher(tmp_path: Path) -> None:
    channel = Recorder()
    with (
        Store.open(f"sqlite:///{tmp_path / 'wb.db'}") as store,
        Dispatcher(store, {"rec": channel}, window=0) as dispatcher,
    ):
        dispatcher.notify(ErrorEvent("broker", "connection reset", NOW))
        dispatcher.notify(RiskEvent(NOW, "SPY", "approve", ""))
        clock = FrozenClock(datetime(2023, 1, 1, tzinfo=UTC))
        session = TradingSession.paper(wb.strategy("sma_cross")(fast=3, slow=10), "SPY", cash=10_000, clock=clock)
        dispatcher.attach(session)
        session.run(ReplayFeed({"SPY": wb.load("SPY", start="2023-01-01", end="2023-03-31")}))
        session.om.submit(Order(symbol="QQQ", side="buy", qty=1, created_at=clock.now()))  # the sim has no quote
        assert dispatcher.join(timeout=5)
    subjects = [m.subject for m in channel.sent]
    assert subjects[0] == "[error] error in broker: connection reset"
    fills = [s for s in subjects if s.startswith("[info] sma_cross: buy") or s.startswith("[info] sma_cross: sell")]
    assert len(fills) == len(session.om.fills) > 1
    rejected = [e for e in session.om.events if e.kind.value == "rejected"]
    assert len(rejected) == 1 and subjects[-1].startswith("[warning] sma_cross: order rejected (QQQ): ")


def test_from_settings(tmp_path: Path) -> None:
    (tmp_path / "test.txt").write_text("custom test subject\n\nbody")
    settings = load_settings(
        overrides={
            "notify_webhook_url": "http://127.0.0.1:9/hook",
            "notify_routes": {"halt": ["webhook"]},
            "notify_min_severity": "warning",
            "notify_coalesce_seconds": 5,
            "notify_max_attempts": 2,
            "notify_templates_dir": str(tmp_path),
        },
        env={},
    )
    with Store.open("sqlite://") as store, Dispatcher.from_settings(settings, store) as dispatcher:
        assert list(dispatcher.channels) == ["webhook"] and dispatcher.routes == {"halt": ("webhook",)}
        assert dispatcher.min_severity == {"*": Severity.WARNING}
        assert (dispatcher.window, dispatcher.max_attempts) == (5, 2)
        assert dispatcher.renderer.render(Notice("test", Severity.INFO, "t")).subject == "custom test subject"


@pytest.mark.parametrize("module", ["events", "channels", "render", "coalesce", "outbox", "dispatcher"])
@pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")  # apprise's import
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"workbench.notify.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
