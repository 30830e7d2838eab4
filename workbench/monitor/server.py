"""`MonitorServer`: ``/metrics`` (Prometheus text) and ``/health`` (JSON; 503 when something needed is down) over
the standard library's HTTP server, for processes that do not run the API (which mounts the same functions).

Neither route takes credentials: bind it to loopback (the default) or a network the scraper alone reaches.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from workbench.monitor.health import Check, health_report
from workbench.monitor.metrics import CONTENT_TYPE_LATEST, Metrics, metrics_text


class MonitorServer:
    """Serves ``metrics`` and the ``checks`` at ``http://host:port/metrics`` and ``/health``.

    ``port=0`` picks a free port (read it back from ``port``). `start` serves from a background thread;
    `serve_forever` from the calling one.

    Examples
    --------
    >>> server = MonitorServer(Metrics(), {"db": lambda: ("ok", "up")}, port=0).start()
    >>> import urllib.request
    >>> urllib.request.urlopen(f"{server.url}/health").status
    200
    >>> server.close()
    """

    def __init__(
        self,
        metrics: Metrics,
        checks: Mapping[str, Check],
        *,
        host: str = "127.0.0.1",
        port: int = 9108,
        health_timeout: float = 5.0,
    ) -> None:
        self.metrics, self.checks, self.health_timeout = metrics, dict(checks), health_timeout
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:9108``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> MonitorServer:
        """Serve from a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="monitor:http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve from this thread until `close` (from another thread) or Ctrl-C."""
        try:
            self._httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd.server_close()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> MonitorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler(server: MonitorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, metrics_text(server.metrics))
            elif path == "/health":
                report = health_report(server.checks, timeout=server.health_timeout)
                self._send(report.http_status, "application/json", json.dumps(report.to_dict()).encode())
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /health\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a scraper calls every few seconds, which would flood the log."""

    return Handler
