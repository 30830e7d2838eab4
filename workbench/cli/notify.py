"""`workbench notify test CHANNEL / log / drain`: try a channel, read the notification log, deliver the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer

from workbench.cli.options import settings as _settings
from workbench.cli.options import table

# The store, jinja2 and the channels' clients load inside the commands, so `workbench` starts fast.

notify_app = typer.Typer(help="Test channels, read the notification log, deliver pending notifications.")


@notify_app.command("test")
def notify_test(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="email, webhook or apprise (as configured).")],
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for the delivery.")] = 30.0,
) -> None:
    """Send a test notification on CHANNEL now (one attempt, no routing or coalescing) and print the outcome."""
    from workbench.notify.dispatcher import Dispatcher
    from workbench.notify.events import Notice, Severity
    from workbench.notify.outbox import notification_log
    from workbench.store import Store

    settings = _settings(ctx)
    with Store.open(settings) as store:
        dispatcher = Dispatcher.from_settings(settings, store, max_attempts=1)
        try:
            context = {"channel": channel, "timestamp": datetime.now(UTC)}
            notice = Notice("test", Severity.INFO, uuid.uuid4().hex, context)
            dispatcher.notify(notice, channels=[channel])
            done = dispatcher.join(timeout)
        finally:
            dispatcher.close(timeout=0)
        row = next(iter(notification_log(store, limit=1, channel=channel)), None)
    if not done or row is None:
        raise typer.Exit(_fail(f"no answer from {channel} within {timeout:g} s (left pending)"))
    if row.status != "sent":
        raise typer.Exit(_fail(f"notification {row.id} on {channel} failed: {row.error}"))
    typer.echo(f"notification {row.id} sent on {channel}: {row.subject}")


@notify_app.command("log")
def notify_log(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    status: Annotated[str | None, typer.Option(help="Only pending, sent or failed (dead-lettered) ones.")] = None,
) -> None:
    """Print the notifications, newest first: channel, delivery status, attempts, subject and last error."""
    from workbench.notify.outbox import notification_log
    from workbench.store import Store

    if status not in (None, "pending", "sent", "failed"):
        raise typer.BadParameter(f"{status!r}: expected pending, sent or failed", param_hint="--status")
    with Store.open(_settings(ctx)) as store:
        rows = notification_log(store, limit=limit, status=status)
    rows = [
        [
            str(r.id),
            f"{r.created_at:%Y-%m-%d %H:%M:%S}",
            r.channel,
            r.status,
            str(r.attempts),
            r.subject,
            (r.error or "").splitlines()[0][:80] if r.error else "",
        ]
        for r in rows
    ]
    headers = ["id", "created", "channel", "status", "attempts", "subject", "error"]
    typer.echo(table(headers, rows) if rows else "no notifications")


@notify_app.command("drain")
def notify_drain(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to keep delivering before leaving the rest.")] = 120,
) -> None:
    """Deliver the pending notifications of the outbox (those queued by scheduled runs, or left by a restart),
    retrying failures with backoff; print how many were sent and dead-lettered."""
    from workbench.notify.dispatcher import Dispatcher
    from workbench.store import Store

    settings = _settings(ctx)
    with Store.open(settings) as store, Dispatcher.from_settings(settings, store) as dispatcher:
        queued = dispatcher.drain()
        dispatcher.join(timeout)
        stats = dispatcher.stats()
    typer.echo(f"{queued} pending: {stats['sent']} sent, {stats['dead']} dead-lettered")


def _fail(message: str) -> int:
    typer.echo(message, err=True)
    return 1
