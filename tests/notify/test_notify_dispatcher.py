"""`Dispatcher`: routed, coalesced, recorded and delivered in the background; retried, then dead-lettered.

Email goes to a real SMTP server on loopback (aiosmtpd) and webhooks to a loopback HTTP server; both refuse the
first two attempts where a test says so.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from notify_support import SmtpServer, WebhookServer
from typer.testing import CliRunner

import workbench as wb
from workbench.cli.notify import notify_app
from workbench.config import load_settings
from workbench.data.feeds import ReplayFeed
from workbench.notify.channels import SIGNATURE_HEADER, Message, SmtpChannel, WebhookChannel, verify
from workbench.notify.dispatcher import Dispatcher
from workbench.notify.events import Notice, Severity, to_notice
from workbench.notify.outbox import notification_log
from workbench.notify.render import Renderer
from workbench.risk.manager import RiskEvent
from workbench.store import Store
from workbench.trading.session import TradingSession

NOW = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)
HALT = RiskEvent(NOW, "SPY", "halt", "max_drawdown", {"drawdown": 0.21, "limit": 0.2})


class Recorder:
    """A channel that keeps what it is sent, failing the first ``fail_first`` attempts."""

    def __init__(self, name: str = "rec", fail_first: int = 0) -> None:
        self.name, self.fail_first, self.attempts = name, fail_first, 0
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.attempts += 1
        if self.attempts <= self.fail_first:
            raise ConnectionError(f"attempt {self.attempts} refused")
        self.sent.append(message)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'workbench.db'}")
    yield opened
    opened.close()


@pytest.fixture
def dispatchers() -> Iterator[list[Dispatcher]]:
    """Dispatchers made by a test, closed after it."""
    made: list[Dispatcher] = []
    yield made
    for dispatcher in made:
        dispatcher.close(timeout=1)


def _log(store: Store) -> dict[str, tuple[str, int]]:
    return {r.channel: (r.status, r.attempts) for r in notification_log(store)}


def _notify_cli(store: Store, *args: str) -> str:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = load_settings(overrides={"db_url": str(store.engine.url)}, env={})

    app.add_typer(notify_app, name="notify")
    result = CliRunner().invoke(app, ["notify", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_email_and_webhook_are_retried_after_two_failures_then_delivered_signed_and_logged(
    store: Store, dispatchers: list[Dispatcher]
) -> None:
    with SmtpServer(fail_first=2) as smtp, WebhookServer(fail_first=2) as hook:
        email = SmtpChannel(f"smtp://127.0.0.1:{smtp.port}", "bot@example.com", ["trader@example.com"])
        channels = {"email": email, "webhook": WebhookChannel(hook.url, secret="hook-secret")}
        dispatcher = Dispatcher(store, channels, window=0, max_attempts=4, backoff=0.01)
        dispatchers.append(dispatcher)
        assert dispatcher.notify(HALT, strategy="sma_cross")
        assert dispatcher.join(timeout=20)
    expected = Renderer().render(to_notice(HALT, strategy="sma_cross"), window=0)
    assert expected.subject == "[critical] sma_cross: TRADING HALTED by max_drawdown"
    assert "flattened the positions and stopped trading" in expected.text and "drawdown: 0.21" in expected.text

    assert smtp.mailbox.attempts == 3
    (mail,) = smtp.messages
    assert mail["Subject"] == expected.subject

    def part(kind: str) -> str:  # lines end in CRLF on the wire
        return mail.get_body((kind,)).get_content().replace("\r\n", "\n").strip()

    assert (part("plain"), part("html")) == (expected.text, expected.html.strip())

    assert hook.attempts == 3
    (post,) = hook.received
    assert verify("hook-secret", post.body, post.headers[SIGNATURE_HEADER])
    payload = json.loads(post.body)
    assert (payload["subject"], payload["text"], payload["html"]) == (expected.subject, expected.text, expected.html)

    rows = {r.channel: r for r in notification_log(store)}
    assert _log(store) == {"email": ("sent", 3), "webhook": ("sent", 3)}
    assert "451" in rows["email"].error and "answered 500" in rows["webhook"].error  # the last failure, kept
    assert payload["id"] == rows["webhook"].id and rows["email"].subject == expected.subject
    out = _notify_cli(store, "log")
    assert out.count("sent") == 2 and expected.subject in out
    assert dispatcher.stats() | {"busy": 0} == {
        "received": 1, "ignored": 0, "filtered": 0, "coalesced": 0, "dropped": 0,
        "recorded": 2, "sent": 2, "failed_attempts": 4, "dead": 0, "busy": 0,
    }  # fmt: skip


def test_a_notification_is_dead_lettered_after_the_attempt_limit(store: Store, dispatchers: list[Dispatcher]) -> None:
    with WebhookServer(fail_first=None) as hook:
        dispatcher = Dispatcher(store, {"webhook": WebhookChannel(hook.url)}, window=0, max_attempts=3, backoff=0.01)
        dispatchers.append(dispatcher)
        dispatcher.notify(HALT)
        assert dispatcher.join(timeout=10)
    assert hook.attempts == 3
    (row,) = notification_log(store)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 3, None)
    assert "DeliveryError" in row.error and "answered 500" in row.error
    assert dispatcher.stats()["dead"] == 1
    out = _notify_cli(store, "log", "--status", "failed")
    assert "failed" in out and "TRADING HALTED" in out and "answered 500" in out
    assert _notify_cli(store, "log", "--status", "sent").strip() == "no notifications"


def test_a_burst_of_1000_identical_risk_events_makes_two_notifications_per_channel(
    store: Store, dispatchers: list[Dispatcher]
) -> None:
    """The bound this test states: a burst shorter than the window gives 2 notifications per channel (the first,
    then one carrying the count of the 999 others), whatever the burst's size."""
    email, webhook = Recorder("email"), Recorder("webhook")
    dispatcher = Dispatcher(store, {"email": email, "webhook": webhook}, window=30)
    dispatchers.append(dispatcher)
    deny = RiskEvent(NOW, "SPY", "deny", "max_orders_per_day", {"target": 1.0, "limit": 3})
    for _ in range(1000):
        assert dispatcher.notify(deny, strategy="sma_cross")
    dispatcher.notify(RiskEvent(NOW, "QQQ", "deny", "max_orders_per_day", {"limit": 3}))  # another key
    assert dispatcher.join(timeout=10)
    assert [m.subject for m in email.sent] == [
        "[warning] sma_cross: risk deny by max_orders_per_day on SPY",
        "[warning] risk deny by max_orders_per_day on QQQ",
    ]
    dispatcher.flush()  # the window would end in 30 s; send its count now
    assert dispatcher.join(timeout=10)
    for channel in (email, webhook):
        assert len(channel.sent) == 3
        assert channel.sent[2].subject == "[warning] sma_cross: risk deny by max_orders_per_day on SPY (+999 similar)"
        assert "999 more like this arrived within 30 s and were coalesced" in channel.sent[2].text
    assert len(notification_log(store)) == 6
    assert dispatcher.stats()["coalesced"] == 999


def test_the_count_goes_out_when_the_window_ends(store: Store, dispatchers: list[Dispatcher]) -> None:
    channel = Recorder()
    dispatcher = Dispatcher(store, {"rec": channel}, window=0.3)
    dispatchers.append(dispatcher)
    for _ in range(5):
        dispatcher.notify(HALT)
    deadline = time.monotonic() + 5
    while len(channel.sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [m.subject.endswith("(+4 similar)") for m in channel.sent] == [False, True]
    time.sleep(0.4)  # the count opened a window; it ends with nothing held back
    dispatcher.notify(HALT)
    assert dispatcher.join(timeout=5)
    assert len(channel.sent) == 3 and not channel.sent[2].subject.endswith("similar)")


class SlowChannel:
    """Takes 5 s per message (unless released), noting when each delivery finished."""

    name = "slow"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.done: list[datetime] = []

    def send(self, message: Message) -> None:
        self.release.wait(5.0)
        self.done.append(datetime.now(UTC))


def test_a_slow_channel_does_not_delay_the_order_path(store: Store, dispatchers: list[Dispatcher]) -> None:
    slow = SlowChannel()
    dispatcher = Dispatcher(store, {"slow": slow}, window=0)
    dispatchers.append(dispatcher)
    bars = wb.load("SPY", start="2023-01-01", end="2023-03-31")
    strategy = wb.strategy("sma_cross")(fast=3, slow=10)
    TradingSession.paper(strategy, "SPY", cash=10_000).run(ReplayFeed({"SPY": bars}))  # kernels loaded, not timed
    session = TradingSession.paper(strategy, "SPY", cash=10_000)  # on the wall clock
    dispatcher.attach(session)
    started = datetime.now(UTC)
    session.run(ReplayFeed({"SPY": bars}))
    ended = datetime.now(UTC)
    delivered_by_then = len(slow.done)
    fills = [e for e in session.om.events if e.fill is not None]
    assert len(fills) >= 4
    try:
        deadline = time.monotonic() + 10
        while not slow.done and time.monotonic() < deadline:
            time.sleep(0.05)
        first_delivery = slow.done[0]
    finally:
        slow.release.set()
    # Order events are stamped by the wall clock. Had the order path waited for the channel, the session would
    # have taken 5 s per fill; it took less than one delivery, all its events stamped before the first notification
    # (of the first fill) came through.
    assert all(started <= e.timestamp <= ended for e in session.om.events)
    assert (ended - started).total_seconds() < 4.5 and delivered_by_then == 0
    assert (first_delivery - fills[0].timestamp).total_seconds() >= 4.5
    assert dispatcher.join(timeout=10)
    assert _log(store) == {"slow": ("sent", 1)} and len(notification_log(store)) == len(fills)


def test_routes_by_kind_and_minimum_severity_per_channel(store: Store, dispatchers: list[Dispatcher]) -> None:
    ops, desk = Recorder("ops"), Recorder("desk")
    dispatcher = Dispatcher(
        store,
        {"ops": ops, "desk": desk},
        routes={"fill": ["desk"], "*": ["ops", "desk"]},
        min_severity={"*": "info", "ops": "error"},
    )
    dispatchers.append(dispatcher)
    fill = Notice("fill", Severity.INFO, "f1", {"symbol": "SPY", "side": "buy", "qty": 1.0, "price": 5.0})
    for event in (fill, RiskEvent(NOW, "SPY", "deny", "allowed_symbols"), HALT, RiskEvent(NOW, "SPY", "approve", "")):
        dispatcher.notify(event)
    assert dispatcher.join(timeout=5)
    assert [m.subject.split("]")[0] for m in desk.sent] == ["[info", "[warning", "[critical"]
    assert [m.subject for m in ops.sent] == ["[critical] TRADING HALTED by max_drawdown"]
    stats = dispatcher.stats()
    assert (stats["ignored"], stats["filtered"], stats["recorded"]) == (1, 0, 4)
    with pytest.raises(ValueError, match=r"channel 'sms' is not configured \(configured: ops, desk\)"):
        Dispatcher(store, {"ops": ops, "desk": desk}, routes={"halt": ["sms"]})


def test_drain_delivers_what_others_queued_and_dead_letters_unknown_channels(
    store: Store, dispatchers: list[Dispatcher]
) -> None:
    with store.unit_of_work() as uow:  # as a scheduled paper step or a failed notebook run records them
        uow.notifications.add("rec", "sma_cross: buy 10 SPY @ 500", "fill at ...")
        uow.notifications.add("default", "scheduled notebook live.ipynb failed", "ValueError")
    channel = Recorder()
    dispatcher = Dispatcher(store, {"rec": channel})
    dispatchers.append(dispatcher)
    assert dispatcher.drain() == 1
    assert dispatcher.join(timeout=5)
    assert [m.subject for m in channel.sent] == ["sma_cross: buy 10 SPY @ 500"]
    rows = {r.channel: r for r in notification_log(store)}
    assert (rows["rec"].status, rows["default"].status) == ("sent", "failed")
    assert rows["default"].error == "channel 'default' is not configured (rec)"
    assert dispatcher.drain() == 0


def test_close_leaves_undelivered_notifications_pending_for_the_next_dispatcher(store: Store) -> None:
    down = Recorder(fail_first=100)
    with Dispatcher(store, {"rec": down}, window=0, backoff=30) as dispatcher:
        dispatcher.notify(HALT)
        deadline = time.monotonic() + 5
        while down.attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
    assert time.monotonic() - started < 2  # close cut the 30 s backoff short
    assert _log(store) == {"rec": ("pending", 1)}
    up = Recorder()
    with Dispatcher(store, {"rec": up}) as restarted:
        assert restarted.drain() == 1
        assert restarted.join(timeout=5)
    assert _log(store) == {"rec": ("sent", 2)} and up.sent[0].subject.endswith("TRADING HALTED by max_drawdown")


def test_user_templates_override_the_bundled_ones_and_a_broken_one_falls_back(tmp_path: Path) -> None:
    (tmp_path / "halt.txt").write_text(
        '{% extends "base.txt" %}{% block subject %}HALT {{ rule }} ({{ details.drawdown|pct }}){% endblock %}'
        "{% block body %}Call the desk.{% endblock %}"
    )
    (tmp_path / "halt.html").write_text("<b>{{ subject }}</b>")
    (tmp_path / "risk.txt").write_text("{% if %}broken")
    renderer = Renderer(tmp_path)
    message = renderer.render(to_notice(HALT))
    assert (message.subject, message.text, message.html) == (
        "[critical] HALT max_drawdown (21.00%)",
        "Call the desk.",
        "<b>[critical] HALT max_drawdown (21.00%)</b>",
    )
    fallback = renderer.render(to_notice(RiskEvent(NOW, "SPY", "deny", "allowed_symbols")))
    assert fallback.subject == "[warning] risk deny by allowed_symbols on SPY"
    with pytest.raises(ValueError, match="not a folder of templates"):
        Renderer(tmp_path / "missing")
