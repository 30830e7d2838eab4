"""`workbench notify test / log / drain`, through a typer app that registers ``notify_app`` the way
`workbench.cli` will (settings loaded by the root callback into ``ctx.obj``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from notify_support import WebhookServer
from typer.testing import CliRunner, Result

from workbench.cli.notify import notify_app
from workbench.config import Settings, load_settings
from workbench.notify.channels import SIGNATURE_HEADER, verify
from workbench.notify.outbox import notification_log
from workbench.store import Store


def _settings(tmp_path: Path, url: str) -> Settings:
    overrides = {
        "db_url": f"sqlite:///{tmp_path / 'wb.db'}",
        "notify_webhook_url": url,
        "notify_webhook_secret": "cli-secret",
        "notify_max_attempts": 2,
    }
    return load_settings(overrides=overrides, env={})


def _invoke(settings: Settings, *args: str) -> Result:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = settings

    app.add_typer(notify_app, name="notify")
    return CliRunner().invoke(app, ["notify", *args])


def test_test_sends_one_signed_message_and_says_so(tmp_path: Path) -> None:
    with WebhookServer() as hook:
        settings = _settings(tmp_path, hook.url)
        result = _invoke(settings, "test", "webhook")
    assert result.exit_code == 0, result.output
    assert result.output == "notification 1 sent on webhook: [info] test notification from the workbench\n"
    (post,) = hook.received
    assert verify("cli-secret", post.body, post.headers[SIGNATURE_HEADER])
    assert json.loads(post.body)["text"].startswith("If you can read this, the webhook channel works.")
    assert "1  " in _invoke(settings, "log").output


def test_test_reports_a_failure_with_the_error_and_an_unconfigured_channel(tmp_path: Path) -> None:
    with WebhookServer(fail_first=None) as hook:
        settings = _settings(tmp_path, hook.url)
        result = _invoke(settings, "test", "webhook")
    assert result.exit_code == 1
    assert "notification 1 on webhook failed: DeliveryError: webhook http://127.0.0.1:" in result.output
    assert hook.attempts == 1  # a test is one attempt
    result = _invoke(settings, "test", "email")
    assert isinstance(result.exception, ValueError)
    assert "channel 'email' is not configured (configured: webhook)" in str(result.exception)


def test_drain_delivers_the_outbox_and_log_shows_it(tmp_path: Path) -> None:
    with WebhookServer(fail_first=1) as hook:
        settings = _settings(tmp_path, hook.url)
        with Store.open(settings) as store, store.unit_of_work() as uow:
            uow.notifications.add("webhook", "scheduled notebook live.ipynb failed", "ValueError: x")
            uow.notifications.add("email", "queued for a channel not configured here", "")
        result = _invoke(settings, "drain")
    assert result.exit_code == 0, result.output
    assert result.output == "1 pending: 1 sent, 1 dead-lettered\n"
    assert [json.loads(p.body)["subject"] for p in hook.received] == ["scheduled notebook live.ipynb failed"]
    with Store.open(settings) as store:
        assert [(r.channel, r.status, r.attempts) for r in notification_log(store)] == [
            ("email", "failed", 1),
            ("webhook", "sent", 2),
        ]
    out = _invoke(settings, "log", "--limit", "1").output
    lines = out.splitlines()
    assert lines[0].split() == ["id", "created", "channel", "status", "attempts", "subject", "error"]
    assert len(lines) == 3 and "channel 'email' is not configured (webhook)" in lines[2]
    assert _invoke(settings, "log", "--status", "lost").exit_code == 2
