"""Real servers on loopback for the notification tests: an SMTP server (aiosmtpd: plain, STARTTLS or SSL, with
AUTH) and an HTTP server taking webhook posts, each able to fail its first attempts; a self-signed certificate."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (openssl, one day)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class _Mailbox:
    fail_first: int
    messages: list[EmailMessage] = field(default_factory=list)
    attempts: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.fail_first:
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


class SmtpServer:
    """An SMTP server on 127.0.0.1 (``mode`` plain, starttls or ssl) whose first ``fail_first`` messages are
    refused with 451; with ``login`` it requires AUTH with that (user, password)."""

    def __init__(
        self,
        mode: str = "plain",
        *,
        fail_first: int = 0,
        login: tuple[str, str] | None = None,
        cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.mailbox = _Mailbox(fail_first)
        self.port = free_port()
        options: dict[str, Any] = {}
        if login is not None:
            options.update(authenticator=_authenticator(*login), auth_required=True)
            options["auth_require_tls"] = mode == "starttls"  # aiosmtpd does not see implicit TLS as TLS
        if mode != "plain":
            assert cert is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*cert)
            if mode == "ssl":
                options["ssl_context"] = context
            else:
                options.update(tls_context=context, require_starttls=True)
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **options)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.mailbox.messages

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _authenticator(user: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
        return AuthResult(success=ok and auth_data.password.decode() == password, handled=False)

    return check


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


class WebhookServer:
    """An HTTP server on 127.0.0.1 recording every POST; it answers 500 to the first ``fail_first`` (all of them
    if None), then 204."""

    def __init__(self, fail_first: int | None = 0) -> None:
        self.fail_first = fail_first
        self.received: list[Received] = []
        self.attempts = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer._lock:
                    outer.attempts += 1
                    failing = outer.fail_first is None or outer.attempts <= outer.fail_first
                    if not failing:
                        outer.received.append(Received(dict(self.headers.items()), body))
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
