"""Notifications: events (fills, rejections, risk decisions and alerts, halts, errors, failed scheduled runs,
daily summaries) told to people by email, signed webhook or chat/SMS (apprise), recorded in the store.

>>> from workbench.notify import Dispatcher
>>> dispatcher = Dispatcher.from_settings(settings, store)  # channels, routes, severities  # doctest: +SKIP
>>> dispatcher.attach(session)        # a TradingSession's order and risk events           # doctest: +SKIP
>>> dispatcher.notify(ErrorEvent("broker", "connection reset", now))  # any other event   # doctest: +SKIP

* `events`: `Notice` and `to_notice` (domain event -> kind, `Severity`, coalescing key, template variables).
* `channels`: `SmtpChannel` (STARTTLS/SSL, AUTH), `WebhookChannel` (JSON, HMAC-SHA256 header), `AppriseChannel`.
* `render`: jinja2 templates (``templates/``), overridable from a folder (``notify_templates_dir``).
* `dispatcher`: routing, coalescing, the outbox, background delivery with backoff and dead letters.
* `outbox`: the notification log in the store; `cli`: ``workbench notify test / log / drain``.

Names load on first use, so ``workbench notify log`` starts without importing the trading core.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AppriseChannel": "workbench.notify.channels",
    "Channel": "workbench.notify.channels",
    "DeliveryError": "workbench.notify.channels",
    "Message": "workbench.notify.channels",
    "SmtpChannel": "workbench.notify.channels",
    "WebhookChannel": "workbench.notify.channels",
    "Dispatcher": "workbench.notify.dispatcher",
    "DailySummary": "workbench.notify.events",
    "ErrorEvent": "workbench.notify.events",
    "Notice": "workbench.notify.events",
    "Severity": "workbench.notify.events",
    "daily_summary": "workbench.notify.events",
    "to_notice": "workbench.notify.events",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench.notify' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
