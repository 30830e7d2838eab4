"""The core of the loopback Alpaca: an HTTP server and a websocket server on 127.0.0.1 with one key pair.

It knows nothing of any Alpaca API. An API module (`alpaca_fake.market_data`; the trading API next) registers
REST routes with `LoopbackServer.route` and websocket endpoints with `LoopbackServer.websocket`. The core checks
the keys on every REST request, answers unknown paths with Alpaca's error shape, logs every request, and injects
faults (an HTTP status, or a dropped connection) for the next requests to a path.

REST handlers run on the HTTP server's threads; websocket handlers and background tasks run on one asyncio loop
(`LoopbackServer.loop`). State shared by both must be guarded (`LoopbackServer.lock`).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict
from websockets.asyncio.server import Server, ServerConnection, serve

API_KEY = "PKFAKEKEY0000000001"
SECRET_KEY = "FAKESECRET000000000000000000000000000001"


@dataclass(frozen=True)
class Request:
    """One REST request as a handler sees it: `params` are the ``{name}`` parts of the route's path; `at` is when it
    arrived (``time.monotonic``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Reply:
    """A REST answer: `body` is sent as JSON (None: an empty body, as for 204)."""

    status: int = HTTPStatus.OK
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


def api_error(status: int, message: str, sequence: int = 0, headers: Mapping[str, str] | None = None) -> Reply:
    """Alpaca's error answer: ``{"code": <status>1000<n>, "message": ...}`` (e.g. 40110000 for a 401)."""
    return Reply(status, {"code": status * 100_000 + 10_000 + sequence, "message": message}, headers or {})


@dataclass
class _Fault:
    path: str
    status: int | None  # None: close the connection without answering
    headers: Mapping[str, str]


Handler = Callable[[Request], Reply]
SocketHandler = Callable[[ServerConnection], Awaitable[None]]


class LoopbackServer:
    """HTTP and websocket listeners on 127.0.0.1 (free ports), started and stopped with the object.

    Examples
    --------
    >>> with LoopbackServer() as server:  # doctest: +SKIP
    ...     server.route("GET", "/v2/clock", lambda request: Reply(body={"is_open": True}))
    ...     requests.get(server.rest_url + "/v2/clock", headers=server.auth_headers()).json()
    {'is_open': True}
    """

    def __init__(self, api_key: str = API_KEY, secret_key: str = SECRET_KEY) -> None:
        self.api_key = api_key
        self.secret_key = secret_key
        self.lock = threading.Lock()
        #: Every REST request received, in order.
        self.requests: list[Request] = []
        self.loop = asyncio.new_event_loop()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._sockets: dict[str, SocketHandler] = {}
        self._faults: list[_Fault] = []
        self._http: ThreadingHTTPServer | None = None
        self._ws: Server | None = None
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Answer `method` requests to `path` (``{name}`` matches one path segment) with `handler`."""
        parts = re.split(r"\{(\w+)\}", path)  # literal, name, literal, ...
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
        self._routes.append((method.upper(), re.compile(regex), handler))

    def websocket(self, path: str, handler: SocketHandler) -> None:
        """Serve websocket connections to `path` with the coroutine `handler` (it owns the connection)."""
        self._sockets[path] = handler

    def fail_next(
        self, path: str, status: int | None, times: int = 1, headers: Mapping[str, str] | None = None
    ) -> None:
        """The next `times` REST requests to `path` get `status` in Alpaca's error shape (with `headers`), or,
        with ``status=None``, a connection closed without an answer."""
        with self.lock:
            self._faults.extend(_Fault(path, status, headers or {}) for _ in range(times))

    def clear_faults(self) -> None:
        """Forget the faults still planned: every request is answered normally again."""
        with self.lock:
            self._faults.clear()

    def authorized(self, key: str | None, secret: str | None) -> bool:
        """True when `key` and `secret` are this server's pair."""
        return key == self.api_key and secret == self.secret_key

    def auth_headers(self) -> dict[str, str]:
        """The headers alpaca-py sends with this server's keys (for plain ``requests`` calls in tests)."""
        return {"APCA-API-KEY-ID": self.api_key, "APCA-API-SECRET-KEY": self.secret_key}

    @property
    def rest_url(self) -> str:
        """Base URL for alpaca-py's ``url_override`` (without ``/v2``)."""
        assert self._http is not None, "start the server first"
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def ws_url(self, path: str) -> str:
        """Full websocket URL of `path` (alpaca-py's streams take the full URL)."""
        assert self._ws is not None, "start the server first"
        return f"ws://127.0.0.1:{self._ws.sockets[0].getsockname()[1]}{path}"

    def start(self) -> None:
        """Listen on free loopback ports; REST on a thread pool, websockets on `loop` in its own thread."""
        handler = type("BoundHandler", (_HttpHandler,), {"server_core": self})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._http.serve_forever, args=(0.05,), name="fake-alpaca-http", daemon=True),
            threading.Thread(target=self.loop.run_forever, name="fake-alpaca-ws", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self._ws = self.run(self._listen())

    def stop(self) -> None:
        """Close both listeners, their connections and the loop's tasks."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._ws is not None:
            self.run(self._close_sockets())
        self.loop.call_soon_threadsafe(self.loop.stop)
        for thread in self._threads:
            thread.join(timeout=5)
        self.loop.close()

    def run(self, coroutine: Awaitable[Any]) -> Any:
        """Run `coroutine` on the websocket loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def dispatch(self, request: Request) -> Reply | None:
        """The answer to `request` (None: drop the connection), after faults and the key check."""
        with self.lock:
            self.requests.append(request)
            fault = next((f for f in self._faults if f.path == request.path), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None and fault.status is None:
            return None
        if fault is not None:
            return api_error(fault.status, HTTPStatus(fault.status).phrase.lower(), headers=fault.headers)
        if not self.authorized(request.headers.get("APCA-API-KEY-ID"), request.headers.get("APCA-API-SECRET-KEY")):
            return api_error(HTTPStatus.UNAUTHORIZED, "request is not authorized")
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is not None and method == request.method:
                return handler(replace(request, params=match.groupdict()))
        return api_error(HTTPStatus.NOT_FOUND, "endpoint not found")

    async def _listen(self) -> Server:
        return await serve(self._on_socket, "127.0.0.1", 0)

    async def _on_socket(self, connection: ServerConnection) -> None:
        handler = self._sockets.get(urlsplit(connection.request.path).path)
        if handler is None:
            await connection.close(code=1008, reason="unknown stream")
            return
        await handler(connection)

    async def _close_sockets(self) -> None:
        assert self._ws is not None
        self._ws.close()
        await self._ws.wait_closed()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _HttpHandler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a `Request` for `LoopbackServer.dispatch` and writes its `Reply`."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle holds the body until the client's
    # delayed ACK (40 ms a request on Linux), which a trading session making thousands of calls would feel.
    disable_nagle_algorithm = True
    server_core: LoopbackServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=CaseInsensitiveDict(self.headers.items()),
            body=json.loads(raw) if raw else None,
        )
        reply = self.server_core.dispatch(request)
        if reply is None:
            self.close_connection = True
            return
        body = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in {"Content-Type": "application/json", **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `LoopbackServer.requests` is the log."""
