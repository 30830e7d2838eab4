"""Channels against real servers on loopback: SMTP (plain, STARTTLS, SSL; AUTH), a signed webhook, apprise."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest
from notify_support import SmtpServer, WebhookServer, self_signed

from workbench.config import load_settings
from workbench.notify.channels import (
    ID_HEADER,
    SIGNATURE_HEADER,
    AppriseChannel,
    DeliveryError,
    Message,
    SmtpChannel,
    WebhookChannel,
    channels_from_settings,
    verify,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning"),  # apprise's import
]
MESSAGE = Message("[critical] TRADING HALTED", "max_drawdown flattened SPY", "<h3>halted</h3>", notification_id=7)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def _trusting(cert: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert[0]))


@pytest.mark.parametrize("mode", ["plain", "smtp+starttls", "smtps"])
def test_email_with_login_over_each_transport(mode: str, cert: tuple[Path, Path]) -> None:
    server_mode = {"plain": "plain", "smtp+starttls": "starttls", "smtps": "ssl"}[mode]
    scheme = "smtp" if mode == "plain" else mode
    with SmtpServer(server_mode, login=("bot", "p@ss w"), cert=cert) as server:
        url = f"{scheme}://bot:p%40ss%20w@127.0.0.1:{server.port}"
        SmtpChannel(url, "bot@example.com", ["a@example.com", "b@example.com"], context=_trusting(cert)).send(MESSAGE)
    (mail,) = server.messages
    assert mail["Subject"] == MESSAGE.subject and mail["To"] == "a@example.com, b@example.com"
    assert mail[ID_HEADER] == "7"
    assert mail.get_body(("plain",)).get_content().strip() == MESSAGE.text
    assert mail.get_body(("html",)).get_content().strip() == MESSAGE.html


def test_email_refused_login_and_untrusted_certificate_are_delivery_errors(cert: tuple[Path, Path]) -> None:
    with SmtpServer("plain", login=("bot", "right")) as server:
        channel = SmtpChannel(f"smtp://bot:wrong@127.0.0.1:{server.port}", "bot@example.com", ["a@example.com"])
        with pytest.raises(DeliveryError, match=r"email via smtp://127\.0\.0\.1:\d+: .*535"):
            channel.send(MESSAGE)
        assert "wrong" not in repr(channel)
    with SmtpServer("ssl", cert=cert) as server:
        channel = SmtpChannel(f"smtps://127.0.0.1:{server.port}", "bot@example.com", ["a@example.com"])
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            channel.send(MESSAGE)  # the system's trust store does not know the self-signed certificate


def test_bad_smtp_url_names_the_schemes_and_hides_the_password() -> None:
    with pytest.raises(ValueError, match=r"'http://bot@host': expected smtp://, smtp\+starttls:// or smtps://") as info:
        SmtpChannel("http://bot:hunter2@host", "x@y", ["a@b"])
    assert "hunter2" not in str(info.value)


def test_webhook_posts_json_signed_with_hmac() -> None:
    with WebhookServer() as server:
        WebhookChannel(server.url, secret="s3cret").send(MESSAGE)
    (post,) = server.received
    payload = json.loads(post.body)
    assert payload == {"id": 7, "subject": MESSAGE.subject, "text": MESSAGE.text, "html": MESSAGE.html}
    assert post.headers["Content-Type"] == "application/json" and post.headers[ID_HEADER] == "7"
    assert verify("s3cret", post.body, post.headers[SIGNATURE_HEADER])
    assert not verify("other", post.body, post.headers[SIGNATURE_HEADER])
    assert not verify("s3cret", post.body + b" ", post.headers[SIGNATURE_HEADER])


def test_webhook_error_status_and_refused_connection_are_delivery_errors() -> None:
    with WebhookServer(fail_first=None) as server:
        with pytest.raises(DeliveryError, match=r"webhook http://127\.0\.0\.1:\d+/\.\.\. answered 500"):
            WebhookChannel(server.url).send(MESSAGE)
        assert SIGNATURE_HEADER not in server.received  # unsigned without a secret
    with pytest.raises(DeliveryError, match="Connection refused"):
        WebhookChannel(server.url, timeout=2).send(MESSAGE)


def test_apprise_delivers_through_its_json_service_to_loopback() -> None:
    with WebhookServer() as server:
        AppriseChannel(server.url.replace("http://", "json://")).send(MESSAGE)
    (post,) = server.received
    payload = json.loads(post.body)
    assert payload["title"] == MESSAGE.subject and payload["message"] == MESSAGE.text


def test_apprise_failure_and_unknown_url() -> None:
    with WebhookServer(fail_first=None) as server, pytest.raises(DeliveryError, match="apprise: delivery failed"):
        AppriseChannel([server.url.replace("http://", "json://")]).send(MESSAGE)
    with pytest.raises(ValueError, match=r"apprise URL #2 \(nope://\.\.\.\) is not one apprise understands"):
        AppriseChannel("json://127.0.0.1/x, nope://secret-token")


def test_channels_from_settings() -> None:
    settings = load_settings(
        env={
            "WORKBENCH_NOTIFY_SMTP_URL": "smtps://bot:pw@mail.example.com",
            "WORKBENCH_NOTIFY_EMAIL_TO": "me@example.com",
            "WORKBENCH_NOTIFY_WEBHOOK_URL": "https://hooks.example.com/T0/secret-path",
            "WORKBENCH_NOTIFY_WEBHOOK_SECRET": "s3cret",
            "WORKBENCH_NOTIFY_APPRISE_URLS": "json://127.0.0.1/a json://127.0.0.1/b",
        }
    )
    channels = channels_from_settings(settings)
    assert list(channels) == ["email", "webhook", "apprise"]
    assert repr(channels["email"]) == "SmtpChannel('smtps://mail.example.com:465', to=['me@example.com'])"
    assert repr(channels["webhook"]) == "WebhookChannel('https://hooks.example.com/...', signed=True)"
    assert repr(channels["apprise"]) == "AppriseChannel(2 URL(s))"
