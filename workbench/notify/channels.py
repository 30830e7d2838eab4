"""Where notifications go: the `Channel` protocol and its three kinds, email (`SmtpChannel`), a signed JSON
webhook (`WebhookChannel`) and chat/SMS services through apprise URLs (`AppriseChannel`).

A channel's ``send`` delivers one `Message` or raises `DeliveryError`; retrying, recording and coalescing are
the dispatcher's job, so a channel is a plain blocking client (the dispatcher runs each on a thread of its own).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.config import Settings

#: Header of a webhook post carrying ``sha256=<hex HMAC-SHA256 of the body keyed by the webhook secret>``.
SIGNATURE_HEADER = "X-Workbench-Signature"
#: Header naming the notification's id in the store (a receiver may use it to drop a redelivery).
ID_HEADER = "X-Workbench-Notification"
_SMTP_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class DeliveryError(WorkbenchError):
    """A channel could not deliver a message (server down, refused, bad credentials, non-2xx answer)."""


@dataclass(frozen=True)
class Message:
    """What a channel delivers: ``subject``, plain ``text``, optional ``html``, and the notification's id in the
    store (None when it could not be recorded)."""

    subject: str
    text: str
    html: str | None = None
    notification_id: int | None = None


class Channel(Protocol):
    """A way to reach people. ``name`` is the key in routes and in the notification log."""

    name: str

    def send(self, message: Message) -> None:
        """Deliver ``message`` or raise `DeliveryError`."""
        ...


class SmtpChannel:
    """Email through an SMTP server given by URL: ``smtp://`` (plain), ``smtp+starttls://`` (upgraded with
    STARTTLS, port 587 by default) or ``smtps://`` (TLS from the start, port 465), with ``user:password@`` to
    log in (percent-encode special characters).

    ``context`` is the TLS context (by default the system's trusted certificates, hostname checked).

    Examples
    --------
    >>> email = SmtpChannel("smtp+starttls://bot:pw@mail.example.com", "bot@example.com", ["me@example.com"])
    >>> email.host, email.port, email.mode
    ('mail.example.com', 587, 'smtp+starttls')
    """

    name = "email"

    def __init__(
        self,
        url: str,
        sender: str,
        recipients: Sequence[str],
        *,
        timeout: float = 10.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _SMTP_PORTS or not parts.hostname:
            raise ValueError(
                f"SMTP URL {_redact_url(url)!r}: expected smtp://, smtp+starttls:// or smtps:// and a host, "
                "e.g. smtp+starttls://user:password@mail.example.com:587"
            )
        if not recipients:
            raise ValueError("SmtpChannel needs at least one recipient")
        self.mode, self.host = parts.scheme, parts.hostname
        self.port = parts.port or _SMTP_PORTS[parts.scheme]
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else ""
        self.sender, self.recipients = sender, list(recipients)
        self.timeout = timeout
        self._context = context or ssl.create_default_context()

    def send(self, message: Message) -> None:
        """Send ``message`` as one email (a text part, and an HTML alternative if it has one)."""
        email = EmailMessage()
        email["Subject"], email["From"], email["To"] = message.subject, self.sender, ", ".join(self.recipients)
        email["Date"], email["Message-ID"] = formatdate(localtime=False), make_msgid(domain="workbench")
        if message.notification_id is not None:
            email[ID_HEADER] = str(message.notification_id)
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        try:
            if self.mode == "smtps":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.mode == "smtp+starttls":
                    client.starttls(context=self._context)
                if self._user is not None:
                    client.login(self._user, self._password)
                client.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"email via {self.mode}://{self.host}:{self.port}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SmtpChannel('{self.mode}://{self.host}:{self.port}', to={self.recipients})"


def sign(secret: str | bytes, body: bytes) -> str:
    """The `SIGNATURE_HEADER` value of ``body``: ``sha256=`` and the hex HMAC-SHA256 keyed by ``secret``.

    >>> sign("s3cret", b'{"subject": "hi"}')[:15]
    'sha256=054b9f12'
    """
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` (the header a receiver got) is `sign` of ``body`` (compared in constant time).

    >>> verify("s3cret", b"{}", sign("s3cret", b"{}")), verify("other", b"{}", sign("s3cret", b"{}"))
    (True, False)
    """
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)


class WebhookChannel:
    """POSTs each message as JSON (``id``, ``subject``, ``text``, ``html``) to ``url``; with a ``secret`` the
    `SIGNATURE_HEADER` header signs the body (check it with `verify`). Any answer but 2xx is a failure.

    Examples
    --------
    >>> hook = WebhookChannel("https://hooks.example.com/workbench", secret="s3cret")
    >>> hook.send(Message("halted", "max_drawdown"))  # doctest: +SKIP
    """

    name = "webhook"

    def __init__(self, url: str, secret: str | None = None, *, timeout: float = 10.0) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"webhook URL {_redact_url(url)!r}: expected http:// or https://")
        self.url, self.timeout = url, timeout
        self._secret = secret

    def send(self, message: Message) -> None:
        """POST ``message``; raises `DeliveryError` on a connection failure or a non-2xx status."""
        payload = {"id": message.notification_id, "subject": message.subject, "text": message.text}
        body = json.dumps({**payload, "html": message.html}).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "workbench-notify"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        if message.notification_id is not None:
            headers[ID_HEADER] = str(message.notification_id)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook {_redact_url(self.url)} answered {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"webhook {_redact_url(self.url)}: {getattr(exc, 'reason', exc)}") from exc

    def __repr__(self) -> str:
        return f"WebhookChannel({_redact_url(self.url)!r}, signed={bool(self._secret)})"


class AppriseChannel:
    """Chat and SMS services through apprise URLs (``slack://...``, ``tgram://bot-token/chat-id``,
    ``discord://...``, ``twilio://...``; see https://github.com/caronc/apprise/wiki). One message goes to every
    URL; it fails if any of them fails.

    Examples
    --------
    >>> AppriseChannel("json://127.0.0.1:9/hook, tgram://123456:abc/987").count
    2
    """

    name = "apprise"

    def __init__(self, urls: str | Sequence[str]) -> None:
        import apprise

        listed = [u for u in re.split(r"[\s,]+", urls) if u] if isinstance(urls, str) else list(urls)
        self._apprise = apprise.Apprise()
        for i, url in enumerate(listed, 1):
            if not self._apprise.add(url):
                scheme = url.partition("://")[0]
                raise ValueError(f"apprise URL #{i} ({scheme}://...) is not one apprise understands")
        if not listed:
            raise ValueError("AppriseChannel needs at least one URL")
        self.count = len(listed)

    def send(self, message: Message) -> None:
        """Notify every service; raises `DeliveryError` if any refused (apprise logs which)."""
        if not self._apprise.notify(title=message.subject, body=message.text):
            raise DeliveryError(f"apprise: delivery failed on at least one of its {self.count} service(s)")

    def __repr__(self) -> str:
        return f"AppriseChannel({self.count} URL(s))"


def channels_from_settings(settings: Settings) -> dict[str, Channel]:
    """The channels the settings configure, by name (``email``, ``webhook``, ``apprise``).

    Examples
    --------
    >>> from workbench.config import load_settings
    >>> s = load_settings(env={"WORKBENCH_NOTIFY_WEBHOOK_URL": "https://hooks.example.com/x"})
    >>> list(channels_from_settings(s))
    ['webhook']
    """
    channels: dict[str, Channel] = {}
    if settings.notify_smtp_url is not None:
        url = settings.notify_smtp_url.get_secret_value()
        channels["email"] = SmtpChannel(url, settings.notify_email_from, settings.notify_email_to)
    if settings.notify_webhook_url is not None:
        secret = settings.notify_webhook_secret
        channels["webhook"] = WebhookChannel(settings.notify_webhook_url, secret and secret.get_secret_value())
    if settings.notify_apprise_urls is not None:
        channels["apprise"] = AppriseChannel(settings.notify_apprise_urls.get_secret_value())
    return channels


def _redact_url(url: str) -> str:
    """``url`` without password, path and query (webhook paths often hold a token), for messages and logs.

    >>> _redact_url("https://bot:pw@hooks.example.com:8443/T0/B0/XXXX?k=1")
    'https://bot@hooks.example.com:8443/...'
    """
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return f"{parts.scheme}://{netloc}" + ("/..." if parts.path.strip("/") or parts.query else "")
